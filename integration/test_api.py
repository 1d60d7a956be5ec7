"""The Python API (api.Runtime, Container, ...) with real containers, in this process:
what the container saw next to runc's `run` of the same bundle, the lifecycle and its
errors next to runc's, the context manager's cleanup after an exception, threads creating
containers at once, the API and the pyrunc command on one root, exec, pause/resume,
update, events.

The API is the installed pyrunc package (the one $PYRUNC runs), imported here.
"""
import os
import subprocess
import sys
import threading
import time

import pytest

import harness
import pyrunc as api   # `pyrunc` is the command's fixture here


@pytest.fixture
def rt(pyrunc):
    """The API on the pyrunc fixture's root (the leak check covers it)."""
    return pyrunc_api_runtime(pyrunc)


def pyrunc_api_runtime(cli):
    return api.Runtime(str(cli.root))


def read_all(fd):
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            return b"".join(chunks).decode()
        chunks.append(b)


def run_capture(rt, cid, bundle, **kw):
    """rt.run() of `bundle` (a Path) with stdio through pipes (as runc's foreground `run` gives them; stdin
    at EOF): (exit status, stdout, stderr)."""
    in_r, in_w = os.pipe()
    os.close(in_w)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        with rt.run(cid, bundle, stdin=in_r, stdout=out_w, stderr=err_w, **kw) as c:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
            in_r = out_w = err_w = -1
            result = {}
            t = threading.Thread(target=lambda: result.setdefault("err", read_all(err_r)))
            t.start()
            out = read_all(out_r)
            t.join()
            code = c.wait()
        return code, out, result["err"]
    finally:
        for fd in (in_r, out_r, err_r, out_w, err_w):
            if fd >= 0:
                os.close(fd)


def test_a_container_run_through_the_api_sees_what_runcs_sees(runc, rt, bundle_factory):
    """`probe report` (namespaces, mounts, ids, capabilities, limits ...) printed through a
    pipe from an API container is what runc's `run` of the same bundle prints."""
    r = runc.run(harness.new_id("api"), bundle_factory())
    assert r.returncode == 0, r.stderr
    code, out, err = run_capture(rt, harness.new_id("api"), bundle_factory())
    assert (code, err) == (0, "")
    harness.assert_same(harness.SideBySide(r, subprocess.CompletedProcess([], code, out, err)))
    assert os.listdir(rt.root) == []


def test_exit_status_is_runcs(runc, rt, bundle_factory):
    for args, want in ((["/probe", "exit", "7"], 7), (["/probe", "exit", "0"], 0)):
        r = runc.run(harness.new_id("api"), bundle_factory(args=args))
        code, _, _ = run_capture(rt, harness.new_id("api"), bundle_factory(args=args))
        assert code == r.returncode == want


def test_lifecycle_states_are_runcs(runc, pyrunc, rt, bundle_factory):
    """create -> created, start -> running, kill -> stopped, delete -> gone: the API's
    State has runc's values at each step, and `pyrunc state` prints what the API returns."""
    rid, aid = harness.new_id("api"), harness.new_id("api")
    runc.create(rid, bundle_factory(args=["/probe", "sleep", "60"]), check=True)
    c = rt.create(aid, str(bundle_factory(args=["/probe", "sleep", "60"])))
    try:
        assert isinstance(c, api.Container) and c.id == aid
        for step in ("created", "running", "stopped"):
            want = runc.state(rid)
            got = c.state()
            assert isinstance(got, api.State)
            assert got.status == want["status"] == step
            assert sorted(got.to_dict()) == sorted(want)
            assert (got.pid > 0) == (want["pid"] > 0)
            assert got.to_dict() == c.state_dict() == pyrunc.state(aid)   # the command prints it
            if step == "created":
                runc.start(rid, check=True)
                c.start()
            elif step == "running":
                runc.kill(rid, "KILL", check=True)
                c.kill("KILL")
                assert c.wait() == 137
                harness.wait_for(lambda: runc.state(rid)["status"] == "stopped")
        assert [s.id for s in rt.list()] == [aid]
        assert rt.list()[0].owner == "root"
    finally:
        runc.delete(rid, force=True)
        c.delete(force=True)
    assert rt.list() == [] and runc.list("json") == []


