"""The integration test harness: the probe, bundles, runtimes, orphans and leaks.

Tests run real containers through a runtime's command line, runc and pyrunc
alike, and look at what the process inside saw with ``/probe report``
(integration/probe/probe.c).  Everything a test makes is attributable: bundles
and state roots live in the test's tmp dir and container ids start with
``pyrt-``, so ``snapshot()`` before and after a test finds what it left behind.

Orphans: a detached container's init outlives the ``runc create`` that forked
it.  PID 1 on the test machines does not reap, so the pytest process makes
itself a child subreaper (``become_subreaper()``) and ``reap()``s between tests.
"""
import copy
import ctypes
import hashlib
import json
import marshal
import os
import secrets
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from collections import namedtuple
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROBE_SRC = HERE / "probe" / "probe.c"
CACHE_DIR = Path("/tmp/pyrunc-test-cache")
CFLAGS = ["-static", "-O2", "-Wall", "-Wextra", "-Werror"]
BUSYBOX = Path("/bin/busybox")
ID_PREFIX = "pyrt-"
DEFAULT_TIMEOUT = 30


class HarnessError(AssertionError):
    """Something a test needs did not work; an AssertionError, so the test fails (never skips)."""


# ---- the probe ----

_probe_path = None


def build_probe():
    """Compile probe.c once per source version into CACHE_DIR; return the binary's path."""
    global _probe_path
    if _probe_path is not None and _probe_path.exists():
        return _probe_path
    src = PROBE_SRC.read_bytes()
    key = hashlib.sha256(src + " ".join(CFLAGS).encode()).hexdigest()[:16]
    out = CACHE_DIR / key / "probe"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f"probe.tmp.{os.getpid()}")
        r = subprocess.run(["gcc", *CFLAGS, "-o", str(tmp), str(PROBE_SRC)],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise HarnessError(f"compile {PROBE_SRC}: gcc exited {r.returncode}\n{r.stderr}")
        os.replace(tmp, out)
    _probe_path = out
    return out


def parse_report(text):
    """``probe report`` output -> dict.  `mount`, `env` and `device` repeat, so they map to lists."""
    multi = {"mount", "env", "device"}
    out = {k: [] for k in multi}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if not sep:
            key, value = line.rstrip(":"), ""
        if key in multi:
            out[key].append(value)
        else:
            out[key] = value
    return out


# capability numbers -> names, as in linux/capability.h
CAPS = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
        "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN",
        "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE",
        "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
        "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
        "PERFMON", "BPF", "CHECKPOINT_RESTORE"]


def cap_names(mask):
    """A CapXxx hex mask from the probe -> set of "CAP_..." names (unknown bits as "CAP_<n>")."""
    mask = int(mask, 16) if isinstance(mask, str) else mask
    return {f"CAP_{CAPS[i]}" if i < len(CAPS) else f"CAP_{i}"
            for i in range(64) if mask >> i & 1}


def cap_mask(names):
    """Set of "CAP_..." names -> the hex string the probe prints for it."""
    mask = 0
    for name in names:
        mask |= 1 << CAPS.index(name.removeprefix("CAP_"))
    return f"{mask:016x}"


# ---- bundles ----

# `runc spec` (runc 1.1.5) verbatim; base_config() turns it into the tests' default.
RUNC_SPEC = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "terminal": True,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
        "cwd": "/",
        "capabilities": {
            "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        },
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "runc",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                       {"type": "uts"}, {"type": "mount"}],
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                        "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
}


def base_config():
    """runc's default spec with no terminal, `/probe report` as the process and a read-only root."""
    cfg = copy.deepcopy(RUNC_SPEC)
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["/probe", "report"]
    cfg["root"]["readonly"] = True
    return cfg


def merge(cfg, patch):
    """Deep-merge `patch` into `cfg` in place: dicts merge, anything else replaces, None deletes."""
    for key, value in patch.items():
        if value is None:
            cfg.pop(key, None)
        elif isinstance(value, dict) and isinstance(cfg.get(key), dict):
            merge(cfg[key], value)
        else:
            cfg[key] = copy.deepcopy(value)
    return cfg


