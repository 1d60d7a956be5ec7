"""The Python API: run and manage containers from a Python program. The work is done in
lifecycle/ and the state store, which the CLI's handlers call too (create and the hot
verbs directly, so that a command does not pay for this module's classes), so a
program gets exactly what `pyrunc create/start/state/...` do, with the same state root
and the same locks (several processes may share one root, as several commands do).

    import pyrunc
    rt = pyrunc.Runtime()                      # --root /run/pyrunc
    with rt.run("c1", "/path/to/bundle", stdout=w) as c:
        print(c.state().status, c.wait())

Importing it costs posix, errors and the state store only (json, dataclasses, typing,
cffi are imported by the calls that need them). Nothing here changes process-wide state: no chdir, umask, signal handler,
subreaper or exit; errors are raised (pyrunc.errors), never printed.
"""
from __future__ import annotations

import posix

from pyrunc import errors
from pyrunc.state import store

TYPE_CHECKING = False
if TYPE_CHECKING:  # names for annotations only: typing stays off the command paths
    import os
    from collections.abc import Iterator
    from typing import IO, Any, Union

    from pyrunc.api_types import Spec, State

    StdStream = Union[int, IO[Any], None]
    PathLike = Union[str, "os.PathLike[str]"]


class _Options:
    """The global options lifecycle reads (the CLI passes its own, from its flags)."""

    __slots__ = ("root", "debug", "systemd_cgroup", "rootless")

    def __init__(self, root, systemd_cgroup, rootless):
        self.root = root
        self.debug = False
        self.systemd_cgroup = systemd_cgroup
        self.rootless = rootless


def _fd(stream, default):
    """An fd for a stdio argument: None inherits ours, an int is an fd, else fileno()."""
    if stream is None:
        return default
    if isinstance(stream, int):
        return stream
    return stream.fileno()


def _stdio(stdin, stdout, stderr):
    """(0, 1, 2) of a new process, or None when all three are ours (the shim's default)."""
    if stdin is None and stdout is None and stderr is None:
        return None
    return _fd(stdin, 0), _fd(stdout, 1), _fd(stderr, 2)


def _exit_status(status: int) -> int:
    """A wait status as the shell and `pyrunc run` report it: 128+N when killed by N."""
    if posix.WIFSIGNALED(status):
        return 128 + posix.WTERMSIG(status)
    return posix.WEXITSTATUS(status)


# the inits this process cloned through create() (pid -> True): only those are ours to
# wait for and reap, whichever Runtime object or thread asks
_children: dict[int, bool] = {}


def _reap(pid: int, block: bool) -> int | None:
    """The exit status of our init `pid` once collected (None: not ours, or running)."""
    if pid not in _children:
        return None
    try:
        wpid, status = posix.waitpid(pid, 0 if block else posix.WNOHANG)
    except ChildProcessError:
        _children.pop(pid, None)
        return None
    if wpid != pid:
        return None
    _children.pop(pid, None)
    return _exit_status(status)


class Runtime:
    """The containers under one state root (`pyrunc --root`).

    `systemd_cgroup` and `rootless` are the CLI's global flags of those names. A Runtime
    may be used from several threads, for different containers."""

    def __init__(self, root: PathLike | None = None, *, systemd_cgroup: bool = False, rootless: str = "auto") -> None:
        if root:
            root = posix.fspath(root)
        else:   # the command's default: $XDG_RUNTIME_DIR/pyrunc where runc uses its own
            from pyrunc import rootless as rootlessmod

            root, xdg = rootlessmod.default_root()
            if xdg:
                rootlessmod.make_xdg_root(root)
        root = root.rstrip("/") or "/"
        if not root.startswith("/"):
            root = posix.getcwd() + "/" + root
        self._g = _Options(root, systemd_cgroup, rootless)

    @classmethod
    def _of(cls, g) -> Runtime:
        """The Runtime of the CLI's global options (kept as they are: lifecycle reads them)."""
        rt = cls.__new__(cls)
        rt._g = g
        return rt

    @property
    def root(self) -> str:
        """The state root: one directory per container."""
        return self._g.root

    def __repr__(self) -> str:
        return "Runtime(root=%r)" % self.root

    def create(self, id: str, bundle: PathLike, *, pid_file: PathLike | None = None,
               console_socket: PathLike | None = None,
               no_pivot: bool = False, no_new_keyring: bool = False, preserve_fds: int = 0,
               stdin: StdStream = None, stdout: StdStream = None, stderr: StdStream = None) -> Container:
        """Create container `id` from `bundle` (a directory with config.json), as
        `pyrunc create`: the init waits for start(). Its stdin, stdout and stderr are ours
        unless given (fds or file objects: a pipe's write end reads its output).
        Raises ContainerExists, ConfigError, InvalidIDError, PyruncError."""
        from pyrunc.lifecycle import create

        c = create.create(self._g, id, posix.fspath(bundle), pid_file=posix.fspath(pid_file) if pid_file else None,
                          console_socket=posix.fspath(console_socket) if console_socket else None,
                          no_pivot=no_pivot, no_new_keyring=no_new_keyring, preserve_fds=preserve_fds,
                          stdio=_stdio(stdin, stdout, stderr))
        _children[c.pid] = True
        return Container(self, id)

    def get(self, id: str) -> Container:
        """The container `id`; ContainerNotFound when there is none."""
        store.read_state(store.container_dir(self.root, id))
        return Container(self, id)

    def list(self) -> list[State]:
        """Every container under the root, sorted by id."""
        from pyrunc.api_types import State

        return [State.from_dict(d) for d in self.list_dicts()]

    def list_dicts(self) -> list[dict]:
        """Every container's state as `pyrunc list --format json` prints it (the owner a name)."""
        return store.list_public(self.root)

    def run(self, id: str, bundle: PathLike, **create_args: Any) -> _Running:
        """Create and start `id`; a context manager yielding the Container that deletes it
        (killing what still runs) on exit, an exception in the block included:

            with rt.run("c1", bundle, stdout=w) as c:
                code = c.wait()

        `create_args` are create()'s."""
        return _Running(self, id, bundle, create_args)


