"""The container's filesystem: the root, mounts, /dev, masked and read-only paths.

Every test runs a real container through the `pyrunc` command and, wherever runc
1.1.5 supports the feature, the same bundle under runc, comparing what the probe
saw inside.  runc is the reference unless it contradicts the runtime-spec; the
places where that happens are said in the test.  Namespaces, hostname and sysctl
are in test_namespaces.py.
"""
import itertools
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

import harness

pytestmark = pytest.mark.integration

PROC_ONLY = [{"destination": "/proc", "type": "proc", "source": "proc"}]


# ---- helpers ----

@pytest.fixture
def both(tmp_path, runc, pyrunc, probe):
    """Run one bundle recipe under runc and pyrunc: both(args, *run_flags, setup=fn, **config fields).

    `setup(bundle)` runs after the bundle is made (extra files, config edits that need
    the bundle's path); each call gets fresh bundles.
    """
    counter = itertools.count()

    def run(args=None, *extra, setup=None, **fields):
        def factory(dirpath):
            bundle = harness.make_bundle(dirpath, args, **fields)
            if setup is not None:
                setup(Path(bundle))
            return bundle
        return harness.side_by_side(factory, *extra, workdir=tmp_path / f"sbs-{next(counter)}",
                                    runc=runc, pyrunc=pyrunc)
    return run


def ok(sbs):
    """Both runtimes exited 0; return (runc stdout, pyrunc stdout)."""
    for name in ("runc", "pyrunc"):
        r = getattr(sbs, name)
        assert r.returncode == 0, f"{name} exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return sbs.runc.stdout, sbs.pyrunc.stdout


def mounts_of(report_text):
    """`probe report mounts` -> {mountpoint: (fstype, set of options)} (the last mount on a path wins)."""
    out = {}
    for line in harness.parse_report(report_text)["mount"]:
        point, fstype, opts = line.split(" ", 2)
        out[point] = (fstype, set(opts.split(",")))
    return out


def mountinfo(text):
    """Raw /proc/self/mountinfo text -> list of (mountpoint, optional fields, fstype)."""
    out = []
    for line in text.splitlines():
        f = line.split()
        sep = f.index("-", 6)
        out.append((f[4], f[6:sep], f[sep + 1]))
    return out


def host_mountpoints():
    return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]


def one_line_error(r):
    """A failed pyrunc command: exit 1 and exactly one line on stderr; return its message, unquoted."""
    assert r.returncode == 1, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, f"want one line of error, got:\n{r.stderr}"
    m = re.search(r'level=error msg="((?:[^"\\]|\\.)*)"', lines[0])
    assert m, f"not a runc-style error line: {lines[0]}"
    return json.loads('"' + m.group(1) + '"')


def create_refused(pyrunc, bundle, *needles):
    """`pyrunc create` of `bundle` fails with one line naming every needle and leaves nothing:
    no state, no cgroup, no mount of the bundle, no process."""
    cid = harness.new_id("refused")
    procs = {(p.pid, p.start) for p in harness.descendants()}
    r = pyrunc.create(cid, bundle)
    line = one_line_error(r)
    for needle in needles:
        assert needle in line, f"{needle!r} not in the error: {line}"
    assert cid not in pyrunc.containers(), f"state dir of {cid} left under {pyrunc.root}"
    assert pyrunc.cmd("state", cid).returncode != 0
    assert not harness._cgroups([cid]), f"cgroups of {cid} left behind"
    assert not [m for m in host_mountpoints() if str(bundle) in m], "a mount of the bundle is left"
    harness.reap()
    left = [p for p in harness.descendants() if (p.pid, p.start) not in procs]
    assert not left, f"processes left: {left}"
    return line


class HostMount:
    """A mount of our own on the host (unmounted by the test's finally, and only ours)."""

    def __init__(self, path, *args):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", *args, str(self.path)], check=True, capture_output=True, timeout=10)

    def umount(self):
        subprocess.run(["umount", str(self.path)], check=True, capture_output=True, timeout=10)


# ---- root ----

@pytest.mark.parametrize("flags", [(), ("--no-pivot",)], ids=["pivot_root", "no-pivot"])
def test_pivot_root_and_no_pivot_match_runc(both, flags):
    sbs = both(["/probe", "report", "mounts", "proc", "devices"], *flags)
    ok(sbs)
    harness.assert_same(sbs)
    rep = harness.parse_report(sbs.pyrunc.stdout)
    mounts = mounts_of(sbs.pyrunc.stdout)
    assert rep["pid"] == "1" and rep["cwd"] == "/"
    assert "ro" in mounts["/"][1]
    # only the config's mounts: nothing of the host's mount table outside the rootfs
    spec = harness.RUNC_SPEC
    expected = {"/", *(m["destination"] for m in spec["mounts"]), *spec["linux"]["maskedPaths"],
                *spec["linux"]["readonlyPaths"]}
    assert {m for m in mounts if not m.startswith("/sys/fs/cgroup/")} <= expected


def test_no_pivot_root_cannot_reach_the_host_root(both):
    """With --no-pivot the old root is hidden: `..` of / is /, the host's files are not there."""
    script = "cd /../../..; ls -a / | sort | tr '\\n' ' '; echo; /probe read /etc/passwd | head -1"
    sbs = both(["/bin/sh", "-c", script], "--no-pivot")
    ok(sbs)
    harness.assert_same(sbs)
    assert sbs.pyrunc.stdout.splitlines()[1] == "root:x:0:0:root:/root:/bin/sh"


