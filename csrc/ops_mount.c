/* ops_mount.c: the rootfs, its mounts, devices, pivot_root, masked and read-only paths.
 *
 * Every path inside the container is resolved with openat2(RESOLVE_IN_ROOT) against the
 * rootfs fd, and mounts target the resulting fd through /proc/self/fd/N: a symlink in
 * the image, or one swapped in while we work, can only lead to another place inside the
 * rootfs (the CVE-2021-30465 class), never to a host path.
 */
#include "internal.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

struct shim_mount_attr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};

int open_in_root(struct child_ctx *c, const char *path, int flags)
{
    struct open_how how;
    int fd;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(O_PATH | O_CLOEXEC | flags);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    do
        fd = (int)syscall(SYS_openat2, c->root_fd, path, &how, sizeof how);
    while (fd < 0 && (errno == EAGAIN || errno == EINTR));
    return fd < 0 ? -errno : fd;
}

/* Split off the next path component; returns its length, 0 at the end. */
static size_t next_component(const char **p)
{
    const char *s = *p;
    while (*s == '/')
        s++;
    *p = s;
    size_t n = 0;
    while (s[n] && s[n] != '/')
        n++;
    return n;
}

/* Expand every symlink of `path` as if the rootfs were "/", leaving components that do
 * not exist yet as they are (securejoin's rule, which runc follows): the result has no
 * symlinks and no "..", so it can only name something inside the rootfs. */
int resolve_in_root(struct child_ctx *c, const char *path, char *out, size_t outlen)
{
    char todo[8192], link[4096];
    size_t olen = 0;
    int links = 0;
    if (snprintf(todo, sizeof todo, "%s", path) >= (int)sizeof todo)
        return -ENAMETOOLONG;
    out[0] = 0;
    const char *p = todo;
    for (;;) {
        size_t n = next_component(&p);
        if (n == 0)
            break;
        const char *comp = p;
        p += n;
        if (n == 1 && comp[0] == '.')
            continue;
        if (n == 2 && comp[0] == '.' && comp[1] == '.') {
            while (olen > 0 && out[olen - 1] != '/')
                olen--;
            if (olen > 0)
                olen--;
            out[olen] = 0;
            continue;
        }
        if (olen + n + 2 >= outlen)
            return -ENAMETOOLONG;
        size_t before = olen;
        out[olen++] = '/';
        memcpy(out + olen, comp, n);
        olen += n;
        out[olen] = 0;
        int fd = open_in_root(c, out, O_NOFOLLOW);
        if (fd == -ENOENT)
            continue;
        if (fd < 0)
            return fd;
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISLNK(st.st_mode)) {
            close(fd);
            continue;
        }
        /* procfs links (/proc/self, /proc/PID/fd/N, cwd, exe) are magic: their text names
         * whatever the kernel points them at, the runtime's own open files included
         * (CVE-2024-21626), never a path of the image */
        struct statfs sfs;
        if (fstatfs(fd, &sfs) < 0 || sfs.f_type == PROC_SUPER_MAGIC) {
            close(fd);
            return -ELOOP;
        }
        ssize_t ln = readlinkat(fd, "", link, sizeof link - 1);
        close(fd);
        if (ln < 0)
            return -errno;
        link[ln] = 0;
        if (++links > 40)
            return -ELOOP;
        /* splice the target in front of what is left */
        char rest[8192];
        if (snprintf(rest, sizeof rest, "%s/%s", link, p) >= (int)sizeof rest)
            return -ENAMETOOLONG;
        memcpy(todo, rest, strlen(rest) + 1);
        p = todo;
        if (link[0] == '/')
            olen = 0;
        else
            olen = before;
        out[olen] = 0;
    }
    if (olen == 0) {
        out[0] = '/';
        out[1] = 0;
    }
    return 0;
}

int mkdir_in_root(struct child_ctx *c, const char *path, int target_kind, int mode, char *resolved, size_t rlen)
{
    char buf[4096];
    char *rp = resolved ? resolved : buf;
    size_t rn = resolved ? rlen : sizeof buf;
    int rc = resolve_in_root(c, path, rp, rn);
    if (rc < 0)
        return rc;
    /* walk the symlink-free path: a component swapped for a symlink meanwhile is refused */
    const char *p = rp;
    int parent = dup(c->root_fd);
    if (parent < 0)
        return -errno;
    for (;;) {
        size_t n = next_component(&p);
        if (n == 0)
            break;
        char name[256];
        if (n >= sizeof name) {
            close(parent);
            return -ENAMETOOLONG;
        }
        memcpy(name, p, n);
        name[n] = 0;
        p += n;
        int last = next_component(&p) == 0;
        int want_dir = !(last && target_kind == MNT_TARGET_FILE);
        int fd = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC | (want_dir ? O_DIRECTORY : 0));
        if (fd < 0 && errno == ENOENT) {
            if (want_dir) {
                rc = mkdirat(parent, name, (mode_t)mode) < 0 ? -errno : 0;
            } else {
                int f = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                rc = f < 0 ? -errno : 0;
                if (f >= 0)
                    close(f);
            }
            if (rc < 0 && rc != -EEXIST) {
                close(parent);
                return rc;
            }
            fd = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC | (want_dir ? O_DIRECTORY : 0));
        }
        rc = fd < 0 ? -errno : 0;
        close(parent);
        if (fd < 0)
            return rc;
        parent = fd;
    }
    close(parent);
    return 0;
}

