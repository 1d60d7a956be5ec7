/* ops_misc.c: namespaces, procfs knobs, hostname, sysctl, rlimits, keyring, loopback,
 * session, cwd, umask, HOME and the PATH lookup of argv[0]. */
#include "internal.h"

#include <fcntl.h>
#include <linux/keyctl.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef KEY_USR_SEARCH
#define KEY_USR_SEARCH 0x00080000
#endif

static const char *ns_name(long long flag)
{
    switch (flag) {
    case CLONE_NEWUSER: return "user";
    case CLONE_NEWIPC: return "ipc";
    case CLONE_NEWUTS: return "uts";
    case CLONE_NEWNET: return "network";
    case CLONE_NEWPID: return "pid";
    case CLONE_NEWCGROUP: return "cgroup";
    case CLONE_NEWNS: return "mount";
    case 0x00000080: return "time";
    }
    return "unknown";
}

int op_setns(struct child_ctx *c, const struct shim_op *op)
{
    if (setns(op->fd, (int)op->n1) < 0)
        return shim_fail(c, errno, "join %s namespace", ns_name(op->n1));
    close(op->fd);
    return 0;
}

int op_unshare(struct child_ctx *c, const struct shim_op *op)
{
    if (unshare((int)op->u1) < 0)
        return shim_fail(c, errno, "unshare 0x%llx", op->u1);
    return 0;
}

static int write_all(int fd, const char *data)
{
    size_t len = strlen(data);
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int op_write_file(struct child_ctx *c, const struct shim_op *op)
{
    int fd = open(op->s1, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return shim_fail(c, errno, "open \"%s\"", op->s1);
    int rc = write_all(fd, op->s2);
    close(fd);
    return rc < 0 ? shim_fail(c, -rc, "write \"%s\" to \"%s\"", op->s2, op->s1) : 0;
}

int op_oom_score_adj(struct child_ctx *c, const struct shim_op *op)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", op->n1);
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return shim_fail(c, errno, "open /proc/self/oom_score_adj");
    int rc = write_all(fd, buf);
    close(fd);
    return rc < 0 ? shim_fail(c, -rc, "set oom_score_adj to %lld", op->n1) : 0;
}

int op_hostname(struct child_ctx *c, const struct shim_op *op)
{
    if (sethostname(op->s1, strlen(op->s1)) < 0)
        return shim_fail(c, errno, "sethostname \"%s\"", op->s1);
    return 0;
}

int op_domainname(struct child_ctx *c, const struct shim_op *op)
{
    if (setdomainname(op->s1, strlen(op->s1)) < 0)
        return shim_fail(c, errno, "setdomainname \"%s\"", op->s1);
    return 0;
}

int op_sysctl(struct child_ctx *c, const struct shim_op *op)
{
    /* /proc/sys inside the container, never through a symlink */
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_WRONLY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS;
    int fd = (int)syscall(SYS_openat2, c->root_fd, op->s1, &how, sizeof how);
    if (fd < 0)
        return shim_fail(c, errno, "open sysctl \"%s\"", op->s1);
    int rc = write_all(fd, op->s2);
    close(fd);
    return rc < 0 ? shim_fail(c, -rc, "write sysctl \"%s\" = \"%s\"", op->s1, op->s2) : 0;
}

int op_rlimit(struct child_ctx *c, const struct shim_op *op)
{
    struct rlimit rl = {.rlim_cur = (rlim_t)op->u1, .rlim_max = (rlim_t)op->u2};
    if (prlimit(0, (int)op->n1, &rl, NULL) < 0)
        return shim_fail(c, errno, "setrlimit %lld (soft %llu, hard %llu)", op->n1, op->u1, op->u2);
    return 0;
}

int op_keyring(struct child_ctx *c, const struct shim_op *op)
{
    char desc[512];
    unsigned int perm;
    long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, op->s1, 0, 0, 0);
    if (id < 0) {
        if (errno == ENOSYS)
            return 0;
        return shim_fail(c, errno, "join session keyring \"%s\"", op->s1);
    }
    long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, id, desc, sizeof desc - 1, 0);
    if (n < 0)
        return shim_fail(c, errno, "describe session keyring");
    desc[n < (long)sizeof desc ? n : (long)sizeof desc - 1] = 0;
    /* "type;uid;gid;perm;description": let the possessor's user search it */
    char *p = desc;
    for (int i = 0; i < 3 && p; i++) {
        p = strchr(p, ';');
        if (p)
            p++;
    }
    if (p == NULL)
        return shim_fail(c, EINVAL, "parse session keyring description");
    perm = (unsigned int)strtoul(p, NULL, 16) | KEY_USR_SEARCH;
    if (syscall(SYS_keyctl, KEYCTL_SETPERM, id, perm, 0, 0) < 0)
        return shim_fail(c, errno, "set session keyring permissions");
    return 0;
}

