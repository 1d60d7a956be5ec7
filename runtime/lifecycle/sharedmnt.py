"""A container without a mount namespace of its own mounts in the runtime's: its rootfs
bind and every mount under it stay on the host after the init exits (runc leaves them).
pyrunc notes which mount the rootfs path showed before create and, on delete or a failed
create, detaches whatever was mounted over it since: ours, never the host's."""
import posix

from pyrunc import errors

MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8
EINVAL = 22


def mount_id(path):
    """The id of the mount `path` is on (the top one at a mount point), or None."""
    try:
        fd = posix.open(path, posix.O_PATH | posix.O_CLOEXEC)
    except OSError:
        return None
    try:
        with open("/proc/self/fdinfo/%d" % fd) as f:
            for line in f:
                if line.startswith("mnt_id:"):
                    return int(line.split()[1])
    finally:
        posix.close(fd)
    return None


def release(rootfs, below):
    """Detach the mounts stacked on `rootfs` since it showed mount `below`."""
    if below is None:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for _ in range(64):          # the bind, and what the container stacked on its own "/"
        if mount_id(rootfs) in (below, None):
            return
        if libc.umount2(rootfs.encode("utf-8", "surrogateescape"), MNT_DETACH | UMOUNT_NOFOLLOW) != 0:
            err = ctypes.get_errno()
            if err == EINVAL:
                return
            raise errors.SyscallError('unmount the container\'s mounts at "%s"' % rootfs, err)
