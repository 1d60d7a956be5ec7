"""pause and resume: the cgroup freezer (freezer.state on v1, cgroup.freeze on v2)."""
from pyrunc import errors
from pyrunc.state import store


def _load(root, cid):
    from pyrunc.cgroups.manager import Manager

    cdir = store.container_dir(root, cid)
    st = store.read_state(cdir)
    return cdir, st, Manager.from_state(st)


def pause(root, cid):
    cdir, st, mgr = _load(root, cid)
    with store.Lock(cdir):
        status = store.status(cdir, st)
        if status not in ("running", "created"):
            raise errors.StateError("container not running")
        mgr.freeze()


def resume(root, cid):
    cdir, st, mgr = _load(root, cid)
    with store.Lock(cdir):
        if store.status(cdir, st) != "paused":
            raise errors.StateError("container not paused")
        mgr.thaw()
