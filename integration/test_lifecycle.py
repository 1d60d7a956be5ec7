"""The container lifecycle through the command line, under runc and pyrunc alike.

create/start/kill/delete and the statuses between them, the text of `state`
and `list`, signals, `run` in its three shapes, and many callers at once.
Where the assertion is the same for both runtimes the test is parametrized
with the `runtime` fixture, so runc proves the test before it judges pyrunc;
where the output must match runc's, the test runs both and compares the text.

Containers' inits are reparented to the pytest process (a child subreaper,
like containerd's shim or conmon).  A caller of that kind reaps its children
as they exit, and runc cannot remove a cgroup that still holds an unreaped
process, so tests that kill a container first arrange with ``reap_later``
for its init to be collected when it dies.
"""
import difflib
import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest

import harness

pytestmark = pytest.mark.integration

SLEEP = ["/probe", "sleep", "600"]
STATE_KEYS = ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"]
# runc prints `created` with Go's RFC3339Nano: UTC, "Z", fraction without trailing zeros
RFC3339NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$")


# ---- helpers ----

def msg_of(stderr):
    """The msg="..." of runc's text log line (or the whole stderr if it has another shape)."""
    m = re.search(r'level=error msg="((?:[^"\\]|\\.)*)"', stderr)
    return m.group(1).replace('\\"', '"') if m else stderr.strip()


def assert_fails(r, wording):
    assert r.returncode == 1, f"exit {r.returncode}, expected 1\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert wording in r.stderr, f"expected {wording!r} in stderr, got {r.stderr!r}"


def assert_same_text(ours, runcs, what):
    """pyrunc's text equals runc's; on failure show a diff with every character visible."""
    if ours != runcs:
        diff = difflib.unified_diff([repr(x) + "\n" for x in runcs.splitlines(True)],
                                    [repr(x) + "\n" for x in ours.splitlines(True)], "runc", "pyrunc")
        raise AssertionError(f"{what} differs from runc's:\n{''.join(diff)}")


def assert_created_time(value):
    assert RFC3339NANO.match(value), f"`created` {value!r} is not Go's RFC3339Nano in UTC"
    when = datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    assert abs(when.timestamp() - time.time()) < 300, f"`created` {value!r} is not about now"


def create(rt, bundle, tag="c", *extra):
    cid = harness.new_id(tag)
    r = rt.create(cid, bundle, *extra)
    assert r.returncode == 0, f"{rt.name} create: exit {r.returncode}\n{r.stderr}"
    return cid


def started(rt, bundle, tag="c"):
    """create + start a container; its init is reaped when it dies.  Returns (id, pid)."""
    cid = create(rt, bundle, tag)
    pid = rt.state(cid)["pid"]
    harness.reap_later(pid)
    r = rt.start(cid)
    assert r.returncode == 0, f"{rt.name} start: exit {r.returncode}\n{r.stderr}"
    return cid, pid


def exe_is(pid, path):
    """True if /proc/PID/exe is the file at `path` (same device and inode)."""
    try:
        a = os.stat(f"/proc/{pid}/exe")
    except OSError:
        return False
    b = os.stat(path)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def cmdline(pid):
    return open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[:-1]


def force_delete(rt, cid):
    r = rt.delete(cid, force=True)
    assert r.returncode == 0, f"{rt.name} delete --force: exit {r.returncode}\n{r.stderr}"


def gone(rt, cid):
    r = rt.cmd("state", cid)
    assert_fails(r, "container does not exist")
    assert cid not in rt.containers()


# ---- create / start / kill / delete ----

