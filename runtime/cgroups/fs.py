"""Create, join and remove a container's cgroup directories (cgroupfs driver), and
the Write that resources.py and devices.py plan and the manager performs.

Only directories this container created are ever removed, deepest first; a parent
that existed before is left alone."""
import posix

from pyrunc.errors import CgroupError, strerror


class Write:
    """One write: `value` into `file` of the controller's directory. `optional`: a
    missing file (ENOENT) is skipped instead of failing."""

    __slots__ = ("controller", "file", "value", "optional")

    def __init__(self, controller, file, value, optional=False):
        self.controller = controller
        self.file = file
        self.value = value
        self.optional = optional

    def key(self):
        return (self.controller, self.file, self.value, self.optional)

    def __eq__(self, other):
        return isinstance(other, Write) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        opt = ", optional=True" if self.optional else ""
        return "Write(%r, %r, %r%s)" % (self.controller, self.file, self.value, opt)


def read(path):
    fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        return posix.read(fd, 1 << 16).decode().strip()
    finally:
        posix.close(fd)


def write(path, value):
    try:
        fd = posix.open(path, posix.O_WRONLY | posix.O_CLOEXEC)
        try:
            posix.write(fd, value.encode() if isinstance(value, str) else value)
        finally:
            posix.close(fd)
    except OSError as e:
        d, _, f = path.rpartition("/")
        err = CgroupError('write "%s"="%s" in "%s": %s' % (f, value, d, strerror(e.errno)))
        err.errno = e.errno
        raise err from None


def _copy_cpuset(parent, child):
    """A new v1 cpuset cgroup starts with empty cpus and mems, and no task can join it
    until they are set: copy them from the parent, as runc does."""
    for f in ("cpuset.cpus", "cpuset.mems"):
        try:
            if read(child + "/" + f):
                continue
            write(child + "/" + f, read(parent + "/" + f))
        except OSError:
            pass


def missing(paths):
    """The directories create() would make now (for the record written before it)."""
    out = []
    for path in paths.values():
        gone = []
        d = path
        while d and d not in out:
            try:
                posix.stat(d)
                break
            except FileNotFoundError:
                gone.append(d)
            d = d.rpartition("/")[0]
        out.extend(reversed(gone))
    return out


def _mkdir_p(d, made):
    # leaf first: the common case is one mkdir, not one per path component
    try:
        posix.mkdir(d, 0o755)
    except FileExistsError:
        return
    except FileNotFoundError:
        parent = d.rpartition("/")[0]
        if not parent:
            raise
        _mkdir_p(parent, made)
        try:
            posix.mkdir(d, 0o755)
        except FileExistsError:
            return
    made.append(d)


def create(paths):
    """mkdir -p every path; returns the directories made here, in creation order."""
    made = []
    try:
        for key, path in paths.items():
            if "cpuset" not in key.split(","):
                _mkdir_p(path, made)
                continue
            parts = path.split("/")
            # the mountpoint exists; walk down from it
            for i in range(2, len(parts) + 1):
                d = "/".join(parts[:i])
                if not d:
                    continue
                try:
                    posix.mkdir(d, 0o755)
                    made.append(d)
                except FileExistsError:
                    pass
                # an existing ancestor may be as empty as a new one (runc fills both)
                _copy_cpuset(d.rpartition("/")[0], d)
    except OSError as e:
        remove(made)
        raise CgroupError('create cgroup "%s": %s' % (e.filename or "", strerror(e.errno))) from None
    return made


def join(paths, pid):
    for path in paths.values():
        write(path + "/cgroup.procs", str(pid))


def pids(path):
    try:
        text = read(path + "/cgroup.procs")
    except OSError:
        return []
    return [int(x) for x in text.split()]


def subdirs(path):
    """The sub-cgroups of `path` (made by the workload, or for `exec --cgroup`)."""
    try:
        entries = posix.scandir(path)
    except OSError:
        return []
    with entries:
        return [path + "/" + e.name for e in entries if e.is_dir(follow_symlinks=False)]


def tree_pids(path):
    """The processes of `path` and of every sub-cgroup below it (runc's GetAllPids)."""
    out = pids(path)
    for d in subdirs(path):
        out.extend(tree_pids(d))
    return out


def _rmdir_tree(d):
    """rmdir `d` after its sub-cgroups, deepest first, as runc's RemovePath: a cgroup
    with children cannot be removed."""
    try:
        posix.rmdir(d)
        return
    except FileNotFoundError:
        return
    except OSError as e:
        if e.errno not in (16, 39):   # cgroupfs says EBUSY (children or tasks), others ENOTEMPTY
            raise
    for sub in subdirs(d):
        _rmdir_tree(sub)
    posix.rmdir(d)


def prune(dirs):
    """rmdir each of `dirs` that is empty now, deepest first; one that still has a
    cgroup below it (EBUSY; another container's) or is gone already stays as it is."""
    for d in sorted(dirs, key=lambda p: p.count("/"), reverse=True):
        try:
            posix.rmdir(d)
        except OSError as e:
            if e.errno not in (2, 16, 39):   # ENOENT, EBUSY, ENOTEMPTY
                raise CgroupError('remove cgroup "%s": %s' % (d, strerror(e.errno))) from None


def exists(path):
    try:
        posix.stat(path)
        return True
    except OSError:
        return False


def remove(made, leaves=()):
    """rmdir what we made, deepest first. The `leaves` (the container's own cgroups) go
    with every sub-cgroup below them, retried briefly while their tasks exit; a parent
    we made is removed only when nothing else is in it (another container's cgroup
    below it keeps it, as runc never removes a parent)."""
    import time

    failed = []
    leaves = set(leaves)
    # without leaves (a failed create's cleanup) everything made is retried alike
    parents = [d for d in made if d not in leaves] if leaves else []
    for d in sorted(made, key=lambda p: p.count("/"), reverse=True):
        if d in parents:
            continue
        for attempt in range(50):
            try:
                if d in leaves:
                    _rmdir_tree(d)
                else:
                    posix.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if e.errno != 16 or attempt == 49:  # EBUSY: tasks are still exiting
                    failed.append((d, e.errno))
                    break
                time.sleep(0.01)
    if failed:
        d, err = failed[0]
        raise CgroupError('remove cgroup "%s": %s' % (d, strerror(err)))
    prune(parents)
