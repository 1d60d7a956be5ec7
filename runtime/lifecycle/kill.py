"""kill: signal the init (through a pidfd, after checking it is still our init), or
with --all every process of the container's cgroup (frozen meanwhile, so that nothing
forks past the signal, as runc does)."""
import posix

from pyrunc import errors
from pyrunc.state import store


def signal_init(st, sig):
    import _signal

    pid = st["pid"]
    try:
        pidfd = posix.pidfd_open(pid)
    except ProcessLookupError:
        raise errors.StateError("container not running") from None
    try:
        # the pidfd pins the process: if it is still our init now, the signal reaches it
        if not store.init_alive(st):
            raise errors.StateError("container not running")
        try:
            _signal.pidfd_send_signal(pidfd, sig)
        except ProcessLookupError:
            raise errors.StateError("container not running") from None
        except OSError as e:
            raise errors.PyruncError("unable to signal init: " + errors.strerror(e.errno)) from None
    finally:
        posix.close(pidfd)


def signal_all(st, sig):
    from pyrunc.cgroups.manager import Manager

    mgr = Manager.from_state(st)
    frozen = False
    if mgr.paths and sig != 9 and mgr.freezer_file():
        try:
            was = mgr.frozen()
            if not was:
                mgr.freeze()
                frozen = True
        except errors.PyruncError:
            pass
    try:
        pids = set(mgr.all_pids()) if mgr.paths else set()
        if not pids and store.init_alive(st):
            pids.add(st["pid"])
        for pid in pids:
            try:
                posix.kill(pid, sig)
            except ProcessLookupError:
                pass
            except OSError as e:
                raise errors.PyruncError("unable to signal %d: %s" % (pid, errors.strerror(e.errno))) from None
    finally:
        if frozen:
            try:
                mgr.thaw()
            except errors.PyruncError:
                # a racing `delete --force` removed the cgroup: nothing is left frozen
                if mgr.exists():
                    raise


def _thaw_for_kill(st, sig):
    """A SIGKILL to a frozen v1 cgroup waits for the thaw: thaw it, as runc does."""
    if sig != 9:
        return
    from pyrunc.cgroups.manager import Manager

    mgr = Manager.from_state(st)
    try:
        if mgr.paths and mgr.freezer_file() and mgr.frozen():
            mgr.thaw()
    except errors.PyruncError:
        pass


def kill(root, cid, sig, all_=False):
    cdir = store.container_dir(root, cid)
    st = store.read_state(cdir)
    status = store.status(cdir, st)
    if status == "stopped":
        if not all_:
            raise errors.StateError("container not running")
        # runc: with --all, a stopped container is not an error, and what is left in its
        # cgroup is signalled: the init's children in a pid namespace it shared (a pod's,
        # whose init outlives the container's), which containerd's shim kills so
        from pyrunc.cgroups.manager import Manager
        if not Manager.from_state(st).exists():
            return
    if all_:
        signal_all(st, sig)
    else:
        signal_init(st, sig)
    _thaw_for_kill(st, sig)
