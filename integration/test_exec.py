"""`exec`: a new process in a created or running container, through the `pyrunc` command, next to runc.

Every test starts a real container whose init sleeps (`/probe sleep 500`), runs `exec`
into it and looks at what the exec'd process saw with `/probe report`
(integration/probe/probe.c) or a busybox command: the exit status and output,
`--process FILE` (the shape podman and containerd write), `--tty` with and without a
console socket, `--cwd`, `--env`, `--user`, `--additional-gids`, `--cap`,
`--no-new-privs`, `--detach` with `--pid-file`, `--preserve-fds`, `--ignore-paused`,
`--cgroup`, `--apparmor` and `--process-label`; that it joins every namespace and the
cgroup of the init and gets the container's seccomp filter, capabilities, rlimits, user
and env; and the failures, with their wording, exit status and nothing left behind.

The same bundle and the same `exec` command line run under runc (Debian's 1.1.5, the
reference) and under pyrunc, and what the two exec'd processes saw must be equal; what
changes from run to run (pids, container ids, the test's tmp dir) is normalised first.
runc's behaviour, as this host shows it (the tests assert it of runc too, so a test
cannot pass on a wrong premise):

- every failure after the flags are parsed exits 255 with one line "exec failed: ...";
- exec into a *created* container works, and the container stays created until `start`;
- a paused container refuses exec unless --ignore-paused; with it the process joins the
  frozen cgroup and runs once the container is resumed;
- --console-socket is taken only with both --tty and --detach; a foreground --tty needs
  the caller's terminal (its stdio or /dev/tty);
- --cap adds to bounding, effective and permitted, and to ambient only when the
  process has an inheritable set;
- --cgroup [CTRL[,CTRL]:]PATH joins existing sub-cgroups; an unknown controller fails;
- --apparmor and --process-label fail on this host (no AppArmor, no SELinux): the profile
  is written and the kernel refuses it, the label is refused up front;
- the exec'd process keeps the caller's umask (the container's process.user.umask is
  not applied), and a --process file without capabilities gets the container's.
"""
import contextlib
import difflib
import json
import os
import re
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

import harness
from test_process import ConsoleReceiver, on_pty, popen, wait_proc

pytestmark = pytest.mark.integration

SLEEP = ["/probe", "sleep", "500"]
RUNTIMES = ("runc", "pyrunc")
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LOG_LINE = re.compile(r'^time="[^"]*" level=(\w+) msg="(.*)"$')
NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children",
              "user", "uts")
# keyctl(2) fails with ENOMSG (42) under this filter: a result no kernel gives by itself
SECCOMP = {"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]}
PODMAN_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
               "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID",
               "CAP_SYS_CHROOT"]
CONTAINERD_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                   "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                   "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
# --process files as the engines write them (/work/shared/samples: podman 4.3.1's
# `podman exec e1 /bin/echo ex` and `podman exec -u 65534 e1 /bin/id`, containerd 1.6.20's
# `ctr task exec`), with the probe as the command
PROCESS_FILES = {
    "podman": {
        "user": {"uid": 0, "gid": 0}, "args": None,
        "env": [DEFAULT_PATH, "TERM=xterm", "container=podman", "HOME=/root"], "cwd": "/",
        "capabilities": {k: PODMAN_CAPS for k in ("bounding", "effective", "permitted")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024},
                    {"type": "RLIMIT_NPROC", "hard": 4096, "soft": 4096}],
    },
    "podman-user": {
        "user": {"uid": 65534, "gid": 65534}, "args": None,
        "env": [DEFAULT_PATH, "TERM=xterm", "container=podman", "HOME=/nonexistent"], "cwd": "/",
        "capabilities": {k: PODMAN_CAPS for k in ("bounding", "effective", "permitted")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024},
                    {"type": "RLIMIT_NPROC", "hard": 4096, "soft": 4096}],
    },
    "containerd": {
        "user": {"uid": 0, "gid": 0, "additionalGids": [0]}, "args": None, "env": [DEFAULT_PATH], "cwd": "/",
        "capabilities": {k: CONTAINERD_CAPS for k in ("bounding", "effective", "permitted")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}], "noNewPrivileges": True,
    },
}

CONFIG_ENV = [DEFAULT_PATH, "TERM=xterm", "FROM_CONFIG=1", "SHARED=config"]
CONFIG_USER = {"uid": 1000, "gid": 1000, "additionalGids": [100, 3000]}
# a process that has an inheritable set: runc's --cap then adds to ambient too
INH_CAPS = {"bounding": ["CAP_KILL", "CAP_AUDIT_WRITE", "CAP_SYS_ADMIN"], "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL", "CAP_SYS_ADMIN"], "ambient": ["CAP_KILL"]}


# ---- helpers ----

@contextlib.contextmanager
def container(rt, bundle_factory, args=SLEEP, start=True, **edits):
    """A container of a fresh bundle (make_bundle's edits), created and (by default) started;
    deleted with --force afterwards.  Yields its id."""
    bundle = bundle_factory(None, args, **edits)
    cid = harness.new_id("exec")
    r = rt.create(cid, bundle)
    assert r.returncode == 0, f"{rt.name} create: exit {r.returncode}: {r.stderr}"
    try:
        if start:
            r = rt.start(cid)
            assert r.returncode == 0, f"{rt.name} start: exit {r.returncode}: {r.stderr}"
        yield cid
    finally:
        # collect exec'd processes that have exited (ours, as the subreaper) first: a
        # cgroup still holding a zombie cannot be removed by `delete`
        harness.reap()
        rt.delete(cid, force=True)
        harness.reap()


def on_both(runc, pyrunc, bundle_factory, fn, args=SLEEP, start=True, **edits):
    """fn(rt, cid) with a fresh container of the same bundle under each runtime: {name: result}."""
    seen = {}
    for rt in (runc, pyrunc):
        with container(rt, bundle_factory, args, start, **edits) as cid:
            seen[rt.name] = fn(rt, cid)
    return seen


