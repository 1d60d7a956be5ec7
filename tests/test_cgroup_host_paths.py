"""Where a container's cgroups go, without root: the host's cgroup mode from sample
/proc/self/mountinfo texts (host.parse_mountinfo, host.mode_of), cgroupsPath ->
directories (paths.inner_path, paths.resolve) with a tmp_path standing in for the
cgroup filesystem, making and removing those directories (fs.create, fs.missing,
rmdir.try_remove, fs.remove), and the --systemd-cgroup `slice:prefix:name` form
(paths.parse_systemd).

The mountinfo samples are what real hosts show (Debian 10/11 hybrid, Debian 12 and
Fedora unified, CentOS 7 legacy, a Docker container's own view)."""
import os

import pytest

from pyrunc.cgroups import fs
from pyrunc.cgroups import host as H
from pyrunc.cgroups import paths as P
from pyrunc.cgroups import rmdir
from pyrunc.errors import CgroupError, ConfigError

# ---- mountinfo samples ----

SYS = ("22 28 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
       "23 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
       "28 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro\n")

UNIFIED = SYS + ("26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
                 "rw,nsdelegate,memory_recursiveprot\n")

V1_CONTROLLERS = [
    # (mount id, mountpoint, super options)
    (30, "systemd", "rw,xattr,name=systemd"),
    (31, "cpu,cpuacct", "rw,cpu,cpuacct"),
    (32, "cpuset", "rw,cpuset"),
    (33, "memory", "rw,memory"),
    (34, "devices", "rw,devices"),
    (35, "freezer", "rw,freezer"),
    (36, "net_cls,net_prio", "rw,net_cls,net_prio"),
    (37, "blkio", "rw,blkio"),
    (38, "pids", "rw,pids"),
    (39, "perf_event", "rw,perf_event"),
]


def v1_lines(root="/", base="/sys/fs/cgroup", ro=False):
    return "".join(f"{mid} 25 0:{mid} {root} {base}/{mnt} {'ro' if ro else 'rw'},nosuid,nodev,noexec,relatime "
                   f"shared:{mid} - cgroup cgroup {opts}\n" for mid, mnt, opts in V1_CONTROLLERS)


TMPFS = "25 22 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:3 - tmpfs tmpfs ro,mode=755\n"

# systemd's "hybrid" layout: v1 controllers, cgroup2 (no controllers) at unified/
HYBRID = SYS + TMPFS + ("26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:4 - "
                        "cgroup2 cgroup2 rw,nsdelegate\n") + v1_lines()

# this VM's own: a tmpfs, one controller per mount, cgroup2 at unified/
THIS_VM = SYS + TMPFS + "".join(
    f"{30 + i} 25 0:{30 + i} / /sys/fs/cgroup/{c} rw,relatime - cgroup cgroup rw,{c}\n"
    for i, c in enumerate(("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"))) + \
    "40 25 0:40 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n" \
    "41 25 0:41 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"

LEGACY = SYS + TMPFS + v1_lines()

NONE = SYS + "40 28 0:40 / /tmp rw,nosuid,nodev shared:20 - tmpfs tmpfs rw\n"


def hierarchies(text):
    return {h.key: h for h in H.parse_mountinfo(text)}


# ---- mode detection ----

@pytest.mark.parametrize("text, mode", [
    (UNIFIED, "v2"),
    (HYBRID, "hybrid"),
    (THIS_VM, "hybrid"),
    (LEGACY, "legacy"),
    (NONE, "none"),
    ("", "none"),
], ids=["unified", "hybrid", "this-vm", "legacy", "none", "empty"])
def test_mode_of_sample_mountinfo(text, mode):
    assert H.mode_of(H.parse_mountinfo(text)) == mode


def test_unified_host_is_one_v2_hierarchy():
    (h,) = H.parse_mountinfo(UNIFIED)
    assert (h.version, h.mountpoint, h.root, h.controllers, h.key) == (2, "/sys/fs/cgroup", "/", (), "")


