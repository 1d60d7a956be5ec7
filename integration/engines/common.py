"""What the podman and containerd tests share.

Runtimes under test: each test runs the same flow with runc and with pyrunc.  The
engine is pointed at a wrapper (rtlog.sh, through a symlink named like the runtime)
that records every runtime call with its exit status, so a failure shows the exact
argv the engine used; a few tests plug the real binary in directly, with no wrapper.

Commands: every engine command goes through Commands.run(), which keeps it for the
failure report (argv, exit status, output) next to the runtime calls the wrapper saw.
"""
import fcntl
import os
import pty
import re
import select
import shlex
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import time
from collections import namedtuple
from pathlib import Path

import harness

HERE = Path(__file__).resolve().parent
RTLOG = HERE / "rtlog.sh"
IMAGE = "localhost/pyrt-busybox:latest"
RUNTIMES = {
    "runc": "/usr/sbin/runc",
    "pyrunc": os.environ.get("PYRUNC", "/opt/pyrunc/bin/pyrunc"),
}
CGROUP_ROOT = Path("/sys/fs/cgroup")


class EngineError(harness.HarnessError):
    """A step of an engine test did not work (an AssertionError, so the test fails)."""


# ---- packages ----

_installed = set()


def ensure_packages(binaries):
    """{binary: Debian package}: apt-get install the packages whose binary is missing."""
    missing = sorted({pkg for binary, pkg in binaries.items()
                      if pkg not in _installed and not shutil.which(binary)})
    if missing:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
        if r.returncode != 0:       # a stale package list: update once, then try again
            subprocess.run(["apt-get", "update"], capture_output=True, text=True, timeout=600, env=env)
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
        if r.returncode != 0:
            raise EngineError(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    still = [binary for binary in binaries if not shutil.which(binary)]
    if still:
        raise EngineError(f"not installed after apt-get: {', '.join(still)}")
    _installed.update(binaries.values())


# ---- the image ----

def rootfs_tar(workdir):
    """A tarball of the test image's root: static busybox with its applets, /probe, passwd, group."""
    workdir = Path(workdir)
    tree = harness.make_rootfs(workdir / "image-tree")
    out = workdir / "image-root.tar"
    subprocess.run(["tar", "--numeric-owner", "-C", str(tree), "-cf", str(out), "."],
                   check=True, capture_output=True, timeout=120)
    shutil.rmtree(tree)
    return out


# ---- engine commands ----

Result = namedtuple("Result", "argv returncode stdout stderr elapsed")


def _clip(text, limit=3000):
    return text if len(text) <= limit else text[:limit // 2] + "\n[...]\n" + text[-limit // 2:]


class Commands:
    """Runs engine commands (output into files, a timeout each) and keeps them for the report."""

    def __init__(self, env=None, cwd=None):
        self.env = env
        self.cwd = cwd          # conmon writes an "oom" file into its working directory
        self.history = []

    def run(self, argv, *, input=None, timeout=90, env=None):
        argv = [str(a) for a in argv]
        full_env = dict(os.environ if self.env is None else self.env)
        full_env.update(env or {})
        t0 = time.monotonic()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                p = subprocess.run(argv, input=input.encode() if isinstance(input, str) else input,
                                   stdin=subprocess.DEVNULL if input is None else None,
                                   stdout=out, stderr=err, timeout=timeout, env=full_env, cwd=self.cwd)
                rc = p.returncode
            except subprocess.TimeoutExpired:
                rc = None
            out.seek(0)
            err.seek(0)
            result = Result(argv, rc, out.read().decode(errors="replace"),
                            err.read().decode(errors="replace"), time.monotonic() - t0)
        self.history.append(result)
        if rc is None:
            raise EngineError(f"timed out after {timeout}s: {shlex.join(argv)}\n"
                              f"stdout: {_clip(result.stdout)}\nstderr: {_clip(result.stderr)}")
        return result

    def describe(self, last=12):
        lines = []
        for r in self.history[-last:]:
            lines.append(f"$ {shlex.join(r.argv)}\n  -> exit {r.returncode} ({r.elapsed:.2f}s)")
            if r.stdout.strip():
                lines.append("  stdout: " + _clip(r.stdout.strip()).replace("\n", "\n          "))
            if r.stderr.strip():
                lines.append("  stderr: " + _clip(r.stderr.strip()).replace("\n", "\n          "))
        return "\n".join(lines)


# ---- the runtime wrapper ----

Call = namedtuple("Call", "pid argv verb exit stderr")
_GLOBAL_WITH_VALUE = {"--root", "--log", "--log-format", "--criu", "--rootless", "--cgroup-manager"}
_ARGV_RE = re.compile(r"^\S+ \[(\d+)\] argv: (.*?) \| stdin=")
_EXIT_RE = re.compile(r"^\S+ \[(\d+)\] exit (\d+)(?: stderr: (.*))?$")


def verb_of(argv):
    """The runtime verb of an argv (argv[0] is the binary): the first word after the global flags."""
    skip = False
    for a in argv[1:]:
        if skip:
            skip = False
        elif a in _GLOBAL_WITH_VALUE:
            skip = True
        elif not a.startswith("-"):
            return a
    return ""


class Wrapped:
    """A runtime behind rtlog.sh: `path` is what the engine is given, `real` the runtime it runs."""

    def __init__(self, dirpath, name, real):
        self.name, self.real = name, real
        d = Path(dirpath)
        d.mkdir(parents=True, exist_ok=True)
        self.path = d / name
        if not self.path.is_symlink():
            self.path.symlink_to(RTLOG)
        (d / f"{name}.target").write_text(real + "\n")
        self.log = d / f"{name}.log"
        self.files = d / f"{name}.files"
        self.log.touch()
        self._mark = 0

    def __repr__(self):
        return f"Wrapped({self.name!r} -> {self.real!r})"

    def mark(self):
        """Calls before now are no longer reported."""
        self._mark = self.log.stat().st_size

    def text(self):
        with open(self.log, "rb") as f:
            f.seek(self._mark)
            return f.read().decode(errors="replace")

    def calls(self):
        """The runtime calls since mark(), in order, each with its exit status (None: still running)."""
        calls, by_pid = [], {}
        for line in self.text().splitlines():
            m = _ARGV_RE.match(line)
            if m:
                try:
                    argv = shlex.split(m.group(2))
                except ValueError:
                    argv = m.group(2).split()
                call = [int(m.group(1)), argv, verb_of(argv), None, ""]
                calls.append(call)
                by_pid[call[0]] = call
                continue
            m = _EXIT_RE.match(line)
            if m and int(m.group(1)) in by_pid:
                call = by_pid.pop(int(m.group(1)))
                call[3], call[4] = int(m.group(2)), (m.group(3) or "").strip()
        return [Call(*c) for c in calls]

    def calls_for(self, cid, verb=None):
        return [c for c in self.calls() if cid in c.argv and (verb is None or c.verb == verb)]

    def describe(self, limit=40):
        lines = self.text().splitlines()
        if len(lines) > limit:
            lines = [f"[{len(lines) - limit} earlier calls left out]"] + lines[-limit:]
        return "\n".join(lines) or "(no runtime calls)"


def wrappers(dirpath):
    """{name: Wrapped} for runc and pyrunc under `dirpath`."""
    return {name: Wrapped(dirpath, name, real) for name, real in RUNTIMES.items()}


class Context:
    """One test's view: the runtime under test, the engine's commands, and failure reports."""

    def __init__(self, rt, commands, extra=None):
        self.rt, self.commands, self.extra = rt, commands, extra
        rt.mark()
        commands.history.clear()

    def report(self):
        parts = [f"runtime under test: {self.rt.name} ({self.rt.real})",
                 "engine commands (most recent last):\n" + (self.commands.describe() or "(none)"),
                 f"runtime calls recorded by {self.rt.path} -> {self.rt.real}:\n" + self.rt.describe()]
        if self.extra:
            parts.append(self.extra())
        return "\n\n".join(parts)

    def fail(self, message):
        raise EngineError(f"{message}\n\n{self.report()}")

    def check(self, condition, message):
        if not condition:
            self.fail(message)
        return condition

    def ok(self, result, what=None):
        """`result` (a Result) exited 0, or the test fails with the report."""
        self.check(result.returncode == 0,
                   f"{what or shlex.join(result.argv)}: exit {result.returncode}, expected 0")
        return result

    def exits(self, result, code, what=None):
        self.check(result.returncode == code,
                   f"{what or shlex.join(result.argv)}: exit {result.returncode}, expected {code}")
        return result

    def runtime_called(self, cid, verb, expect_exit=0):
        """The runtime under test was called with `verb` for container `cid` (and exited so)."""
        calls = self.rt.calls_for(cid, verb)
        self.check(calls, f"the engine never called `{self.rt.name} {verb}` for {cid}")
        if expect_exit is not None:
            self.check(any(c.exit == expect_exit for c in calls),
                       f"`{self.rt.name} {verb}` for {cid} exited "
                       f"{[c.exit for c in calls]}, expected {expect_exit}")
        return calls


# ---- a terminal ----

def run_in_pty(argv, *, rows=30, cols=100, timeout=60, env=None):
    """Run argv with a new pty as its controlling terminal and stdio; return (exit status, output).

    The pty is `rows` x `cols`.  Output is read until the command has exited and the
    pty is quiet (a daemon that kept the slave open must not hold us).
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def become_session_leader():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    p = subprocess.Popen([str(a) for a in argv], stdin=slave, stdout=slave, stderr=slave,
                         preexec_fn=become_session_leader, close_fds=True, env=env)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:         # EIO: every slave fd is closed
                    break
                if not data:
                    break
                out += data
            elif p.poll() is not None:
                break
            if time.monotonic() > deadline:
                p.kill()
                p.wait()
                raise EngineError(f"timed out after {timeout}s in a pty: {shlex.join(map(str, argv))}\n"
                                  f"output so far: {bytes(out)!r}")
        rc = p.wait(timeout=timeout)
    finally:
        os.close(master)
    return rc, out.decode(errors="replace")


# ---- processes, mounts, cgroups ----

def proc_key(p):
    return (p.pid, p.start)


def settle(before, timeout=20):
    """Reap, and wait until the descendants not in `before` (a set of (pid, start)) are gone.

    Engines leave short-lived processes behind a command: conmon and podman's exit
    command (`podman container cleanup`), a containerd shim after its last task.
    Returns the ones still alive at the deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        harness.reap()
        new = [p for p in harness.descendants()
               if proc_key(p) not in before and p.state != "Z"]
        if not new or time.monotonic() > deadline:
            return new
        time.sleep(0.05)


def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def kill_pids(pids, timeout=10):
    """SIGKILL each pid we started (never a name), then wait for them to go."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        harness.reap()
        alive = [pid for pid in pids if (st := harness.proc_stat(pid)) and st.state != "Z"]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


def _unescape(field):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts_under(path):
    """Mount points at or below `path`, from this process's mountinfo, in mount order."""
    path = str(path).rstrip("/")
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mp = _unescape(line.split()[4])
        if mp == path or mp.startswith(path + "/"):
            found.append(mp)
    return found


def unmount_under(path):
    """Unmount everything at or below `path` (ours: a test's own dir), deepest and newest first."""
    for _ in range(3):
        mps = mounts_under(path)
        if not mps:
            return []
        for mp in sorted(mps, key=lambda m: (m.count("/"), mps.index(m)), reverse=True):
            if subprocess.run(["umount", mp], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", mp], capture_output=True)
    return mounts_under(path)


def cgroup_bases():
    """The directories cgroup trees hang from: each v1 hierarchy, the hybrid `unified`,
    or /sys/fs/cgroup itself on a pure v2 host."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return [CGROUP_ROOT]
    if not CGROUP_ROOT.is_dir():
        return []
    return [d for d in sorted(CGROUP_ROOT.iterdir())
            if d.is_dir() and not d.is_symlink() and (d / "cgroup.procs").exists()]


def cgroup_dirs(relpath):
    """Every existing <hierarchy>/<relpath>."""
    rel = str(relpath).strip("/")
    return [b / rel for b in cgroup_bases() if rel and (b / rel).is_dir()]


def remove_cgroup_tree(relpath):
    """rmdir <hierarchy>/<relpath> and what is below it, deepest first, in every hierarchy.

    Only for a tree of our own (a name this test run made up); returns what is left.
    """
    left = []
    for top in cgroup_dirs(relpath):
        for dirpath, _dirs, _files in os.walk(top, topdown=False):
            try:
                os.rmdir(dirpath)
            except OSError:
                left.append(dirpath)
    return left


def cgroup_of(pid, controller):
    """The directory of `pid`'s cgroup for a v1 controller ("freezer", "pids", ...), or its
    v2 cgroup when that controller has no v1 hierarchy.  None if the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    v2 = None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return CGROUP_ROOT / controller / path.lstrip("/")
        if controllers == "":
            v2 = path
    if v2 is None:
        return None
    base = CGROUP_ROOT / "unified" if (CGROUP_ROOT / "unified" / "cgroup.procs").exists() else CGROUP_ROOT
    return base / v2.lstrip("/")


def frozen(pid):
    """True/False: the freezer state of `pid`'s cgroup (v1 freezer.state or v2 cgroup.freeze)."""
    d = cgroup_of(pid, "freezer")
    if d is None:
        return None
    if (d / "freezer.state").exists():
        return (d / "freezer.state").read_text().strip() == "FROZEN"
    return (d / "cgroup.freeze").read_text().strip() == "1"


def cgroup_pids(pid):
    """The pids in `pid`'s cgroup (the pids controller's, else its v2 cgroup)."""
    d = cgroup_of(pid, "pids")
    if d is None:
        return set()
    return {int(x) for x in (d / "cgroup.procs").read_text().split()}


def alive(pid):
    st = harness.proc_stat(pid)
    return bool(st) and st.state != "Z"
