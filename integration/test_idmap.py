"""Idmapped bind mounts (mounts[].uidMappings/gidMappings, the "idmap" and "ridmap"
options) in real containers through `pyrunc`, as root.

runc 1.1.5, the reference installed here, has no idmapped mounts (they came with runc
1.2): it runs such configs and silently ignores the mappings and both options (the
files show their host owner). So these tests check pyrunc against the runtime-spec (config.md, "uidMappings" /
"gidMappings" of a mount) and runc 1.2's rules, each written in the test:
- a mapping entry reads as in a user namespace's map: a file owned by `containerID` on
  the source filesystem is seen as the host id `hostID` (which the container's own user
  namespace, if any, shows through its map); a file made as `hostID` is stored as
  `containerID`. The source's own ownership never changes;
- "idmap"/"ridmap" without mappings of the mount take the container's user namespace's;
- "ridmap" idmaps every mount of the tree an rbind brings, "idmap" (and bare mappings)
  only the top one; a plain "bind" brings no submounts at all;
- mappings on a non-bind mount, or without both uid and gid mappings, are refused.
The runtime makes each mapping's user namespace with a throwaway process: none is left,
whether the container starts or the config is refused.
"""
import ctypes
import ctypes.util
import json
import os
import signal
import subprocess

import pytest

import harness
from test_faults import fault_cmd, force_delete_cleans, show
from test_namespaces import create_refused
from test_userns import BASE, SLEEP, holder, ubundle, userns_dir  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration

OWNER = 2000  # the host dir's owner: an id with no meaning on the host or in the container
ROOT_SEES_OWNER = [{"containerID": OWNER, "hostID": 0, "size": 1}]  # no container userns: shown as 0


def host_dir(parent, name="hostdir", owner=OWNER, files=("f",)):
    d = parent / name
    d.mkdir(mode=0o755)
    for f in files:
        (d / f).write_text("host\n")
        os.chown(d / f, owner, owner)
    os.chown(d, owner, owner)
    return d


def idmount(source, dest="/mnt", options=("bind",), uids=None, gids="same", **extra):
    m = {"destination": dest, "type": "bind", "source": str(source), "options": list(options), **extra}
    if uids is not None:
        m["uidMappings"] = uids
        m["gidMappings"] = uids if gids == "same" else gids
    return m


def run_ok(pyrunc, bundle):
    cid = harness.new_id("idmap")
    try:
        r = pyrunc.run(cid, bundle)
    finally:
        if cid in pyrunc.containers():
            pyrunc.delete(cid, force=True)
    assert r.returncode == 0, show(r)
    return r.stdout


def owner(path):
    st = os.lstat(path)
    return f"{st.st_uid}:{st.st_gid}"


def plain_bundle(bundle_factory, script, mounts, **fields):
    return bundle_factory(args=["sh", "-c", script], root={"readonly": False},
                          mounts=harness.base_config()["mounts"] + mounts, **fields)


def test_idmapped_bind_without_a_user_namespace(pyrunc, bundle_factory, userns_dir):
    """No container user namespace: files of uid 2000 show as root's through the idmapped
    mount (and as 2000 through a plain bind of the same dir), a file root makes there is
    stored as 2000:2000 on the host, and the host dir keeps its owner."""
    src = host_dir(userns_dir)
    script = ("stat -c '%u:%g' /mnt/f /plain/f; touch /mnt/made; stat -c '%u:%g' /mnt/made;"
              " mkdir /mnt/sub && stat -c '%u:%g' /mnt/sub")
    out = run_ok(pyrunc, plain_bundle(bundle_factory, script, [
        idmount(src, uids=ROOT_SEES_OWNER), idmount(src, "/plain")]))
    assert out.split() == ["0:0", "2000:2000", "0:0", "0:0"]
    assert owner(src / "made") == owner(src / "sub") == "2000:2000"
    assert owner(src) == owner(src / "f") == "2000:2000"


