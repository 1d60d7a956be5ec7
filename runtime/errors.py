"""The error hierarchy. Messages are lower case, one line, context added from the
outside in (`create container "c1": mount "proc" on "/proc": operation not permitted`).
Only pyrunc.cli.main catches these; it logs the line and exits 1.

Imports nothing beyond builtins: it is on the path of every command.
"""
import _thread  # loaded with the interpreter (importlib's own lock)


class PyruncError(Exception):
    """Any failure a user should see as one line; exit status 1 (runc's `fatal`)."""

    exit_code = 1

    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg

    def __str__(self):
        return self.msg

    def wrap(self, prefix):
        self.msg = prefix + ": " + self.msg
        self.args = (self.msg,)
        return self


# The other errors are made on first use of any of them: making a class costs 10-30 us,
# every command imports this module, and the hot verbs' success paths raise none.
_DEFINING = _thread.allocate_lock()
_LAZY = frozenset(('UsageError', 'ConfigError', 'ContainerExists', 'ContainerNotFound', 'InvalidIDError', 'StateError', 'SyscallError', 'ChildSetupError', 'CgroupError', 'HookError'))


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    # API callers raise and catch these from several threads: the classes are made once,
    # or an error raised as one thread's StateError is not the other's
    with _DEFINING:
        if name not in globals():
            _define()
    return globals()[name]


def _define():
    class UsageError(PyruncError):
        """Bad flags or arguments; the verb's usage is printed after the line."""

        def __init__(self, msg, verb=None):
            super().__init__(msg)
            self.verb = verb

    class ConfigError(PyruncError):
        """config.json (or a process.json) rejected; `path` is the JSON path."""

        def __init__(self, path, reason, source="config.json"):
            super().__init__(source + ": " + (path + ": " if path else "") + reason)
            self.path = path
            self.reason = reason

    class ContainerExists(PyruncError):
        def __init__(self):
            super().__init__("container with given ID already exists")

    class ContainerNotFound(PyruncError):
        def __init__(self):
            super().__init__("container does not exist")

    class InvalidIDError(PyruncError):
        def __init__(self):
            super().__init__("invalid container ID format")

    class StateError(PyruncError):
        """The container's status does not allow the operation (runc's wording)."""

    class SyscallError(PyruncError, OSError):
        """A system call in the runtime failed: `what` names the call and its object."""

        def __init__(self, what, errno):
            PyruncError.__init__(self, what + ": " + strerror(errno))
            self.errno = errno

    class ChildSetupError(PyruncError):
        """The container init reported a failed plan step over the sync socket."""

        NO_ERRNO = 65536  # SHIM_ENOERRNO: the detail says it all (a hook's exit status)

        def __init__(self, detail, errno):
            super().__init__(detail + (": " + strerror(errno) if errno and errno != self.NO_ERRNO else ""))
            self.errno = errno

    class CgroupError(PyruncError):
        pass

    class HookError(PyruncError):
        pass
    made = {k: v for k, v in locals().items() if k in _LAZY}
    for cls in made.values():
        cls.__qualname__ = cls.__name__
    globals().update(made)


def strerror(errno):
    """Go-style errno text: lower case first letter (`no such file or directory`)."""
    import posix

    text = posix.strerror(errno)
    return text[:1].lower() + text[1:]


def from_oserror(what, exc):
    """A SyscallError for an OSError raised by os/posix calls."""
    return __getattr__("SyscallError")(what, exc.errno or 0)


class context:
    """`with context('create container "c1"'):` prefixes PyruncErrors raised inside."""

    __slots__ = ("prefix",)

    def __init__(self, prefix):
        self.prefix = prefix

    def __enter__(self):
        return self

    def __exit__(self, typ, exc, tb):
        # (no UsageError made yet: exc is none)
        if isinstance(exc, PyruncError) and not isinstance(exc, globals().get("UsageError", ())):
            exc.wrap(self.prefix)
        return False