# containers the whole module shares (see `shared`), by the config they were made with
SHARED = {
    "plain": {},
    "env": {"process": {"env": CONFIG_ENV}},
    "user": {"process": {"user": CONFIG_USER, "env": [DEFAULT_PATH]}},
    "privs": {"process": {"noNewPrivileges": False}},
    "inheritable": {"process": {"noNewPrivileges": False, "capabilities": INH_CAPS}},
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory, probe):
    """Running containers for the tests whose execs leave them as they were (no process
    left, nothing changed), made once for the module: {SHARED key: {runtime name: (Runtime, id)}}.

    Made before, and deleted after, every test's leak check (a module fixture is set up
    before and torn down after the function ones), which still sees any process an exec
    leaves behind in them.
    """
    workdir = tmp_path_factory.mktemp("exec-shared")
    made = {}
    try:
        for name in RUNTIMES:
            rt = harness.Runtime(name, workdir)
            for key, edits in SHARED.items():
                bundle = harness.make_bundle(workdir / f"bundle-{key}-{name}", SLEEP, **edits)
                cid = harness.new_id(f"shared-{key}")
                ok(rt.create(cid, bundle), rt, "create")
                made.setdefault(key, {})[name] = (rt, cid)
                ok(rt.start(cid), rt, "start")
        yield made
    finally:
        harness.reap()
        for per_runtime in made.values():
            for rt, cid in per_runtime.values():
                rt.delete(cid, force=True)
        harness.reap()


def on_shared(shared, key, fn):
    """fn(rt, cid) with the shared container `key` of each runtime: {name: result}."""
    return {name: fn(rt, cid) for name, (rt, cid) in shared[key].items()}


def exec_(rt, cid, *cmd, flags=(), **kw):
    """`exec FLAGS... ID CMD...` (flags before the id, as runc's parser wants them)."""
    return rt.cmd("exec", *flags, cid, *cmd, **kw)


def _unquote(msg):
    return re.sub(r"\\(.)", r"\1", msg)


def log_lines(stderr):
    """stderr -> [(level, message)]: runc's text log lines, anything else as ("raw", line)."""
    out = []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        m = LOG_LINE.match(line)
        out.append((m.group(1), _unquote(m.group(2))) if m else ("raw", line))
    return out


def normalize(text, rt, cid):
    """The container id, the runtime's work dir, bundle names, pids and the runtime's own name
    ("runc"/"pyrunc", as in "if runc will detach") made alike."""
    text = text.replace(cid, "<id>").replace(str(rt.workdir), "<tmp>")
    text = re.sub(r"bundle-\d+", "bundle", text)
    text = re.sub(r"\b(py)?runc\b", "<runtime>", text)
    return re.sub(r"(?<![\w./:-])\d{2,}(?![\w.])", "<n>", text)


def outcome(r, rt, cid):
    """What the caller of `exec` sees: (exit status, stdout, [(level, message)]), normalised."""
    return (r.returncode, normalize(r.stdout, rt, cid),
            [(level, normalize(msg, rt, cid)) for level, msg in log_lines(r.stderr)])


def report(text, drop=("pid",)):
    """A probe report without the lines that differ by design (the pid inside the container:
    runc's `runc init` stages use up pids that pyrunc's shim does not)."""
    return [line for line in text.splitlines() if line.partition(": ")[0] not in drop]


def ok(r, rt, what="exec"):
    assert r.returncode == 0, f"{rt.name} {what}: exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r


def runc_nofile_race(lines, soft, hard):
    """runc 1.1.5's exec sets the process's rlimits from the parent with prlimit while its
    `runc init` starts; the Go runtime of that init raises its soft RLIMIT_NOFILE to the
    hard one, and when that comes second the process runs with hard/hard (a runc race, seen
    under load). Such a line is taken as the config's soft/hard, the rest is compared."""
    raced, asked = "RLIMIT_NOFILE: %d %d" % (hard, hard), "RLIMIT_NOFILE: %d %d" % (soft, hard)
    return [asked if line == raced else line for line in lines]


def assert_same(seen, what="the exec'd process"):
    assert seen["pyrunc"] == seen["runc"], f"{what} differs:\nrunc:   {seen['runc']!r}\npyrunc: {seen['pyrunc']!r}"


def init_pid(rt, cid):
    return rt.state(cid)["pid"]


def container_pids(rt, cid):
    r = rt.cmd("ps", "--format", "json", cid, check=True)
    return sorted(json.loads(r.stdout) or [])


def host_cgroup_dirs(pid):
    """{controllers: directory} of `pid`'s v1 and v2 cgroups, from /proc/PID/cgroup."""
    dirs = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        mount = ctrls.replace("name=", "") if ctrls else "unified"
        dirs[ctrls] = Path(harness.CGROUP_ROOT, mount, path.lstrip("/"))
    return dirs


@contextlib.contextmanager
def sub_cgroups(pid, name="sub"):
    """A child cgroup `name` of each of `pid`'s cgroups (cpuset's given its parent's cpus and
    mems); removed afterwards."""
    made = []
    try:
        for ctrls, parent in host_cgroup_dirs(pid).items():
            sub = parent / name
            sub.mkdir()
            made.append(sub)
            if ctrls == "cpuset":
                for f in ("cpuset.cpus", "cpuset.mems"):
                    (sub / f).write_text((parent / f).read_text())
        yield
    finally:
        for sub in reversed(made):
            harness.wait_for(lambda: not (sub / "cgroup.procs").read_text().strip(), 5,
                             f"{sub} to be empty")
            sub.rmdir()


# ---- exit status and stdio ----

def test_exit_status_is_returned(shared):
    def go(rt, cid):
        return [outcome(exec_(rt, cid, "/probe", "exit", str(code)), rt, cid) for code in (0, 5, 255)]
    seen = on_shared(shared, "plain", go)
    assert seen["runc"] == [(0, "", []), (5, "", []), (255, "", [])], seen["runc"]
    assert_same(seen)


def test_killed_by_signal_returns_128_plus_signal(shared):
    """The exec'd process is not its pid namespace's init, so its own signal kills it."""
    sigs = (signal.SIGKILL, signal.SIGTERM)

    def go(rt, cid):
        return [outcome(exec_(rt, cid, "/probe", "kill-self", str(int(sig))), rt, cid) for sig in sigs]
    seen = on_shared(shared, "plain", go)
    assert seen["runc"] == [(128 + sig, "", []) for sig in sigs], seen["runc"]
    assert_same(seen)


