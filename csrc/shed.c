/* shed.c: a created init gives the runtime's memory back before it waits for `start`.
 *
 * The init is a fork-like copy of the Python process that cloned it: some 5 MB of
 * anonymous memory (Python's heap and arenas, the warm-up thread's stack) that it never
 * touches again. An execve tears the old address space down before it closes the exec
 * fifo's write end, and `start` waits for that close: with the runtime's copy still
 * mapped, that teardown was about 0.6 ms of every `start` (bench/README.md). So, once
 * READY is sent and `create` no longer waits for us, the init copies the little that its
 * last steps read (argv, envp, the fifo's name) into one fresh mapping and unmaps the
 * runtime's anonymous mappings; it then blocks on the fifo as before.
 *
 * What goes: the anonymous private mappings ([heap] and unnamed ones). What stays of
 * them: every loaded object's PT_LOAD segments (a library's .bss beyond its file is an
 * anonymous mapping, which the kernel may merge with a Python arena next to it), the
 * pages around the thread pointer (TLS, errno) and the stack. File mappings, the stack,
 * vdso and vvar are never touched. From here to execve the init calls no malloc and
 * runs no Python; the shim is bound at load (RTLD_NOW, and -z now at link), so no lazy
 * binding reads the dynamic linker's heap.
 *
 * The segments are listed by the runtime before the clone (dl_iterate_phdr takes a lock
 * that another thread may hold at fork time); the mappings by the child at its start,
 * from the host's /proc: after pivot_root the container's /proc is the only one, and a
 * container may have none. */
#include "internal.h"

#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int parse_hex(const char **p, uintptr_t *out)
{
    uintptr_t v = 0;
    int n = 0;
    for (;; (*p)++, n++) {
        char ch = **p;
        if (ch >= '0' && ch <= '9')
            v = v * 16 + (uintptr_t)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v = v * 16 + (uintptr_t)(ch - 'a' + 10);
        else
            break;
    }
    *out = v;
    return n > 0 ? 0 : -1;
}

static int add_segments(struct dl_phdr_info *info, size_t size, void *data)
{
    struct shed_info *s = data;
    uintptr_t page = (uintptr_t)getpagesize();
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        if (s->n_keep == SHED_KEEP_MAX) {
            s->n_keep = -1;  /* too many objects to be sure: shed nothing */
            return 1;
        }
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        s->keep[s->n_keep].lo = lo & ~(page - 1);
        s->keep[s->n_keep].hi = (hi + page - 1) & ~(page - 1);
        s->n_keep++;
    }
    return 0;
}

void shed_prepare(struct shed_info *s)
{
    s->n_keep = 0;
    s->n_anon = -1;
    dl_iterate_phdr(add_segments, s);
}

/* One line of /proc/self/maps: "lo-hi perms offset dev inode [path]". */
static void scan_line(struct shed_info *s, const char *line)
{
    uintptr_t lo, hi;
    const char *p = line;
    const char *perms;
    if (parse_hex(&p, &lo) < 0 || *p++ != '-' || parse_hex(&p, &hi) < 0 || *p++ != ' ')
        return;
    perms = p;
    /* skip perms, offset, dev: then inode, then the path (if any) */
    for (int field = 0; field < 3; field++) {
        while (*p && *p != ' ')
            p++;
        while (*p == ' ')
            p++;
    }
    if (!(p[0] == '0' && p[1] == ' ') || strncmp(perms, "rw-p", 4) != 0)
        return;
    p += 2;
    while (*p == ' ')
        p++;
    if (*p && strcmp(p, "[heap]") != 0)
        return;  /* [stack], [vdso], [vvar], a name given with PR_SET_VMA, ... */
    if (s->n_anon == SHED_ANON_MAX) {
        s->n_anon = -1;
        return;
    }
    s->anon[s->n_anon].lo = lo;
    s->anon[s->n_anon].hi = hi;
    s->n_anon++;
}