PASSWD = """\
root:x:0:0:root:/root:/bin/sh
probe:x:1000:1000:probe:/home/probe:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """\
root:x:0:
users:x:100:probe
probe:x:1000:
nogroup:x:65534:
"""

_applets = None


def _is_static_elf(path):
    """True if the ELF file has no PT_INTERP program header (64-bit little-endian only)."""
    with open(path, "rb") as f:
        hdr = f.read(64)
        if hdr[:4] != b"\x7fELF" or hdr[4] != 2:
            return False
        phoff, = struct.unpack_from("<Q", hdr, 32)
        phentsize, phnum = struct.unpack_from("<HH", hdr, 54)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            if struct.unpack("<I", f.read(4))[0] == 3:      # PT_INTERP
                return False
    return True


def busybox_applets():
    """Make sure /bin/busybox is Debian's static build (installing busybox-static if not); list its applets."""
    global _applets
    if _applets is None:
        if not BUSYBOX.exists() or not _is_static_elf(BUSYBOX):
            r = subprocess.run(["apt-get", "install", "-y", "busybox-static"],
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0 or not _is_static_elf(BUSYBOX):
                raise HarnessError(f"need a static {BUSYBOX}: apt-get install busybox-static: {r.stderr}")
        r = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, timeout=30, check=True)
        _applets = sorted(a for a in r.stdout.split() if a and a != "busybox" and "/" not in a)
    return _applets