def test_hybrid_hierarchies_are_keyed_as_proc_pid_cgroup_names_them():
    hs = hierarchies(HYBRID)
    assert sorted(hs) == sorted(["", "name=systemd", "cpu,cpuacct", "cpuset", "memory", "devices", "freezer",
                                 "net_cls,net_prio", "blkio", "pids", "perf_event"])
    assert hs[""].version == 2 and hs[""].mountpoint == "/sys/fs/cgroup/unified"
    assert hs["cpu,cpuacct"].controllers == ("cpu", "cpuacct")
    assert hs["cpu,cpuacct"].mountpoint == "/sys/fs/cgroup/cpu,cpuacct"
    assert hs["cpu,cpuacct"].options == "cpu,cpuacct"
    # xattr is a mount flag, not part of the hierarchy's name
    assert hs["name=systemd"].controllers == ("name=systemd",)
    assert all(h.version == 1 for k, h in hs.items() if k)


def test_mount_flags_are_not_controllers():
    text = ("50 25 0:50 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset,noprefix,cpuset_v2_mode,"
            "release_agent=/sbin/agent,clone_children\n"
            "51 25 0:51 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory,favordynmods\n")
    assert sorted(hierarchies(text)) == ["cpuset", "memory"]


def test_name_hierarchy_alone_is_not_v1():
    """A named hierarchy has no controllers: name=systemd alone is no v1 host, and with
    cgroup2 it is still a v2 one (how some hosts keep old systemd containers working)."""
    systemd = "60 25 0:60 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
    assert H.mode_of(H.parse_mountinfo(NONE + systemd)) == "none"
    assert H.mode_of(H.parse_mountinfo(UNIFIED + systemd)) == "v2"


def test_a_stray_v1_mount_does_not_make_a_unified_host_hybrid():
    """cgroup2 *at /sys/fs/cgroup* is a unified host, whatever else is mounted: runc decides
    by statfs("/sys/fs/cgroup") == CGROUP2_SUPER_MAGIC and ignores v1 mounts there.  Some
    software (VPN clients, for net_cls) mounts a v1 controller on a unified host; calling
    that host "hybrid" would put every other controller's writes (memory, cpu, pids) on
    v1 directories that do not exist."""
    stray = "70 26 0:70 / /sys/fs/cgroup/net_cls rw,relatime - cgroup net_cls rw,net_cls\n"
    assert H.mode_of(H.parse_mountinfo(UNIFIED + stray)) == "v2"


def test_the_same_hierarchy_mounted_twice_keeps_the_first():
    again = "90 28 0:33 /docker /mnt/memcg rw - cgroup cgroup rw,memory\n"
    hs = hierarchies(HYBRID + again)
    assert hs["memory"].mountpoint == "/sys/fs/cgroup/memory" and hs["memory"].root == "/"
    assert len(H.parse_mountinfo(HYBRID + again)) == len(H.parse_mountinfo(HYBRID))


def test_escaped_mountpoint_and_root():
    text = r"80 28 0:80 /a\040b /srv/my\040cg\134x rw - cgroup cgroup rw,pids" + "\n"
    (h,) = H.parse_mountinfo(text)
    assert (h.mountpoint, h.root) == ("/srv/my cg\\x", "/a b")


def test_malformed_lines_are_skipped():
    text = "garbage\n- cgroup cgroup rw,pids\n1 2 3 - cgroup\n" + UNIFIED
    assert [h.key for h in H.parse_mountinfo(text)] == [""]


def test_parse_proc_cgroup():
    text = "12:pids:/user.slice\n3:cpu,cpuacct:/a:b/c\n1:name=systemd:/init.scope\n0::/init.scope\n"
    assert H.parse_proc_cgroup(text) == {"pids": "/user.slice", "cpu,cpuacct": "/a:b/c",
                                         "name=systemd": "/init.scope", "": "/init.scope"}


def test_detect_reads_proc(tmp_path):
    (tmp_path / "self").mkdir()
    (tmp_path / "self/mountinfo").write_text(HYBRID)
    (tmp_path / "self/cgroup").write_text("4:memory:/runner\n0::/runner\n")
    ch = H.detect(str(tmp_path))
    assert ch.mode == "hybrid"
    assert ch.unified.mountpoint == "/sys/fs/cgroup/unified"
    assert {h.key for h in ch.v1} == {k for k in hierarchies(HYBRID) if k}
    assert ch.own == {"memory": "/runner", "": "/runner"}


