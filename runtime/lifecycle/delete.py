"""delete: a stopped (or created) container's cgroups and state dir go; with --force a
running one is killed first. Works on half-written state too."""
import posix
import time

from pyrunc import errors, log
from pyrunc.state import store


def _wait_gone(st, timeout=10.0):
    """The init is not our child: poll until it is gone or a zombie (= stopped)."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while store.init_alive(st):
        if time.monotonic() > deadline:
            raise errors.PyruncError("container init %d did not exit after SIGKILL" % st["pid"])
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _kill_everything(st):
    from pyrunc.lifecycle import kill

    _thaw(st)
    if store.init_alive(st):
        try:
            posix.kill(st["pid"], 9)
        except OSError:
            pass
    # without a pid namespace of its own the container's other processes outlive the
    # init: kill whatever is left in its cgroup
    kill.signal_all(st, 9) if not st.get("newPidns", True) else None
    _wait_gone(st)


def _thaw(st):
    f = st.get("freezer")
    if not f:
        return
    try:
        fd = posix.open(f, posix.O_WRONLY | posix.O_CLOEXEC)
    except OSError:
        return
    try:
        posix.write(fd, b"0" if f.endswith("cgroup.freeze") else b"THAWED")
    except OSError:
        pass
    finally:
        posix.close(fd)


def destroy(cdir, st):
    from pyrunc.cgroups import fs as cgfs
    from pyrunc.lifecycle.create import remove_state_dir

    first = None
    paths = st.get("cgroupPaths") or {}
    if paths and not st.get("newPidns", True):
        from pyrunc.lifecycle import kill

        kill.signal_all(st, 9)
    try:
        cgfs.remove(st.get("cgroupsCreated") or [])
    except errors.PyruncError as e:
        first = e
    remove_state_dir(cdir)
    if first is not None:
        raise first


def delete(root, cid, force=False):
    cdir = store.container_dir(root, cid)
    st = store.read_state(cdir)
    try:
        lock = store.Lock(cdir)
    except FileNotFoundError:
        raise errors.ContainerNotFound() from None
    with lock:
        st = store.read_state(cdir)
        status = store.status(cdir, st)
        if status in ("running", "paused", "creating"):
            if not force:
                raise errors.StateError("cannot delete container %s that is not stopped: %s" % (cid, status))
            _kill_everything(st)
        elif status == "created":
            _kill_everything(st)
        destroy(cdir, st)
    log.debugf('deleted container "%s"' % cid)
