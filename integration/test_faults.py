"""Faults: pyrunc killed at every fault point, state files corrupted or gone stale
behind its back, and a state root it cannot write.

Whatever happened, `state` and `list` answer with what they know (a state or one
error line, never a Python error), and `delete --force` leaves nothing behind: no
process, mount, cgroup, state dir or exec fifo.

The fault points are pyrunc's test hooks (runtime/faults.py): PYRUNC_TEST_FAULT=<name>
makes pyrunc SIGKILL itself when it gets there.  The list is read from the source at
import time and checked against EXPECTED_POINTS, so a point added without a test here,
or a point that disappears, fails.

Containers' inits are reparented to the pytest process (a child subreaper); like a
containerd shim it reaps what it is given (``reap_later`` / ``adopt_children``).
"""
import json
import marshal
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import harness

pytestmark = pytest.mark.integration

SLEEP = ["/probe", "sleep", "600"]
RUNTIME_SRC = Path(__file__).resolve().parent.parent / "runtime"
STATUSES = {"creating", "created", "running", "paused", "stopped"}

# every fault point, in the order a container meets them
EXPECTED_POINTS = [
    "create-after-mkdir", "create-before-cgroups", "create-after-cgroups", "create-before-spawn",
    "create-after-spawn", "create-after-first-state", "create-after-join", "create-after-ready",
    "create-after-state", "start-before-release", "start-after-release", "exec-after-spawn",
    "delete-after-kill", "delete-after-cgroups",
]


def discover_points():
    """Every `faults.point("<name>")` in runtime/, in file order."""
    found = []
    for path in sorted(RUNTIME_SRC.rglob("*.py")):
        found += re.findall(r'faults\.point\(\s*"([^"]+)"\s*\)', path.read_text())
    return found


DISCOVERED = discover_points()
ALL_POINTS = EXPECTED_POINTS + sorted(set(DISCOVERED) - set(EXPECTED_POINTS))

# On a host whose /sys/fs/cgroup is not the cgroup2 hierarchy the init joins its cgroups by
# pid, and create clones it (and writes the first state) before it makes the cgroups
# (runtime/lifecycle/create.py); on cgroup v2 the init is cloned into the cgroup made first.
CLONE_FIRST = not os.path.exists("/sys/fs/cgroup/cgroup.controllers")

# what each point leaves before `delete --force` runs (None: not asserted, it races)
# cgroups: the container's cgroup dirs exist; init: the init lives (True) or is gone (False)
LEFT = {
    "create-after-mkdir": dict(cgroups=False, init=None),
    "create-before-cgroups": dict(cgroups=False, init=None),
    "create-after-cgroups": dict(cgroups=True, init=None),
    "create-before-spawn": dict(cgroups=not CLONE_FIRST, init=None),
    "create-after-spawn": dict(cgroups=not CLONE_FIRST, init=None),
    "create-after-first-state": dict(cgroups=not CLONE_FIRST, init=None),
    "create-after-join": dict(cgroups=True, init=None),
    "create-after-ready": dict(cgroups=True, init=True),
    "create-after-state": dict(cgroups=True, init=True),
    "start-before-release": dict(cgroups=True, init=True),
    "start-after-release": dict(cgroups=True, init=True),
    "exec-after-spawn": dict(cgroups=True, init=True),
    "delete-after-kill": dict(cgroups=True, init=False),
    "delete-after-cgroups": dict(cgroups=False, init=False),
}


# ---- helpers ----

def adopt_children(exclude=()):
    """reap_later every direct child of this process (orphans of a killed runtime: the
    container init, a half-spawned exec).  Call only while no subprocess of ours runs."""
    me = os.getpid()
    for p in harness.descendants():
        if p.ppid == me and p.pid not in exclude:
            harness.reap_later(p.pid)