# ---- cgroupsPath resolution ----

def fake_host(tmp_path, text, own=None):
    """The sample's hierarchies with their mountpoints moved under tmp_path (which plays
    /sys/fs/cgroup), made as directories; `own` is /proc/self/cgroup's map."""
    hs = H.parse_mountinfo(text.replace(" /sys/fs/cgroup", " " + str(tmp_path)))
    for h in hs:
        os.makedirs(h.mountpoint, exist_ok=True)
    return H.CgroupHost(H.mode_of(hs), hs, own or {})


def under(tmp_path, paths):
    """{key: path relative to tmp_path} of resolve()'s answer."""
    root = str(tmp_path)
    assert all(p.startswith(root + "/") for p in paths.values()), paths
    return {k: p[len(root):] for k, p in paths.items()}


def test_absolute_path_is_from_each_hierarchys_mountpoint(tmp_path):
    ch = fake_host(tmp_path, HYBRID, {"memory": "/user.slice/session-1.scope", "": "/user.slice"})
    got = under(tmp_path, P.resolve(ch, "/pods/c1", "ignored-id"))
    assert got == {k: "/" + h.mountpoint.rpartition("/")[2] + "/pods/c1" for k, h in hierarchies(HYBRID).items()}
    assert got["memory"] == "/memory/pods/c1" and got[""] == "/unified/pods/c1"


def test_absolute_path_on_a_unified_host(tmp_path):
    ch = fake_host(tmp_path, UNIFIED, {"": "/user.slice/user-0.slice"})
    assert under(tmp_path, P.resolve(ch, "/system.slice/pyrunc-c1", "c1")) == {"": "/system.slice/pyrunc-c1"}


def test_relative_path_is_under_the_runtimes_own_cgroup(tmp_path):
    own = {"memory": "/runner/job", "": "/runner", "pids": "/"}
    ch = fake_host(tmp_path, HYBRID, own)
    got = under(tmp_path, P.resolve(ch, "group/c1", "ignored-id"))
    assert got["memory"] == "/memory/runner/job/group/c1"
    assert got[""] == "/unified/runner/group/c1"
    assert got["pids"] == "/pids/group/c1"
    # a hierarchy missing from /proc/self/cgroup counts as the root
    assert got["cpu,cpuacct"] == "/cpu,cpuacct/group/c1"


def test_absent_path_is_the_id_under_the_runtimes_own_cgroup(tmp_path):
    """runc's default: cgroupsPath "" -> the container id, relative to its own cgroup."""
    own = {"memory": "/process_api/1e35", "": "/"}
    ch = fake_host(tmp_path, THIS_VM, own)
    got = under(tmp_path, P.resolve(ch, "", "pyrt-c1"))
    assert got["memory"] == "/memory/process_api/1e35/pyrt-c1"
    assert got["cpu"] == "/cpu/pyrt-c1" and got[""] == "/unified/pyrt-c1"
    assert set(got) == {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                        "name=systemd", ""}


def test_paths_are_cleaned(tmp_path):
    ch = fake_host(tmp_path, UNIFIED, {"": "/"})
    assert under(tmp_path, P.resolve(ch, "//a/./b//c/", "x")) == {"": "/a/b/c"}
    assert under(tmp_path, P.resolve(ch, "a/./b/", "x")) == {"": "/a/b"}
    assert P.inner_path("/a//b/.", "x") == ("/a/b", False)
    assert P.inner_path("a/b", "x") == ("/a/b", True)
    assert P.inner_path("", "c1") == ("/c1", True)


@pytest.mark.parametrize("path", ["/", "//", "/.", "/./"])
def test_the_root_cgroup_is_refused(tmp_path, path):
    ch = fake_host(tmp_path, HYBRID, {})
    with pytest.raises(ConfigError) as e:
        P.resolve(ch, path, "c1")
    assert e.value.path == "linux.cgroupsPath"
    assert "root cgroup" in str(e.value)