def test_stdout_stderr_and_stdin(shared):
    def go(rt, cid):
        r = exec_(rt, cid, "sh", "-c", "cat; echo to-err >&2; echo more-out", input="line one\nline two\n")
        return r.returncode, r.stdout, r.stderr
    seen = on_shared(shared, "plain", go)
    assert seen["runc"] == (0, "line one\nline two\nmore-out\n", "to-err\n"), seen["runc"]
    assert_same(seen)


def test_foreground_stdio_are_pipes(shared):
    seen = on_shared(shared, "plain", lambda rt, cid: ok(exec_(rt, cid, "/probe", "report", "fds"), rt).stdout)
    assert seen["runc"] == "fd.0: pipe:\nfd.1: pipe:\nfd.2: pipe:\n"
    assert_same(seen)


def test_foreground_exec_forwards_signals(shared, tmp_path):
    """SIGUSR1 and SIGHUP sent to a foreground exec reach the process; SIGTERM ends it."""
    def go(rt, cid):
        out = tmp_path / f"signals-{rt.name}.out"
        with open(out, "wb") as o:
            p = popen(rt, ["exec", cid, "/probe", "signals"], stdin=subprocess.DEVNULL, stdout=o,
                      stderr=subprocess.DEVNULL)
        try:
            harness.wait_for(lambda: "ready" in out.read_text(), 10, f"{rt.name}: probe ready")
            for sig in (signal.SIGUSR1, signal.SIGHUP):
                os.kill(p.pid, sig)
                harness.wait_for(lambda: f"signal: {int(sig)}\n" in out.read_text(), 5,
                                 f"{rt.name}: {sig.name} to reach the exec'd process")
            os.kill(p.pid, signal.SIGTERM)
            rc = wait_proc(p)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        # runc (Go) also forwards the SIGURGs its runtime sends itself for goroutine preemption
        lines = [l for l in out.read_text().splitlines(True) if l != f"signal: {int(signal.SIGURG)}\n"]
        return rc, "".join(lines)
    seen = on_shared(shared, "plain", go)
    assert seen["runc"] == (0, "ready\nsignal: 10\nsignal: 1\nsignal: 15\n"), seen["runc"]
    assert_same(seen)


# ---- created, paused and stopped containers ----

def test_exec_into_a_created_container(runc, pyrunc, bundle_factory):
    """runc execs into a container whose init still waits for `start`: the process sees the
    container as a started one would; the container stays created and starts afterwards."""
    def go(rt, cid):
        r = ok(exec_(rt, cid, "/probe", "report", "ids", "caps", "proc", "env", "fds"), rt)
        status = rt.state(cid)["status"]
        ok(rt.start(cid), rt, "start")
        return report(r.stdout), status, rt.state(cid)["status"], len(container_pids(rt, cid))
    seen = on_both(runc, pyrunc, bundle_factory, go, start=False)
    assert seen["runc"][1:] == ("created", "running", 1), seen["runc"]
    assert_same(seen)


def test_exec_into_a_paused_container_needs_ignore_paused(runc, pyrunc, bundle_factory):
    def go(rt, cid):
        ok(rt.cmd("pause", cid), rt, "pause")
        try:
            refused = outcome(exec_(rt, cid, "/probe", "exit", "3"), rt, cid)
            only_init = container_pids(rt, cid) == [init_pid(rt, cid)]
        finally:
            ok(rt.cmd("resume", cid), rt, "resume")
        return refused, only_init
    seen = on_both(runc, pyrunc, bundle_factory, go)
    assert seen["runc"] == ((255, "", [("error", "exec failed: cannot exec in a paused container "
                                                  "(use --ignore-paused to override)")]), True), seen["runc"]
    assert_same(seen)


def test_ignore_paused_runs_once_resumed(runc, pyrunc, bundle_factory, tmp_path):
    """With --ignore-paused the process joins the frozen cgroup: it has not run (no output,
    exec still waiting) until `resume`; then exec returns its exit status and output."""
    seen = {}
    for rt in (runc, pyrunc):
        with container(rt, bundle_factory) as cid:
            ok(rt.cmd("pause", cid), rt, "pause")
            out = tmp_path / f"paused-{rt.name}.out"
            err = tmp_path / f"paused-{rt.name}.err"
            with open(out, "wb") as o, open(err, "wb") as e:
                p = popen(rt, ["exec", "--ignore-paused", cid, "sh", "-c", "echo ran; exit 3"],
                          stdin=subprocess.DEVNULL, stdout=o, stderr=e)
            try:
                time.sleep(0.5)
                waiting = p.poll() is None and out.read_text() == ""
                status = rt.state(cid)["status"]
            finally:
                ok(rt.cmd("resume", cid), rt, "resume")
            rc = wait_proc(p)
            seen[rt.name] = (waiting, status, rc, out.read_text(), err.read_text())
    assert seen["runc"] == (True, "paused", 3, "ran\n", ""), seen["runc"]
    assert_same(seen)


def test_exec_into_a_stopped_container_fails(runc, pyrunc, bundle_factory):
    def go(rt, cid):
        rt.wait_status(cid, "stopped")
        r = exec_(rt, cid, "/probe", "exit", "0")
        return outcome(r, rt, cid), rt.state(cid)["status"], rt.containers() == [cid]
    seen = on_both(runc, pyrunc, bundle_factory, go, args=["/probe", "exit", "0"])
    assert seen["runc"] == ((255, "", [("error", "exec failed: cannot exec in a stopped container")]),
                            "stopped", True), seen["runc"]
    assert_same(seen)


def test_exec_into_a_container_that_does_not_exist(runc, pyrunc):
    seen = {}
    for rt in (runc, pyrunc):
        before = {(p.pid, p.start) for p in harness.descendants()}
        r = exec_(rt, "pyrt-nosuch", "/probe", "exit", "0")
        harness.reap()
        left = [p for p in harness.descendants() if (p.pid, p.start) not in before]
        seen[rt.name] = (outcome(r, rt, "pyrt-nosuch"), rt.containers(), left)
    assert seen["runc"] == ((255, "", [("error", "exec failed: container does not exist")]), [], []), seen["runc"]
    assert_same(seen)


