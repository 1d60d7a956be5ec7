"""sd_notify through the container, as runc does it when NOTIFY_SOCKET is in the
runtime's environment (a service manager such as systemd, or Podman's
--sdnotify=container, waits on that socket):

  create  binds <state dir>/notify read-only at /run/notify in the container and gives
          the process NOTIFY_SOCKET=/run/notify/notify.sock;
  start   (and run) binds a datagram socket there, releases the init, then waits for the
          container's first READY= datagram and sends its line and MAINPID=<init pid> to
          the caller's socket; it returns without a word once the init is gone.

Only `_socket` and `posix`: start is a hot verb.
"""
import posix

DIR = "notify"
SOCKET = "notify.sock"
IN_CONTAINER = "/run/notify"


def host_socket():
    v = posix.environ.get(b"NOTIFY_SOCKET")
    return v.decode("utf-8", "surrogateescape") if v else None


def setup_spec(spec, cdir):
    """The mount and the env entry runc adds to the container's config."""
    spec.setdefault("mounts", []).append({"destination": IN_CONTAINER, "source": cdir + "/" + DIR,
                                          "type": "bind", "options": ["bind", "nosuid", "noexec", "nodev", "ro"]})
    proc = spec.setdefault("process", {})
    proc["env"] = list(proc.get("env") or []) + ["NOTIFY_SOCKET=%s/%s" % (IN_CONTAINER, SOCKET)]


def make_dir(cdir):
    posix.mkdir(cdir + "/" + DIR, 0o755)


def bind(cdir):
    """The container's end, or None when the container was not made for it (no notify
    directory) or the caller has no NOTIFY_SOCKET."""
    if host_socket() is None:
        return None
    import _socket

    path = cdir + "/" + DIR + "/" + SOCKET
    try:
        posix.stat(cdir + "/" + DIR)
    except OSError:
        return None
    try:
        posix.unlink(path)
    except OSError:
        pass
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        s.bind(path)   # a path longer than sun_path (107 bytes) fails here, as runc's
        posix.chmod(path, 0o777)   # any user in the container may notify
    except (OSError, ValueError) as e:
        s.close()
        from pyrunc.errors import PyruncError, strerror

        why = strerror(e.errno) if isinstance(e, OSError) and e.errno else "invalid argument"
        raise PyruncError("listen unixgram %s: bind: %s" % (path, why)) from None
    return s


def forward(sock, pid):
    """Wait for READY= from the container and pass it on with the init's pid."""
    import select

    from pyrunc.errors import PyruncError, strerror

    host = host_socket()
    try:
        p = select.poll()
        p.register(sock.fileno(), select.POLLIN)
        while True:
            if not p.poll(100):
                try:
                    posix.stat("/proc/%d" % pid)
                except OSError:
                    return   # the init is gone: nothing to wait for
                continue
            data = sock.recv(4096)
            if not data.startswith(b"READY="):
                continue
            import _socket

            out = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
            try:
                out.connect("\0" + host[1:] if host.startswith("@") else host)   # "@": abstract
                out.send(data.split(b"\n", 1)[0] + b"\n")
                out.send(b"MAINPID=%d\n" % pid)
            except OSError as e:
                raise PyruncError('notify socket "%s": %s' % (host, strerror(e.errno))) from None
            finally:
                out.close()
            return
    finally:
        sock.close()