void shed_scan(struct shed_info *s)
{
    char buf[4096], line[512];
    size_t len = 0;
    ssize_t n;
    int fd;
    s->n_anon = -1;  /* unknown: shed nothing */
    if (s->n_keep < 0)
        return;
    fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    s->n_anon = 0;
    while (s->n_anon >= 0 && (n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n && s->n_anon >= 0; i++) {
            if (buf[i] != '\n') {
                if (len < sizeof line - 1)
                    line[len++] = buf[i];
                continue;
            }
            line[len] = '\0';
            scan_line(s, line);
            len = 0;
        }
    }
    if (n < 0)
        s->n_anon = -1;
    close(fd);
}

static size_t vec_bytes(char *const *v, int *count)
{
    size_t total = 0;
    int i = 0;
    for (; v && v[i]; i++)
        total += strlen(v[i]) + 1;
    *count = i;
    return total + (size_t)(i + 1) * sizeof(char *);
}

/* Copy a NULL-terminated vector to `at`: pointers first, then the strings. */
static char **vec_copy(char *const *v, int count, char **at)
{
    char **out = (char **)(void *)*at;
    char *str = *at + (size_t)(count + 1) * sizeof(char *);
    for (int i = 0; i < count; i++) {
        size_t l = strlen(v[i]) + 1;
        memcpy(str, v[i], l);
        out[i] = str;
        str += l;
    }
    out[count] = NULL;
    *at = str;
    return out;
}

/* Unmap [lo, hi) except what overlaps keep[from..n): each kept range splits it. */
static int unmap_except(uintptr_t lo, uintptr_t hi, const struct shed_range *keep, int n, int from)
{
    for (int k = from; k < n; k++) {
        if (keep[k].lo < hi && lo < keep[k].hi) {
            int freed = 0;
            if (lo < keep[k].lo)
                freed += unmap_except(lo, keep[k].lo, keep, n, k + 1);
            if (keep[k].hi < hi)
                freed += unmap_except(keep[k].hi, hi, keep, n, k + 1);
            return freed;
        }
    }
    return munmap((void *)lo, hi - lo) == 0;
}

int shed_runtime_memory(struct child_ctx *c, const char *fifo, char *fifo_copy, size_t fifo_len)
{
    struct shed_info *s = c->shed;
    int argc, envc;
    size_t need, fl = strlen(fifo) + 1;
    char *region, *at;
    if (s == NULL || s->n_anon <= 0 || s->n_keep < 0 || s->n_keep > SHED_KEEP_MAX - 3 || fl > fifo_len)
        return 0;
    memcpy(fifo_copy, fifo, fl);
    need = vec_bytes(c->argv, &argc) + vec_bytes(c->envp, &envc) + 2 * sizeof(char *);
    need = (need + 4095) & ~(size_t)4095;
    region = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED)
        return 0;
    at = region;
    c->argv = vec_copy(c->argv, argc, &at);
    at = (char *)(((uintptr_t)at + sizeof(char *) - 1) & ~(uintptr_t)(sizeof(char *) - 1));
    c->envp = vec_copy(c->envp, envc, &at);
    c->plan = NULL;  /* its memory is about to go */

    /* The thread's TCB and static TLS lie around the thread pointer, on either side
     * depending on the architecture: a generous window keeps them whatever the layout.
     * The same for the stack (never anonymous-unnamed, but cheap to be sure of). */
    uintptr_t tp = (uintptr_t)pthread_self(), tls = (uintptr_t)&errno, sp = (uintptr_t)&need;
    int n = s->n_keep;
    s->keep[n].lo = (tp < tls ? tp : tls) - 65536;
    s->keep[n++].hi = (tp > tls ? tp : tls) + 65536;
    s->keep[n].lo = sp - 65536;
    s->keep[n++].hi = sp + 65536;
    s->keep[n].lo = (uintptr_t)region;
    s->keep[n++].hi = (uintptr_t)region + need;
    int freed = 0;
    for (int i = 0; i < s->n_anon; i++)
        freed += unmap_except(s->anon[i].lo, s->anon[i].hi, s->keep, n, 0);
    return freed;
}
