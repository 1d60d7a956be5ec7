/* probe: a static multi-call binary copied into every test rootfs as /probe.
 *
 * `probe report [SECTION...]` prints what the process sees as `key: value`
 * lines, sorted within each section, leaving out what changes from run to run
 * (inode numbers, pids of other processes), so two runtimes' outputs diff
 * cleanly.  The other verbs are small actions for tests.  Failures print the
 * errno name (ENOENT, EPERM, ...), never strerror text. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

extern char **environ;

static const char *errname(int e)
{
    static char buf[16];
    const char *n = strerrorname_np(e);
    if (n)
        return n;
    snprintf(buf, sizeof buf, "E%d", e);
    return buf;
}

/* print the errno name of a failed action and return its exit code */
static int fail(int e)
{
    printf("%s\n", errname(e));
    return 1;
}

/* ---- a section's lines, sorted before printing ---- */

struct lines {
    char **v;
    size_t n, cap;
};

__attribute__((format(printf, 2, 3))) static void add(struct lines *l, const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        if (!(l->v = realloc(l->v, l->cap * sizeof *l->v)))
            abort();
    }
    l->v[l->n++] = s;
}

/* strcmp, except that runs of digits compare by value: fd.2 < fd.10 */
static int natcmp(const char *a, const char *b)
{
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            while (*a == '0') a++;
            while (*b == '0') b++;
            size_t la = strspn(a, "0123456789"), lb = strspn(b, "0123456789");
            int c = la != lb ? (la < lb ? -1 : 1) : strncmp(a, b, la);
            if (c)
                return c;
            a += la;
            b += lb;
        } else if (*a != *b) {
            break;
        } else {
            a++;
            b++;
        }
    }
    return (unsigned char)*a - (unsigned char)*b;
}

static int cmp_nat(const void *x, const void *y) { return natcmp(*(char *const *)x, *(char *const *)y); }
static int cmp_str(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

static int cmp_gid(const void *x, const void *y)
{
    gid_t a = *(const gid_t *)x, b = *(const gid_t *)y;
    return a < b ? -1 : a > b;
}

static void print_lines(struct lines *l)
{
    qsort(l->v, l->n, sizeof *l->v, cmp_nat);
    for (size_t i = 0; i < l->n; i++) {
        puts(l->v[i]);
        free(l->v[i]);
    }
    free(l->v);
    *l = (struct lines){0};
}

/* first line of a small file, without its newline; NULL with errno set */
static char *read_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *r = fgets(buf, (int)size, f);
    fclose(f);
    if (!r) {
        errno = ENODATA;
        return NULL;
    }
    buf[strcspn(buf, "\n")] = 0;
    return buf;
}

/* the value of one `Key:\tvalue` line of /proc/self/status, or an errno name */
static const char *status_value(const char *key, char *buf, size_t size)
{
    FILE *f = fopen("/proc/self/status", "re");
    size_t klen = strlen(key);
    if (!f)
        return errname(errno);
    while (fgets(buf, (int)size, f))
        if (!strncmp(buf, key, klen) && buf[klen] == ':') {
            fclose(f);
            char *v = buf + klen + 1;
            v += strspn(v, " \t");
            v[strcspn(v, "\n")] = 0;
            return v;
        }
    fclose(f);
    return "missing";
}

/* ---- report sections ---- */

static void sec_ids(struct lines *l)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg, groups[NGROUPS_MAX];
    char buf[NGROUPS_MAX * 12] = "";
    size_t off = 0;
    getresuid(&ru, &eu, &su);
    getresgid(&rg, &eg, &sg);
    add(l, "uid: %u", ru);
    add(l, "euid: %u", eu);
    add(l, "suid: %u", su);
    add(l, "gid: %u", rg);
    add(l, "egid: %u", eg);
    add(l, "sgid: %u", sg);
    int n = getgroups(NGROUPS_MAX, groups);
    qsort(groups, n > 0 ? (size_t)n : 0, sizeof *groups, cmp_gid);
    for (int i = 0; i < n; i++)
        off += snprintf(buf + off, sizeof buf - off, " %u", groups[i]);
    add(l, "groups:%s", buf);
}

static void sec_caps(struct lines *l)
{
    static const char *const keys[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
                                       "NoNewPrivs", "Seccomp"};
    char buf[512];
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        add(l, "%s: %s", keys[i], status_value(keys[i], buf, sizeof buf));
}