def make_rootfs(rootfs):
    """busybox with its applets as /bin symlinks, /probe, the usual empty dirs, passwd and group."""
    rootfs = Path(rootfs)
    for d in ("bin", "proc", "sys", "dev", "etc", "root", "home"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    (rootfs / "tmp").mkdir(mode=0o1777, exist_ok=True)
    os.chmod(rootfs / "tmp", 0o1777)
    (rootfs / "home" / "probe").mkdir(exist_ok=True)
    os.chown(rootfs / "home" / "probe", 1000, 1000)
    applets = busybox_applets()
    shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
    for applet in applets:
        link = rootfs / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    shutil.copy(build_probe(), rootfs / "probe")
    os.chmod(rootfs / "probe", 0o755)
    (rootfs / "etc" / "passwd").write_text(PASSWD)
    (rootfs / "etc" / "group").write_text(GROUP)
    return rootfs


def make_bundle(dirpath, args=None, *, edit=None, **fields):
    """Create a bundle in `dirpath` and return its path.

    The config is base_config(); `args` replaces process.args; keyword fields
    are deep-merged with merge() (``hostname="h"``, ``process={"cwd": "/tmp"}``,
    ``linux={"seccomp": None}`` deletes); then `edit(cfg)` may change it in
    place or return a new dict.
    """
    bundle = Path(dirpath)
    bundle.mkdir(parents=True, exist_ok=True)
    make_rootfs(bundle / "rootfs")
    cfg = merge(base_config(), fields)
    if args is not None:
        cfg["process"]["args"] = list(args)
    if edit is not None:
        cfg = edit(cfg) or cfg
    write_config(bundle, cfg)
    return bundle


def read_config(bundle):
    return json.loads((Path(bundle) / "config.json").read_text())


def write_config(bundle, cfg):
    (Path(bundle) / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")


def edit_config(bundle, args=None, *, edit=None, **fields):
    """Change an existing bundle's config.json the way make_bundle() builds one."""
    cfg = merge(read_config(bundle), fields)
    if args is not None:
        cfg["process"]["args"] = list(args)
    if edit is not None:
        cfg = edit(cfg) or cfg
    write_config(bundle, cfg)
    return cfg


# container ids the current test made (new_id, create, run): the leak check looks for
# cgroups of these only, so that concurrent test runs on one machine never see (or
# remove) each other's cgroups
TEST_IDS = set()


def state_file(rt, cid):
    """Where `rt` keeps a container's state: runc's state.json, pyrunc's `state` (a
    marshal document, runtime/state/store.py)."""
    return Path(rt.root) / cid / ("state" if rt.name == "pyrunc" else "state.json")


def load_state(rt, data):
    """A state file's bytes as a dict (the format of `rt`)."""
    return marshal.loads(data) if rt.name == "pyrunc" else json.loads(data)


def dump_state(rt, st):
    return marshal.dumps(st, 4) if rt.name == "pyrunc" else json.dumps(st).encode()


def read_state_file(rt, cid):
    return load_state(rt, state_file(rt, cid).read_bytes())


def write_state_file(rt, cid, st):
    state_file(rt, cid).write_bytes(dump_state(rt, st))


def new_id(tag=""):
    """A container id the leak check can attribute: pyrt-[tag-]<random>."""
    cid = f"{ID_PREFIX}{tag + '-' if tag else ''}{secrets.token_hex(4)}"
    TEST_IDS.add(cid)
    return cid


# ---- runtimes ----

def _runtime_binary(name):
    if name == "pyrunc":
        return os.environ.get("PYRUNC", "/opt/pyrunc/bin/pyrunc")
    if name == "runc":
        return shutil.which("runc") or "/usr/sbin/runc"
    return shutil.which(name) or name


class Runtime:
    """One runtime binary with its own --root (and optional --log) under `workdir`.

    Every call has a timeout and captures output into files, not pipes, so a
    detached container that inherits stdout cannot hold a call open.  `run` and
    `create` give the container its own files, <workdir>/io-<name>/<id>.{out,err};
    ``output(id)`` reads what it has written since.  Global flags go before the
    verb, as containerd passes them.
    """

    registry = []   # every Runtime made since the last clear; the leak fixture cleans their roots

    def __init__(self, name, workdir=None, binary=None, log=False, log_format=None):
        self.name = name
        self.binary = binary or _runtime_binary(name)
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="pyrunc-test-"))
        self.root = self.workdir / f"root-{name}"
        self.iodir = self.workdir / f"io-{name}"
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.iodir.mkdir(parents=True, exist_ok=True)
        self.log = self.workdir / f"{name}.log" if log is True else log
        self.log_format = log_format
        Runtime.registry.append(self)

    def __repr__(self):
        return f"Runtime({self.name!r}, root={str(self.root)!r})"

    def installed(self):
        return os.path.isfile(self.binary) and os.access(self.binary, os.X_OK)

    def global_flags(self):
        flags = ["--root", str(self.root)]
        if self.log:
            flags += ["--log", str(self.log)]
        if self.log_format:
            flags += ["--log-format", self.log_format]
        return flags

    def wrap(self, argv):
        """The command line as it is run (a subclass may run it as another user)."""
        return argv

    def cmd(self, *argv, input=None, timeout=DEFAULT_TIMEOUT, check=False, cwd=None, io=None):
        """Run `<binary> <global flags> argv...`; return a CompletedProcess with text output."""
        if not self.installed():
            raise HarnessError(f"{self.name} is not installed at {self.binary} "
                               f"(set PYRUNC or install it); this test cannot run without it")
        full = self.wrap([self.binary, *self.global_flags(), *map(str, argv)])
        if argv and argv[0] in ("create", "run"):
            TEST_IDS.add(str(argv[-1]))
        if io is None:
            out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        else:
            out, err = (open(p, "w+b") for p in io)
        with out, err:
            try:
                p = subprocess.run(full, input=input.encode() if isinstance(input, str) else input,
                                   stdin=subprocess.DEVNULL if input is None else None,
                                   stdout=out, stderr=err, timeout=timeout, cwd=cwd)
                rc = p.returncode
            except subprocess.TimeoutExpired:
                rc = None
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode(errors="replace")
            stderr = err.read().decode(errors="replace")
        if rc is None:
            raise HarnessError(f"{' '.join(full)}: timed out after {timeout}s\n"
                               f"stdout: {stdout}\nstderr: {stderr}")
        result = subprocess.CompletedProcess(full, rc, stdout, stderr)
        if check and rc != 0:
            raise HarnessError(f"{' '.join(full)}: exit {rc}\nstdout: {stdout}\nstderr: {stderr}")
        return result

    def _io(self, id):
        return self.iodir / f"{id}.out", self.iodir / f"{id}.err"

    def output(self, id):
        """(stdout, stderr) the container `id` has written so far (for create / run -d)."""
        return tuple(p.read_text(errors="replace") if p.exists() else "" for p in self._io(id))

    def run(self, id, bundle, *extra, input=None, timeout=DEFAULT_TIMEOUT, check=False):
        return self.cmd("run", "--bundle", bundle, *extra, id, input=input, timeout=timeout,
                        check=check, io=self._io(id))

    def create(self, id, bundle, *extra, timeout=DEFAULT_TIMEOUT, check=False):
        return self.cmd("create", "--bundle", bundle, *extra, id, timeout=timeout, check=check,
                        io=self._io(id))

    def start(self, id, timeout=DEFAULT_TIMEOUT, check=False):
        return self.cmd("start", id, timeout=timeout, check=check)

    def state(self, id, timeout=DEFAULT_TIMEOUT):
        """The parsed `state` JSON; raises HarnessError if the command fails."""
        r = self.cmd("state", id, timeout=timeout, check=True)
        try:
            return json.loads(r.stdout)
        except ValueError as e:
            raise HarnessError(f"{self.name} state {id}: not JSON ({e}): {r.stdout!r}") from None

    def kill(self, id, sig="TERM", all=False, timeout=DEFAULT_TIMEOUT, check=False):
        return self.cmd("kill", *(["--all"] if all else []), id, sig, timeout=timeout, check=check)

    def delete(self, id, force=False, timeout=DEFAULT_TIMEOUT, check=False):
        return self.cmd("delete", *(["--force"] if force else []), id, timeout=timeout, check=check)

    def list(self, fmt="table", timeout=DEFAULT_TIMEOUT):
        """`list --format fmt`: parsed (a list) for json, the text otherwise."""
        r = self.cmd("list", "--format", fmt, timeout=timeout, check=True)
        return (json.loads(r.stdout) or []) if fmt == "json" else r.stdout

    def containers(self):
        """Ids with a state dir under this runtime's root."""
        return sorted(p.name for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []

    def api(self):
        """pyrunc's Python API on this root, in this process, when the package this
        interpreter imports is the one the pyrunc command runs (else None)."""
        if self.name != "pyrunc":
            return None
        try:
            import pyrunc
        except ImportError:
            return None
        prefix = os.path.dirname(os.path.dirname(os.path.realpath(self.binary)))
        if not os.path.realpath(pyrunc.__file__).startswith(prefix + "/"):
            return None
        return pyrunc.Runtime(str(self.root))

    def wait_status(self, id, status, timeout=10):
        """Poll the state until the container has `status`; return the state (pyrunc's
        through the API in this process when it can: polling costs no command start)."""
        api = self.api()

        def reached():
            st = api.get(id).state_dict() if api else self.state(id)
            return st if st["status"] == status else None
        return wait_for(reached, timeout, f"{self.name} container {id} to be {status}")

    def delete_all(self):
        """Force-delete every container under the root (pyrunc's through the API when it
        can); return the ids it tried."""
        ids = self.containers()
        api = self.api()
        if ids and (api or self.installed()):
            for id in ids:
                if api:
                    import pyrunc
                    try:
                        api.get(id).delete(force=True)
                    except pyrunc.PyruncError:
                        pass
                    continue
                try:
                    self.delete(id, force=True)
                except HarnessError:
                    pass
        return ids


CRUN_WRAPPER = """#!/bin/sh
# crun refuses a hybrid cgroup host (cgroup2 at /sys/fs/cgroup/unified): run it in a
# private mount namespace without that mount, so that it sees a v1-only host. unshare
# makes every mount private first: nothing of this reaches the host's namespace.
exec unshare --mount --propagation private sh -c 'umount -l /sys/fs/cgroup/unified && exec crun "$@"' crun "$@"
"""


def crun(workdir):
    """crun (the crun Debian package) as a Runtime under `workdir`; on a hybrid cgroup host
    through CRUN_WRAPPER (crun accepts v1-only and v2 hosts only)."""
    workdir = Path(workdir)
    binary = shutil.which("crun") or "/usr/bin/crun"
    top = Path("/sys/fs/cgroup")
    if os.path.ismount(top / "unified") and not (top / "cgroup.controllers").exists():
        binary = workdir / "crun-legacy"
        binary.write_text(CRUN_WRAPPER)
        binary.chmod(0o755)
    return Runtime("crun", workdir, binary=str(binary))


def wait_for(predicate, timeout=10, what="condition", interval=0.02):
    """Poll until predicate() is truthy and return its value; HarnessError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


SideBySide = namedtuple("SideBySide", "runc pyrunc")


def side_by_side(bundle_factory, *extra, workdir=None, runc=None, pyrunc=None, input=None,
                 timeout=DEFAULT_TIMEOUT, tag="sbs"):
    """Run the same bundle under runc and pyrunc (foreground `run`); return SideBySide of CompletedProcess.

    `bundle_factory(dirpath)` makes a fresh bundle in `dirpath` for each runtime; `extra`
    are `run` flags.
    pyrunc is never skipped: if it is not installed, the pyrunc side raises HarnessError.
    """
    workdir = Path(workdir or tempfile.mkdtemp(prefix="pyrunc-test-"))
    results = {}
    for name, rt in (("runc", runc), ("pyrunc", pyrunc)):
        rt = rt or Runtime(name, workdir)
        bundle = bundle_factory(workdir / f"bundle-{name}")
        cid = new_id(tag)
        try:
            results[name] = rt.run(cid, bundle or workdir / f"bundle-{name}", *extra,
                                   input=input, timeout=timeout)
        finally:
            if rt.installed() and cid in rt.containers():
                rt.delete(cid, force=True)
    return SideBySide(**results)


def assert_same(sbs, normalize=None):
    """Fail with a unified diff unless runc and pyrunc exited alike and printed the same stdout."""
    import difflib
    norm = normalize or (lambda s: s)
    a, b = norm(sbs.runc.stdout), norm(sbs.pyrunc.stdout)
    if a != b or sbs.runc.returncode != sbs.pyrunc.returncode:
        diff = "".join(difflib.unified_diff(a.splitlines(True), b.splitlines(True), "runc", "pyrunc"))
        raise HarnessError(f"runc exit {sbs.runc.returncode}, pyrunc exit {sbs.pyrunc.returncode}\n"
                           f"{diff}\nrunc stderr: {sbs.runc.stderr}\npyrunc stderr: {sbs.pyrunc.stderr}")


# ---- orphans ----

PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37


def become_subreaper():
    """Make this process the reaper of its orphaned descendants (detached containers)."""
    try:
        import prctl
        prctl.set_child_subreaper(1)
        ok = prctl.get_child_subreaper()
    except ImportError:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise HarnessError(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")
        flag = ctypes.c_int(0)
        libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0)
        ok = flag.value
    if not ok:
        raise HarnessError("could not become a child subreaper")


def _waitpid(pid):
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def reap_later(pid):
    """Collect `pid` (a container init, our child once its runtime exited: we are a
    subreaper) the moment it dies, as a containerd shim or conmon would; returns the
    waiting thread."""
    import threading

    t = threading.Thread(target=_waitpid, args=(pid,), daemon=True, name=f"reap-{pid}")
    t.start()
    return t


def reap():
    """waitpid(-1, WNOHANG) until nothing is left to collect; return [(pid, status), ...].

    Only call this when the test holds no Popen whose status it still wants.
    """
    reaped = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        reaped.append((pid, status))
    return reaped


# ---- leaks ----

Proc = namedtuple("Proc", "pid start ppid state comm")
Snapshot = namedtuple("Snapshot", "mounts cgroups states procs")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def proc_stat(pid):
    """/proc/<pid>/stat -> Proc, or None if it is gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    lp, rp = data.index("("), data.rindex(")")
    rest = data[rp + 2:].split()
    return Proc(int(pid), int(rest[19]), int(rest[1]), rest[0], data[lp + 1:rp])


def descendants(ancestor=None):
    """Every live process below `ancestor` (default: this process), by the ppid chain."""
    ancestor = ancestor or os.getpid()
    procs = [p for p in map(proc_stat, filter(str.isdigit, os.listdir("/proc"))) if p]
    children = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p)
    out, todo = set(), [ancestor]
    while todo:
        for child in children.get(todo.pop(), []):
            if child.pid != ancestor and child not in out:
                out.add(child)
                todo.append(child.pid)
    return out


