"""User namespaces in the plan: runc's checks of the id mappings, the kernel's map rules,
and what changes in the ops (two-stage spawn, joins first, device binds, exec order)."""
import copy

import pytest

from pyrunc.errors import ConfigError, PyruncError
from pyrunc.plan import build, userns
from pyrunc.plan import ops as O
from pyrunc.spec import default, load

from test_plan import host, kinds, plan_for

MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def userns_spec(uids=MAP, gids=MAP, path=None, edit=None):
    s = copy.deepcopy(default.spec())
    s["process"]["terminal"] = False
    ns = {"type": "user"}
    if path:
        ns["path"] = path
    s["linux"]["namespaces"].append(ns)
    if uids is not None:
        s["linux"]["uidMappings"] = copy.deepcopy(uids)
    if gids is not None:
        s["linux"]["gidMappings"] = copy.deepcopy(gids)
    if edit:
        edit(s)
    return load.check(s)


def test_new_user_namespace_is_cloned_in_two_stages():
    p = plan_for(userns_spec())
    assert p.clone_flags & O.CLONE_NEWUSER
    assert [O.NAMES[op.kind] for op in p.pre_ops] == ["rlimit"]  # runc's default RLIMIT_NOFILE
    assert p.id_maps == ("0 100000 65536\n", "0 100000 65536\n")
    # released after the maps: first the namespace's root, then the usual ops
    assert [(O.NAMES[op.kind], op.n3, op.u1) for op in p.ops[:3]] == [
        ("user", 2, 0), ("unshare", 0, O.CLONE_NEWIPC), ("user", 1, 0)]
    assert not p.clone_flags & O.CLONE_NEWIPC  # made by the namespace's root, as runc


def test_several_ranges_are_written_in_order():
    uids = [{"containerID": 0, "hostID": 100000, "size": 1000}, {"containerID": 1000, "hostID": 300000, "size": 10},
            {"containerID": 5000, "hostID": 200000, "size": 1}]
    p = plan_for(userns_spec(uids=uids))
    assert p.id_maps[0] == "0 100000 1000\n1000 300000 10\n5000 200000 1\n"


def test_without_user_namespace_nothing_changes():
    p = plan_for(load.check(default.spec() | {"process": dict(default.spec()["process"], terminal=False)}))
    assert p.pre_ops is None and p.id_maps is None
    assert not p.clone_flags & O.CLONE_NEWUSER
    assert "mknod" in kinds(p) and "bind_dev" not in kinds(p)