@pytest.mark.parametrize("readonly,expect", [(True, "EROFS\n"), (False, "ok\n")])
def test_root_readonly(both, readonly, expect):
    sbs = both(["/probe", "write", "/written", "x"], root={"readonly": readonly})
    harness.assert_same(sbs)
    assert sbs.pyrunc.stdout == expect
    assert sbs.pyrunc.returncode == (1 if readonly else 0), sbs.pyrunc.stderr
    written = [p for p in Path(sbs.pyrunc.args[sbs.pyrunc.args.index("--bundle") + 1]).glob("rootfs/written")]
    assert bool(written) == (not readonly)


@pytest.mark.parametrize("how", ["relative-nested", "absolute"])
def test_root_path_relative_to_bundle_and_absolute(both, how):
    """A relative root.path is the bundle's (not the caller's cwd); an absolute one is taken as is."""
    def setup(bundle):
        nested = bundle / "image" / "root"
        nested.parent.mkdir()
        (bundle / "rootfs").rename(nested)
        (nested / "etc" / "marker").write_text(f"{how}\n")
        harness.edit_config(bundle, root={"path": str(nested) if how == "absolute" else "image/root"})
    sbs = both(["/probe", "read", "/etc/marker"], setup=setup)
    ok(sbs)
    harness.assert_same(sbs)
    assert sbs.pyrunc.stdout == f"{how}\n"


def _root_propagation(text):
    return {point: fields for point, fields, _ in mountinfo(text) if point in ("/", "/proc", "/dev")}


@pytest.mark.parametrize("prop", ["private", "slave"])
def test_rootfs_propagation_private_and_slave_match_runc(both, prop):
    """No peer group on the container's mounts: nothing propagates to or from the host."""
    sbs = both(["/probe", "read", "/proc/self/mountinfo"], linux={"rootfsPropagation": prop})
    runc_out, py_out = ok(sbs)
    assert _root_propagation(py_out) == _root_propagation(runc_out)
    assert _root_propagation(py_out) == {"/": [], "/proc": [], "/dev": []}


def test_rootfs_propagation_shared(pyrunc, bundle_factory):
    """`shared` makes the container's root mount shared, in a new peer group of its own.

    pyrunc alone: runc 1.1.5 leaves the root private whatever the value (runc issue #1755,
    fixed in runc 1.2.x by re-applying the propagation after pivot_root), which the
    runtime-spec's rootfsPropagation contradicts.
    """
    host_groups = set(re.findall(r"(?:shared|master):(\d+)", Path("/proc/self/mountinfo").read_text()))
    bundle = bundle_factory(args=["/probe", "read", "/proc/self/mountinfo"],
                            linux={"rootfsPropagation": "shared"})
    r = pyrunc.run(harness.new_id("shared"), bundle)
    assert r.returncode == 0, r.stderr
    fields = _root_propagation(r.stdout)
    assert len(fields["/"]) == 1 and fields["/"][0].startswith("shared:"), fields
    assert fields["/"][0].split(":")[1] not in host_groups, "the root joined a host peer group"
    assert not [f for f in fields["/"] if f.startswith("master:")]


# ---- mounts ----

def test_default_spec_mounts(both):
    sbs = both(["/probe", "report", "mounts"])
    ok(sbs)
    harness.assert_same(sbs)
    m = mounts_of(sbs.pyrunc.stdout)
    assert m["/proc"] == ("proc", {"relatime", "rw"})
    assert m["/dev"][0] == "tmpfs" and {"nosuid", "mode=755", "size=65536k", "rw"} <= m["/dev"][1]
    assert m["/dev/pts"][0] == "devpts"
    assert {"nosuid", "noexec", "gid=5", "mode=620", "ptmxmode=666"} <= m["/dev/pts"][1]
    assert m["/dev/shm"][0] == "tmpfs"
    assert {"nosuid", "noexec", "nodev", "size=65536k"} <= m["/dev/shm"][1]
    assert m["/dev/mqueue"][0] == "mqueue" and {"nosuid", "noexec", "nodev"} <= m["/dev/mqueue"][1]
    assert m["/sys"][0] == "sysfs" and {"ro", "nosuid", "noexec", "nodev"} <= m["/sys"][1]
    cgroup = [p for p in m if p.startswith("/sys/fs/cgroup/")]
    assert cgroup and all(m[p][0] in ("cgroup", "cgroup2") and "ro" in m[p][1] for p in cgroup)


def test_bind_mount_relative_source_resolves_against_bundle(both):
    def setup(bundle):
        (bundle / "data").mkdir()
        (bundle / "data" / "file").write_text("from the bundle\n")
    sbs = both(["/bin/sh", "-c", "cat /mnt/data/file; /probe write /mnt/data/new x"],
               mounts=PROC_ONLY + [{"destination": "/mnt/data", "type": "bind", "source": "data",
                                    "options": ["rbind"]}], setup=setup)
    ok(sbs)
    harness.assert_same(sbs)
    assert sbs.pyrunc.stdout == "from the bundle\nok\n"
    bundle = Path(sbs.pyrunc.args[sbs.pyrunc.args.index("--bundle") + 1])
    assert (bundle / "data" / "new").read_text() == "x"


