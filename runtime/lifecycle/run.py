"""run: create + start; in the foreground, forward signals, proxy the terminal when
the container has one, reap the init and delete the container (unless --keep),
exiting with its status (128+signal when killed), as runc does."""
import posix

from pyrunc import errors, log, phase
from pyrunc.lifecycle import create as createmod
from pyrunc.lifecycle import delete as deletemod
from pyrunc.lifecycle import start as startmod
from pyrunc.lifecycle import stdio

FORWARDED = [s for s in range(1, 65) if s not in (9, 17, 19, 23, 28, 32, 33)]  # not KILL CHLD STOP URG WINCH


def run(g, cid, o):
    detach = o["detach"]
    console_socket = o["console-socket"]
    if console_socket and not detach:
        # the foreground run proxies the terminal itself (runc's check, before anything)
        raise errors.PyruncError("cannot use console socket if runc will not detach or allocate tty")
    pair = child_stdio = ours = None
    if not detach:
        import _socket

        if not console_socket:
            a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
            pair = (a.detach(), b.detach())
        child_stdio, ours = stdio.pipes()
    try:
        c = createmod.create(g, cid, o["bundle"], pid_file=o["pid-file"], console_socket=console_socket,
                             no_pivot=o["no-pivot"], no_new_keyring=o["no-new-keyring"],
                             preserve_fds=o["preserve-fds"], console_pair=pair, stdio=child_stdio)
    except BaseException:
        _close(pair, child_stdio, ours)
        raise
    _close(child_stdio)
    master = -1
    try:
        if pair:
            posix.close(pair[1])
            if c.terminal:
                from pyrunc import shim

                master = shim.recv_fd(pair[0])
            posix.close(pair[0])
            pair = None
        from pyrunc import notify

        sock = None
        try:
            with errors.context('start container "%s"' % cid):
                sock = notify.bind(c.cdir)
                startmod.release(c.cdir, c.state)
                startmod.poststart(c.cdir, c.state)
            phase("start (execve)")
        except BaseException:
            if sock is not None:
                sock.close()
            _cleanup(g, cid, c)
            raise
        if sock is not None:
            if detach:
                notify.forward(sock, c.pid)
            elif posix.fork() == 0:
                # in the foreground the output is pumped meanwhile: a child waits for READY
                # (holding none of the container's stdio, so that its stdin still ends)
                try:
                    _close(ours, (master,) if master >= 0 else ())
                    notify.forward(sock, c.pid)
                finally:
                    posix._exit(0)
            else:
                sock.close()
        if detach:
            return 0
        _forward_signals(c.pid)
        if master >= 0:
            _close(ours)
            ours = None
            status = stdio.terminal(c.pid, master, _exit_status)
        else:
            in_w, out_r, err_r = ours
            ours = None
            status = stdio.pump(c.pid, in_w, [(out_r, 1), (err_r, 2)], _exit_status)
            _close((out_r, err_r))
    finally:
        if master >= 0:
            posix.close(master)
        _close(pair, ours)
    phase("container runs")
    log.debugf("process exited: pid=%d status=%d" % (c.pid, status))
    if not o["keep"]:
        _cleanup(g, cid, c)
    return status


def _close(*groups):
    for g in groups:
        for fd in g or ():
            try:
                posix.close(fd)
            except OSError:
                pass


def _cleanup(g, cid, c):
    try:
        posix.kill(c.pid, 9)
    except OSError:
        pass
    try:
        posix.waitpid(c.pid, 0)
    except ChildProcessError:
        pass
    try:
        deletemod.delete(g.root, cid, force=True)
    except errors.PyruncError as e:
        log.warning(str(e))


def _exit_status(status):
    if posix.WIFSIGNALED(status):
        return 128 + posix.WTERMSIG(status)
    return posix.WEXITSTATUS(status)


def _forward_signals(pid):
    import _signal

    def forward(sig, frame):
        try:
            posix.kill(pid, sig)
        except OSError:
            pass

    for s in FORWARDED:
        try:
            _signal.signal(s, forward)
        except (OSError, ValueError):
            pass