# ---- failures: runc's wording and exit status, the container left as it was ----

SOCK = "{tmp}/console.sock"
# id: (exec flags, command); "{tmp}" is the test's tmp dir
FAILURES = {
    "missing-binary-bare": ((), ["no-such-binary"]),
    "missing-binary-absolute": ((), ["/no/such/binary"]),
    # the lookup uses the process's PATH (the container's, here replaced by -e), not the runtime's
    "not-in-process-path": (("-e", "PATH=/opt:/usr/local/bin"), ["sh", "-c", "true"]),
    "no-command": ((), []),
    "relative-cwd": (("--cwd", "tmp"), ["/probe", "exit", "0"]),
    "missing-cwd": (("--cwd", "/no/such/dir"), ["/probe", "exit", "0"]),
    "user-name": (("--user", "probe"), ["/probe", "exit", "0"]),
    "user-bad-gid": (("-u", "1000:x"), ["/probe", "exit", "0"]),
    "additional-gid-not-a-number": (("-g", "x"), ["/probe", "exit", "0"]),
    "env-without-equals": (("-e", "NOEQUALS"), ["/probe", "exit", "0"]),
    "process-file-missing": (("--process", "{tmp}/no-such-process.json"), []),
    "process-file-not-json": (("-p", "{tmp}/not-json.json"), []),
    "tty-detached-without-console-socket": (("-t", "-d"), ["/probe", "exit", "0"]),
    "console-socket-without-tty": (("-d", "--console-socket", SOCK), ["/probe", "exit", "0"]),
    "console-socket-without-detach": (("-t", "--console-socket", SOCK), ["/probe", "exit", "0"]),
    "cgroup-missing-sub-cgroup": (("--cgroup", "memory:no-such-sub"), ["/probe", "exit", "0"]),
    "cgroup-unknown-controller": (("--cgroup", "no-such-controller:sub"), ["/probe", "exit", "0"]),
    "cgroup-dotdot": (("--cgroup", "memory:../escape"), ["/probe", "exit", "0"]),
    "apparmor": (("--apparmor", "pyrt-profile"), ["/probe", "exit", "0"]),
    "process-label": (("--process-label", "system_u:system_r:container_t:s0"), ["/probe", "exit", "0"]),
    "apparmor-in-process-file": (("-p", "{tmp}/apparmor.json"), []),
    "selinux-label-in-process-file": (("-p", "{tmp}/selinux.json"), []),
}
USAGE_ERRORS = {"additional-gid-not-a-number"}     # runc prints its help to stdout, exit 1


def APPARMOR_ATTR(runc_line):
    """runc's line with pyrunc's attribute path (not loaded / no AppArmor: the kernel's errno)."""
    assert "apparmor failed to apply profile: write /proc/self/attr/" in runc_line, runc_line
    return runc_line.replace("/proc/self/", "/proc/thread-self/")


# Where pyrunc's line deliberately differs from runc's (same exit status, same "exec failed:"
# and outer context): its own JSON error position, its own cgroup write error, and the
# AppArmor attribute it writes: this thread's (/proc/thread-self, as newer runc), where
# runc 1.1.5 names /proc/self.  The value is pyrunc's line.
OWN_WORDING = {
    "process-file-not-json": "exec failed: process.json: invalid JSON: invalid character at line 1 column 1",
    "cgroup-missing-sub-cgroup": re.compile(
        r'exec failed: unable to start container process: error adding pid <n> to cgroups: '
        r'write "cgroup\.procs"="<n>" in "/sys/fs/cgroup/memory/.*/no-such-sub": no such file or directory'),
    "apparmor": APPARMOR_ATTR,
    "apparmor-in-process-file": APPARMOR_ATTR,
}


def _failure_files(tmp_path):
    (tmp_path / "not-json.json").write_text("not json\n")
    base = {"args": ["/probe", "exit", "0"], "cwd": "/", "env": [DEFAULT_PATH]}
    (tmp_path / "apparmor.json").write_text(json.dumps({**base, "apparmorProfile": "pyrt-profile"}))
    (tmp_path / "selinux.json").write_text(
        json.dumps({**base, "selinuxLabel": "system_u:system_r:container_t:s0"}))


@pytest.mark.parametrize("case", list(FAILURES))
def test_failure_wording_and_nothing_left(shared, tmp_path, case):
    """Refused or failed: runc's exit status (255; 1 for a flag it cannot parse) and its one
    error line, word for word; no process left in the container or under the caller; the
    container still running."""
    flags, cmd = FAILURES[case]
    flags = [f.replace("{tmp}", str(tmp_path)) for f in flags]
    _failure_files(tmp_path)

    def go(rt, cid):
        init = init_pid(rt, cid)
        before = {(p.pid, p.start) for p in harness.descendants()}
        r = exec_(rt, cid, *cmd, flags=flags)
        harness.reap()
        left = [p for p in harness.descendants() if (p.pid, p.start) not in before]
        rc, out, lines = outcome(r, rt, cid)
        if case in USAGE_ERRORS:         # the help text itself is test_cli.py's business
            out = out.startswith("Incorrect Usage")
        return (rc, out, lines), container_pids(rt, cid) == [init], left, rt.state(cid)["status"]
    seen = on_shared(shared, "plain", go)
    (rc, _, lines), only_init, left, status = seen["runc"]
    assert rc == (1 if case in USAGE_ERRORS else 255), seen["runc"]
    assert len(lines) == 1 and lines[0][0] == "error", seen["runc"]
    assert case in USAGE_ERRORS or lines[0][1].startswith("exec failed: "), seen["runc"]
    assert (only_init, left, status) == (True, [], "running"), seen["runc"]
    if case in OWN_WORDING:
        (rc2, out2, lines2), *rest = seen["pyrunc"]
        want = OWN_WORDING[case]
        if callable(want):
            want = want(lines[0][1])
        assert (rc2, out2, len(lines2), rest) == (rc, "", 1, [True, [], "running"]), seen["pyrunc"]
        assert (want.fullmatch(lines2[0][1]) if hasattr(want, "fullmatch") else lines2[0][1] == want), lines2
        return
    assert_same(seen, "the failed exec")


