"""Load: many pyrunc commands at once on one container, and many containers in a row.

50 creates racing for one id, every verb racing every other on one running container
(delete --force included), and 200 containers created, started and deleted 8 at a
time.  Each test checks that the race really happened (the calls overlapped) and that
nothing was left: no process, mount, cgroup or state dir.

Containers' inits are reparented to the pytest process (a child subreaper); they are
reaped with ``reap_later`` as they die, as a containerd shim would.
"""
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import harness

pytestmark = pytest.mark.integration

SLEEP = ["/probe", "sleep", "600"]
LIVE = ("running", "paused", "stopped")      # what a started container may read as in a race


def _waitpid(pid, into=None):
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return
    if into is not None:
        into[pid] = status


def reap_later(pid, into=None):
    """Collect `pid` (a container init, our child since its runtime exited) the moment it
    dies; its wait status goes to into[pid]."""
    t = threading.Thread(target=_waitpid, args=(pid, into), daemon=True, name=f"reap-{pid}")
    t.start()
    return t


def show(r):
    argv = " ".join(map(str, r.args[3:]))
    return f"`{argv}`: exit {r.returncode}\nstdout: {r.stdout!r}\nstderr: {r.stderr!r}"


def one_error_line(r, *wordings):
    """Exit 1 and one stderr line holding one of runc's `wordings`; no Python error."""
    lines = r.stderr.strip().splitlines()
    return (r.returncode == 1 and len(lines) == 1 and "internal error" not in r.stderr
            and "Traceback" not in r.stderr and any(w in lines[0] for w in wordings))


def overlapping(a, b):
    """Two (start, end) intervals share a moment."""
    return a[0] < b[1] and b[0] < a[1]


# ---- one id, 50 creates ----

def test_50_racing_creates_of_one_id(pyrunc, bundle_factory, tmp_path):
    """Exactly one create wins; 49 are told, in one line, that the id exists; the winner is
    intact (its init, cgroups and state) and works."""
    n = 50
    bundle = bundle_factory(args=SLEEP)
    cid = harness.new_id("race50")
    io = tmp_path / "race-io"
    io.mkdir()
    before = harness.snapshot(tmp_path, [pyrunc.root])
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait(30)
        t0 = time.monotonic()
        r = pyrunc.cmd("create", "--bundle", bundle, "--pid-file", io / f"{i}.pid", cid,
                       io=(io / f"{i}.out", io / f"{i}.err"), timeout=60)
        return r, (t0, time.monotonic())

    with ThreadPoolExecutor(n) as ex:
        results = list(ex.map(one, range(n)))
    winners = [i for i, (r, _) in enumerate(results) if r.returncode == 0]
    assert len(winners) == 1, "winners: " + "\n".join(show(results[i][0]) for i in winners)
    win = winners[0]
    pid = int((io / f"{win}.pid").read_text())
    reap_later(pid)
    for i, (r, _) in enumerate(results):
        if i != win:
            assert one_error_line(r, "container with given ID already exists"), show(r)
            assert r.stdout == ""
            assert not (io / f"{i}.pid").exists(), f"loser {i} wrote a pid file"
    # evidence of a race: losers ran while the winner was creating
    racing = [i for i, (_, span) in enumerate(results) if i != win and overlapping(span, results[win][1])]
    assert racing, "no loser ran while the winner created: the creates did not race"

    # the winner is whole: one init, in its cgroups, with its state
    new = harness.leaks(before, harness.snapshot(tmp_path, [pyrunc.root]))
    assert {p.pid for p in new.procs} == {pid}, f"processes other than the init {pid}: {new.procs}"
    assert new.states == {str(pyrunc.root / cid)}
    st = harness.read_state_file(pyrunc, cid)
    cgroups = set(st["cgroupPaths"].values())
    assert cgroups and cgroups == new.cgroups, (cgroups, new.cgroups)
    for d in cgroups:
        procs = (harness.Path(d) / "cgroup.procs").read_text().split()
        assert str(pid) in procs, f"init {pid} is not in {d} (a loser tore it down?)"
    assert (pyrunc.root / cid / "exec.fifo").exists()
    st = pyrunc.state(cid)
    assert (st["status"], st["pid"]) == ("created", pid)

    r = pyrunc.start(cid)
    assert r.returncode == 0, show(r)
    st = pyrunc.state(cid)
    assert (st["status"], st["pid"]) == ("running", pid)
    r = pyrunc.delete(cid, force=True)
    assert r.returncode == 0, show(r)
    r = pyrunc.cmd("state", cid)
    assert one_error_line(r, "container does not exist"), show(r)
    harness.wait_for(lambda: not any(harness.leaks(before, harness.snapshot(tmp_path, [pyrunc.root]))),
                     10, "the winner to be gone without a trace")


# ---- every verb at once on one container ----