def test_errors_are_runcs_and_exported(runc, rt, bundle_factory, tmp_path):
    b = str(bundle_factory(args=["/probe", "sleep", "60"]))
    with pytest.raises(api.ContainerNotFound) as e:
        rt.get("nope")
    assert str(e.value) in runc.cmd("state", "nope").stderr
    with pytest.raises(api.InvalidIDError):
        rt.create("../x", b)
    assert os.listdir(rt.root) == []
    cid = harness.new_id("api")
    c = rt.create(cid, b)
    try:
        with pytest.raises(api.ContainerExists):
            rt.create(cid, b)
        c.start()
        with pytest.raises(api.StateError) as e:
            c.start()
        rid = harness.new_id("api")
        runc.run(rid, bundle_factory(args=["/probe", "sleep", "60"]), "--detach", check=True)
        r = runc.start(rid)
        assert str(e.value) in r.stderr
        runc.delete(rid, force=True)
        with pytest.raises(api.StateError):
            c.delete()                  # running: needs force, as `delete`
        assert c.state().status == "running"
    finally:
        c.delete(force=True)
    with pytest.raises(api.ContainerNotFound):
        c.state()
    c.delete(force=True)                # a forced delete of what is gone succeeds, as runc's
    # a bad config: ConfigError naming the field, nothing left behind
    bad = bundle_factory(args=[])
    with pytest.raises(api.ConfigError) as e:
        rt.create(harness.new_id("api"), str(bad))
    assert e.value.path == "process.args"
    assert isinstance(e.value, api.PyruncError)
    assert os.listdir(rt.root) == []


def test_run_deletes_after_an_exception_in_the_block(rt, bundle_factory):
    cid = harness.new_id("api")
    with pytest.raises(RuntimeError, match="boom"):
        with rt.run(cid, str(bundle_factory(args=["/probe", "sleep", "60"]))) as c:
            assert c.state().status == "running"
            pid = c.pid
            raise RuntimeError("boom")
    assert os.listdir(rt.root) == []
    assert harness.proc_stat(pid) is None          # killed and reaped: not even a zombie left
    # a start that fails leaves nothing either
    with pytest.raises(api.PyruncError):
        with rt.run(cid, str(bundle_factory(args=["/does-not-exist"]))):
            pytest.fail("the block ran")
    assert os.listdir(rt.root) == []


def test_threads_create_different_containers_at_once(rt, bundle_factory):
    """Eight threads each run a container and read its output through their own pipe,
    while another thread allocates without the GIL: the init, cloned from a process
    whose other threads may hold malloc's locks, allocates nothing (HOME looked up in
    the container's passwd, a tmpcopyup mount, the ids set: all by plain syscalls)."""
    import zlib

    n = 8
    mounts = harness.base_config()["mounts"] + [
        {"destination": "/home", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}]
    bundles = [str(bundle_factory(args=["/bin/sh", "-c", "echo hello $0 $HOME $(ls /home); exit $1", str(i), str(i)],
                                  process={"env": ["PATH=/bin"], "user": {"uid": 1000, "gid": 1000}},
                                  mounts=mounts))
               for i in range(n)]
    ids = [harness.new_id("thr") for _ in range(n)]
    results = [None] * n
    barrier = threading.Barrier(n)
    stop = threading.Event()

    def allocate():
        data = os.urandom(1 << 20)
        while not stop.is_set():
            zlib.compress(data * 4, 1)      # zlib allocates with the GIL released

    noise = threading.Thread(target=allocate)
    noise.start()

    def work(i):
        barrier.wait()
        try:
            results[i] = run_capture(rt, ids[i], bundles[i])
        except BaseException as e:      # reported below, per thread
            results[i] = e

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join(120)
    finally:
        stop.set()
        noise.join()
    assert results == [(i, "hello %d /home/probe probe\n" % i, "") for i in range(n)]
    assert os.listdir(rt.root) == []


def test_one_id_from_threads_and_the_command_at_once(pyrunc, rt, bundle_factory):
    """The API's create takes the same lock as the command's: of four threads and a
    `pyrunc create` racing for one id, exactly one wins; the others are refused."""
    cid = harness.new_id("race")
    bundles = [str(bundle_factory(args=["/probe", "sleep", "60"])) for _ in range(5)]
    outcome = []
    barrier = threading.Barrier(5)

    def in_process(i):
        barrier.wait()
        try:
            rt.create(cid, bundles[i])
            outcome.append("created")
        except api.ContainerExists:
            outcome.append("exists")

    def cli():
        barrier.wait()
        r = pyrunc.create(cid, bundles[4])
        outcome.append("created" if r.returncode == 0 else
                       "exists" if "already exists" in r.stderr else r.stderr)

    threads = [threading.Thread(target=in_process, args=(i,)) for i in range(4)] + [threading.Thread(target=cli)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcome) == ["created"] + ["exists"] * 4
        assert rt.get(cid).state().status == "created"
        assert [s.id for s in rt.list()] == [cid]
    finally:
        rt.get(cid).delete(force=True)
    assert os.listdir(rt.root) == []