# ---- --process FILE ----

@pytest.mark.parametrize("engine", list(PROCESS_FILES))
def test_process_file_as_the_engines_write_it(shared, tmp_path, engine):
    proc = dict(PROCESS_FILES[engine], args=["/probe", "report", "ids", "caps", "rlimits", "env", "proc", "fds"])
    path = tmp_path / f"process-{engine}.json"
    path.write_text(json.dumps(proc))
    seen = on_shared(shared, "plain",
                     lambda rt, cid: report(ok(exec_(rt, cid, flags=["--process", path]), rt).stdout))
    assert_same(seen)
    rep = harness.parse_report("\n".join(seen["runc"]))
    user = proc["user"]
    assert (rep["uid"], rep["gid"]) == (str(user["uid"]), str(user["gid"]))
    assert rep["CapBnd"] == harness.cap_mask(proc["capabilities"]["bounding"])
    assert set(proc["env"]) <= set(rep["env"])
    assert rep["RLIMIT_NOFILE"] == "1024 1024"


def test_process_file_wins_over_command_args(shared, tmp_path):
    """With --process, a command after the id is not used."""
    path = tmp_path / "process.json"
    path.write_text(json.dumps({"args": ["/probe", "exit", "4"], "cwd": "/", "env": [DEFAULT_PATH]}))
    seen = on_shared(shared, "plain",
                     lambda rt, cid: outcome(exec_(rt, cid, "/probe", "exit", "9", flags=["-p", path]), rt, cid))
    assert seen["runc"][0] == 4, seen["runc"]
    assert_same(seen)


def test_minimal_process_file_takes_the_containers_capabilities(runc, pyrunc, bundle_factory, tmp_path):
    """A --process file without capabilities or noNewPrivileges: runc gives the process the
    container's capabilities (libcontainer falls back to the config's), not none;
    no_new_privs is the file's (absent: off)."""
    path = tmp_path / "process.json"
    path.write_text(json.dumps({"args": ["/probe", "report", "ids", "caps", "env"], "cwd": "/"}))
    caps = {k: ["CAP_KILL", "CAP_NET_RAW", "CAP_CHOWN"] for k in ("bounding", "effective", "permitted")}
    seen = on_both(runc, pyrunc, bundle_factory,
                   lambda rt, cid: report(ok(exec_(rt, cid, flags=["-p", path]), rt).stdout),
                   process={"capabilities": caps})
    rep = harness.parse_report("\n".join(seen["runc"]))
    assert (rep["CapEff"], rep["NoNewPrivs"]) == (harness.cap_mask(caps["effective"]), "0"), rep
    assert_same(seen)


# ---- --tty and --console-socket ----

def _tty_lines(text):
    return [line for line in text.replace("\r\n", "\n").splitlines()
            if line.partition(": ")[0] in ("tty.0", "tty.1", "tty.2", "ctty", "sid_is_pid", "pgid_is_pid")]


TTY_LINES = ["ctty: yes", "tty.0: /dev/pts/0", "tty.1: /dev/pts/0", "tty.2: /dev/pts/0",
             "pgid_is_pid: yes", "sid_is_pid: yes"]


def test_tty_detached_with_console_socket(shared, tmp_path):
    """-t -d --console-socket: the pty master arrives on the socket; the process has the
    slave on 0, 1 and 2 as its controlling terminal, and what it prints comes out of the master."""
    def go(rt, cid):
        recv = ConsoleReceiver(tmp_path / f"console-{rt.name}.sock")
        try:
            r = ok(exec_(rt, cid, "/probe", "report", "tty", "proc", flags=["-t", "-d", "--console-socket",
                                                                          recv.path]), rt)
            assert recv.got_fd.wait(5), f"{rt.name}: no pty master on the console socket"
            st = os.fstat(recv.master)
            assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 5, "not /dev/ptmx"
            return r.stdout, log_lines(r.stderr), _tty_lines(recv.text())
        finally:
            recv.close()
    seen = on_shared(shared, "plain", go)
    assert seen["runc"] == ("", [], TTY_LINES), seen["runc"]
    assert_same(seen)


def _exec_on_pty(rt, cid, argv, timeout=20):
    """Foreground `exec -t` in a new session with a pty as its stdin/stdout/stderr."""
    return on_pty(rt, ["exec", "-t", cid, *argv], timeout)


def test_tty_in_the_foreground_on_a_terminal(shared):
    """-t from a caller on a terminal: a new pty for the process, proxied to the caller's."""
    def go(rt, cid):
        rc, text = _exec_on_pty(rt, cid, ["/probe", "report", "tty", "proc"])
        return rc, _tty_lines(text)
    seen = on_shared(shared, "plain", go)
    assert seen["runc"] == (0, TTY_LINES), seen["runc"]
    assert_same(seen)


def test_tty_in_the_foreground_without_a_terminal(shared, tmp_path):
    """-t without a console socket from a caller with no terminal at all (stdio not a tty,
    no controlling terminal): runc fails to open /dev/tty to make it raw; pyrunc proxies the
    pty to its plain stdio and runs the process (a deliberate difference)."""
    def go(rt, cid):
        out, err = tmp_path / f"notty-{rt.name}.out", tmp_path / f"notty-{rt.name}.err"
        with open(out, "wb") as o, open(err, "wb") as e:
            p = popen(rt, ["exec", "-t", cid, "/probe", "exit", "0"], stdin=subprocess.DEVNULL,
                      stdout=o, stderr=e, start_new_session=True)
            rc = wait_proc(p)
        harness.reap()
        r = subprocess.CompletedProcess(p.args, rc, out.read_text(), err.read_text())
        return outcome(r, rt, cid), container_pids(rt, cid) == [init_pid(rt, cid)]
    seen = on_shared(shared, "plain", go)
    assert seen["runc"] == ((255, "", [("error", "exec failed: open /dev/tty: no such device or address")]),
                            True), seen["runc"]
    assert seen["pyrunc"] == ((0, "", []), True), seen["pyrunc"]


