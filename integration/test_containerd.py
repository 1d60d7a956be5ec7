"""pyrunc under real containerd 1.6 (ctr, containerd-shim-runc-v2), each flow also with runc.

ctr picks the runtime with `--runc-binary PATH` (the runc v2 shim's BinaryName option).
In most tests the path is integration/engines/rtlog.sh behind a symlink named like the
runtime, which records each call the shim makes (argv with `--root /run/containerd/runc/
<ns> --log <task dir>/log.json --log-format json`, exit status); a failure report lists
them with the ctr commands, their output and the daemon's log.
`test_runc_binary_directly` gives ctr the real binary with no wrapper.

One containerd daemon serves the module: private root, state dir and socket, the CRI
plugin disabled, a namespace of its own; started in the background before the first
test (so the conftest leak check counts it in every test's baseline) and stopped by its
pid at the end.  The image is the podman test's busybox, as a docker-archive made by
`podman save` in a throwaway store, then `ctr image import`.  Each test deletes its
tasks and containers; `_settle` waits for the shims to exit and fails the test if it
left a container, a mount, or state under /run/containerd/runc/<ns>.
"""
import base64
import json
import time

import pytest

import harness
from engines import common
from engines.containerd import Containerd
from engines.podman import docker_archive

pytestmark = pytest.mark.integration

IMAGE = common.IMAGE
SLEEPER = ["/bin/sh", "-c", 'trap "exit 42" TERM; sleep 300 & wait']


# ---- fixtures ----