def test_idmapped_bind_into_a_user_namespace(pyrunc, ubundle, userns_dir):
    """Container root is host 100000: mapping the dir's owner 2000 to 100000 shows it as
    the container's root, who may then write the 0755 dir (through a plain bind it is
    nobody's and refused); what it makes is stored as 2000 on the host."""
    src = host_dir(userns_dir)
    script = ("cat /proc/self/uid_map; stat -c '%u:%g' /mnt/f /plain/f; touch /plain/x 2>/dev/null || echo refused;"
              " touch /mnt/made && stat -c '%u:%g' /mnt/made")
    mounts = harness.base_config()["mounts"] + [
        idmount(src, uids=[{"containerID": OWNER, "hostID": BASE, "size": 1}]), idmount(src, "/plain")]
    out = run_ok(pyrunc, ubundle(["sh", "-c", script], mounts=mounts, root={"readonly": False}))
    assert out.split() == ["0", str(BASE), "65536", "0:0", "65534:65534", "refused", "0:0"]
    assert owner(src / "made") == "2000:2000" and owner(src) == "2000:2000"
    assert not (src / "x").exists()


@pytest.mark.parametrize("option", ["idmap", "ridmap"])
def test_idmap_option_takes_the_containers_mappings(pyrunc, ubundle, userns_dir, option):
    """runc 1.2: "idmap" without mappings of its own uses linux.uidMappings/gidMappings,
    so host ids show as the same ids inside: root's files as root's, 1000's as 1000's
    (a plain bind shows them unmapped: nobody). Made as container root: host root's."""
    src = host_dir(userns_dir, owner=0, files=("f",))
    (src / "u").write_text("u\n")
    os.chown(src / "u", 1000, 1000)
    script = "stat -c '%u:%g' /mnt/f /mnt/u /plain/f; touch /mnt/made && stat -c '%u:%g' /mnt/made"
    mounts = harness.base_config()["mounts"] + [idmount(src, options=["rbind", option]), idmount(src, "/plain")]
    out = run_ok(pyrunc, ubundle(["sh", "-c", script], mounts=mounts, root={"readonly": False}))
    assert out.split() == ["0:0", "1000:1000", "65534:65534", "0:0"]
    assert owner(src / "made") == "0:0" and owner(src) == "0:0"


def test_idmap_option_in_a_joined_user_namespace(pyrunc, ubundle, userns_dir, holder):
    """runc 1.2: "idmap" without mappings in a user namespace joined by path idmaps with
    that namespace itself (opened from the path)."""
    src = host_dir(userns_dir, owner=0)
    script = "stat -c '%u:%g' /mnt/f /plain/f; touch /mnt/made && stat -c '%u:%g' /mnt/made"
    mounts = harness.base_config()["mounts"] + [idmount(src, options=["rbind", "idmap"]), idmount(src, "/plain")]
    out = run_ok(pyrunc, ubundle(["sh", "-c", script], path=holder.ns("user"), mounts=mounts,
                                 root={"readonly": False}))
    assert out.split() == ["0:0", "65534:65534", "0:0"]
    assert owner(src / "made") == "0:0"


@pytest.fixture
def with_submount(userns_dir):
    """A source dir with another host dir (owner 2000 too) bound on its `sub`: a host
    mount, removed afterwards."""
    src = host_dir(userns_dir)
    (src / "sub").mkdir()
    os.chown(src / "sub", 3000, 3000)
    inner = host_dir(userns_dir, "inner", files=("g",))
    subprocess.run(["mount", "--bind", str(inner), str(src / "sub")], check=True)
    try:
        yield src
    finally:
        subprocess.run(["umount", "-l", str(src / "sub")], check=True)