def fault_cmd(rt, fault, *argv, timeout=harness.DEFAULT_TIMEOUT):
    """rt.cmd(*argv) with PYRUNC_TEST_FAULT=fault; output in files, never pipes, since a
    container init that outlives the command inherits them."""
    env = dict(os.environ, PYRUNC_TEST_FAULT=fault)
    full = [rt.binary, *rt.global_flags(), *map(str, argv)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            p = subprocess.run(full, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise harness.HarnessError(f"PYRUNC_TEST_FAULT={fault} {' '.join(full)}: "
                                       f"timed out after {timeout}s") from None
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(full, p.returncode, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))


def show(r):
    return f"exit {r.returncode}\nstdout: {r.stdout!r}\nstderr: {r.stderr!r}"


def assert_no_python_error(r):
    for sign in ("Traceback", "internal error"):
        assert sign not in r.stderr, \
            f"`{' '.join(map(str, r.args[3:]))}`: a Python error, not an answer\n{show(r)}"


def assert_answer_or_one_line(r):
    """Exit 0, or exit 1 with exactly one error line; never a Python error."""
    assert_no_python_error(r)
    if r.returncode == 0:
        return True
    assert r.returncode == 1, show(r)
    assert len(r.stderr.strip().splitlines()) == 1, f"not one error line\n{show(r)}"
    return False


def check_state_answer(rt, cid):
    """`state ID` gives a well-formed state of this container or one error line; the state or None."""
    r = rt.cmd("state", cid)
    if not assert_answer_or_one_line(r):
        return None
    st = json.loads(r.stdout)
    assert st["id"] == cid and st["status"] in STATUSES, r.stdout
    if st["status"] == "stopped":
        assert st["pid"] == 0, r.stdout
    return st


def check_list_answer(rt, cid):
    for fmt in ("json", "table"):
        r = rt.cmd("list", "--format", fmt)
        if assert_answer_or_one_line(r) and fmt == "json":
            rows = json.loads(r.stdout) or []
            assert all(row["id"] == cid and row["status"] in STATUSES for row in rows), r.stdout


def alive(pid):
    """The process runs (exists and is not a zombie)."""
    p = harness.proc_stat(pid)
    return p is not None and p.state not in "ZXx"


def cgroup_dirs(cid):
    return harness._cgroups({cid})


def assert_clean(rt, cid, before, tmp_path, also_gone=()):
    """Nothing of the container is left: state dir (so exec fifo), cgroups, mounts, processes."""
    cdir = rt.root / cid
    assert not cdir.exists(), f"state dir {cdir} is left: {os.listdir(cdir)}"
    r = rt.cmd("state", cid)
    assert r.returncode == 1 and "container does not exist" in r.stderr, show(r)
    assert not cgroup_dirs(cid), f"cgroups left: {sorted(cgroup_dirs(cid))}"
    for pid in also_gone:
        harness.wait_for(lambda: not alive(pid), 10, f"process {pid} of the container to be gone")

    def clean():
        return not any(harness.leaks(before, harness.snapshot(tmp_path, [rt.root])))
    try:
        harness.wait_for(clean, 10, "the container's processes to be reaped")
    except harness.HarnessError:
        leaked = harness.leaks(before, harness.snapshot(tmp_path, [rt.root]))
        raise AssertionError("delete --force left:\n" + harness.describe(leaked)) from None


def force_delete_cleans(rt, cid, before, tmp_path, also_gone=(), exclude=()):
    adopt_children(exclude)
    r = rt.delete(cid, force=True)
    assert r.returncode == 0, f"delete --force after the fault: {show(r)}"
    assert_clean(rt, cid, before, tmp_path, also_gone)


def cgroup_paths_of(rt, cid):
    """The container's cgroup dirs as its runtime recorded them."""
    st = harness.read_state_file(rt, cid)
    paths = st.get("cgroupPaths") or st.get("cgroup_paths") or {}
    return sorted(set(paths.values()))


def started(rt, bundle, tag):
    cid = harness.new_id(tag)
    r = rt.create(cid, bundle)
    assert r.returncode == 0, f"{rt.name} create: {show(r)}"
    pid = rt.state(cid)["pid"]
    waiter = harness.reap_later(pid)
    r = rt.start(cid)
    assert r.returncode == 0, f"{rt.name} start: {show(r)}"
    assert rt.state(cid)["status"] == "running"
    return cid, pid, waiter


# ---- fault points ----

def test_fault_points_are_the_expected_ones():
    """A new point needs a LEFT entry here; a point that vanished would test nothing."""
    assert len(DISCOVERED) == len(set(DISCOVERED)), f"a fault point appears twice: {DISCOVERED}"
    assert sorted(DISCOVERED) == sorted(EXPECTED_POINTS), (
        f"fault points in {RUNTIME_SRC}: new {sorted(set(DISCOVERED) - set(EXPECTED_POINTS))}, "
        f"gone {sorted(set(EXPECTED_POINTS) - set(DISCOVERED))}")
    assert set(LEFT) == set(EXPECTED_POINTS)


def fault_cases():
    for point in ALL_POINTS:
        if point.startswith("delete-"):
            yield pytest.param(point, "stopped", id=f"{point}-stopped")
            yield pytest.param(point, "running", id=f"{point}-running-force")
        else:
            yield pytest.param(point, None, id=point)


@pytest.mark.parametrize("point,how", list(fault_cases()))
def test_killed_at_fault_point_then_delete_force_cleans(pyrunc, bundle_factory, tmp_path, point, how):
    killed_at_then_delete_force_cleans(pyrunc, bundle_factory(args=SLEEP), tmp_path, point, how)


def killed_at_then_delete_force_cleans(pyrunc, bundle, tmp_path, point, how):
    """pyrunc SIGKILLed at `point`: state and list still answer, delete --force leaves nothing.

    create-* points are met by `create`, start-* by `start` of a created container,
    exec-* by `exec` into a running one, delete-* by `delete` of a killed (stopped)
    container and by `delete --force` of a running one.
    """
    verb = point.split("-", 1)[0]
    assert verb in ("create", "start", "exec", "delete"), f"no known command reaches fault point {point!r}"
    cid = harness.new_id("fault")
    before = harness.snapshot(tmp_path, [pyrunc.root])
    init = None
    if verb == "create":
        r = fault_cmd(pyrunc, point, "create", "--bundle", bundle, cid)
    else:
        r = pyrunc.create(cid, bundle)
        assert r.returncode == 0, show(r)
        init = pyrunc.state(cid)["pid"]
        harness.reap_later(init)
        if verb == "start":
            r = fault_cmd(pyrunc, point, "start", cid)
        else:
            assert pyrunc.start(cid).returncode == 0
            assert pyrunc.state(cid)["status"] == "running"
            if verb == "exec":
                r = fault_cmd(pyrunc, point, "exec", cid, "/probe", "sleep", "500")
            elif how == "stopped":
                assert pyrunc.kill(cid, "KILL").returncode == 0
                pyrunc.wait_status(cid, "stopped")
                r = fault_cmd(pyrunc, point, "delete", cid)
            else:
                r = fault_cmd(pyrunc, point, "delete", "--force", cid)
    assert r.returncode == -signal.SIGKILL, \
        f"PYRUNC_TEST_FAULT={point}: the command was not SIGKILLed, so the point was not reached\n{show(r)}"

    # what the fault left, as the point's name says
    cdir = pyrunc.root / cid
    assert cdir.is_dir(), f"killed at {point}, yet no state dir {cdir}"
    left = LEFT.get(point, {})
    if left.get("cgroups") is not None:
        want = "some" if left["cgroups"] else "none"
        assert bool(cgroup_dirs(cid)) == left["cgroups"], \
            f"killed at {point}: cgroups {sorted(cgroup_dirs(cid))}, expected {want}"
    if init is None and harness.state_file(pyrunc, cid).exists():
        try:
            init = harness.read_state_file(pyrunc, cid)["pid"]
        except (ValueError, EOFError, KeyError):
            pass
    if left.get("init") is not None:
        assert init, f"killed at {point}: no init pid recorded"
        how = "is gone" if left["init"] else "still runs"
        assert alive(init) == left["init"], f"killed at {point}: init {init} {how}: {harness.proc_stat(init)}"

    st = check_state_answer(pyrunc, cid)
    check_list_answer(pyrunc, cid)
    if point == "start-after-release":
        assert st and st["status"] == "running", st     # the init was released: it runs
    force_delete_cleans(pyrunc, cid, before, tmp_path, also_gone=[init] if init else [])


# ---- corrupted state ----

def _pid_as_string(data):
    st = marshal.loads(data)
    st["pid"] = str(st["pid"])
    return marshal.dumps(st, 4)


def _cgroup_paths_as_string(data):
    st = marshal.loads(data)
    st["cgroupPaths"] = "/sys/fs/cgroup"
    return marshal.dumps(st, 4)


def _no_pid(data):
    st = marshal.loads(data)
    del st["pid"]
    return marshal.dumps(st, 4)


STATE_CORRUPTIONS = {
    "truncated": lambda data: data[:len(data) // 2],
    "empty": lambda data: b"",
    "garbage": lambda data: bytes(range(256)) * 4,
    "a-list": lambda data: marshal.dumps(["id", 1, 2], 4),
    "null": lambda data: marshal.dumps(None, 4),
    "json": lambda data: json.dumps(marshal.loads(data)).encode(),   # the format of old
    "huge-list": lambda data: b"[\xff\xff\xff\x7f",                   # a length, no items
    "pid-as-string": _pid_as_string,
    "pid-missing": _no_pid,
    "cgroupPaths-as-string": _cgroup_paths_as_string,
}


@pytest.mark.parametrize("corruption", list(STATE_CORRUPTIONS))
def test_corrupt_state_of_a_running_container(pyrunc, bundle_factory, tmp_path, corruption):
    """pyrunc only: runc 1.1.5 fails every command, delete --force included, on a state.json
    it cannot parse, and leaves the container running.  pyrunc falls back on the cgroups
    record of its config file."""
    before = harness.snapshot(tmp_path, [pyrunc.root])
    cid, pid, _ = started(pyrunc, bundle_factory(args=SLEEP), "corrupt")
    cgroups = cgroup_paths_of(pyrunc, cid)
    assert cgroups and all(pid in map(int, Path(d, "cgroup.procs").read_text().split())
                           for d in cgroups if Path(d, "cgroup.procs").exists()), cgroups
    path = harness.state_file(pyrunc, cid)
    bad = STATE_CORRUPTIONS[corruption](path.read_bytes())
    path.write_bytes(bad)
    assert path.read_bytes() == bad
    try:
        check_state_answer(pyrunc, cid)
        check_list_answer(pyrunc, cid)
        assert_answer_or_one_line(pyrunc.kill(cid, "CONT"))
        assert alive(pid), f"init {pid} died of state/list/kill CONT"
        force_delete_cleans(pyrunc, cid, before, tmp_path, also_gone=[pid])
    finally:
        if path.exists():               # failed: clean up through a state pyrunc can read
            path.write_bytes(b"")
            pyrunc.delete(cid, force=True)


@pytest.mark.parametrize("corruption", ["truncated", "garbage", "empty", "wrong-shape"])
def test_corrupt_config_file_with_a_good_state(pyrunc, bundle_factory, tmp_path, corruption):
    """The config file's cgroups record is only the fallback: with the state intact,
    state, list, kill and delete --force work."""
    before = harness.snapshot(tmp_path, [pyrunc.root])
    cid, pid, _ = started(pyrunc, bundle_factory(args=SLEEP), "cgjson")
    path = pyrunc.root / cid / "config"
    data = path.read_bytes()
    bad = {"truncated": data[:len(data) // 2], "garbage": b"\x00\xff" * 100, "empty": b"",
           "wrong-shape": marshal.dumps({"spec": [], "cgroups": {"mode": 1, "paths": ["x"], "created": "y"}},
                                        4)}[corruption]
    path.write_bytes(bad)
    assert path.read_bytes() == bad
    st = check_state_answer(pyrunc, cid)
    assert st and (st["status"], st["pid"]) == ("running", pid), st
    check_list_answer(pyrunc, cid)
    r = pyrunc.kill(cid, "CONT")
    assert r.returncode == 0, show(r)
    force_delete_cleans(pyrunc, cid, before, tmp_path, also_gone=[pid])


def test_missing_state_of_a_created_container(pyrunc, bundle_factory, tmp_path):
    """A parked init whose state file is gone: delete --force finds its cgroups and kills it."""
    before = harness.snapshot(tmp_path, [pyrunc.root])
    cid = harness.new_id("nostate")
    r = pyrunc.create(cid, bundle_factory(args=SLEEP))
    assert r.returncode == 0, show(r)
    pid = pyrunc.state(cid)["pid"]
    harness.reap_later(pid)
    harness.state_file(pyrunc, cid).unlink()
    assert (pyrunc.root / cid / "exec.fifo").exists()
    check_state_answer(pyrunc, cid)
    check_list_answer(pyrunc, cid)
    r = pyrunc.start(cid)
    assert_answer_or_one_line(r)
    assert r.returncode == 1, f"start of a container without its state: {show(r)}"
    assert alive(pid) and (pyrunc.root / cid / "exec.fifo").exists(), "start released the init anyway"
    force_delete_cleans(pyrunc, cid, before, tmp_path, also_gone=[pid])


def test_cgroups_removed_behind_the_runtimes_back(runtime, bundle_factory, tmp_path):
    """The init is killed and its cgroup dirs removed by someone else: stopped, and delete --force works."""
    before = harness.snapshot(tmp_path, [runtime.root])
    cid, pid, waiter = started(runtime, bundle_factory(args=SLEEP), "cgrm")
    recorded = cgroup_paths_of(runtime, cid)
    own = {line.split(":", 2)[2] for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()}
    found = cgroup_dirs(cid)
    assert found and set(recorded) == found, (recorded, found)
    assert all(p.endswith("/" + cid) for p in own if p != "/"), own
    os.kill(pid, signal.SIGKILL)
    waiter.join(10)
    assert harness.proc_stat(pid) is None, f"init {pid} was not reaped"
    for d in sorted(found, key=len, reverse=True):
        os.rmdir(d)
    assert not cgroup_dirs(cid)

    st = check_state_answer(runtime, cid)
    assert st and st["status"] == "stopped", st
    check_list_answer(runtime, cid)
    r = runtime.kill(cid, "KILL")
    assert_answer_or_one_line(r)
    assert r.returncode == 1 and "container not running" in r.stderr, show(r)
    r = runtime.delete(cid, force=True)
    assert r.returncode == 0, show(r)
    assert_clean(runtime, cid, before, tmp_path)


RECYCLE_KEYS = {"pyrunc": ("pid", "pidStart"), "runc": ("init_process_pid", "init_process_start")}


@pytest.mark.parametrize("keep_start", [True, False], ids=["pid-edited", "pid-and-start-edited"])
def test_recycled_init_pid_is_not_the_container(runtime, bundle_factory, tmp_path, keep_start):
    """The init died and its pid now names an unrelated process (our `sleep`, a start time of
    its own): stopped, kill refuses, start refuses, delete --force cleans and spares the sleep."""
    before = harness.snapshot(tmp_path, [runtime.root])
    cid, pid, waiter = started(runtime, bundle_factory(args=SLEEP), "recyc")
    assert runtime.kill(cid, "KILL").returncode == 0
    waiter.join(10)
    assert harness.proc_stat(pid) is None, f"init {pid} was not reaped"
    runtime.wait_status(cid, "stopped")

    sleeper = subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pid_key, start_key = RECYCLE_KEYS[runtime.name]
        st = harness.read_state_file(runtime, cid)
        assert st[pid_key] == pid and isinstance(st[start_key], int), st
        st[pid_key] = sleeper.pid
        if not keep_start:
            st[start_key] = harness.proc_stat(sleeper.pid).start + 1   # close, not equal
        harness.write_state_file(runtime, cid, st)
        assert harness.read_state_file(runtime, cid)[pid_key] == sleeper.pid
        assert harness.proc_stat(sleeper.pid).start != st[start_key]

        st = check_state_answer(runtime, cid)
        assert st is None or (st["status"], st["pid"]) == ("stopped", 0), st
        check_list_answer(runtime, cid)
        for argv in (("kill", cid, "KILL"), ("kill", cid, "TERM"), ("kill", "--all", cid, "KILL"),
                     ("start", cid)):
            r = runtime.cmd(*argv)
            assert_answer_or_one_line(r)
            if argv[1] != "--all":
                assert r.returncode == 1, f"{' '.join(argv)}: {show(r)}"
            time.sleep(0.05)
            assert sleeper.poll() is None, f"`{' '.join(argv)}` signalled the unrelated process"
        r = runtime.delete(cid, force=True)
        assert r.returncode == 0, show(r)
        time.sleep(0.1)
        assert sleeper.poll() is None, "delete --force killed the unrelated process"
        assert not (runtime.root / cid).exists()
        assert not cgroup_dirs(cid)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert_clean(runtime, cid, before, tmp_path)


def test_recycled_pid_while_the_container_still_runs(pyrunc, bundle_factory, tmp_path):
    """pyrunc only (runc cannot remove a busy cgroup): the state names a stranger's pid while
    the real init runs in the container's cgroup.  delete --force kills the container through
    its cgroup and spares the stranger."""
    before = harness.snapshot(tmp_path, [pyrunc.root])
    cid, pid, _ = started(pyrunc, bundle_factory(args=SLEEP), "recrun")
    sleeper = subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        st = harness.read_state_file(pyrunc, cid)
        st["pid"] = sleeper.pid
        harness.write_state_file(pyrunc, cid, st)
        check_state_answer(pyrunc, cid)
        r = pyrunc.kill(cid, "KILL")
        assert_answer_or_one_line(r)
        time.sleep(0.05)
        assert sleeper.poll() is None, "kill signalled the unrelated process"
        r = pyrunc.delete(cid, force=True)
        assert r.returncode == 0, show(r)
        time.sleep(0.1)
        assert sleeper.poll() is None, "delete --force killed the unrelated process"
        harness.wait_for(lambda: not alive(pid), 10, f"the real init {pid} to be killed")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert_clean(pyrunc, cid, before, tmp_path)


# ---- a state root that cannot be written ----

def _mount_tmpfs(where, opts):
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], check=True,
                   capture_output=True, timeout=30)


def _umount(where):
    r = subprocess.run(["umount", str(where)], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


def _fill(path):
    """Write to `path` until the file system says ENOSPC."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as e:
        assert e.errno == 28, e
    finally:
        os.close(fd)


ROOT_CASES = {
    # name: (tmpfs options, fill it, remount read-only, state root made beforehand, errno text)
    "full": ("size=64k", True, False, True, "no space left on device"),
    "no-inodes": ("size=1m,nr_inodes=2", False, False, True, "no space left on device"),
    "read-only": ("size=64k", False, True, True, "read-only file system"),
    "read-only-no-root-yet": ("size=64k", False, True, False, "read-only file system"),
}


def _refused(root, premade):
    """The OSError the file system gives a new state dir with a file in it."""
    where = (root if premade else root.parent.parent) / "probe-dir"
    try:
        where.mkdir()
        try:
            (where / "f").write_bytes(b"x" * 8192)
        finally:
            (where / "f").unlink(missing_ok=True)
            where.rmdir()
    except OSError as e:
        return e
    return None


@pytest.mark.parametrize("case", list(ROOT_CASES))
def test_create_with_an_unwritable_state_root(pyrunc, bundle_factory, tmp_path, case):
    """create fails with one clear line and exit 1, leaving no state dir, cgroup or process."""
    opts, fill, readonly, premade, errtext = ROOT_CASES[case]
    bundle = bundle_factory(args=SLEEP)
    mnt = tmp_path / "small"
    rt = harness.Runtime("pyrunc", tmp_path / "unwritable")
    cid = harness.new_id("root")
    _mount_tmpfs(mnt, opts)
    try:
        rt.root = mnt / "root" if premade else mnt / "state" / "root"
        if premade:
            rt.root.mkdir()
        if fill:
            _fill(mnt / "filler")
        if readonly:
            subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True, capture_output=True,
                           timeout=30)
        refused = _refused(rt.root, premade)           # evidence: the file system really refuses
        assert refused is not None and errtext in os.strerror(refused.errno).lower(), refused
        listing = sorted(os.listdir(mnt))
        before = harness.snapshot(tmp_path, [rt.root])

        r = rt.create(cid, bundle)
        assert r.returncode == 1, show(r)
        assert r.stdout == ""
        # nothing half made
        assert sorted(os.listdir(mnt)) == listing, "create left something in the state file system"
        assert not (rt.root / cid).exists() and not rt.containers()
        assert not cgroup_dirs(cid), f"cgroups left: {sorted(cgroup_dirs(cid))}"
        harness.reap()
        leaked = harness.leaks(before, harness.snapshot(tmp_path, [rt.root]))
        assert not any(leaked), harness.describe(leaked)
        s = rt.cmd("state", cid)
        assert s.returncode == 1 and "container does not exist" in s.stderr, show(s)
        # and one clear line
        assert_no_python_error(r)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, f"not one error line\n{show(r)}"
        assert errtext in lines[0], f"the line does not say {errtext!r}: {lines[0]!r}"
    finally:
        _umount(mnt)