def test_bind_mount_read_only(both, tmp_path):
    src = tmp_path / "ro-src"
    src.mkdir()
    (src / "file").write_text("keep\n")
    sbs = both(["/bin/sh", "-c", "/probe write /mnt/file changed; /probe read /mnt/file; "
                                 "grep ' /mnt ' /proc/self/mountinfo | cut -d' ' -f6"],
               mounts=PROC_ONLY + [{"destination": "/mnt", "type": "bind", "source": str(src),
                                    "options": ["bind", "ro"]}])
    ok(sbs)
    harness.assert_same(sbs)
    assert sbs.pyrunc.stdout.splitlines()[:2] == ["EROFS", "keep"]
    assert sbs.pyrunc.stdout.splitlines()[2].split(",")[0] == "ro"
    assert (src / "file").read_text() == "keep\n"


@pytest.fixture
def dir_with_submount(tmp_path):
    """tmp_path/tree (a file `top`) with our own tmpfs on tree/sub (a file `inner`)."""
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "top").write_text("top\n")
    sub = HostMount(tree / "sub", "-t", "tmpfs", "-o", "size=1m", "pyrt-sub")
    try:
        (tree / "sub" / "inner").write_text("inner\n")
        yield tree
    finally:
        sub.umount()


@pytest.mark.parametrize("option,expect", [("bind", "ENOENT\n"), ("rbind", "inner\n")])
def test_rbind_takes_submounts_and_bind_does_not(both, dir_with_submount, option, expect):
    sbs = both(["/probe", "read", "/mnt/sub/inner"],
               mounts=PROC_ONLY + [{"destination": "/mnt", "type": "bind", "source": str(dir_with_submount),
                                    "options": [option]}])
    harness.assert_same(sbs)
    assert sbs.pyrunc.stdout == expect


@pytest.mark.parametrize("option,expect_sub", [("ro", "ok"), ("rro", "EROFS")])
def test_recursive_read_only_covers_submounts(both, dir_with_submount, option, expect_sub):
    """`ro` on an rbind makes only its top read-only; `rro` (mount_setattr) the submounts too."""
    sbs = both(["/bin/sh", "-c", "/probe write /mnt/top x; /probe write /mnt/sub/new x; exit 0"],
               mounts=PROC_ONLY + [{"destination": "/mnt", "type": "bind", "source": str(dir_with_submount),
                                    "options": ["rbind", option]}])
    ok(sbs)
    harness.assert_same(sbs)
    assert sbs.pyrunc.stdout.splitlines() == ["EROFS", expect_sub]
    assert (dir_with_submount / "sub" / "new").exists() == (expect_sub == "ok")


def test_tmpfs_nosuid_nodev_noexec(both):
    script = ("cp /bin/busybox /mnt/bb; /probe exec /mnt/bb true; echo exit=$?; "
              "/bin/mknod /mnt/null c 1 3 && /probe read /mnt/null; echo exit=$?; /probe report mounts | grep ' /mnt '")
    sbs = both(["/bin/sh", "-c", script],
               mounts=PROC_ONLY + [{"destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
                                    "options": ["nosuid", "nodev", "noexec"]}],
               process={"capabilities": {k: ["CAP_MKNOD", "CAP_DAC_OVERRIDE"] for k in
                                         ("bounding", "effective", "permitted")}})
    ok(sbs)
    harness.assert_same(sbs)
    lines = sbs.pyrunc.stdout.splitlines()
    assert lines[:4] == ["EACCES", "exit=127", "EACCES", "exit=1"], lines
    fstype, opts = mounts_of(lines[4] + "\n")["/mnt"]
    assert fstype == "tmpfs" and {"nosuid", "nodev", "noexec"} <= opts


def test_nosymfollow(both):
    script = "ln -s /etc/passwd /mnt/link; /probe read /mnt/link; /probe read /etc/group | head -1"
    sbs = both(["/bin/sh", "-c", script],
               mounts=PROC_ONLY + [{"destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
                                    "options": ["nosymfollow"]}])
    ok(sbs)
    harness.assert_same(sbs)
    assert sbs.pyrunc.stdout == "ELOOP\nroot:x:0:\n"


@pytest.fixture
def shared_host_dir(tmp_path):
    """Our own tmpfs on the host, made shared (a peer group of its own); its group number."""
    m = HostMount(tmp_path / "shared", "-t", "tmpfs", "-o", "size=1m", "pyrt-shared")
    try:
        subprocess.run(["mount", "--make-shared", str(m.path)], check=True, capture_output=True, timeout=10)
        (m.path / "file").write_text("shared\n")
        line = next(l for l in Path("/proc/self/mountinfo").read_text().splitlines()
                    if l.split()[4] == str(m.path))
        group = re.search(r" shared:(\d+) ", line).group(1)
        yield m.path, group
    finally:
        m.umount()


@pytest.mark.parametrize("option", ["rprivate", "rslave", "rshared"])
def test_bind_propagation_options(both, shared_host_dir, option):
    """The bind of a shared host mount: rprivate cuts it off, rslave receives from the host's
    peer group (master:HOST); rshared is shared in a new group and, as runc does it, still a
    slave of the host's (the container's copy of the host mount is a slave already)."""
    src, group = shared_host_dir
    sbs = both(["/bin/sh", "-c", "grep ' /mnt ' /proc/self/mountinfo"],
               mounts=PROC_ONLY + [{"destination": "/mnt", "type": "bind", "source": str(src),
                                    "options": ["rbind", option]}])
    runc_out, py_out = ok(sbs)

    def fields(text):
        (point, opt, _), = mountinfo(text)
        # the host's group by name; a new group's number differs from run to run
        return sorted(re.sub(r"\d+", lambda m: "HOST" if m.group(0) == group else "N", f) for f in opt)
    assert fields(py_out) == fields(runc_out)
    expect = {"rprivate": [], "rslave": ["master:HOST"], "rshared": ["master:HOST", "shared:N"]}[option]
    assert fields(py_out) == expect


