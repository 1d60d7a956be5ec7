"""The rootless cgroup manager's rule (runc 1.1.5, cgroups/fs and fs2 with Rootless and
no cgroupsPath): a hierarchy the runtime may not write (EPERM, EACCES, EROFS: the
usual v1 host, or v2 without a delegated subtree) is left out, and the container stays
in the caller's cgroup there; asking for a limit in one fails (Manager.apply). A
delegated subtree (v2, or a v1 hierarchy chowned to the user) is used as root uses it."""
import posix

from pyrunc.errors import CgroupError


def writable(path):
    """Whether we could make `path` (its nearest existing ancestor is writable by our
    effective ids) or join it (its cgroup.procs is)."""
    d = path
    while d:
        try:
            posix.stat(d)
        except FileNotFoundError:
            d = d.rpartition("/")[0]
            continue
        except OSError:
            return False
        target = path + "/cgroup.procs" if d == path else d
        return posix.access(target, posix.W_OK, effective_ids=True)
    return False


def usable(host, paths):
    """(the paths the container gets, the paths its `cgroup` mount binds): a hierarchy we
    cannot write is dropped from the first and is the caller's own cgroup in the second,
    which is the cgroup the init then stays in."""
    kept = {}
    mount = {}
    for h in host.hierarchies:
        if h.key not in paths:
            continue
        if writable(paths[h.key]):
            kept[h.key] = mount[h.key] = paths[h.key]
            continue
        own = host.own.get(h.key, "/")
        if h.root != "/" and own.startswith(h.root):
            own = own[len(h.root):] or "/"
        mount[h.key] = h.mountpoint + ("" if own == "/" else own)
    return kept, mount


def refuse_limit(controller, unified):
    """A limit in a hierarchy the rootless container could not get, in runc's words."""
    if unified:
        return CgroupError("rootless needs no limits + no cgrouppath when no permission is granted for cgroups")
    return CgroupError("cannot set %s limit: container could not join or create cgroup" % controller)
