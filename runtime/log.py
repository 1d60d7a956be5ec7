"""Log lines in runc's shapes (logrus): text `time="..." level=error msg="..."` or JSON
`{"level":"error","msg":"...","time":"..."}`, written to --log or to stderr.

On the path of every command: imports only posix and time (pyrunc.jsonio when a line
needs quoting or JSON).
"""
import posix
import time

# set once by cli.main from the global flags
target = None          # --log path, None for stderr
fmt = "text"           # --log-format
debug = False          # --debug
_fd = -1               # --log opened by open_target()


def open_target(path):
    """Open --log once, before the verb runs, as runc does (O_APPEND|O_CREAT|O_SYNC, 0644):
    a path that cannot be opened fails every verb with `open PATH: <errno>` on stderr,
    instead of silently dropping the log lines."""
    global target, _fd
    try:
        _fd = posix.open(path, posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT | posix.O_SYNC | posix.O_CLOEXEC,
                         0o644)
    except OSError as e:
        target = None
        from pyrunc import errors

        raise errors.from_oserror("open " + path, e) from None
    target = path


def rfc3339(t=None):
    """Local time as Go's time.RFC3339 (`2026-11-26T20:25:42Z`, or with an offset)."""
    lt = time.localtime(t)
    off = lt.tm_gmtoff or 0
    if off == 0:
        zone = "Z"
    else:
        sign = "+" if off > 0 else "-"
        off = abs(off) // 60
        zone = "%s%02d:%02d" % (sign, off // 60, off % 60)
    return time.strftime("%Y-%m-%dT%H:%M:%S", lt) + zone


def rfc3339nano_utc(ns):
    """UTC with nanoseconds, trailing zeros trimmed (Go's time.RFC3339Nano)."""
    sec, frac = divmod(ns, 1000000000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    if frac:
        text += "." + ("%09d" % frac).rstrip("0")
    return text + "Z"


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/@^+")


def _text_value(s):
    if s and all(ch in _SAFE for ch in s):
        return s
    # Go's %q: a JSON string literal is the same for the characters we write
    from pyrunc import jsonio

    return jsonio.go_string(s).replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&")


def format_line(level, msg, now=None):
    stamp = rfc3339(now)
    if fmt == "json":
        from pyrunc import jsonio

        return '{"level":%s,"msg":%s,"time":%s}\n' % (
            jsonio.go_string(level), jsonio.go_string(msg), jsonio.go_string(stamp))
    return "time=%s level=%s msg=%s\n" % (_text_value(stamp), level, _text_value(msg))


def _write(fd, data):
    try:
        data = data.encode("utf-8", "surrogateescape")  # file names: their own bytes
    except UnicodeEncodeError:
        data = data.encode("utf-8", "replace")
    while data:
        n = posix.write(fd, data)
        data = data[n:]


def emit(level, msg):
    """Write one log line to the log target; never raises."""
    line = format_line(level, msg)
    try:
        if target is None:
            _write(2, line)
        elif _fd >= 0:
            _write(_fd, line)
        else:
            fd = posix.open(target, posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT | posix.O_CLOEXEC, 0o644)
            try:
                _write(fd, line)
            finally:
                posix.close(fd)
    except OSError:
        pass


def error(msg):
    """A fatal error: to the log, and as a plain line to stderr when the log is a file."""
    emit("error", msg)
    if target is not None:
        try:
            # one line whatever the message holds (a config value with a newline)
            _write(2, msg.replace("\n", "\\n").replace("\r", "\\r") + "\n")
        except OSError:
            pass


def warning(msg):
    emit("warning", msg)


def debugf(msg):
    if debug:
        emit("debug", msg)
