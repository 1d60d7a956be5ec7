"""containerd 2 with its CRI plugin, for integration/test_cri_userns.py (hostUsers: false).

Debian 12's containerd 1.6 ignores a pod's user namespace; containerd 2 (config version 3)
gives the pod sandbox a user namespace, the containers join it by path with the pod's maps,
and their bind mounts (hostPath volumes, /etc/hosts, resolv.conf...) carry the maps as
`uidMappings`/`gidMappings`: idmapped mounts, which the runtime must announce in its
`features` (linux.mountExtensions.idmap.enabled), or the task is refused.

The binaries come from Debian's own archive (testing/unstable), fetched by apt-get with a
private configuration: its own sources list, package lists and archive dir under CACHE, the
host's apt configuration and installed containerd untouched.  apt-get checks the signed
index and the .deb's SHA256 against it; we compare the checksum again before `dpkg-deb -x`
into CACHE/tree-<version>, which later runs reuse without the network.

The daemon is cri.CriContainerd's (private root, state, socket and temp dir, a network
namespace of the test's own with the CNI bridge, handlers `runc` and `pyrunc` behind the
rtlog.sh wrapper) with the containerd 2 binary, its shim (runtime_path: the host's 1.6 shim
is on PATH) and its ctr; NRI is disabled (it would make /var/run/nri/nri.sock).
"""
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from . import common
from .cri import HANDLERS, PAUSE_IMAGE, CriContainerd, has_cap_sys_resource

CACHE = Path("/var/cache/pyrunc-tests/containerd2")
ARCHIVE = "http://deb.debian.org/debian"
SUITES = ("forky", "sid")           # the newest containerd of either is taken
PACKAGE = "containerd"
MIN_MAJOR = 2


def apt_options(cache):
    """apt-get/apt-cache options that keep everything in `cache`: the sources list, the
    package lists, the downloaded archives; no sources.list.d, no dpkg status (nothing is
    installed: `download` only)."""
    cache = Path(cache)
    return ["-o", f"Dir::Etc::SourceList={cache / 'sources.list'}",
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={cache / 'lists'}",
            "-o", f"Dir::Cache::Archives={cache / 'archives'}",
            "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=",
            "-o", "Dir::State::status=/dev/null",
            "-o", "APT::Sandbox::User=root"]


def sources_list(archive=ARCHIVE, suites=SUITES):
    return "".join(f"deb {archive} {suite} main\n" for suite in suites)


def candidate(show_output, version):
    """From `apt-cache show PACKAGE` (one stanza per version): (Filename, SHA256) of
    `version`."""
    for stanza in show_output.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line[:1] not in (" ", "") and ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        if fields.get("Version") == version:
            return fields.get("Filename"), fields.get("SHA256")
    raise common.EngineError(f"apt-cache show: no stanza for version {version!r}")


def policy_candidate(policy_output):
    """The `Candidate:` of `apt-cache policy PACKAGE`, None when there is none."""
    for line in policy_output.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "Candidate":
            value = value.strip()
            return None if value in ("", "(none)") else value
    return None