class _Running:
    __slots__ = ("rt", "id", "bundle", "args", "container")

    def __init__(self, rt, id, bundle, args):
        self.rt, self.id, self.bundle, self.args = rt, id, bundle, args
        self.container = None

    def __enter__(self) -> Container:
        c = self.rt.create(self.id, self.bundle, **self.args)
        try:
            c.start()
        except BaseException:
            c.delete(force=True)
            raise
        self.container = c
        return c

    def __exit__(self, *exc) -> bool:
        self.container.delete(force=True)
        return False


class Container:
    """A handle on container `id` under `runtime`'s root. Every method reads the state
    afresh (another process may have changed it) and raises ContainerNotFound when the
    container is gone."""

    __slots__ = ("runtime", "id", "_exit")

    def __init__(self, runtime: Runtime, id: str) -> None:
        self.runtime = runtime
        self.id = id
        self._exit: int | None = None

    def __repr__(self) -> str:
        return "Container(%r, root=%r)" % (self.id, self.runtime.root)

    @property
    def _root(self):
        return self.runtime._g.root

    def start(self) -> None:
        """Run the user's process of a created container (`pyrunc start`)."""
        from pyrunc.lifecycle import start

        start.start(self._root, self.id)

    def state_dict(self) -> dict:
        """The state as `pyrunc state` prints it (runc's fields and order)."""
        return store.public_state_of(self._root, self.id)

    def state(self) -> State:
        """The state: status creating, created, running, paused or stopped (derived now)."""
        from pyrunc.api_types import State

        return State.from_dict(self.state_dict())

    @property
    def pid(self) -> int:
        """The init's pid (0 once stopped)."""
        return self.state_dict()["pid"]

    def kill(self, signal: int | str = 15, all: bool = False) -> None:
        """Send `signal` (a number or a name: 9, "KILL", "SIGKILL") to the init, or with
        `all` to every process of the container (`pyrunc kill`)."""
        from pyrunc.lifecycle import kill

        if isinstance(signal, str):
            from pyrunc import signals

            signal = signals.parse(signal)
        kill.kill(self._root, self.id, int(signal), all)

    def delete(self, force: bool = False) -> None:
        """Remove a stopped or created container; `force` kills a running one first
        (`pyrunc delete`). The init, when this process created it, is reaped."""
        from pyrunc.lifecycle import delete

        pid = self._init_pid() if _children else 0   # none for the command: no extra read
        delete.delete(self._root, self.id, force)
        if pid:
            status = _reap(pid, block=True)
            if status is not None:
                self._exit = status

    def _init_pid(self):
        try:
            return store.read_state(store.container_dir(self._root, self.id)).get("pid") or 0
        except errors.PyruncError:
            return 0

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the init to exit; its exit status (128+N when killed by signal N) when
        this process created the container, else None. None too after `timeout` seconds."""
        import time

        if self._exit is not None:
            return self._exit
        st = store.read_state(store.container_dir(self._root, self.id))
        pid = st.get("pid") or 0
        deadline = None if timeout is None else time.monotonic() + timeout
        if pid in _children and deadline is None:
            self._exit = _reap(pid, block=True)
            return self._exit
        delay = 0.001
        while True:
            if pid in _children:
                status = _reap(pid, block=False)
                if status is not None:
                    self._exit = status
                    return status
            elif not store.init_alive(st):
                return None
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def pause(self) -> None:
        """Freeze every process of the container (`pyrunc pause`)."""
        from pyrunc.lifecycle import pause

        pause.pause(self._root, self.id)

    def resume(self) -> None:
        """Thaw a paused container (`pyrunc resume`)."""
        from pyrunc.lifecycle import pause

        pause.resume(self._root, self.id)

    def update(self, resources: dict | None = None, *, flags: dict | None = None) -> None:
        """Apply LinuxResources (`{"memory": {"limit": 67108864}, "pids": {"limit": 10}}`)
        on top of the current ones, checked as config.json's linux.resources is; or
        `flags`, runc's `update` flags by name ({"memory": "64m", "pids-limit": "10"}),
        as the CLI passes them (`pyrunc update`)."""
        from pyrunc.lifecycle import update

        update.update(self._root, self.id, flags or {}, resources=resources)

    def events(self, stats: bool = False, interval: float | str = 5.0) -> Iterator[dict]:
        """The events `pyrunc events` prints, as dicts ({"type": "stats"|"oom", "id", "data"}):
        with `stats` one stats event; else stats every `interval` (seconds, or a Go
        duration "5s") and "oom" events until the container stops."""
        from pyrunc.lifecycle import events

        if not isinstance(interval, str):
            interval = "%fs" % interval
        return events.stream(self._root, self.id, interval, stats)

    def stats(self) -> dict:
        """The container's resource usage (the "data" of a stats event)."""
        return next(iter(self.events(stats=True)))["data"]

    def exec(self, process: list[str] | dict, *, tty: bool = False, detach: bool = False,
             console_socket: str | None = None, cwd: str | None = None, env: list[str] | None = None,
             user: str | int | None = None, additional_gids: list[int] | None = None,
             capabilities: list[str] | None = None, no_new_privileges: bool = False,
             apparmor: str | None = None, process_label: str | None = None, preserve_fds: int = 0,
             cgroup: list[str] | None = None, ignore_paused: bool = False, pid_file: str | None = None,
             stdin: StdStream = None, stdout: StdStream = None, stderr: StdStream = None) -> int | Process:
        """Run a process in the container (`pyrunc exec`): `process` is its args (the
        container's process settings otherwise, the keyword arguments as exec's flags) or
        a whole runtime-spec process dict (as `exec --process`). Its stdio are ours unless
        given; `tty` needs a `console_socket`, which receives the pty master.
        Returns the exit status, or with `detach` a Process at once."""
        from pyrunc.lifecycle import exec as execmod

        o = {"console-socket": console_socket or "", "cwd": cwd or "", "env": env, "tty": tty,
             "user": "" if user is None else str(user), "additional-gids": [str(g) for g in additional_gids or ()],
             "process": "", "detach": detach, "pid-file": pid_file or "", "process-label": process_label or "",
             "apparmor": apparmor or "", "no-new-privs": no_new_privileges, "cap": capabilities,
             "preserve-fds": preserve_fds, "cgroup": cgroup, "ignore-paused": ignore_paused}
        if isinstance(process, dict):
            o["process-dict"] = process
            args = []
        else:
            if isinstance(process, str):
                raise TypeError("process: a list of arguments or a process dict, not a string")
            args = list(process)
        stdio = _stdio(stdin, stdout, stderr) or (0, 1, 2)
        try:
            pid = execmod.exec_(self.runtime._g, self.id, o, args, stdio=stdio)
        except errors.UsageError:
            raise
        except errors.PyruncError as e:
            raise e.wrap("exec failed")
        proc = Process(pid)
        return proc if detach else proc.wait()


class Process:
    """A process started by Container.exec(detach=True): our child until waited for."""

    __slots__ = ("pid", "returncode")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def __repr__(self) -> str:
        return "Process(pid=%d, returncode=%r)" % (self.pid, self.returncode)

    def poll(self) -> int | None:
        """The exit status if it has exited (collecting it), else None."""
        if self.returncode is None:
            wpid, status = posix.waitpid(self.pid, posix.WNOHANG)
            if wpid == self.pid:
                self.returncode = _exit_status(status)
        return self.returncode

    def wait(self) -> int:
        """Wait for the exit; the status (128+N when killed by signal N)."""
        if self.returncode is None:
            _, status = posix.waitpid(self.pid, 0)
            self.returncode = _exit_status(status)
        return self.returncode

    def kill(self, signal: int = 15) -> None:
        """Signal it, unless it has been waited for (its pid may be another's then)."""
        if self.returncode is None:
            posix.kill(self.pid, signal)
