"""Mount and rootfs conformance with runc 1.1.5 (the mount items of the conformance issue).

Each test runs the same bundle under runc and pyrunc and compares what the process saw,
or how both refused.  Where runc 1.1.5 fails a config that crun 1.8.1 and the
runtime-spec run, pyrunc runs it as crun does; those tests say so.
"""
import os
from pathlib import Path

import pytest

import harness
from test_rootfs import PROC_ONLY, both, create_refused, ok  # noqa: F401 (both is a fixture)

pytestmark = pytest.mark.integration

MOUNTS = ["/bin/sh", "-c", "cut -d' ' -f5,9 /proc/self/mountinfo"]


def refused_alike(sbs, needle):
    """Both runtimes failed the run with exit 1 and `needle` in their error."""
    for r in sbs:
        assert r.returncode == 1 and needle in r.stderr, f"{r.args[0]} exit {r.returncode}: {r.stderr}"


# ---- 1. special filesystems on what is not an ordinary directory ----

@pytest.mark.parametrize("fstype,dest", [("proc", "/proc"), ("sysfs", "/sys")])
@pytest.mark.parametrize("what", ["symlink-relative", "symlink-absolute", "file"])
def test_proc_and_sysfs_only_on_an_ordinary_directory(both, pyrunc, bundle_factory, tmp_path, fstype, dest,
                                                      what):
    """proc and sysfs on a destination the image made a symlink or a file: refused, with
    runc's words, before anything is mounted (a symlink would carry procfs, and with it
    the masks and the sysctl writes, wherever the image points: the CVE-2019-19921 class)."""
    mounts = [{"destination": dest, "type": fstype, "source": fstype}]
    if fstype != "proc":
        mounts = PROC_ONLY + mounts

    def setup(bundle):
        p = bundle / "rootfs" / dest.lstrip("/")
        if p.is_dir():
            p.rmdir()
        if what == "file":
            p.write_text("")
        else:
            (bundle / "rootfs" / "opt" / "x").mkdir(parents=True)
            os.symlink("opt/x" if what == "symlink-relative" else "/opt/x", p)
    sbs = both(["/bin/true"], setup=setup, mounts=mounts, linux={"maskedPaths": [], "readonlyPaths": []})
    refused_alike(sbs, f'filesystem \\"{fstype}\\" must be mounted on ordinary directory')
    bundle = bundle_factory(mounts=mounts, linux={"maskedPaths": [], "readonlyPaths": []})
    setup(bundle)
    create_refused(pyrunc, bundle, f'mount "{fstype}" on "{dest}"',
                   f'filesystem "{fstype}" must be mounted on ordinary directory')
    assert list((bundle / "rootfs" / "opt").glob("x/*")) == []


@pytest.mark.parametrize("fstype,options", [("mqueue", []), ("tmpfs", []), ("devpts", ["newinstance"]),
                                            ("proc", ["rbind"])])
def test_other_mounts_follow_a_symlink_inside_the_rootfs(both, fstype, options):
    """runc checks only proc and sysfs for a symlinked destination: mqueue, tmpfs, devpts
    and binds follow the link inside the rootfs (never out of it)."""
    source = "/proc" if "rbind" in options else fstype

    def setup(bundle):
        (bundle / "rootfs" / "opt" / "there").mkdir(parents=True)
        os.symlink("/opt/there", bundle / "rootfs" / "here")
    sbs = both(MOUNTS, setup=setup,
               mounts=PROC_ONLY + [{"destination": "/here", "type": fstype, "source": source, "options": options}])
    ok(sbs)
    harness.assert_same(sbs)
    assert f"/opt/there {'proc' if source == '/proc' else fstype}" in sbs.pyrunc.stdout.splitlines()