static void sec_proc(struct lines *l)
{
    char buf[PATH_MAX];
    struct utsname u;
    add(l, "pid: %d", getpid());
    add(l, "ppid: %d", getppid());
    add(l, "sid_is_pid: %s", getsid(0) == getpid() ? "yes" : "no");
    add(l, "pgid_is_pid: %s", getpgid(0) == getpid() ? "yes" : "no");
    add(l, "cwd: %s", syscall(SYS_getcwd, buf, sizeof buf) >= 0 ? buf : errname(errno));
    add(l, "umask: %s", status_value("Umask", buf, sizeof buf));
    add(l, "oom_score_adj: %s",
        read_line("/proc/self/oom_score_adj", buf, sizeof buf) ? buf : errname(errno));
    if (uname(&u) == 0) {
        add(l, "hostname: %s", u.nodename);
        add(l, "domainname: %s", u.domainname);
    }
    add(l, "personality: 0x%x", (unsigned)personality(0xffffffff));
}

static const char *rlim_str(rlim_t v, char *buf, size_t size)
{
    if (v == RLIM_INFINITY)
        return "unlimited";
    snprintf(buf, size, "%llu", (unsigned long long)v);
    return buf;
}

static void sec_rlimits(struct lines *l)
{
#define L(x) {#x, RLIMIT_##x}
    static const struct { const char *name; int res; } lim[] = {
        L(AS), L(CORE), L(CPU), L(DATA), L(FSIZE), L(LOCKS), L(MEMLOCK), L(MSGQUEUE),
        L(NICE), L(NOFILE), L(NPROC), L(RSS), L(RTPRIO), L(RTTIME), L(SIGPENDING), L(STACK),
    };
#undef L
    for (size_t i = 0; i < ARRAY_SIZE(lim); i++) {
        struct rlimit r;
        char s[32], h[32];
        if (getrlimit(lim[i].res, &r) < 0)
            add(l, "RLIMIT_%s: %s", lim[i].name, errname(errno));
        else
            add(l, "RLIMIT_%s: %s %s", lim[i].name, rlim_str(r.rlim_cur, s, sizeof s),
                rlim_str(r.rlim_max, h, sizeof h));
    }
}

static void sec_fds(struct lines *l)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    if (!d) {
        add(l, "fds: %s", errname(errno));
        return;
    }
    while ((e = readdir(d))) {
        char target[PATH_MAX];
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        ssize_t n = readlinkat(dirfd(d), e->d_name, target, sizeof target - 1);
        if (n < 0) {
            add(l, "fd.%s: %s", e->d_name, errname(errno));
            continue;
        }
        target[n] = 0;
        if (!strncmp(target, "pipe:[", 6) || !strncmp(target, "socket:[", 8))
            *strchr(target, '[') = 0;       /* drop the inode number */
        add(l, "fd.%s: %s", e->d_name, target);
    }
    closedir(d);
}

/* per-mount options plus superblock options (but not its rw/ro), sorted, unique */
static void merge_options(char *out, size_t size, char *mnt_opts, char *super_opts)
{
    char *opts[128], *save, *tok;
    size_t n = 0, off = 0;
    for (tok = strtok_r(mnt_opts, ",", &save); tok && n < 128; tok = strtok_r(NULL, ",", &save))
        opts[n++] = tok;
    for (tok = strtok_r(super_opts, ",", &save); tok && n < 128; tok = strtok_r(NULL, ",", &save))
        if (strcmp(tok, "rw") && strcmp(tok, "ro"))
            opts[n++] = tok;
    qsort(opts, n, sizeof *opts, cmp_str);
    out[0] = 0;
    for (size_t i = 0; i < n && off < size; i++)
        if (i == 0 || strcmp(opts[i], opts[i - 1]))
            off += snprintf(out + off, size - off, "%s%s", off ? "," : "", opts[i]);
}

