"""The stdio of a foreground `run`. As runc does, the container does not get our own
fds: without a terminal it gets pipes that we copy (so that they can be handed to the
container's user), with a terminal the pty master sent over the console socket is
proxied, our terminal in raw mode and SIGWINCH resizing the pty."""
import posix

BUF = 65536


def _write_some(fd, data):
    try:
        return posix.write(fd, data)
    except BlockingIOError:
        return 0


def _write_all(fd, data):
    while data:
        try:
            data = data[posix.write(fd, data):]
        except BlockingIOError:
            import select

            select.select([], [fd], [])
        except OSError:  # our stdout went away: drop the output, keep the container's status
            return


def pipes():
    """(child's stdin, stdout, stderr), (our stdin write end, stdout read end, stderr read end)."""
    in_r, in_w = posix.pipe2(posix.O_CLOEXEC)
    out_r, out_w = posix.pipe2(posix.O_CLOEXEC)
    err_r, err_w = posix.pipe2(posix.O_CLOEXEC)
    return (in_r, out_w, err_w), (in_w, out_r, err_r)


def pump(pid, stdin_to, outputs, exit_status, master=-1):
    """Copy our stdin to `stdin_to` and each (read fd, our fd) of `outputs` until the
    init has exited and the outputs are drained; returns the exit status."""
    import select

    p = select.poll()
    readers = {}
    for src, dst in outputs:
        readers[src] = dst
        p.register(src, select.POLLIN)
    pending = b""
    stdin_open = stdin_to >= 0
    if stdin_open:
        posix.set_blocking(stdin_to, False)
        p.register(0, select.POLLIN)
    status = None
    while readers:
        for fd, ev in p.poll(100 if status is None else 0):
            if fd in readers:
                try:
                    data = posix.read(fd, BUF)
                except OSError:  # EIO from a pty master once every slave fd is closed
                    data = b""
                if data:
                    _write_all(readers[fd], data)
                else:
                    p.unregister(fd)
                    del readers[fd]
            elif fd == 0:
                data = b""
                if ev & select.POLLIN:
                    try:
                        data = posix.read(0, BUF)
                    except OSError:
                        data = b""
                if data:
                    pending += data
                else:
                    p.unregister(0)
                    stdin_open = False
                    if stdin_to != master:
                        posix.close(stdin_to)
                        stdin_to = -1
        if pending and stdin_to >= 0:
            try:
                pending = pending[_write_some(stdin_to, pending):]
            except OSError:  # the container closed its stdin
                pending = b""
        if status is None:
            wpid, st = posix.waitpid(pid, posix.WNOHANG)
            if wpid == pid:
                status = exit_status(st)
        elif not p.poll(0):
            break  # exited, and nothing more to read right now
    if stdin_to >= 0 and stdin_to != master:
        posix.close(stdin_to)
    if status is None:
        _, st = posix.waitpid(pid, 0)
        status = exit_status(st)
    return status


def _copy_winsize(src, dst):
    import fcntl
    import termios

    try:
        fcntl.ioctl(dst, termios.TIOCSWINSZ, fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        pass


def terminal(pid, master, exit_status):
    import _signal
    import termios

    # runc clears ONLCR so that "\n" from the container stays "\n" on our side
    try:
        attrs = termios.tcgetattr(master)
        attrs[1] &= ~termios.ONLCR
        termios.tcsetattr(master, termios.TCSANOW, attrs)
    except termios.error:
        pass
    saved = None
    if posix.isatty(0):
        import tty

        saved = termios.tcgetattr(0)
        tty.setraw(0)
        _copy_winsize(0, master)
        _signal.signal(28, lambda s, f: _copy_winsize(0, master))  # SIGWINCH
    try:
        return pump(pid, master, [(master, 1)], exit_status, master=master)
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