PROC_CASES = {
    # name: (mount, None if it runs, else the words of the refusal)
    "bind-on-a-proc-file": ({"destination": "/proc/sysrq-trigger", "type": "bind", "source": "/dev/null",
                             "options": ["bind"]}, "cannot be mounted because it is inside /proc"),
    "bind-on-an-lxcfs-file": ({"destination": "/proc/uptime", "type": "bind", "source": "/dev/null",
                               "options": ["bind"]}, None),
    "bind-of-a-dir-on-proc": ({"destination": "/proc", "type": "bind", "source": "/tmp", "options": ["rbind"]},
                              "cannot be mounted because it is not of type proc"),
    "bind-of-procfs-on-proc": ({"destination": "/proc", "type": "bind", "source": "/proc", "options": ["rbind"]},
                               None),
    "devpts-inside-proc": ({"destination": "/proc/x", "type": "devpts", "source": "devpts"},
                           "cannot be mounted because it is inside /proc"),
    "bind-through-a-symlink-to-proc": ({"destination": "/evil", "type": "bind", "source": "/dev/null",
                                        "options": ["bind"]}, "cannot be mounted because it is inside /proc"),
    "tmpfs-inside-proc": ({"destination": "/proc/sys", "type": "tmpfs", "source": "tmpfs"}, None),
    "sysfs-inside-proc": ({"destination": "/proc/sys", "type": "sysfs", "source": "sysfs"}, None),
    "mqueue-inside-proc": ({"destination": "/proc/sys", "type": "mqueue", "source": "mqueue"}, None),
}


@pytest.mark.parametrize("case", sorted(PROC_CASES))
def test_mounts_on_and_inside_proc_as_runc(both, case):
    """runc's checkProcMount: a bind or an fs runc has no case for (devpts, ...) goes on
    /proc only from a procfs source and under /proc only on the files lxcfs emulates;
    tmpfs, sysfs and mqueue are not checked.  The destination is checked resolved."""
    mount, refusal = PROC_CASES[case]

    def setup(bundle):
        os.symlink("/proc/sys/kernel/hostname", bundle / "rootfs" / "evil")
    sbs = both(["/bin/sh", "-c", f"cut -d' ' -f5,9 /proc/self/mountinfo | grep -E '^{mount['destination']} '"],
               setup=setup, mounts=PROC_ONLY + [mount], linux={"maskedPaths": [], "readonlyPaths": []})
    if refusal:
        refused_alike(sbs, refusal)
        rootfs = Path(sbs.pyrunc.args[sbs.pyrunc.args.index("--bundle") + 1]) / "rootfs"
        assert f'\\"{rootfs}/proc' in sbs.pyrunc.stderr, sbs.pyrunc.stderr
    else:
        ok(sbs)
        harness.assert_same(sbs)
        assert sbs.pyrunc.stdout.startswith(mount["destination"] + " ")


# ---- 2. options the mount table does not know ----

@pytest.mark.parametrize("options", [["bind", "mode=755", "size=1k"], ["rbind", "bogus", "ro"],
                                     ["mode=700", "bind", "nosuid"]], ids=["data", "unknown-ro", "data-first"])
def test_data_options_of_a_bind_mount_are_ignored_as_runc(both, tmp_path, options):
    """fs data beside "bind" goes to the kernel, which has no data for a bind: the mount is
    made with its flags only, as under runc."""
    src = tmp_path / "src"
    src.mkdir(mode=0o750, exist_ok=True)
    os.chmod(src, 0o750)
    (src / "f").write_text("bound\n")
    sbs = both(["/bin/sh", "-c", "stat -c %a /mnt; cat /mnt/f; grep ' /mnt ' /proc/self/mountinfo | cut -d' ' -f5,6"],
               mounts=PROC_ONLY + [{"destination": "/mnt", "type": "bind", "source": str(src), "options": options}])
    ok(sbs)
    harness.assert_same(sbs)
    lines = sbs.pyrunc.stdout.splitlines()
    assert lines[:2] == ["750", "bound"]
    assert ("ro" in options) == lines[2].split()[1].startswith("ro,")


def test_tmpcopyup_beside_bind_is_ignored_as_runc(both, tmp_path):
    """tmpcopyup is a tmpfs extension; runc ignores it on a bind mount, and so does pyrunc."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f").write_text("bound\n")
    sbs = both(["/bin/sh", "-c", "cat /mnt/f; grep ' /mnt ' /proc/self/mountinfo | cut -d' ' -f5,9"],
               mounts=PROC_ONLY + [{"destination": "/mnt", "type": "bind", "source": str(tmp_path / "src"),
                                    "options": ["rbind", "tmpcopyup"]}])
    ok(sbs)
    harness.assert_same(sbs)
    assert sbs.pyrunc.stdout.splitlines()[0] == "bound"


@pytest.mark.parametrize("options,runs", [(["acl"], True), (["noacl"], True), (["bogus=1"], False)])
def test_tmpfs_options_as_runc(both, options, runs):
    """acl/noacl are flags (MS_POSIXACL), not data; an unknown one is the kernel's to refuse."""
    sbs = both(["/bin/sh", "-c", "grep ' /mnt ' /proc/self/mountinfo | cut -d' ' -f5,9"],
               mounts=PROC_ONLY + [{"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": options}])
    if runs:
        ok(sbs)
        harness.assert_same(sbs)
        assert sbs.pyrunc.stdout == "/mnt tmpfs\n"
    else:
        refused_alike(sbs, "invalid argument")


