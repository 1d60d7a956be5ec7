"""Idmapped mounts in the plan: runc 1.2's rules (which mounts are idmapped, with which
maps or namespace, recursive or not) and the op the init runs for them."""
import pytest

from pyrunc.errors import ConfigError
from pyrunc.plan import ops as O

from test_plan import plan_for, spec
from test_plan_userns import MAP, userns_spec

OWN = [{"containerID": 2000, "hostID": 0, "size": 1}]
OWN_TEXT = "2000 0 1\n"


def with_mount(m, user=None):
    def edit(s):
        s["mounts"].append(m)
    if user is None:
        s = spec()
        edit(s)
        return s
    return userns_spec(edit=edit, **user)


def mount_ops(s):
    return [op for op in plan_for(s).ops if op.s2 == "/data"]


def bind(options=("rbind",), uids=None, gids="same", **extra):
    m = {"destination": "/data", "type": "bind", "source": "/srv", "options": list(options), **extra}
    if uids is not None:
        m["uidMappings"] = uids
    if gids is not None:
        m["gidMappings"] = uids if gids == "same" else gids
    return m


@pytest.mark.parametrize("options, rec_tree, rec_attr", [
    (["rbind"], True, False), (["bind"], False, False), (["rbind", "idmap"], True, False),
    (["rbind", "ridmap"], True, True), (["bind", "ridmap"], False, True),
    (["rbind", "ridmap", "idmap"], True, False),  # the last one wins, as runc's option table
])
def test_mappings_make_a_tree_op(options, rec_tree, rec_attr):
    (op,) = mount_ops(with_mount(bind(options, uids=OWN)))
    assert op.kind == O.OP_MOUNT_TREE and op.s1 == "/srv"
    assert op.fdref == ("idmap", len(spec()["mounts"]), rec_tree, rec_attr, OWN_TEXT, OWN_TEXT, None)


def test_flags_propagation_and_attrs_are_kept():
    (op,) = mount_ops(with_mount(bind(["rbind", "ro", "nosuid", "rprivate", "rnoexec"], uids=OWN)))
    assert op.u1 & 0x1 and op.u1 & 0x2 and op.u2 and op.u3 == 0x8 and op.n2 & O.MNT_F_RECURSIVE_ATTR


def test_two_mounts_of_one_source_get_their_own_trees():
    def edit(s):
        s["mounts"] += [bind(uids=OWN), dict(bind(uids=OWN), destination="/data2")]
    s = spec()
    edit(s)
    refs = [op.fdref for op in plan_for(s).ops if op.kind == O.OP_MOUNT_TREE]
    assert len(refs) == 2 and refs[0] != refs[1]


def test_a_mount_without_mappings_or_options_is_a_plain_mount():
    (op,) = mount_ops(with_mount(bind(uids=None, gids=None)))
    assert op.kind == O.OP_MOUNT and op.fdref is None


def test_idmap_option_takes_a_new_user_namespaces_mappings():
    gids = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    (op,) = mount_ops(with_mount(bind(["rbind", "idmap"], uids=None, gids=None), {"uids": MAP, "gids": gids}))
    assert op.fdref[4:] == ("0 100000 65536\n", "0 200000 65536\n", None)


def test_idmap_option_takes_a_joined_user_namespace_itself():
    (op,) = mount_ops(with_mount(bind(["rbind", "ridmap"], uids=None, gids=None), {"path": "/proc/1/ns/user"}))
    assert op.fdref == ("idmap", 7, True, True, None, None, "/proc/1/ns/user")


def test_explicit_mappings_win_over_the_containers():
    (op,) = mount_ops(with_mount(bind(["rbind", "idmap"], uids=OWN), {}))
    assert op.fdref[4:6] == (OWN_TEXT, OWN_TEXT)


@pytest.mark.parametrize("mount, user, path, words", [
    ({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "uidMappings": OWN, "gidMappings": OWN}, None,
     "mounts[7]", "only supported for bind-mounts"),
    ({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["ridmap"]}, {},
     "mounts[7]", "only supported for bind-mounts"),
    (bind(uids=OWN, gids=None), None, "mounts[7]", "both uid and gid mappings"),
    (bind(uids=None, gids=OWN), {}, "mounts[7]", "both uid and gid mappings"),
    (bind(uids=[], gids=OWN), None, "mounts[7]", "both uid and gid mappings"),
    (bind(["rbind", "idmap"], uids=None, gids=None), None, "mounts[7]", "both uid and gid mappings"),
    (bind(uids=OWN + [{"containerID": 2000, "hostID": 5, "size": 1}], gids=OWN), None,
     "mounts[7].uidMappings[1]", "overlap"),
    (bind(uids=OWN, gids=[{"containerID": 0, "hostID": 0, "size": 0}]), None, "mounts[7].gidMappings[0].size",
     "at least 1"),
])
def test_refused_as_runc(mount, user, path, words):
    with pytest.raises(ConfigError) as e:
        plan_for(with_mount(mount, user))
    assert e.value.path == path and words in str(e.value)


def test_features_list_the_options_with_the_extension():
    from pyrunc import features

    doc = features.document()
    enabled = doc["linux"]["mountExtensions"]["idmap"]["enabled"]
    assert enabled is features.idmap_supported()
    assert ({"idmap", "ridmap"} <= set(doc["mountOptions"])) is enabled


# ---- plain binds in a container with a user namespace: cloned on the host ----

def test_a_bind_in_a_user_namespace_is_a_tree_made_on_the_host():
    """The source may be out of the mapped root's reach (runc 1.1 opens it on the host):
    the runtime clones it (no idmap) and the init attaches it, repeating the source's
    flags as the kernel would lock them (n3)."""
    for options, rec in ((["rbind", "ro"], True), (["bind"], False)):
        (op,) = mount_ops(with_mount(bind(options, gids=None), user={}))
        assert op.kind == O.OP_MOUNT_TREE and op.s1 == "/srv" and op.n3 == 1
        assert op.fdref == ("bind", len(spec()["mounts"]), rec) and op.n1 == O.MNT_TARGET_SOURCE


def test_a_bind_in_a_joined_user_namespace_is_a_tree_too():
    (op,) = mount_ops(with_mount(bind(gids=None), user={"path": "/proc/1/ns/user"}))
    assert op.kind == O.OP_MOUNT_TREE and op.fdref[0] == "bind"


def test_binds_without_a_user_namespace_and_idmapped_ones_are_not_plain_trees():
    (op,) = mount_ops(with_mount(bind(gids=None)))
    assert op.kind == O.OP_MOUNT and op.fdref is None
    (op,) = mount_ops(with_mount(bind(uids=OWN), user={}))
    assert op.fdref[0] == "idmap" and op.n3 == 0
    # not a bind: mounted by the init as before
    tmpfs = {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}
    (op,) = mount_ops(with_mount(tmpfs, user={}))
    assert op.kind == O.OP_MOUNT


def test_an_unprivileged_runtime_binds_as_before():
    """runc 1.1 opens no mount sources when rootless; nor does pyrunc."""
    from pyrunc.plan import build
    from test_plan import host
    s = with_mount(bind(gids=None), user={})
    p = build.build(s, build.Options("c1", "/bundle", console_socket=False), host(rootless_euid=True))
    (op,) = [op for op in p.ops if op.s2 == "/data"]
    assert op.kind == O.OP_MOUNT
