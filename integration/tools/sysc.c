/* sysc: one raw syscall by number, for the seccomp tests (integration/test_seccomp.py).
 *
 *   sysc NR [ARG...]     ARG: a number (strtoul, base 0), "buf" (a 4 KiB buffer),
 *                        or "s:TEXT" (a pointer to TEXT)
 *
 * Prints "ok RET" when the call returns >= 0, else the errno name (EPERM, ENOSYS, ...),
 * and exits 0 / 1.  Several calls may follow each other, separated by "--"; each
 * prints one line.  A static binary: it runs in any test rootfs. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static char buf[4096];

static unsigned long arg(const char *s)
{
    if (!strcmp(s, "buf"))
        return (unsigned long)buf;
    if (!strncmp(s, "s:", 2))
        return (unsigned long)(s + 2);
    return strtoul(s, NULL, 0);
}

static int one(int argc, char **argv)
{
    unsigned long a[6] = {0};
    long nr, r;
    if (argc < 1 || argc > 7) {
        fprintf(stderr, "usage: sysc NR [ARG...] [-- NR [ARG...]]...\n");
        exit(2);
    }
    nr = strtol(argv[0], NULL, 0);
    for (int i = 1; i < argc; i++)
        a[i - 1] = arg(argv[i]);
    errno = 0;
    r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (r < 0) {
        const char *n = strerrorname_np(errno);
        if (n)
            printf("%s\n", n);
        else
            printf("E%d\n", errno);
        fflush(stdout);
        return 1;
    }
    printf("ok %ld\n", r);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 0, start = 1;
    for (int i = 1; i <= argc; i++) {
        if (i == argc || !strcmp(argv[i], "--")) {
            rc |= one(i - start, argv + start);
            start = i + 1;
        }
    }
    return rc;
}