def test_defaults_option_is_no_flag_where_runc_fails(both):
    """"defaults" is a runtime-spec option meaning no flag; runc 1.1.5 passes it to tmpfs as
    data and fails; crun and pyrunc mount the tmpfs (deliberate difference)."""
    sbs = both(["/bin/sh", "-c", "grep ' /mnt ' /proc/self/mountinfo | cut -d' ' -f5,6,9"],
               mounts=PROC_ONLY + [{"destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
                                    "options": ["defaults", "nosuid"]}])
    assert sbs.runc.returncode == 1 and "data: defaults: invalid argument" in sbs.runc.stderr, sbs.runc.stderr
    assert sbs.pyrunc.returncode == 0, sbs.pyrunc.stderr
    assert sbs.pyrunc.stdout == "/mnt rw,nosuid,relatime tmpfs\n"


def test_type_bind_without_a_bind_option_is_a_bind_where_runc_fails(both, tmp_path):
    """runtime-spec: the type of a bind mount is a no-op; runc 1.1.5 mounts a filesystem
    named "bind" (no such device); crun and pyrunc bind the source (deliberate difference)."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f").write_text("bound\n")
    sbs = both(["/bin/cat", "/mnt/f"],
               mounts=PROC_ONLY + [{"destination": "/mnt", "type": "bind", "source": str(tmp_path / "src")}])
    assert sbs.runc.returncode == 1 and "no such device" in sbs.runc.stderr, sbs.runc.stderr
    assert (sbs.pyrunc.returncode, sbs.pyrunc.stdout) == (0, "bound\n"), sbs.pyrunc.stderr


# ---- 5. made read-only, a mount keeps its nosuid, nodev and noexec ----

def test_read_only_remounts_keep_the_mounts_flags(both, tmp_path):
    """readonlyPaths are bound and remounted read-only keeping the nosuid/nodev/noexec of
    the mount they sit on (a proc mounted with them); a read-only /dev keeps its own
    flags; a read-only bind has the config's flags; as runc."""
    src = tmp_path / "src"
    src.mkdir()
    mounts = [{"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
              {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "noexec", "ro"]},
              {"destination": "/mnt", "type": "bind", "source": str(src), "options": ["rbind", "ro", "nodev"]}]
    script = "grep -E ' /(mnt|proc|proc/sys|proc/bus|dev) ' /proc/self/mountinfo | cut -d' ' -f5,6"
    sbs = both(["/bin/sh", "-c", script], mounts=mounts,
               linux={"readonlyPaths": ["/proc/sys", "/proc/bus", "/mnt"], "maskedPaths": []})
    ok(sbs)
    harness.assert_same(sbs)
    got = sbs.pyrunc.stdout.splitlines()
    assert "/proc/sys ro,nosuid,nodev,noexec,relatime" in got
    assert "/dev ro,nosuid,noexec,relatime" in got
    assert got.count("/mnt ro,nodev,relatime") == 2


# ---- 4. --no-pivot leaves no full procfs or sysfs in the container's mount namespace ----

NESTED_CAPS = ["CAP_SYS_CHROOT", "CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETFCAP"]
NESTED_MOUNTS = ("mkdir /dev/px /dev/sx; unshare -Urmpfn sh -c "
                 "'mount -t proc proc /dev/px && echo proc mounted; mount -t sysfs sysfs /dev/sx && echo sysfs mounted'"
                 " 2>/dev/null; cut -d' ' -f5 /proc/self/mountinfo | grep -E '^/(proc|sys)$'")


