/* spawn.c: clone the container init, the sync protocol, and the op loop.
 *
 *   parent (pyrunc, Python)                     child (C only)
 *   shim_spawn: clone(CLONE_NEW*) ------------> reset signals, PDEATHSIG=KILL
 *   (Python) cgroup join, maps, hooks            recv GO (EOF: parent died, exit)
 *   shim_send_go -------------------------------> run ops in order
 *                                                on error: ERROR{op, errno, detail}, _exit
 *   shim_wait_ready <--------------------------- OP_READY: READY, PDEATHSIG=0,
 *                                                block opening exec.fifo for writing
 *   `pyrunc start` opens exec.fifo ------------> write "0", keep the fd (CLOEXEC)
 *                                                seccomp, execve; a failure from here on is
 *                                                written into the fifo as "E<msg>" so that
 *                                                `start` reports it; a successful execve
 *                                                closes the fd and `start` reads EOF.
 *                                                (exec has no fifo: such a failure goes to
 *                                                the process's stderr, exit status 1, as runc)
 *
 * With a user namespace (plan->two_stage) a first child runs the plan's pre-ops as root
 * of the runtime's user namespace (oom_score_adj, rlimits, joins by path), clones the
 * init with CLONE_PARENT into the new namespaces, sends its pid (MSG_PID) and exits; the
 * runtime writes uid_map/gid_map while the init waits for GO.
 *
 * The child is a fork-like copy of the Python process, but it never runs Python again:
 * it only reads the plan (inherited memory) and calls libc.
 */
#include "internal.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MSG_GO = 1, MSG_READY = 2, MSG_ERROR = 3, MSG_FD = 4, MSG_HOOKS = 5, MSG_PID = 6 };

struct sync_msg {
    int type;
    struct shim_err err;
};

int shim_abi_version(void) { return SHIM_ABI_VERSION; }

int shim_fail(struct child_ctx *c, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err->detail, sizeof c->err->detail, fmt, ap);
    va_end(ap);
    c->err->err = errnum;
    return -errnum;
}

void fd_path(char *buf, size_t len, int fd) { snprintf(buf, len, "/proc/self/fd/%d", fd); }

int sync_send_fd(struct child_ctx *c, int passed)
{
    struct sync_msg m;
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
    struct msghdr msg;
    struct cmsghdr *cm;
    memset(&m, 0, sizeof m);
    memset(&msg, 0, sizeof msg);
    memset(cbuf, 0, sizeof cbuf);
    m.type = MSG_FD;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &passed, sizeof passed);
    ssize_t n;
    do
        n = sendmsg(c->sync_fd, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : 0;
}

static int send_msg(int fd, int type, const struct shim_err *e)
{
    struct sync_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    if (e)
        m.err = *e;
    for (;;) {
        ssize_t n = send(fd, &m, sizeof m, MSG_NOSIGNAL);
        if (n == (ssize_t)sizeof m)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? -errno : -EIO;
    }
}

static int recv_msg(int fd, struct sync_msg *m, int *passed_fd)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = m, .iov_len = sizeof *m};
    struct msghdr msg;
    if (passed_fd)
        *passed_fd = -1;
    for (;;) {
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf;
        msg.msg_controllen = sizeof cbuf;
        ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
        struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
        if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            int got;
            memcpy(&got, CMSG_DATA(cm), sizeof got);
            if (passed_fd)
                *passed_fd = got;
            else
                close(got);
        }
        if (n == (ssize_t)sizeof *m)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            return -EPIPE;
        return n < 0 ? -errno : -EPROTO;
    }
}

/* Python ignores SIGPIPE and installs handlers; dispositions set to SIG_IGN would
 * survive execve, so every signal goes back to its default and nothing stays blocked. */