def test_tmpfs_size_and_mode(both):
    sbs = both(["/bin/sh", "-c", "stat -c '%a %U' /mnt; /probe report mounts | grep ' /mnt '"],
               mounts=PROC_ONLY + [{"destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
                                    "options": ["size=1m", "mode=0710", "nr_inodes=100"]}])
    ok(sbs)
    harness.assert_same(sbs)
    lines = sbs.pyrunc.stdout.splitlines()
    assert lines[0] == "710 root"
    fstype, opts = mounts_of(lines[1] + "\n")["/mnt"]
    assert fstype == "tmpfs" and {"size=1024k", "mode=710", "nr_inodes=100"} <= opts


def test_tmpfs_on_an_existing_directory_takes_its_mode(both):
    """runc gives a tmpfs mounted over an image directory that directory's permissions
    (not tmpfs's default 1777); the owner is not carried over."""
    def setup(bundle):
        d = bundle / "rootfs" / "opt" / "data"
        d.mkdir(parents=True)
        os.chmod(d, 0o751)
        os.chown(d, 7, 8)
    sbs = both(["/bin/sh", "-c", "stat -c '%a %u:%g' /opt/data; /probe report mounts | grep ' /opt/data '"],
               setup=setup, mounts=PROC_ONLY + [{"destination": "/opt/data", "type": "tmpfs", "source": "tmpfs"}])
    ok(sbs)
    harness.assert_same(sbs)
    lines = sbs.pyrunc.stdout.splitlines()
    assert lines[0] == "751 0:0"
    assert mounts_of(lines[1] + "\n")["/opt/data"][0] == "tmpfs"


def test_tmpcopyup_starts_with_the_directory_contents(both):
    def setup(bundle):
        d = bundle / "rootfs" / "opt" / "data"
        (d / "deep").mkdir(parents=True)
        (d / "file").write_text("image file\n")
        (d / "deep" / "x").write_text("deep\n")
        os.symlink("file", d / "link")
    script = ("cat /opt/data/file /opt/data/deep/x /opt/data/link; ls -A /opt/data | tr '\\n' ' '; echo; "
              "/probe write /opt/data/new y; /probe report mounts | grep ' /opt/data '")
    sbs = both(["/bin/sh", "-c", script], setup=setup,
               mounts=PROC_ONLY + [{"destination": "/opt/data", "type": "tmpfs", "source": "tmpfs",
                                    "options": ["tmpcopyup"]}])
    ok(sbs)
    harness.assert_same(sbs)
    lines = sbs.pyrunc.stdout.splitlines()
    assert lines[:5] == ["image file", "deep", "image file", "deep file link ", "ok"]
    assert mounts_of(lines[5] + "\n")["/opt/data"][0] == "tmpfs"
    bundle = Path(sbs.pyrunc.args[sbs.pyrunc.args.index("--bundle") + 1])
    assert not (bundle / "rootfs" / "opt" / "data" / "new").exists(), "the write went to the image"


def test_file_bind_mount_creates_the_destination_file(both, tmp_path):
    src = tmp_path / "host.conf"
    src.write_text("setting=1\n")
    sbs = both(["/bin/sh", "-c", "/probe read /etc/app/app.conf; stat -c %F /etc/app/app.conf"],
               mounts=PROC_ONLY + [{"destination": "/etc/app/app.conf", "type": "bind", "source": str(src),
                                    "options": ["bind", "ro"]}])
    ok(sbs)
    harness.assert_same(sbs)
    assert sbs.pyrunc.stdout == "setting=1\nregular file\n"
    bundle = Path(sbs.pyrunc.args[sbs.pyrunc.args.index("--bundle") + 1])
    assert (bundle / "rootfs" / "etc" / "app" / "app.conf").is_file()


def test_mounts_are_made_in_config_order(both, tmp_path):
    """A later mount covers an earlier one on the same path; a later one inside an earlier one
    lands in it."""
    src = tmp_path / "later"
    src.mkdir()
    (src / "f").write_text("later bind\n")
    mounts = PROC_ONLY + [
        {"destination": "/mnt", "type": "tmpfs", "source": "first", "options": ["size=1m"]},
        {"destination": "/mnt", "type": "tmpfs", "source": "second", "options": ["size=2m"]},
        {"destination": "/mnt/inner", "type": "bind", "source": str(src), "options": ["bind"]},
    ]
    sbs = both(["/bin/sh", "-c", "awk 'index($5, \"/mnt\") == 1 {print $5, $(NF-1)}' /proc/self/mountinfo; "
                                 "cat /mnt/inner/f; df -k /mnt | tail -1 | awk '{print $2}'"],
               mounts=mounts)
    ok(sbs)
    harness.assert_same(sbs)
    lines = sbs.pyrunc.stdout.splitlines()
    assert lines[:2] == ["/mnt first", "/mnt second"]
    assert lines[2].startswith("/mnt/inner ")
    assert lines[3:] == ["later bind", "2048"]