@pytest.mark.parametrize("case", ["no-pivot", "pivot-unmasked"])
def test_no_pivot_hides_the_hosts_proc_and_sys(both, case):
    """A nested user namespace may mount a fresh procfs or sysfs only while a full,
    uncovered one is in its mount namespace.  After --no-pivot's chroot the host's /proc
    and /sys are still there under the rootfs: runc detaches them first, and so does
    pyrunc, so the nested mounts are refused as under pivot_root with masks.  The control
    (pivot_root, the container's own /proc left unmasked) shows the kernel here lets the
    nested mount through when one is fully visible."""
    caps = {k: NESTED_CAPS for k in ("bounding", "effective", "permitted")}
    fields = {"process": {"capabilities": caps}}
    flags = ("--no-pivot",) if case == "no-pivot" else ()
    if case == "pivot-unmasked":
        fields["linux"] = {"maskedPaths": [], "readonlyPaths": []}
    host_before = sorted(Path("/proc/self/mountinfo").read_text().splitlines())
    sbs = both(["/bin/sh", "-c", NESTED_MOUNTS], *flags, **fields)
    ok(sbs)
    harness.assert_same(sbs)
    # (the container's sysfs is read-only: a fresh one, read-write, is refused there anyway)
    mounted = ["proc mounted"] if case == "pivot-unmasked" else []
    assert sbs.pyrunc.stdout.splitlines() == mounted + ["/proc", "/sys"]
    assert sorted(Path("/proc/self/mountinfo").read_text().splitlines()) == host_before


# ---- 3. no mount namespace: the runtime's own ----

NO_MNT_NS = [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}]


@pytest.fixture
def runc_in_own_mountns(tmp_path):
    """runc run in a private mount namespace of its own: without a mount namespace in the
    config runc makes the caller's "/" rslave and leaves its mounts behind; neither may
    reach this host."""
    wrapper = tmp_path / "runc-unshared"
    wrapper.write_text(f"#!/bin/sh\nexec unshare -m --propagation private {harness._runtime_binary('runc')} \"$@\"\n")
    wrapper.chmod(0o755)
    return harness.Runtime("runc", tmp_path / "runc-unshared-work", binary=str(wrapper))


def host_propagation():
    return sorted(" ".join(f[4:f.index("-")]) for f in
                  (line.split() for line in Path("/proc/self/mountinfo").read_text().splitlines()))


def test_no_mount_namespace_mounts_in_the_runtimes_and_chroots(runc_in_own_mountns, pyrunc, tmp_path):
    """Without a mount namespace runc still runs the container: the mounts are made under
    the rootfs in the runtime's namespace and the process is chrooted.  pyrunc does the
    same, sees the same mounts, and leaves the host as it was: its "/" untouched (runc
    makes it rslave) and every mount unmounted by delete (runc leaves them)."""
    before = host_propagation()
    script = "cut -d' ' -f4,5,9 /proc/self/mountinfo; ls /; /probe write /x y; readlink /proc/1/root"
    sbs = harness.side_by_side(
        lambda d: harness.make_bundle(d, ["/bin/sh", "-c", script], root={"readonly": False},
                                      linux={"namespaces": NO_MNT_NS, "maskedPaths": [], "readonlyPaths": []}),
        workdir=tmp_path / "sbs", runc=runc_in_own_mountns, pyrunc=pyrunc)
    ok(sbs)
    rootfs = {r: Path(r.args[r.args.index("--bundle") + 1]) / "rootfs" for r in sbs}
    harness.assert_same(sbs, normalize=lambda s: s.replace(str(rootfs[sbs.runc]), "ROOTFS")
                        .replace(str(rootfs[sbs.pyrunc]), "ROOTFS").replace(sbs.runc.args[-1], "ID")
                        .replace(sbs.pyrunc.args[-1], "ID"))
    lines = sbs.pyrunc.stdout.splitlines()
    assert lines[0].startswith(f"{rootfs[sbs.pyrunc]} / ")     # the rootfs bound on itself, chrooted
    assert "/ /proc proc" in lines and "ok" in lines and lines[-1] == "/"
    assert host_propagation() == before
    assert not [m for m in host_mountpoints_all() if str(tmp_path) in m]


def host_mountpoints_all():
    return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]


def test_no_mount_namespace_cannot_restrict_paths_as_runc(runc_in_own_mountns, pyrunc, bundle_factory):
    """maskedPaths and readonlyPaths need a mount namespace: runc's words, nothing made."""
    bundle = bundle_factory(linux={"namespaces": NO_MNT_NS})
    r = runc_in_own_mountns.run(harness.new_id("nomnt"), bundle)
    assert r.returncode == 1 and "unable to restrict sys entries without a private MNT namespace" in r.stderr
    create_refused(pyrunc, bundle_factory(linux={"namespaces": NO_MNT_NS}), "linux.maskedPaths",
                   "unable to restrict sys entries without a private MNT namespace")


