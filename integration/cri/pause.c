/* pause: the pod sandbox's process for integration/test_cri.py (the role of Kubernetes'
 * pause image, built here because no registry is reachable).  It holds the pod's
 * namespaces, reaps the orphans that reach it when it is the pod's pid 1 (pid
 * namespace shared by the pod), and exits 0 on SIGTERM or SIGINT: as pid 1 the kernel
 * drops signals it has no handler for, so the handlers are what let it stop. */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig)
{
    (void)sig;
    _exit(0);
}

static void reap(int sig)
{
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

int main(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = reap;
    sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    for (;;)
        pause();
}
