"""Which Linux security module this host runs, probed the way runc does: the plan
(pyrunc.plan.labels) and `features` ask here, and nothing else touches the host."""
import posix


def _read(path, size=65536):
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return None
    try:
        return posix.read(fd, size)
    except OSError:
        return None
    finally:
        posix.close(fd)


def apparmor_enabled():
    """runc's test: securityfs shows AppArmor and the module says it is enabled (Y)."""
    if not posix.access("/sys/kernel/security/apparmor", posix.F_OK):
        return False
    return (_read("/sys/module/apparmor/parameters/enabled") or b"").startswith(b"Y")


def _selinuxfs_mounted():
    """A writable selinuxfs is mounted: go-selinux looks at /sys/fs/selinux first, then
    (when the kernel registered selinuxfs at all, which it does only with SELinux on)
    at every mount. A read-only one is how engines hide SELinux from a container."""
    try:
        return not posix.statvfs("/sys/fs/selinux/enforce").f_flag & posix.ST_RDONLY
    except OSError:
        pass
    if b"\tselinuxfs\n" not in (_read("/proc/filesystems") or b""):
        return False
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            data = f.read()
    except OSError:
        return False
    for line in data.splitlines():
        left, _, right = line.partition(b" - ")
        if right.split(b" ", 1)[0] == b"selinuxfs":
            fields = left.split(b" ")
            if len(fields) > 5 and b"rw" in fields[5].split(b","):
                return True
    return False


def selinux_enabled():
    """go-selinux's GetEnabled: selinuxfs mounted and this process not labelled "kernel"
    (the label of everything before a policy is loaded)."""
    if not _selinuxfs_mounted():
        return False
    current = _read("/proc/thread-self/attr/current")
    return current is not None and current.rstrip(b"\0\n") != b"kernel"
