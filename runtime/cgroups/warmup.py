"""Overlap the kernel's wait before the first cgroup v1 move with our own start-up.

Moving a task into a cgroup takes the global cgroup_threadgroup_rwsem for writing.
When no writer held it within the last RCU grace period, the writer first waits for a
whole grace period (rcu_sync_enter): 5 to 20 ms on these machines, the largest single
cost of `create` on a v1 host. Writers that follow while the rcu_sync is still active
pass at once. `create` and `exec` join the init by pid on v1 (there is no
CLONE_INTO_CGROUP there), so a thread started when the command begins writes this
process's pid into the cgroup it is already in (no move happens) and repeats it every
millisecond until the real join: the grace period goes by while the config is loaded,
the plan is built and the init is cloned (create clones it before it makes the cgroups,
since a mkdir of a cgroup waits for the cgroup_mutex this write holds). A pure cgroup
v2 host needs none of this (the init is cloned into its cgroup) and gets no thread.
"""
import _thread
import posix


def _own_procs_file():
    """cgroup.procs of this process's own cgroup in one v1 controller hierarchy, or None."""
    try:
        fd = posix.open("/proc/self/cgroup", posix.O_RDONLY | posix.O_CLOEXEC)
        try:
            text = posix.read(fd, 65536).decode()
        finally:
            posix.close(fd)
    except OSError:
        return None
    for line in text.splitlines():
        num, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if num != "0" and controllers and not controllers.startswith("name="):
            return "/sys/fs/cgroup/%s%s/cgroup.procs" % (controllers, path.rstrip("/"))
    return None


STACK = 256 << 10


class Warmup:
    __slots__ = ("_stop", "_done", "_wake")

    def __init__(self):
        self._stop = False
        self._done = None
        path = _own_procs_file()
        if path is None:
            return
        self._done = _thread.allocate_lock()
        self._done.acquire()
        # held until stop(): the thread's pause between writes is a wait on it, which
        # stop() ends at once (a sleep cost create up to a millisecond right before the clone)
        self._wake = _thread.allocate_lock()
        self._wake.acquire()
        # we wait until the thread is at its first write: a new thread gets the GIL only
        # when this one lets it go, up to a switch interval (5 ms) into our imports, and
        # the grace period would start that much later
        started = _thread.allocate_lock()
        started.acquire()
        # a small stack: with the default (8 MiB from RLIMIT_STACK) the thread's start
        # left 200 KiB more resident, for a loop that needs a few frames
        old = _thread.stack_size(STACK)
        try:
            _thread.start_new_thread(self._run, (path, started))
        except RuntimeError:
            self._done = None
            return
        finally:
            _thread.stack_size(old)
        started.acquire()

    def _run(self, path, started):
        fd = -1
        try:
            fd = posix.open(path, posix.O_WRONLY | posix.O_CLOEXEC)
            pid = b"%d" % posix.getpid()
            started.release()
            started = None
            while not self._stop:
                posix.write(fd, pid)   # releases the GIL: the caller goes on meanwhile
                self._wake.acquire(True, 0.001)
        except OSError:
            pass
        finally:
            if started is not None:
                started.release()
            if fd >= 0:
                posix.close(fd)
            self._done.release()

    def stop(self):
        """Wait for the thread to end (at most one more write). The clone of the init
        need not wait for this: the init never allocates (a caller's other threads may
        hold malloc's locks at any time), and a clone takes the threadgroup rwsem only for
        reading, which the writer waiting out the grace period does not block."""
        if self._done is not None:
            self._stop = True
            self._wake.release()
            self._done.acquire()
            self._done = None