/* mountinfo: id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
static void sec_mounts(struct lines *l)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char *line = NULL, opts[4096];
    size_t cap = 0;
    if (!f) {
        add(l, "mount: %s", errname(errno));
        return;
    }
    while (getline(&line, &cap, f) > 0) {
        char *field[64], *save, *tok;
        int n = 0, sep = -1;
        line[strcspn(line, "\n")] = 0;
        for (tok = strtok_r(line, " ", &save); tok && n < 64; tok = strtok_r(NULL, " ", &save)) {
            if (sep < 0 && n >= 6 && !strcmp(tok, "-"))
                sep = n;
            field[n++] = tok;
        }
        if (sep < 0 || n < sep + 4)
            continue;
        merge_options(opts, sizeof opts, field[5], field[sep + 3]);
        add(l, "mount: %s %s %s", field[4], field[sep + 1], opts);
    }
    free(line);
    fclose(f);
}

static void sec_env(struct lines *l)
{
    for (char **e = environ; *e; e++)
        add(l, "env: %s", *e);
}

static const char *file_type(mode_t mode)
{
    return S_ISCHR(mode) ? "char" : S_ISBLK(mode) ? "block" : S_ISDIR(mode) ? "dir"
         : S_ISLNK(mode) ? "link" : S_ISFIFO(mode) ? "fifo" : S_ISSOCK(mode) ? "socket" : "file";
}

/* device: PATH TYPE MAJOR:MINOR|- MODE UID:GID [-> TARGET] */
static void sec_devices(struct lines *l)
{
    DIR *d = opendir("/dev");
    struct dirent *e;
    if (!d) {
        add(l, "device: %s", errname(errno));
        return;
    }
    while ((e = readdir(d))) {
        char target[PATH_MAX] = " -> ", devno[32] = "-";
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            add(l, "device: /dev/%s %s", e->d_name, errname(errno));
            continue;
        }
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
            snprintf(devno, sizeof devno, "%u:%u", major(st.st_rdev), minor(st.st_rdev));
        ssize_t n = S_ISLNK(st.st_mode) ? readlinkat(dirfd(d), e->d_name, target + 4, sizeof target - 5) : -1;
        target[n >= 0 ? 4 + n : 0] = 0;
        add(l, "device: /dev/%s %s %s %04o %u:%u%s", e->d_name, file_type(st.st_mode), devno,
            (unsigned)(st.st_mode & 07777), st.st_uid, st.st_gid, target);
    }
    closedir(d);
}

/* net.IFACE: up|down, from /proc/net/dev and SIOCGIFFLAGS */
static void sec_net(struct lines *l)
{
    FILE *f = fopen("/proc/net/dev", "re");
    char line[512];
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), serr = errno;
    if (!f)
        add(l, "net: %s", errname(errno));
    for (int i = 0; f && fgets(line, sizeof line, f); i++) {
        char *name = line + strspn(line, " "), *colon = strchr(line, ':');
        struct ifreq ifr = {0};
        if (i < 2 || !colon)                /* two header lines */
            continue;
        *colon = 0;
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
        if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
            add(l, "net.%s: %s", name, errname(s < 0 ? serr : errno));
        else
            add(l, "net.%s: %s", name, (ifr.ifr_flags & IFF_UP) ? "up" : "down");
    }
    if (f)
        fclose(f);
    if (s >= 0)
        close(s);
}

static void sec_ns(struct lines *l)
{
    static const char *const names[] = {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children",
                                        "time", "time_for_children", "user", "uts"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        char path[64];
        struct stat st;
        snprintf(path, sizeof path, "/proc/self/ns/%s", names[i]);
        add(l, "ns.%s: %s", names[i], lstat(path, &st) == 0 ? "yes" : "no");
    }
}

static void sec_tty(struct lines *l)
{
    char buf[1024], *p;
    int ppid, pgrp, sid, tty_nr;
    for (int fd = 0; fd <= 2; fd++) {
        const char *name = isatty(fd) ? ttyname(fd) : NULL;
        add(l, "tty.%d: %s", fd, isatty(fd) ? (name ? name : "yes") : "no");
    }
    if (!read_line("/proc/self/stat", buf, sizeof buf))
        add(l, "ctty: %s", errname(errno));
    else if ((p = strrchr(buf, ')')) && sscanf(p + 1, " %*c %d %d %d %d", &ppid, &pgrp, &sid, &tty_nr) == 4)
        add(l, "ctty: %s", tty_nr ? "yes" : "no");  /* field 7, tty_nr */
    else
        add(l, "ctty: unknown");
}

static const struct section {
    const char *name;
    void (*fn)(struct lines *);
} sections[] = {
    {"ids", sec_ids}, {"caps", sec_caps}, {"proc", sec_proc}, {"rlimits", sec_rlimits},
    {"fds", sec_fds}, {"mounts", sec_mounts}, {"env", sec_env}, {"devices", sec_devices},
    {"net", sec_net}, {"ns", sec_ns}, {"tty", sec_tty},
};

