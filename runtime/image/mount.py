"""overlayfs mount and unmount of a bundle's rootfs.

The lowers are named relative to the store's layers/ dir (the mount runs with that as
the working directory of a thread of its own), which keeps the mount data under the kernel's one-page limit
for deep images. redirect_dir, metacopy and index are off, so that the upper dir holds
whole files and whiteouts only: what `image commit` can turn into a tar layer.
"""
import posix

from pyrunc import errors

MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8
EINVAL = 22
EBUSY = 16
PAGE = 4096
CLONE_FS = 0x200
OPTIONS = "redirect_dir=off,index=off,metacopy=off"

_libc = None


def _lib():
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                                ctypes.c_char_p)
        _libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
        _libc.unshare.argtypes = (ctypes.c_int,)
    return _libc


def _errno():
    import ctypes

    return ctypes.get_errno()


def mount_data(lowers_rel, upper, work):
    for p in (upper, work):
        if any(c in p for c in ",:\\"):
            raise errors.PyruncError('"%s": overlayfs paths may not hold ",", ":" or "\\"' % p)
    data = "lowerdir=%s,upperdir=%s,workdir=%s,%s" % (":".join(lowers_rel), upper, work, OPTIONS)
    if len(data.encode()) >= PAGE:
        raise errors.PyruncError("the image has too many layers (%d) for one overlay mount" % len(lowers_rel))
    return data


def mount_overlay(base, lowers_rel, upper, work, target):
    """Mount overlay on `target`: lowers (top first) relative to the dir `base`."""
    import threading

    data = mount_data(lowers_rel, upper, work)
    lib = _lib()
    done = []

    def in_base():
        # unshare(CLONE_FS) gives this thread a working directory of its own: the chdir
        # moves no other thread's (the Python API may unpack and create from several)
        try:
            if lib.unshare(CLONE_FS) != 0:
                done.append(OSError(_errno(), "unshare(CLONE_FS)"))
                return
            posix.chdir(base)
        except OSError as e:
            done.append(e)
            return
        rc = lib.mount(b"overlay", target.encode("utf-8", "surrogateescape"), b"overlay", 0,
                       data.encode("utf-8", "surrogateescape"))
        done.append(_errno() if rc != 0 else 0)

    t = threading.Thread(target=in_base, name="overlay-mount")
    t.start()
    t.join()
    if isinstance(done[0], OSError):
        raise done[0]
    if done[0]:
        raise errors.SyscallError('mount overlay on "%s"' % target, done[0])


def unmount(target):
    """Unmount `target`; False if it was not a mount point."""
    lib = _lib()
    if lib.umount2(target.encode("utf-8", "surrogateescape"), UMOUNT_NOFOLLOW) == 0:
        return True
    err = _errno()
    if err == EINVAL:
        return False
    if err == EBUSY:
        raise errors.PyruncError('unmount "%s": it is busy (a container still runs from it?)' % target)
    raise errors.SyscallError('unmount "%s"' % target, err)


def _unescape(field):
    out = []
    i = 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounted_at(target):
    """The fstype of the topmost mount at `target` (exact path), or None."""
    with open("/proc/self/mountinfo", errors="surrogateescape") as f:
        found = None
        for line in f:
            fields = line.split()
            if len(fields) > 4 and _unescape(fields[4]) == target:
                try:
                    found = fields[fields.index("-") + 1]
                except (ValueError, IndexError):
                    found = "?"
        return found
