"""Idmapped bind mounts: mounts[].uidMappings/gidMappings and the "idmap" / "ridmap"
options, with runc 1.2's rules (specconv + validate.checkIDMapMounts). Pure: no syscalls.

A mount is idmapped when it has either mappings key (even an empty list, as runc's
non-nil slices) or either option. Without mappings of its own, "idmap"/"ridmap" take the
container's user namespace: its linux.uidMappings/gidMappings for a new one, the
namespace itself for one joined by path. "ridmap" idmaps every mount of the tree (the
submounts an rbind brings along), "idmap" and bare mappings only the top one.

Each mapping entry reads as in a user namespace's map: files owned by containerID on the
source filesystem are seen as hostID (a host id, which the container's own user
namespace, if any, shows through its map), and what is created as hostID is stored as
containerID.

The tree is made by the runtime before the init is cloned, so the source resolves in the
runtime's mount namespace; runc 1.2 opens it from the container's mount namespace while
the init sets its mounts up (the same paths, except under an earlier mount of the config).
"""
from pyrunc.errors import ConfigError
from pyrunc.plan.mounts import MS_REC
from pyrunc.plan import userns

FDREF = "idmap"


def for_mount(i, m, opts, linux, new, joins, tree_recursive):
    """The fdref of mount #i's idmapped tree, None for a mount that is not idmapped.
    The tuple carries what the runtime needs to make the tree (shim.py):
    ("idmap", index, recursive tree, recursive idmap, uid_map text, gid_map text, userns path)."""
    uids = m.get("uidMappings")
    gids = m.get("gidMappings")
    if opts.idmap is None and uids is None and gids is None:
        return None
    where = "mounts[%d]" % i
    if not opts.bind:
        raise ConfigError(where, "id-mapped mounts are only supported for bind-mounts")
    path = None
    if uids is None and gids is None and "user" in new:
        uids = linux.get("uidMappings")
        gids = linux.get("gidMappings")
    elif uids is None and gids is None and "user" in joins:
        path = joins["user"]
    if path is None:
        if not uids or not gids:
            raise ConfigError(where, "id-mapped mounts must have both uid and gid mappings specified")
        uid_text = userns._map_text(uids, where + ".uidMappings")
        gid_text = userns._map_text(gids, where + ".gidMappings")
    else:
        uid_text = gid_text = None
    return (FDREF, i, bool(tree_recursive), opts.idmap == "ridmap", uid_text, gid_text, path)


BIND_FDREF = "bind"


def for_userns_bind(i, opts, new, joins, rootless_euid):
    """The fdref of a plain bind's tree in a container with a user namespace (new or
    joined), None otherwise: the runtime clones the source on the host (as host root) and
    the init attaches the clone, so a source the container's mapped root cannot reach (a
    0700 dir of root's, as containerd's sandbox dirs) is mounted all the same -- runc 1.1
    opens such sources on the host too (its mount fds), and also not when rootless.
    ("bind", index, recursive tree)."""
    if not opts.bind or rootless_euid or opts.idmap is not None:
        return None
    if "user" not in new and "user" not in joins:
        return None
    return (BIND_FDREF, i, bool(opts.flags & MS_REC))
