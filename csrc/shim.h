/* shim.h: the contract between pyrunc's Python plan and the C executor.
 *
 * Everything between CDEF BEGIN and CDEF END is also handed to cffi as the cdef,
 * so it stays in the subset cffi parses: integer #defines, plain structs, prototypes.
 *
 * A plan is an ordered array of ops. Python builds it (pyrunc/plan), shim.py turns it
 * into these structs, and shim_spawn() clones the container init, which runs the ops in
 * order and ends in execve. The child never returns to Python.
 */
#ifndef PYRUNC_SHIM_H
#define PYRUNC_SHIM_H

/* CDEF BEGIN */
#define SHIM_ABI_VERSION 16

/* Op kinds. Fields used by each are listed; unused fields are ignored. */
#define OP_SETNS            1   /* fd = namespace fd, n1 = CLONE_NEW* type */
#define OP_UNSHARE          2   /* u1 = CLONE_NEW* flags */
#define OP_WRITE_FILE       3   /* s1 = path, s2 = data (procfs knobs: timens_offsets, oom_score_adj) */
#define OP_ROOT_PROPAGATION 4   /* u1 = propagation flags applied to "/" */
#define OP_BIND_ROOTFS      5   /* s1 = rootfs (host path); opens the root fd used by later ops */
#define OP_MOUNT            6   /* s1 = source, s2 = destination in rootfs, s3 = fstype, s4 = data,
                                   u1 = mount flags, u2 = propagation flags, u3 = attr_set,
                                   u4 = attr_clr (mount_setattr, recursive when n2 & 1),
                                   n1 = target kind (MNT_TARGET_*), n2 = MNT_F_* */
#define OP_MKNOD            7   /* s2 = path in rootfs, n1 = mode (type|perm), u1 = dev, n2 = uid, n3 = gid */
#define OP_BIND_DEV         8   /* s1 = host device path, s2 = path in rootfs */
#define OP_SYMLINK          9   /* s1 = link target, s2 = link path in rootfs */
#define OP_PIVOT_ROOT       10  /* no fields */
#define OP_MOVE_ROOT        11  /* MS_MOVE + chroot (--no-pivot); n1 = 1: chroot only (the
                                   runtime's own mount namespace), s1 = the root to chroot
                                   to (exec: /proc/PID/root) instead of the rootfs fd */
#define OP_REOPEN_DEVNULL   12  /* stdio that is a /dev/null char device is reopened from the new root */
#define OP_CONSOLE          13  /* fd = connected console socket, n1 = rows, n2 = cols,
                                   n3 = 1: do not bind the pty on /dev/console (exec) */
#define OP_REMOUNT_RO       14  /* s2 = path (after pivot), n1 = recursive, u1 = mount flags to keep */
#define OP_MASK_PATH        15  /* s2 = path (after pivot), s4 = tmpfs data for a directory (or NULL) */
#define OP_READONLY_PATH    16  /* s2 = path (after pivot) */
#define OP_HOSTNAME         17  /* s1 = hostname */
#define OP_DOMAINNAME       18  /* s1 = domainname */
#define OP_SYSCTL           19  /* s1 = /proc/sys/... path, s2 = value */
#define OP_RLIMIT           20  /* n1 = resource, u1 = soft, u2 = hard */
#define OP_KEYRING          21  /* s1 = session keyring name */
#define OP_LOOPBACK_UP      22  /* no fields */
#define OP_SETSID           23  /* no fields */
#define OP_USER             24  /* n1 = uid, n2 = gid, arr/n_arr = additional gids, n3 = setgroups allowed
                                   (2: setresuid only) */
#define OP_CAPS             25  /* u1 = bounding, u2 = effective, u3 = permitted, u4 = inheritable, u5 = ambient */
#define OP_NO_NEW_PRIVS     26  /* no fields */
#define OP_SECCOMP          27  /* s1 = BPF program bytes, n1 = length in bytes, u1 = seccomp(2) flags;
                                   a NEW_LISTENER fd is sent to the parent over the sync socket */
#define OP_CHDIR            28  /* s1 = cwd */
#define OP_UMASK            29  /* n1 = umask, -1: the caller's (an exec) */
#define OP_HOME_ENV         30  /* set HOME from /etc/passwd (uid n1) if the env has none */
#define OP_LOOKUP_EXEC      31  /* resolve argv[0] against PATH in the env */
#define OP_READY            32  /* tell the parent setup is done; n1 = 1 to block on the fifo s1
                                   in the state dir fd (opened relative to it); u1 & READY_SHED:
                                   the next and last op is OP_EXEC, and the runtime's memory is
                                   unmapped before the fifo (shed.c) */
#define READY_SHED          1
#define OP_EXEC             33  /* close fds >= n1 (cloexec) and execve */
#define OP_PERSONALITY      34  /* n1 = persona */
#define OP_MKDIR            35  /* s2 = path in rootfs, n1 = mode, s1 = what it is (or NULL) */
#define OP_OOM_SCORE_ADJ    36  /* n1 = score */
#define OP_DETACH           37  /* stop dying with the parent (PDEATHSIG 0): the init outlives create */
#define OP_HOOKS_SYNC       38  /* pause for the runtime's prestart/createRuntime hooks (HOOKS, then GO) */
#define OP_HOOK             39  /* run a hook in the container's namespaces: s1 = path, v1 = argv,
                                   v2 = env (NULL: inherit), s2/s3 = state JSON before/after the pid,
                                   n1 = timeout in seconds (0: none), n2 = its index,
                                   n3 = 1: run it in the rootfs (createContainer) */
#define OP_LISTEN_PID       40  /* envp[n1] is "LISTEN_PID=...": set it to our pid as the
                                   container sees it (socket activation) */