def test_create_parks_the_init_and_start_execs_the_process(runtime, bundle_factory, tmp_path):
    bundle = bundle_factory(args=SLEEP)
    probe = bundle / "rootfs" / "probe"
    piddir = tmp_path / "piddir"
    piddir.mkdir()
    pidfile = piddir / "init.pid"
    pidfile.write_text("123456789012345\n")          # longer than any pid: a write in place would show
    old_inode = pidfile.stat().st_ino

    cid = create(runtime, bundle, "park", "--pid-file", pidfile)
    text = pidfile.read_text()
    assert re.fullmatch(r"[1-9][0-9]*", text), f"pid file holds {text!r}: decimal, no newline"
    assert pidfile.stat().st_ino != old_inode, "pid file was rewritten in place, not renamed over"
    assert os.listdir(piddir) == ["init.pid"], "a temporary pid file was left behind"
    pid = int(text)
    harness.reap_later(pid)

    st = runtime.state(cid)
    assert (st["status"], st["pid"], st["id"]) == ("created", pid, cid)
    proc = harness.proc_stat(pid)
    assert proc is not None and proc.state in "SR", f"init {pid} is not a live process: {proc}"
    assert not exe_is(pid, probe), "the init has exec'd the container process before start"
    assert cmdline(pid)[:1] != [b"/probe"]

    r = runtime.start(cid)
    assert r.returncode == 0, r.stderr
    harness.wait_for(lambda: exe_is(pid, probe), what="the init to exec /probe")
    assert cmdline(pid) == [b"/probe", b"sleep", b"600"]
    st = runtime.state(cid)
    assert (st["status"], st["pid"]) == ("running", pid)
    force_delete(runtime, cid)
    gone(runtime, cid)


def _rss_anon_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError(f"no RssAnon in /proc/{pid}/status")


def test_a_created_init_holds_no_copy_of_the_runtime(pyrunc, bundle_factory):
    """pyrunc's init is a fork-like copy of the Python process that cloned it. Once READY is
    sent it copies argv and env out and unmaps the runtime's anonymous memory (csrc/shed.c),
    so that start's wait for the execve excludes tearing that copy down. With a
    startContainer hook nothing is shed (the hooks run between READY and the exec): that
    init shows the size of the copy. Either way the process gets the config's argv and env
    byte for byte, long ones included."""
    args = ["/bin/sh", "-c", "sleep 600; :", "arg0"] + ["%d-%s" % (i, "a" * i) for i in range(0, 300, 7)]
    env = ["PATH=/bin:/usr/bin", "HOME=/root"] + ["LONG_%d=%s" % (i, "v" * i) for i in range(0, 400, 9)]
    bundles = {"shed": bundle_factory(args=args, process={"env": env}),
               "hooked": bundle_factory(args=args, process={"env": env},
                                        hooks={"startContainer": [{"path": "/bin/true"}]})}
    anon, cids = {}, []
    try:
        for name, bundle in bundles.items():
            cid = create(pyrunc, bundle, name)
            cids.append(cid)
            pid = pyrunc.state(cid)["pid"]
            harness.reap_later(pid)
            # create returns at READY; the init then sheds and blocks opening the fifo
            harness.wait_for(lambda: harness.proc_stat(pid).state == "S", what=f"the {name} init to block")
            anon[name] = _rss_anon_kib(pid)
            r = pyrunc.start(cid)
            assert r.returncode == 0, r.stderr
            harness.wait_for(lambda: cmdline(pid)[:1] == [b"/bin/sh"], what="the exec")
            assert cmdline(pid) == [a.encode() for a in args], name
            with open(f"/proc/{pid}/environ", "rb") as f:
                assert f.read().split(b"\0")[:-1] == [e.encode() for e in env], name
    finally:
        for cid in cids:
            force_delete(pyrunc, cid)
    assert anon["shed"] * 2 < anon["hooked"], f"anonymous memory of the parked init (KiB): {anon}"


@pytest.mark.parametrize("how", ["create", "run-detach"])
def test_init_is_a_child_of_the_caller(runtime, bundle_factory, tmp_path, how):
    """Once create (or run -d) has returned, the container's init is the caller's child: the
    runtime's own processes are gone and the init was reparented to us, the subreaper, as a
    shim or conmon relies on to wait() for it.  No other process of the runtime stays."""
    before = harness.snapshot(tmp_path, [runtime.root])
    cid = harness.new_id("ppid")
    bundle = bundle_factory(args=SLEEP)
    r = runtime.create(cid, bundle) if how == "create" else runtime.run(cid, bundle, "-d")
    assert r.returncode == 0, f"{runtime.name} {how}: exit {r.returncode}\n{r.stderr}"
    pid = runtime.state(cid)["pid"]
    harness.reap_later(pid)
    proc = harness.proc_stat(pid)
    assert proc is not None and proc.state in "SR", f"init {pid}: {proc}"
    assert proc.ppid == os.getpid(), \
        f"{runtime.name} {how}: init {pid}'s parent is {proc.ppid} " \
        f"({(harness.proc_stat(proc.ppid) or proc).comm}), not the caller {os.getpid()}"
    during = harness.leaks(before, harness.snapshot(tmp_path, [runtime.root]))
    assert {p.pid for p in during.procs} == {pid}, harness.describe(during)
    force_delete(runtime, cid)
    gone(runtime, cid)


