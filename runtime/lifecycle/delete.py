"""delete: a stopped (or created) container's cgroups and state dir go; with --force a
running or paused one is killed first. Works on half-written state too."""
import time

from pyrunc import errors, faults, log, phase
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


def kill_everything(st):
    """SIGKILL the init and, without a pid namespace of its own, every other process of
    the container; a frozen cgroup is thawed so that the kill can be delivered."""
    from pyrunc.cgroups.manager import Manager
    from pyrunc.lifecycle import kill

    mgr = Manager.from_state(st)
    if mgr.paths and mgr.freezer_file():
        try:
            if mgr.frozen():
                mgr.thaw()
            mgr.thaw_sub_cgroups()
        except errors.PyruncError as e:
            log.warning(str(e))
    if store.init_alive(st):
        try:
            kill.signal_init(st, 9)
        except errors.StateError:
            pass
    if not st.get("newPidns", True) and mgr.paths:
        kill.signal_all(st, 9)
    _wait_gone(st)


def destroy(cdir, st):
    from pyrunc.cgroups import rmdir

    first = None
    if not rmdir.remove_own(st):
        first = _destroy_cgroups(st)
    faults.point("delete-after-cgroups")
    phase("delete: cgroups")
    if st.get("sharedMountBelow") is not None:
        from pyrunc.lifecycle import sharedmnt

        try:
            sharedmnt.release(st.get("rootfs") or "", st["sharedMountBelow"])
        except errors.PyruncError as e:
            first = first or e
    store.remove_state_dir(cdir)
    if first is not None:
        raise first


def _destroy_cgroups(st):
    """What rmdir.remove_own leaves: a cgroup with leftovers, one that was there before
    the container, the systemd driver's unit. Returns the error to raise once the state
    dir is gone, if any."""
    from pyrunc.cgroups.manager import Manager

    mgr = Manager.from_state(st)
    if mgr.paths and mgr.try_destroy():
        mgr = Manager(mgr.mode, {})  # nothing left to kill or remove
    if mgr.paths and mgr.all_pids():
        # leftovers (no pid namespace, or a process that escaped the init's death)
        from pyrunc.lifecycle import kill

        mgr.thaw_sub_cgroups()
        kill.signal_all(st, 9)
    try:
        mgr.destroy()
    except errors.PyruncError as e:
        return e
    return None


def delete(root, cid, force=False):
    cdir = store.container_dir(root, cid)
    try:
        lock = store.lock_existing(cdir)
    except errors.ContainerNotFound:
        if force:
            return  # runc: a forced delete of what is not there succeeds
        raise
    with lock:
        try:
            st = store.read_state(cdir)
        except errors.ContainerNotFound:
            if force:
                return  # another delete held the lock and removed it
            raise
        status = store.status(cdir, st)
        phase("delete: state, lock")
        if status in ("running", "paused", "creating"):
            if not force:
                raise errors.StateError("cannot delete container %s that is not stopped: %s" % (cid, status))
            kill_everything(st)
        elif status == "created":
            kill_everything(st)
        faults.point("delete-after-kill")
        phase("delete: kill")
        destroy(cdir, st)
        phase("delete: state dir")
        hooks = st.get("hooks") or {}
        if hooks.get("poststop"):
            from pyrunc import hooks as hookmod

            hookmod.run("poststop", hooks, hookmod.state_json(st, "stopped", pid=0), warn_only=True)
    log.debugf('deleted container "%s"' % cid)
