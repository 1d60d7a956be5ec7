/* ops_lsm.c: AppArmor and SELinux labels, written to this thread's /proc attributes. The
 * "exec" attributes take effect at the next execve, the keycreate one for keys made
 * from now on, so the plan writes them before seccomp can forbid the syscalls. */
#include "internal.h"

#include <fcntl.h>
#include <string.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

/* The SELinux label of a directory in the rootfs, for a mount that takes no context=
 * option (runc labels the mqueue mount's root this way). */
static int label_in_root(struct child_ctx *c, const struct shim_op *op)
{
    char path[64];
    int fd = open_in_root(c, op->s1, O_DIRECTORY);
    if (fd < 0)
        return shim_fail(c, -fd, "%s: open \"%s\"", op->s4, op->s1);
    fd_path(path, sizeof path, fd);
    int rc = setxattr(path, "security.selinux", op->s3, strlen(op->s3), 0) < 0 ? errno : 0;
    close(fd);
    return rc ? shim_fail(c, rc, "%s: setxattr \"%s\" security.selinux", op->s4, op->s1) : 0;
}

int op_lsm_label(struct child_ctx *c, const struct shim_op *op)
{
    if (op->n1 == LSM_LABEL_FILE)
        return label_in_root(c, op);
    const char *path = op->s1;
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT && op->s2) {
        path = op->s2; /* AppArmor before its own attr/apparmor directory (Linux 5.8) */
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0) {
        if (errno == ENOENT && op->n1 == LSM_LABEL_OPTIONAL)
            return 0;
        return shim_fail(c, errno, "%s: open %s", op->s4, path);
    }
    /* after pivot_root /proc is the container's: a file an image put there is no label */
    struct statfs sfs;
    if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
        close(fd);
        return shim_fail(c, SHIM_ENOERRNO, "%s: %s is not on procfs", op->s4, path);
    }
    /* one write: the LSMs take the attribute from a single write() */
    size_t len = strlen(op->s3);
    ssize_t n = write(fd, op->s3, len);
    int e = errno;
    close(fd);
    if (n < 0)
        return shim_fail(c, e, "%s: write %s", op->s4, path);
    if ((size_t)n != len)
        return shim_fail(c, SHIM_ENOERRNO, "%s: write %s: short write", op->s4, path);
    return 0;
}