def test_start_twice_is_refused(runtime, bundle_factory):
    cid, pid = started(runtime, bundle_factory(args=SLEEP), "twice")
    assert_fails(runtime.start(cid), "cannot start an already running container")
    assert runtime.state(cid)["status"] == "running"
    assert runtime.state(cid)["pid"] == pid
    force_delete(runtime, cid)


def test_kill_stops_and_start_of_a_stopped_container_is_refused(runtime, bundle_factory):
    cid, pid = started(runtime, bundle_factory(args=SLEEP), "stop")
    assert runtime.kill(cid, "KILL").returncode == 0
    st = runtime.wait_status(cid, "stopped")
    assert st["pid"] == 0
    assert_fails(runtime.start(cid), "cannot start a container that has stopped")
    assert runtime.delete(cid).returncode == 0
    gone(runtime, cid)


def test_delete_of_a_running_container_needs_force(runtime, bundle_factory):
    cid, pid = started(runtime, bundle_factory(args=SLEEP), "nodel")
    r = runtime.delete(cid)
    assert_fails(r, "is not stopped")
    assert runtime.state(cid)["status"] == "running"
    assert harness.proc_stat(pid) is not None
    force_delete(runtime, cid)
    gone(runtime, cid)
    harness.wait_for(lambda: (p := harness.proc_stat(pid)) is None or p.state == "Z",
                     what=f"delete --force to kill init {pid}")


def test_delete_of_a_created_container_needs_no_force(runtime, bundle_factory):
    cid = create(runtime, bundle_factory(args=SLEEP), "delcr")
    pid = runtime.state(cid)["pid"]
    harness.reap_later(pid)
    r = runtime.delete(cid)
    assert r.returncode == 0, r.stderr
    gone(runtime, cid)
    harness.wait_for(lambda: (p := harness.proc_stat(pid)) is None or p.state == "Z",
                     what=f"delete to kill the parked init {pid}")


def test_id_is_reusable_after_delete(runtime, bundle_factory):
    bundle = bundle_factory(args=SLEEP)
    cid, first = started(runtime, bundle, "reuse")
    force_delete(runtime, cid)
    gone(runtime, cid)
    r = runtime.create(cid, bundle)
    assert r.returncode == 0, r.stderr
    st = runtime.state(cid)
    assert st["status"] == "created" and st["pid"] not in (0, first)
    harness.reap_later(st["pid"])
    assert runtime.delete(cid).returncode == 0
    gone(runtime, cid)


def test_delete_force_of_a_zombie_init(runtime, bundle_factory, tmp_path):
    """The init exited on its own and nobody reaped it yet: stopped, and delete --force cleans up."""
    cid = harness.new_id("zombie")
    pidfile = tmp_path / "zombie.pid"
    r = runtime.run(cid, bundle_factory(args=["/probe", "exit", "3"]), "--detach", "--pid-file", pidfile)
    assert r.returncode == 0, r.stderr
    pid = int(pidfile.read_text())
    harness.wait_for(lambda: (p := harness.proc_stat(pid)) and p.state == "Z",
                     what=f"init {pid} to exit (and stay unreaped)")
    st = runtime.state(cid)
    assert (st["status"], st["pid"]) == ("stopped", 0)
    force_delete(runtime, cid)
    gone(runtime, cid)
    assert runtime.list("json") == []


# ---- state ----

def normalize_state(text, cid, bundle):
    text = text.replace(str(bundle), "BUNDLE")
    text = re.sub(r'"ociVersion": "[^"]*"', '"ociVersion": "V"', text)
    text = text.replace(f'"id": "{cid}"', '"id": "ID"')
    text = re.sub(r'"pid": [1-9][0-9]*', '"pid": PID', text)
    return re.sub(r'"created": "[^"]*"', '"created": "T"', text)