static void reset_signals(void)
{
    struct sigaction sa;
    sigset_t none;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        sigaction(s, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Whatever the caller of pyrunc left open (a host directory, a socket) must not be
 * reachable from the container, not even through /proc/self/fd before execve. */
static void close_inherited(const struct shim_plan *plan, int sync_fd)
{
    unsigned int lo = 0;
    for (int i = 0; i <= plan->n_keep_fds; i++) {
        unsigned int keep = i < plan->n_keep_fds ? (unsigned int)plan->keep_fds[i] : ~0U;
        if (keep > lo && (int)lo <= sync_fd && (unsigned int)sync_fd < keep) {
            /* split around the sync socket, which the plan does not list */
            if ((unsigned int)sync_fd > lo)
                syscall(SYS_close_range, lo, (unsigned int)sync_fd - 1, 0);
            lo = (unsigned int)sync_fd + 1;
        }
        if (keep > lo)
            syscall(SYS_close_range, lo, keep == ~0U ? ~0U : keep - 1, 0);
        if (keep == ~0U)
            break;
        lo = keep + 1;
    }
}

/* A failure after READY, when the sync socket is gone. With an exec fifo (create) it is
 * written there as "E<message>" for `start` to report; without one (exec) it goes to the
 * process's own stderr, as runc's init prints it ("exec /x.sh: no such file or
 * directory"), and the process exits 1. Errno text in Go's words (lower-case first). */
static __attribute__((noreturn)) void late_failure(struct child_ctx *c)
{
    char buf[700];
    int n;
    n = snprintf(buf, sizeof buf, "%s%s", c->fifo_wfd >= 0 ? "E" : "", c->err->detail);
    if (c->err->err != SHIM_ENOERRNO && n > 0 && (size_t)n < sizeof buf) {
        /* strerrordesc_np: the untranslated text, no locale lock nor allocation (the
         * child of a multi-threaded caller may have inherited those held) */
        const char *e = strerrordesc_np(c->err->err);
        int at = n + 2;
        if (e)
            n += snprintf(buf + n, sizeof buf - (size_t)n, ": %s", e);
        else
            n += snprintf(buf + n, sizeof buf - (size_t)n, ": errno %d", c->err->err);
        if (at < (int)sizeof buf && buf[at] >= 'A' && buf[at] <= 'Z')
            buf[at] = (char)(buf[at] + 32);
    }
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    if (c->fifo_wfd < 0)
        buf[n++] = '\n';
    if (n > 0)
        (void)!write(c->fifo_wfd >= 0 ? c->fifo_wfd : 2, buf, (size_t)n);
    _exit(1);
}

static int op_exec(struct child_ctx *c, const struct shim_op *op);

static int op_ready(struct child_ctx *c, const struct shim_op *op)
{
    int fd;
    if (op->n1 != 0) {
        /* op->fd is the state dir (O_PATH): the fifo is opened relative to it, which
         * needs no /proc in the container (crun runs a container without one) */
        if (faccessat(op->fd, op->s1, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
            return shim_fail(c, errno, "open exec fifo");
        /* ... and needs a free fd: an RLIMIT_NOFILE of 0 must fail create, not the init */
        int spare = dup(op->fd);  /* closed at once: no exec can see it */
        if (spare < 0)
            return shim_fail(c, errno, "reopen the exec fifo");
        close(spare);
    }
    if (send_msg(c->sync_fd, MSG_READY, NULL) < 0)
        _exit(1);
    close(c->sync_fd);
    c->sync_fd = -1;
    if (op->n1 == 0)
        return 0;
    int dirfd = op->fd;
    const char *fifo = op->s1;
    char fifo_copy[256];
    struct shim_op exec_op;
    int shed = 0;
    if ((op->u1 & READY_SHED) && op + 1 < c->plan->ops + c->plan->n_ops && op[1].kind == OP_EXEC) {
        exec_op = op[1];
        shed = shed_runtime_memory(c, fifo, fifo_copy, sizeof fifo_copy) > 0;
        if (shed)
            fifo = fifo_copy;  /* op and the plan are gone: only locals from here */
    }
    /* blocks until `start` opens the read end */
    do
        fd = openat(dirfd, fifo, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return shim_fail(c, errno, "open exec fifo");
    close(dirfd);
    c->fifo_wfd = fd;
    if (write(fd, "0", 1) != 1)
        return shim_fail(c, errno, "write exec fifo");
    if (shed)
        return op_exec(c, &exec_op);  /* returns only on failure: the op loop never resumes */
    return 0;
}

static int op_exec(struct child_ctx *c, const struct shim_op *op)
{
    /* Everything above the preserved fds is closed at execve; the exec.fifo write end
     * is among them, which is how `start` learns the exec happened. */
    if (syscall(SYS_close_range, (unsigned)op->n1, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        for (int fd = (int)op->n1; fd < 65536; fd++) {
            int fl = fcntl(fd, F_GETFD);
            if (fl >= 0)
                fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
        }
    }
    execve(c->exec_path, c->argv, c->envp);
    /* Go's os.PathError of runc's system.Exec, with the path LookPath found */
    return shim_fail(c, errno, "exec %s", c->exec_path);
}

/* From here the init outlives `pyrunc create`: the caller's subreaper owns it. Before
 * the seccomp filter is loaded, so that no profile has to allow this prctl. */
static int op_detach(struct child_ctx *c, const struct shim_op *op)
{
    (void)op;
    if (prctl(PR_SET_PDEATHSIG, 0) < 0)
        return shim_fail(c, errno, "prctl PR_SET_PDEATHSIG");
    return 0;
}

static int op_hooks_sync(struct child_ctx *c, const struct shim_op *op)
{
    struct sync_msg m;
    (void)op;
    if (send_msg(c->sync_fd, MSG_HOOKS, NULL) < 0)
        _exit(1);
    if (recv_msg(c->sync_fd, &m, NULL) < 0 || m.type != MSG_GO)
        _exit(1); /* the runtime's hooks failed: it kills us anyway */
    return 0;
}

typedef int (*op_fn)(struct child_ctx *, const struct shim_op *);

static op_fn op_table(int kind)
{
    switch (kind) {
    case OP_SETNS: return op_setns;
    case OP_UNSHARE: return op_unshare;
    case OP_WRITE_FILE: return op_write_file;
    case OP_ROOT_PROPAGATION: return op_root_propagation;
    case OP_BIND_ROOTFS: return op_bind_rootfs;
    case OP_MOUNT: return op_mount;
    case OP_MKNOD: return op_mknod;
    case OP_BIND_DEV: return op_bind_dev;
    case OP_SYMLINK: return op_symlink;
    case OP_PIVOT_ROOT: return op_pivot_root;
    case OP_MOVE_ROOT: return op_move_root;
    case OP_REOPEN_DEVNULL: return op_reopen_devnull;
    case OP_CONSOLE: return op_console;
    case OP_REMOUNT_RO: return op_remount_ro;
    case OP_MASK_PATH: return op_mask_path;
    case OP_READONLY_PATH: return op_readonly_path;
    case OP_HOSTNAME: return op_hostname;
    case OP_DOMAINNAME: return op_domainname;
    case OP_SYSCTL: return op_sysctl;
    case OP_RLIMIT: return op_rlimit;
    case OP_KEYRING: return op_keyring;
    case OP_LOOPBACK_UP: return op_loopback_up;
    case OP_SETSID: return op_setsid;
    case OP_USER: return op_user;
    case OP_CAPS: return op_caps;
    case OP_NO_NEW_PRIVS: return op_no_new_privs;
    case OP_SECCOMP: return op_seccomp;
    case OP_CHDIR: return op_chdir;
    case OP_UMASK: return op_umask;
    case OP_HOME_ENV: return op_home_env;
    case OP_LOOKUP_EXEC: return op_lookup_exec;
    case OP_READY: return op_ready;
    case OP_EXEC: return op_exec;
    case OP_PERSONALITY: return op_personality;
    case OP_MKDIR: return op_mkdir;
    case OP_OOM_SCORE_ADJ: return op_oom_score_adj;
    case OP_DETACH: return op_detach;
    case OP_HOOKS_SYNC: return op_hooks_sync;
    case OP_HOOK: return op_hook;
    case OP_LISTEN_PID: return op_listen_pid;
    case OP_LSM_LABEL: return op_lsm_label;
    case OP_MOUNT_TREE: return op_mount_tree;
    }
    return NULL;
}

static __attribute__((noreturn)) void child_main(const struct shim_plan *plan, int sync_fd,
                                                  struct shed_info *shed)
{
    struct shim_err err;
    struct child_ctx c;
    struct sync_msg m;

    memset(&err, 0, sizeof err);
    memset(&c, 0, sizeof c);
    c.plan = plan;
    c.sync_fd = sync_fd;
    c.root_fd = -1;
    c.fifo_wfd = -1;
    c.argv = plan->argv;
    c.envp = plan->envp;
    c.err = &err;

    reset_signals();
    /* Until execve, /proc/PID/exe of this process is the runtime's interpreter: not
     * dumpable, so that nothing in the container can open it (CVE-2019-5736). execve
     * makes the container's binary dumpable again. A two-stage init stays dumpable
     * until GO (its first stage made it not: set it back): its /proc/PID/uid_map,
     * gid_map and setgroups then belong to its owner, not to root, and an unprivileged
     * runtime (or newuidmap, which checks that owner) can write them, as runc's init is
     * while its parent maps it; nothing of the container runs before GO. */
    prctl(PR_SET_DUMPABLE, plan->two_stage ? 1 : 0, 0, 0, 0);
    for (int i = 0; i < 3; i++)
        if (plan->stdio[i] >= 0 && dup3(plan->stdio[i], i, 0) < 0)
            _exit(1);
    close_inherited(plan, sync_fd);
    if (shed != NULL) {
        shed_scan(shed);  /* while /proc is the host's; used after READY (shed.c) */
        c.shed = shed;
    }
    /* Until READY, the init must not outlive a pyrunc that died mid-create. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (recv_msg(sync_fd, &m, NULL) < 0 || m.type != MSG_GO)
        _exit(1);
    if (plan->two_stage)
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    c.host_pid = m.err.err;
    c.caller_umask = umask(0);

    for (int i = 0; i < plan->n_ops; i++) {
        const struct shim_op *op = &plan->ops[i];
        op_fn fn = op_table(op->kind);
        int rc;
        err.op_index = i;
        if (fn == NULL)
            rc = shim_fail(&c, EINVAL, "unknown op %d", op->kind);
        else
            rc = fn(&c, op);
        if (rc < 0) {
            if (c.sync_fd < 0)
                late_failure(&c);
            send_msg(c.sync_fd, MSG_ERROR, &err);
            _exit(127);
        }
    }
    shim_fail(&c, EINVAL, "plan ended without exec");
    if (c.sync_fd < 0)
        late_failure(&c);
    send_msg(c.sync_fd, MSG_ERROR, &err);
    _exit(127);
}

/* The first stage of a two-stage spawn (user namespaces): still root of the runtime's
 * user namespace, it does what needs that (oom_score_adj below the caller's and raised
 * rlimits need CAP_SYS_RESOURCE there; namespaces joined by path, the user namespace
 * first as runc orders them), then clones the init as a sibling (CLONE_PARENT: the
 * runtime is its parent), in the new namespaces, and reports the init's pid. A joined
 * pid namespace is one of the pre-ops: it only changes pid_for_children, so clone still
 * returns the init's pid as the runtime sees it. */
static __attribute__((noreturn)) void stage1_main(const struct shim_plan *plan, int sync_fd,
                                                   struct shed_info *shed)
{
    struct shim_err err;
    struct child_ctx c;
    long pid;

    memset(&err, 0, sizeof err);
    memset(&c, 0, sizeof c);
    c.plan = plan;
    c.sync_fd = sync_fd;
    c.root_fd = -1;
    c.fifo_wfd = -1;
    c.err = &err;
    err.op_index = -1;
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (int i = 0; i < plan->n_pre_ops; i++) {
        const struct shim_op *op = &plan->pre_ops[i];
        op_fn fn = op_table(op->kind);
        int rc = fn ? fn(&c, op) : shim_fail(&c, EINVAL, "unknown op %d", op->kind);
        err.op_index = -2 - i; /* pre-op i, for the runtime's message */
        if (rc < 0) {
            send_msg(sync_fd, MSG_ERROR, &err);
            _exit(1);
        }
    }
    /* The init must be dumpable from birth, not from its first instruction: the runtime
     * writes its maps as soon as MSG_PID arrives, possibly before the init has run at
     * all, and /proc/PID/{uid_map,gid_map,setgroups} of a non-dumpable task belong to
     * root (EACCES for an unprivileged runtime, "owned by a different user" for
     * newuidmap). fork copies the flag; this stage is dumpable only across the clone. */
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    pid = syscall(SYS_clone, (unsigned long)plan->clone_flags | CLONE_PARENT, 0, 0, 0, 0);
    if (pid == 0)
        child_main(plan, sync_fd, shed);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (pid < 0) {
        err.op_index = -1;
        shim_fail(&c, errno, "clone the container init (flags 0x%llx)", plan->clone_flags);
        send_msg(sync_fd, MSG_ERROR, &err);
        _exit(1);
    }
    err.err = (int)pid;
    send_msg(sync_fd, MSG_PID, &err);
    _exit(0);
}

static long do_clone(const struct shim_plan *plan, int *in_cgroup)
{
    struct clone_args args;
    long pid;
    unsigned long long flags = plan->two_stage ? 0 : plan->clone_flags;
    memset(&args, 0, sizeof args);
    args.flags = flags;
    args.exit_signal = SIGCHLD;
    if (plan->cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)plan->cgroup_fd;
    }
    pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid >= 0) {
        *in_cgroup = plan->cgroup_fd >= 0;
        return pid;
    }
    /* Older kernels: no clone3 (ENOSYS) or no CLONE_INTO_CGROUP (E2BIG, EINVAL); the
     * parent then moves the init by pid before it is released. */
    if (errno != ENOSYS && errno != E2BIG && !(errno == EINVAL && plan->cgroup_fd >= 0))
        return -1;
    *in_cgroup = 0;
    return syscall(SYS_clone, (unsigned long)flags | SIGCHLD, 0, 0, 0, 0);
}

/* The parent's side of a two-stage spawn: the first stage's MSG_PID (or its error),
 * then reap it. Returns the init's pid or -errno with err filled. */
static long stage1_result(long stage1, int sync_fd, struct shim_err *err)
{
    struct sync_msg m;
    int rc = recv_msg(sync_fd, &m, NULL);
    int status;
    while (waitpid((pid_t)stage1, &status, 0) < 0 && errno == EINTR)
        ;
    if (rc == 0 && m.type == MSG_PID)
        return m.err.err;
    if (rc == 0 && m.type == MSG_ERROR) {
        *err = m.err;
        err->detail[sizeof err->detail - 1] = 0;
        return -(err->err ? err->err : EIO);
    }
    err->err = rc < 0 ? -rc : EPROTO;
    snprintf(err->detail, sizeof err->detail, "first stage of the container init exited");
    return -err->err;
}

int shim_spawn(const struct shim_plan *plan, struct shim_child *child, struct shim_err *err)
{
    int sv[2];
    int self_pidns = -1;
    long pid;
    int saved;

    memset(err, 0, sizeof *err);
    err->op_index = -1;
    if (plan->abi != SHIM_ABI_VERSION) {
        snprintf(err->detail, sizeof err->detail, "plan abi %d, shim abi %d", plan->abi, SHIM_ABI_VERSION);
        err->err = EINVAL;
        return -EINVAL;
    }
    /* the loaded objects' segments, for an init that sheds our memory (shed.c) */
    struct shed_info shed_buf, *shed = NULL;
    for (int i = 0; i < plan->n_ops; i++)
        if (plan->ops[i].kind == OP_READY && (plan->ops[i].u1 & READY_SHED)) {
            shed_prepare(&shed_buf);
            shed = &shed_buf;
        }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        err->err = errno;
        snprintf(err->detail, sizeof err->detail, "socketpair");
        return -err->err;
    }
    /* Joining a pid namespace only changes pid_for_children, so it is done here in the
     * parent around the clone and undone right after. */
    if (plan->pidns_fd >= 0) {
        self_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (self_pidns < 0 || setns(plan->pidns_fd, CLONE_NEWPID) < 0) {
            err->err = errno;
            snprintf(err->detail, sizeof err->detail, "join pid namespace");
            if (self_pidns >= 0)
                close(self_pidns);
            close(sv[0]);
            close(sv[1]);
            return -err->err;
        }
    }
    pid = do_clone(plan, &child->in_cgroup);
    saved = errno;
    if (pid == 0) {
        close(sv[0]);
        if (plan->two_stage)
            stage1_main(plan, sv[1], shed);
        child_main(plan, sv[1], shed);
    }
    if (self_pidns >= 0) {
        setns(self_pidns, CLONE_NEWPID);
        close(self_pidns);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        err->err = saved;
        snprintf(err->detail, sizeof err->detail, "clone");
        return -saved;
    }
    if (plan->two_stage) {
        pid = stage1_result(pid, sv[0], err);
        if (pid < 0) {
            close(sv[0]);
            return (int)pid;
        }
    }
    child->pid = (int)pid;
    child->sync_fd = sv[0];
    return 0;
}

int shim_send_go(int sync_fd, int pid, struct shim_err *err)
{
    struct shim_err e;
    memset(&e, 0, sizeof e);
    e.err = pid;
    int rc = send_msg(sync_fd, MSG_GO, &e);
    if (rc < 0) {
        memset(err, 0, sizeof *err);
        err->op_index = -1;
        err->err = -rc;
        snprintf(err->detail, sizeof err->detail, "send go to container init");
    }
    return rc;
}

int shim_wait_ready(int sync_fd, struct shim_err *err, int *passed_fd)
{
    struct sync_msg m;
    int rc, got;
    memset(err, 0, sizeof *err);
    err->op_index = -1;
    *passed_fd = -1;
    rc = recv_msg(sync_fd, &m, &got);
    if (rc < 0) {
        err->err = -rc;
        snprintf(err->detail, sizeof err->detail, "container init exited during setup");
        return rc;
    }
    if (m.type == MSG_FD) {
        /* the seccomp listener: the runtime hands it to the listenerPath socket at once,
         * before the init's next (maybe notifying) syscall, and waits again */
        *passed_fd = got;
        return SHIM_FD;
    }
    if (got >= 0)
        close(got);
    if (m.type == MSG_READY)
        return 0;
    if (m.type == MSG_HOOKS)
        return SHIM_HOOKS;
    if (m.type == MSG_ERROR) {
        *err = m.err;
        err->detail[sizeof err->detail - 1] = 0;
        return -(err->err ? err->err : EIO);
    }
    err->err = EPROTO;
    snprintf(err->detail, sizeof err->detail, "unexpected message %d from container init", m.type);
    return -EPROTO;
}

int shim_recv_fd(int sock_fd, char *name, int name_len)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = name, .iov_len = (size_t)(name_len > 1 ? name_len - 1 : 0)};
    struct msghdr msg;
    struct cmsghdr *cm;
    ssize_t n;
    memset(&msg, 0, sizeof msg);
    memset(cbuf, 0, sizeof cbuf);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    do
        n = recvmsg(sock_fd, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (name_len > 0)
        name[n >= 0 && n < name_len ? n : 0] = 0;
    cm = CMSG_FIRSTHDR(&msg);
    if (cm == NULL || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
        return -EBADMSG;
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    return fd;
}