def test_api_and_command_share_a_root(pyrunc, rt, bundle_factory):
    """A container made by the command is the API's to manage, and the reverse."""
    a, b = harness.new_id("api"), harness.new_id("cli")
    rt.create(a, str(bundle_factory(args=["/probe", "sleep", "60"])))
    pyrunc.create(b, bundle_factory(args=["/probe", "sleep", "60"]), check=True)
    try:
        assert sorted(s.id for s in rt.list()) == sorted([a, b])
        assert [r["id"] for r in pyrunc.list("json")] == sorted([a, b])
        pyrunc.start(a, check=True)
        rt.get(b).start()
        assert rt.get(a).state().status == pyrunc.state(b)["status"] == "running"
        rt.get(b).delete(force=True)
        pyrunc.delete(a, force=True, check=True)
        assert rt.list() == []
    finally:
        pyrunc.delete_all()


def test_exec_status_output_and_process_dict(runc, rt, bundle_factory):
    cid = harness.new_id("api")
    with rt.run(cid, str(bundle_factory(args=["/probe", "sleep", "60"]))) as c:
        assert c.exec(["/probe", "exit", "5"]) == 5
        r, w = os.pipe()
        assert c.exec(["/bin/sh", "-c", "id -u; echo $FOO; pwd"], user=1000, env=["FOO=bar"], cwd="/tmp",
                      stdout=w) == 0
        os.close(w)
        assert read_all(r) == "1000\nbar\n/tmp\n"
        os.close(r)
        # a whole process dict, as `exec --process`
        r, w = os.pipe()
        proc = {"args": ["/bin/sh", "-c", "id -u; id -g"], "cwd": "/", "user": {"uid": 1000, "gid": 100}}
        assert c.exec(proc, stdout=w) == 0
        os.close(w)
        assert read_all(r) == "1000\n100\n"
        os.close(r)
        assert proc == {"args": ["/bin/sh", "-c", "id -u; id -g"], "cwd": "/", "user": {"uid": 1000, "gid": 100}}
        with pytest.raises(api.ConfigError):
            c.exec({"args": [], "cwd": "/"})
        # detached: a Process, ours to wait for
        p = c.exec(["/probe", "sleep", "60"], detach=True)
        assert isinstance(p, api.Process) and p.poll() is None
        p.kill(9)
        assert p.wait() == 137
        with pytest.raises(api.PyruncError, match="exec failed"):
            c.exec(["/does-not-exist"])
    # the same process through runc's exec sees the same ids
    rid = harness.new_id("api")
    runc.run(rid, bundle_factory(args=["/probe", "sleep", "60"]), "--detach", check=True)
    try:
        r = runc.cmd("exec", "--user", "1000", "--env", "FOO=bar", "--cwd", "/tmp", rid, "/bin/sh", "-c",
                     "id -u; echo $FOO; pwd")
        assert r.stdout == "1000\nbar\n/tmp\n"
    finally:
        runc.delete(rid, force=True)


def test_pause_and_resume(runc, rt, bundle_factory):
    cid, rid = harness.new_id("api"), harness.new_id("api")
    runc.run(rid, bundle_factory(args=["/probe", "sleep", "60"]), "--detach", check=True)
    try:
        with rt.run(cid, str(bundle_factory(args=["/probe", "sleep", "60"]))) as c:
            c.pause()
            runc.cmd("pause", rid, check=True)
            assert c.state().status == runc.state(rid)["status"] == "paused"
            c.resume()
            runc.cmd("resume", rid, check=True)
            assert c.state().status == runc.state(rid)["status"] == "running"
            with pytest.raises(api.StateError) as e:
                c.resume()
            assert str(e.value) in runc.cmd("resume", rid).stderr
    finally:
        runc.delete(rid, force=True)


def _cgroup_file(pid, controller, name):
    """The content of a cgroup v1 file of `pid`'s `controller` (v2: the unified one), None if absent."""
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller in ctrls.split(",") or (ctrls == "" and os.path.exists("/sys/fs/cgroup/cgroup.controllers")):
                base = f"/sys/fs/cgroup/{controller}" if ctrls else "/sys/fs/cgroup"
                try:
                    with open(f"{base}{path}/{name}") as g:
                        return g.read().strip()
                except FileNotFoundError:
                    return None
    return None