@pytest.mark.parametrize("options, expect", [
    (["rbind", "ridmap"], "0:0 0:0"),              # every mount of the tree idmapped
    (["rbind", "idmap"], "0:0 2000:2000"),         # the top mount only: the submount's own owner
    (["rbind"], "0:0 2000:2000"),                  # bare mappings: as "idmap"
    (["bind", "ridmap"], "0:0 -"),                 # a plain bind has no submount at all
])
def test_recursive_and_not(pyrunc, bundle_factory, with_submount, options, expect):
    """runc 1.2: open_tree(AT_RECURSIVE) for an rbind, MOUNT_ATTR_IDMAP with
    AT_RECURSIVE for "ridmap" only."""
    src = with_submount
    script = "stat -c '%u:%g' /mnt/f; stat -c '%u:%g' /mnt/sub/g 2>/dev/null || echo -"
    out = run_ok(pyrunc, plain_bundle(bundle_factory, script, [idmount(src, options=options, uids=ROOT_SEES_OWNER)]))
    assert out.split() == expect.split()
    if options[0] == "bind":
        # the bare mount point of the top mount is mapped as any file of it
        out = run_ok(pyrunc, plain_bundle(bundle_factory, "stat -c '%u:%g' /mnt/sub", [
            idmount(src, options=options, uids=[{"containerID": 3000, "hostID": 7, "size": 1}] + ROOT_SEES_OWNER)]))
        assert out.split() == ["7:7"]


def test_flags_apply_to_the_idmapped_mount(pyrunc, bundle_factory, userns_dir):
    """ro and nosuid are set on the idmapped mount as on any bind; the mapping stays."""
    src = host_dir(userns_dir)
    script = ("stat -c '%u:%g' /mnt/f; touch /mnt/x 2>/dev/null || echo refused;"
              " grep ' /mnt ' /proc/self/mountinfo | grep -o ' ro,nosuid[^ ]*' | head -1")
    out = run_ok(pyrunc, plain_bundle(bundle_factory, script, [
        idmount(src, options=["bind", "ro", "nosuid"], uids=ROOT_SEES_OWNER)]))
    assert out.split()[:2] == ["0:0", "refused"] and out.split()[2].startswith("ro,nosuid"), out
    assert "idmapped" in out


def test_several_mappings_share_one_namespace_and_leave_no_process(pyrunc, bundle_factory, userns_dir):
    """Two mounts with one mapping, one with another: each works; after `create` only the
    init is left (the user namespace holders are gone)."""
    src = host_dir(userns_dir)
    other = [{"containerID": OWNER, "hostID": 5, "size": 1}]
    before = {(p.pid, p.start) for p in harness.descendants()}
    b = plain_bundle(bundle_factory, "stat -c '%u:%g' /a/f /b/f /c/f", [
        idmount(src, "/a", uids=ROOT_SEES_OWNER), idmount(src, "/b", uids=ROOT_SEES_OWNER),
        idmount(src, "/c", uids=other)])
    cid = harness.new_id("idmap")
    try:
        r = pyrunc.create(cid, b)
        assert r.returncode == 0, show(r)
        init = pyrunc.state(cid)["pid"]
        left = [p.pid for p in harness.descendants() if (p.pid, p.start) not in before]
        assert left == [init]
        assert pyrunc.start(cid).returncode == 0
        pyrunc.wait_status(cid, "stopped")
        assert pyrunc.output(cid)[0].split() == ["0:0", "0:0", "5:5"]
    finally:
        pyrunc.delete(cid, force=True)


