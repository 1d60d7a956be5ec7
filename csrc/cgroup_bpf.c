/* cgroup_bpf.c: load a BPF_PROG_TYPE_CGROUP_DEVICE program and attach it to a cgroup v2
 * directory (the device rules of cgroup v2 hosts). Called in the parent, not the child. */
#include "internal.h"

#include <linux/bpf.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long sys_bpf(int cmd, union bpf_attr *attr)
{
    return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

int shim_attach_device_filter(int cgroup_fd, const void *insns, int n_insns, int replace, char *log, int log_len)
{
    union bpf_attr attr;
    uint32_t old[64];
    uint32_t n_old = 0;
    static const char license[] = "Apache";
    int prog;

    if (replace) {
        memset(&attr, 0, sizeof attr);
        attr.query.target_fd = (uint32_t)cgroup_fd;
        attr.query.attach_type = BPF_CGROUP_DEVICE;
        attr.query.prog_ids = (uint64_t)(uintptr_t)old;
        attr.query.prog_cnt = 64;
        if (sys_bpf(BPF_PROG_QUERY, &attr) == 0)
            n_old = attr.query.prog_cnt;
    }
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = (uint32_t)n_insns;
    attr.license = (uint64_t)(uintptr_t)license;
    if (log && log_len > 0) {
        log[0] = 0;
        attr.log_buf = (uint64_t)(uintptr_t)log;
        attr.log_size = (uint32_t)log_len;
        attr.log_level = 1;
    }
    prog = (int)sys_bpf(BPF_PROG_LOAD, &attr);
    if (prog < 0 && log && errno == ENOSPC) {  /* the verifier log did not fit: load without it */
        attr.log_buf = 0;
        attr.log_size = 0;
        attr.log_level = 0;
        prog = (int)sys_bpf(BPF_PROG_LOAD, &attr);
    }
    if (prog < 0)
        return -errno;
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (uint32_t)cgroup_fd;
    attr.attach_bpf_fd = (uint32_t)prog;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0) {
        int e = errno;
        close(prog);
        return -e;
    }
    /* the new program is in place; the old ones can go (detached by their fds) */
    for (uint32_t i = 0; i < n_old && i < 64; i++) {
        union bpf_attr get;
        memset(&get, 0, sizeof get);
        get.prog_id = old[i];
        int ofd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &get);
        if (ofd < 0)
            continue;
        memset(&attr, 0, sizeof attr);
        attr.target_fd = (uint32_t)cgroup_fd;
        attr.attach_bpf_fd = (uint32_t)ofd;
        attr.attach_type = BPF_CGROUP_DEVICE;
        sys_bpf(BPF_PROG_DETACH, &attr);
        close(ofd);
    }
    close(prog);  /* the attachment keeps the program alive */
    return 0;
}
