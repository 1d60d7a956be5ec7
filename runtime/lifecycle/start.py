"""start: release an init parked on exec.fifo.

The init writes "0" into the fifo once we open it, keeps the write end (close-on-exec)
and execs; a failure after that point is written into the fifo as "E<message>". So
reading to EOF tells us whether the exec happened."""
import posix

from pyrunc import errors, phase
from pyrunc.state import store


def start(root, cid):
    cdir = store.container_dir(root, cid)
    with store.lock_existing(cdir):
        # read under the lock: a create that held it has written its state by now
        st = store.read_state(cdir)
        status = store.status(cdir, st)
        if status == "stopped":
            raise errors.StateError("cannot start a container that has stopped")
        if status == "running":
            raise errors.StateError("cannot start an already running container")
        if status != "created":
            raise errors.StateError("cannot start a container in the %s state" % status)
        from pyrunc import faults

        phase("state, lock")

        sock = None
        if b"NOTIFY_SOCKET" in posix.environ:   # sd_notify through the container (notify.py)
            from pyrunc import notify

            sock = notify.bind(cdir)
        try:
            faults.point("start-before-release")
            release(cdir, st)
            phase("wait for execve")
            faults.point("start-after-release")
            poststart(cdir, st)
        except BaseException:
            if sock is not None:
                sock.close()
            raise
    if sock is not None:
        notify.forward(sock, st["pid"])   # returns once the container said READY=1 or exited


def poststart(cdir, st):
    """runtime-spec 1.2 (the version pyrunc reports): a failing poststart hook is logged as
    a warning and the remaining hooks and the lifecycle go on; `start` succeeds (as crun;
    runc 1.1.5 runs poststart in create and fails it)."""
    hooks = st.get("hooks") or {}
    if not hooks.get("poststart"):
        return
    from pyrunc import hooks as hookmod

    hookmod.run("poststart", hooks, hookmod.state_json(st, "running"), warn_only=True)


def release(cdir, st):
    import select

    fifo = cdir + "/" + store.FIFO
    try:
        fd = posix.open(fifo, posix.O_RDONLY | posix.O_NONBLOCK | posix.O_CLOEXEC)
    except FileNotFoundError:
        raise errors.StateError("cannot start an already running container") from None
    try:
        p = select.poll()
        # POLLHUP only (poll reports it unasked): a fifo hangs up once a writer came and
        # all went, i.e. at the init's execve (or its death), and "0" and any error are
        # all there by then; waking for the "0" first was one more wake-up on the way.
        # The init may still be on its way to the fifo: wait, checking it lives.
        p.register(fd, 0)
        while not p.poll(100):
            if not store.init_alive(st):
                raise errors.StateError("cannot start a container that has stopped")
        first = posix.read(fd, 1)
        if first != b"0":
            raise errors.StateError("cannot start a container that has stopped")
        rest = []
        while True:
            b = posix.read(fd, 4096)
            if not b:
                break
            rest.append(b)
    finally:
        posix.close(fd)
    try:
        posix.unlink(fifo)
    except FileNotFoundError:
        pass
    msg = b"".join(rest)
    if msg.startswith(b"E"):
        raise errors.PyruncError("container init: " + msg[1:].decode("utf-8", "replace"))