def test_state_text_is_runcs(runc, pyrunc, bundle_factory):
    """`state` of a created, a running and a stopped container prints runc's text byte for byte."""
    texts = {}
    for rt in (runc, pyrunc):
        bundle = bundle_factory(args=SLEEP)
        cid = create(rt, bundle, "stext")
        pid = rt.state(cid)["pid"]
        harness.reap_later(pid)
        seen = [rt.cmd("state", cid, check=True).stdout]
        assert rt.start(cid).returncode == 0
        seen.append(rt.cmd("state", cid, check=True).stdout)
        assert rt.kill(cid, "KILL").returncode == 0
        rt.wait_status(cid, "stopped")
        seen.append(rt.cmd("state", cid, check=True).stdout)
        assert rt.delete(cid).returncode == 0
        for text in seen:
            st = json.loads(text)
            assert list(st) == STATE_KEYS
            assert st["owner"] == ""
            assert_created_time(st["created"])
            assert not text.endswith("\n"), f"{rt.name} state ends with a newline"
        texts[rt.name] = [normalize_state(t, cid, bundle) for t in seen]
    assert [re.search(r'"status": "(\w+)"', t).group(1) for t in texts["runc"]] == \
        ["created", "running", "stopped"]
    for state, ours, runcs in zip(("created", "running", "stopped"), texts["pyrunc"], texts["runc"]):
        assert_same_text(ours, runcs, f"`state` of a {state} container")


def test_state_annotations_are_runcs(runc, pyrunc, bundle_factory):
    """Annotations appear between `created` and `owner`, keys sorted as Go prints a map."""
    annotations = {"org.example.zeta": "last", "com.example.alpha": "first", "io.x/y": 'a "q" b',
                   "html": "<b>&amp;</b>", "utf8": "caf\u00e9 \u2713"}
    texts = {}
    for rt in (runc, pyrunc):
        bundle = bundle_factory(args=SLEEP, annotations=annotations)
        cid = create(rt, bundle, "annot")
        harness.reap_later(rt.state(cid)["pid"])
        text = rt.cmd("state", cid, check=True).stdout
        listed = rt.cmd("list", "--format", "json", check=True).stdout
        force_delete(rt, cid)
        st = json.loads(text)
        assert st["annotations"] == annotations
        assert list(st) == STATE_KEYS[:7] + ["annotations", "owner"]
        texts[rt.name] = (normalize_state(text, cid, bundle), listed.replace(cid, "ID")
                          .replace(str(bundle), "BUNDLE"))
    assert_same_text(texts["pyrunc"][0], texts["runc"][0], "`state` with annotations")
    ann = re.compile(r'"annotations":\{.*?\}')
    assert_same_text(ann.search(texts["pyrunc"][1]).group(), ann.search(texts["runc"][1]).group(),
                     "annotations in `list -f json`")


def test_state_has_no_annotations_key_when_there_are_none(runtime, bundle_factory):
    bundle = bundle_factory(args=SLEEP, annotations={})
    cid = create(runtime, bundle, "noann")
    harness.reap_later(runtime.state(cid)["pid"])
    text = runtime.cmd("state", cid, check=True).stdout
    force_delete(runtime, cid)
    assert '"annotations"' not in text
    st = json.loads(text)
    assert list(st) == STATE_KEYS
    assert st["bundle"] == str(bundle) and st["rootfs"] == str(bundle / "rootfs")


# ---- list ----

def tabwriter(rows, minwidth=12, padding=3):
    """Go's text/tabwriter as runc's list sets it up: every cell but a line's last is padded
    to max(minwidth, widest cell of its column + padding)."""
    widths = [max(minwidth, max(len(r[i]) for r in rows) + padding) for i in range(len(rows[0]) - 1)]
    return "".join("".join(c.ljust(w) for c, w in zip(r, widths)) + r[-1] + "\n" for r in rows)


LIST_HEADER = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]


JSON_FORMS = (["--format=json"], ["-f", "json"], ["--format", "json"], ["-format", "json"])
TABLE_FORMS = ([], ["-f", "table"], ["--format=table"], ["--format", "table"])
QUIET_FORMS = (["-q"], ["--quiet"], ["-quiet"])


