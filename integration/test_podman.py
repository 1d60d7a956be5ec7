"""pyrunc under real Podman 4.3 (with conmon), each flow also run with runc.

Podman is given the runtime by path (`podman --runtime PATH ...`).  In most tests the
path is integration/engines/rtlog.sh behind a symlink named like the runtime, which
records every call (argv, stdio, exit status; create's config.json and exec's
--process file are kept) and runs the real binary; a failure report lists them with the
podman commands and their output.  `test_runtime_path_directly` plugs the real
binary in with no wrapper, and `test_containers_conf_runtime` names the runtime in a
containers.conf `[engine.runtimes]` table, as the README says to.

One private podman store serves the module (image imported once); each test removes its
containers, and `_settle` waits for conmon and podman's exit command to finish before
the conftest leak check looks, and fails the test if it left a container or a mount.
The image is static busybox with /etc/passwd (harness.make_rootfs), imported from a
tarball: no registry is reachable.
"""
import json
import time
from pathlib import Path

import pytest

import harness
from engines import common
from engines.podman import Podman

pytestmark = pytest.mark.integration

IMAGE = common.IMAGE
DEFAULT_ROOTS = {"runc": "/run/runc", "pyrunc": "/run/pyrunc"}


# ---- fixtures ----

@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The module's own files: the image tarball, the wrappers and their logs."""
    return tmp_path_factory.mktemp("podman-engine")