def major(version):
    """The upstream major of a Debian version: 2 for "2.1.9+ds1-5", 1 for "1:1.7.2-1"."""
    upstream = version.split(":", 1)[-1]
    head = upstream.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def _run(argv, timeout=600, cwd=None):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C")
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    if r.returncode != 0:
        raise common.EngineError(f"{' '.join(map(str, argv))}: exit {r.returncode}\n"
                                 f"{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r.stdout


def fetch(cache=CACHE):
    """The root of the extracted containerd 2 package (usr/bin/containerd ...): reused when
    a tree is there, else fetched with apt-get from Debian's archive and extracted."""
    cache = Path(cache)
    trees = [t for t in cache.glob("tree-*") if (t / "usr/bin/containerd").exists()]
    if trees:
        return max(trees, key=lambda t: t.stat().st_mtime)
    common.ensure_packages({"apt-get": "apt", "dpkg-deb": "dpkg"})
    for d in ("lists/partial", "archives/partial"):
        (cache / d).mkdir(parents=True, exist_ok=True)
    (cache / "sources.list").write_text(sources_list())
    opts = apt_options(cache)
    _run(["apt-get", *opts, "update"])
    version = policy_candidate(_run(["apt-cache", *opts, "policy", PACKAGE]))
    if version is None or major(version) < MIN_MAJOR:
        raise common.EngineError(f"no containerd {MIN_MAJOR}.x in {ARCHIVE} {SUITES}: candidate {version}")
    filename, sha256 = candidate(_run(["apt-cache", *opts, "show", f"{PACKAGE}={version}"]), version)
    deb = cache / "archives" / Path(filename).name
    if not deb.exists():        # `download` writes into the working directory
        _run(["apt-get", *opts, "download", f"{PACKAGE}={version}"], timeout=900, cwd=deb.parent)
    digest = hashlib.sha256(deb.read_bytes()).hexdigest()
    if digest != sha256:
        deb.unlink()
        raise common.EngineError(f"{deb}: sha256 {digest}, the signed index says {sha256}")
    tree = cache / f"tree-{version}"
    tmp = cache / f"tree.tmp.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    _run(["dpkg-deb", "-x", str(deb), str(tmp)])
    try:
        os.replace(tmp, tree)
    except OSError:             # another run extracted it first
        shutil.rmtree(tmp, ignore_errors=True)
    return tree


class Cri2Containerd(CriContainerd):
    """CriContainerd with the binaries of a containerd 2 tree (fetch()) and a version 3
    config."""

    def __init__(self, workdir, wrapped, tree, commands=None):
        super().__init__(workdir, wrapped, commands)
        self.tree = Path(tree)
        bindir = self.tree / "usr/bin"
        self.binary, self.ctr_binary = str(bindir / "containerd"), str(bindir / "ctr")
        self.shim = bindir / "containerd-shim-runc-v2"
        self.temp = self.workdir / "tmp"
        # its own dir first: what containerd looks up by name is the 2.x build's
        self.env = dict(os.environ, PATH=f"{bindir}:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}")

    def version(self):
        return _run([self.binary, "--version"]).split()[2]

    def write_config(self):
        self.temp.mkdir(parents=True, exist_ok=True)
        self.config.write_text(config_v3(self))
        self.write_cni()
        for name in HANDLERS:
            self.handler_root(name).mkdir(parents=True, exist_ok=True)


def config_v3(d):
    """containerd 2's config (version 3) for a Cri2Containerd `d`."""
    rt = "plugins.'io.containerd.cri.v1.runtime'"
    runtimes = "".join(f"""
    [{rt}.containerd.runtimes.{name}]
      runtime_type = 'io.containerd.runc.v2'
      runtime_path = '{d.shim}'
      [{rt}.containerd.runtimes.{name}.options]
        BinaryName = '{d.wrapped[name].path}'
        Root = '{d.handler_root(name)}'
""" for name in HANDLERS)
    return f"""\
version = 3
root = '{d.root}'
state = '{d.state}'
temp = '{d.temp}'
disabled_plugins = [
  'io.containerd.nri.v1.nri',
  'io.containerd.snapshotter.v1.blockfile',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.erofs',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.differ.v1.erofs',
]

[grpc]
  address = '{d.socket}'

[ttrpc]
  address = '{d.socket}.ttrpc'

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = '{d.workdir / 'opt'}'

  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '{PAUSE_IMAGE}'

  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'

  [{rt}]
    netns_mounts_under_state_dir = true
    disable_apparmor = true
    restrict_oom_score_adj = {str(not has_cap_sys_resource()).lower()}
    enable_selinux = false
    enable_cdi = false
    [{rt}.cni]
      bin_dirs = ['/usr/lib/cni']
      conf_dir = '{d.cni_conf}'
      max_conf_num = 1
    [{rt}.containerd]
      default_runtime_name = 'runc'
{runtimes}"""