def check_list(rt, expect_ids, all_forms=False):
    """`list` in json, table and quiet forms agrees with `expect_ids` and with runc's layout."""
    ids = sorted(expect_ids)
    for form in JSON_FORMS if all_forms else JSON_FORMS[:1]:
        r = rt.cmd("list", *form, check=True)
        assert r.stdout.endswith("\n") and r.stdout.count("\n") == 1, f"{form}: not one line: {r.stdout!r}"
        if not ids:
            assert r.stdout == "null\n", f"{form}: {r.stdout!r}"
    items = json.loads(r.stdout) or []
    if items:
        assert r.stdout[:-1] == json.dumps(items, separators=(",", ":"), ensure_ascii=False)
    assert [c["id"] for c in items] == ids
    for c in items:
        assert list(c) == STATE_KEYS, f"{rt.name} list json keys {list(c)}"
        assert c["owner"] == "root"
        assert_created_time(c["created"])
    table = tabwriter([LIST_HEADER] + [[c["id"], str(c["pid"]), c["status"], c["bundle"],
                                        c["created"], c["owner"]] for c in items])
    for form in TABLE_FORMS if all_forms else TABLE_FORMS[:1]:
        assert rt.cmd("list", *form, check=True).stdout == table, f"list {form}"
    for form in QUIET_FORMS if all_forms else QUIET_FORMS[:1]:
        assert rt.cmd("list", *form, check=True).stdout == "".join(i + "\n" for i in ids)
    return items


def test_list_with_0_1_and_3_containers(runtime, bundle_factory):
    assert check_list(runtime, [], all_forms=True) == []
    assert runtime.cmd("list", check=True).stdout == \
        "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
    short = bundle_factory(args=SLEEP)
    ids = [create(runtime, short, "list-with-a-long-name")]
    harness.reap_later(runtime.state(ids[0])["pid"])
    assert [c["status"] for c in check_list(runtime, ids)] == ["created"]

    running, pid = started(runtime, bundle_factory(runtime.root.parent / ("b" * 40), args=SLEEP), "l")
    stopped, _ = started(runtime, bundle_factory(args=["/probe", "exit", "0"]), "li")
    runtime.wait_status(stopped, "stopped")
    ids += [running, stopped]
    by_id = {c["id"]: c for c in check_list(runtime, ids, all_forms=True)}
    assert [by_id[i]["status"] for i in ids] == ["created", "running", "stopped"]
    assert by_id[running]["pid"] == pid and by_id[stopped]["pid"] == 0
    for cid in ids:
        force_delete(runtime, cid)
    check_list(runtime, [])


def test_list_json_text_is_runcs(runc, pyrunc, bundle_factory):
    lines = {}
    for rt in (runc, pyrunc):
        bundle = bundle_factory(args=SLEEP)
        cid = create(rt, bundle, "ljson")
        harness.reap_later(rt.state(cid)["pid"])
        text = rt.cmd("list", "-f", "json", check=True).stdout
        force_delete(rt, cid)
        text = text.replace(cid, "ID").replace(str(bundle), "BUNDLE")
        text = re.sub(r'"pid":\d+', '"pid":1', re.sub(r'"created":"[^"]*"', '"created":"T"', text))
        lines[rt.name] = re.sub(r'"ociVersion":"[^"]*"', '"ociVersion":"V"', text)
    assert_same_text(lines["pyrunc"], lines["runc"], "`list -f json`")


# ---- kill ----

def test_kill_signal_names_and_numbers(runtime, bundle_factory):
    cid, pid = started(runtime, bundle_factory(args=["/probe", "signals"]), "sig")
    harness.wait_for(lambda: "ready" in runtime.output(cid)[0], what="the probe to be ready")
    sent = [("USR1", 10), ("SIGUSR2", 12), ("usr1", 10), ("sigusr2", 12), ("1", 1), ("HUP", 1),
            ("SIGWINCH", 28), ("10", 10)]
    expect = "ready\n"
    for sig, num in sent:
        r = runtime.kill(cid, sig)
        assert r.returncode == 0, f"kill {sig}: {r.stderr}"
        expect += f"signal: {num}\n"
        harness.wait_for(lambda: runtime.output(cid)[0] == expect,
                         what=f"kill {sig} to arrive as {num} (got {runtime.output(cid)[0]!r})")
    r = runtime.cmd("kill", cid)                 # no signal: SIGTERM, the probe then exits
    assert r.returncode == 0, r.stderr
    runtime.wait_status(cid, "stopped")
    assert runtime.output(cid)[0] == expect + "signal: 15\n"
    assert runtime.delete(cid).returncode == 0