@pytest.fixture(scope="module")
def podman(workdir, probe):
    common.ensure_packages({"podman": "podman", "conmon": "conmon"})
    p = Podman()
    try:
        p.import_image(common.rootfs_tar(workdir))
        yield p
    finally:
        problems = p.teardown()
        if problems:
            pytest.fail("podman module cleanup: " + "; ".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def wrapped(workdir):
    return common.wrappers(workdir / "runtimes")


@pytest.fixture(params=sorted(common.RUNTIMES))
def rt(request, wrapped):
    """The runtime under test behind the logging wrapper: runc, then pyrunc."""
    return wrapped[request.param]


@pytest.fixture
def ctx(rt, podman):
    return common.Context(rt, podman.commands)


@pytest.fixture(autouse=True)
def _settle(no_leaks, podman):
    """Before the conftest leak check: wait for conmon and podman's exit commands to end;
    fail if the test left a podman container or a mount under the store."""
    before = {common.proc_key(p) for p in harness.descendants()}
    mounts_before = set(common.mounts_under(podman.workdir))
    yield
    left = podman.containers()
    for cid in left:
        podman.remove(cid)
    common.settle(before)
    # the overlay driver's home, bound on itself by whichever podman call first needs it
    # and dropped by a later one: podman's own, not a test's (the module teardown
    # unmounts it and checks that nothing else is left)
    home = f"{podman.workdir}/storage/overlay"
    new_mounts = set(common.mounts_under(podman.workdir)) - mounts_before - {home}
    if new_mounts:
        common.unmount_under(podman.workdir)
    problems = ([f"containers left: {left}"] if left else []) + \
               ([f"mounts left: {sorted(new_mounts)}"] if new_mounts else [])
    if problems:
        pytest.fail("the test left behind: " + "; ".join(problems), pytrace=False)


# ---- helpers ----

def created_ids(ctx):
    """Container ids the runtime under test was asked to create (from the wrapper's log)."""
    ids = [c.argv[-1] for c in ctx.rt.calls() if c.verb == "create"]
    harness.TEST_IDS.update(f"libpod-{cid}" for cid in ids)   # the leak check's cgroup names
    return ids


def run_detached(ctx, podman, *cmd, opts=()):
    """`podman --runtime RT run -d ... IMAGE cmd`: the container id, its runtime create
    seen to succeed and its init running."""
    r = ctx.ok(podman("run", "-d", *podman.run_opts(), *opts, IMAGE, *cmd, runtime=ctx.rt.path))
    cid = r.stdout.strip().splitlines()[-1]
    harness.TEST_IDS.add(f"libpod-{cid}")
    ctx.runtime_called(cid, "create")
    ctx.runtime_called(cid, "start")
    return cid


def state(ctx, podman, cid):
    info = podman.inspect(cid)
    ctx.check(info is not None, f"podman inspect {cid} failed")
    return info["State"]


def wait_state(ctx, podman, cid, status, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        st = state(ctx, podman, cid)
        if st["Status"] == status:
            return st
        if time.monotonic() > deadline:
            ctx.fail(f"{cid} is {st['Status']!r} after {timeout}s, expected {status!r}")
        time.sleep(0.1)


SLEEPER = ["/bin/sh", "-c", 'trap "exit 42" TERM; echo started; sleep 300 & wait']


# ---- podman run ----

def test_run_exit_code(ctx, podman):
    """`podman run --rm`: output and the command's exit status, 0 and 3, through conmon."""
    r = ctx.exits(podman("run", "--rm", *podman.run_opts(), IMAGE,
                         "/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 0",
                         runtime=ctx.rt.path), 0)
    ctx.check("to-stdout" in r.stdout, f"stdout lost: {r.stdout!r}")
    ctx.check("to-stderr" in r.stderr, f"stderr lost: {r.stderr!r}")
    r = ctx.exits(podman("run", "--rm", *podman.run_opts(), IMAGE, "/bin/sh", "-c", "exit 3",
                         runtime=ctx.rt.path), 3)
    ids = created_ids(ctx)
    ctx.check(len(ids) == 2, f"expected 2 runtime creates, saw {ids}")
    for cid in ids:
        ctx.runtime_called(cid, "create")
        ctx.runtime_called(cid, "start")
        ctx.runtime_called(cid, "delete")
    ctx.check(podman.containers() == [], "--rm left a container")


def test_run_interactive_stdin(ctx, podman):
    """`podman run -i`: the container reads what podman was given on stdin."""
    r = ctx.ok(podman("run", "--rm", "-i", *podman.run_opts(), IMAGE,
                      "/bin/sh", "-c", "read a; read b; echo got:$b:$a",
                      input="first\nsecond\n", runtime=ctx.rt.path))
    ctx.check("got:second:first" in r.stdout, f"stdin did not arrive: {r.stdout!r}")
    created_ids(ctx)


def test_run_command_not_found(ctx, podman):
    """A missing or non-executable command: podman's 127 and 126, from the runtime's error."""
    r = ctx.exits(podman("run", "--rm", *podman.run_opts(), IMAGE, "/nonexistent",
                         runtime=ctx.rt.path), 127)
    ctx.check("/nonexistent" in r.stderr and "no such file or directory" in r.stderr,
              f"podman's message does not name the cause: {r.stderr!r}")
    r = ctx.exits(podman("run", "--rm", *podman.run_opts(), IMAGE, "/etc/passwd",
                         runtime=ctx.rt.path), 126)
    ctx.check("permission denied" in r.stderr, f"podman's message does not name the cause: {r.stderr!r}")
    for cid in created_ids(ctx):
        ctx.runtime_called(cid, "create", expect_exit=1)
    ctx.check(podman.containers() == [], "a failed --rm run left a container")


def test_run_command_whose_exec_fails(ctx, podman, tmp_path):
    """A script whose interpreter is missing: the file is found, execve fails after `start`
    released the init. runc's `start` exits 0 (crun's too) and podman reports the
    container's exit 1, runc's line in the container's output; pyrunc's `start` fails with
    the same words (the runtime-spec: a program the runtime fails to run is an error, as
    for a failing startContainer hook), which podman reports as 126, "cannot invoke"."""
    scripts = tmp_path / f"scripts-{ctx.rt.name}"
    scripts.mkdir()
    (scripts / "bad.sh").write_text("#!/no/such/interpreter\n")
    (scripts / "bad.sh").chmod(0o755)
    r = podman("run", "--rm", *podman.run_opts(), "-v", f"{scripts}:/s:ro", IMAGE, "/s/bad.sh",
               runtime=ctx.rt.path)
    ctx.check("exec /s/bad.sh: no such file or directory" in r.stdout + r.stderr,
              f"runc's words are not in podman's output: {r.stdout!r} {r.stderr!r}")
    ctx.exits(r, 1 if ctx.rt.name == "runc" else 126)
    for cid in created_ids(ctx):
        ctx.runtime_called(cid, "start", expect_exit=0 if ctx.rt.name == "runc" else 1)
    ctx.check(podman.containers() == [], "a failed --rm run left a container")


def test_run_tty(ctx, podman):
    """`podman run -t` from a terminal: the runtime hands conmon a pty over the console
    socket; the container sees a tty of podman's window size."""
    argv = podman.argv("run", "--rm", "-t", *podman.run_opts(), IMAGE, "/bin/sh", "-c",
                       "tty; stty size; test -t 0 && echo stdin-is-a-tty; exit 4",
                       runtime=ctx.rt.path)
    rc, out = common.run_in_pty(argv, rows=30, cols=100)
    podman.commands.history.append(common.Result(argv, rc, out, "", 0.0))
    ctx.check(rc == 4, f"exit {rc}, expected 4")
    ctx.check("/dev/pts/0" in out, f"no tty in the container: {out!r}")
    ctx.check("30 100" in out, f"window size not 30x100: {out!r}")
    ctx.check("stdin-is-a-tty" in out, f"stdin is not the tty: {out!r}")
    (cid,) = created_ids(ctx)
    create = ctx.runtime_called(cid, "create")[0]
    ctx.check("--console-socket" in create.argv, f"create had no --console-socket: {create.argv}")


def test_run_memory_and_pids_limits(ctx, podman):
    """--memory 64m --pids-limit 50: the container sees both limits and they hold
    (a fork loop stops at 50 tasks, a 200 MiB buffer is OOM-killed, 32 MiB is not)."""
    script = """
        cg=/sys/fs/cgroup
        f=$cg/memory/memory.limit_in_bytes; [ -e $f ] || f=$cg/memory.max
        read mem <$f; echo mem=$mem
        f=$cg/pids/pids.max; [ -e $f ] || f=$cg/pids.max
        read max <$f; echo pids.max=$max
        (for i in $(seq 60); do sleep 30 & done)
        f=$cg/pids/pids.current; [ -e $f ] || f=$cg/pids.current
        read cur <$f; echo pids.current=$cur
        kill -9 $(jobs -p) 2>/dev/null; kill -9 -1
        dd if=/dev/zero of=/dev/null bs=32M count=1 2>/dev/null; echo small=$?
        dd if=/dev/zero of=/dev/null bs=200M count=1 2>/dev/null; echo big=$?
    """
    r = ctx.ok(podman("run", "--rm", *podman.run_opts(), "--memory", "64m", "--pids-limit", "50",
                      IMAGE, "/bin/sh", "-c", script, runtime=ctx.rt.path))
    out = r.stdout
    ctx.check("mem=67108864" in out, f"memory limit not seen: {out!r}")
    ctx.check("pids.max=50" in out, f"pids limit not seen: {out!r}")
    ctx.check("can't fork" in r.stderr, f"the fork loop never hit the pids limit: {r.stderr!r}")
    cur = [int(line.split("=")[1]) for line in out.splitlines() if line.startswith("pids.current=")]
    ctx.check(cur and 40 <= cur[0] <= 50, f"pids.current {cur}, expected close to 50")
    ctx.check("small=0" in out, f"a 32 MiB buffer failed under 64m: {out!r}")
    ctx.check("big=137" in out, f"a 200 MiB buffer was not OOM-killed under 64m: {out!r}")
    (cid,) = created_ids(ctx)
    cfg = json.loads((ctx.rt.files / f"config-{cid}.json").read_text())
    ctx.check(cfg["linux"]["resources"]["memory"]["limit"] == 64 << 20, "config.json lacks the limit")


# ---- detached containers ----

def test_detached_logs_and_exec(ctx, podman):
    """`podman run -d`, `podman logs`, `podman exec` (plain, exit status, -u 65534, -i)."""
    cid = run_detached(ctx, podman, *SLEEPER)
    try:
        deadline = time.monotonic() + 10
        while "started" not in podman("logs", cid).stdout and time.monotonic() < deadline:
            time.sleep(0.1)
        ctx.check("started" in podman("logs", cid).stdout,
                  "the detached container's output is not in podman logs")
        r = ctx.ok(podman("exec", cid, "/bin/echo", "from-exec"))
        ctx.check(r.stdout.strip() == "from-exec", f"exec output: {r.stdout!r}")
        ctx.exits(podman("exec", cid, "/bin/sh", "-c", "exit 7"), 7)
        r = ctx.ok(podman("exec", "-u", "65534", cid, "/bin/id"))
        ctx.check(r.stdout.startswith("uid=65534(nobody) gid=65534(nogroup)"), f"exec -u 65534: {r.stdout!r}")
        r = ctx.ok(podman("exec", "-i", cid, "/bin/sh", "-c", "read x; echo exec-read:$x", input="abc\n"))
        ctx.check("exec-read:abc" in r.stdout, f"exec -i: {r.stdout!r}")
        execs = ctx.runtime_called(cid, "exec")
        ctx.check(len(execs) == 4, f"expected 4 runtime execs, saw {len(execs)}")
        ctx.check(all("--detach" in c.argv and "--process" in c.argv for c in execs),
                  "exec without --detach/--process")
        ctx.check(state(ctx, podman, cid)["Status"] == "running", "not running after the execs")
    finally:
        podman.remove(cid)


def test_inspect_states(ctx, podman):
    """`podman create/init/start/kill` with `podman inspect` at each step: init parks the
    container in the runtime's "created" state (the runtime's own `state` agrees), start
    runs it, kill stops it with 137."""
    r = ctx.ok(podman("create", *podman.run_opts(), IMAGE, "/bin/sleep", "300", runtime=ctx.rt.path))
    cid = r.stdout.strip().splitlines()[-1]
    harness.TEST_IDS.add(f"libpod-{cid}")
    try:
        ctx.check(state(ctx, podman, cid)["Status"] == "created", "podman create: not 'created'")
        ctx.ok(podman("init", cid))
        ctx.runtime_called(cid, "create")
        st = state(ctx, podman, cid)
        ctx.check(st["Status"] == "initialized", f"after init: {st['Status']!r}")
        pid = st["Pid"]
        ctx.check(pid > 0 and common.alive(pid), f"after init: no live init pid ({pid})")
        ctx.check(not ctx.rt.calls_for(cid, "start"), "podman init started the container")
        # podman does not pass --root: the runtime's default root holds the state
        r = podman.commands.run([ctx.rt.real, "state", cid])
        ctx.ok(r, f"{ctx.rt.name} state {cid}")
        rs = json.loads(r.stdout)
        ctx.check(rs["status"] == "created" and rs["pid"] == pid, f"runtime state after init: {rs}")
        ctx.ok(podman("start", cid))
        ctx.runtime_called(cid, "start")
        st = state(ctx, podman, cid)
        ctx.check(st["Status"] == "running" and st["Running"] and st["Pid"] == pid,
                  f"after start: {st['Status']!r} pid {st['Pid']} (init was {pid})")
        ctx.check(b"sleep" in b" ".join(common.cmdline(pid)), f"pid {pid} is not the container's sleep")
        ctx.ok(podman("kill", cid))
        st = wait_state(ctx, podman, cid, "exited")
        ctx.check(st["ExitCode"] == 137 and not st["Running"] and st["Pid"] == 0, f"after kill: {st}")
        ctx.runtime_called(cid, "kill")
        ctx.check(not common.alive(pid), f"init {pid} survived podman kill")
    finally:
        podman.remove(cid)


def test_stop(ctx, podman):
    """`podman stop`: SIGTERM through the runtime (a trap exits 42 at once), and SIGKILL
    after the timeout for a process that ignores it (137)."""
    cid = run_detached(ctx, podman, *SLEEPER)
    try:
        r = ctx.ok(podman("stop", "-t", "20", cid))
        ctx.check(r.elapsed < 10, f"podman stop took {r.elapsed:.1f}s: SIGTERM did not arrive")
        st = wait_state(ctx, podman, cid, "exited")
        ctx.check(st["ExitCode"] == 42, f"exit code {st['ExitCode']}, expected 42 (the TERM trap)")
        kills = ctx.runtime_called(cid, "kill")
        ctx.check(any(c.argv[-1] in ("15", "TERM", "SIGTERM") for c in kills),
                  f"no SIGTERM kill: {[c.argv for c in kills]}")
    finally:
        podman.remove(cid)
    cid = run_detached(ctx, podman, "/bin/sleep", "300")   # pid 1 ignores SIGTERM
    try:
        ctx.ok(podman("stop", "-t", "1", cid))
        st = wait_state(ctx, podman, cid, "exited")
        ctx.check(st["ExitCode"] == 137, f"exit code {st['ExitCode']}, expected 137 (SIGKILL)")
    finally:
        podman.remove(cid)


def test_pause_unpause(ctx, podman):
    """`podman pause` freezes the container's cgroup (exec is refused), `unpause` thaws it."""
    cid = run_detached(ctx, podman, *SLEEPER)
    try:
        pid = state(ctx, podman, cid)["Pid"]
        ctx.ok(podman("pause", cid))
        ctx.runtime_called(cid, "pause")
        st = state(ctx, podman, cid)
        ctx.check(st["Status"] == "paused" and st["Paused"], f"after pause: {st['Status']!r}")
        ctx.check(common.frozen(pid) is True, f"the cgroup of {pid} is not frozen")
        r = podman("exec", cid, "/bin/true")
        ctx.check(r.returncode != 0, "podman exec into a paused container succeeded")
        ctx.ok(podman("unpause", cid))
        ctx.runtime_called(cid, "resume")
        st = state(ctx, podman, cid)
        ctx.check(st["Status"] == "running" and not st["Paused"], f"after unpause: {st['Status']!r}")
        ctx.check(common.frozen(pid) is False, f"the cgroup of {pid} is still frozen")
        r = ctx.ok(podman("exec", cid, "/bin/echo", "thawed"))
        ctx.check("thawed" in r.stdout, f"exec after unpause: {r.stdout!r}")
    finally:
        podman.remove(cid)


def test_top(ctx, podman):
    """`podman top` lists the container's processes."""
    cid = run_detached(ctx, podman, "/bin/sh", "-c", "sleep 301 & sleep 302 & wait")
    try:
        deadline = time.monotonic() + 10
        while True:
            r = ctx.ok(podman("top", cid))
            if "sleep 301" in r.stdout and "sleep 302" in r.stdout:
                break
            if time.monotonic() > deadline:
                ctx.fail(f"podman top does not show both sleeps:\n{r.stdout}")
            time.sleep(0.1)
        ctx.check(r.stdout.splitlines()[0].split()[:2] == ["USER", "PID"], f"top header: {r.stdout!r}")
        ctx.check(len(r.stdout.splitlines()) == 4, f"expected sh and two sleeps:\n{r.stdout}")
    finally:
        podman.remove(cid)


def test_rm_force_running(ctx, podman):
    """`podman rm -f` of a running container: killed and deleted through the runtime,
    its init gone, its runtime state gone."""
    cid = run_detached(ctx, podman, "/bin/sleep", "300")
    pid = state(ctx, podman, cid)["Pid"]
    ctx.check(common.alive(pid), f"init {pid} not running")
    statedir = Path(DEFAULT_ROOTS[ctx.rt.name]) / cid
    ctx.check(statedir.is_dir(), f"no runtime state at {statedir}")
    ctx.ok(podman("rm", "-f", "-t", "0", cid))
    ctx.check(podman.inspect(cid) is None, "the container is still known to podman")
    ctx.runtime_called(cid, "kill")
    ctx.runtime_called(cid, "delete")
    deadline = time.monotonic() + 10
    while common.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    ctx.check(not common.alive(pid), f"init {pid} survived podman rm -f")
    ctx.check(not statedir.exists(), f"runtime state left at {statedir}")


# ---- plugging the runtime in, as the README says ----

def test_runtime_path_directly(rt, podman):
    """The real binary as `--runtime /path` (no wrapper): podman records it as the
    container's runtime and the runtime's default root holds the container."""
    ctx = common.Context(rt, podman.commands)
    r = ctx.ok(podman("run", "-d", *podman.run_opts(), IMAGE, "/bin/sleep", "300", runtime=rt.real))
    cid = r.stdout.strip().splitlines()[-1]
    harness.TEST_IDS.add(f"libpod-{cid}")
    try:
        info = podman.inspect(cid)
        ctx.check(info["OCIRuntime"] == rt.real, f"OCIRuntime {info['OCIRuntime']!r}")
        r = ctx.ok(podman.commands.run([rt.real, "state", cid]))
        rs = json.loads(r.stdout)
        ctx.check(rs["status"] == "running" and rs["pid"] == info["State"]["Pid"], f"runtime state: {rs}")
        r = ctx.ok(podman("exec", cid, "/bin/echo", "direct"))
        ctx.check("direct" in r.stdout, f"exec: {r.stdout!r}")
        ctx.check(not rt.calls(), "the wrapper was used")
    finally:
        podman.remove(cid)


def test_containers_conf_runtime(rt, podman, tmp_path):
    """containers.conf `[engine.runtimes]` names the runtime; `runtime = NAME` makes it the
    default and `--runtime NAME` picks it; listing the name in runtime_supports_json makes
    podman pass --log-format=json and take a failed create's message from its JSON log."""
    ctx = common.Context(rt, podman.commands)
    conf = tmp_path / "containers.conf"
    conf.write_text(f"""\
[engine]
runtime = "{rt.name}"
runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "{rt.name}"]

[engine.runtimes]
{rt.name} = ["{rt.path}"]
""")
    env = {"CONTAINERS_CONF": str(conf)}
    ctx.exits(podman("run", "--rm", *podman.run_opts(), IMAGE, "/bin/sh", "-c", "exit 3", env=env), 3)
    r = ctx.exits(podman("run", "--rm", *podman.run_opts(), IMAGE, "/nonexistent",
                         runtime=rt.name, env=env), 127)
    ctx.check("no such file or directory" in r.stderr and "level=error" not in r.stderr,
              f"podman did not take the message from the JSON log: {r.stderr!r}")
    ids = created_ids(ctx)
    ctx.check(len(ids) == 2, f"expected 2 runtime creates, saw {ids}")
    for cid in ids:
        create = ctx.runtime_called(cid, "create", expect_exit=None)[0]
        ctx.check("--log-format=json" in create.argv, f"no --log-format=json: {create.argv}")