#define OP_LSM_LABEL        41  /* write an LSM attribute of this thread: s1 = /proc path, s2 = the
                                   older path used when s1 does not exist (or NULL), s3 = value,
                                   s4 = what failed (error prefix), n1 = LSM_LABEL_*;
                                   LSM_LABEL_FILE: s1 is a directory in the rootfs whose
                                   security.selinux xattr becomes s3 */

/* OP_LSM_LABEL kinds (n1) */
#define LSM_LABEL_ATTR      0   /* the attribute must exist */
#define LSM_LABEL_OPTIONAL  1   /* no such attribute is not an error (keycreate) */
#define LSM_LABEL_FILE      2
/* 60+: kinds added on feature branches (numbers kept apart so branches merge) */
#define OP_MOUNT_TREE       60  /* attach a detached (open_tree) mount: fd = its fd, s1 = source (for
                                   errors), s2 = destination in rootfs, n1 = MNT_TARGET_*, then as
                                   OP_MOUNT's bind: u1 = flags (remount), u2 = propagation,
                                   u3/u4 = attr set/clr (recursive when n2 & MNT_F_RECURSIVE_ATTR) */

/* OP_MOUNT target kinds: what to create at the destination when it is missing. */
#define MNT_TARGET_DIR   0
#define MNT_TARGET_FILE  1
#define MNT_TARGET_NONE  2
#define MNT_TARGET_SOURCE 3  /* a file or a directory as the bind's source is at mount time */

/* OP_MOUNT flags (n2) */
#define MNT_F_RECURSIVE_ATTR 1   /* mount_setattr with AT_RECURSIVE */
#define MNT_F_BIND           2   /* bind mount: the flags in u1 are applied by a remount */
#define MNT_F_TMPCOPYUP      4   /* copy the directory's old contents into the new tmpfs */
#define MNT_F_ORDINARY_DIR   8   /* proc, sysfs: an existing destination must be a real directory */
#define MNT_F_PROC_CHECK     16  /* nothing but procfs on /proc, only lxcfs's files under it */
#define MNT_F_OWN_MODE       32  /* tmpfs with mode= of its own: not the covered directory's */
#define MNT_F_CGROUP2_FALLBACK 64 /* cgroup2 refused (EPERM, EBUSY): bind s4 (the container's cgroup)
                                     instead; s4 is then no mount data */
#define MNT_F_MASK_IF_GONE  128  /* ... and where s4 does not exist (no rootless cgroup), an empty
                                     read-only tmpfs */

struct shim_op {
    int kind;
    int fd;
    long long n1, n2, n3;
    unsigned long long u1, u2, u3, u4, u5;
    const char *s1, *s2, *s3, *s4;
    const unsigned int *arr;
    int n_arr;
    char *const *v1, *const *v2;
};

struct shim_plan {
    int abi;
    unsigned long long clone_flags;  /* CLONE_NEW* created at clone time */
    /* With a user namespace the init is cloned in two stages: a first child runs pre_ops
     * as root of the runtime's user namespace (oom_score_adj, rlimits, the joins by path,
     * the user namespace first), then clones the init (CLONE_PARENT) with clone_flags,
     * so every new namespace is owned by the new (or joined) user namespace. */
    int two_stage;
    const struct shim_op *pre_ops;
    int n_pre_ops;
    int pidns_fd;                    /* join this pid namespace for the child, or -1 */
    int cgroup_fd;                   /* v2 cgroup dir fd for CLONE_INTO_CGROUP, or -1 */
    const struct shim_op *ops;
    int n_ops;
    char *const *argv;
    char *const *envp;               /* NULL-terminated, then one spare NULL slot (HOME) */
    const int *keep_fds;             /* sorted: every other inherited fd is closed first */
    int n_keep_fds;
    int stdio[3];                    /* fds that become the init's 0, 1, 2; -1 to inherit ours */
};

/* shim_wait_ready returns this when the init paused for the runtime's hooks */
#define SHIM_HOOKS 1
/* ... and this with *passed_fd set when the init sent its seccomp listener; the init
 * goes on by itself (no GO): call shim_wait_ready again */
#define SHIM_FD 2
/* shim_err.err for a failure that is not a system call's (a hook's exit status) */
#define SHIM_ENOERRNO 65536

/* Filled by the child (sent over the sync socket) or by the parent side. */
struct shim_err {
    int op_index;       /* index of the failing op, -1 for the spawn itself */
    int err;            /* errno */
    char detail[2048];   /* sub-step and arguments, e.g. "mkdir `/proc`" */
};

struct shim_child {
    int pid;
    int sync_fd;        /* parent end of the sync socket */
    int in_cgroup;      /* 1 when CLONE_INTO_CGROUP placed the init in plan->cgroup_fd */
};

int shim_abi_version(void);
int shim_spawn(const struct shim_plan *plan, struct shim_child *child, struct shim_err *err);
int shim_send_go(int sync_fd, int pid, struct shim_err *err);
int shim_wait_ready(int sync_fd, struct shim_err *err, int *passed_fd);
int shim_recv_fd(int sock_fd, char *name, int name_len);
/* Runtime side of idmapped mounts (ops_idmap.c): a user namespace fd with these maps (its
 * holder process already reaped), and a detached clone of `source` idmapped with it. */
int shim_userns_fd(const char *uid_map, const char *gid_map, struct shim_err *err);
int shim_idmapped_tree(const char *source, int userns_fd, int recursive_tree, int recursive_attr,
                       struct shim_err *err);
int shim_attach_device_filter(int cgroup_fd, const void *insns, int n_insns, int replace, char *log,
                              int log_len);
/* renameat2(RENAME_NOREPLACE): 0, or -errno (EEXIST when `to` exists) */
int shim_rename_noreplace(const char *from, const char *to);
/* CDEF END */

#endif