@pytest.mark.parametrize("kind", ["absolute-existing", "absolute-dangling", "relative-escaping"])
def test_mount_on_a_symlink_lands_inside_the_rootfs(both, tmp_path, kind):
    """The destination's symlinks resolve inside the rootfs, as if it were /, never on the host.

    absolute-existing: rootfs/evil -> /etc; a tmpfs on /evil covers the image's /etc.
    absolute-dangling: rootfs/evil -> /<a host dir> (not in the image); a tmpfs on /evil
    lands on that path made inside the rootfs.
    relative-escaping: rootfs/evil -> ../../(...)/<a host dir>; a bind on /evil/sub lands
    in a new <host dir>/sub inside the rootfs.  The host dir is untouched in every case.
    """
    host_dir = tmp_path / "host-target"
    host_dir.mkdir()
    (host_dir / "keep").write_text("host\n")
    src = tmp_path / "payload"
    src.mkdir()
    (src / "p").write_text("payload\n")
    if kind == "absolute-existing":
        target, mounts = "/etc", [{"destination": "/evil", "type": "tmpfs", "source": "evil"}]
        inside = "/etc"
    elif kind == "absolute-dangling":
        target, mounts = str(host_dir), [{"destination": "/evil", "type": "tmpfs", "source": "evil"}]
        inside = str(host_dir)
    else:
        target = "../" * 20 + str(host_dir).lstrip("/")
        mounts = [{"destination": "/evil/sub", "type": "bind", "source": str(src), "options": ["bind"]}]
        inside = str(host_dir / "sub")

    def setup(bundle):
        os.symlink(target, bundle / "rootfs" / "evil")
    before = sorted(host_mountpoints())
    etc_before = sorted(os.listdir("/etc"))
    script = f"cut -d' ' -f5 /proc/self/mountinfo | grep -x '{inside}'; ls /evil/ /evil/sub 2>&1 | tr '\\n' ' '"
    sbs = both(["/bin/sh", "-c", script], mounts=PROC_ONLY + mounts, setup=setup)
    assert sorted(host_mountpoints()) == before
    assert sorted(os.listdir(host_dir)) == ["keep"]
    assert sorted(os.listdir("/etc")) == etc_before
    for r in sbs:       # runc first: the expectations are runc's
        assert r.returncode == 0, f"{r.args[0]} exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
        assert r.stdout.splitlines()[0] == inside
        bundle = Path(r.args[r.args.index("--bundle") + 1])
        if kind != "absolute-existing":
            assert (bundle / "rootfs" / str(host_dir).lstrip("/")).is_dir()
        if kind == "relative-escaping":
            assert (bundle / "rootfs" / str(host_dir / "sub").lstrip("/")).is_dir()
            assert "p" in r.stdout.splitlines()[1].split()
    harness.assert_same(sbs)