/* the named sections in the order given, or all of them */
static int cmd_report(int argc, char **argv)
{
    struct lines l = {0};
    size_t n = argc > 0 ? (size_t)argc : ARRAY_SIZE(sections);
    for (size_t i = 0, j = 0; i < n; i++) {
        for (j = 0; argc > 0 && j < ARRAY_SIZE(sections) && strcmp(argv[i], sections[j].name); j++)
            ;
        if (j == ARRAY_SIZE(sections)) {
            fprintf(stderr, "probe: unknown section %s\n", argv[i]);
            return 2;
        }
        sections[argc > 0 ? j : i].fn(&l);
        print_lines(&l);
    }
    return 0;
}

/* ---- action verbs ---- */

static int cmd_sleep(int argc, char **argv)
{
    double secs = argc > 0 ? strtod(argv[0], NULL) : 3600;
    struct timespec ts = {(time_t)secs, (long)((secs - (time_t)secs) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return 0;
}

static int cmd_exit(int argc, char **argv)
{
    return argc > 0 ? atoi(argv[0]) : 0;
}

/* prints "survived" when the signal did not kill (pid 1 of a pid namespace) */
static int cmd_kill_self(int argc, char **argv)
{
    int sig = argc > 0 ? atoi(argv[0]) : SIGKILL;
    sigset_t set;
    signal(sig, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    fflush(stdout);
    if (kill(getpid(), sig) < 0)
        return fail(errno);
    usleep(100000);
    puts("survived");
    return 1;
}

static int cmd_write(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    size_t len = strlen(argv[1]);
    int fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(errno);
    if (write(fd, argv[1], len) != (ssize_t)len) {
        int e = errno;
        close(fd);
        return fail(e);
    }
    if (close(fd) < 0)
        return fail(errno);
    puts("ok");
    return 0;
}

static int cmd_read(int argc, char **argv)
{
    char buf[8192];
    ssize_t n;
    if (argc < 1)
        return 2;
    int fd = open(argv[0], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(errno);
    while ((n = read(fd, buf, sizeof buf)) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    int e = errno;
    close(fd);
    return n < 0 ? fail(e) : 0;
}

/* `open PATH r|w|rw`: open and close again, nothing read or written; prints ok or the errno */
static int cmd_open(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    int flags = !strcmp(argv[1], "w") ? O_WRONLY : !strcmp(argv[1], "rw") ? O_RDWR : O_RDONLY;
    int fd = open(argv[0], flags | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return fail(errno);
    close(fd);
    puts("ok");
    return 0;
}

static int sig_pipe[2];

static void on_signal(int sig)
{
    int e = errno;
    unsigned char c = (unsigned char)sig;
    ssize_t r = write(sig_pipe[1], &c, 1);
    (void)r;
    errno = e;
}

/* real handlers, not sigwait: pid 1 of a pid namespace drops signals whose
 * disposition is the default, and tests must see what the runtime forwards */
static int cmd_signals(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    sigset_t none;
    unsigned char c;
    (void)argc;
    (void)argv;
    if (pipe2(sig_pipe, O_CLOEXEC) < 0)
        return fail(errno);
    sigfillset(&sa.sa_mask);
    for (int sig = 1; sig <= SIGRTMAX; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &sa, NULL);      /* the glibc-reserved ones fail: fine */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    puts("ready");
    fflush(stdout);
    for (;;) {
        ssize_t n = read(sig_pipe[0], &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != 1)
            return 1;
        printf("signal: %d\n", c);
        fflush(stdout);
        if (c == SIGTERM)
            return 0;
    }
}

/* forks up to N sleeping children, prints `forked: K` (and `error: ERRNO`), kills them */
static int cmd_forkbomb(int argc, char **argv)
{
    int want = argc > 0 ? atoi(argv[0]) : 10, got = 0, err = 0;
    pid_t *kids = calloc((size_t)want + 1, sizeof *kids), parent = getpid();
    fflush(stdout);
    for (; got < want; got++) {
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(0);
            for (;;)
                pause();
        }
        kids[got] = pid;
    }
    printf("forked: %d\n", got);
    if (err)
        printf("error: %s\n", errname(err));
    fflush(stdout);
    for (int i = 0; i < got; i++)
        kill(kids[i], SIGKILL);
    for (int i = 0; i < got; i++)
        waitpid(kids[i], NULL, 0);
    free(kids);
    return 0;
}

static int cmd_mem(int argc, char **argv)
{
    size_t mb = argc > 0 ? strtoul(argv[0], NULL, 10) : 1, len = mb << 20;
    long page = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return fail(errno);
    for (size_t off = 0; off < len; off += (size_t)page)
        p[off] = 1;
    printf("touched: %zu\n", mb);
    return 0;
}

/* "uts,net" -> CLONE_NEWUTS|CLONE_NEWNET; a number is taken as is */
static unsigned long ns_flags(const char *spec)
{
    static const struct { const char *name; unsigned long flag; } ns[] = {
        {"mnt", CLONE_NEWNS}, {"uts", CLONE_NEWUTS}, {"ipc", CLONE_NEWIPC}, {"net", CLONE_NEWNET},
        {"pid", CLONE_NEWPID}, {"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP},
        {"time", CLONE_NEWTIME},
    };
    char copy[256], *save, *tok;
    unsigned long flags = 0;
    if (isdigit((unsigned char)spec[0]))
        return strtoul(spec, NULL, 0);
    snprintf(copy, sizeof copy, "%s", spec);
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        for (size_t i = 0; i < ARRAY_SIZE(ns); i++)
            if (!strcmp(tok, ns[i].name))
                flags |= ns[i].flag;
    return flags;
}

/* raw syscalls, so a seccomp filter sees exactly the call named here */
static int cmd_syscall(int argc, char **argv)
{
    const char *name = argc > 0 ? argv[0] : "", *a1 = argc > 1 ? argv[1] : NULL;
    char buf[PATH_MAX];
    long r;
    if (!strcmp(name, "unshare"))
        r = syscall(SYS_unshare, ns_flags(a1 ? a1 : "uts"));
    else if (!strcmp(name, "keyctl"))       /* KEYCTL_GET_KEYRING_ID of the session keyring */
        r = syscall(SYS_keyctl, 0, -3, 0);
    else if (!strcmp(name, "mount") && argc >= 4)   /* no default: never mount by accident */
        r = syscall(SYS_mount, argv[1], argv[2], argv[3], 0UL, NULL);
    else if (!strcmp(name, "personality"))
        r = syscall(SYS_personality, a1 ? strtoul(a1, NULL, 0) : 0xffffffffUL);
    else if (!strcmp(name, "getcwd"))
        r = syscall(SYS_getcwd, buf, sizeof buf);
    else if (!strcmp(name, "chdir"))
        r = syscall(SYS_chdir, a1 ? a1 : "/");
    else {
        fprintf(stderr, "probe: unknown syscall or missing arguments: %s\n", name);
        return 2;
    }
    if (r < 0)
        return fail(errno);
    puts("ok");
    return 0;
}

static int cmd_exec(int argc, char **argv)
{
    if (argc < 1)
        return 2;
    fflush(stdout);
    execv(argv[0], argv);
    printf("%s\n", errname(errno));
    return 127;
}

/* ---- hunt: the CVE-2019-5736 attacker ---- */

/* true if `fd` (or, with fd < 0, the file /proc/PID/exe names) is a file of this
 * container: the path its link names, looked up in here, is the same inode */
static int own_file(int fd, const char *link)
{
    char self[64], target[PATH_MAX];
    struct stat a, b;
    if (fd >= 0) {
        snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
        link = self;
    }
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0)
        return 0;
    target[n] = 0;
    if ((fd >= 0 ? fstat(fd, &a) : stat(link, &a)) < 0 || stat(target, &b) < 0)
        return 0;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* false once the process of /proc/PID/exe has exited (or is a zombie) */
static int alive(const char *exe_path)
{
    char target[PATH_MAX];
    return readlink(exe_path, target, sizeof target) >= 0 || errno != ENOENT;
}

/* open(path, flags) and close at once, nothing written: "ok" (a file that is not this
 * container's), "own" (one of this container's files) or the errno name */
static const char *try_open(const char *path, int flags)
{
    /* never block on a fifo, never take a terminal as the controlling one */
    int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return errname(errno);
    int own = own_file(fd, NULL);
    close(fd);
    return own ? "own" : "ok";
}

/* every entry of DIR opened O_WRONLY and O_RDONLY: the distinct results, "-" if none */
static void try_entries(const char *dir, char *out, size_t size)
{
    char seen[8][24];
    int nseen = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d) {
        snprintf(out, size, "%s", errname(errno));
        return;
    }
    while ((e = readdir(d))) {
        char path[PATH_MAX];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        const char *r[2] = {try_open(path, O_WRONLY), try_open(path, O_RDONLY)};
        for (int k = 0; k < 2; k++) {
            int i;
            for (i = 0; i < nseen && strcmp(seen[i], r[k]); i++)
                ;
            if (i == nseen && nseen < 8)
                snprintf(seen[nseen++], sizeof seen[0], "%s", r[k]);
        }
    }
    closedir(d);
    out[0] = 0;
    for (int i = 0; i < nseen; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "," : "", seen[i]);
    if (!nseen)
        snprintf(out, size, "-");
}

/* `hunt SECS`: for SECS seconds, find every process whose /proc/PID/exe is not a file
 * of this container (a runtime joining it with `exec`) and try to open its binary for
 * writing: /proc/PID/exe O_WRONLY and O_RDWR, O_PATH and then a reopen for writing
 * through /proc/self/fd, and every /proc/PID/fd and /proc/PID/map_files entry (each
 * also O_RDONLY).  Never writes.  Prints `ready`, one `foreign:` line per new
 * observation of a process, and `scans: N` at the end.  An observation during which
 * the process exec'd a file of this container, or exited, is dropped (it is no longer
 * foreign, or cannot be told).
 * "ok" in a line is an open of something outside the container that should have failed. */
static int cmd_hunt(int argc, char **argv)
{
    double secs = argc > 0 ? strtod(argv[0], NULL) : 10;
    struct timespec now, end;
    static char last[64][1024];
    static int last_pid[64];
    long scans = 0;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += (time_t)secs;
    end.tv_nsec += (long)((secs - (time_t)secs) * 1e9);
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    puts("ready");
    fflush(stdout);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
            break;
        DIR *d = opendir("/proc");
        struct dirent *e;
        if (!d)
            return fail(errno);
        while ((e = readdir(d))) {
            char exe_path[64], path[64], target[PATH_MAX], comm[64] = "?", buf[512], line[1024];
            char fds[128], maps[128], reopen[24] = "-";
            int pid = atoi(e->d_name);
            if (pid <= 0 || pid == getpid())
                continue;
            snprintf(path, sizeof path, "/proc/%d/stat", pid);
            if (read_line(path, buf, sizeof buf)) {
                char *l = strchr(buf, '('), *r = strrchr(buf, ')');
                if (l && r && r > l)
                    snprintf(comm, sizeof comm, "%.*s", (int)(r - l - 1), l + 1);
            }
            snprintf(exe_path, sizeof exe_path, "/proc/%d/exe", pid);
            ssize_t n = readlink(exe_path, target, sizeof target - 1);
            if (n < 0 && errno == ENOENT)
                continue;       /* gone, or a zombie */
            const char *exe = n < 0 ? errname(errno) : target;
            if (n >= 0) {
                target[n] = 0;
                if (own_file(-1, exe_path) || !alive(exe_path))
                    continue;
            }
            const char *wronly = try_open(exe_path, O_WRONLY), *rdwr = try_open(exe_path, O_RDWR);
            int pfd = open(exe_path, O_PATH | O_CLOEXEC);
            const char *opath = pfd < 0 ? errname(errno) : own_file(pfd, NULL) ? "own" : "ok";
            if (pfd >= 0) {
                char self[64];
                snprintf(self, sizeof self, "/proc/self/fd/%d", pfd);
                snprintf(reopen, sizeof reopen, "%s", try_open(self, O_WRONLY));
                close(pfd);
            }
            snprintf(path, sizeof path, "/proc/%d/fd", pid);
            try_entries(path, fds, sizeof fds);
            snprintf(path, sizeof path, "/proc/%d/map_files", pid);
            try_entries(path, maps, sizeof maps);
            if (own_file(-1, exe_path) || !alive(exe_path))
                continue;       /* it exec'd the container's binary, or exited, meanwhile */
            snprintf(line, sizeof line, "foreign: pid=%d comm=%s exe=%.300s wronly=%s rdwr=%s path=%s reopen=%s "
                     "fds=%s map_files=%s", pid, comm, exe, wronly, rdwr, opath, reopen, fds, maps);
            int slot = pid % 64;
            if (last_pid[slot] == pid && !strcmp(last[slot], line))
                continue;
            last_pid[slot] = pid;
            snprintf(last[slot], sizeof last[slot], "%s", line);
            puts(line);
            fflush(stdout);
        }
        closedir(d);
        scans++;
    }
    printf("scans: %ld\n", scans);
    return 0;
}

/* ---- seccomp actions told apart (integration/test_seccomp.py) ---- */

static int run_verb(int argc, char **argv);

struct thread_call {
    int argc;
    char **argv;
};

static void *thread_main(void *p)
{
    struct thread_call *t = p;
    printf("thread: exit %d\n", run_verb(t->argc, t->argv));
    return NULL;
}

/* `in-thread VERB [ARGS...]`: VERB runs in a second thread, the main one waits for it and
 * then prints `main: alive`.  A seccomp KILL_THREAD in the second thread ends only that
 * thread (no `thread: exit N`, but `main: alive`); KILL_PROCESS ends them both. */
static int cmd_in_thread(int argc, char **argv)
{
    struct thread_call t = {argc, argv};
    pthread_t th;
    int e;
    setvbuf(stdout, NULL, _IONBF, 0);       /* what was printed survives a kill */
    if (argc < 1)
        return 2;
    if ((e = pthread_create(&th, NULL, thread_main, &t)) || (e = pthread_join(th, NULL)))
        return fail(e);
    puts("main: alive");
    return 0;
}

static volatile sig_atomic_t sigsys_count;
static volatile int sigsys_nr, sigsys_code;
static volatile unsigned sigsys_arch;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    sigsys_count++;
    sigsys_nr = si->si_syscall;
    sigsys_arch = si->si_arch;
    sigsys_code = si->si_code;
#ifdef __x86_64__
    ((ucontext_t *)uc)->uc_mcontext.gregs[REG_RAX] = -ENOSYS;   /* what the trapped call returns */
#else
    (void)uc;
#endif
}

/* `trap VERB [ARGS...]`: VERB runs with a SIGSYS handler (SA_SIGINFO); a call a seccomp
 * TRAP stops returns -ENOSYS (x86_64: the handler sets it).  After VERB, `sigsys: none` or
 * `sigsys: COUNT syscall=NR arch=0xAUDIT_ARCH code=SI_CODE` (SYS_SECCOMP is 1). */
static int cmd_trap(int argc, char **argv)
{
    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 1)
        return 2;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0)
        return fail(errno);
    int rc = run_verb(argc, argv);
    if (sigsys_count)
        printf("sigsys: %d syscall=%d arch=0x%x code=%d\n", (int)sigsys_count, sigsys_nr,
               sigsys_arch, sigsys_code);
    else
        puts("sigsys: none");
    return rc;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

/* `alarm SECS VERB [ARGS...]`: a SIGALRM handler without SA_RESTART and a timer of SECS,
 * then VERB (a blocked call the signal interrupts fails with EINTR); after it
 * `alarm: fired` or `alarm: none`. */
static int cmd_alarm(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = on_alarm};
    double secs = argc > 0 ? strtod(argv[0], NULL) : 1;
    struct itimerval it = {{0, 0}, {(time_t)secs, (long)((secs - (time_t)secs) * 1e6)}};
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2)
        return 2;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) < 0 || setitimer(ITIMER_REAL, &it, NULL) < 0)
        return fail(errno);
    int rc = run_verb(argc - 1, argv + 1);
    printf("alarm: %s\n", alarms ? "fired" : "none");
    return rc;
}