def _mounts(tmpdir):
    """Mounts under the test's own tmp dir (bundles, rootfs, state roots live there): a
    mount elsewhere belongs to another test run on this machine, not to this test."""
    found = set()
    if not tmpdir:
        return found
    prefix = str(tmpdir).rstrip("/") + "/"
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        f = line.split()
        if f[4].startswith(prefix) or f[4] == prefix[:-1]:
            found.add((int(f[0]), f[4]))
    return found


def _cgroups(names):
    found = set()
    if not CGROUP_ROOT.is_dir():
        return found
    # a unified host's root is the one hierarchy (its children are cgroups, a
    # container's among them); elsewhere each mount below the root is one
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        hierarchies = [CGROUP_ROOT]
    else:
        hierarchies = [h for h in CGROUP_ROOT.iterdir() if h.is_dir() and not h.is_symlink()]
    for hierarchy in hierarchies:
        base_depth = len(hierarchy.parts)
        for dirpath, dirnames, _ in os.walk(hierarchy):
            if len(Path(dirpath).parts) - base_depth >= 6:
                dirnames[:] = []
            for d in dirnames:
                if d in names:
                    found.add(os.path.join(dirpath, d))
    return found


def snapshot(tmpdir=None, roots=(), names=None):
    """What a test could leak: mounts, cgroup dirs, state dirs under `roots`, descendant processes."""
    # dot-entries are the runtime's own (pyrunc's .seccomp cache), not containers
    states = {str(Path(r) / name) for r in roots if Path(r).is_dir() for name in os.listdir(r)
              if not name.startswith(".")}
    return Snapshot(frozenset(_mounts(tmpdir)), frozenset(_cgroups(TEST_IDS if names is None else names)),
                    frozenset(states), frozenset(descendants()))