def test_kill_forms_of_sigkill(runtime, bundle_factory):
    bundle = bundle_factory(args=SLEEP)
    forms = ["9", "KILL", "SIGKILL", "kill", "sigkill"]
    containers = [started(runtime, bundle, "kill9") for _ in forms]
    for (cid, _), sig in zip(containers, forms):
        r = runtime.kill(cid, sig)
        assert r.returncode == 0, f"kill {sig}: {r.stderr}"
    for (cid, _), sig in zip(containers, forms):
        st = runtime.wait_status(cid, "stopped")
        assert st["pid"] == 0, f"kill {sig}"
        assert runtime.delete(cid).returncode == 0


def test_kill_unknown_signal(runtime, bundle_factory):
    cid = create(runtime, bundle_factory(args=SLEEP), "badsig")
    harness.reap_later(runtime.state(cid)["pid"])
    for sig in ("FOO", "SIGFOO", "99999"):
        r = runtime.kill(cid, sig)
        assert r.returncode == 1, f"kill {sig}: exit {r.returncode}"
        if sig == "FOO":
            assert msg_of(r.stderr) == 'unknown signal "FOO"', r.stderr
    assert runtime.state(cid)["status"] == "created"
    force_delete(runtime, cid)


def test_kill_of_a_created_container(runtime, bundle_factory):
    cid = create(runtime, bundle_factory(args=SLEEP), "killcr")
    pid = runtime.state(cid)["pid"]
    harness.reap_later(pid)
    assert runtime.kill(cid, "KILL").returncode == 0
    assert runtime.wait_status(cid, "stopped")["pid"] == 0
    assert_fails(runtime.start(cid), "cannot start a container that has stopped")
    assert runtime.delete(cid).returncode == 0
    gone(runtime, cid)


def test_kill_of_a_stopped_container(runtime, bundle_factory):
    cid, pid = started(runtime, bundle_factory(args=["/probe", "exit", "0"]), "killst")
    runtime.wait_status(cid, "stopped")
    r = runtime.kill(cid, "KILL")
    assert_fails(r, "container not running")
    assert msg_of(r.stderr) == "container not running"
    r = runtime.kill(cid, "KILL", all=True)
    assert r.returncode == 0, f"kill --all of a stopped container: exit {r.returncode}\n{r.stderr}"
    assert runtime.delete(cid).returncode == 0


def test_kill_all_of_a_stopped_container_reaches_what_is_left(runtime, bundle_factory):
    """A container in another's pid namespace (a pod's): its init exits, its child lives on
    (reparented to the namespace's init) in the container's cgroup.  `kill --all` of the
    stopped container signals it, as runc does (containerd's shim kills so after such an
    init exits); the container is stopped all along."""
    owner, owner_pid = started(runtime, bundle_factory(args=SLEEP), "pidns")

    def edit(s):
        s["linux"]["namespaces"] = [n for n in s["linux"]["namespaces"] if n["type"] != "pid"] + [
            {"type": "pid", "path": f"/proc/{owner_pid}/ns/pid"}]
    cid, pid = started(runtime, bundle_factory(args=["sh", "-c", "sleep 100 & exit 0"], edit=edit), "left")
    runtime.wait_status(cid, "stopped")

    def left():
        return {p.pid for p in harness.descendants(owner_pid) if p.comm == "sleep" and p.state != "Z"}
    harness.wait_for(lambda: len(left()) == 1, what="the sleep left behind by the exited init")
    r = runtime.kill(cid, "KILL", all=True)
    assert r.returncode == 0, f"kill --all of a stopped container: exit {r.returncode}\n{r.stderr}"
    harness.wait_for(lambda: not left(), what="kill --all to reach the sleep")
    assert runtime.delete(cid).returncode == 0
    force_delete(runtime, owner)


def test_kill_all_signals_every_process(runtime, bundle_factory):
    """sh is the init (pid 1 ignores an unhandled SIGTERM); only --all reaches its children."""
    cid, pid = started(runtime, bundle_factory(args=["sh", "-c", "sleep 100 & sleep 101 & wait"]), "all")

    def sleepers():
        return {p.pid for p in harness.descendants(pid) if p.comm == "sleep" and p.state != "Z"}
    kids = harness.wait_for(lambda: len(sleepers()) == 2 and sleepers(), what="two sleeps in the container")
    assert runtime.kill(cid, "TERM").returncode == 0
    time.sleep(0.3)
    assert sleepers() == kids and runtime.state(cid)["status"] == "running"

    r = runtime.kill(cid, "TERM", all=True)
    assert r.returncode == 0, r.stderr
    harness.wait_for(lambda: not sleepers(), what="kill --all to reach the sleeps")
    runtime.wait_status(cid, "stopped")          # `wait` returned, so sh exited
    assert runtime.delete(cid).returncode == 0


