"""User namespace id mappings: runc's checks, the kernel's rules, and the text the
runtime writes to /proc/PID/uid_map and gid_map. Pure: no syscalls."""
from pyrunc.errors import ConfigError, PyruncError

# since Linux 4.15 a map holds up to 340 lines (UID_GID_MAP_MAX_EXTENTS)
MAX_EXTENTS = 340
U32_MAX = 0xFFFFFFFF


def check(linux, user_new, user_path):
    """runc's rules for linux.uidMappings/gidMappings; returns (uid_map, gid_map) text to
    write for a new user namespace, None for a joined one (it has its maps already)."""
    uids = linux.get("uidMappings") or []
    gids = linux.get("gidMappings") or []
    if not user_new and not user_path:
        return None  # mappings without a user namespace are not read, as by runc
    # runc (configs.HostRootUID/GID) wants both maps and the container's root in them,
    # for a joined namespace too, where it writes nothing
    if not uids:
        raise PyruncError("User namespaces enabled, but no uid mappings found.")
    if not gids:
        raise PyruncError("User namespaces enabled, but no gid mappings found.")
    if not _maps_id(uids, 0):
        raise PyruncError("User namespaces enabled, but no user mapping found.")
    if not _maps_id(gids, 0):
        raise PyruncError("User namespaces enabled, but no group mapping found.")
    if user_path:
        return None
    return _map_text(uids, "linux.uidMappings"), _map_text(gids, "linux.gidMappings")


def _maps_id(ranges, cid):
    return any(r["containerID"] <= cid < r["containerID"] + r["size"] for r in ranges)


def _map_text(ranges, where):
    """The kernel's rules (kernel/user_namespace.c map_write), checked here so that a bad
    map is named before anything runs instead of an EINVAL from the write."""
    if len(ranges) > MAX_EXTENTS:
        raise ConfigError(where, "%d ranges, the kernel takes at most %d" % (len(ranges), MAX_EXTENTS))
    for i, r in enumerate(ranges):
        path = "%s[%d]" % (where, i)
        if r["size"] < 1:
            raise ConfigError(path + ".size", "must be at least 1")
        for key in ("containerID", "hostID"):
            # the range may not wrap past 2^32-1, which is never a valid id
            if r[key] + r["size"] > U32_MAX:
                raise ConfigError(path, "%s %d + size %d is past the last id %d"
                                  % (key, r[key], r["size"], U32_MAX - 1))
        for j in range(i):
            o = ranges[j]
            for key, name in (("containerID", "container"), ("hostID", "host")):
                if r[key] < o[key] + o["size"] and o[key] < r[key] + r["size"]:
                    raise ConfigError(path, "%s ids %d-%d overlap %s[%d] (%d-%d)"
                                      % (name, r[key], r[key] + r["size"] - 1, where, j, o[key],
                                         o[key] + o["size"] - 1))
    return "".join("%d %d %d\n" % (r["containerID"], r["hostID"], r["size"]) for r in ranges)