@pytest.mark.parametrize("flags", [(), ("--no-pivot",)], ids=["default", "no-pivot"])
def test_no_mount_namespace_read_only_root_and_create_failure(pyrunc, bundle_factory, tmp_path, flags):
    """pyrunc alone (deliberate differences): a read-only root stays read-only (runc skips
    its read-only remounts without a mount namespace), --no-pivot only chroots (runc would
    move the rootfs onto the caller's "/"), and a create that fails after mounting
    unmounts what it made."""
    before = host_propagation()
    bundle = bundle_factory(args=["/bin/sh", "-c", "/probe write /x y; cut -d' ' -f5 /proc/self/mountinfo | head -2"],
                            linux={"namespaces": NO_MNT_NS, "maskedPaths": [], "readonlyPaths": []})
    cid = harness.new_id("nomnt")
    r = pyrunc.run(cid, bundle, *flags)
    pyrunc.delete(cid, force=True)
    assert (r.returncode, r.stdout) == (0, "EROFS\n/\n/proc\n"), r.stderr
    assert host_propagation() == before
    assert not [m for m in host_mountpoints_all() if str(tmp_path) in m]
    bad = bundle_factory(linux={"namespaces": NO_MNT_NS, "maskedPaths": [], "readonlyPaths": []},
                         mounts=PROC_ONLY + [{"destination": "/mnt", "type": "bind", "source": str(tmp_path / "none"),
                                              "options": ["bind"]}])
    create_refused(pyrunc, bad, 'mount "%s"' % (tmp_path / "none"), "no such file or directory")


def test_exec_without_a_mount_namespace_lands_in_the_containers_root(pyrunc, bundle_factory):
    """pyrunc alone (deliberate difference): runc's exec joins the container's namespaces
    and, with no mount namespace to join, runs the process at the host's "/"; pyrunc
    chroots it to the init's root, where the init itself runs."""
    bundle = bundle_factory(args=["/probe", "sleep", "30"],
                            linux={"namespaces": NO_MNT_NS, "maskedPaths": [], "readonlyPaths": []})
    cid = harness.new_id("nomnt-exec")
    try:
        assert pyrunc.create(cid, bundle).returncode == 0
        assert pyrunc.start(cid).returncode == 0
        r = pyrunc.cmd("exec", cid, "/bin/sh", "-c", "ls / | tr '\\n' ' '; echo; readlink /proc/self/root; pwd")
    finally:
        pyrunc.delete(cid, force=True)
        harness.reap()
    assert r.returncode == 0, r.stderr
    assert [line.strip() for line in r.stdout.splitlines()] == [" ".join(sorted(os.listdir(bundle / "rootfs"))),
                                                                "/", "/"]


# ---- 6. a bind's source inside an earlier mount of the container ----