def test_update_and_events_are_runcs(runc, pyrunc, rt, bundle_factory):
    """update({"pids": {"limit": 42}}) writes what `runc update --pids-limit 42` writes on
    this host; events(stats=True) has the keys of the command's `events --stats`."""
    cid, rid = harness.new_id("api"), harness.new_id("api")
    runc.run(rid, bundle_factory(args=["/probe", "sleep", "60"]), "--detach", check=True)
    try:
        with rt.run(cid, str(bundle_factory(args=["/probe", "sleep", "60"]))) as c:
            c.update({"pids": {"limit": 42}})
            runc.cmd("update", "--pids-limit", "42", rid, check=True)
            ours = _cgroup_file(c.pid, "pids", "pids.max")
            theirs = _cgroup_file(runc.state(rid)["pid"], "pids", "pids.max")
            assert ours == theirs
            with open("/proc/self/cgroup") as f:   # a host with the pids controller: both wrote it
                if any("pids" in line.split(":")[1].split(",") for line in f):
                    assert ours == "42"
            with pytest.raises(api.ConfigError) as e:
                c.update({"pids": {"limit": "many"}})
            assert e.value.path.startswith("linux.resources.pids")
            (ev,) = list(c.events(stats=True))
            assert ev["type"] == "stats" and ev["id"] == cid
            r = pyrunc.cmd("events", "--stats", cid, check=True)
            import json
            assert sorted(json.loads(r.stdout)["data"]) == sorted(ev["data"])
            assert sorted(c.stats()) == sorted(ev["data"])
            # without stats: a stats event every interval until the container stops
            stream = c.events(interval=0.05)
            first, second = next(stream), next(stream)
            assert first["type"] == second["type"] == "stats" and sorted(second["data"]) == sorted(ev["data"])
            c.kill("KILL")
            assert [e for e in stream if e["type"] != "stats"] == []    # ends: the container stopped
            with pytest.raises(api.StateError):
                c.events(stats=True)
    finally:
        runc.delete(rid, force=True)


def readme_example():
    """The ```python block of README.md's "As a Python library" section."""
    readme = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
    with open(readme) as f:
        text = f.read()
    section = text[text.index("### As a Python library"):]
    start = section.index("```python\n") + len("```python\n")
    return section[start:section.index("```\n", start)]


def test_readme_example_script(tmp_path):
    """The README's script, as it is written there: it builds an image from busybox,
    unpacks it, runs a container whose output it reads through a pipe, and leaves
    nothing behind (state, mounts, temporary dirs, store)."""
    script = tmp_path / "example.py"
    script.write_text(readme_example())
    before = {n for n in os.listdir("/tmp") if n.startswith("pyrunc-example.")}
    state_before = set(os.listdir("/run/pyrunc")) if os.path.isdir("/run/pyrunc") else set()
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "container said: hello from runc, pid 1\nexit status: 0\n", r.stdout + r.stderr
    assert {n for n in os.listdir("/tmp") if n.startswith("pyrunc-example.")} == before
    after = set(os.listdir("/run/pyrunc")) if os.path.isdir("/run/pyrunc") else set()
    assert after <= state_before
    with open("/proc/self/mountinfo") as f:
        assert "pyrunc-example." not in f.read()


PROCESS_SCRIPT = """
import os, sys, pyrunc
root, bundle, shared, own = sys.argv[1:5]
rt = pyrunc.Runtime(root)
null = os.open("/dev/null", os.O_RDWR)   # not our stdout: the container outlives us
sys.stdin.readline()                      # the start line: both processes go at once
try:
    rt.create(shared, bundle, stdin=null, stdout=null, stderr=null)
    print("created")
except pyrunc.ContainerExists:
    print("exists")
with rt.run(own, bundle, stdin=null, stdout=null, stderr=null) as c:
    print(c.state().status)
"""


def test_two_programs_share_a_root(rt, bundle_factory, tmp_path):
    """Two processes using the API on one root: one id raced (one wins), and each runs
    its own container meanwhile."""
    script = tmp_path / "prog.py"
    script.write_text(PROCESS_SCRIPT)
    shared = harness.new_id("shared")
    procs = [subprocess.Popen([sys.executable, str(script), rt.root,
                               str(bundle_factory(args=["/probe", "sleep", "60"])), shared, harness.new_id("own")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate(timeout=60) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        assert sorted(o[0] for o in outs) == ["created\nrunning\n", "exists\nrunning\n"], outs
        assert [s.id for s in rt.list()] == [shared] and rt.get(shared).state().status == "created"
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        api.Container(rt, shared).delete(force=True)
    assert os.listdir(rt.root) == []