def test_kill_all_sigkill_leaves_no_process(runtime, bundle_factory):
    cid, pid = started(runtime, bundle_factory(args=["sh", "-c", "sleep 100 & sleep 101 & wait"]), "all9")
    harness.wait_for(lambda: len(harness.descendants(pid)) == 2, what="two sleeps in the container")
    members = harness.descendants(pid) | {harness.proc_stat(pid)}
    assert runtime.kill(cid, "KILL", all=True).returncode == 0
    runtime.wait_status(cid, "stopped")
    harness.wait_for(lambda: all((p := harness.proc_stat(m.pid)) is None or p.state == "Z"
                                 or p.start != m.start for m in members),
                     what="every container process to die")
    assert runtime.delete(cid).returncode == 0


# ---- run ----

def test_run_detach_returns_while_the_container_runs(runtime, bundle_factory, tmp_path):
    cid = harness.new_id("rund")
    pidfile = tmp_path / "run.pid"
    t0 = time.monotonic()
    r = runtime.run(cid, bundle_factory(args=SLEEP), "-d", "--pid-file", pidfile, timeout=20)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 15
    text = pidfile.read_text()
    assert re.fullmatch(r"[1-9][0-9]*", text), f"pid file holds {text!r}"
    harness.reap_later(int(text))
    st = runtime.state(cid)
    assert (st["status"], st["pid"]) == ("running", int(text))
    assert harness.proc_stat(int(text)).state in "SR"
    force_delete(runtime, cid)
    gone(runtime, cid)


def test_run_detach_long_flag(runtime, bundle_factory):
    cid = harness.new_id("rundl")
    r = runtime.run(cid, bundle_factory(args=SLEEP), "--detach")
    assert r.returncode == 0, r.stderr
    st = runtime.state(cid)
    harness.reap_later(st["pid"])
    assert st["status"] == "running"
    force_delete(runtime, cid)


@pytest.mark.parametrize("code", [0, 7, 255])
def test_run_foreground_returns_the_exit_code(runtime, bundle_factory, code):
    cid = harness.new_id("runfg")
    r = runtime.run(cid, bundle_factory(args=["/probe", "exit", str(code)]))
    assert r.returncode == code, r.stderr
    assert r.stderr == ""
    gone(runtime, cid)
    assert runtime.list("json") == []


