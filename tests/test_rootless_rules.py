"""Rootless logic without a container: runc's detection (--rootless, euid, a user
namespace), the default root, the map writer's choices and /etc/subuid rules, the
rootless cgroup manager's rules, and what the plan changes for an unprivileged runtime."""
import copy
import posix

import pytest

from pyrunc import errors, rootless
from pyrunc.cgroups import host as cghost
from pyrunc.cgroups import rootless as cgrootless
from pyrunc.cgroups.manager import Manager
from pyrunc.errors import CgroupError, ConfigError, PyruncError
from pyrunc.lifecycle import idmaps
from pyrunc.plan import build
from pyrunc.plan import ops as O
from pyrunc.spec import default, load

from test_plan import host


@pytest.mark.parametrize("value,want", [("", None), ("auto", None), ("AUTO", None), ("true", True), ("1", True),
                                        ("T", True), ("False", False), ("0", False), ("f", False)])
def test_rootless_flag_is_go_parse_bool_or_auto(value, want):
    assert rootless.parse_bool_or_auto(value) is want


def test_rootless_flag_bad_value_in_runcs_words():
    with pytest.raises(PyruncError, match=r'^strconv.ParseBool: parsing "yes": invalid syntax$'):
        rootless.parse_bool_or_auto("yes")


@pytest.mark.parametrize("text,initial", [
    ("         0          0 4294967295\n", True),
    ("         0       1000          1\n", False),
    ("0 0 4294967294\n", False),
    ("0 0 1000\n1000 1000 4294966295\n", False),
])
def test_initial_user_namespace_is_the_full_identity_map(text, initial):
    assert rootless.initial_map(text) is initial


@pytest.fixture
def env(monkeypatch):
    def set_(euid=1000, xdg=None, userns=False, user=None):
        monkeypatch.setattr(rootless, "euid", lambda: euid != 0)
        monkeypatch.setattr(rootless, "in_userns", lambda: userns)
        for key, val in ((b"XDG_RUNTIME_DIR", xdg), (b"USER", user)):
            if val is None:
                monkeypatch.delitem(posix.environ, key, raising=False)
            else:
                monkeypatch.setitem(posix.environ, key, val.encode())
    return set_


@pytest.mark.parametrize("euid,xdg,userns,user,want", [
    (1000, "/run/user/1000", False, None, ("/run/user/1000/pyrunc", True)),
    (1000, "/run/user/1000/", False, None, ("/run/user/1000/pyrunc", True)),
    (1000, None, False, None, ("/run/pyrunc", False)),
    (1000, "", False, None, ("/run/pyrunc", False)),
    (0, "/run/user/0", False, None, ("/run/pyrunc", False)),       # the real root keeps /run
    (0, "/run/user/1000", True, "me", ("/run/user/1000/pyrunc", True)),  # root of a rootless podman
    (0, "/run/user/1000", True, None, ("/run/user/1000/pyrunc", True)),
    (0, "/run/user/0", True, "root", ("/run/pyrunc", False)),
])
def test_default_root_where_runc_uses_xdg_runtime_dir(env, euid, xdg, userns, user, want):
    env(euid, xdg, userns, user)
    assert rootless.default_root() == want


@pytest.mark.parametrize("flag,euid,userns,want", [
    ("auto", 1000, False, True), ("auto", 0, True, True), ("auto", 0, False, False),
    ("true", 0, False, True), ("false", 1000, False, False), ("", 1000, False, True),
])
def test_rootless_cgroup_manager_as_runc_decides(env, flag, euid, userns, want):
    env(euid, None, userns)
    assert rootless.cgroups(flag) is want


# ---- the map writer ----

def test_subordinate_ranges_by_name_or_uid(tmp_path):
    f = tmp_path / "subuid"
    f.write_text("rl:100000:65536\nother:200000:10\n1001:300000:5\nbroken line\nrl:x:1\n")
    assert idmaps.subordinate(str(f), {"rl", "1001"}) == [(100000, 65536), (300000, 5)]
    assert idmaps.subordinate(str(tmp_path / "missing"), {"rl"}) == []


def test_ranges_must_be_our_own_id_or_subordinate():
    allowed = [(100000, 65536)]
    ok = [{"containerID": 0, "hostID": 1001, "size": 1}, {"containerID": 1, "hostID": 100000, "size": 65536}]
    idmaps.check_ranges(ok, "linux.uidMappings", 1001, allowed, "/etc/subuid", "user rl (uid 1001)")
    for bad, i in (([{"containerID": 0, "hostID": 1001, "size": 2}], 0),
                   (ok[:1] + [{"containerID": 1, "hostID": 100000, "size": 65537}], 1),
                   (ok[:1] + [{"containerID": 1, "hostID": 99999, "size": 2}], 1)):
        with pytest.raises(ConfigError, match=r"linux.uidMappings\[%d\]: host ids .* are not subordinate ids of "
                           r"user rl \(uid 1001\) in /etc/subuid" % i):
            idmaps.check_ranges(bad, "linux.uidMappings", 1001, allowed, "/etc/subuid", "user rl (uid 1001)")


