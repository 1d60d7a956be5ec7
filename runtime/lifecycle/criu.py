"""CRIU over its RPC, as runc drives it: `criu swrk 3` on one end of a SOCK_SEQPACKET
socketpair, criu_req/criu_resp protobuf messages (the definitions Debian's criu package
ships as pycriu.rpc_pb2), NOTIFY messages answered one by one. Imported only by
checkpoint, restore and the checkpoint probe (features, `checkpoint --help`)."""
import posix

from pyrunc import errors

# Debian installs pycriu and python3-protobuf for the system python only; our venv
# does not see them unless we add their directory
_DIST = "/usr/lib/python3/dist-packages"
_CRIU_PATHS = ("/usr/sbin/criu", "/usr/local/sbin/criu", "/usr/bin/criu", "/usr/local/bin/criu", "/sbin/criu")


def rpc():
    try:
        from pycriu import rpc_pb2
    except ImportError:
        import sys

        if _DIST not in sys.path:
            sys.path.append(_DIST)
        try:
            from pycriu import rpc_pb2
        except ImportError as e:
            raise errors.PyruncError("CRIU's RPC definitions (python module pycriu, Debian package criu) "
                                     "cannot be imported: %s" % e) from None
    return rpc_pb2


def criu_path():
    for d in (posix.environ.get(b"PATH") or b"").split(b":") + [b""]:
        for p in ([d.decode() + "/criu"] if d else _CRIU_PATHS):
            try:
                if posix.access(p, posix.X_OK):
                    return p
            except OSError:
                pass
    raise errors.PyruncError("criu binary not found in $PATH (checkpoint and restore need CRIU)")


class CriuError(errors.PyruncError):
    pass


def req_type_name(rpcmod, t):
    return rpcmod.criu_req_type.Name(t)


class Swrk:
    """One `criu swrk` process. stdio: three fds for its 0, 1, 2 (restore: what the
    restored tasks inherit; runc passes its own); extra: fds it gets as 4, 5, ..."""

    def __init__(self, stdio=None, extra=()):
        import _socket

        self.rpc = rpc()
        path = criu_path()
        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
        self.sock = a
        server = b.detach()
        try:
            self.pid = _spawn(path, server, stdio, list(extra))
        finally:
            posix.close(server)
        self.status = None

    def call(self, req, on_notify=None, log_path=""):
        """Send req; answer NOTIFYs with on_notify(script, pid, fds); return the final
        criu_resp. A failed response raises CriuError with CRIU's own message."""
        import _socket

        r = self.rpc
        self.sock.send(req.SerializeToString())
        while True:
            try:
                data, anc, _, _ = self.sock.recvmsg(10 * 4096, _socket.CMSG_SPACE(4 * 8))
            except OSError as e:
                raise CriuError("criu failed: %s" % e.strerror) from None
            fds = []
            for level, kind, blob in anc:
                if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                    fds += [int.from_bytes(blob[i:i + 4], "little") for i in range(0, len(blob) - 3, 4)]
            if not data:
                self.wait()
                raise CriuError("criu failed: type %s: criu exited (%s) without an answer%s"
                                % (req_type_name(r, req.type), self.describe(), _log_hint(log_path)))
            resp = r.criu_resp()
            resp.ParseFromString(data)
            if not resp.success:
                for fd in fds:
                    posix.close(fd)
                msg = resp.cr_errmsg.strip() if resp.HasField("cr_errmsg") else ""
                msg = _reason(msg) or first_error(log_path) or ""
                raise CriuError("criu failed: type %s errno %d%s%s" % (
                    req_type_name(r, req.type), resp.cr_errno, (": " + msg) if msg else "", _log_hint(log_path)))
            if resp.type != r.NOTIFY:
                return resp
            try:
                if on_notify is not None:
                    on_notify(resp.notify.script, resp.notify.pid, fds)
            finally:
                for fd in fds:
                    try:
                        posix.close(fd)
                    except OSError:
                        pass
            self.sock.send(r.criu_req(type=r.NOTIFY, notify_success=True).SerializeToString())

    def wait(self):
        if self.status is None:
            try:
                self.sock.shutdown(1)
            except OSError:
                pass
            self.status = posix.waitpid(self.pid, 0)[1]
        return self.status

    def describe(self):
        s = self.status
        if posix.WIFSIGNALED(s):
            return "signal: %d" % posix.WTERMSIG(s)
        return "exit status %d" % posix.WEXITSTATUS(s)

    def close(self):
        self.sock.close()
        try:
            self.wait()
        except ChildProcessError:
            pass


def _log_hint(log_path):
    return " (log file: %s)" % log_path if log_path else ""


def _spawn(path, server, stdio, extra):
    """fork + exec `criu swrk 3`, the socket at 3 and extra at 4.. (their numbers must be
    exact: CRIU's inherit_fd entries name them)."""
    import fcntl

    src = [(server, 3)] + [(e, 4 + i) for i, e in enumerate(extra)]
    if stdio is not None:
        src += [(s, i) for i, s in enumerate(stdio)]
    pid = posix.fork()
    if pid:
        return pid
    try:
        # lift every source above the target range first: no dup2 overwrites a source
        lifted = [(fcntl.fcntl(s, fcntl.F_DUPFD_CLOEXEC, 100), t) for s, t in src]
        for h, t in lifted:
            posix.dup2(h, t, inheritable=True)
        posix.closerange(4 + len(extra), 100)
        posix.execv(path, [path, "swrk", "3"])
    except BaseException:
        pass
    posix._exit(127)


def check():
    """None when CRIU works here, else CRIU's own reason: a CHECK request over RPC (the
    kernel feature detection `criu check` runs), its error line from the log."""
    import tempfile

    try:
        r = rpc()
    except errors.PyruncError as e:
        return str(e)
    try:
        criu_path()
    except errors.PyruncError as e:
        return str(e)
    d = tempfile.mkdtemp(prefix="pyrunc-criu-check.")
    fd = posix.open(d, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
    null = posix.open("/dev/null", posix.O_RDWR | posix.O_CLOEXEC)
    try:
        try:
            s = Swrk(stdio=(null, null, null))
        except OSError as e:
            return "criu: %s" % e.strerror
        try:
            # CRIU opens *_dir_fd through /proc/<our pid>/fd: our own descriptor numbers
            opts = r.criu_opts(images_dir_fd=fd, log_file="check.log", log_level=1)
            s.call(r.criu_req(type=r.CHECK, opts=opts))
            return None
        except errors.PyruncError as e:
            why = first_error(d + "/check.log")
            return ("criu: " + why) if why else str(e)
        finally:
            s.close()
    finally:
        posix.close(fd)
        posix.close(null)
        import shutil

        shutil.rmtree(d, ignore_errors=True)


def _reason(line):
    """"Error (criu/x.c:12): what" -> "what"."""
    if line.startswith("Error (") and "): " in line:
        return line.split("): ", 1)[1].strip()
    return line


def first_error(log):
    """CRIU's reason: its log's first "Error (file:line): reason" line, without the position
    (the timestamped form at log level 4 too)."""
    if not log:
        return None
    try:
        with open(log, errors="replace") as f:
            for line in f:
                at = line.find("Error (")
                if at >= 0 and at < 20:
                    return line[at:].split("): ", 1)[-1].strip()
    except OSError:
        pass
    return None