int op_loopback_up(struct child_ctx *c, const struct shim_op *op)
{
    (void)op;
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return shim_fail(c, errno, "socket for loopback");
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        int e = errno;
        close(s);
        return shim_fail(c, e, "get loopback flags");
    }
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
        int e = errno;
        close(s);
        return shim_fail(c, e, "bring loopback up");
    }
    close(s);
    return 0;
}

int op_setsid(struct child_ctx *c, const struct shim_op *op)
{
    (void)op;
    if (setsid() < 0)
        return shim_fail(c, errno, "setsid");
    return 0;
}

int op_chdir(struct child_ctx *c, const struct shim_op *op)
{
    static int done;
    char buf[4096];
    /* n1 == 1: first try, as root, before the user is set; a permission error is
     * retried (n1 == 2) as the container user, like runc. */
    if (op->n1 == 2 && done)
        return 0;
    if (chdir(op->s1) < 0) {
        if (op->n1 == 1 && (errno == EACCES || errno == EPERM))
            return 0;
        return shim_fail(c, errno, "chdir to cwd (\"%s\") set in config.json failed", op->s1);
    }
    /* A cwd reached through a leaked fd would lie outside the root (CVE-2024-21626). */
    if (getcwd(buf, sizeof buf) == NULL || buf[0] != '/')
        return shim_fail(c, errno ? errno : EPERM,
                         "current working directory \"%s\" is outside of container mount namespace root",
                         op->s1);
    done = 1;
    return 0;
}

int op_umask(struct child_ctx *c, const struct shim_op *op)
{
    umask(op->n1 < 0 ? c->caller_umask : (mode_t)op->n1);
    return 0;
}

int op_personality(struct child_ctx *c, const struct shim_op *op)
{
    if (personality((unsigned long)op->n1) < 0)
        return shim_fail(c, errno, "personality 0x%llx", (unsigned long long)op->n1);
    return 0;
}

