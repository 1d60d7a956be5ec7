"""The terminal of a foreground `run`: our stdin/stdout proxied to the pty master the
init sent over the console socket; raw mode on our own terminal; SIGWINCH resizes."""
import posix


def _copy_winsize(src, dst):
    import fcntl
    import termios

    try:
        ws = fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(dst, termios.TIOCSWINSZ, ws)
    except OSError:
        pass


def _write_all(fd, data):
    while data:
        data = data[posix.write(fd, data):]


def proxy(pid, master, exit_status):
    import _signal
    import select
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
        _signal.signal(28, lambda s, f: _copy_winsize(0, master))
    status = None
    try:
        p = select.poll()
        p.register(master, select.POLLIN)
        p.register(0, select.POLLIN)
        master_open = True
        while master_open:
            for fd, ev in p.poll(200):
                if fd == master:
                    try:
                        data = posix.read(master, 65536)
                    except OSError:  # EIO: every slave fd is closed
                        data = b""
                    if data:
                        _write_all(1, data)
                    else:
                        master_open = False
                        p.unregister(master)
                elif fd == 0:
                    data = posix.read(0, 65536) if ev & select.POLLIN else b""
                    if data:
                        _write_all(master, data)
                    else:
                        p.unregister(0)
            if status is None:
                wpid, st = posix.waitpid(pid, posix.WNOHANG)
                if wpid == pid:
                    status = exit_status(st)
            if status is not None and master_open:
                # drain what the container wrote before it exited
                posix.set_blocking(master, False)
                while True:
                    try:
                        data = posix.read(master, 65536)
                    except OSError:
                        data = b""
                    if not data:
                        break
                    _write_all(1, data)
                break
        if status is None:
            _, st = posix.waitpid(pid, 0)
            status = exit_status(st)
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
    return status