def _verbs(cid):
    """(name, argv, runc's error lines it may answer) for the hammering threads: mostly
    readers, which do not take the container lock and so see every moment of a delete."""
    gone = "container does not exist"
    state = ("state", ("state", cid), None)
    return [
        state,
        ("list", ("list", "--format", "json"), None),
        ("kill", ("kill", cid, "USR1"), (gone, "container not running")),
        state,
        ("list", ("list", "-q"), None),
        ("kill-all", ("kill", "--all", cid, "USR2"), (gone, "container not running")),
        state,
        ("delete", ("delete", cid), (gone, "is not stopped")),
        ("list", ("list", "--format", "json"), None),
    ]


def test_racing_verbs_on_one_running_container(pyrunc, bundle_factory, tmp_path):
    """8 threads run state/list/kill/kill --all/delete on one container while a
    `delete --force` removes it: every call returns in time with a valid answer or one of
    runc's error lines, and no state read ever looks broken.

    `kill --all` freezes the cgroup while it signals (runc does the same), so "paused"
    is a true answer of a racing `state`.

    pyrunc only: runc 1.1.5 fails this itself now and then (a `kill` racing the delete
    says "unable to signal init: os: process already finished"; a `kill --all` prints
    openat2 warnings and "lstat <cgroup>: no such file or directory")."""
    rounds, threads, before_delete, after_delete = 6, 8, 0.25, 0.15
    bundle = bundle_factory(args=["/probe", "signals"])
    before = harness.snapshot(tmp_path, [pyrunc.root])
    problems = []
    totals = {}
    for rnd in range(rounds):
        cid = harness.new_id("verbs")
        r = pyrunc.create(cid, bundle)
        assert r.returncode == 0, show(r)
        st0 = pyrunc.state(cid)
        pid = st0["pid"]
        reap_later(pid)
        assert pyrunc.start(cid).returncode == 0
        harness.wait_for(lambda: "ready" in pyrunc.output(cid)[0], what="the probe to be ready")
        st0 = pyrunc.state(cid)
        verbs = _verbs(cid)
        stop = threading.Event()
        calls = []             # (verb, span, result)

        def judge(verb, r, expect_errors):
            """None if `r` is an acceptable answer of `verb`, else why not."""
            if "Traceback" in r.stderr or "internal error" in r.stderr:
                return "a Python error"
            if verb == "state":
                if r.returncode != 0:
                    return None if one_error_line(r, "container does not exist") else "bad error"
                st = json.loads(r.stdout)
                if st["status"] not in LIVE:
                    return f"status {st['status']}"
                want = dict(st0, status=st["status"], pid=0 if st["status"] == "stopped" else pid)
                return None if st == want else f"state reads as broken: {st}"
            if verb == "list":
                if r.returncode != 0:
                    return "list failed"
                if r.args[-1] == "-q":
                    return None if r.stdout in ("", cid + "\n") else "bad list -q"
                rows = json.loads(r.stdout) or []
                for row in rows:
                    if (row["id"], row["bundle"], row["created"]) != (cid, st0["bundle"], st0["created"]) \
                            or row["status"] not in LIVE:
                        return f"list row reads as broken: {row}"
                return None if len(rows) <= 1 else "several rows"
            if r.returncode == 0:
                return None if not r.stdout else "output on stdout"
            return None if one_error_line(r, *expect_errors) else "not one of runc's error lines"

        def hammer(k):
            n = k
            while not stop.is_set():
                verb, argv, expect = verbs[n % len(verbs)]
                n += 1
                t0 = time.monotonic()
                try:
                    r = pyrunc.cmd(*argv, timeout=20)
                except harness.HarnessError as e:          # a hang
                    problems.append((rnd, verb, str(e)))
                    return
                calls.append((verb, (t0, time.monotonic()), r))
                why = judge(verb, r, expect)
                if why:
                    problems.append((rnd, verb, why, show(r)))

        deletes = []

        def force_delete():
            t0 = time.monotonic()
            r = pyrunc.cmd("delete", "--force", cid, timeout=20)
            deletes.append(((t0, time.monotonic()), r))

        with ThreadPoolExecutor(threads + 1) as ex:
            workers = [ex.submit(hammer, k) for k in range(threads)]
            time.sleep(before_delete)
            ex.submit(force_delete).result()
            time.sleep(after_delete)
            stop.set()
            for f in workers:
                f.result()

        for span, r in deletes:
            if r.returncode != 0:
                problems.append((rnd, "delete --force", "failed", show(r)))
        # evidence: calls overlapped the deletes, saw the container run and saw it gone
        d_span = deletes[0][0]
        during = [v for v, span, _ in calls if overlapping(span, d_span)]
        states = [json.loads(r.stdout)["status"] if r.returncode == 0 else "gone"
                  for v, _, r in calls if v == "state"]
        assert during, f"round {rnd}: no call ran while delete --force did"
        assert "running" in states and "gone" in states, f"round {rnd}: states seen {set(states)}"
        assert any(v == "kill" and r.returncode == 0 for v, _, r in calls), "no kill got through"
        assert "signal: 10" in pyrunc.output(cid)[0], "no SIGUSR1 reached the container"
        r = pyrunc.cmd("state", cid)
        assert one_error_line(r, "container does not exist"), show(r)
        for v, _, _ in calls:
            totals[v] = totals.get(v, 0) + 1
        harness.wait_for(lambda: harness.proc_stat(pid) is None, 10, f"init {pid} to be reaped")

    assert not problems, f"{len(problems)} bad answers (calls: {totals}):\n" + \
        "\n".join(map(str, problems[:20]))
    leaked = harness.leaks(before, harness.snapshot(tmp_path, [pyrunc.root]))
    assert not any(leaked), harness.describe(leaked)