static int mount_setattr_fd(int fd, int recursive, uint64_t set, uint64_t clr, uint64_t prop)
{
    struct shim_mount_attr a = {.attr_set = set, .attr_clr = clr, .propagation = prop};
    unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
    return syscall(SYS_mount_setattr, fd, "", flags, &a, sizeof a) < 0 ? -errno : 0;
}

/* Without a /proc in the container (after pivot_root) there is no /proc/self/fd path to
 * mount on: the mount is made fd to fd instead (open_tree/fsmount, then move_mount). */
static int no_proc_fd(void) { return access("/proc/self/fd", F_OK) < 0; }

static int move_onto_fd(int mfd, int dst)
{
    int rc = (int)syscall(SYS_move_mount, mfd, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    rc = rc < 0 ? -errno : 0;
    close(mfd);
    return rc;
}

static int bind_fd_onto_fd(int src, int dst, int recursive)
{
    int mfd = (int)syscall(SYS_open_tree, src, "",
                           OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0));
    return mfd < 0 ? -errno : move_onto_fd(mfd, dst);
}

static int ro_tmpfs_onto_fd(int dst)
{
    int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0)
        return -errno;
    int mfd = -1;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
        mfd = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY);
    int e = errno;
    close(fs);
    return mfd < 0 ? -e : move_onto_fd(mfd, dst);
}

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Copy the directory tree at src (fd) into dst (fd): the tmpcopyup option. The entries
 * come from getdents64 into a buffer on the stack: opendir(3) allocates, and the child
 * may not (a caller's other threads may have held malloc's locks when it was cloned). */
