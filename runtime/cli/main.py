"""Entry point: global flags, dispatch to one handler per verb, and the only place
that catches PyruncError, logs it (runc's shapes) and sets the exit status."""
import posix
import sys

from pyrunc import errors, log, phase


class Globals:
    __slots__ = ("root", "debug", "systemd_cgroup", "rootless")

    def __init__(self, values):
        root = values["root"]
        if not root:
            from pyrunc import rootless

            root, xdg = rootless.default_root()
            if xdg:
                rootless.make_xdg_root(root)
        self.root = root.rstrip("/") or "/"
        self.debug = values["debug"]
        self.systemd_cgroup = values["systemd-cgroup"]
        self.rootless = values["rootless"]


def _usage_error(e):
    from pyrunc.cli import verbs

    log.error(e.msg)
    if e.verb in verbs.VERBS:
        sys.stdout.write("Incorrect Usage.\n\n" + verbs.verb_help(e.verb))
    sys.stdout.flush()


def run(argv):
    from pyrunc.cli import args, hotverbs

    values, rest = args.parse(argv, hotverbs.GLOBAL_FLAGS, None, interspersed=False)
    # runc: --version and the global --help answer before the log is set up
    if values["version"]:
        from pyrunc.cli import commands

        return commands.version()
    if values["help"] and not rest:
        from pyrunc.cli import verbs

        sys.stdout.write(verbs.main_help())
        return 0
    fmt = values["log-format"]
    if fmt not in ("text", "json"):
        raise errors.PyruncError('invalid log-format: %s' % fmt)
    log.fmt = fmt
    log.debug = values["debug"]
    if values["log"]:
        log.open_target(values["log"])
    if not rest:
        from pyrunc.cli import verbs

        sys.stdout.write(verbs.main_help())
        return 0
    verb = rest[0]
    if verb in ("help", "h"):
        from pyrunc.cli import verbs

        if len(rest) > 1 and rest[1] in verbs.VERBS:
            sys.stdout.write(verbs.verb_help(rest[1]))
            return 0
        sys.stdout.write(verbs.main_help())
        return 0
    spec = hotverbs.HOT.get(verb)
    if spec is None:
        from pyrunc.cli import verbs

        spec = verbs.VERBS.get(verb)
    if spec is None:
        log.error("No help topic for '%s'" % verb)
        return 3
    flags = spec[2]
    from pyrunc.cli.args import BOOL, Flag

    flags = flags + [Flag("help", BOOL, ("h",), False, "show help")]
    opts, pos = args.parse(rest[1:], flags, verb, interspersed=verb not in ("exec", "ps", "image"))
    if opts["help"]:
        from pyrunc.cli import commands

        return commands.help_for(verb)
    lo, hi = spec[3]
    if len(pos) < lo or (hi is not None and len(pos) > hi):
        if lo == hi:
            raise errors.UsageError('pyrunc: "%s" requires exactly %d argument(s)' % (verb, lo), verb)
        if len(pos) < lo:
            raise errors.UsageError('pyrunc: "%s" requires a minimum of %d argument(s)' % (verb, lo), verb)
        raise errors.UsageError('pyrunc: "%s" requires a maximum of %d argument(s)' % (verb, hi), verb)
    if verb in hotverbs.HOT:
        from pyrunc.cli import hotcommands as commands
    else:
        from pyrunc.cli import commands
    handler = getattr(commands, "cmd_" + verb.replace("-", "_"))
    phase("args")
    return handler(Globals(values), opts, pos)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        code = run(argv)
    except errors.UsageError as e:
        _usage_error(e)
        code = 1
    except errors.PyruncError as e:
        log.error(e.msg)
        code = e.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        code = 130
    except OSError as e:  # one the code did not name: still the path and errno, never "internal error"
        log.error(os_error_text(e))
        code = 1
    except Exception as e:  # a bug: still one line, the traceback under --debug
        log.error("internal error: %s: %s" % (type(e).__name__, e))
        if log.debug:
            import traceback

            traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
    except OSError:
        pass
    return code


def os_error_text(e):
    """An OSError as one Go-style line: `PATH: permission denied` (`SRC DST: ...` for a
    rename), the errno's text alone when no path is known."""
    text = errors.strerror(e.errno) if e.errno else (e.strerror or str(e))
    paths = [p if isinstance(p, str) else str(p) for p in (e.filename, e.filename2) if p is not None]
    return " ".join(paths) + ": " + text if paths else text


def exit_now(code):
    """End the process with `code` without interpreter finalization: tearing down every
    module and collecting their dicts costs about 1.5 ms, a sixth of the interpreter's
    start, and pyrunc has nothing that needs it (no threads, no atexit handlers; the
    streams are flushed here)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    import pyrunc

    if pyrunc._phases is not None:
        _write_phases(pyrunc._phases)
    posix._exit(code)


def _write_phases(marks):
    """PYRUNC_PHASES=FILE: one line `pid name ns name ns ...` appended to FILE
    (bench/run.py reads it against its own clock: both are CLOCK_MONOTONIC)."""
    import pyrunc

    marks.append(("output, exit", pyrunc._clock()))
    line = "%d %s\n" % (posix.getpid(), " ".join("%s %d" % m for m in marks))
    try:
        fd = posix.open(posix.environ[b"PYRUNC_PHASES"], posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT
                        | posix.O_CLOEXEC, 0o600)
        try:
            posix.write(fd, line.encode())
        finally:
            posix.close(fd)
    except OSError:
        pass