@pytest.fixture
def ids(monkeypatch):
    monkeypatch.setattr(posix, "geteuid", lambda: 1001)
    monkeypatch.setattr(posix, "getuid", lambda: 1001)
    monkeypatch.setattr(posix, "getegid", lambda: 1001)
    monkeypatch.setattr(idmaps, "subordinate", lambda path, names: [(100000, 65536)])
    tools = {"newuidmap": "/usr/bin/newuidmap", "newgidmap": "/usr/bin/newgidmap"}
    monkeypatch.setattr(idmaps, "_which", lambda name: tools.get(name))
    return tools


def M(*triples):
    return [{"containerID": c, "hostID": h, "size": n} for c, h, n in triples]


def test_self_maps_are_written_directly_with_setgroups_denied(ids):
    w = idmaps.writer({"uidMappings": M((0, 1001, 1)), "gidMappings": M((0, 1001, 1))})
    assert w.tools == (None, None) and w.deny_setgroups


def test_multi_range_maps_go_through_the_helpers(ids):
    w = idmaps.writer({"uidMappings": M((0, 1001, 1), (1, 100000, 65536)),
                       "gidMappings": M((0, 1001, 1), (1, 100000, 65536))})
    assert w.tools == ("/usr/bin/newuidmap", "/usr/bin/newgidmap") and not w.deny_setgroups


def test_a_gid_self_map_not_at_zero_goes_through_newgidmap_as_runc(ids):
    w = idmaps.writer({"uidMappings": M((5, 1001, 1)), "gidMappings": M((5, 1001, 1))})
    assert w.tools == (None, "/usr/bin/newgidmap") and not w.deny_setgroups


def test_missing_helper_is_named_before_anything_runs(ids):
    del ids["newgidmap"]
    with pytest.raises(ConfigError, match=r"linux.gidMappings: an unprivileged user needs newgidmap .* not in \$PATH"):
        idmaps.writer({"uidMappings": M((0, 1001, 1)), "gidMappings": M((0, 1001, 1), (1, 100000, 10))})


def test_which_searches_path(monkeypatch, tmp_path):
    tool = tmp_path / "newuidmap"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setitem(posix.environ, b"PATH", ("/nonexistent:%s" % tmp_path).encode())
    assert idmaps._which("newuidmap") == str(tool)
    monkeypatch.setitem(posix.environ, b"PATH", b"/nonexistent")
    assert idmaps._which("newuidmap") is None


def test_a_failing_helper_says_what_it_said(tmp_path):
    tool = tmp_path / "newuidmap"
    tool.write_text("#!/bin/sh\necho \"newuidmap: uid range [1-2) -> [5-6) not allowed\" >&2\nexit 1\n")
    tool.chmod(0o755)
    with pytest.raises(PyruncError, match=r"^newuidmap 0 1001 1, 1 5 1: newuidmap: uid range \[1-2\) -> \[5-6\) "
                       r"not allowed$"):
        idmaps._run_tool(str(tool), 4242, "0 1001 1\n1 5 1\n")


def test_helper_gets_the_pid_and_the_triples(tmp_path):
    out = tmp_path / "argv"
    tool = tmp_path / "newgidmap"
    tool.write_text("#!/bin/sh\necho \"$@\" > %s\n" % out)
    tool.chmod(0o755)
    idmaps._run_tool(str(tool), 4242, "0 1001 1\n1 100000 65536\n")
    assert out.read_text() == "4242 0 1001 1 1 100000 65536\n"


# ---- cgroups ----

V1 = cghost.CgroupHost("hybrid", [cghost.Hierarchy("/sys/fs/cgroup/memory", "/", 1, ("memory",), "memory"),
                                  cghost.Hierarchy("/sys/fs/cgroup/devices", "/", 1, ("devices",), "devices"),
                                  cghost.Hierarchy("/sys/fs/cgroup/unified", "/", 2, (), "")],
                       {"memory": "/user.slice", "devices": "/user.slice", "": "/"})
PATHS = {"memory": "/sys/fs/cgroup/memory/user.slice/c1", "devices": "/sys/fs/cgroup/devices/user.slice/c1",
         "": "/sys/fs/cgroup/unified/c1"}


def test_unwritable_hierarchies_are_left_out_and_the_mount_binds_our_own(monkeypatch):
    monkeypatch.setattr(cgrootless, "writable", lambda p: "/memory/" in p)
    kept, mount = cgrootless.usable(V1, PATHS)
    assert kept == {"memory": PATHS["memory"]}
    assert mount == {"memory": PATHS["memory"], "devices": "/sys/fs/cgroup/devices/user.slice",
                     "": "/sys/fs/cgroup/unified"}


def test_writable_asks_the_nearest_existing_directory(tmp_path):
    d = tmp_path / "cg"
    d.mkdir()
    assert cgrootless.writable(str(d / "a" / "b"))  # we may mkdir under tmp_path/cg
    (d / "cgroup.procs").write_text("")
    assert cgrootless.writable(str(d))
    d.chmod(0o555)
    try:
        if posix.geteuid() != 0:
            assert not cgrootless.writable(str(d / "a"))
    finally:
        d.chmod(0o755)