/* `int80 NR [ARG...]`: one call through the i386 ABI (int $0x80, up to three numeric
 * arguments) from this 64-bit process: `ok RET` or the errno name (x86_64 only; a kernel
 * without IA32 emulation kills the process with SIGSEGV). */
static int cmd_int80(int argc, char **argv)
{
#ifdef __x86_64__
    long a[3] = {0}, r;
    if (argc < 1 || argc > 4)
        return 2;
    for (int i = 1; i < argc; i++)
        a[i - 1] = (long)strtoul(argv[i], NULL, 0);
    r = strtol(argv[0], NULL, 0);
    fflush(stdout);
    __asm__ volatile("int $0x80" : "+a"(r) : "b"(a[0]), "c"(a[1]), "d"(a[2])
                     : "memory", "r8", "r9", "r10", "r11");
    r = (int)r;                             /* a 32-bit ABI's return value */
    if (r < 0 && r > -4096)
        return fail((int)-r);
    printf("ok %ld\n", r);
    return 0;
#else
    (void)argc;
    (void)argv;
    puts("unsupported");
    return 2;
#endif
}

/* `keyring`: the session keyring, as KEYCTL_GET_KEYRING_ID (no create),
 * KEYCTL_DESCRIBE ("type;uid;gid;perm;description") and KEYCTL_GET_SECURITY (its LSM
 * label: SELinux's, empty under other LSMs) see it; errno names on failure */