static int copy_tree(int src, int dst)
{
    int dfd = dup(src);
    char dents[4096];
    int rc = 0;
    if (dfd < 0)
        return -errno;
    for (long got = 1; rc == 0 && got > 0;) {
        got = syscall(SYS_getdents64, dfd, dents, sizeof dents);
        if (got < 0)
            rc = -errno;
        for (long off = 0; rc == 0 && off < got;) {
            struct linux_dirent64 *e = (struct linux_dirent64 *)(dents + off);
            off += e->d_reclen;
            struct stat st;
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (fstatat(src, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                rc = -errno;
                break;
            }
            if (S_ISDIR(st.st_mode)) {
                if (mkdirat(dst, e->d_name, st.st_mode & 07777) < 0 && errno != EEXIST) {
                    rc = -errno;
                    break;
                }
                int s2 = openat(src, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int d2 = openat(dst, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (s2 < 0 || d2 < 0)
                    rc = -errno;
                else
                    rc = copy_tree(s2, d2);
                if (s2 >= 0)
                    close(s2);
                if (d2 >= 0)
                    close(d2);
            } else if (S_ISLNK(st.st_mode)) {
                char target[4096];
                ssize_t n = readlinkat(src, e->d_name, target, sizeof target - 1);
                if (n < 0) {
                    rc = -errno;
                    break;
                }
                target[n] = 0;
                if (symlinkat(target, dst, e->d_name) < 0)
                    rc = -errno;
            } else if (S_ISREG(st.st_mode)) {
                int in = openat(src, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                int out = openat(dst, e->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                 st.st_mode & 07777);
                if (in < 0 || out < 0) {
                    rc = -errno;
                } else {
                    char buf[65536];
                    ssize_t n;
                    while ((n = read(in, buf, sizeof buf)) > 0)
                        if (write(out, buf, (size_t)n) != n) {
                            rc = -EIO;
                            break;
                        }
                    if (n < 0)
                        rc = -errno;
                }
                if (in >= 0)
                    close(in);
                if (out >= 0)
                    close(out);
            } else {
                if (mknodat(dst, e->d_name, st.st_mode, st.st_rdev) < 0)
                    rc = -errno;
            }
            if (rc == 0) {
                fchownat(dst, e->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
                struct timespec ts[2] = {st.st_atim, st.st_mtim};
                utimensat(dst, e->d_name, ts, AT_SYMLINK_NOFOLLOW);
            }
        }
    }
    close(dfd);
    return rc;
}

int op_root_propagation(struct child_ctx *c, const struct shim_op *op)
{
    if (mount(NULL, "/", NULL, (unsigned long)op->u1, NULL) < 0)
        return shim_fail(c, errno, "set propagation of \"/\"");
    return 0;
}

int op_bind_rootfs(struct child_ctx *c, const struct shim_op *op)
{
    /* pivot_root needs the new root to be a mount point; binding it onto itself also
     * gives the rootfs fd that every later path is resolved against. */
    if (mount(op->s1, op->s1, NULL, MS_BIND | MS_REC, NULL) < 0)
        return shim_fail(c, errno, "bind rootfs \"%s\"", op->s1);
    int fd = open(op->s1, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return shim_fail(c, errno, "open rootfs \"%s\"", op->s1);
    c->root_fd = fd;
    c->rootfs = op->s1;
    return 0;
}

int op_mkdir(struct child_ctx *c, const struct shim_op *op)
{
    int rc = mkdir_in_root(c, op->s2, MNT_TARGET_DIR, (int)op->n1, NULL, 0);
    return rc < 0 ? shim_fail(c, -rc, "mkdir %s%s\"%s\"", op->s1 ? op->s1 : "", op->s1 ? " " : "", op->s2) : 0;
}


/* proc and sysfs go only on a real directory: an existing destination that is a symlink
 * (or a file) is refused, as runc refuses it, so that procfs cannot be steered onto some
 * other directory of the image (the CVE-2019-19921 class). The parents are resolved in
 * the rootfs; only the last component is looked at without following it. */
static int check_ordinary_dir(struct child_ctx *c, const struct shim_op *op)
{
    char parent[4096], resolved[4096], path[8192];
    const char *slash = strrchr(op->s2, '/');
    size_t plen = slash ? (size_t)(slash - op->s2) : 0;
    struct stat st;
    if (plen >= sizeof parent)
        return shim_fail(c, ENAMETOOLONG, "mount \"%s\"", op->s2);
    memcpy(parent, op->s2, plen);
    parent[plen] = 0;
    int rc = resolve_in_root(c, plen ? parent : "/", resolved, sizeof resolved);
    if (rc < 0)
        return shim_fail(c, -rc, "resolve mount point \"%s\"", op->s2);
    snprintf(path, sizeof path, "%s/%s", strcmp(resolved, "/") ? resolved : "", slash ? slash + 1 : op->s2);
    int fd = open_in_root(c, path, O_NOFOLLOW);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return shim_fail(c, -fd, "open mount point \"%s\"", op->s2);
    rc = fstat(fd, &st) < 0 ? errno : 0;
    close(fd);
    if (rc)
        return shim_fail(c, rc, "stat mount point \"%s\"", op->s2);
    if (!S_ISDIR(st.st_mode))
        return shim_fail(c, SHIM_ENOERRNO, "mount \"%s\" on \"%s\": filesystem \"%s\" must be mounted on ordinary directory",
                         op->s3, op->s2, op->s3);
    return 0;
}

/* As runc: on /proc itself only a procfs source (a bind of some proc mount), and under
 * it only the files lxcfs emulates; `dest` is the destination resolved in the rootfs. */
static int check_proc_mount(struct child_ctx *c, const struct shim_op *op, const char *dest)
{
    static const char *const lxcfs[] = {"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
                                        "/proc/swaps", "/proc/uptime", "/proc/loadavg", "/proc/slabinfo",
                                        "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"};
    const char *root = c->rootfs ? c->rootfs : "";
    if (strncmp(dest, "/proc", 5) != 0 || (dest[5] != 0 && dest[5] != '/'))
        return 0;
    if (dest[5] == 0) {
        struct statfs sfs;
        if (op->s1 == NULL || op->s1[0] == 0)
            return 0;
        if (statfs(op->s1, &sfs) < 0)
            return shim_fail(c, errno, "mount \"%s\" on \"%s\": statfs %s", op->s1, op->s2, op->s1);
        if (sfs.f_type == PROC_SUPER_MAGIC)
            return 0;
        return shim_fail(c, SHIM_ENOERRNO, "mount \"%s\" on \"%s\": \"%s%s\" cannot be mounted because it is not of type proc",
                         op->s1, op->s2, root, dest);
    }
    for (size_t i = 0; i < sizeof lxcfs / sizeof lxcfs[0]; i++)
        if (strcmp(dest, lxcfs[i]) == 0)
            return 0;
    return shim_fail(c, SHIM_ENOERRNO, "mount \"%s\" on \"%s\": \"%s%s\" cannot be mounted because it is inside /proc",
                     op->s1 ? op->s1 : "", op->s2, root, dest);
}

/* runc's mountCgroupV2: a cgroup2 mount from inside a user namespace fails (EBUSY: the
 * hierarchy's one superblock belongs to the initial user namespace, and sget refuses it to
 * another; EPERM), so the container's own cgroup (s4) is bound there instead, which shows
 * what a cgroup namespace would. Where the rootless manager made no cgroup (s4 missing)
 * and MNT_F_MASK_IF_GONE asks, an empty read-only tmpfs hides the host's. */
static int cgroup2_fallback(struct child_ctx *c, const struct shim_op *op, const char *dest)
{
    char target[64];
    int rc, fd = open_in_root(c, dest, 0);
    if (fd < 0)
        return shim_fail(c, -fd, "open mount point \"%s\"", op->s2);
    fd_path(target, sizeof target, fd);
    rc = mount(op->s4, target, NULL, MS_BIND, NULL) < 0 ? errno : 0;
    if (rc == ENOENT && (op->n2 & MNT_F_MASK_IF_GONE)) {
        rc = mount("tmpfs", target, "tmpfs", MS_RDONLY, NULL) < 0 ? errno : 0;
        if (rc == ENOENT && no_proc_fd())
            rc = -ro_tmpfs_onto_fd(fd);
        close(fd);
        return rc ? shim_fail(c, rc, "mask \"%s\"", op->s2) : 0;
    }
    close(fd);
    if (rc)
        return shim_fail(c, rc, "mount \"%s\" on \"%s\" (type \"bind\")", op->s4, op->s2);
    fd = open_in_root(c, dest, 0);
    if (fd < 0)
        return shim_fail(c, -fd, "reopen mount point \"%s\"", op->s2);
    return finish_mount(c, op, fd, 1);
}

int op_mount(struct child_ctx *c, const struct shim_op *op)
{
    int cg2_fallback = (op->n2 & MNT_F_CGROUP2_FALLBACK) != 0;
    const char *src = op->s1, *type = op->s3, *data = cg2_fallback ? NULL : op->s4;
    unsigned long flags = (unsigned long)op->u1;
    int bind = (op->n2 & MNT_F_BIND) != 0;
    int tmpfs = !bind && type && strcmp(type, "tmpfs") == 0;
    char target[64], dest[4096];
    struct stat before;
    int fd, rc, keep = -1, existed = 0;

    if ((op->n2 & MNT_F_ORDINARY_DIR) && (rc = check_ordinary_dir(c, op)) < 0)
        return rc;
    /* symlinks in the image are followed, inside the rootfs */
    rc = resolve_in_root(c, op->s2, dest, sizeof dest);
    if (rc < 0)
        return shim_fail(c, -rc, "resolve mount point \"%s\"", op->s2);
    if ((op->n2 & MNT_F_PROC_CHECK) && (rc = check_proc_mount(c, op, dest)) < 0)
        return rc;
    fd = open_in_root(c, dest, 0);
    if (fd >= 0) {
        existed = fstat(fd, &before) == 0;
        close(fd);
    }
    struct stat sst = {0};
    /* now, not when the plan was made: the source may lie in an earlier mount */
    if (op->n1 == MNT_TARGET_SOURCE && stat(src, &sst) < 0)
        return shim_fail(c, errno, "mount \"%s\" on \"%s\" (type \"bind\"): stat %s", src, op->s2, src);
    if ((rc = make_mount_point(c, op, dest, sst.st_mode)) < 0)
        return rc;
    fd = open_in_root(c, dest, 0);
    if (fd < 0)
        return shim_fail(c, -fd, "open mount point \"%s\"", op->s2);
    if (op->n2 & MNT_F_TMPCOPYUP) {
        /* keep the covered directory reachable to copy it into the new tmpfs */
        char p[64];
        fd_path(p, sizeof p, fd);
        keep = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (keep < 0) {
            rc = errno;
            close(fd);
            return shim_fail(c, rc, "open \"%s\" for tmpcopyup", op->s2);
        }
    }
    fd_path(target, sizeof target, fd);
    if (bind)
        rc = mount(src, target, NULL, MS_BIND | (flags & MS_REC), NULL);
    else
        rc = mount(src, target, type, flags, data);
    if (rc < 0) {
        rc = errno;
        close(fd);
        if (keep >= 0)
            close(keep);
        if (cg2_fallback && (rc == EPERM || rc == EBUSY))
            return cgroup2_fallback(c, op, dest);
        return shim_fail(c, rc, "mount \"%s\" on \"%s\" (type \"%s\"%s%s%s)", src ? src : "", op->s2,
                         bind ? "bind" : (type ? type : ""), data && !bind ? ", data \"" : "",
                         data && !bind ? data : "", data && !bind ? "\"" : "");
    }
    close(fd);
    /* The old fd points below the new mount; reopen to reach the mount itself. */
    fd = open_in_root(c, dest, 0);
    if (fd < 0) {
        if (keep >= 0)
            close(keep);
        return shim_fail(c, -fd, "reopen mount point \"%s\"", op->s2);
    }
    fd_path(target, sizeof target, fd);
    if (keep >= 0) {
        int top = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        rc = top < 0 ? -errno : copy_tree(keep, top);
        if (top >= 0)
            close(top);
        close(keep);
        if (rc < 0) {
            close(fd);
            return shim_fail(c, -rc, "tmpcopyup into \"%s\"", op->s2);
        }
    }
    if (tmpfs && existed && !(op->n2 & MNT_F_OWN_MODE) && !(flags & MS_RDONLY) &&
        chmod(target, before.st_mode & 07777) < 0) {
        /* as runc: a tmpfs over an image directory takes that directory's mode, unless
         * the config gave it one (mode=1777 stays 1777 over a 0700 directory, as crun) */
        rc = errno;
        close(fd);
        return shim_fail(c, rc, "chmod tmpfs \"%s\"", op->s2);
    }
    return finish_mount(c, op, fd, bind);
}

/* What every mount op does once the mount is in place, through `fd` (the mount itself,
 * closed here): a bind's flags by a remount, the propagation, the mount_setattr
 * attributes (recursive when asked). */
/* The mount point of op (its n1 a MNT_TARGET_*): left as it is, or made a directory or
 * a file; for MNT_TARGET_SOURCE, as the source is (`src_mode`, read by the caller). */
int make_mount_point(struct child_ctx *c, const struct shim_op *op, const char *dest, mode_t src_mode)
{
    int kind = (int)op->n1, rc;
    if (kind == MNT_TARGET_SOURCE)
        kind = S_ISDIR(src_mode) ? MNT_TARGET_DIR : MNT_TARGET_FILE;
    if (kind == MNT_TARGET_NONE)
        return 0;
    rc = mkdir_in_root(c, dest, kind, 0755, NULL, 0);
    return rc < 0 ? shim_fail(c, -rc, "create mount point \"%s\"", op->s2) : 0;
}

int finish_mount(struct child_ctx *c, const struct shim_op *op, int fd, int bind)
{
    unsigned long flags = (unsigned long)op->u1;
    char target[64];
    int rc;

    fd_path(target, sizeof target, fd);
    if (bind && (flags & ~(unsigned long)(MS_BIND | MS_REC)) != 0) {
        unsigned long rf = (flags & ~(unsigned long)MS_REC) | MS_BIND | MS_REMOUNT;
        /* in a user namespace the flags of a mount that came from the host are locked
         * (nosuid, nodev, noexec, atime, ro): a remount must repeat them (EPERM) */
        if (mount(NULL, target, NULL, rf, NULL) < 0 &&
            (errno != EPERM || mount(NULL, target, NULL, rf | statfs_flags(fd), NULL) < 0)) {
            rc = errno;
            close(fd);
            return shim_fail(c, rc, "remount bind \"%s\" with flags 0x%lx", op->s2, rf);
        }
    }
    if (op->u2 && mount(NULL, target, NULL, (unsigned long)op->u2, NULL) < 0) {
        rc = errno;
        close(fd);
        return shim_fail(c, rc, "set propagation 0x%llx of \"%s\"", op->u2, op->s2);
    }
    if (op->u3 || op->u4) {
        rc = mount_setattr_fd(fd, (op->n2 & MNT_F_RECURSIVE_ATTR) != 0, op->u3, op->u4, 0);
        if (rc < 0) {
            close(fd);
            return shim_fail(c, -rc, "mount_setattr \"%s\" set 0x%llx clear 0x%llx", op->s2, op->u3, op->u4);
        }
    }
    close(fd);
    return 0;
}

static int split_parent(struct child_ctx *c, const char *path, char *name, size_t name_len)
{
    const char *slash = strrchr(path, '/');
    char parent[4096];
    size_t plen;
    if (slash == NULL)
        return -EINVAL; /* the plan only holds absolute container paths */
    plen = (size_t)(slash - path);
    if (plen >= sizeof parent || strlen(slash + 1) >= name_len || slash[1] == 0)
        return -EINVAL;
    memcpy(parent, path, plen);
    parent[plen] = 0;
    snprintf(name, name_len, "%s", slash + 1);
    char resolved[4096];
    int rc = mkdir_in_root(c, plen ? parent : "/", MNT_TARGET_DIR, 0755, resolved, sizeof resolved);
    if (rc < 0)
        return rc;
    return open_in_root(c, resolved, O_DIRECTORY | O_NOFOLLOW);
}

int op_mknod(struct child_ctx *c, const struct shim_op *op)
{
    char name[256];
    int dir = split_parent(c, op->s2, name, sizeof name);
    if (dir < 0)
        return shim_fail(c, -dir, "create parent of device \"%s\"", op->s2);
    if (mknodat(dir, name, (mode_t)op->n1, (dev_t)op->u1) < 0) {
        int e = errno;
        close(dir);
        if (e == EEXIST)
            return 0;
        return shim_fail(c, e, "mknod \"%s\"", op->s2);
    }
    if (fchownat(dir, name, (uid_t)op->n2, (gid_t)op->n3, AT_SYMLINK_NOFOLLOW) < 0) {
        int e = errno;
        close(dir);
        return shim_fail(c, e, "chown device \"%s\"", op->s2);
    }
    close(dir);
    return 0;
}

int op_bind_dev(struct child_ctx *c, const struct shim_op *op)
{
    char target[64];
    char resolved[4096];
    int rc = mkdir_in_root(c, op->s2, MNT_TARGET_FILE, 0755, resolved, sizeof resolved);
    if (rc < 0)
        return shim_fail(c, -rc, "create device file \"%s\"", op->s2);
    int fd = open_in_root(c, resolved, O_NOFOLLOW);
    if (fd < 0)
        return shim_fail(c, -fd, "open device file \"%s\"", op->s2);
    fd_path(target, sizeof target, fd);
    rc = mount(op->s1, target, NULL, MS_BIND, NULL);
    int e = errno;
    close(fd);
    return rc < 0 ? shim_fail(c, e, "bind device \"%s\" on \"%s\"", op->s1, op->s2) : 0;
}

int op_symlink(struct child_ctx *c, const struct shim_op *op)
{
    char name[256];
    int dir = split_parent(c, op->s2, name, sizeof name);
    if (dir < 0)
        return shim_fail(c, -dir, "create parent of symlink \"%s\"", op->s2);
    if (op->n1 && unlinkat(dir, name, 0) < 0 && errno != ENOENT) {
        int e = errno;
        close(dir);
        return shim_fail(c, e, "remove \"%s\"", op->s2);
    }
    if (symlinkat(op->s1, dir, name) < 0 && errno != EEXIST) {
        int e = errno;
        close(dir);
        return shim_fail(c, e, "symlink \"%s\" -> \"%s\"", op->s2, op->s1);
    }
    close(dir);
    return 0;
}

int op_pivot_root(struct child_ctx *c, const struct shim_op *op)
{
    (void)op;
    int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (oldroot < 0)
        return shim_fail(c, errno, "open old root");
    /* pivot_root(".", ".") stacks the old root on top of the new one; detaching it
     * from there avoids needing a put_old directory inside the image. */
    if (fchdir(c->root_fd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0) {
        int e = errno;
        close(oldroot);
        return shim_fail(c, e, "pivot_root");
    }
    if (fchdir(oldroot) < 0) {
        int e = errno;
        close(oldroot);
        return shim_fail(c, e, "fchdir old root");
    }
    close(oldroot);
    /* Slave first, so that the unmount does not propagate to the host. */
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        return shim_fail(c, errno, "make old root rslave");
    if (umount2(".", MNT_DETACH) < 0)
        return shim_fail(c, errno, "unmount old root");
    if (chdir("/") < 0)
        return shim_fail(c, errno, "chdir /");
    c->pivoted = 1;
    return 0;
}

/* mountinfo's octal escapes (\040 for a space, ...) undone in place. */
static void unescape_mountinfo(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
            *o++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
            s += 3;
        } else {
            *o++ = *s;
        }
    }
    *o = 0;
}

/* Before --no-pivot's chroot, as runc: every full procfs and sysfs mount outside the
 * rootfs is detached from the container's mount namespace (covered by a tmpfs where it
 * cannot be). A chroot leaves the host's mounts in the namespace, under the rootfs, and
 * the kernel lets a nested user namespace mount a fresh procfs or sysfs when a full,
 * uncovered one is in the namespace (fs_fully_visible): that would be a /proc without
 * the container's masks. */
static int hide_host_proc_sys(struct child_ctx *c)
{
    const size_t cap = 16 << 20; /* reserved, touched only as far as the file goes */
    char *buf = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    size_t len = 0, rlen = strlen(c->rootfs);
    ssize_t n;
    int rc = 0;
    if (buf == MAP_FAILED)
        return shim_fail(c, errno, "read /proc/self/mountinfo");
    int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = shim_fail(c, errno, "read /proc/self/mountinfo");
        goto out;
    }
    while ((n = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    if (n < 0 || len >= cap - 1) {
        rc = shim_fail(c, n < 0 ? errno : E2BIG, "read /proc/self/mountinfo");
        goto out;
    }
    buf[len] = 0;
    for (char *line = buf, *next; *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        else
            next = line + strlen(line);
        /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
        char *f[5], *save = NULL, *sep = strstr(line, " - ");
        int i = 0;
        if (sep == NULL)
            continue;
        *sep = 0;
        for (char *t = strtok_r(line, " ", &save); t && i < 5; t = strtok_r(NULL, " ", &save))
            f[i++] = t;
        char *fstype = strtok_r(sep + 3, " ", &save);
        if (i < 5 || fstype == NULL || strcmp(f[3], "/") != 0 ||
            (strcmp(fstype, "proc") != 0 && strcmp(fstype, "sysfs") != 0))
            continue;
        unescape_mountinfo(f[4]);
        if (strncmp(f[4], c->rootfs, rlen) == 0)
            continue;
        /* slave first, so that the unmount does not reach the host */
        if (mount(NULL, f[4], NULL, MS_SLAVE | MS_REC, NULL) < 0) {
            if (errno == ENOENT)
                continue; /* under one detached already */
            rc = shim_fail(c, errno, "make \"%s\" rslave", f[4]);
            goto out;
        }
        if (umount2(f[4], MNT_DETACH) < 0) {
            if ((errno != EINVAL && errno != EPERM) || mount("tmpfs", f[4], "tmpfs", 0, NULL) < 0) {
                rc = shim_fail(c, errno, "hide \"%s\" (%s) from the container", f[4], fstype);
                goto out;
            }
        }
    }
out:
    munmap(buf, cap);
    return rc;
}

int op_move_root(struct child_ctx *c, const struct shim_op *op)
{
    if (op->n1 == 0) {
        int rc = hide_host_proc_sys(c);
        if (rc < 0)
            return rc;
    }
    if (op->s1) {
        /* exec into a container without a mount namespace: its init's root */
        int fd = open(op->s1, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return shim_fail(c, errno, "open the container's root \"%s\"", op->s1);
        if (c->root_fd >= 0)
            close(c->root_fd);
        c->root_fd = fd;
    }
    if (fchdir(c->root_fd) < 0)
        return shim_fail(c, errno, "chdir rootfs");
    if (op->n1 == 0 && mount(".", "/", NULL, MS_MOVE, NULL) < 0)
        return shim_fail(c, errno, "move rootfs to \"/\"");
    if (chroot(".") < 0)
        return shim_fail(c, errno, "chroot");
    if (chdir("/") < 0)
        return shim_fail(c, errno, "chdir /");
    c->pivoted = 1;
    return 0;
}

/* A char device 1:3 at /dev/null inside the container, opened without following links. */
static int open_container_devnull(struct child_ctx *c, int flags)
{
    struct stat st;
    char p[64];
    int fd = open_in_root(c, "/dev/null", O_NOFOLLOW);
    if (fd < 0)
        return fd;
    if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
        close(fd);
        return -ENODEV;
    }
    if (flags == O_PATH)
        return fd;
    fd_path(p, sizeof p, fd);
    int f = open(p, flags | O_CLOEXEC);
    int e = errno;
    close(fd);
    return f < 0 ? -e : f;
}

int op_reopen_devnull(struct child_ctx *c, const struct shim_op *op)
{
    (void)op;
    struct stat null_st, st;
    int null = open_container_devnull(c, O_RDWR);
    if (null < 0)
        return 0; /* nothing to reopen from */
    fstat(null, &null_st);
    for (int fd = 0; fd < 3; fd++) {
        if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == null_st.st_rdev)
            if (dup3(null, fd, 0) < 0) {
                int e = errno;
                close(null);
                return shim_fail(c, e, "reopen /dev/null as fd %d", fd);
            }
    }
    close(null);
    return 0;
}

static int send_fd(int sock, int fd, const char *name)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = (void *)name, .iov_len = strlen(name)};
    struct msghdr msg;
    struct cmsghdr *cm;
    memset(&msg, 0, sizeof msg);
    memset(cbuf, 0, sizeof cbuf);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    ssize_t n;
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : 0;
}

/* The bind target for the pty at /dev/console, as an O_PATH fd. Whatever the image put
 * at dev/console other than a regular file or a device (a symlink above all) is
 * replaced by an empty file: following it would bind the terminal over the file it names
 * (CVE-2025-52565), say the image's /etc/passwd, which the runtime reads next. */
static int console_target(struct child_ctx *c)
{
    char dev[4096];
    int rc = mkdir_in_root(c, "/dev", MNT_TARGET_DIR, 0755, dev, sizeof dev);
    if (rc < 0)
        return rc;
    int dfd = open_in_root(c, dev, O_NOFOLLOW | O_DIRECTORY);
    if (dfd < 0)
        return dfd;
    struct stat st;
    if (fstatat(dfd, "console", &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode) &&
        !S_ISCHR(st.st_mode)) {
        if (unlinkat(dfd, "console", S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0) {
            rc = -errno;
            close(dfd);
            return rc;
        }
    }
    /* O_EXCL never follows a link someone puts back meanwhile */
    int fd = openat(dfd, "console", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0)
        close(fd);
    else if (errno != EEXIST) {
        rc = -errno;
        close(dfd);
        return rc;
    }
    fd = openat(dfd, "console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    rc = fd < 0 ? -errno : fd;
    if (fd >= 0 && (fstat(fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)))) {
        close(fd);
        rc = -ELOOP;  /* swapped for something else meanwhile */
    }
    close(dfd);
    return rc;
}

int op_console(struct child_ctx *c, const struct shim_op *op)
{
    int master, slave, unlock = 0, ptn;
    char slave_path[64], target[64];
    master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        return shim_fail(c, errno, "open /dev/ptmx");
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &ptn) < 0) {
        int e = errno;
        close(master);
        return shim_fail(c, e, "unlock pty");
    }
    snprintf(slave_path, sizeof slave_path, "/dev/pts/%d", ptn);
    slave = open(slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) {
        int e = errno;
        close(master);
        return shim_fail(c, e, "open %s", slave_path);
    }
    if (op->n1 > 0 && op->n2 > 0) {
        struct winsize ws = {.ws_row = (unsigned short)op->n1, .ws_col = (unsigned short)op->n2};
        ioctl(slave, TIOCSWINSZ, &ws);
    }
    if (op->n3 == 0) {
        /* the init's console: the pty slave also becomes /dev/console (not for exec) */
        int fd = console_target(c);
        if (fd < 0) {
            close(master);
            close(slave);
            return shim_fail(c, -fd, "create /dev/console");
        }
        fd_path(target, sizeof target, fd);
        if (mount(slave_path, target, NULL, MS_BIND, NULL) < 0 &&
            !(errno == ENOENT && no_proc_fd() && bind_fd_onto_fd(slave, fd, 0) == 0)) {
            int e = errno;
            close(fd);
            close(master);
            close(slave);
            return shim_fail(c, e, "bind %s on /dev/console", slave_path);
        }
        close(fd);
    }
    if (op->u1 & 1) {
        /* The runtime proxies this pty to its own stdout: "\n" must stay "\n" there, as
         * runc's does. ONLCR is applied when the process writes, so it is cleared here,
         * before anyone holds the master, not by the runtime after the exec (a race the
         * first lines lose). */
        struct termios t;
        if (tcgetattr(slave, &t) == 0) {
            t.c_oflag &= ~(tcflag_t)ONLCR;
            tcsetattr(slave, TCSANOW, &t);
        }
    }
    int rc;
    rc = send_fd(op->fd, master, "/dev/ptmx");
    close(master);
    close(op->fd);
    if (rc < 0) {
        close(slave);
        return shim_fail(c, -rc, "send pty master to console socket");
    }
    for (int i = 0; i < 3; i++)
        if (dup3(slave, i, 0) < 0) {
            int e = errno;
            close(slave);
            return shim_fail(c, e, "dup pty slave to fd %d", i);
        }
    close(slave);
    if (ioctl(0, TIOCSCTTY, 0) < 0)
        return shim_fail(c, errno, "set controlling terminal");
    return 0;
}

/* MS_* flags a bind remount must keep when they are locked on the mount. */
unsigned long statfs_flags(int fd)
{
    struct statfs s;
    if (fstatfs(fd, &s) < 0)
        return 0;
    return (unsigned long)s.f_flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME |
                                       MS_RELATIME | MS_RDONLY);
}

static int remount_ro_fd(int fd, int recursive, unsigned long keep)
{
    char target[64];
    unsigned long fl = MS_BIND | MS_REMOUNT | MS_RDONLY | (recursive ? MS_REC : 0) | keep;
    fd_path(target, sizeof target, fd);
    if (mount(NULL, target, NULL, fl, NULL) == 0)
        return 0;
    if (errno == ENOENT && access("/proc/self/fd", F_OK) < 0)
        /* no /proc in the container (crun runs such a config): the fd itself, which
         * changes only the read-only bit of the mount */
        return mount_setattr_fd(fd, recursive, MOUNT_ATTR_RDONLY, 0, 0);
    if (errno != EPERM)
        return -errno;
    return mount(NULL, target, NULL, fl | statfs_flags(fd), NULL) < 0 ? -errno : 0;
}

int op_remount_ro(struct child_ctx *c, const struct shim_op *op)
{
    int fd = open_in_root(c, op->s2, 0);
    if (fd < 0)
        return shim_fail(c, -fd, "open \"%s\"", op->s2);
    int rc = remount_ro_fd(fd, (int)op->n1, (unsigned long)op->u1);
    close(fd);
    return rc < 0 ? shim_fail(c, -rc, "remount \"%s\" read-only", op->s2) : 0;
}

int op_readonly_path(struct child_ctx *c, const struct shim_op *op)
{
    char target[64];
    int fd = open_in_root(c, op->s2, 0);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return shim_fail(c, -fd, "open readonly path \"%s\"", op->s2);
    fd_path(target, sizeof target, fd);
    if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0) {
        int e = errno;
        if (e == ENOENT && no_proc_fd())
            e = -bind_fd_onto_fd(fd, fd, 1);
        if (e) {
            close(fd);
            return shim_fail(c, e, "bind readonly path \"%s\"", op->s2);
        }
    }
    close(fd);
    fd = open_in_root(c, op->s2, 0);
    if (fd < 0)
        return shim_fail(c, -fd, "reopen readonly path \"%s\"", op->s2);
    /* as runc: the bind keeps the nosuid, nodev and noexec of the mount it was taken from */
    struct statfs sfs;
    unsigned long keep = fstatfs(fd, &sfs) == 0 ? (unsigned long)sfs.f_flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC) : 0;
    int rc = remount_ro_fd(fd, 0, keep);
    close(fd);
    return rc < 0 ? shim_fail(c, -rc, "remount readonly path \"%s\"", op->s2) : 0;
}

