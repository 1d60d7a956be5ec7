/* ops_idmap.c: idmapped bind mounts (mounts[].uidMappings/gidMappings, "idmap", "ridmap").
 *
 * MOUNT_ATTR_IDMAP needs CAP_SYS_ADMIN in the user namespace the filesystem was mounted
 * in (the host's), and a user namespace fd that carries the mapping. So, as runc 1.2, the
 * runtime side does the privileged part before the init is cloned:
 *   shim_userns_fd()      a throwaway process in a new user namespace, its maps written,
 *                         /proc/PID/ns/user opened, the process killed and reaped;
 *   shim_idmapped_tree()  open_tree(OPEN_TREE_CLONE) of the source (AT_RECURSIVE for an
 *                         rbind) and mount_setattr(MOUNT_ATTR_IDMAP) on the detached copy
 *                         (the kernel idmaps only mounts that are not attached yet); with
 *                         no user namespace fd, the clone alone: a bind in a container
 *                         with a user namespace, whose source the mapped root may not
 *                         reach (a 0700 dir of the host's root), as runc 1.1's mount fds.
 * The init inherits the detached tree's fd and attaches it with move_mount (op_mount_tree):
 * a detached tree can be attached in any mount namespace its caller may mount in,
 * the container's own user namespace included.
 */
#include "internal.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#define IDMAP_ATTR 0x00100000 /* MOUNT_ATTR_IDMAP */

struct idmap_mount_attr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};

static int rt_fail(struct shim_err *err, int errnum, const char *fmt, const char *arg)
{
    err->op_index = -1;
    err->err = errnum;
    snprintf(err->detail, sizeof err->detail, fmt, arg);
    return -1;
}

static int write_map(pid_t pid, const char *name, const char *text)
{
    char path[64];
    ssize_t n, len = (ssize_t)strlen(text);
    int fd;
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* the kernel takes a map in one write only */
    n = write(fd, text, (size_t)len);
    if (n != len) {
        int e = n < 0 ? errno : EIO;
        close(fd);
        return -e;
    }
    close(fd);
    return 0;
}

int shim_userns_fd(const char *uid_map, const char *gid_map, struct shim_err *err)
{
    int p[2], fd = -1, rc = 0;
    const char *step = "";
    char path[64];
    pid_t pid, parent = getpid();

    if (pipe2(p, O_CLOEXEC) < 0)
        return rt_fail(err, errno, "create a user namespace for an id-mapped mount: %s", "pipe");
    /* fork-like clone (no stack given): the child only waits for EOF and exits */
    pid = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), 0, 0, 0, 0);
    if (pid < 0) {
        rc = errno;
        close(p[0]);
        close(p[1]);
        return rt_fail(err, rc, "create a user namespace for an id-mapped mount: %s", "clone");
    }
    if (pid == 0) {
        char b;
        close(p[1]);
        /* never outlive a runtime killed before it reaps us (the death signal is
         * armed only from here: a parent already gone is checked for after) */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(0);
        while (read(p[0], &b, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(p[0]);
    /* nothing in this namespace ever calls setgroups: deny it, as runc's helper does */
    if ((rc = write_map(pid, "setgroups", "deny")) < 0)
        step = "write setgroups";
    else if ((rc = write_map(pid, "uid_map", uid_map)) < 0)
        step = "write uid_map";
    else if ((rc = write_map(pid, "gid_map", gid_map)) < 0)
        step = "write gid_map";
    else {
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = -errno;
            step = "open its ns/user";
        }
    }
    /* the namespace lives on through the fd: end the holder now, whatever happened */
    close(p[1]);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (fd < 0)
        return rt_fail(err, -rc, "create a user namespace for an id-mapped mount: %s", step);
    return fd;
}

int shim_idmapped_tree(const char *source, int userns_fd, int recursive_tree, int recursive_attr,
                       struct shim_err *err)
{
    struct idmap_mount_attr a = {.attr_set = IDMAP_ATTR, .userns_fd = (uint64_t)userns_fd};
    unsigned flags = OPEN_TREE_CLONE | O_CLOEXEC | (recursive_tree ? AT_RECURSIVE : 0);
    int fd, rc;

    fd = (int)syscall(SYS_open_tree, AT_FDCWD, source, flags);
    if (fd < 0)
        return rt_fail(err, errno, "open_tree(OPEN_TREE_CLONE) %s", source);
    /* no user namespace: a plain clone, for a bind whose source the container's mapped
     * root may not reach (runc 1.1 opens those sources on the host too) */
    if (userns_fd >= 0 &&
        syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive_attr ? AT_RECURSIVE : 0), &a, sizeof a) < 0) {
        rc = errno;
        close(fd);
        return rt_fail(err, rc, "failed to set MOUNT_ATTR_IDMAP on %s", source);
    }
    return fd;
}

int op_mount_tree(struct child_ctx *c, const struct shim_op *op)
{
    char dest[4096];
    int fd, rc;

    rc = resolve_in_root(c, op->s2, dest, sizeof dest);
    if (rc < 0)
        return shim_fail(c, -rc, "resolve mount point \"%s\"", op->s2);
    struct stat sst = {0};
    /* the tree's root says: the source is opened already, maybe out of our reach */
    if (op->n1 == MNT_TARGET_SOURCE && fstat(op->fd, &sst) < 0)
        return shim_fail(c, errno, "stat the tree of \"%s\"", op->s1 ? op->s1 : "");
    if ((rc = make_mount_point(c, op, dest, sst.st_mode)) < 0)
        return rc;
    fd = open_in_root(c, dest, 0);
    if (fd < 0)
        return shim_fail(c, -fd, "open mount point \"%s\"", op->s2);
    if (syscall(SYS_move_mount, op->fd, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
        rc = errno;
        close(fd);
        return shim_fail(c, rc, "move_mount \"%s\" on \"%s\"", op->s1 ? op->s1 : "", op->s2);
    }
    close(fd);
    close(op->fd);
    /* the old fd is below the new mount; reopen to reach the mount itself */
    fd = open_in_root(c, dest, 0);
    if (fd < 0)
        return shim_fail(c, -fd, "reopen mount point \"%s\"", op->s2);
    /* the idmapped clone is a bind: its flags, propagation and attributes as any bind's
     * (the remount keeps the idmapping) */
    if (op->n3) {
        /* a plain clone made on the host (n3): a bind made in the container's user
         * namespace would have its source's nosuid, nodev, noexec, atime and ro flags
         * locked; the clone's are not, so the remount repeats them */
        struct shim_op keep = *op;
        keep.u1 |= statfs_flags(fd);
        return finish_mount(c, &keep, fd, 1);
    }
    return finish_mount(c, op, fd, 1);
}
