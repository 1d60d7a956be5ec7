/* ops_lsm.c: AppArmor and SELinux labels, written to this thread's /proc attributes. The
 * "exec" attributes take effect at the next execve, the keycreate one for keys made
 * from now on, so the plan writes them before seccomp can forbid the syscalls. */
#include "internal.h"

#include <fcntl.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

int op_lsm_label(struct child_ctx *c, const struct shim_op *op)
{
    const char *path = op->s1;
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT && op->s2) {
        path = op->s2; /* AppArmor before its own attr/apparmor directory (Linux 5.8) */
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0) {
        if (errno == ENOENT && op->n1)
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