def test_run_foreground_killed_by_a_signal(runtime, bundle_factory):
    """A process killed by signal N makes `run` exit 128+N, as a shell would report it."""
    cid = harness.new_id("runsig")
    bundle = bundle_factory(args=["sh", "-c", "kill -KILL $$; sleep 10"], linux={"namespaces": [
        {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]})
    r = runtime.run(cid, bundle)
    assert r.returncode == 137, r.stderr
    gone(runtime, cid)


def test_run_keep_keeps_the_stopped_container(runtime, bundle_factory):
    cid = harness.new_id("keep")
    r = runtime.run(cid, bundle_factory(args=["/probe", "exit", "3"]), "--keep")
    assert r.returncode == 3, r.stderr
    listed = runtime.list("json")
    assert [(c["id"], c["status"], c["pid"]) for c in listed] == [(cid, "stopped", 0)]
    assert runtime.state(cid)["status"] == "stopped"
    assert runtime.delete(cid).returncode == 0
    gone(runtime, cid)


# ---- many callers at once ----

def test_parallel_create_of_one_id(pyrunc, bundle_factory, tmp_path):
    """20 creates race for one id: one wins, 19 are told it exists, the winner is intact.

    pyrunc only: runc 1.1.5 checks the state dir with stat() and then MkdirAll()s it, so
    under this race two creates can both succeed and the state is left inconsistent.
    """
    bundle = bundle_factory(args=SLEEP)
    cid = harness.new_id("race")
    io = tmp_path / "race-io"
    io.mkdir()

    def one(i):
        return pyrunc.cmd("create", "--bundle", bundle, "--pid-file", io / f"{i}.pid", cid,
                          io=(io / f"{i}.out", io / f"{i}.err"))
    with ThreadPoolExecutor(20) as ex:
        results = list(ex.map(one, range(20)))
    winners = [i for i, r in enumerate(results) if r.returncode == 0]
    assert len(winners) == 1, [(r.returncode, r.stderr) for r in results]
    for i, r in enumerate(results):
        if i not in winners:
            assert_fails(r, "container with given ID already exists")
            assert len(r.stderr.splitlines()) == 1, r.stderr
            assert not (io / f"{i}.pid").exists()
    st = pyrunc.state(cid)
    assert st["status"] == "created"
    assert st["pid"] == int((io / f"{winners[0]}.pid").read_text())
    harness.reap_later(st["pid"])
    assert harness.proc_stat(st["pid"]).state in "SR"
    assert [c["id"] for c in pyrunc.list("json")] == [cid]
    assert pyrunc.start(cid).returncode == 0
    assert pyrunc.state(cid)["status"] == "running"
    force_delete(pyrunc, cid)
    gone(pyrunc, cid)


def test_state_while_delete_force(runtime, bundle_factory):
    """`state` racing `delete --force` answers the state or "does not exist", nothing else."""
    bundle = bundle_factory(args=SLEEP)
    for _ in range(3):
        cid, pid = started(runtime, bundle, "sdel")
        stop = threading.Event()

        def poll():
            seen = []
            while not stop.is_set():
                r = runtime.cmd("state", cid)
                seen.append(r)
                if r.returncode != 0:
                    break
            return seen
        with ThreadPoolExecutor(6) as ex:
            pollers = [ex.submit(poll) for _ in range(5)]
            time.sleep(0.05)
            deleted = ex.submit(runtime.delete, cid, True)
            r = deleted.result()
            time.sleep(0.05)
            stop.set()
            answers = [a for p in pollers for a in p.result()]
        assert r.returncode == 0, r.stderr
        for a in answers:
            if a.returncode == 0:
                assert json.loads(a.stdout)["status"] in ("running", "stopped"), a.stdout
            else:
                assert_fails(a, "container does not exist")
                assert a.stdout == ""
        gone(runtime, cid)


def test_state_right_after_create_is_created(runtime, bundle_factory, tmp_path):
    """50 quick create/state pairs: every one "created", with the pid-file's pid."""
    bundle = bundle_factory(args=SLEEP)
    for i in range(50):
        cid = harness.new_id("cst")
        pid_file = tmp_path / f"{i}.pid"
        runtime.create(cid, bundle, "--pid-file", pid_file, check=True)
        st = runtime.state(cid)
        assert (st["status"], st["pid"]) == ("created", int(pid_file.read_text())), (i, st)
        harness.reap_later(st["pid"])
        force_delete(runtime, cid)
        gone(runtime, cid)


def test_state_while_create_runs_is_never_stopped(runtime, bundle_factory):
    """`state` polled while `create` runs: "does not exist", creating or created, never
    stopped (pyrunc's state dir used to be visible before it was locked, and read then as a
    create that had died)."""
    import subprocess

    bundle = bundle_factory(args=SLEEP)
    seen = set()
    for _ in range(15):
        cid = harness.new_id("cwin")
        out, err = runtime._io(cid)
        with open(out, "w") as o, open(err, "w") as e:
            creating = subprocess.Popen([runtime.binary, *runtime.global_flags(), "create", "--bundle",
                                         str(bundle), cid], stdin=subprocess.DEVNULL, stdout=o, stderr=e)
        try:
            while creating.poll() is None:
                r = runtime.cmd("state", cid)
                if r.returncode == 0:
                    seen.add(json.loads(r.stdout)["status"])
                else:
                    assert_fails(r, "container does not exist")
                    seen.add("does not exist")
        finally:
            creating.wait(timeout=harness.DEFAULT_TIMEOUT)
        assert creating.returncode == 0, runtime.output(cid)
        st = runtime.state(cid)
        assert st["status"] == "created"
        harness.reap_later(st["pid"])
        force_delete(runtime, cid)
        gone(runtime, cid)
    assert seen <= {"does not exist", "creating", "created"}, seen