def test_bind_source_inside_an_earlier_mount_is_taken_when_its_turn_comes(both, tmp_path):
    """Mounts are made in config order and a bind's source is looked at when its turn
    comes, as runc does: a source under the rootfs that an earlier mount covers is the
    mounted file or directory (a file here, though the image has nothing there), and one
    inside a tmpcopyup tmpfs is the copy."""
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "f").write_text("file from the earlier bind\n")
    (data / "sub" / "g").write_text("dir from the earlier bind\n")

    def setup(bundle):
        rootfs = bundle / "rootfs"
        cfg = harness.read_config(bundle)
        cfg["mounts"] += [
            {"destination": "/a", "type": "bind", "source": str(data), "options": ["bind"]},
            {"destination": "/f", "type": "bind", "source": f"{rootfs}/a/f", "options": ["bind"]},
            {"destination": "/s", "type": "bind", "source": f"{rootfs}/a/sub", "options": ["bind", "ro"]},
            {"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]},
            {"destination": "/pw", "type": "bind", "source": f"{rootfs}/etc/passwd", "options": ["bind"]},
        ]
        harness.write_config(bundle, cfg)
    sbs = both(["/bin/sh", "-c", "cat /f /s/g; stat -c %F /f /s /pw; head -1 /pw"], setup=setup)
    ok(sbs)
    harness.assert_same(sbs)
    assert sbs.pyrunc.stdout.splitlines() == ["file from the earlier bind", "dir from the earlier bind",
                                              "regular file", "directory", "regular file",
                                              "root:x:0:0:root:/root:/bin/sh"]


# ---- 7. where runc 1.1.5 fails and crun runs: crun's way ----

@pytest.mark.parametrize("prop", ["unbindable", "runbindable"])
def test_rootfs_propagation_unbindable(both, prop):
    """runc makes the runtime's "/" unbindable first and then cannot bind the rootfs out of
    it (EINVAL); crun makes the root unbindable after the pivot, and so does pyrunc (after
    the read-only paths, which are bound from their own mounts): the container's "/", and
    with runbindable every mount under it, is unbindable."""
    sbs = both(["/bin/sh", "-c", "awk '$5 ~ /^\\/(proc|proc\\/sys|dev)?$/ {print $5, $7}' /proc/self/mountinfo"],
               linux={"rootfsPropagation": prop})
    assert sbs.runc.returncode == 1 and "invalid argument" in sbs.runc.stderr, sbs.runc.stderr
    assert sbs.pyrunc.returncode == 0, sbs.pyrunc.stderr
    got = dict(line.split() for line in sbs.pyrunc.stdout.splitlines())
    assert got["/"] == "unbindable"
    below = {got[p] for p in ("/proc", "/proc/sys", "/dev")}
    assert below == ({"unbindable"} if prop == "runbindable" else {"-"}), got


@pytest.mark.parametrize("options,want", [(["mode=1777"], "1777"), (["mode=1777", "ro", "tmpcopyup"], "1777"),
                                          ([], "700"), (["ro"], "700")])
def test_tmpfs_mode_of_its_own_is_kept_over_an_image_directory(both, options, want):
    """runc gives a tmpfs over an image directory that directory's mode even when the
    config says mode=1777 (a /tmp of 0700 in the image stays 0700): crun and pyrunc keep
    the tmpfs's own mode; without one, the directory's mode, as runc."""
    def setup(bundle):
        os.chmod(bundle / "rootfs" / "tmp", 0o700)
        (bundle / "rootfs" / "tmp" / "kept").write_text("")
    sbs = both(["/bin/sh", "-c", "stat -c %a /tmp; ls /tmp"], setup=setup,
               mounts=PROC_ONLY + [{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": options}])
    assert sbs.runc.returncode == sbs.pyrunc.returncode == 0, sbs.pyrunc.stderr
    assert sbs.runc.stdout.splitlines()[0] == "700"
    assert sbs.pyrunc.stdout.splitlines() == [want] + (["kept"] if "tmpcopyup" in options else [])
    if want == "700":
        harness.assert_same(sbs)


@pytest.mark.parametrize("readonly", [True, False], ids=["ro-root", "rw-root"])
def test_config_without_a_proc_mount_runs_as_crun(both, readonly):
    """No /proc mount: runc fails create (it reopens its fds through /proc/self/fd); crun
    runs the container, and so does pyrunc: the exec fifo is opened relative to the state
    dir and the read-only remounts, masks and read-only paths are made fd to fd, so they
    hold all the same.  The default masks under /proc are skipped (nothing is there)."""
    mounts = [m for m in harness.base_config()["mounts"] if m["destination"] != "/proc"]
    mounts.append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]})
    linux = harness.base_config()["linux"]
    script = ("ls -A /proc /sys/firmware | wc -l; for f in /x /tmp/y /etc/z /sys/firmware/w; do /probe write $f v; done; "
              "head -1 /etc/passwd")
    sbs = both(["/bin/sh", "-c", script], mounts=mounts, root={"path": "rootfs", "readonly": readonly},
               linux={"readonlyPaths": linux["readonlyPaths"] + ["/etc"], "maskedPaths": linux["maskedPaths"]})
    assert sbs.runc.returncode == 1 and "/proc/self/fd" in sbs.runc.stderr, sbs.runc.stderr
    assert sbs.pyrunc.returncode == 0, sbs.pyrunc.stderr
    assert sbs.pyrunc.stdout.splitlines() == ["3", "EROFS" if readonly else "ok", "EROFS", "EROFS", "EROFS",
                                              "root:x:0:0:root:/root:/bin/sh"]