def test_invalid_tmpfs_option_fails_create(pyrunc, runc, bundle_factory):
    mounts = PROC_ONLY + [{"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["bogus=1"]}]
    bundle = bundle_factory(mounts=mounts)
    line = create_refused(pyrunc, bundle, '"/mnt"', "bogus=1", "invalid argument")
    assert "tmpfs" in line
    r = runc.run(harness.new_id("runc-bogus"), bundle_factory(mounts=mounts))
    assert r.returncode != 0 and "invalid argument" in r.stderr


# ---- mount options, as mountinfo shows them ----

SB_FLAGS = frozenset({"sync", "dirsync", "lazytime", "mand"})
SHOW_MNT = ["/bin/sh", "-c", "grep -E ' /mnt(/sub)? ' /proc/self/mountinfo"]


def mnt_options(text):
    """mountinfo lines of /mnt and /mnt/sub -> {point: (per-mount options, superblock sync/dirsync/
    lazytime/mand flags)}, both as sorted comma-joined strings."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        sep = f.index("-", 6)
        out[f[4]] = (",".join(sorted(f[5].split(","))), ",".join(sorted(SB_FLAGS & set(f[sep + 3].split(",")))))
    return out


def po(per_mount):
    """Per-mount options, sorted as mnt_options() gives them."""
    return ",".join(sorted(per_mount.split(",")))


def opts(per_mount, sb=""):
    return po(per_mount), sb


# option(s) on a tmpfs -> /mnt as mountinfo shows it, the same under runc and pyrunc
TMPFS_OPTIONS = {
    "noatime": opts("rw,noatime"), "nodiratime": opts("rw,nodiratime,relatime"), "strictatime": opts("rw"),
    "relatime": opts("rw,relatime"), "norelatime": opts("rw,relatime"), "atime": opts("rw,relatime"),
    "nostrictatime": opts("rw,relatime"), "diratime": opts("rw,relatime"),
    # the flags add up (mount(2) gets both): MS_NOATIME wins over MS_RELATIME in the kernel
    "strictatime,nodiratime": opts("rw,nodiratime"), "relatime,noatime": opts("rw,noatime"),
    "sync": opts("rw,relatime", "sync"), "dirsync": opts("rw,relatime", "dirsync"),
    "lazytime": opts("rw,relatime", "lazytime"), "sync,async": opts("rw,relatime"),
    "noatime,nosuid": opts("rw,nosuid,noatime"),
    "lazytime,nolazytime": opts("rw,relatime"), "nosuid,nodev,noexec,nosymfollow":
        opts("rw,nosuid,nodev,noexec,relatime,nosymfollow"),
}

# recursive attributes on a tmpfs: applied by pyrunc as the runtime-spec's table says (on a new
# tmpfs they act as their plain twins); runc (1.1.5, and later releases too) calls
# mount_setattr only for bind mounts and ignores them on any other mount
TMPFS_RECURSIVE = {
    "rro": opts("ro,relatime"), "rnosuid": opts("rw,nosuid,relatime"), "rnodev": opts("rw,nodev,relatime"),
    "rnoexec": opts("rw,noexec,relatime"), "rnosymfollow": opts("rw,relatime,nosymfollow"),
    "rnoatime": opts("rw,noatime"), "rstrictatime": opts("rw"), "rnodiratime": opts("rw,nodiratime,relatime"),
    "rrelatime": opts("rw,relatime"), "ratime": opts("rw,relatime"), "rnostrictatime": opts("rw,relatime"),
    "noatime,nosuid,rnodev,rro": opts("ro,nosuid,nodev,noatime"),
}
TMPFS_DEFAULT = opts("rw,relatime")
RECURSIVE_OPTIONS = {"rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec", "rnodiratime",
                     "rdiratime", "rrelatime", "rnorelatime", "rnoatime", "ratime", "rstrictatime",
                     "rnostrictatime", "rnosymfollow", "rsymfollow"}


def _tmpfs_mount(options):
    return PROC_ONLY + [{"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": options.split(",")}]


@pytest.mark.parametrize("options", sorted(TMPFS_OPTIONS))
def test_tmpfs_mount_flags_match_runc(both, options):
    sbs = both(SHOW_MNT, mounts=_tmpfs_mount(options))
    runc_out, py_out = ok(sbs)
    assert mnt_options(py_out) == mnt_options(runc_out)
    assert mnt_options(py_out) == {"/mnt": TMPFS_OPTIONS[options]}


@pytest.mark.parametrize("options", sorted(TMPFS_RECURSIVE))
def test_tmpfs_recursive_attributes(both, options):
    """pyrunc applies the r* attributes to a tmpfs; runc 1.1.5 leaves the tmpfs as its plain
    options make it (its setRecAttr runs for bind mounts only), which the runtime-spec's table
    (no restriction to binds) contradicts: runc may only ignore them or agree."""
    sbs = both(SHOW_MNT, mounts=_tmpfs_mount(options))
    runc_out, py_out = ok(sbs)
    assert mnt_options(py_out) == {"/mnt": TMPFS_RECURSIVE[options]}
    plain = ",".join(o for o in options.split(",") if o not in RECURSIVE_OPTIONS)
    ignored = TMPFS_OPTIONS[plain] if plain else TMPFS_DEFAULT
    assert mnt_options(runc_out) in ({"/mnt": ignored}, mnt_options(py_out))


@pytest.fixture
def tree_with_noatime_submount(tmp_path):
    """tmp_path/tree with our own noatime tmpfs on tree/sub: an rbind of it has a submount whose
    atime mode differs from the top's (relatime, as the host's /tmp)."""
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    sub = HostMount(tree / "sub", "-t", "tmpfs", "-o", "size=1m,noatime", "pyrt-sub")
    try:
        yield tree
    finally:
        sub.umount()


SUB = po("rw,noatime")

# option(s) after "rbind" -> (/mnt, /mnt/sub) per-mount options, the same under runc and pyrunc:
# plain flags change the top mount only; superblock flags are ignored on a bind
BIND_OPTIONS = {
    "noatime": (po("rw,noatime"), SUB), "nodiratime": (po("rw,nodiratime,relatime"), SUB),
    "strictatime": (po("rw"), SUB), "relatime": (po("rw,relatime"), SUB),
    "norelatime": (po("rw,relatime"), SUB), "atime": (po("rw,relatime"), SUB),
    "sync": (po("rw,relatime"), SUB), "dirsync": (po("rw,relatime"), SUB), "lazytime": (po("rw,relatime"), SUB),
    "rnosuid": (po("rw,nosuid,relatime"), po("rw,nosuid,noatime")),
    "rnodev": (po("rw,nodev,relatime"), po("rw,nodev,noatime")),
    "rnoexec": (po("rw,noexec,relatime"), po("rw,noexec,noatime")),
    "rnosymfollow": (po("rw,relatime,nosymfollow"), po("rw,noatime,nosymfollow")),
    "rro": (po("ro,relatime"), po("ro,noatime")),
    "rnoatime": (po("rw,noatime"), SUB), "rstrictatime": (po("rw"), po("rw")),
    "rrelatime": (po("rw,relatime"), po("rw,relatime")),
    "rnodiratime": (po("rw,nodiratime,relatime"), po("rw,nodiratime,noatime")),
    "rdiratime": (po("rw,relatime"), SUB), "rsuid": (po("rw,relatime"), SUB),
    "ro,rnoexec": (po("ro,noexec,relatime"), po("rw,noexec,noatime")),
    "noatime,nosuid,rnodev,rro": (po("ro,nosuid,nodev,noatime"), po("ro,nodev,noatime")),
}

# where runc 1.1.5 is wrong and later runc agrees with pyrunc (pyrunc -> (/mnt, /mnt/sub)):
# ratime and rnostrictatime: runc 1.1.5 puts one atime bit in attr_clr, which mount_setattr
#   refuses (EINVAL: MOUNT_ATTR__ATIME must be cleared whole); runc#5095, fixed in runc
#   1.4.1 (#5098) by clearing the whole field: relatime, as pyrunc does.
# rnorelatime: "clear MOUNT_ATTR_RELATIME" (0) is nothing to runc 1.1.5; since #5098 it clears
#   the field too (relatime).
# rro,rrw: runc 1.1.5 puts RDONLY in both attr_set and attr_clr and the set wins; later runc
#   takes the last option, as mount(8) does and pyrunc does.
BIND_RUNC_115_WRONG = {
    "ratime": (po("rw,relatime"), po("rw,relatime")),
    "rnostrictatime": (po("rw,relatime"), po("rw,relatime")),
    "rnorelatime": (po("rw,relatime"), po("rw,relatime")),
    "rro,rrw": (po("rw,relatime"), SUB),
}


def _rbind(tree, options):
    return PROC_ONLY + [{"destination": "/mnt", "type": "bind", "source": str(tree),
                         "options": ["rbind", *options.split(",")]}]


@pytest.mark.parametrize("options", sorted(BIND_OPTIONS))
def test_rbind_mount_options_match_runc(both, tree_with_noatime_submount, options):
    sbs = both(SHOW_MNT, mounts=_rbind(tree_with_noatime_submount, options))
    runc_out, py_out = ok(sbs)
    assert mnt_options(py_out) == mnt_options(runc_out)
    top, sub = BIND_OPTIONS[options]
    assert mnt_options(py_out) == {"/mnt": (top, ""), "/mnt/sub": (sub, "")}


@pytest.mark.parametrize("options", sorted(BIND_RUNC_115_WRONG))
def test_rbind_recursive_atime_clearing_and_last_option_wins(both, tree_with_noatime_submount, options):
    """pyrunc as runc after #5098 (see BIND_RUNC_115_WRONG); runc 1.1.5 fails with EINVAL,
    leaves the mounts as they were, or agrees."""
    sbs = both(SHOW_MNT, mounts=_rbind(tree_with_noatime_submount, options))
    assert sbs.pyrunc.returncode == 0, sbs.pyrunc.stderr
    top, sub = BIND_RUNC_115_WRONG[options]
    assert mnt_options(sbs.pyrunc.stdout) == {"/mnt": (top, ""), "/mnt/sub": (sub, "")}
    r = sbs.runc
    if r.returncode != 0:
        assert options in ("ratime", "rnostrictatime") and "invalid argument" in r.stderr, r.stderr
    else:
        untouched = {"/mnt": (po("rw,relatime"), ""), "/mnt/sub": (SUB, "")}
        all_ro = {"/mnt": (po("ro,relatime"), ""), "/mnt/sub": (po("ro,noatime"), "")}
        assert mnt_options(r.stdout) in (mnt_options(sbs.pyrunc.stdout), untouched, all_ro), r.stdout


@pytest.mark.parametrize("options", [["ro"], ["ro", "tmpcopyup"], ["ro", "nosuid", "size=1m"]],
                         ids=["ro", "ro-tmpcopyup", "ro-nosuid-size"])
def test_read_only_tmpfs_is_made_read_only_last(both, options):
    """runc mounts a read-only tmpfs read-write, sets it up (the covered directory's mode,
    tmpcopyup) and only then makes the mount read-only (MS_REMOUNT|MS_BIND|MS_RDONLY):
    the mount is ro, its superblock rw, the mode the image directory's, the copy made."""
    def setup(bundle):
        d = bundle / "rootfs" / "opt" / "data"
        d.mkdir(parents=True)
        (d / "file").write_text("image file\n")
        os.chmod(d, 0o751)
    script = ("stat -c %a /opt/data; ls /opt/data | tr '\\n' ' '; echo; /probe write /opt/data/new x; "
              "awk '$5 == \"/opt/data\" {i = 7; while ($i != \"-\") i++; print $5, $6, $(i+1), $(i+2), $(i+3)}' "
              "/proc/self/mountinfo")
    sbs = both(["/bin/sh", "-c", script], setup=setup,
               mounts=PROC_ONLY + [{"destination": "/opt/data", "type": "tmpfs", "source": "tmpfs",
                                    "options": options}])
    r = sbs.runc        # the reference first, then pyrunc's whole output against it
    assert r.returncode == 0, f"runc exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    lines = r.stdout.splitlines()
    assert lines[:3] == ["751", "file " if "tmpcopyup" in options else "", "EROFS"]
    point, per_mount, fstype, source, sb = lines[3].split()
    assert (point, fstype, source) == ("/opt/data", "tmpfs", "tmpfs")
    assert (per_mount.split(",")[0], sb.split(",")[0]) == ("ro", "rw"), lines[3]
    harness.assert_same(sbs)


# ---- /dev ----

DEFAULT_DEVICES = {
    "/dev/null": "char 1:3 0666 0:0", "/dev/zero": "char 1:5 0666 0:0", "/dev/full": "char 1:7 0666 0:0",
    "/dev/random": "char 1:8 0666 0:0", "/dev/urandom": "char 1:9 0666 0:0", "/dev/tty": "char 5:0 0666 0:0",
    "/dev/ptmx": "link - 0777 0:0 -> pts/ptmx", "/dev/fd": "link - 0777 0:0 -> /proc/self/fd",
    "/dev/stdin": "link - 0777 0:0 -> /proc/self/fd/0", "/dev/stdout": "link - 0777 0:0 -> /proc/self/fd/1",
    "/dev/stderr": "link - 0777 0:0 -> /proc/self/fd/2", "/dev/pts": "dir - 0755 0:0",
    "/dev/shm": "dir - 1777 0:0", "/dev/mqueue": "dir - 1777 0:0",
}


def devices_of(text):
    return dict(line.split(" ", 1) for line in harness.parse_report(text)["device"])


def test_default_dev(both):
    sbs = both(["/bin/sh", "-c", "/probe report devices; ls /dev/pts; /probe read /dev/console; exit 0"])
    ok(sbs)
    harness.assert_same(sbs)
    devs = devices_of(sbs.pyrunc.stdout)
    for path, want in DEFAULT_DEVICES.items():
        assert devs.get(path) == want, path
    assert "/dev/console" not in devs
    assert set(devs) - set(DEFAULT_DEVICES) <= {"/dev/core"}      # /dev/core only with /proc/kcore
    assert sbs.pyrunc.stdout.splitlines()[-2:] == ["ptmx", "ENOENT"]


def test_linux_devices_are_created_like_runc(both):
    devices = [
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600, "uid": 1, "gid": 2},
        {"path": "/dev/pipe0", "type": "p", "fileMode": 0o640},
        {"path": "/dev/disk/loopy", "type": "b", "major": 7, "minor": 3},
    ]
    sbs = both(["/bin/sh", "-c", "/probe report devices; stat -c '%n %F %t:%T %a %u:%g' /dev/disk/loopy"],
               linux={"devices": devices})
    ok(sbs)
    harness.assert_same(sbs)
    devs = devices_of(sbs.pyrunc.stdout)
    assert devs["/dev/fuse"] == "char 10:229 0600 1:2"
    assert devs["/dev/pipe0"] == "fifo - 0640 0:0"
    assert devs["/dev/disk"] == "dir - 0755 0:0"
    assert sbs.pyrunc.stdout.splitlines()[-1] == "/dev/disk/loopy block special file 7:3 666 0:0"


