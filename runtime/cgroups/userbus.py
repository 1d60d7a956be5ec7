"""The user's systemd over the session bus, for the rootless systemd driver (runc 1.1.5,
cgroups/systemd/user.go): which bus, which uid to authenticate as, and the connection.

  address  $DBUS_SESSION_BUS_ADDRESS, else unix:path=$XDG_RUNTIME_DIR/bus when that
           socket exists, else what `systemctl --user show-environment` says;
  uid      our uid, but inside a user namespace (rootless Podman runs the runtime as
           its "root") the bus's OwnerUID from `busctl --user status`: the bus checks
           EXTERNAL's uid against SO_PEERCRED, which it sees in its own (the initial)
           user namespace.

The pure parts take text, for tests; the commands run only when the cheaper answers
are missing."""
import posix

from pyrunc.errors import CgroupError

# runc's words: callers (and people) look for the dbus-user-session hint
HINT = ("failed to connect to dbus (hint: for rootless containers, maybe you need to install dbus-user-session "
        "package, see https://github.com/opencontainers/runc/blob/master/docs/cgroup-v2.md): ")


def address_from(environ, exists):
    """The session bus address from the environment, or None: `environ` maps bytes to
    bytes (posix.environ), `exists(path)` tells whether the socket is there."""
    env = environ.get(b"DBUS_SESSION_BUS_ADDRESS")
    if env:
        return env.decode()
    xdg = environ.get(b"XDG_RUNTIME_DIR")
    if xdg:
        path = xdg.decode().rstrip("/") + "/bus"
        if exists(path):
            return "unix:path=" + path
    return None


def address_from_show_environment(text):
    """DBUS_SESSION_BUS_ADDRESS= of `systemctl --user show-environment`, or None."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("DBUS_SESSION_BUS_ADDRESS="):
            return line[len("DBUS_SESSION_BUS_ADDRESS="):]
    return None


def owner_uid_from_busctl(text):
    """OwnerUID= of `busctl --user --no-pager status` (sd_bus_creds_get_owner_uid)."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("OwnerUID="):
            value = line[len("OwnerUID="):]
            if not value.isdigit():
                raise CgroupError("could not detect the OwnerUID: %r" % value)
            return int(value)
    raise CgroupError("could not detect the OwnerUID")


def _output(argv):
    import subprocess

    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        return None, str(e)
    text = p.stdout.decode(errors="replace")
    return (text if p.returncode == 0 else None), text


def session_bus_address():
    """runc's DetectUserDbusSessionBusAddress."""
    from pyrunc.cgroups.fs import exists

    addr = address_from(posix.environ, exists)
    if addr:
        return addr
    text, out = _output(["systemctl", "--user", "--no-pager", "show-environment"])
    if text is None:
        raise CgroupError("could not execute `systemctl --user --no-pager show-environment` (output=%r)"
                          % out.strip())
    addr = address_from_show_environment(text)
    if not addr:
        raise CgroupError("could not detect DBUS_SESSION_BUS_ADDRESS from `systemctl --user --no-pager "
                          "show-environment`. Make sure you have installed the dbus-user-session or dbus-daemon "
                          "package and then run: `systemctl --user start dbus`")
    return addr


def detect_uid():
    """runc's DetectUID: our uid, or inside a user namespace the session bus's OwnerUID."""
    from pyrunc import rootless

    if not rootless.in_userns():
        return posix.getuid()
    text, out = _output(["busctl", "--user", "--no-pager", "status"])
    if text is None:
        raise CgroupError("could not execute `busctl --user --no-pager status` (output: %r)" % out.strip())
    return owner_uid_from_busctl(text)


def auth_line(uid):
    """SASL EXTERNAL with an explicit identity: the uid in decimal, hex-encoded."""
    return b"AUTH EXTERNAL " + str(uid).encode().hex().encode() + b"\r\n"


def connect(timeout):
    """An authenticated jeepney connection to the user's session bus (Hello sent)."""
    addr = session_bus_address()
    uid = detect_uid()
    import socket

    from jeepney.bus import get_connectable_addresses
    from jeepney.io.blocking import DBusConnection

    try:
        where = next(get_connectable_addresses(addr))
    except Exception as e:
        raise CgroupError(HINT + "error while dialing \"%s\": %s" % (addr, _why(e))) from None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    try:
        sock.connect(where)
    except OSError as e:
        sock.close()
        raise CgroupError(HINT + "error while dialing \"%s\": %s" % (addr, _why(e))) from None
    try:
        # jeepney's own handshake names os.geteuid(), which is 0 inside a user
        # namespace; the bus wants the uid it sees (runc: dbus.AuthExternal(uid))
        sock.sendall(b"\0" + auth_line(uid))
        reply = b""
        while b"\r\n" not in reply:
            chunk = sock.recv(512)
            if not chunk:
                break
            reply += chunk
        if not reply.startswith(b"OK "):
            raise CgroupError("refused: %s" % reply.strip().decode(errors="replace"))
        sock.sendall(b"BEGIN\r\n")
        sock.settimeout(None)
        return DBusConnection(sock)
    except Exception as e:
        sock.close()
        raise CgroupError(HINT + "error while authenticating connection (address=\"%s\", UID=%d): %s"
                          % (addr, uid, _why(e))) from None


def _why(e):
    from pyrunc.errors import strerror

    if isinstance(e, OSError) and e.errno:
        return strerror(e.errno)
    return str(e) or type(e).__name__