# ---- --cwd, --env, --user, --additional-gids, umask ----

def test_cwd(shared):
    dirs = ["/tmp", "/home/probe", "/dev/shm", "/proc/sys"]

    def go(rt, cid):
        return [report(ok(exec_(rt, cid, "/probe", "report", "proc", flags=["--cwd", d]), rt).stdout)
                for d in dirs]
    seen = on_shared(shared, "plain", go)
    assert [f"cwd: {d}" in rep for d, rep in zip(dirs, seen["runc"])] == [True] * len(dirs), seen["runc"]
    assert_same(seen)


def test_cwd_defaults_to_the_containers(runc, pyrunc, bundle_factory):
    seen = on_both(runc, pyrunc, bundle_factory,
                   lambda rt, cid: report(ok(exec_(rt, cid, "/probe", "report", "proc"), rt).stdout),
                   process={"cwd": "/tmp"})
    assert "cwd: /tmp" in seen["runc"], seen["runc"]
    assert_same(seen)


@pytest.mark.parametrize("flags", [
    [],
    ["-e", "NEW=x"],
    ["--env", "SHARED=flag", "--env", "TERM=vt100", "--env", "EMPTY="],
    ["-e", "PATH=/bin", "-e", "NEW=1", "-e", "NEW=2"],
    ["-e", "HOME=/flag-home"],
], ids=["none", "add", "override", "override-path-and-repeat", "home"])
def test_env(shared, flags):
    """--env adds to the container's env or replaces a variable (in its place); the order
    is runc's (`env` prints it unsorted)."""
    seen = on_shared(shared, "env",
                     lambda rt, cid: ok(exec_(rt, cid, "/bin/env", flags=flags), rt).stdout.splitlines())
    assert_same(seen)
    for value in flags[1::2]:
        name = value.partition("=")[0]
        last = [f for f in flags[1::2] if f.startswith(name + "=")][-1]
        assert [v for v in seen["runc"] if v.startswith(name + "=")][-1:] == [last], seen["runc"]


@pytest.mark.parametrize("flags", [
    [],
    ["-u", "0"],
    ["-u", "1000"],
    ["--user", "1000:1000"],
    ["-u", "65534:65534"],
    ["-u", "4242:4242"],
    ["-g", "100"],
    ["-u", "1000:1000", "-g", "100", "-g", "2000"],
    ["-u", "0:0", "--additional-gids", "5"],
], ids=["config", "root", "uid-only", "uid-gid", "nobody", "unknown-uid", "gids-only", "uid-gid-gids",
        "root-gids"])
def test_user_and_additional_gids(shared, flags):
    """runc: --user sets the uid, and the gid only when given (else the container's stays);
    --additional-gids adds to the container's supplementary groups; HOME follows the user
    (from the container's /etc/passwd).  The container's user: 1000:1000, groups 100 3000."""
    seen = on_shared(shared, "user",
                     lambda rt, cid: report(ok(exec_(rt, cid, "/probe", "report", "ids", "caps", "env",
                                                     flags=flags), rt).stdout))
    assert_same(seen)