@pytest.fixture(scope="module")
def containerd(tmp_path_factory, probe):
    common.ensure_packages({"podman": "podman", "containerd": "containerd", "ctr": "containerd",
                            "containerd-shim-runc-v2": "containerd"})
    workdir = tmp_path_factory.mktemp("containerd-engine")
    archive = docker_archive(workdir, common.rootfs_tar(workdir))
    daemon = Containerd(workdir)
    try:
        daemon.start()
        daemon.import_image(archive)
        yield daemon
    finally:
        problems = daemon.stop()
        if problems:
            pytest.fail("containerd module cleanup: " + "; ".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def wrapped(containerd):
    return common.wrappers(containerd.workdir / "runtimes")


@pytest.fixture(params=sorted(common.RUNTIMES))
def rt(request, wrapped):
    """The runtime under test behind the logging wrapper: runc, then pyrunc."""
    return wrapped[request.param]


@pytest.fixture
def ctx(rt, containerd):
    return common.Context(rt, containerd.commands, extra=containerd.log_tail)


@pytest.fixture(autouse=True)
def _settle(no_leaks, containerd):
    """Before the conftest leak check: wait for the shims to exit; fail if the test left a
    container, a mount under the daemon's dirs, or runtime state of our namespace."""
    before = {common.proc_key(p) for p in harness.descendants()}
    mounts_before = set(common.mounts_under(containerd.workdir))
    yield
    left = containerd.container_ids()
    for cid in left:
        containerd.remove(cid)
    common.settle(before)
    problems = [f"containers left: {left}"] if left else []
    new_mounts = set(common.mounts_under(containerd.workdir)) - mounts_before
    if new_mounts:
        common.unmount_under(containerd.workdir)
        problems.append(f"mounts left: {sorted(new_mounts)}")
    rt_state = sorted(p.name for p in containerd.runtime_root.iterdir()) \
        if containerd.runtime_root.is_dir() else []
    if rt_state:
        problems.append(f"runtime state left in {containerd.runtime_root}: {rt_state}")
    if problems:
        pytest.fail("the test left behind: " + "; ".join(problems), pytrace=False)


# ---- helpers ----

def run_detached(ctx, containerd, cid, *cmd, opts=()):
    """`ctr run -d --runc-binary RT IMAGE cid cmd`; the task seen RUNNING, created by the
    runtime under test.  Returns the init's pid."""
    ctx.ok(containerd.ctr("run", "-d", "--runc-binary", ctx.rt.path, *opts, IMAGE, cid, *cmd))
    ctx.runtime_called(cid, "create")
    ctx.runtime_called(cid, "start")
    tasks = containerd.tasks()
    ctx.check(cid in tasks and tasks[cid][1] == "RUNNING", f"task after run -d: {tasks.get(cid)}")
    return tasks[cid][0]


def wait_task(ctx, containerd, cid, status, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        task = containerd.tasks().get(cid)
        if task and task[1] == status:
            return task
        if time.monotonic() > deadline:
            ctx.fail(f"task {cid} is {task}, expected {status} after {timeout}s")
        time.sleep(0.1)


def check_gone(ctx, containerd, cid, pid=None):
    """After task and container delete: no task dir (rootfs unmounted), no runtime state,
    no init."""
    ctx.check(cid not in containerd.container_ids(), f"container {cid} still listed")
    ctx.check(not containerd.task_dir(cid).exists(), f"task dir {containerd.task_dir(cid)} left")
    ctx.check(not (containerd.runtime_root / cid).exists(),
              f"runtime state {containerd.runtime_root / cid} left")
    if pid:
        ctx.check(not common.alive(pid), f"init {pid} still alive")


# ---- ctr run ----

def test_ctr_run_exit_code(ctx, containerd):
    """`ctr run --rm`: output and the exit status, 0 and 3; the shim's runtime argv."""
    a, b = harness.new_id("ctr"), harness.new_id("ctr")
    r = ctx.exits(containerd.ctr("run", "--rm", "--runc-binary", ctx.rt.path, IMAGE, a,
                                 "/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 0"), 0)
    ctx.check("to-stdout" in r.stdout and "to-stderr" in r.stderr, f"output lost: {r}")
    ctx.exits(containerd.ctr("run", "--rm", "--runc-binary", ctx.rt.path, IMAGE, b,
                             "/bin/sh", "-c", "exit 3"), 3)
    for cid in (a, b):
        create = ctx.runtime_called(cid, "create")[0]
        root = str(containerd.runtime_root)
        ctx.check(create.argv[1:3] == ["--root", root] and "--log-format" in create.argv,
                  f"unexpected shim argv: {create.argv}")
        ctx.runtime_called(cid, "start")
        ctx.runtime_called(cid, "delete")
        check_gone(ctx, containerd, cid)


def test_ctr_run_tty(ctx, containerd):
    """`ctr run -t` from a terminal: the pty comes back to the shim over the console socket."""
    cid = harness.new_id("ctr")
    argv = containerd.ctr_argv("run", "--rm", "-t", "--runc-binary", ctx.rt.path, IMAGE, cid,
                               "/bin/sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty; exit 4")
    rc, out = common.run_in_pty(argv)
    containerd.commands.history.append(common.Result(argv, rc, out, "", 0.0))
    ctx.check(rc == 4, f"exit {rc}, expected 4")
    ctx.check("/dev/pts/0" in out and "stdin-is-a-tty" in out, f"no tty in the container: {out!r}")
    create = ctx.runtime_called(cid, "create")[0]
    ctx.check("--console-socket" in create.argv, f"create had no --console-socket: {create.argv}")
    check_gone(ctx, containerd, cid)


def test_ctr_run_command_not_found(ctx, containerd):
    """A missing command: create fails, ctr reports the runtime's message from log.json."""
    cid = harness.new_id("ctr")
    r = containerd.ctr("run", "--rm", "--runc-binary", ctx.rt.path, IMAGE, cid, "/nonexistent")
    ctx.check(r.returncode != 0, "ctr run of /nonexistent succeeded")
    ctx.check("OCI runtime create failed" in r.stderr and "/nonexistent" in r.stderr
              and "no such file or directory" in r.stderr, f"ctr's message: {r.stderr!r}")
    ctx.runtime_called(cid, "create", expect_exit=1)
    check_gone(ctx, containerd, cid)


def test_ctr_run_memory_limit(ctx, containerd):
    """`ctr run --memory-limit 64MiB`: the limit holds, a 200 MiB buffer is OOM-killed and
    32 MiB is not (ctr's spec mounts no cgroupfs, so the container cannot read the limit)."""
    cid = harness.new_id("ctr")
    script = """
        dd if=/dev/zero of=/dev/null bs=32M count=1 2>/dev/null; echo small=$?
        dd if=/dev/zero of=/dev/null bs=200M count=1 2>/dev/null; echo big=$?
    """
    r = ctx.ok(containerd.ctr("run", "--rm", "--runc-binary", ctx.rt.path, "--memory-limit", str(64 << 20),
                              IMAGE, cid, "/bin/sh", "-c", script))
    for want in ("small=0", "big=137"):
        ctx.check(want in r.stdout, f"expected {want}: {r.stdout!r}")
    cfg = json.loads((ctx.rt.files / f"config-{cid}.json").read_text())
    ctx.check(cfg["linux"]["resources"]["memory"]["limit"] == 64 << 20, "config.json lacks the limit")
    check_gone(ctx, containerd, cid)


# ---- detached tasks ----

def test_ctr_task_exec(ctx, containerd):
    """`ctr task exec`: output, exit status, --user 65534; each a runtime `exec --detach`."""
    cid = harness.new_id("ctr")
    try:
        run_detached(ctx, containerd, cid, *SLEEPER)
        r = ctx.ok(containerd.ctr("task", "exec", "--exec-id", "x1", cid, "/bin/echo", "from-exec"))
        ctx.check(r.stdout.strip() == "from-exec", f"exec output: {r.stdout!r}")
        ctx.exits(containerd.ctr("task", "exec", "--exec-id", "x2", cid, "/bin/sh", "-c", "exit 5"), 5)
        r = ctx.ok(containerd.ctr("task", "exec", "--exec-id", "x3", "--user", "65534", cid, "/bin/id"))
        ctx.check(r.stdout.startswith("uid=65534(nobody) gid=65534(nogroup)"), f"exec --user: {r.stdout!r}")
        execs = ctx.runtime_called(cid, "exec")
        ctx.check(len(execs) == 3 and all("--detach" in c.argv and "--process" in c.argv for c in execs),
                  f"runtime execs: {[c.argv for c in execs]}")
        ctx.check(containerd.tasks()[cid][1] == "RUNNING", "task not running after the execs")
    finally:
        containerd.remove(cid)


def test_ctr_task_pause_resume(ctx, containerd):
    """`ctr task pause/resume`: PAUSED with a frozen cgroup, then RUNNING and thawed."""
    cid = harness.new_id("ctr")
    try:
        pid = run_detached(ctx, containerd, cid, *SLEEPER)
        ctx.ok(containerd.ctr("task", "pause", cid))
        ctx.runtime_called(cid, "pause")
        ctx.check(containerd.tasks()[cid][1] == "PAUSED", "not PAUSED after pause")
        ctx.check(common.frozen(pid) is True, f"the cgroup of {pid} is not frozen")
        ctx.ok(containerd.ctr("task", "resume", cid))
        ctx.runtime_called(cid, "resume")
        ctx.check(containerd.tasks()[cid][1] == "RUNNING", "not RUNNING after resume")
        ctx.check(common.frozen(pid) is False, f"the cgroup of {pid} is still frozen")
        r = ctx.ok(containerd.ctr("task", "exec", "--exec-id", "x1", cid, "/bin/echo", "thawed"))
        ctx.check("thawed" in r.stdout, f"exec after resume: {r.stdout!r}")
    finally:
        containerd.remove(cid)


def test_ctr_task_ps(ctx, containerd):
    """`ctr task ps` (runtime `ps --format json`): exactly the pids of the task's cgroup."""
    cid = harness.new_id("ctr")
    try:
        pid = run_detached(ctx, containerd, cid, *SLEEPER)
        deadline = time.monotonic() + 10
        while len(common.cgroup_pids(pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        r = ctx.ok(containerd.ctr("task", "ps", cid))
        listed = {int(line.split()[0]) for line in r.stdout.splitlines()[1:] if line.strip()}
        expected = common.cgroup_pids(pid)
        ctx.check(pid in listed and listed == expected and len(listed) == 2,
                  f"ctr task ps {sorted(listed)}, cgroup has {sorted(expected)} (init {pid})")
        ps = ctx.runtime_called(cid, "ps")
        ctx.check(any("json" in " ".join(c.argv) for c in ps), f"ps argv: {[c.argv for c in ps]}")
    finally:
        containerd.remove(cid)


def test_ctr_task_kill_delete(ctx, containerd):
    """`ctr task kill` (SIGTERM: the trap exits 42), `ctr task delete`, `ctr container delete`;
    then `kill --signal KILL` of a process that ignores SIGTERM (137)."""
    cid = harness.new_id("ctr")
    pid = None
    try:
        pid = run_detached(ctx, containerd, cid, *SLEEPER)
        ctx.ok(containerd.ctr("task", "kill", cid))
        kills = ctx.runtime_called(cid, "kill")
        ctx.check(any(c.argv[-1] in ("15", "TERM", "SIGTERM") for c in kills),
                  f"kills: {[c.argv for c in kills]}")
        wait_task(ctx, containerd, cid, "STOPPED")
        r = ctx.ok(containerd.ctr("task", "delete", cid))
        ctx.check("exit code 42" in r.stderr, f"task delete does not report exit code 42: {r.stderr!r}")
        ctx.runtime_called(cid, "delete")
        ctx.check(cid not in containerd.tasks(), "task still listed after task delete")
        ctx.ok(containerd.ctr("container", "delete", cid))
        check_gone(ctx, containerd, cid, pid)
    finally:
        containerd.remove(cid)
    cid = harness.new_id("ctr")
    try:
        pid = run_detached(ctx, containerd, cid, "/bin/sleep", "300")
        ctx.ok(containerd.ctr("task", "kill", "--signal", "KILL", cid))
        wait_task(ctx, containerd, cid, "STOPPED")
        r = ctx.ok(containerd.ctr("task", "delete", cid))
        ctx.check("exit code 137" in r.stderr, f"task delete does not report exit code 137: {r.stderr!r}")
        ctx.ok(containerd.ctr("container", "delete", cid))
        check_gone(ctx, containerd, cid, pid)
    finally:
        containerd.remove(cid)


# ---- plugging the runtime in, as the README says ----

def test_runc_binary_directly(rt, containerd):
    """The real binary as `--runc-binary /path` (no wrapper): the container's runtime
    options carry it as BinaryName, and the runtime's state is under the shim's root."""
    ctx = common.Context(rt, containerd.commands, extra=containerd.log_tail)
    cid = harness.new_id("ctr")
    try:
        ctx.ok(containerd.ctr("run", "-d", "--runc-binary", rt.real, IMAGE, cid, "/bin/sleep", "300"))
        info = json.loads(ctx.ok(containerd.ctr("container", "info", cid)).stdout)
        options = info.get("Runtime", {}).get("Options") or {}
        # a protobuf Any (containerd.runc.v1.Options): BinaryName is field 6, a string
        raw = base64.b64decode(options.get("value", ""))
        ctx.check(options.get("type_url") == "containerd.runc.v1.Options"
                  and raw.find(b"\x32" + bytes([len(rt.real)]) + rt.real.encode()) >= 0,
                  f"runtime options do not carry BinaryName {rt.real}: {info.get('Runtime')} ({raw!r})")
        r = ctx.ok(containerd.commands.run([rt.real, "--root", containerd.runtime_root, "state", cid]))
        rs = json.loads(r.stdout)
        ctx.check(rs["status"] == "running" and rs["pid"] == containerd.tasks()[cid][0],
                  f"runtime state: {rs}")
        r = ctx.ok(containerd.ctr("task", "exec", "--exec-id", "x1", cid, "/bin/echo", "direct"))
        ctx.check("direct" in r.stdout, f"exec: {r.stdout!r}")
        ctx.check(not rt.calls(), "the wrapper was used")
    finally:
        containerd.remove(cid)
    check_gone(ctx, containerd, cid)


def test_cri_runtime_handler_config_parses(rt, containerd, tmp_path):
    """The README's CRI runtime handler (runc v2 shim, options.BinaryName): containerd 1.6
    reads it.  Only the configuration is checked here (this module disables the CRI plugin;
    integration/test_cri.py runs pods through it)."""
    ctx = common.Context(rt, containerd.commands)
    conf = tmp_path / "cri.toml"
    conf.write_text(f"""\
version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{rt.name}]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{rt.name}.options]
    BinaryName = "{rt.real}"
""")
    r = ctx.ok(containerd.commands.run(["containerd", "--config", conf, "config", "dump"]))
    section = f'[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{rt.name}.options]'
    ctx.check(section in r.stdout, f"no {section} in the dump")
    after = r.stdout.split(section, 1)[1]
    ctx.check(f'BinaryName = "{rt.real}"' in after.split("[", 1)[0], "BinaryName not kept in the dump")
