"""Rootless: whether this runtime is unprivileged (euid != 0) or runs inside a user
namespace that is not the initial one (rootless Podman runs the runtime as "root" of
its own), and what follows from it, as runc 1.1.5 decides it (rootless_linux.go,
main.go): the default --root, the rootless cgroup manager, and who writes the new user
namespace's maps. Imports posix only; the rest is imported where it is needed."""
import posix

from pyrunc import errors

FULL_MAP = ["0", "0", "4294967295"]


def in_userns():
    """runc's userns.RunningInUserNS: the initial user namespace maps all 2^32-1 ids
    from 0; any other map (or several lines) is a user namespace inside another."""
    try:
        fd = posix.open("/proc/self/uid_map", posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return False  # no user namespaces in this kernel
    try:
        text = posix.read(fd, 4096).decode()
    finally:
        posix.close(fd)
    return not initial_map(text)


def initial_map(uid_map):
    """Whether /proc/self/uid_map text is the initial user namespace's."""
    return uid_map.split() == FULL_MAP


def euid():
    """runc's RootlessEUID: the caller is not root of its user namespace."""
    return posix.geteuid() != 0


def parse_bool_or_auto(value):
    """--rootless: None for "auto" (or empty), else Go's strconv.ParseBool."""
    if not value or value.lower() == "auto":
        return None
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise errors.PyruncError('strconv.ParseBool: parsing "%s": invalid syntax' % value)


def cgroups(flag, systemd=False, owner_uid=None):
    """runc's shouldUseRootlessCgroupManager: asked for, or an unprivileged caller, or
    root inside a user namespace, whose cgroups are not known to be writable. With the
    systemd driver, root inside a user namespace is rootless only when the session
    bus's owner is not root (`owner_uid()`: cgroups.userbus.detect_uid; a systemd
    inside a container runs as that namespace's root); an error there counts as root,
    as runc."""
    b = parse_bool_or_auto(flag)
    if b is not None:
        return b
    if euid():
        return True
    if not in_userns():
        return False
    if not systemd:
        return True
    try:
        uid = owner_uid()
    except Exception as e:  # no session bus, no busctl
        from pyrunc import log

        log.debugf("failed to get the OwnerUID value, assuming the value to be 0: %s" % e)
        uid = 0
    return uid != 0


def _honor_xdg():
    """runc's shouldHonorXDGRuntimeDir."""
    if not posix.environ.get(b"XDG_RUNTIME_DIR"):
        return False
    if euid():
        return True
    if not in_userns():
        return False  # the real root keeps /run/runc whatever its XDG_RUNTIME_DIR says
    user = posix.environ.get(b"USER")
    return user is None or user != b"root"


def default_root():
    """(root, from_xdg): `$XDG_RUNTIME_DIR/pyrunc` where runc uses `$XDG_RUNTIME_DIR/runc`."""
    if _honor_xdg():
        return posix.environ[b"XDG_RUNTIME_DIR"].decode().rstrip("/") + "/pyrunc", True
    return "/run/pyrunc", False


def make_xdg_root(root):
    """As runc: the default root under XDG_RUNTIME_DIR is made (0700) and gets the sticky
    bit, which the XDG spec asks of files that must not be pruned by age."""
    from pyrunc.state import store

    try:
        store.ensure_root(root)
    except OSError as e:
        raise errors.PyruncError("the path in $XDG_RUNTIME_DIR must be writable by the user: %s"
                                 % errors.from_oserror("mkdir " + root, e)) from None
    try:
        posix.chmod(root, 0o1700)
    except OSError as e:
        raise errors.PyruncError("you should check permission of the path in $XDG_RUNTIME_DIR: %s"
                                 % errors.from_oserror("chmod " + root, e)) from None
