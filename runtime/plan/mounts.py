"""Mount options (runtime-spec config.md's table) -> mount(2) flags, propagation,
mount_setattr attributes and fs data."""

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_POSIXACL = 1 << 16
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_I_VERSION = 1 << 23
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_NOSYMFOLLOW = 0x200000

# option -> (clear?, flag)
FLAGS = {
    "acl": (False, MS_POSIXACL), "noacl": (True, MS_POSIXACL),
    "async": (True, MS_SYNCHRONOUS), "sync": (False, MS_SYNCHRONOUS),
    "atime": (True, MS_NOATIME), "noatime": (False, MS_NOATIME),
    "defaults": (False, 0),
    "dev": (True, MS_NODEV), "nodev": (False, MS_NODEV),
    "diratime": (True, MS_NODIRATIME), "nodiratime": (False, MS_NODIRATIME),
    "dirsync": (False, MS_DIRSYNC),
    "exec": (True, MS_NOEXEC), "noexec": (False, MS_NOEXEC),
    "iversion": (False, MS_I_VERSION), "noiversion": (True, MS_I_VERSION),
    "lazytime": (False, MS_LAZYTIME), "nolazytime": (True, MS_LAZYTIME),
    "loud": (True, MS_SILENT), "silent": (False, MS_SILENT),
    "mand": (False, MS_MANDLOCK), "nomand": (True, MS_MANDLOCK),
    "relatime": (False, MS_RELATIME), "norelatime": (True, MS_RELATIME),
    "strictatime": (False, MS_STRICTATIME), "nostrictatime": (True, MS_STRICTATIME),
    "suid": (True, MS_NOSUID), "nosuid": (False, MS_NOSUID),
    "ro": (False, MS_RDONLY), "rw": (True, MS_RDONLY),
    "remount": (False, MS_REMOUNT),
    "bind": (False, MS_BIND), "rbind": (False, MS_BIND | MS_REC),
    "symfollow": (True, MS_NOSYMFOLLOW), "nosymfollow": (False, MS_NOSYMFOLLOW),
}

PROPAGATION = {
    "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED, "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | MS_REC,
}

# recursive attributes through mount_setattr(AT_RECURSIVE): option -> (clear?, attr)
RECURSIVE = {
    "rro": (False, MOUNT_ATTR_RDONLY), "rrw": (True, MOUNT_ATTR_RDONLY),
    "rnosuid": (False, MOUNT_ATTR_NOSUID), "rsuid": (True, MOUNT_ATTR_NOSUID),
    "rnodev": (False, MOUNT_ATTR_NODEV), "rdev": (True, MOUNT_ATTR_NODEV),
    "rnoexec": (False, MOUNT_ATTR_NOEXEC), "rexec": (True, MOUNT_ATTR_NOEXEC),
    "rnodiratime": (False, MOUNT_ATTR_NODIRATIME), "rdiratime": (True, MOUNT_ATTR_NODIRATIME),
    "rrelatime": (False, MOUNT_ATTR_RELATIME), "rnorelatime": (True, MOUNT_ATTR_RELATIME),
    "rnoatime": (False, MOUNT_ATTR_NOATIME), "ratime": (True, MOUNT_ATTR_NOATIME),
    "rstrictatime": (False, MOUNT_ATTR_STRICTATIME), "rnostrictatime": (True, MOUNT_ATTR_STRICTATIME),
    "rnosymfollow": (False, MOUNT_ATTR_NOSYMFOLLOW), "rsymfollow": (True, MOUNT_ATTR_NOSYMFOLLOW),
}

ATIME_ATTRS = (MOUNT_ATTR_RELATIME, MOUNT_ATTR_NOATIME, MOUNT_ATTR_STRICTATIME)


class MountOptions:
    __slots__ = ("flags", "propagation", "attr_set", "attr_clr", "data", "bind", "tmpcopyup", "idmap")

    def __init__(self):
        self.flags = 0
        self.propagation = []
        self.attr_set = 0
        self.attr_clr = 0
        self.data = []
        self.bind = False
        self.tmpcopyup = False
        self.idmap = None  # "idmap" or "ridmap" (plan/idmap.py checks and applies it)


def parse_options(options, path, mount_type):
    """Split a mount's options; `path` is the JSON path of the options array."""
    mo = MountOptions()
    is_bind = mount_type == "bind"
    for i, opt in enumerate(options or ()):
        if opt in FLAGS:
            clear, flag = FLAGS[opt]
            if clear:
                mo.flags &= ~flag
            else:
                mo.flags |= flag
            if flag & MS_BIND:
                is_bind = True
        elif opt in PROPAGATION:
            mo.propagation.append(PROPAGATION[opt])
        elif opt in RECURSIVE:
            clear, attr = RECURSIVE[opt]
            if attr in ATIME_ATTRS or (clear and attr == MOUNT_ATTR_RELATIME):
                # the kernel takes atime changes only as "clear all atime bits, set one"
                mo.attr_clr |= MOUNT_ATTR__ATIME
                mo.attr_set = (mo.attr_set & ~MOUNT_ATTR__ATIME) | (0 if clear else attr)
            elif clear:
                mo.attr_clr |= attr
                mo.attr_set &= ~attr
            else:
                mo.attr_set |= attr
                mo.attr_clr &= ~attr
        elif opt == "tmpcopyup":
            mo.tmpcopyup = True
        elif opt in ("idmap", "ridmap"):
            mo.idmap = opt
        else:
            # fs data; a bind mount has none: the kernel ignores data with MS_BIND, so
            # "mode=755" or "size=1k" beside "bind" change nothing (as under runc)
            mo.data.append(opt)
    if is_bind:
        mo.bind = True
        mo.flags |= MS_BIND
    if mo.tmpcopyup and (mount_type != "tmpfs" or is_bind):
        mo.tmpcopyup = False  # as runc: an extension of tmpfs mounts, ignored on others
    return mo


def clean_path(p):
    """Lexical cleaning as Go's filepath.Clean of an absolute path."""
    out = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
            continue
        out.append(part)
    return "/" + "/".join(out)
