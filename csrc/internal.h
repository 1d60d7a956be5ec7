/* internal.h: helpers shared by the shim's C files; not part of the cffi contract. */
#ifndef PYRUNC_INTERNAL_H
#define PYRUNC_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/types.h>
#include "shim.h"

/* The child's state while it runs the plan. */
struct child_ctx {
    const struct shim_plan *plan;
    int sync_fd;
    int root_fd;            /* O_PATH fd of the bound rootfs, -1 before OP_BIND_ROOTFS */
    const char *rootfs;     /* its host path (for messages), NULL before OP_BIND_ROOTFS */
    int pivoted;            /* paths are container paths once the root moved */
    int fifo_wfd;           /* exec.fifo write end after OP_READY, -1 before */
    char exec_path[4096];   /* argv[0] resolved by OP_LOOKUP_EXEC */
    char *const *argv;      /* the plan's, or shed_runtime_memory's copy */
    char *const *envp;
    struct shim_err *err;
    struct shed_info *shed;  /* the runtime's mappings (READY_SHED), or NULL */
    int host_pid;           /* the init's pid in the runtime's pid namespace (sent with GO) */
    mode_t caller_umask;    /* the runtime's umask, which an exec'd process keeps (as runc) */
};

/* What shed.c keeps and what it unmaps: the loaded objects' PT_LOAD segments (listed by
 * the runtime before the clone) and the anonymous private mappings (read by the child);
 * a count of -1 means unknown, and nothing is shed. */
#define SHED_KEEP_MAX 256
#define SHED_ANON_MAX 512
struct shed_range {
    unsigned long lo, hi;
};
struct shed_info {
    int n_keep, n_anon;
    struct shed_range keep[SHED_KEEP_MAX];
    struct shed_range anon[SHED_ANON_MAX];
};
void shed_prepare(struct shed_info *s);
void shed_scan(struct shed_info *s);
/* Copy argv, envp (into c) and `fifo` (into fifo_copy) out of the runtime's memory, then
 * unmap that memory; returns how many ranges went (0: nothing was touched). */
int shed_runtime_memory(struct child_ctx *c, const char *fifo, char *fifo_copy, size_t fifo_len);

/* Record what failed (printf-style detail) and return -errnum. */
int shim_fail(struct child_ctx *c, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Open (O_PATH) `path` resolved inside the rootfs: symlinks and ".." never leave it. */
int open_in_root(struct child_ctx *c, const char *path, int flags);
/* `path` with its symlinks expanded inside the rootfs (missing parts kept as given). */
int resolve_in_root(struct child_ctx *c, const char *path, char *out, size_t outlen);
/* Create every missing directory of `path` (resolved inside the rootfs); the last
 * component as a directory (MNT_TARGET_DIR) or an empty file (MNT_TARGET_FILE). The
 * resolved path goes to `resolved` when it is not NULL. */
int mkdir_in_root(struct child_ctx *c, const char *path, int target_kind, int mode, char *resolved,
                  size_t rlen);
/* Send an fd to the parent over the sync socket (MSG_FD). */
int sync_send_fd(struct child_ctx *c, int fd);
/* "/proc/self/fd/N" for fd. */
void fd_path(char *buf, size_t len, int fd);

int op_mount(struct child_ctx *c, const struct shim_op *op);
int op_bind_rootfs(struct child_ctx *c, const struct shim_op *op);
int op_root_propagation(struct child_ctx *c, const struct shim_op *op);
int op_mknod(struct child_ctx *c, const struct shim_op *op);
int op_bind_dev(struct child_ctx *c, const struct shim_op *op);
int op_symlink(struct child_ctx *c, const struct shim_op *op);
int op_mkdir(struct child_ctx *c, const struct shim_op *op);
int op_pivot_root(struct child_ctx *c, const struct shim_op *op);
int op_move_root(struct child_ctx *c, const struct shim_op *op);
int op_reopen_devnull(struct child_ctx *c, const struct shim_op *op);
int op_console(struct child_ctx *c, const struct shim_op *op);
int op_remount_ro(struct child_ctx *c, const struct shim_op *op);
int op_mask_path(struct child_ctx *c, const struct shim_op *op);
int op_readonly_path(struct child_ctx *c, const struct shim_op *op);
int op_mount_tree(struct child_ctx *c, const struct shim_op *op);
int finish_mount(struct child_ctx *c, const struct shim_op *op, int fd, int bind);
int make_mount_point(struct child_ctx *c, const struct shim_op *op, const char *dest, mode_t src_mode);
unsigned long statfs_flags(int fd);

int op_user(struct child_ctx *c, const struct shim_op *op);
int op_caps(struct child_ctx *c, const struct shim_op *op);
int op_no_new_privs(struct child_ctx *c, const struct shim_op *op);
int op_seccomp(struct child_ctx *c, const struct shim_op *op);

int op_setns(struct child_ctx *c, const struct shim_op *op);
int op_unshare(struct child_ctx *c, const struct shim_op *op);
int op_write_file(struct child_ctx *c, const struct shim_op *op);
int op_hostname(struct child_ctx *c, const struct shim_op *op);
int op_domainname(struct child_ctx *c, const struct shim_op *op);
int op_sysctl(struct child_ctx *c, const struct shim_op *op);
int op_rlimit(struct child_ctx *c, const struct shim_op *op);
int op_keyring(struct child_ctx *c, const struct shim_op *op);
int op_loopback_up(struct child_ctx *c, const struct shim_op *op);
int op_setsid(struct child_ctx *c, const struct shim_op *op);
int op_chdir(struct child_ctx *c, const struct shim_op *op);
int op_umask(struct child_ctx *c, const struct shim_op *op);
int op_home_env(struct child_ctx *c, const struct shim_op *op);
int op_listen_pid(struct child_ctx *c, const struct shim_op *op);
int op_lookup_exec(struct child_ctx *c, const struct shim_op *op);
int op_personality(struct child_ctx *c, const struct shim_op *op);
int op_oom_score_adj(struct child_ctx *c, const struct shim_op *op);
int op_hook(struct child_ctx *c, const struct shim_op *op);
int op_lsm_label(struct child_ctx *c, const struct shim_op *op);

#endif