@pytest.mark.parametrize("config_umask", [None, 0o077], ids=["no-umask", "umask-077"])
def test_umask_is_the_callers(runc, pyrunc, bundle_factory, config_umask):
    """runc's exec'd process keeps the umask of the `exec` caller; process.user.umask is the
    init's only."""
    user = {"uid": 0, "gid": 0, **({"umask": config_umask} if config_umask is not None else {})}

    def go(rt, cid):
        r = subprocess.run(["/bin/sh", "-c", 'umask 027; exec "$@"', "sh", rt.binary, *rt.global_flags(),
                            "exec", cid, "/probe", "report", "proc"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        ok(r, rt)
        return [line for line in r.stdout.splitlines() if line.startswith("umask: ")]
    seen = on_both(runc, pyrunc, bundle_factory, go, process={"user": user})
    assert seen["runc"] == ["umask: 0027"], seen["runc"]
    assert_same(seen)


# ---- --cap, --no-new-privs ----

@pytest.mark.parametrize("key, flags", [
    ("privs", ["--cap", "CAP_SYS_ADMIN"]),
    ("privs", ["-c", "CAP_NET_RAW", "-c", "CAP_SYS_PTRACE"]),
    ("privs", ["-u", "1000", "--cap", "CAP_SYS_ADMIN"]),
    ("inheritable", ["--cap", "CAP_SYS_ADMIN"]),
    ("inheritable", ["-u", "1000", "--cap", "CAP_SYS_ADMIN"]),
    ("inheritable", []),
    ("inheritable", ["-u", "1000"]),
], ids=["add-one", "add-two", "non-root", "with-inheritable", "with-inheritable-non-root",
        "inheritable-config", "inheritable-config-non-root"])
def test_cap(shared, key, flags):
    """--cap adds to bounding, effective and permitted; to ambient only when the process has
    an inheritable set (which runc does not add to), so a non-root user keeps it only then."""
    seen = on_shared(shared, key,
                     lambda rt, cid: report(ok(exec_(rt, cid, "/probe", "report", "caps", "ids", flags=flags),
                                               rt).stdout))
    assert_same(seen)
    rep = harness.parse_report("\n".join(seen["runc"]))
    for cap in flags[1::2]:
        if cap.startswith("CAP_"):
            assert cap in harness.cap_names(rep["CapBnd"]), rep


def test_unknown_cap_is_warned_and_skipped(shared):
    """As at create (test_process.py::test_unknown_capability_is_warned_and_skipped): the
    process runs without it, and stderr holds warnings naming it, nothing else."""
    def go(rt, cid):
        r = ok(exec_(rt, cid, "/probe", "report", "caps", flags=["--cap", "CAP_NO_SUCH_THING"]), rt)
        lines = log_lines(r.stderr)
        assert lines and all(lvl == "warning" and "CAP_NO_SUCH_THING" in msg for lvl, msg in lines), \
            (rt.name, r.stderr)
        return r.stdout
    assert_same(on_shared(shared, "privs", go))


@pytest.mark.parametrize("key, flags, want", [("privs", [], "0"), ("privs", ["--no-new-privs"], "1"),
                                              ("plain", [], "1")], ids=["off", "flag", "config"])
def test_no_new_privs(shared, key, flags, want):
    seen = on_shared(shared, key,
                     lambda rt, cid: report(ok(exec_(rt, cid, "/probe", "report", "caps", flags=flags), rt).stdout))
    assert f"NoNewPrivs: {want}" in seen["runc"], seen["runc"]
    assert_same(seen)


# ---- --detach, --pid-file ----

def _kill_and_reap(pid):
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def test_detach_with_pid_file(runc, pyrunc, bundle_factory, tmp_path):
    """-d returns at once with the process running; --pid-file holds its host pid (no
    newline); it is in the container's namespaces (two NSpid entries), a child of the
    caller's subreaper, listed by `ps`."""
    seen = {}
    for rt in (runc, pyrunc):
        with container(rt, bundle_factory) as cid:
            pid_file = tmp_path / f"exec-{rt.name}.pid"
            r = ok(exec_(rt, cid, "/probe", "sleep", "30", flags=["--detach", "--pid-file", pid_file],
                         timeout=10), rt)
            text = pid_file.read_text()
            pid = int(text)
            try:
                proc = harness.proc_stat(pid)
                init = init_pid(rt, cid)
                nspid = [l.split()[1:] for l in Path(f"/proc/{pid}/status").read_text().splitlines()
                         if l.startswith("NSpid:")][0]
                same_ns = {n: os.readlink(f"/proc/{pid}/ns/{n}") == os.readlink(f"/proc/{init}/ns/{n}")
                           for n in ("pid", "mnt", "net", "ipc", "uts")}
                seen[rt.name] = (r.stdout, log_lines(r.stderr), re.fullmatch(r"[1-9]\d*", text) is not None,
                                 proc.comm, proc.state in "RS", proc.ppid == os.getpid(), len(nspid),
                                 nspid[0] == str(pid), same_ns, container_pids(rt, cid) == sorted([init, pid]),
                                 oct(stat.S_IMODE(pid_file.stat().st_mode)))
            finally:
                _kill_and_reap(pid)
    assert seen["runc"][:8] == ("", [], True, "probe", True, True, 2, True), seen["runc"]
    assert_same(seen)


def test_detached_process_gets_the_callers_stdio(shared, tmp_path):
    """Without a tty, a detached process writes straight to the files `exec -d` was given."""
    def go(rt, cid):
        out, err = tmp_path / f"detached-{rt.name}.out", tmp_path / f"detached-{rt.name}.err"
        pid_file = tmp_path / f"detached-{rt.name}.pid"
        r = rt.cmd("exec", "-d", "--pid-file", pid_file, cid, "sh", "-c", "/probe report fds; echo bye >&2",
                   io=(out, err))
        ok(r, rt)
        pid = int(pid_file.read_text())
        harness.wait_for(lambda: (p := harness.proc_stat(pid)) is None or p.state in "ZX", 10,
                         f"{rt.name}: the detached process to exit")
        harness.reap()
        return out.read_text().replace(str(out), "<out>").replace(str(err), "<err>"), err.read_text()
    seen = on_shared(shared, "plain", go)
    assert seen["runc"] == ("fd.0: /dev/null\nfd.1: <out>\nfd.2: <err>\n", "bye\n"), seen["runc"]
    assert_same(seen)


# ---- --preserve-fds ----

FD_WRAPPER = 'exec 3<"$1" 4<"$2" 5<"$3"; shift 3; exec "$@"'


def test_preserve_fds(shared, tmp_path):
    """fds 3..3+N-1 of the caller reach the process; its other open fds (a directory among
    them) do not (N = 0, 1, 2)."""
    files = []
    for i in range(2):
        f = tmp_path / f"preserved-{i}.txt"
        f.write_text(f"file {i}\n")
        files.append(f)
    opened = [files[0], files[1], tmp_path]          # fds 3, 4, 5

    def go(rt, cid):
        seen = []
        for n in range(3):
            r = subprocess.run(["/bin/sh", "-c", FD_WRAPPER, "sh", *map(str, opened), rt.binary,
                                *rt.global_flags(), "exec", "--preserve-fds", str(n), cid, "/probe", "report", "fds"],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
            harness.reap()
            seen.append(ok(r, rt).stdout)
        return seen
    seen = on_shared(shared, "plain", go)
    for n, text in enumerate(seen["runc"]):
        want = {"fd.0": "pipe:", "fd.1": "pipe:", "fd.2": "pipe:"}
        want.update({f"fd.{3 + i}": str(opened[i]) for i in range(n)})
        assert harness.parse_report(text) == {"mount": [], "env": [], "device": [], **want}, (n, text)
    assert_same(seen)


# ---- --cgroup ----

@pytest.mark.parametrize("specs", [["sub"], ["memory:sub"], ["cpu,cpuacct:sub"], ["name=systemd:sub"],
                                   ["memory:sub", "pids:sub"]],
                         ids=["all", "memory", "cpu-cpuacct", "named-hierarchy", "two-flags"])
def test_cgroup_sub_cgroup(shared, specs):
    """--cgroup [CTRL[,CTRL]:]sub puts the process in the existing child `sub` of the
    container's cgroups of those controllers (of all of them without CTRL)."""
    flags = [f for spec in specs for f in ("--cgroup", spec)]

    def go(rt, cid):
        with sub_cgroups(init_pid(rt, cid)):
            r = ok(exec_(rt, cid, "cat", "/proc/self/cgroup", flags=flags), rt)
        return normalize(r.stdout, rt, cid)
    seen = on_shared(shared, "plain", go)
    lines = [line.split(":", 2) for line in seen["runc"].splitlines()]
    moved = sorted(c for _, ctrls, path in lines if path.endswith("/sub") for c in ctrls.split(","))
    asked = sorted(c for spec in specs if ":" in spec for c in spec.rpartition(":")[0].split(","))
    assert moved == (asked or sorted(c for _, ctrls, _ in lines for c in ctrls.split(","))), seen["runc"]
    assert_same(seen)


# ---- namespaces, cgroup, seccomp, rlimits: what the init has ----

NS_SCRIPT = 'for n in "$@"; do echo "$n $(readlink /proc/$$/ns/$n)"; done'


@pytest.mark.parametrize("extra_ns", [[], ["cgroup"]], ids=["runc-spec", "with-cgroupns"])
@pytest.mark.parametrize("started", [True, False], ids=["running", "created"])
def test_joins_every_namespace_of_the_init(runtime, bundle_factory, extra_ns, started):
    """Each /proc/PID/ns link of the exec'd process is the init's; those the config asks for
    are not the host's (so the exec did join something)."""
    def edit(cfg):
        cfg["linux"]["namespaces"] += [{"type": t} for t in extra_ns]
    with container(runtime, bundle_factory, start=started, edit=edit) as cid:
        init = init_pid(runtime, cid)
        r = ok(exec_(runtime, cid, "sh", "-c", NS_SCRIPT, "sh", *NAMESPACES), runtime)
        theirs = dict(line.split(" ", 1) for line in r.stdout.splitlines())
        inits = {n: os.readlink(f"/proc/{init}/ns/{n}") for n in NAMESPACES}
    assert theirs == inits
    own = {"mnt", "net", "ipc", "uts", "pid", "pid_for_children", *extra_ns}
    for n in NAMESPACES:
        assert (inits[n] != os.readlink(f"/proc/self/ns/{n}")) == (n in own), n


@pytest.mark.parametrize("extra_ns", [[], ["cgroup"]], ids=["runc-spec", "with-cgroupns"])
def test_joins_the_inits_cgroup(runc, pyrunc, bundle_factory, extra_ns):
    """/proc/self/cgroup of the exec'd process is the init's, in every hierarchy (v1 and the
    hybrid's v2 one); in a cgroup namespace, the namespace's root."""
    def edit(cfg):
        cfg["linux"]["namespaces"] += [{"type": t} for t in extra_ns]

    def go(rt, cid):
        init = init_pid(rt, cid)
        lines = ok(exec_(rt, cid, "cat", "/proc/self/cgroup"), rt).stdout.splitlines()
        if not extra_ns:
            assert lines == Path(f"/proc/{init}/cgroup").read_text().splitlines(), rt.name
        else:
            assert lines and all(line.endswith(":/") for line in lines), (rt.name, lines)
        return [normalize(line, rt, cid) for line in lines]
    assert_same(on_both(runc, pyrunc, bundle_factory, go, edit=edit))


@pytest.mark.parametrize("nnp", [True, False], ids=["no-new-privs", "privs"])
def test_gets_the_containers_seccomp_filter(runc, pyrunc, bundle_factory, nnp):
    def go(rt, cid):
        a = ok(exec_(rt, cid, "/probe", "report", "caps"), rt).stdout
        b = exec_(rt, cid, "/probe", "syscall", "keyctl")
        return report(a), b.returncode, b.stdout
    seen = on_both(runc, pyrunc, bundle_factory, go, linux={"seccomp": SECCOMP},
                   process={"noNewPrivileges": nnp})
    assert "Seccomp: 2" in seen["runc"][0] and seen["runc"][1:] == (1, "ENOMSG\n"), seen["runc"]
    assert_same(seen)


def test_gets_the_containers_rlimits(runc, pyrunc, bundle_factory):
    rlimits = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
               {"type": "RLIMIT_NPROC", "soft": 300, "hard": 600},
               {"type": "RLIMIT_CORE", "soft": 0, "hard": 2**64 - 1},
               {"type": "RLIMIT_MSGQUEUE", "soft": 4096, "hard": 8192}]
    seen = on_both(runc, pyrunc, bundle_factory,
                   lambda rt, cid: report(ok(exec_(rt, cid, "/probe", "report", "rlimits"), rt).stdout),
                   process={"rlimits": rlimits})
    seen["runc"] = runc_nofile_race(seen["runc"], 512, 1024)
    for want in ("RLIMIT_NOFILE: 512 1024", "RLIMIT_NPROC: 300 600", "RLIMIT_CORE: 0 unlimited",
                 "RLIMIT_MSGQUEUE: 4096 8192"):
        assert want in seen["runc"], seen["runc"]
    assert_same(seen)


RICH_PROCESS = {
    "user": {"uid": 1000, "gid": 1000, "additionalGids": [100, 2000]},
    "env": [DEFAULT_PATH, "TERM=xterm", "CONFIG=yes", "HOME=/home/probe"],
    "cwd": "/home/probe",
    "capabilities": {"bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_CHOWN"],
                     "effective": ["CAP_KILL", "CAP_NET_RAW"], "permitted": ["CAP_KILL", "CAP_NET_RAW"],
                     "inheritable": ["CAP_KILL", "CAP_NET_RAW"], "ambient": ["CAP_NET_RAW"]},
    "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512}],
    "noNewPrivileges": True,
    "oomScoreAdj": 200,
}


@pytest.mark.parametrize("started", [True, False], ids=["running", "created"])
def test_full_report_equals_runcs(runc, pyrunc, bundle_factory, started):
    """Everything the probe reports (ids, capabilities, seccomp, no_new_privs, proc, rlimits,
    fds, mounts, env, devices, network, namespaces, tty) is the same under both runtimes
    for an exec into a container with a non-root user, capabilities, rlimits and seccomp."""
    seen = on_both(runc, pyrunc, bundle_factory,
                   lambda rt, cid: report(ok(exec_(rt, cid, "/probe", "report"), rt).stdout),
                   start=started, process=RICH_PROCESS, linux={"seccomp": SECCOMP}, hostname="exec-host")
    seen["runc"] = runc_nofile_race(seen["runc"], 256, 512)
    rep = harness.parse_report("\n".join(seen["runc"]))
    assert (rep["uid"], rep["groups"], rep["cwd"], rep["hostname"], rep["Seccomp"]) == \
        ("1000", "100 2000", "/home/probe", "exec-host", "2"), rep
    if seen["pyrunc"] != seen["runc"]:
        diff = "".join(difflib.unified_diff([l + "\n" for l in seen["runc"]], [l + "\n" for l in seen["pyrunc"]],
                                            "runc", "pyrunc"))
        raise AssertionError(f"the exec'd process's report differs:\n{diff}")