@pytest.mark.parametrize("path", ["..", "../x", "/../x", "a/../b", "/a/b/..", "a/..", "x/../../y"])
def test_dotdot_is_refused(tmp_path, path):
    ch = fake_host(tmp_path, HYBRID, {"memory": "/a/b"})
    with pytest.raises(ConfigError) as e:
        P.resolve(ch, path, "c1")
    assert e.value.path == "linux.cgroupsPath"
    assert '".."' in e.value.reason and path in e.value.reason
    assert str(e.value).startswith("config.json: linux.cgroupsPath: ")


def test_dots_inside_a_name_are_not_dotdot(tmp_path):
    ch = fake_host(tmp_path, UNIFIED, {"": "/"})
    assert under(tmp_path, P.resolve(ch, "/a..b/...", "x")) == {"": "/a..b/..."}


def container_view(root):
    """A container's own mountinfo (no cgroup namespace): every mount's root is the
    container's cgroup, as Docker bind-mounts it."""
    return (SYS + TMPFS + v1_lines(root=root, ro=True)
            + f"26 25 0:23 {root} /sys/fs/cgroup/unified ro,nosuid - cgroup2 cgroup2 rw,nsdelegate\n")


def test_relative_path_when_the_mount_root_is_a_sub_cgroup(tmp_path):
    """Inside a container the mount shows /docker/<id> as its root while /proc/self/cgroup
    says /docker/<id>[/...]: the part below the mount root is where we are."""
    root = "/docker/0123abcd"
    own = {k: root for k in hierarchies(HYBRID)}
    own["memory"] = root + "/inner"
    ch = fake_host(tmp_path, container_view(root), own)
    assert all(h.root == root for h in ch.hierarchies)
    got = under(tmp_path, P.resolve(ch, "", "c1"))
    assert got["pids"] == "/pids/c1"
    assert got["memory"] == "/memory/inner/c1"
    assert got[""] == "/unified/c1"
    assert under(tmp_path, P.resolve(ch, "grp/c2", "c2"))["cpuset"] == "/cpuset/grp/c2"


def test_absolute_path_when_the_mount_root_is_a_sub_cgroup(tmp_path):
    """runc joins an absolute cgroupsPath to the mountpoint as it is, mount root or not."""
    root = "/docker/0123abcd"
    ch = fake_host(tmp_path, container_view(root), {k: root for k in hierarchies(HYBRID)})
    got = under(tmp_path, P.resolve(ch, "/x/c1", "c1"))
    assert got["pids"] == "/pids/x/c1" and got[""] == "/unified/x/c1"


def test_cgroup_namespace_shows_the_root(tmp_path):
    """With a cgroup namespace both the mount root and /proc/self/cgroup say "/"."""
    ch = fake_host(tmp_path, container_view("/"), {k: "/" for k in hierarchies(HYBRID)})
    assert under(tmp_path, P.resolve(ch, "", "c1"))["pids"] == "/pids/c1"


def test_resolved_paths_can_be_created_and_removed(tmp_path):
    own = {"memory": "/runner", "": "/"}
    ch = fake_host(tmp_path, THIS_VM, own)
    os.makedirs(tmp_path / "memory/runner")
    paths = P.resolve(ch, "grp/c1", "c1")
    made = fs.create(paths)
    assert all(os.path.isdir(p) for p in paths.values())
    assert str(tmp_path / "memory/runner/grp") in made and str(tmp_path / "memory/runner") not in made
    fs.remove(made)
    assert not any(os.path.exists(p) for p in paths.values())
    assert all(not os.path.exists(os.path.dirname(p)) for k, p in paths.items() if k != "memory")
    assert (tmp_path / "memory/runner").is_dir()
    assert all(os.path.isdir(h.mountpoint) for h in ch.hierarchies)


# ---- fs.create / fs.remove ----