static int cmd_keyring(int argc, char **argv)
{
    (void)argc, (void)argv;
    char desc[512];
    long id = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
    if (id < 0)
        printf("session.id: %s\n", errname(errno));
    else
        printf("session.id: %ld\n", id);
    long n = syscall(SYS_keyctl, 6 /* KEYCTL_DESCRIBE */, -3, desc, sizeof desc - 1);
    if (n < 0)
        printf("session: %s\n", errname(errno));
    else {
        desc[n < (long)sizeof desc ? n : (long)sizeof desc - 1] = 0;
        printf("session: %s\n", desc);
    }
    long ln = syscall(SYS_keyctl, 17 /* KEYCTL_GET_SECURITY */, -3, desc, sizeof desc - 1);
    if (ln < 0)
        printf("session.label: %s\n", errname(errno));
    else {
        desc[ln < (long)sizeof desc ? ln : (long)sizeof desc - 1] = 0;
        printf("session.label: %s\n", desc);
    }
    return id < 0 || n < 0;
}

/* `sdnotify MSG`: MSG as one datagram to $NOTIFY_SOCKET (what sd_notify(3) does) */
static int cmd_sdnotify(int argc, char **argv)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (argc < 1 || !path || strlen(path) >= sizeof sa.sun_path) {
        puts("sdnotify: no NOTIFY_SOCKET");
        return 1;
    }
    strcpy(sa.sun_path, path);
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0 || sendto(s, argv[0], strlen(argv[0]), 0, (struct sockaddr *)&sa, sizeof sa) < 0) {
        printf("sdnotify: %s\n", errname(errno));
        return 1;
    }
    close(s);
    printf("sdnotify: sent %s\n", argv[0]);
    return 0;
}