int op_mask_path(struct child_ctx *c, const struct shim_op *op)
{
    struct stat st;
    char target[64], src[64];
    int fd = open_in_root(c, op->s2, 0);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return shim_fail(c, -fd, "open masked path \"%s\"", op->s2);
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return shim_fail(c, e, "stat masked path \"%s\"", op->s2);
    }
    fd_path(target, sizeof target, fd);
    int rc;
    if (S_ISDIR(st.st_mode)) {
        rc = mount("tmpfs", target, "tmpfs", MS_RDONLY, op->s4) < 0 ? -errno : 0;
        if (rc == -ENOENT && no_proc_fd())
            rc = ro_tmpfs_onto_fd(fd);
    } else {
        /* Bind the container's own /dev/null, checked to be the real device: an image
         * that makes /dev/null a symlink must not get a host file bound over /proc. */
        int null = open_container_devnull(c, O_PATH);
        if (null < 0) {
            close(fd);
            return shim_fail(c, -null, "masked path \"%s\": /dev/null is not the null device", op->s2);
        }
        fd_path(src, sizeof src, null);
        rc = mount(src, target, NULL, MS_BIND, NULL) < 0 ? -errno : 0;
        if (rc == -ENOENT && no_proc_fd())
            rc = bind_fd_onto_fd(null, fd, 0);
        close(null);
    }
    close(fd);
    if (rc < 0 && S_ISDIR(st.st_mode) && op->s4)
        return shim_fail(c, -rc, "mask \"%s\" (tmpfs, data \"%s\")", op->s2, op->s4);
    return rc < 0 ? shim_fail(c, -rc, "mask \"%s\"", op->s2) : 0;
}