def test_a_limit_in_a_left_out_hierarchy_fails_in_runcs_words():
    m = Manager("hybrid", {})
    with pytest.raises(CgroupError, match="^cannot set memory limit: container could not join or create cgroup$"):
        m.apply({"memory": {"limit": 1 << 20}}, rootless=True)
    m.apply({"devices": [{"allow": False, "access": "rwm"}]}, rootless=True)  # best effort, as runc
    m.apply({}, rootless=True)
    with pytest.raises(CgroupError, match="is not mounted"):
        m.apply({"memory": {"limit": 1 << 20}})


def test_v2_without_delegation_refuses_limits_in_runcs_words():
    m = Manager("v2", {})
    m.apply({}, rootless=True)
    with pytest.raises(CgroupError, match="^rootless needs no limits \\+ no cgrouppath when no permission"):
        m.apply({"pids": {"limit": 10}}, rootless=True)


def test_v2_delegated_subtree_is_used(tmp_path, monkeypatch):
    """A delegated v2 cgroup (writable by us) keeps its path, and limits are written there."""
    d = tmp_path / "c1"
    d.mkdir()
    (d / "pids.max").write_text("")
    (d / "cgroup.procs").write_text("")
    h = cghost.CgroupHost("v2", [cghost.Hierarchy(str(tmp_path), "/", 2, (), "")], {"": "/"})
    kept, mount = cgrootless.usable(h, {"": str(d)})
    assert kept == mount == {"": str(d)}
    m = Manager("v2", kept)
    monkeypatch.setattr(Manager, "_apply_device_filter", lambda *a: (_ for _ in ()).throw(OSError(1, "EPERM")))
    m.apply({"pids": {"limit": 10}}, rootless=True)  # the device filter's failure is ignored, as runc
    assert (d / "pids.max").read_text() == "10"


# ---- the plan ----

def rootless_spec(edit=None):
    s = copy.deepcopy(default.spec(rootless=True))
    s["process"]["terminal"] = False
    if edit:
        edit(s)
    return load.check(s)


def plan(s):
    return build.build(s, build.Options("c1", "/bundle", console_socket=False), host(rootless_euid=True))


def test_an_unprivileged_runtime_never_calls_setgroups():
    p = plan(rootless_spec())
    users = [op for op in p.ops if op.kind == O.OP_USER]
    assert [(op.n3, op.n1) for op in users] == [(2, 0), (0, 0), (0, 0)]


@pytest.mark.parametrize("edit,msg", [
    (lambda s: s["linux"].update(namespaces=[{"type": "pid"}, {"type": "mount"}], uidMappings=[], gidMappings=[]),
     "rootless container requires user namespaces"),
    (lambda s: s["process"]["user"].update(additionalGids=[5]),
     "cannot set any additional groups in a rootless container"),
    (lambda s: s["mounts"].append({"destination": "/t", "type": "tmpfs", "source": "t", "options": ["uid=5"]}),
     "mounts[7].options: cannot specify uid= mount options for unmapped uid in rootless containers"),
])
def test_rootless_configs_runc_refuses(edit, msg):
    with pytest.raises(PyruncError) as e:
        plan(rootless_spec(edit))
    assert msg in str(e.value)


def test_a_mapped_uid_option_is_fine():
    plan(rootless_spec(lambda s: s["mounts"].append(
        {"destination": "/t", "type": "tmpfs", "source": "t", "options": ["uid=0", "gid=0"]})))


def test_a_runtime_in_a_user_namespace_binds_device_nodes():
    s = load.check(dict(default.spec(), process=dict(default.spec()["process"], terminal=False)))
    h = host()
    h.in_userns = True
    p = build.build(s, build.Options("c1", "/bundle", console_socket=False), h)
    names = [O.NAMES[op.kind] for op in p.ops]
    assert "bind_dev" in names and "mknod" not in names


def test_exec_from_a_user_namespace_joins_only_the_containers_own_namespaces():
    proc = dict(default.spec()["process"], terminal=False)
    st = {"pid": 42, "rootfs": "/r", "namespaces": {"new": ["ipc", "mount", "uts"], "joins": {}}}
    h = host()
    h.in_userns = True
    p = build.build_exec(proc, st, build.Options("c1", "/bundle", console_socket=False, joining=True), h)
    assert [op.fdref[1] for op in p.ops if op.kind == O.OP_SETNS] == ["/proc/42/ns/ipc", "/proc/42/ns/uts",
                                                                      "/proc/42/ns/mnt"]
    assert p.pidns_path is None


def test_a_v2_container_without_a_cgroup_of_its_own(monkeypatch):
    """rootless on v2 without delegation: no path at all; create, freezer, stats cope."""
    from pyrunc.cgroups import stats

    m = Manager("v2", {})
    assert m.create() == []
    assert m.freezer_file() is None and not m.frozen()
    assert stats.oom_count(m) == 0
    assert stats.stats(m)["pids"] is not None
    with pytest.raises(CgroupError, match="freezer cgroup is not available"):
        m.freeze()