static const char *env_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (; envp && *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

/* One line of fd into line (at most size-1 bytes: the rest of a longer line is
 * dropped), through buf; 0 at the end. read(2) only: the child may not allocate (a
 * caller's other threads may have held malloc's locks when it was cloned). */
struct line_reader {
    int fd;
    size_t pos, len;
    char buf[4096];
};

static int read_line(struct line_reader *r, char *line, size_t size)
{
    size_t n = 0;
    int any = 0;
    for (;;) {
        if (r->pos == r->len) {
            ssize_t got = read(r->fd, r->buf, sizeof r->buf);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                break;
            r->pos = 0;
            r->len = (size_t)got;
        }
        char ch = r->buf[r->pos++];
        any = 1;
        if (n + 1 < size)
            line[n++] = ch;
        if (ch == '\n')
            break;
    }
    line[n] = 0;
    return any;
}

/* HOME from the container's /etc/passwd, "/" when the uid has no entry. */
int op_home_env(struct child_ctx *c, const struct shim_op *op)
{
    static char home[4096 + 8];
    static struct line_reader f;
    char line[4096];
    const char *dir = "/";
    size_t n = 0;

    if (env_get(c->envp, "HOME"))
        return 0;
    f.fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    f.pos = f.len = 0;
    while (f.fd >= 0 && read_line(&f, line, sizeof line)) {
        /* name:passwd:uid:gid:gecos:dir:shell */
        char *field[7];
        int k = 0;
        char *p = line;
        field[k++] = p;
        while (k < 7 && (p = strchr(p, ':')) != NULL) {
            *p++ = 0;
            field[k++] = p;
        }
        if (k < 7)
            continue;
        field[6][strcspn(field[6], "\n")] = 0;
        char *end;
        unsigned long uid = strtoul(field[2], &end, 10);
        if (*end == 0 && field[2][0] && uid == (unsigned long)op->n1) {
            snprintf(home, sizeof home, "HOME=%s", field[5][0] ? field[5] : "/");
            dir = NULL;
            break;
        }
    }
    if (f.fd >= 0)
        close(f.fd);
    if (dir)
        snprintf(home, sizeof home, "HOME=%s", dir);
    /* the plan's envp has a spare NULL slot after its terminator for this (shim.h):
     * no fixed-size copy that could drop variables */
    char **env = (char **)c->envp;
    while (env[n])
        n++;
    env[n] = home;
    env[n + 1] = NULL;
    return 0;
}

/* sd_listen_fds(3) in the container accepts the fds only when LISTEN_PID is the pid of
 * the process reading it: known here only, after clone (1 in a new pid namespace, as
 * crun's and runc's constant; the real one in a shared or joined namespace). */
int op_listen_pid(struct child_ctx *c, const struct shim_op *op)
{
    static char buf[32];
    char **env = (char **)c->envp;
    snprintf(buf, sizeof buf, "LISTEN_PID=%d", (int)getpid());
    env[op->n1] = buf;
    return 0;
}

/* Go's exec.LookPath (runc 1.1.5 is built with go1.19): a stat failure is reported as
 * "stat PATH: ...", a directory or a file without any x bit as a bare "permission
 * denied". Returns 0, -errno of stat (*from_stat = 1), or -EACCES (*from_stat = 0). */
static int is_executable(const char *path, int *from_stat)
{
    struct stat st;
    *from_stat = 1;
    if (stat(path, &st) < 0)
        return -errno;
    *from_stat = 0;
    if (S_ISDIR(st.st_mode) || (st.st_mode & 0111) == 0)
        return -EACCES;
    return 0;
}

int op_lookup_exec(struct child_ctx *c, const struct shim_op *op)
{
    (void)op;
    const char *file = c->plan->argv[0];
    int rc, from_stat;
    if (strchr(file, '/')) {
        rc = is_executable(file, &from_stat);
        if (rc < 0 && from_stat)
            return shim_fail(c, -rc, "exec: \"%s\": stat %s", file, file);
        if (rc < 0)
            return shim_fail(c, -rc, "exec: \"%s\"", file);
        snprintf(c->exec_path, sizeof c->exec_path, "%s", file);
        return 0;
    }
    const char *path = env_get(c->envp, "PATH");
    while (path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        if (n == 0)
            snprintf(c->exec_path, sizeof c->exec_path, "./%s", file);
        else
            snprintf(c->exec_path, sizeof c->exec_path, "%.*s/%s", (int)n, path, file);
        if (is_executable(c->exec_path, &from_stat) == 0)
            return 0;
        path = colon ? colon + 1 : NULL;
    }
    return shim_fail(c, SHIM_ENOERRNO, "exec: \"%s\": executable file not found in $PATH", file);
}

/* Go's name for a signal, as runc reports a hook killed by one ("signal: killed"):
 * glibc's description with a lower-case first letter; "signal N" past the classic 31. */
static void go_signal(int status, char *buf, size_t n)
{
    int sig = WTERMSIG(status);
    const char *d = sig >= 1 && sig <= 31 ? strsignal(sig) : NULL;
    if (d && d[0])
        snprintf(buf, n, "%c%s%s", (d[0] >= 'A' && d[0] <= 'Z') ? d[0] + 32 : d[0], d + 1,
                 WCOREDUMP(status) ? " (core dumped)" : "");
    else
        snprintf(buf, n, "signal %d%s", sig, WCOREDUMP(status) ? " (core dumped)" : "");
}

struct hook_out {
    int fd;
    size_t len;
    char buf[360];  /* what fits the error report; the rest is read and dropped */
};

/* Read what is there without blocking; 1 at end of file. */
static int hook_drain(struct hook_out *o)
{
    char junk[4096];
    for (;;) {
        size_t room = sizeof o->buf - 1 - o->len;
        char *dst = room ? o->buf + o->len : junk;
        ssize_t r = read(o->fd, dst, room ? room : sizeof junk);
        if (r > 0) {
            if (room)
                o->len += (size_t)r;
            continue;
        }
        if (r == 0)
            return 1;
        return errno == EAGAIN || errno == EINTR ? 0 : 1;
    }
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A createContainer or startContainer hook: forked from the init, so it runs in the
 * container's namespaces, with the state JSON on its stdin and its stdout and stderr
 * kept for the error report (never the container's own stdio), as runc runs them.
 * n2 is the hook's index, n3 set: run it in the rootfs (createContainer, as runc). */
int op_hook(struct child_ctx *c, const struct shim_op *op)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1}, ex[2] = {-1, -1};
    char pidbuf[16];
    long long idx = op->n2;
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0 ||
        pipe2(errp, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(ex, O_CLOEXEC) < 0) {
        int e = errno;
        int *all[] = {in, out, errp, ex};
        for (size_t i = 0; i < 4; i++) {
            if (all[i][0] >= 0) close(all[i][0]);
            if (all[i][1] >= 0) close(all[i][1]);
        }
        return shim_fail(c, e, "error running hook #%lld: pipe", idx);
    }
    /* a raw clone, not fork(3): glibc's fork takes malloc's and its own locks, which a
     * child cloned from a multi-threaded caller may have inherited held */
    pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) {
        int e = errno;
        close(in[0]); close(in[1]); close(out[0]); close(out[1]);
        close(errp[0]); close(errp[1]); close(ex[0]); close(ex[1]);
        return shim_fail(c, e, "error running hook #%lld: fork/exec %s", idx, op->s1);
    }
    if (pid == 0) {
        /* the write ends were made non-blocking with their read ends: a hook's stdout
         * must block as any pipe does */
        fcntl(out[1], F_SETFL, 0);
        fcntl(errp[1], F_SETFL, 0);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(errp[1], 2);
        int e = 0;
        if (op->n3 && c->root_fd >= 0 && fchdir(c->root_fd) < 0)
            e = errno;
        if (!e) {
            execve(op->s1, op->v1, op->v2 ? op->v2 : c->envp);
            e = errno;
        }
        (void)!write(ex[1], &e, sizeof e);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(errp[1]);
    close(ex[1]);
    int status, e = 0;
    ssize_t got;
    do
        got = read(ex[0], &e, sizeof e);   /* end of file: the exec happened */
    while (got < 0 && errno == EINTR);
    close(ex[0]);
    if (got == (ssize_t)sizeof e) {
        close(in[1]); close(out[0]); close(errp[0]);
        waitpid(pid, &status, 0);
        return shim_fail(c, e, "error running hook #%lld: fork/exec %s", idx, op->s1);
    }
    /* the pid as the container sees it, as runc's init reports it to these hooks */
    snprintf(pidbuf, sizeof pidbuf, "%d", (int)getpid());
    /* a hook that does not read its stdin must not make us fail */
    (void)!write(in[1], op->s2, strlen(op->s2));
    (void)!write(in[1], pidbuf, strlen(pidbuf));
    (void)!write(in[1], op->s3, strlen(op->s3));
    close(in[1]);
    struct hook_out o = {.fd = out[0]}, r = {.fd = errp[0]};
    int o_eof = 0, r_eof = 0, exited = 0;
    long long deadline = op->n1 > 0 && op->n1 < 9000000000000LL ? now_ms() + op->n1 * 1000 : -1;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            exited = 1;
        else if (w < 0 && errno != EINTR) {
            close(out[0]); close(errp[0]);
            return shim_fail(c, errno, "error running hook #%lld: wait", idx);
        }
        if (!o_eof) o_eof = hook_drain(&o);
        if (!r_eof) r_eof = hook_drain(&r);
        /* an exited hook's background children may hold its pipes: stop at its exit */
        if (exited)
            break;
        if (deadline >= 0 && now_ms() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            close(out[0]); close(errp[0]);
            return shim_fail(c, SHIM_ENOERRNO, "error running hook #%lld: hook ran past specified timeout of %.1fs",
                             idx, (double)op->n1);
        }
        struct pollfd p[2] = {{.fd = o_eof ? -1 : out[0], .events = POLLIN}, {.fd = r_eof ? -1 : errp[0], .events = POLLIN}};
        /* a child's exit wakes no poll: look again every few milliseconds */
        (void)poll(p, 2, o_eof && r_eof ? 5 : 10);
    }
    close(out[0]);
    close(errp[0]);
    o.buf[o.len] = r.buf[r.len] = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char why[64];
    if (WIFEXITED(status))
        snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(status));
    else {
        char name[48];
        go_signal(status, name, sizeof name);
        snprintf(why, sizeof why, "signal: %s", name);
    }
    return shim_fail(c, SHIM_ENOERRNO, "error running hook #%lld: error running hook: %s, stdout: %s, stderr: %s",
                     idx, why, o.buf, r.buf);
}

int shim_rename_noreplace(const char *from, const char *to)
{
    /* glibc's renameat2 wrapper needs 2.28; the syscall is there since Linux 3.15 */
    if (syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, 1U /* RENAME_NOREPLACE */) < 0)
        return -errno;
    return 0;
}