def test_racing_force_deletes_all_succeed(runtime, bundle_factory, tmp_path):
    """8 `delete --force` of one running container at once all exit 0, as runc's do: a forced
    delete of a container that is (by now) gone succeeds."""
    n = 8
    before = harness.snapshot(tmp_path, [runtime.root])
    for rnd in range(3):
        cid = harness.new_id("fdel")
        r = runtime.create(cid, bundle_factory(args=SLEEP))
        assert r.returncode == 0, show(r)
        pid = runtime.state(cid)["pid"]
        reap_later(pid)
        assert runtime.start(cid).returncode == 0
        barrier = threading.Barrier(n)

        def one(_):
            barrier.wait(30)
            t0 = time.monotonic()
            r = runtime.cmd("delete", "--force", cid, timeout=30)
            return r, (t0, time.monotonic())
        with ThreadPoolExecutor(n) as ex:
            results = list(ex.map(one, range(n)))
        spans = [span for _, span in results]
        assert any(overlapping(a, b) for i, a in enumerate(spans) for b in spans[i + 1:]), \
            "the deletes did not overlap"
        bad = [show(r) for r, _ in results if r.returncode != 0 or r.stderr]
        assert not bad, f"round {rnd}: {len(bad)} of {n} racing `delete --force` failed:\n" + "\n".join(bad)
        r = runtime.cmd("state", cid)
        assert one_error_line(r, "container does not exist"), show(r)
        harness.wait_for(lambda: harness.proc_stat(pid) is None, 10, f"init {pid} to be killed and reaped")
    leaked = harness.leaks(before, harness.snapshot(tmp_path, [runtime.root]))
    assert not any(leaked), harness.describe(leaked)


# ---- 200 containers ----

def test_200_containers_8_at_a_time(pyrunc, bundle_factory, tmp_path):
    """create, start, wait, delete 200 containers running `/probe exit 7`, 8 at a time:
    every one runs its process (exit status 7) and nothing at all is left."""
    total, width, budget = 200, 8, 90
    bundle = bundle_factory(args=["/probe", "exit", "7"])
    piddir = tmp_path / "pids"
    piddir.mkdir()
    before = harness.snapshot(tmp_path, [pyrunc.root])
    statuses = {}
    ids = []
    peak = [0]
    lock = threading.Lock()

    def one(i):
        cid = harness.new_id("load")
        with lock:
            ids.append(cid)
        pidfile = piddir / f"{i}.pid"
        r = pyrunc.create(cid, bundle, "--pid-file", pidfile)
        if r.returncode != 0:
            return cid, "create", show(r)
        pid = int(pidfile.read_text())
        waiter = reap_later(pid, statuses)
        with lock:
            peak[0] = max(peak[0], len(pyrunc.containers()))
        r = pyrunc.start(cid)
        if r.returncode != 0:
            pyrunc.delete(cid, force=True)
            return cid, "start", show(r)
        waiter.join(20)
        if pid not in statuses:
            pyrunc.delete(cid, force=True)
            return cid, "wait", f"init {pid} did not exit"
        r = pyrunc.delete(cid)
        if r.returncode != 0:
            return cid, "delete", show(r)
        return cid, None, statuses[pid]

    t0 = time.monotonic()
    with ThreadPoolExecutor(width) as ex:
        results = list(ex.map(one, range(total)))
    elapsed = time.monotonic() - t0

    failed = [res for res in results if res[1] is not None]
    assert not failed, f"{len(failed)} of {total} failed:\n" + "\n".join(map(str, failed[:10]))
    codes = [os.waitstatus_to_exitcode(res[2]) for res in results]
    assert codes == [7] * total, f"exit codes other than 7: {sorted(set(codes))}"
    assert len(set(ids)) == total
    assert peak[0] >= 2, f"never more than {peak[0]} container at a time"

    after = harness.snapshot(tmp_path, [pyrunc.root], names=set(ids))
    counts = {k: (len(getattr(before, k)), len(getattr(after, k))) for k in before._fields}
    leaked = harness.leaks(before, after)
    assert not any(leaked), f"before/after counts {counts}; left:\n" + harness.describe(leaked)
    assert not pyrunc.containers()
    assert elapsed < budget, f"{total} containers took {elapsed:.1f}s (budget {budget}s)"
    print(f"\n{total} containers, {width} at a time: {elapsed:.1f}s, peak {peak[0]} state dirs, "
          f"counts before/after {counts}")