@pytest.mark.parametrize("user", [False, True], ids=["no-userns", "userns"])
@pytest.mark.parametrize("point", ["create-after-spawn", "create-after-ready"])
def test_killed_at_create_fault_point_then_delete_force_cleans(pyrunc, bundle_factory, ubundle, userns_dir,
                                                                tmp_path, point, user):
    """The trees are made (and their namespace holders reaped) before the spawn returns:
    a create killed after it leaves nothing `delete --force` cannot clean, no holder."""
    src = host_dir(userns_dir)
    m = idmount(src, uids=[{"containerID": OWNER, "hostID": BASE if user else 0, "size": 1}])
    mounts = harness.base_config()["mounts"] + [m]
    bundle = ubundle(SLEEP, mounts=mounts) if user else bundle_factory(args=SLEEP, mounts=mounts)
    cid = harness.new_id("idmap")
    before = harness.snapshot(tmp_path, [pyrunc.root])
    r = fault_cmd(pyrunc, point, "create", "--bundle", bundle, cid)
    assert r.returncode == -signal.SIGKILL, show(r)
    state = harness.state_file(pyrunc, cid)
    init = harness.read_state_file(pyrunc, cid).get("pid") if state.exists() else None
    force_delete_cleans(pyrunc, cid, before, tmp_path, also_gone=[init] if init else [])


# ---- refused: one line, exit 1, nothing left ----

@pytest.mark.parametrize("mount, needles", [
    ({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"],
      "uidMappings": ROOT_SEES_OWNER, "gidMappings": ROOT_SEES_OWNER},
     ["mounts[", "id-mapped mounts are only supported for bind-mounts"]),
    ({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]},
     ["id-mapped mounts are only supported for bind-mounts"]),
    ({"destination": "/t", "type": "bind", "source": "/tmp", "options": ["bind"], "uidMappings": ROOT_SEES_OWNER},
     ["id-mapped mounts must have both uid and gid mappings specified"]),
    ({"destination": "/t", "type": "bind", "source": "/tmp", "options": ["bind"], "uidMappings": [],
      "gidMappings": ROOT_SEES_OWNER}, ["id-mapped mounts must have both uid and gid mappings specified"]),
    ({"destination": "/t", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"]},
     ["id-mapped mounts must have both uid and gid mappings specified"]),   # no user namespace to take
    ({"destination": "/t", "type": "bind", "source": "/tmp", "options": ["bind"],
      "uidMappings": ROOT_SEES_OWNER + [{"containerID": OWNER, "hostID": 9, "size": 1}],
      "gidMappings": ROOT_SEES_OWNER}, [".uidMappings[1]", "overlap"]),
], ids=["tmpfs-mappings", "tmpfs-idmap", "uid-only", "empty-uid", "idmap-without-userns", "overlap"])
def test_bad_idmapped_mounts_are_refused(pyrunc, bundle_factory, mount, needles):
    b = bundle_factory(mounts=harness.base_config()["mounts"] + [mount])
    create_refused(pyrunc, b, "config.json", *needles)


def test_runtime_failures_leave_nothing(pyrunc, bundle_factory, userns_dir):
    """A missing source (open_tree) and a filesystem without idmap support (procfs:
    EINVAL, with runc 1.2's hint): one line, no container, no user namespace holder."""
    b = bundle_factory(mounts=harness.base_config()["mounts"] + [
        idmount(userns_dir / "missing", uids=ROOT_SEES_OWNER)])
    create_refused(pyrunc, b, "open_tree(OPEN_TREE_CLONE)", "missing", "no such file or directory")
    b = bundle_factory(mounts=harness.base_config()["mounts"] + [idmount("/proc/sys", uids=ROOT_SEES_OWNER)])
    create_refused(pyrunc, b, "failed to set MOUNT_ATTR_IDMAP on /proc/sys", "invalid argument",
                   "doesn't support idmap mounts")


def test_features_reports_idmap_as_the_kernel_has_it(pyrunc):
    """mountExtensions.idmap.enabled and the two options follow the kernel: mount_setattr
    (442) exists unless it answers ENOSYS."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    has = libc.syscall(442, -1, b"", 0, None, 0) == 0 or ctypes.get_errno() != 38
    r = pyrunc.cmd("features")
    assert r.returncode == 0, show(r)
    doc = json.loads(r.stdout)
    assert doc["linux"]["mountExtensions"]["idmap"]["enabled"] is has
    assert ({"idmap", "ridmap"} <= set(doc["mountOptions"])) is has