def test_create_makes_only_what_is_missing_and_remove_keeps_a_parent_that_existed(tmp_path):
    (tmp_path / "memory/parent").mkdir(parents=True)
    (tmp_path / "pids").mkdir()
    paths = {"memory": str(tmp_path / "memory/parent/a/b"), "pids": str(tmp_path / "pids/parent/a/b")}
    predicted = fs.missing(paths)
    made = fs.create(paths)
    assert made == predicted == [str(tmp_path / "memory/parent/a"), str(tmp_path / "memory/parent/a/b"),
                                 str(tmp_path / "pids/parent"), str(tmp_path / "pids/parent/a"),
                                 str(tmp_path / "pids/parent/a/b")]
    assert all(os.path.isdir(p) for p in paths.values())
    fs.remove(made)
    assert (tmp_path / "memory/parent").is_dir(), "remove took a parent that existed before"
    assert not (tmp_path / "memory/parent/a").exists()
    assert not (tmp_path / "pids/parent").exists()
    assert (tmp_path / "pids").is_dir()


def test_create_of_existing_directories_makes_nothing(tmp_path):
    (tmp_path / "memory/c1").mkdir(parents=True)
    paths = {"memory": str(tmp_path / "memory/c1")}
    assert fs.missing(paths) == []
    assert fs.create(paths) == []
    fs.remove([])
    assert (tmp_path / "memory/c1").is_dir()


def test_shared_missing_parents_are_listed_once(tmp_path):
    paths = {"a": str(tmp_path / "top/x/c1"), "b": str(tmp_path / "top/x/c2")}
    want = [str(tmp_path / d) for d in ("top", "top/x", "top/x/c1", "top/x/c2")]
    assert fs.missing(paths) == want
    made = fs.create(paths)
    assert made == want
    fs.remove(made)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_create_removes_what_it_made(tmp_path):
    (tmp_path / "memory").mkdir()
    (tmp_path / "notadir").write_text("")
    paths = {"memory": str(tmp_path / "memory/a/b"), "pids": str(tmp_path / "notadir/x")}
    with pytest.raises(CgroupError) as e:
        fs.create(paths)
    assert str(e.value).startswith('create cgroup "%s' % (tmp_path / "notadir"))
    assert str(e.value).endswith(": not a directory")
    assert not (tmp_path / "memory/a").exists(), "a failed create left the directories it made"
    assert (tmp_path / "memory").is_dir()


def test_cpuset_fills_an_existing_empty_parent_from_its_own(tmp_path):
    """A new (or existing but empty) v1 cpuset cgroup takes cpus and mems from its parent."""
    top = tmp_path / "cpuset"
    (top / "parent").mkdir(parents=True)
    (top / "cpuset.cpus").write_text("0-3\n")
    (top / "cpuset.mems").write_text("0\n")
    (top / "parent/cpuset.cpus").write_text("")
    (top / "parent/cpuset.mems").write_text("")
    made = fs.create({"cpuset": str(top / "parent/c1")})
    assert made == [str(top / "parent/c1")]
    assert (top / "parent/cpuset.cpus").read_text() == "0-3"
    assert (top / "parent/cpuset.mems").read_text() == "0"
    fs.remove(made)
    assert (top / "parent").is_dir() and not (top / "parent/c1").exists()


def test_cpuset_leaves_a_parent_that_has_its_own_cpus(tmp_path):
    top = tmp_path / "cpuset"
    (top / "parent").mkdir(parents=True)
    (top / "cpuset.cpus").write_text("0-3")
    (top / "parent/cpuset.cpus").write_text("1")
    made = fs.create({"cpuset,cpu": str(top / "parent/a/c1")})
    assert made == [str(top / "parent/a"), str(top / "parent/a/c1")]
    assert (top / "parent/cpuset.cpus").read_text() == "1"
    fs.remove(made)
    assert sorted(p.name for p in (top / "parent").iterdir()) == ["cpuset.cpus"]


def test_try_remove_stops_at_a_busy_directory(tmp_path):
    paths = {"pids": str(tmp_path / "pids/a/b")}
    made = fs.create(paths)
    (tmp_path / "pids/a/b/busy").mkdir()         # a child cgroup: rmdir fails (ENOTEMPTY)
    assert rmdir.try_remove(made) is False
    assert (tmp_path / "pids/a/b").is_dir()
    (tmp_path / "pids/a/b/busy").rmdir()
    assert rmdir.try_remove(made) is True
    assert not (tmp_path / "pids/a").exists()
    assert rmdir.try_remove(made) is True           # already gone: nothing to do