def test_dev_bound_from_host_skips_device_creation(both):
    """An rbind of the host's /dev: the runtime creates no devices, links or ptmx in it."""
    host_before = sorted(os.listdir("/dev"))
    mounts = PROC_ONLY + [{"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind", "nosuid"]}]
    sbs = both(["/bin/sh", "-c", "/probe report devices | grep -E ' /dev/(null|ptmx|fd|console|tty) '; "
                                 "ls /dev | wc -l"], mounts=mounts)
    ok(sbs)
    runc_lines, py_lines = (s.splitlines() for s in (sbs.runc.stdout, sbs.pyrunc.stdout))
    assert py_lines[:-1] == runc_lines[:-1]
    ptmx = os.stat("/dev/ptmx")
    devs = devices_of(sbs.pyrunc.stdout)
    assert devs["/dev/ptmx"] == f"char {os.major(ptmx.st_rdev)}:{os.minor(ptmx.st_rdev)} " \
                                f"{ptmx.st_mode & 0o7777:04o} 0:0"
    assert ("/dev/console" in devs) == os.path.exists("/dev/console")
    assert sorted(os.listdir("/dev")) == host_before
    assert abs(int(py_lines[-1]) - len(host_before)) <= 2


# ---- masked and read-only paths ----

def test_default_masked_and_readonly_paths(both):
    """The default spec's maskedPaths and readonlyPaths: masked files read empty, masked
    directories are empty read-only tmpfs, /proc/sys and /proc/sysrq-trigger refuse writes."""
    sysrq = "EROFS" if os.path.exists("/proc/sysrq-trigger") else "ENOENT"
    script = ("for f in /proc/kcore /proc/keys /proc/timer_list; do echo $f=$(/probe read $f | head -c 16); done; "
              "/probe write /proc/sys/kernel/domainname x; /probe write /proc/sysrq-trigger h; "
              "/probe write /proc/acpi/x y; ls -A /proc/acpi /sys/firmware | tr '\\n' ' '; echo; "
              "/probe report mounts | grep -E ' /proc/(acpi|keys|sys) | /sys/firmware '")
    sbs = both(["/bin/sh", "-c", script])
    ok(sbs)
    harness.assert_same(sbs)
    lines = sbs.pyrunc.stdout.splitlines()
    # masked files read empty (/dev/null over them); a kernel without kcore has none to mask
    assert lines[:3] == ["/proc/kcore=" + ("" if os.path.exists("/proc/kcore") else "ENOENT"),
                         "/proc/keys=", "/proc/timer_list="], lines
    assert lines[3:6] == ["EROFS", sysrq, "EROFS"]
    assert lines[6].split() == ["/proc/acpi:", "/sys/firmware:"]
    m = mounts_of("\n".join(lines[7:]) + "\n")
    assert m["/proc/acpi"][0] == "tmpfs" and "ro" in m["/proc/acpi"][1]
    assert m["/sys/firmware"][0] == "tmpfs" and "ro" in m["/sys/firmware"][1]
    assert m["/proc/sys"][0] == "proc" and "ro" in m["/proc/sys"][1]


def test_masked_directory_is_an_empty_readonly_tmpfs_and_missing_paths_are_ignored(both):
    sbs = both(["/bin/sh", "-c", "ls -A /etc | wc -l; /probe write /etc/x y; stat -c %a /etc; "
                                 "/probe report mounts | grep ' /etc '"],
               linux={"maskedPaths": ["/etc", "/proc/no-such-file", "/no/such/dir"],
                      "readonlyPaths": ["/proc/no-such-dir"]})
    ok(sbs)
    harness.assert_same(sbs)
    lines = sbs.pyrunc.stdout.splitlines()
    assert lines[:2] == ["0", "EROFS"]
    fstype, opts = mounts_of(lines[3] + "\n")["/etc"]
    assert fstype == "tmpfs" and "ro" in opts
    bundle = Path(sbs.pyrunc.args[sbs.pyrunc.args.index("--bundle") + 1])
    assert not (bundle / "rootfs" / "no").exists()