def test_devices_are_bind_mounted_in_a_user_namespace():
    def edit(s):
        s["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
    p = plan_for(userns_spec(edit=edit))
    assert "mknod" not in kinds(p)
    binds = [(op.s1, op.s2) for op in p.ops if op.kind == O.OP_BIND_DEV]
    assert ("/dev/null", "/dev/null") in binds and ("/dev/fuse", "/dev/fuse") in binds
    assert len(binds) == 7


def test_oom_score_and_rlimits_are_set_before_the_user_namespace():
    def edit(s):
        s["process"]["oomScoreAdj"] = -100
    p = plan_for(userns_spec(edit=edit))
    assert [O.NAMES[op.kind] for op in p.pre_ops] == ["oom_score_adj", "rlimit"]
    assert "oom_score_adj" not in kinds(p) and "rlimit" not in kinds(p)


def test_joins_go_first_user_namespace_first():
    def edit(s):
        s["linux"]["namespaces"] = [{"type": "pid"}, {"type": "network", "path": "/run/netns/x"},
                                    {"type": "mount"}, {"type": "user", "path": "/proc/9/ns/user"},
                                    {"type": "ipc", "path": "/proc/9/ns/ipc"}, {"type": "uts"}]
    p = plan_for(userns_spec(edit=edit))
    assert [(O.NAMES[op.kind], op.n1) for op in p.pre_ops] == [
        ("rlimit", 7), ("setns", O.CLONE_NEWUSER), ("setns", O.CLONE_NEWIPC), ("setns", O.CLONE_NEWNET)]
    assert "setns" not in kinds(p)
    assert p.id_maps is None  # a joined namespace has its maps
    assert not p.clone_flags & O.CLONE_NEWUSER and p.clone_flags & O.CLONE_NEWPID


def test_joined_pid_namespace_is_a_pre_op_with_a_user_namespace():
    def edit(s):
        s["linux"]["namespaces"][0] = {"type": "pid", "path": "/proc/9/ns/pid"}
    p = plan_for(userns_spec(edit=edit))
    assert p.pidns_path is None
    assert [op.n1 for op in p.pre_ops if op.kind == O.OP_SETNS] == [O.CLONE_NEWPID]


@pytest.mark.parametrize("uids,gids,message", [
    (None, MAP, "User namespaces enabled, but no uid mappings found."),
    (MAP, None, "User namespaces enabled, but no gid mappings found."),
    ([{"containerID": 1, "hostID": 100000, "size": 10}], MAP, "User namespaces enabled, but no user mapping found."),
    (MAP, [{"containerID": 1, "hostID": 100000, "size": 10}], "User namespaces enabled, but no group mapping found."),
])
def test_runcs_mapping_errors(uids, gids, message):
    with pytest.raises(PyruncError) as e:
        plan_for(userns_spec(uids, gids))
    assert str(e.value) == message


def test_joined_namespace_still_needs_runcs_mappings():
    with pytest.raises(PyruncError, match="no uid mappings found"):
        plan_for(userns_spec(None, None, path="/proc/9/ns/user"))


def test_mappings_without_user_namespace_are_not_read():
    s = copy.deepcopy(default.spec())
    s["process"]["terminal"] = False
    s["linux"]["uidMappings"] = MAP
    p = plan_for(load.check(s))
    assert p.id_maps is None and not p.clone_flags & O.CLONE_NEWUSER


@pytest.mark.parametrize("uids,path,words", [
    ([{"containerID": 0, "hostID": 100000, "size": 10}, {"containerID": 5, "hostID": 200000, "size": 10}],
     "linux.uidMappings[1]", "container ids 5-14 overlap linux.uidMappings[0] (0-9)"),
    ([{"containerID": 0, "hostID": 100000, "size": 10}, {"containerID": 50, "hostID": 100009, "size": 1}],
     "linux.uidMappings[1]", "host ids 100009-100009 overlap"),
    (MAP + [{"containerID": 70000, "hostID": 0, "size": 0}], "linux.uidMappings[1].size", "at least 1"),
    ([{"containerID": 0, "hostID": 4294967290, "size": 6}], "linux.uidMappings[0]", "past the last id"),
    ([{"containerID": 4294967295, "hostID": 1, "size": 1}, {"containerID": 0, "hostID": 0, "size": 1}],
     "linux.uidMappings[0]", "containerID 4294967295"),
    ([{"containerID": i, "hostID": 100000 + i, "size": 1} for i in range(341)], "linux.uidMappings", "at most 340"),
])
def test_kernel_map_rules_name_the_range(uids, path, words):
    with pytest.raises(ConfigError) as e:
        plan_for(userns_spec(uids=uids))
    assert e.value.path == path
    assert words in str(e.value)


def test_340_ranges_and_the_last_id_are_accepted():
    uids = [{"containerID": i, "hostID": 100000 + i, "size": 1} for i in range(340)]
    assert userns._map_text(uids, "u").count("\n") == 340
    assert userns._map_text([{"containerID": 0, "hostID": 4294967290, "size": 5}], "u") == "0 4294967290 5\n"


def _exec_plan(namespaces):
    proc = dict(default.spec()["process"], terminal=False, oomScoreAdj=5)
    st = {"pid": 42, "rootfs": "/r", "namespaces": namespaces}
    return build.build_exec(proc, st, build.Options("c1", "/bundle", console_socket=False, joining=True), host())


def test_exec_joins_the_user_namespace_first_and_only_the_containers_own():
    p = _exec_plan({"new": ["ipc", "mount", "network", "pid", "user", "uts"], "joins": {}})
    # the first stage: what needs the runtime's user namespace, then the container's user
    # namespace and the pid namespace it owns; the process is cloned there
    head = [(O.NAMES[op.kind], op.fdref) for op in p.pre_ops]
    assert head == [("oom_score_adj", None), ("rlimit", None), ("setns", ("path", "/proc/42/ns/user")),
                    ("setns", ("path", "/proc/42/ns/pid"))]
    assert p.pidns_path is None and p.clone_flags == 0
    joined = [op.fdref[1].rpartition("/")[2] for op in p.ops if op.kind == O.OP_SETNS]
    assert joined == ["ipc", "uts", "net", "mnt"]  # not the runtime's cgroup namespace
    assert "rlimit" not in kinds(p) and "oom_score_adj" not in kinds(p)


def test_exec_in_a_user_namespace_sharing_the_hosts_pid_namespace_joins_no_pid_namespace():
    p = _exec_plan({"new": ["mount", "user"], "joins": {}})
    assert [op.fdref[1] for op in p.pre_ops if op.kind == O.OP_SETNS] == ["/proc/42/ns/user"]


def test_exec_without_user_namespace_is_unchanged():
    p = _exec_plan({"new": ["ipc", "mount", "network", "pid", "uts"], "joins": {}})
    assert p.pre_ops is None and p.pidns_path == "/proc/42/ns/pid"
    joined = [op.fdref[1].rpartition("/")[2] for op in p.ops if op.kind == O.OP_SETNS]
    assert joined == ["ipc", "uts", "net", "cgroup", "time", "mnt"]
    assert kinds(p)[:len(joined)] == ["setns"] * len(joined)


def test_features_report_user_namespaces():
    from pyrunc import features

    assert "user" in features.document()["linux"]["namespaces"]


def test_idmapped_mount_is_attached_from_a_tree_not_ignored():
    def edit(s):
        s["mounts"].append({"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind"],
                            "uidMappings": MAP, "gidMappings": MAP})
    op = [op for op in plan_for(userns_spec(edit=edit)).ops if op.s2 == "/data"]
    assert [O.NAMES[o.kind] for o in op] == ["mount_tree"]
    assert op[0].fdref == ("idmap", 7, True, False, "0 100000 65536\n", "0 100000 65536\n", None)


def test_time_namespace_offsets_written_before_becoming_the_namespaces_root():
    def edit(s):
        s["linux"]["namespaces"].append({"type": "time"})
        s["linux"]["timeOffsets"] = {"boottime": {"secs": 5}}
    p = plan_for(userns_spec(edit=edit))
    assert [O.NAMES[op.kind] for op in p.ops[:3]] == ["unshare", "write_file", "user"]