def test_remove_reports_a_directory_it_cannot_remove(tmp_path):
    made = fs.create({"pids": str(tmp_path / "pids/a/b")})
    (tmp_path / "pids/a/b/child").mkdir()
    with pytest.raises(CgroupError) as e:
        fs.remove(made)
    assert str(e.value) == 'remove cgroup "%s": directory not empty' % (tmp_path / "pids/a/b")
    assert (tmp_path / "pids/a/b/child").is_dir()


# ---- --systemd-cgroup: slice:prefix:name ----

@pytest.mark.parametrize("path, parts", [
    ("system.slice:pyrunc:c1", ["system.slice", "pyrunc", "c1"]),
    ("user-1000.slice:docker:0123abcd", ["user-1000.slice", "docker", "0123abcd"]),
    (":pyrunc:c1", ["", "pyrunc", "c1"]),               # runc: an empty slice is system.slice
    ("machine.slice::c1", ["machine.slice", "", "c1"]),
])
def test_parse_systemd_good_forms(path, parts):
    assert list(P.parse_systemd(path)) == parts


@pytest.mark.parametrize("path", ["c1", "system.slice:c1", "a:b:c:d", "/sys/fs/cgroup/c1", "::::"])
def test_parse_systemd_malformed(path):
    with pytest.raises(ConfigError) as e:
        P.parse_systemd(path)
    assert e.value.path == "linux.cgroupsPath"
    msg = str(e.value)
    assert msg.startswith("config.json: linux.cgroupsPath: ") and "\n" not in msg
    assert msg == ('config.json: linux.cgroupsPath: expected cgroupsPath to be of format "slice:prefix:name" '
                   'for systemd cgroups, got "%s" instead' % path)


def test_systemd_not_running_is_runc_s_words(monkeypatch):
    """--systemd-cgroup on a host whose init is not systemd: runc's line, before anything."""
    from pyrunc import errors
    from pyrunc.lifecycle import create

    monkeypatch.setattr(create.posix, "access", lambda p, m: False)
    with pytest.raises(errors.PyruncError, match="^systemd not running on this host, cannot use systemd "
                                                 "cgroups manager$"):
        create._systemd_unit(None, {"linux": {"cgroupsPath": "system.slice:p:c1"}}, "c1")


def test_remove_keeps_a_parent_it_made_while_another_cgroup_is_below_it(tmp_path):
    """A second container's cgroup under the parent the first one made: the first's
    delete removes its leaf and leaves the busy parent, without retrying or failing."""
    leaf = str(tmp_path / "memory/shared/a")
    made = fs.create({"memory": leaf})
    (tmp_path / "memory/shared/b").mkdir()          # the sibling, not ours
    fs.remove(made, [leaf])
    assert not os.path.exists(leaf)
    assert (tmp_path / "memory/shared/b").is_dir()
    (tmp_path / "memory/shared/b").rmdir()
    fs.remove(made, [leaf])                         # now empty: the parent goes too
    assert not (tmp_path / "memory/shared").exists()


def test_remove_own_takes_only_a_cgroupfs_containers_own_empty_cgroups(tmp_path):
    """delete's common case without the manager (rmdir.remove_own): every cgroup the state
    names is one the container made, and each goes with one rmdir; otherwise nothing is
    touched, or what is left goes to the manager."""
    parent, leaf, other = tmp_path / "parent", tmp_path / "parent" / "c1", tmp_path / "other"
    for d in (leaf, other):
        d.mkdir(parents=True)
    st = {"cgroupPaths": {"memory": str(leaf)}, "cgroupsCreated": [str(parent), str(leaf)]}
    assert not rmdir.remove_own(dict(st, cgroupDriver="systemd")) and leaf.exists()
    assert not rmdir.remove_own(dict(st, cgroupPaths={"memory": str(leaf), "cpu": str(other)}))
    assert leaf.exists() and other.exists()
    assert not rmdir.remove_own({"cgroupPaths": {}, "cgroupsCreated": []})
    (leaf / "busy").mkdir()                      # a sub-cgroup: rmdir refuses
    assert not rmdir.remove_own(st) and leaf.exists()
    (leaf / "busy").rmdir()
    assert rmdir.remove_own(st)
    assert not parent.exists() and other.exists()
