"""Plan ops: plain data mirroring `struct shim_op` in csrc/shim.h (a unit test checks
that the numbers agree with the header)."""

SHIM_ABI_VERSION = 16

OP_SETNS = 1
OP_UNSHARE = 2
OP_WRITE_FILE = 3
OP_ROOT_PROPAGATION = 4
OP_BIND_ROOTFS = 5
OP_MOUNT = 6
OP_MKNOD = 7
OP_BIND_DEV = 8
OP_SYMLINK = 9
OP_PIVOT_ROOT = 10
OP_MOVE_ROOT = 11
OP_REOPEN_DEVNULL = 12
OP_CONSOLE = 13
OP_REMOUNT_RO = 14
OP_MASK_PATH = 15
OP_READONLY_PATH = 16
OP_HOSTNAME = 17
OP_DOMAINNAME = 18
OP_SYSCTL = 19
OP_RLIMIT = 20
OP_KEYRING = 21
OP_LOOPBACK_UP = 22
OP_SETSID = 23
OP_USER = 24
OP_CAPS = 25
OP_NO_NEW_PRIVS = 26
OP_SECCOMP = 27
OP_CHDIR = 28
OP_UMASK = 29
OP_HOME_ENV = 30
OP_LOOKUP_EXEC = 31
OP_READY = 32
OP_EXEC = 33
READY_SHED = 1  # OP_READY's u1: EXEC follows; the runtime's memory goes first (csrc/shed.c)
OP_PERSONALITY = 34
OP_MKDIR = 35
OP_OOM_SCORE_ADJ = 36
OP_DETACH = 37
OP_HOOKS_SYNC = 38
OP_HOOK = 39
OP_LISTEN_PID = 40
OP_LSM_LABEL = 41

LSM_LABEL_ATTR = 0
LSM_LABEL_OPTIONAL = 1
LSM_LABEL_FILE = 2
# 60+: kinds added on feature branches
OP_MOUNT_TREE = 60

MNT_TARGET_DIR = 0
MNT_TARGET_FILE = 1
MNT_TARGET_NONE = 2
MNT_TARGET_SOURCE = 3

MNT_F_RECURSIVE_ATTR = 1
MNT_F_BIND = 2
MNT_F_TMPCOPYUP = 4
MNT_F_ORDINARY_DIR = 8
MNT_F_PROC_CHECK = 16
MNT_F_OWN_MODE = 32
MNT_F_CGROUP2_FALLBACK = 64
MNT_F_MASK_IF_GONE = 128

NAMES = {v: k[3:].lower() for k, v in dict(globals()).items() if k.startswith("OP_")}

# clone(2) namespace flags
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

NS_FLAGS = {
    "pid": CLONE_NEWPID, "network": CLONE_NEWNET, "mount": CLONE_NEWNS, "ipc": CLONE_NEWIPC,
    "uts": CLONE_NEWUTS, "user": CLONE_NEWUSER, "cgroup": CLONE_NEWCGROUP, "time": CLONE_NEWTIME,
}


class Op:
    """One step of the container init. `fdref` names an fd that shim.py opens at spawn
    time (("path", p) for a namespace file, "fifo", "console"), keeping the plan pure."""

    __slots__ = ("kind", "fd", "n1", "n2", "n3", "u1", "u2", "u3", "u4", "u5", "s1", "s2", "s3", "s4",
                 "arr", "fdref", "what", "v1", "v2")

    def __init__(self, kind, what="", fd=-1, n1=0, n2=0, n3=0, u1=0, u2=0, u3=0, u4=0, u5=0,
                 s1=None, s2=None, s3=None, s4=None, arr=(), fdref=None, v1=None, v2=None):
        self.kind = kind
        self.what = what
        self.fd = fd
        self.n1, self.n2, self.n3 = n1, n2, n3
        self.u1, self.u2, self.u3, self.u4, self.u5 = u1, u2, u3, u4, u5
        self.s1, self.s2, self.s3, self.s4 = s1, s2, s3, s4
        self.arr = tuple(arr)
        self.fdref = fdref
        self.v1 = None if v1 is None else tuple(v1)  # string vectors (a hook's argv, env)
        self.v2 = None if v2 is None else tuple(v2)

    def as_tuple(self):
        return (NAMES[self.kind], self.n1, self.n2, self.n3, self.u1, self.u2, self.u3, self.u4, self.u5,
                self.s1, self.s2, self.s3, self.s4, self.arr, self.fdref, self.v1, self.v2)

    def __repr__(self):
        fields = []
        for k in ("fd", "n1", "n2", "n3", "u1", "u2", "u3", "u4", "u5", "s1", "s2", "s3", "s4", "arr", "fdref"):
            v = getattr(self, k)
            if v not in (0, -1, None, ()):
                fields.append("%s=%r" % (k, v))
        return "Op(%s%s)" % (NAMES.get(self.kind, self.kind), (", " + ", ".join(fields)) if fields else "")

    def __eq__(self, other):
        return isinstance(other, Op) and self.kind == other.kind and self.as_tuple() == other.as_tuple()

    __hash__ = None
