/* ops_ids.c: user and group ids, capabilities, no_new_privs, seccomp.
 *
 * The order follows what the kernel requires: the bounding set is dropped while we are
 * still root with CAP_SETPCAP; KEEPCAPS keeps the permitted set across setresuid; the
 * final sets are applied with capset; the seccomp filter is loaded last so that none of
 * the runtime's own setup runs under the container's filter.
 */
#include "internal.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define CAPS_BOUNDING_PHASE 0
#define CAPS_APPLY_PHASE 1

/* The pipes, files or pty given as stdio become the container user's, so that it can
 * reopen them (/proc/self/fd/N goes through the inode's permissions). As crun does:
 * a pty keeps its group (devpts' tty group, which write(1) relies on) and changes owner
 * only; anything else takes the process's uid and gid (runc changes the uid only).
 * /dev/null is everyone's already and is left alone. Failures are ignored, as both do
 * (EPERM on an inode of an unmapped owner, EROFS): the process may not even need it. */
static void fix_stdio_owner(uid_t uid, gid_t gid)
{
    for (int fd = 0; fd < 3; fd++) {
        struct stat st;
        if (fstat(fd, &st) < 0)
            continue;
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
            continue;
        gid_t want = isatty(fd) ? st.st_gid : gid;
        if (st.st_uid == uid && st.st_gid == want)
            continue;
        (void)!fchown(fd, uid, want);
    }
}

/* Raw system calls, not glibc's wrappers: those broadcast the change to every thread
 * glibc believes the process has (nptl's setxid, under its stack-list lock), and a
 * child cloned from a multi-threaded caller (the Python API used from threads) inherits
 * that list and lock as they were. The child has one thread: the syscall is the change. */
int op_user(struct child_ctx *c, const struct shim_op *op)
{
    uid_t uid = (uid_t)op->n1;
    gid_t gid = (gid_t)op->n2;
    if (op->n3 == 2) {
        /* the uid alone: a user namespace's root before its ipc namespace is made */
        if (syscall(SYS_setresuid, uid, uid, uid) < 0)
            return shim_fail(c, errno, "setresuid %u", uid);
        return 0;
    }
    fix_stdio_owner(uid, gid);
    if (op->n3 && syscall(SYS_setgroups, (size_t)op->n_arr, (const gid_t *)op->arr) < 0)
        return shim_fail(c, errno, "setgroups");
    if (syscall(SYS_setresgid, gid, gid, gid) < 0)
        return shim_fail(c, errno, "setresgid %u", gid);
    if (syscall(SYS_setresuid, uid, uid, uid) < 0)
        return shim_fail(c, errno, "setresuid %u", uid);
    return 0;
}

int op_caps(struct child_ctx *c, const struct shim_op *op)
{
    if (op->n1 == CAPS_BOUNDING_PHASE) {
        for (int cap = 0; cap < 64; cap++) {
            if (op->u1 & (1ULL << cap))
                continue;
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
                return shim_fail(c, errno, "drop bounding capability %d", cap);
        }
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
            return shim_fail(c, errno, "prctl PR_SET_KEEPCAPS");
        return 0;
    }
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    for (int i = 0; i < 2; i++) {
        data[i].effective = (uint32_t)(op->u2 >> (32 * i));
        data[i].permitted = (uint32_t)(op->u3 >> (32 * i));
        data[i].inheritable = (uint32_t)(op->u4 >> (32 * i));
    }
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return shim_fail(c, errno, "prctl PR_SET_KEEPCAPS");
    if (syscall(SYS_capset, &hdr, data) < 0)
        return shim_fail(c, errno, "capset");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return shim_fail(c, errno, "clear ambient capabilities");
    for (int cap = 0; cap < 64; cap++) {
        if (!(op->u5 & (1ULL << cap)))
            continue;
        /* As runc: a capability that cannot be ambient (not both permitted and
         * inheritable) is left out rather than failing the container. */
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EPERM && errno != EINVAL)
            return shim_fail(c, errno, "raise ambient capability %d", cap);
    }
    return 0;
}

int op_no_new_privs(struct child_ctx *c, const struct shim_op *op)
{
    (void)op;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return shim_fail(c, errno, "prctl PR_SET_NO_NEW_PRIVS");
    return 0;
}

int op_seccomp(struct child_ctx *c, const struct shim_op *op)
{
    struct sock_fprog prog = {
        .len = (unsigned short)(op->n1 / (long long)sizeof(struct sock_filter)),
        .filter = (struct sock_filter *)(void *)op->s1,
    };
    long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)op->u1, &prog);
    if (rc < 0)
        return shim_fail(c, errno, "load seccomp filter");
    if (op->u1 & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
        int err = sync_send_fd(c, (int)rc);
        close((int)rc);
        if (err < 0)
            return shim_fail(c, -err, "send the seccomp listener to the runtime");
    }
    return 0;
}