def leaks(before, after):
    """What `after` has that `before` had not; processes compare by (pid, start time)."""
    old = {(p.pid, p.start) for p in before.procs}
    return Snapshot(after.mounts - before.mounts, after.cgroups - before.cgroups,
                    after.states - before.states,
                    frozenset(p for p in after.procs if (p.pid, p.start) not in old))


def describe(leaked):
    lines = []
    lines += [f"  mount {mp} (id {mid})" for mid, mp in sorted(leaked.mounts)]
    lines += [f"  cgroup {c}" for c in sorted(leaked.cgroups)]
    lines += [f"  state {s}" for s in sorted(leaked.states)]
    lines += [f"  process {p.pid} ({p.comm}, state {p.state}, ppid {p.ppid})"
              for p in sorted(leaked.procs)]
    return "\n".join(lines)


def assert_no_leaks(before, after):
    leaked = leaks(before, after)
    if any(leaked):
        raise HarnessError("the test left behind:\n" + describe(leaked))


def kill_procs(procs, timeout=5):
    """SIGKILL each process (if its start time still matches) and reap until they are gone."""
    for p in procs:
        cur = proc_stat(p.pid)
        if cur and cur.start == p.start:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap()
        alive = [p for p in procs if (c := proc_stat(p.pid)) and c.start == p.start]
        if not alive:
            return []
        time.sleep(0.02)
    return alive


def remove_cgroups(paths):
    """rmdir leaked (empty) cgroup dirs, deepest first; errors are left to the leak report."""
    for path in sorted(paths, key=len, reverse=True):
        try:
            os.rmdir(path)
        except OSError:
            pass