static const struct verb {
    const char *name;
    int (*fn)(int, char **);
} verbs[] = {
    {"report", cmd_report}, {"sleep", cmd_sleep}, {"exit", cmd_exit},
    {"kill-self", cmd_kill_self}, {"write", cmd_write}, {"read", cmd_read}, {"open", cmd_open},
    {"signals", cmd_signals}, {"forkbomb", cmd_forkbomb}, {"mem", cmd_mem},
    {"syscall", cmd_syscall}, {"exec", cmd_exec}, {"hunt", cmd_hunt},
    {"in-thread", cmd_in_thread}, {"trap", cmd_trap}, {"alarm", cmd_alarm}, {"int80", cmd_int80},
    {"keyring", cmd_keyring}, {"sdnotify", cmd_sdnotify},
};

/* VERB [ARGS...] as main runs it, for the verbs that wrap another */
static int run_verb(int argc, char **argv)
{
    for (size_t i = 0; argc >= 1 && i < ARRAY_SIZE(verbs); i++)
        if (!strcmp(argv[0], verbs[i].name))
            return verbs[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "probe: unknown verb %s\n", argc >= 1 ? argv[0] : "");
    return 2;
}

int main(int argc, char **argv)
{
    for (size_t i = 0; argc >= 2 && i < ARRAY_SIZE(verbs); i++)
        if (!strcmp(argv[1], verbs[i].name))
            return verbs[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "usage: probe report [ids|caps|proc|rlimits|fds|mounts|env|devices|net|ns|tty]...\n"
                    "       probe sleep SECS | exit CODE | kill-self SIG | write PATH TEXT | read PATH\n"
                    "       probe open PATH r|w|rw\n"
                    "       probe signals | forkbomb N | mem MB | exec PATH [ARGS...] | hunt SECS\n"
                    "       probe syscall unshare [NS,...] | keyctl | mount SRC DST FSTYPE |"
                    " personality [N] | getcwd | chdir [DIR]\n"
                    "       probe in-thread VERB... | trap VERB... | alarm SECS VERB... | int80 NR [ARGS...]\n"
                    "       probe keyring | sdnotify MSG\n");
    return 2;
}
