"""OCI hooks (config.json `hooks`) through the `pyrunc` command, next to runc.

Every hook in these tests is a small POSIX sh script (HOOK_SCRIPT) that appends a
record to a log: its tag, argv, the state JSON it read on stdin, its environment
exactly as exec'd (/proc/PID/environ), its namespaces, cwd and executable, and
checks asked for in its arguments (does a path exist, what does `<runtime> state`
say, is the init still alive).  Runtime-namespace hooks (prestart, createRuntime,
poststart, poststop) run the host's /bin/sh (dash); createContainer runs the host's
/bin/sh too, since its path is resolved in the runtime namespace; startContainer
runs the container's /bin/sh (busybox), resolved after pivot_root.  The log dir is
bind-mounted into the container at /hooklog, so the records of all six kinds land
in one file, in the order they ran.

Where runc (Debian's 1.1.5, the reference) and the runtime-spec agree, or the spec
is silent, the test asserts runc's behaviour for both runtimes.  Where runc 1.1.5
breaks a MUST of the runtime-spec's lifecycle, pyrunc follows the spec and the test
asserts runc's known deviation for runc only (SPEC_OVER_RUNC), so that a change of
either side is still caught:

- poststart: runc 1.1.5 runs it at the end of `create` (status "created", before the
  user process exists; opencontainers/runc#1710, #4347, fixed upstream by #5186);
  the spec runs it in `start`, after the user process started (status "running"),
  and a failure stops the container.
- a failing startContainer hook: runc 1.1.5's `start` exits 0 (the error happens
  after the exec fifo handshake and goes to the container's stderr); the spec says
  the runtime MUST generate an error and stop the container.
- a failing poststop hook: runc 1.1.5 logs it at level=error and skips the
  remaining poststop hooks; the spec says log a warning and run the rest.
- `state` while a prestart/createRuntime hook runs: runc 1.1.5 has not saved its
  state yet ("container does not exist"); pyrunc reports "creating".
- a failing poststart hook: the runtime-spec up to 1.2 (pyrunc reports 1.2.0) says log
  a warning, run the remaining hooks and go on: `start` succeeds, as crun's does
  (runc 1.1.5 runs poststart in create and fails it; runtime-spec 1.3 stops the
  container).

Where runc 1.1.5 and crun differ and the spec leaves it open, pyrunc follows crun and
the test runs crun next to it (CRUN_OVER_RUNC):

- the status prestart, createRuntime and createContainer hooks read on stdin: crun's
  "created" (what the runtime-tools validation suite expects), runc 1.1.5's "creating".
- a timeout of 2**63-1 seconds: runc 1.1.5 multiplies it into a time.Duration that
  wraps negative and fails create at once ("timeout of -1.0s"); pyrunc treats any
  timeout past poll(2)'s range as no limit.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import namedtuple
from pathlib import Path

import pytest

import harness

pytestmark = pytest.mark.integration

SLEEP = ["/probe", "sleep", "600"]
KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
RUNTIME_NS = ("prestart", "createRuntime", "poststart", "poststop")
CONTAINER_NS = ("createContainer", "startContainer")
CREATE_KINDS = ("prestart", "createRuntime", "createContainer")
NAMESPACES = ("mnt", "pid", "net", "ipc", "uts")
LOG_IN_CONTAINER = "/hooklog"
LOG_LINE = re.compile(r'^time="[^"]*" level=(\w+) msg="((?:[^"\\]|\\.)*)"$')
INT64_MAX = 2**63 - 1

# The record a hook appends to its log.  Arguments: TAG LOG [CHECK...]; the checks are
# exists=PATH, pidfile=PATH (the init's state letter, or "gone"), rt=BIN root=DIR id=ID
# (the runtime's `state` status, or its error).  /proc/self is read by `read`, a
# builtin, so it is the shell itself, with its pid as the /proc in front of it counts
# (the host's before pivot_root, the container's after).
HOOK_SCRIPT = r"""PATH=/usr/sbin:/usr/bin:/sbin:/bin
read -r me _ < /proc/self/stat
tag=$1 log=$2
shift 2
in=$(cat)
rt= root= id= pidfile=
{
echo "hook: $tag"
printf 'argv: %s\n' "$(tr '\0' '\037' < /proc/$me/cmdline)"
echo "argc: $#"
printf 'stdin: %s\n' "$in"
tr '\0' '\n' < /proc/$me/environ | sed 's/^/env: /'
for ns in mnt pid net ipc uts; do echo "ns.$ns: $(readlink /proc/$me/ns/$ns)"; done
echo "cwd: $(readlink /proc/$me/cwd)"
echo "exe: $(readlink /proc/$me/exe)"
pid=$(printf '%s' "$in" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
    echo "init.exe: $(readlink /proc/$pid/exe)"
    for ns in mnt pid net ipc uts; do echo "init.ns.$ns: $(readlink /proc/$pid/ns/$ns)"; done
fi
for a in "$@"; do
    case $a in
    exists=*) p=${a#exists=}; if [ -e "$p" ]; then echo "exists $p: yes"; else echo "exists $p: no"; fi ;;
    pidfile=*) pidfile=${a#pidfile=} ;;
    rt=*) rt=${a#rt=} ;;
    root=*) root=${a#root=} ;;
    id=*) id=${a#id=} ;;
    esac
done
if [ -n "$pidfile" ]; then
    p=$(cat "$pidfile")
    if [ -r "/proc/$p/stat" ]; then read -r _ _ s _ < "/proc/$p/stat"; echo "init.status: $s"
    else echo "init.status: gone"; fi
fi
if [ -n "$rt" ]; then
    out=$("$rt" --root "$root" state "$id" 2>&1)
    st=$(echo "$out" | sed -n 's/^ *"status": "\([a-z]*\)".*/\1/p')
    echo "state: ${st:-$(echo "$out" | sed -n 's/.*msg="\(.*\)"$/\1/p')}"
fi
} >> "$log"
"""

# where runc 1.1.5 breaks a MUST of the runtime-spec and pyrunc follows the spec
SPEC_OVER_RUNC = {"runc"}
# what pyrunc takes from crun 1.8.1 where runc 1.1.5 differs
CRUN_OVER_RUNC = {"runc"}


# ---- helpers ----

def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


def log_line(line):
    """(level, msg) of a runtime's text log line; (None, line) for anything else."""
    m = LOG_LINE.match(line)
    if not m:
        return None, line
    return m.group(1), m.group(2).replace('\\"', '"').replace("\\\\", "\\")


def one_error(r, code=1):
    """The command exited `code` with exactly one log line on stderr; return (level, msg)."""
    lines = error_lines(r.stderr)
    assert r.returncode == code, f"exit {r.returncode}, expected {code}\nstderr: {r.stderr!r}"
    assert len(lines) == 1, f"want one line on stderr, got {lines!r}"
    return log_line(lines[0])


class Hooks:
    """One runtime's hooks under tmp_path: the script, the log and the bundles using them."""

    def __init__(self, rt, tmp_path):
        self.rt = rt
        self.tmp = Path(tmp_path)
        self.script = self.tmp / "hook.sh"
        if not self.script.exists():
            self.script.write_text(HOOK_SCRIPT)
        self.dir = self.tmp / f"hooklog-{rt.name}"
        self.dir.mkdir(exist_ok=True)
        self.log = self.dir / "log"
        self.made = 0

    def host(self, tag, *checks, argv0=None, **fields):
        """A hook running the host's /bin/sh (runtime-namespace kinds and createContainer)."""
        args = [argv0 or f"hook-{tag}", str(self.script), tag, str(self.log), *checks]
        return {"path": "/bin/sh", "args": args, **fields}

    def inside(self, tag, *checks, **fields):
        """A startContainer hook: the container's /bin/sh (busybox: argv0 must be "sh")."""
        args = ["sh", "/hook.sh", tag, f"{LOG_IN_CONTAINER}/log", *checks]
        return {"path": "/bin/sh", "args": args, **fields}

    def hook(self, kind, tag, *checks, **fields):
        return (self.inside if kind == "startContainer" else self.host)(tag, *checks, **fields)

    def state_checks(self, cid):
        return [f"rt={self.rt.binary}", f"root={self.rt.root}", f"id={cid}"]

    def bundle(self, bundle_factory, hooks, args=SLEEP, **edits):
        """A bundle with `hooks`, the log dir bind-mounted at /hooklog and /hook.sh in its rootfs."""
        def edit(cfg):
            cfg["hooks"] = hooks
            cfg["mounts"].append({"destination": LOG_IN_CONTAINER, "type": "bind",
                                  "source": str(self.dir), "options": ["rbind", "rw"]})
        self.made += 1
        b = bundle_factory(self.tmp / f"bundle-{self.rt.name}-{self.made}", args, edit=edit, **edits)
        shutil.copy(self.script, Path(b) / "rootfs" / "hook.sh")
        return b

    def records(self):
        """The records appended since the last call (the log is emptied)."""
        if not self.log.exists():
            return []
        text = self.log.read_text()
        self.log.unlink()
        recs = []
        for line in text.splitlines():
            key, _, value = line.partition(": ")
            if key == "hook":
                recs.append({"hook": value, "env": []})
            elif not recs:
                raise AssertionError(f"hook log does not start with a record: {text!r}")
            elif key == "env":
                recs[-1]["env"].append(value)
            else:
                recs[-1][key] = value
        return recs

    def tags(self):
        return [r["hook"] for r in self.records()]


def hooks_of(h, kinds, n=1, *checks, **fields):
    """{kind: [n hooks tagged "<kind>.<i>"]} for each of `kinds`."""
    return {k: [h.hook(k, f"{k}.{i}", *checks, **fields) for i in range(n)] for k in kinds}


def call(rt, *argv, env=None, cwd=None, io=None, timeout=harness.DEFAULT_TIMEOUT):
    """Runtime.cmd, and with `env` the runtime's whole environment (the caller's own C
    environ may hold variables os.environ does not show, like LINES and COLUMNS)."""
    if env is None:
        return rt.cmd(*argv, cwd=cwd, io=io, timeout=timeout)
    full = [rt.binary, *rt.global_flags(), *map(str, argv)]
    files = [open(p, "w+b") for p in io] if io else [tempfile.TemporaryFile(), tempfile.TemporaryFile()]
    with files[0] as out, files[1] as err:
        p = subprocess.run(full, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                           timeout=timeout)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(full, p.returncode, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))


def create_ok(rt, cid, bundle, *extra, env=None, cwd=None):
    r = call(rt, "create", "--bundle", bundle, *extra, cid, env=env, cwd=cwd, io=rt._io(cid))
    assert r.returncode == 0, f"{rt.name} create: exit {r.returncode}\n{r.stderr}"
    pid = rt.state(cid)["pid"]
    harness.reap_later(pid)
    return pid


def start_ok(rt, cid, env=None, cwd=None):
    r = call(rt, "start", cid, env=env, cwd=cwd)
    assert r.returncode == 0, f"{rt.name} start: exit {r.returncode}\n{r.stderr}"


def delete_ok(rt, cid, force=False, env=None, cwd=None):
    r = call(rt, "delete", *(["--force"] if force else []), cid, env=env, cwd=cwd)
    assert r.returncode == 0, f"{rt.name} delete: exit {r.returncode}\n{r.stderr}"
    assert error_lines(r.stderr) == [], f"{rt.name} delete printed {r.stderr!r}"


def assert_gone(rt, cid):
    """No state dir, `list` empty, `state` says the container does not exist."""
    assert rt.containers() == [], f"{rt.name} left state dirs: {rt.containers()}"
    assert rt.list("json") == []
    r = rt.cmd("state", cid)
    assert r.returncode == 1 and "container does not exist" in r.stderr, r.stderr


def host_ns():
    return {ns: os.readlink(f"/proc/self/ns/{ns}") for ns in NAMESPACES}


def ns_of(pid):
    return {ns: os.readlink(f"/proc/{pid}/ns/{ns}") for ns in NAMESPACES}


def rec_ns(rec, prefix="ns."):
    return {ns: rec[prefix + ns] for ns in NAMESPACES}


def by_tag(recs):
    out = {}
    for r in recs:
        assert r["hook"] not in out, f"hook {r['hook']} ran twice: {[x['hook'] for x in recs]}"
        out[r["hook"]] = r
    return out


Lifecycle = namedtuple("Lifecycle", "cid pid version steps ns")


def lifecycle(rt, h, bundle, *, env=None, cwd=None):
    """create, start, delete --force; the records logged during each step, the init's pid,
    ociVersion (from `state`) and namespaces (while it runs)."""
    cid = harness.new_id("hk")
    steps = {}
    pid = create_ok(rt, cid, bundle, env=env, cwd=cwd)
    version = rt.state(cid)["ociVersion"]
    steps["create"] = h.records()
    start_ok(rt, cid, env=env, cwd=cwd)
    steps["start"] = h.records()
    ns = ns_of(pid)
    delete_ok(rt, cid, force=True, env=env, cwd=cwd)
    steps["delete"] = h.records()
    return Lifecycle(cid, pid, version, steps, ns)


def all_records(lc):
    return by_tag(lc.steps["create"] + lc.steps["start"] + lc.steps["delete"])


# ---- when each hook runs, and in which order ----

def _expected_timeline(name):
    two = lambda k: [f"{k}.0", f"{k}.1"]    # noqa: E731
    create = two("prestart") + two("createRuntime") + two("createContainer")
    start = two("startContainer")
    if name in SPEC_OVER_RUNC:
        create += two("poststart")          # runc 1.1.5: at the end of create
    else:
        start += two("poststart")           # the spec: after the user process started
    return {"create": create, "start": start, "delete": two("poststop")}


def test_every_kind_runs_once_in_order(runtime, bundle_factory, tmp_path):
    """Two hooks of each kind: each runs once, in config order, kinds in lifecycle order."""
    h = Hooks(runtime, tmp_path)
    lc = lifecycle(runtime, h, h.bundle(bundle_factory, hooks_of(h, KINDS, 2)))
    got = {step: [r["hook"] for r in recs] for step, recs in lc.steps.items()}
    assert got == _expected_timeline(runtime.name)


def test_create_hooks_run_after_the_namespaces_before_pivot_and_exec(runtime, bundle_factory, tmp_path):
    """prestart/createRuntime: the init is in its own namespaces but has not exec'd; the host
    does not see the container's mounts.  createContainer: the container's mounts are there
    (its /proc is mounted in the rootfs), the host's files still reachable, its path (/bin/sh)
    resolved on the host."""
    h = Hooks(runtime, tmp_path)
    marker = tmp_path / "host-only-marker"
    marker.write_text("x")
    bundle = h.bundle(bundle_factory, {})
    proc1 = f"{bundle}/rootfs/proc/1"
    harness.edit_config(bundle, hooks={k: [h.host(k, f"exists={proc1}", f"exists={marker}")]
                                       for k in CREATE_KINDS})
    cid = harness.new_id("moment")
    pid = create_ok(runtime, cid, bundle)
    try:
        recs = by_tag(h.records())
        assert list(recs) == ["prestart", "createRuntime", "createContainer"]
        for kind in ("prestart", "createRuntime"):
            rec = recs[kind]
            assert rec[f"exists {proc1}"] == "no", f"{kind} sees the container's mounts"
            assert rec[f"exists {marker}"] == "yes"
            init_ns = rec_ns(rec, "init.ns.")
            assert all(init_ns[ns] != host_ns()[ns] for ns in NAMESPACES), \
                f"{kind}: the init's namespaces are not created yet: {init_ns}"
            assert init_ns == ns_of(pid)
            assert not rec["init.exe"].endswith("probe"), f"{kind}: the process already runs"
        rec = recs["createContainer"]
        assert rec[f"exists {proc1}"] == "yes", "createContainer ran before the mounts"
        assert rec[f"exists {marker}"] == "yes", "createContainer ran after pivot_root"
        assert rec["exe"] == os.path.realpath("/bin/sh"), "createContainer's path not resolved on the host"
    finally:
        delete_ok(runtime, cid, force=True)


def test_start_hooks_moments(runtime, bundle_factory, tmp_path):
    """startContainer runs inside the pivoted root (its /bin/sh is the container's) before
    the user process; poststart (the spec) after the process was exec'd, `state` running."""
    h = Hooks(runtime, tmp_path)
    marker = tmp_path / "host-only-marker"
    marker.write_text("x")
    cid = harness.new_id("moment")
    hooks = {"startContainer": [h.inside("startContainer", f"exists={marker}", "exists=/hook.sh")],
             "poststart": [h.host("poststart", *h.state_checks(cid))]}
    create_ok(runtime, cid, h.bundle(bundle_factory, hooks))
    try:
        at_create = h.tags()
        start_ok(runtime, cid)
        recs = by_tag(h.records())
        sc = recs["startContainer"]
        assert sc[f"exists {marker}"] == "no", "startContainer runs before pivot_root"
        assert sc["exists /hook.sh"] == "yes"
        assert sc["exe"] == "/bin/busybox", "startContainer's path not resolved in the container"
        if runtime.name in SPEC_OVER_RUNC:
            assert at_create == ["poststart"] and list(recs) == ["startContainer"]
        else:
            assert at_create == [] and list(recs) == ["startContainer", "poststart"]
            ps = recs["poststart"]
            assert ps["init.exe"] == "/probe", "poststart ran before the user process was exec'd"
            assert ps["state"] == "running"
            assert json.loads(ps["stdin"])["status"] == "running"
    finally:
        delete_ok(runtime, cid, force=True)


def test_state_command_while_hooks_run(runtime, bundle_factory, tmp_path):
    """What `<runtime> state` says from inside a hook: the container exists until poststop,
    and is gone (state dir removed) when poststop runs."""
    h = Hooks(runtime, tmp_path)
    cid = harness.new_id("stq")
    hooks = {k: [h.host(k, *h.state_checks(cid))] for k in RUNTIME_NS}
    bundle = h.bundle(bundle_factory, hooks)
    create_ok(runtime, cid, bundle)
    seen = {r["hook"]: r["state"] for r in h.records()}
    start_ok(runtime, cid)
    seen.update({r["hook"]: r["state"] for r in h.records()})
    delete_ok(runtime, cid, force=True)
    seen.update({r["hook"]: r["state"] for r in h.records()})
    if runtime.name in SPEC_OVER_RUNC:
        expected = {"prestart": "container does not exist", "createRuntime": "container does not exist",
                    "poststart": "created"}
    else:
        expected = {"prestart": "creating", "createRuntime": "creating", "poststart": "running"}
    expected["poststop"] = "container does not exist"
    assert seen == expected


# ---- namespaces ----

def test_runtime_namespace_hooks_share_the_runtimes_namespaces(runtime, bundle_factory, tmp_path):
    h = Hooks(runtime, tmp_path)
    recs = all_records(lifecycle(runtime, h, h.bundle(bundle_factory, hooks_of(h, RUNTIME_NS))))
    assert sorted(recs) == sorted(f"{k}.0" for k in RUNTIME_NS)
    assert {tag: rec_ns(rec) for tag, rec in recs.items()} == {tag: host_ns() for tag in recs}


def test_container_hooks_run_in_the_containers_namespaces(runtime, bundle_factory, tmp_path):
    h = Hooks(runtime, tmp_path)
    lc = lifecycle(runtime, h, h.bundle(bundle_factory, hooks_of(h, CONTAINER_NS)))
    recs = all_records(lc)
    assert sorted(recs) == ["createContainer.0", "startContainer.0"]
    assert {tag: rec_ns(rec) for tag, rec in recs.items()} == {tag: lc.ns for tag in recs}
    assert all(lc.ns[n] != host_ns()[n] for n in NAMESPACES)


# ---- the state on stdin ----

ANNOTATIONS = {"org.example.zeta": "last", "com.example.alpha": "first", "html": "<b>&amp;</b>",
               "quote": 'a "q" \\ b', "utf8": "caf\u00e9 \u2713"}


def _stdin_texts(rt, h, bundle_factory):
    """One container with a hook of each kind: {kind: stdin text, normalized (bundle path,
    ociVersion, id and the init's pid replaced)}, and the raw texts."""
    bundle = h.bundle(bundle_factory, {k: [h.hook(k, k)] for k in KINDS}, annotations=ANNOTATIONS)
    lc = lifecycle(rt, h, bundle)
    recs = all_records(lc)
    assert sorted(recs) == sorted(KINDS)
    raw, norm = {}, {}
    for kind, rec in recs.items():
        text = raw[kind] = rec["stdin"]
        st = json.loads(text)
        assert st["ociVersion"] == lc.version, "the hook's ociVersion is not the one `state` prints"
        assert (st["id"], st["bundle"], st["annotations"]) == (lc.cid, str(bundle), ANNOTATIONS)
        text = text.replace(json.dumps(str(bundle)), '"BUNDLE"', 1)
        text = text.replace(f'"ociVersion":{json.dumps(lc.version)}', '"ociVersion":"V"', 1)
        text = text.replace(f'"id":"{lc.cid}"', '"id":"ID"', 1)
        norm[kind] = text.replace(f'"pid":{lc.pid},', '"pid":INIT,', 1)
    return norm, raw, lc.pid


def go_json(obj):
    """json.Marshal's text: no spaces, UTF-8 as is, <, > and & escaped."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def test_state_on_stdin_is_runcs(runc, pyrunc, bundle_factory, tmp_path):
    """The state JSON byte for byte (after the bundle path, ociVersion, id and init pid):
    status creating/created/stopped; pid the init's host pid for runtime-namespace hooks, the
    pid the container sees it as (1) for container hooks, none once the container stopped.
    (poststart: test_poststart_state_on_stdin.)"""
    texts = {rt.name: _stdin_texts(rt, Hooks(rt, tmp_path), bundle_factory)[0] for rt in (runc, pyrunc)}
    for t in texts.values():
        del t["poststart"]
    pid = {"createContainer": '"pid":1,', "startContainer": '"pid":1,', "poststop": ""}
    status = {"startContainer": "created", "poststop": "stopped"}
    ann = go_json(dict(sorted(ANNOTATIONS.items())))
    expected = {k: '{"ociVersion":"V","id":"ID","status":"%s",%s"bundle":"BUNDLE","annotations":%s}'
                % (status.get(k, "creating"), pid.get(k, '"pid":INIT,'), ann) for k in texts["runc"]}
    assert texts["runc"] == expected, "runc itself"
    # the create hooks' status is crun's (test_create_hooks_read_created_as_crun)
    crun_status = {k: v.replace('"status":"creating"', '"status":"created"', 1) for k, v in expected.items()}
    assert texts["pyrunc"] == crun_status


def test_create_hooks_read_created_as_crun(pyrunc, bundle_factory, tmp_path):
    """prestart, createRuntime and createContainer read status "created" on stdin, as crun
    sends it (runc 1.1.5: "creating"); what `state` prints meanwhile is not changed."""
    crun = harness.crun(tmp_path)
    seen = {}
    for rt in (crun, pyrunc):
        h = Hooks(rt, tmp_path)
        bundle = h.bundle(bundle_factory, {k: [h.hook(k, k)] for k in KINDS})
        recs = all_records(lifecycle(rt, h, bundle))
        seen[rt.name] = {k: json.loads(recs[k]["stdin"])["status"] for k in CREATE_KINDS}
    assert seen["crun"] == {k: "created" for k in CREATE_KINDS}, "crun itself"
    assert seen["pyrunc"] == seen["crun"]


def test_poststart_state_on_stdin(runtime, bundle_factory, tmp_path):
    """poststart reads the running container's state with its host pid (runc 1.1.5: created)."""
    _, raw, pid = _stdin_texts(runtime, Hooks(runtime, tmp_path), bundle_factory)
    st = json.loads(raw["poststart"])
    assert list(st) == ["ociVersion", "id", "status", "pid", "bundle", "annotations"]
    assert st["pid"] == pid
    assert st["status"] == ("created" if runtime.name in SPEC_OVER_RUNC else "running")


# ---- args and env ----

def test_args_are_the_hooks_argv(runtime, bundle_factory, tmp_path):
    """args become argv as they are, args[0] as argv[0] (the container's busybox picks its
    applet by it), for every kind."""
    h = Hooks(runtime, tmp_path)
    extra = ["two words", "", "-x", "*", "$HOME"]
    hooks = {k: [h.hook(k, k, *extra, **({} if k == "startContainer" else {"argv0": f"argv0 of {k}"}))]
             for k in KINDS}
    recs = all_records(lifecycle(runtime, h, h.bundle(bundle_factory, hooks)))
    assert {k: r["argv"].split("\x1f")[:-1] for k, r in recs.items()} == \
        {k: hooks[k][0]["args"] for k in KINDS}
    assert {k: r["argc"] for k, r in recs.items()} == {k: str(len(extra)) for k in KINDS}


def test_hook_without_args_runs_its_path_alone(runtime, bundle_factory, tmp_path):
    """No args: argv is just the path (a script here: the kernel runs /bin/sh PATH)."""
    h = Hooks(runtime, tmp_path)
    log = tmp_path / "noargs.log"
    hooks = {}
    for kind in ("createRuntime", "createContainer", "poststop"):
        script = tmp_path / f"{kind}.sh"
        script.write_text(f'#!/bin/sh\necho "{kind}: $0 $#" >> {log}\n')
        script.chmod(0o755)
        hooks[kind] = [{"path": str(script)}]
    lifecycle(runtime, h, h.bundle(bundle_factory, hooks))
    assert log.read_text().splitlines() == [f"{k}: {tmp_path}/{k}.sh 0" for k in hooks]


def _env_of_each_kind(runtime, bundle_factory, tmp_path, env, **edits):
    h = Hooks(runtime, tmp_path)
    fields = {} if env is None else {"env": env}
    bundle = h.bundle(bundle_factory, {k: [h.hook(k, k, **fields)] for k in KINDS}, **edits)
    caller = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "PYRT_CALLER": "a b",
              "LANG": "C.UTF-8", "PYRT_LAST": "1"}
    recs = all_records(lifecycle(runtime, h, bundle, env=caller))
    assert sorted(recs) == sorted(KINDS)
    return {k: recs[k]["env"] for k in KINDS}, [f"{k}={v}" for k, v in caller.items()]


def test_env_is_exactly_the_hooks_env(runtime, bundle_factory, tmp_path):
    """hook.env is the whole environment, in its order: nothing added (no PATH, HOME, PWD)."""
    env = ["ZED=last letter", "A=1", "EMPTY=", "EQ=x=y", "PATH=/nowhere", "lower=case"]
    got, _ = _env_of_each_kind(runtime, bundle_factory, tmp_path, env)
    assert got == {k: env for k in KINDS}


def test_empty_env_is_an_empty_environment(runtime, bundle_factory, tmp_path):
    got, _ = _env_of_each_kind(runtime, bundle_factory, tmp_path, [])
    assert got == {k: [] for k in KINDS}


def test_env_duplicates_as_runc(runtime, bundle_factory, tmp_path):
    """As Go's os/exec passes them (runc 1.1.5, go1.19): a repeated name keeps its last value
    at its last place.  (An entry without "=" reaches runc's hooks unchanged; pyrunc's
    runtime-namespace hooks get it as NAME=, since Python's subprocess takes a mapping:
    a known difference, left out here.)"""
    got, _ = _env_of_each_kind(runtime, bundle_factory, tmp_path, ["A=1", "B=2", "A=3", "C=4", "B=5", "D=6"])
    assert got == {k: ["A=3", "C=4", "B=5", "D=6"] for k in KINDS}


def test_env_of_a_hook_without_env(runtime, bundle_factory, tmp_path):
    """No hook.env: runtime-namespace hooks get the runtime's own environment (what its caller
    gave it); createContainer the process env (deduplicated), HOME not yet set; startContainer
    the process env with HOME."""
    penv = ["PATH=/bin:/usr/bin", "X=1", "Y=2", "X=3", "TERM=dumb"]
    got, caller = _env_of_each_kind(runtime, bundle_factory, tmp_path, None, process={"env": penv})
    dedup = ["PATH=/bin:/usr/bin", "X=3", "Y=2", "TERM=dumb"]
    expected = {k: caller for k in RUNTIME_NS}
    expected.update(createContainer=dedup, startContainer=dedup + ["HOME=/root"])
    assert got == expected


# ---- cwd ----

def test_cwd_is_runcs(runtime, bundle_factory, tmp_path):
    """runc runs create's hooks in the bundle dir (it chdirs there), createContainer in the
    rootfs, startContainer in process.cwd, poststop in its caller's cwd."""
    h = Hooks(runtime, tmp_path)
    kinds = ("prestart", "createRuntime", "createContainer", "startContainer", "poststop")
    bundle = h.bundle(bundle_factory, {k: [h.hook(k, k)] for k in kinds}, process={"cwd": "/tmp"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    recs = all_records(lifecycle(runtime, h, bundle, cwd=elsewhere))
    assert {k: recs[k]["cwd"] for k in kinds} == {
        "prestart": str(bundle), "createRuntime": str(bundle), "createContainer": f"{bundle}/rootfs",
        "startContainer": "/tmp", "poststop": str(elsewhere)}


# ---- failures ----

FAILING = "echo out-{tag}; echo err-{tag} >&2; exit 3"


def failing(tag):
    """A hook that prints out-TAG and err-TAG and exits 3 (/bin/sh: the host's, or in a
    startContainer hook the container's)."""
    return {"path": "/bin/sh", "args": ["sh", "-c", FAILING.format(tag=tag)]}


def _failed_create(rt, h, bundle_factory, kind, bad, args=SLEEP):
    """create with `bad` as the first `kind` hook (a recording hook after it, and one hook of
    every later create kind, and a poststop hook); create must fail and leave nothing."""
    later = KINDS[KINDS.index(kind):KINDS.index("createContainer") + 1]
    hooks = {k: [h.host(f"{k}.after")] for k in later}
    hooks[kind] = [bad, h.host(f"{kind}.after")]
    hooks["poststop"] = [h.host("poststop")]
    bundle = h.bundle(bundle_factory, hooks, args=["/bin/sh", "-c", f"echo ran > {LOG_IN_CONTAINER}/ran"])
    cid = harness.new_id("hfail")
    t = time.monotonic()
    r = rt.create(cid, bundle)
    elapsed = time.monotonic() - t
    harness.reap()
    assert_gone(rt, cid)
    assert not (h.dir / "ran").exists()
    return r, elapsed, h.tags()


@pytest.mark.parametrize("kind", CREATE_KINDS)
def test_failing_create_hook_fails_create(runtime, bundle_factory, tmp_path, kind):
    """Exit 1, nothing left behind (state, cgroups, processes, mounts: no_leaks), no later hook
    and no process run."""
    h = Hooks(runtime, tmp_path)
    r, _, tags = _failed_create(runtime, h, bundle_factory, kind, failing("x"))
    assert r.returncode == 1, r.stderr
    assert [t for t in tags if t != "poststop"] == []


def test_failing_hook_under_run_leaves_nothing(runtime, bundle_factory, tmp_path):
    """`run` fails as create does: exit 1, one line, no process, nothing left."""
    h = Hooks(runtime, tmp_path)
    bundle = h.bundle(bundle_factory, {"createContainer": [{"path": "/bin/false"}]},
                      args=["/bin/sh", "-c", f"echo ran > {LOG_IN_CONTAINER}/ran"])
    cid = harness.new_id("runfail")
    r = runtime.run(cid, bundle)
    harness.reap()
    level, msg = one_error(r)
    assert "exit status 1" in msg, msg
    assert not (h.dir / "ran").exists()
    assert_gone(runtime, cid)


@pytest.mark.parametrize("kind", CREATE_KINDS)
def test_failed_create_runs_poststop_hooks(runtime, bundle_factory, tmp_path, kind):
    """The spec's lifecycle (and runc): a failing create hook stops the container and goes on
    to destroy it and run the poststop hooks, with status stopped."""
    h = Hooks(runtime, tmp_path)
    bundle = h.bundle(bundle_factory, {kind: [failing("x")], "poststop": [h.host("poststop")]})
    cid = harness.new_id("hfail")
    r = runtime.create(cid, bundle)
    harness.reap()
    assert r.returncode == 1, r.stderr
    assert_gone(runtime, cid)
    recs = h.records()
    assert [x["hook"] for x in recs] == ["poststop"]
    assert json.loads(recs[0]["stdin"])["status"] == "stopped"


@pytest.mark.parametrize("kind", CREATE_KINDS)
def test_failing_create_hook_error_has_status_and_output(runtime, bundle_factory, tmp_path, kind):
    """One error line naming the hook's index and exit status, with its stdout and stderr;
    the hook's own output goes nowhere else."""
    h = Hooks(runtime, tmp_path)
    r, _, _ = _failed_create(runtime, h, bundle_factory, kind, failing("x"))
    level, msg = one_error(r)
    assert level == "error"
    assert "hook #0" in msg and "exit status 3" in msg, msg
    assert "stdout: out-x" in msg and "stderr: err-x" in msg, msg
    assert r.stdout == ""


@pytest.mark.parametrize("kind", ["createRuntime", "createContainer"])
def test_hook_killed_by_a_signal(runtime, bundle_factory, tmp_path, kind):
    h = Hooks(runtime, tmp_path)
    bad = {"path": "/bin/sh", "args": ["sh", "-c", "kill -9 $$"]}
    r, _, _ = _failed_create(runtime, h, bundle_factory, kind, bad)
    level, msg = one_error(r)
    assert "hook #0" in msg and "signal: killed" in msg, msg


@pytest.mark.parametrize("kind", CREATE_KINDS)
def test_missing_hook_binary_fails_create(runtime, bundle_factory, tmp_path, kind):
    h = Hooks(runtime, tmp_path)
    r, _, tags = _failed_create(runtime, h, bundle_factory, kind, {"path": "/no/such/hook"})
    level, msg = one_error(r)
    assert "/no/such/hook" in msg and "no such file or directory" in msg, msg
    assert [t for t in tags if t != "poststop"] == []


SLOW = {"path": "/bin/sleep", "args": ["sleep", "20"], "timeout": 1}


@pytest.mark.parametrize("kind", ["createRuntime", "createContainer"])
def test_hook_past_its_timeout_fails_create(runtime, bundle_factory, tmp_path, kind):
    """The hook is killed at its timeout (not waited for), create fails, nothing is left (the
    no_leaks fixture finds any sleep left running), no later hook runs; then the wording:
    runc's "hook ran past specified timeout of 1.0s"."""
    h = Hooks(runtime, tmp_path)
    r, elapsed, tags = _failed_create(runtime, h, bundle_factory, kind, SLOW)
    level, msg = one_error(r)
    assert 0.9 < elapsed < 10, f"create took {elapsed:.1f}s with a 1s hook timeout"
    assert [t for t in tags if t != "poststop"] == []
    assert "error running hook #0: hook ran past specified timeout of 1.0s" in msg, \
        f"the timeout works; its error is not runc's: {msg}"


@pytest.mark.parametrize("bad", ["fail", "timeout"])
def test_failing_start_container_hook_stops_the_container(runtime, bundle_factory, tmp_path, bad):
    """The user process never runs and the container ends stopped; delete cleans up and runs
    poststop.  The spec: start fails (runc 1.1.5 exits 0 and tells the container's stderr)."""
    h = Hooks(runtime, tmp_path)
    hook = failing("x") if bad == "fail" else dict(SLOW)
    bundle = h.bundle(bundle_factory, {"startContainer": [hook, h.inside("startContainer.after")],
                                       "poststart": [h.host("poststart")], "poststop": [h.host("poststop")]},
                      args=["/bin/sh", "-c", f"echo ran > {LOG_IN_CONTAINER}/ran; exec /probe sleep 600"])
    cid = harness.new_id("scfail")
    create_ok(runtime, cid, bundle)
    runc_create_tags = h.tags()
    r = runtime.start(cid)
    try:
        runtime.wait_status(cid, "stopped")
        assert not (h.dir / "ran").exists(), "the user process ran"
        what = "exit status 3" if bad == "fail" else "timeout"
        if runtime.name in SPEC_OVER_RUNC:
            assert r.returncode == 0 and runc_create_tags == ["poststart"]
            assert what in runtime.output(cid)[1]
            assert h.tags() == []
        else:
            assert runc_create_tags == []
            level, msg = one_error(r)
            assert what in msg, msg
            assert h.tags() == [], "a hook ran after the failing startContainer hook"
    finally:
        delete_ok(runtime, cid)
    assert h.tags() == ["poststop"]
    assert_gone(runtime, cid)


def test_failing_poststart_hook(runtime, bundle_factory, tmp_path):
    """runtime-spec 1.2: a warning, the remaining poststart hooks run, `start` succeeds and
    the container runs on (as crun: test_failing_poststart_hook_as_crun).  runc 1.1.5 runs
    poststart in create: create fails instead."""
    h = Hooks(runtime, tmp_path)
    hooks = {"poststart": [failing("x"), h.host("poststart.after")],
             "poststop": [h.host("poststop")]}
    bundle = h.bundle(bundle_factory, hooks)
    cid = harness.new_id("psfail")
    if runtime.name in SPEC_OVER_RUNC:
        r = runtime.create(cid, bundle)
        harness.reap()
        level, msg = one_error(r)
        assert "exit status 3" in msg
        assert h.tags() == ["poststop"]
        assert_gone(runtime, cid)
        return
    create_ok(runtime, cid, bundle)
    r = runtime.start(cid)
    try:
        level, msg = one_error(r, code=0)
        assert level == "warning", r.stderr
        assert "hook #0" in msg and "exit status 3" in msg and "stdout: out-x" in msg and "stderr: err-x" in msg, msg
        assert h.tags() == ["poststart.after"]
        assert runtime.state(cid)["status"] == "running"
    finally:
        delete_ok(runtime, cid, force=True)
    assert h.tags() == ["poststop"]
    assert_gone(runtime, cid)


def test_failing_poststart_hook_as_crun(pyrunc, bundle_factory, tmp_path):
    """crun 1.8.1 next to pyrunc: start exits 0, the next poststart hook runs, the container
    is running."""
    crun = harness.crun(tmp_path)
    seen = {}
    # the failing hook reads its stdin first: crun writes the state to a hook's stdin
    # unguarded, and dies of SIGPIPE when the hook has exited before it wrote
    reads_then_fails = {"path": "/bin/sh", "args": ["sh", "-c", "cat >/dev/null; exit 3"]}
    for rt in (crun, pyrunc):
        h = Hooks(rt, tmp_path)
        bundle = h.bundle(bundle_factory, {"poststart": [reads_then_fails, h.host("poststart.after")]})
        cid = harness.new_id("psfail")
        create_ok(rt, cid, bundle)
        try:
            r = rt.start(cid)
            seen[rt.name] = (r.returncode, h.tags(), rt.state(cid)["status"])
        finally:
            delete_ok(rt, cid, force=True)
    assert seen["crun"] == (0, ["poststart.after"], "running"), "crun itself"
    assert seen["pyrunc"] == seen["crun"]


def test_failing_poststop_hook_only_warns(runtime, bundle_factory, tmp_path):
    """delete exits 0 and the container is gone; one line about the hook.  The spec: a
    warning, and the remaining poststop hooks run (runc 1.1.5: level=error, and they do not)."""
    h = Hooks(runtime, tmp_path)
    bundle = h.bundle(bundle_factory, {"poststop": [failing("x"), h.host("poststop.after")]})
    cid = harness.new_id("pstop")
    create_ok(runtime, cid, bundle)
    start_ok(runtime, cid)
    r = runtime.delete(cid, force=True)
    level, msg = one_error(r, code=0)
    assert "hook #0" in msg and "exit status 3" in msg, msg
    assert_gone(runtime, cid)
    if runtime.name in SPEC_OVER_RUNC:
        assert level == "error" and h.tags() == []
    else:
        assert level == "warning" and h.tags() == ["poststop.after"]


# ---- poststop: when ----

@pytest.mark.parametrize("how", ["stopped", "running-force", "created"])
def test_poststop_runs_on_delete_after_the_container_is_destroyed(runtime, bundle_factory, tmp_path, how):
    """poststop runs once, at delete (not when the process exits): the init is dead, the
    cgroup removed and the state gone by then."""
    h = Hooks(runtime, tmp_path)
    cid = harness.new_id("pstop")
    pidfile = tmp_path / "init.pid"
    args = ["/probe", "exit", "0"] if how == "stopped" else SLEEP
    bundle = h.bundle(bundle_factory, {}, args=args)
    cgroup = f"/sys/fs/cgroup/pids/{cid}"
    poststop = h.host("poststop", f"pidfile={pidfile}", f"exists={cgroup}", *h.state_checks(cid))
    harness.edit_config(bundle, hooks={"poststop": [poststop]}, linux={"cgroupsPath": f"/{cid}"})
    create_ok(runtime, cid, bundle, "--pid-file", pidfile)
    assert os.path.isdir(cgroup), f"{cgroup} missing while the container exists"
    if how != "created":
        start_ok(runtime, cid)
    if how == "stopped":
        runtime.wait_status(cid, "stopped")
        time.sleep(0.2)
    assert h.tags() == []
    delete_ok(runtime, cid, force=how == "running-force")
    recs = h.records()
    assert [r["hook"] for r in recs] == ["poststop"]
    rec = recs[0]
    assert rec["init.status"] in ("Z", "gone"), f"the init was {rec['init.status']} during poststop"
    assert rec[f"exists {cgroup}"] == "no", "poststop ran before the cgroup was removed"
    assert rec["state"] == "container does not exist"
    assert json.loads(rec["stdin"])["status"] == "stopped"
    assert_gone(runtime, cid)


# ---- run ----

def test_run_runs_every_kind(runtime, bundle_factory, tmp_path):
    """Foreground `run`: all six kinds once, in order, the exit code kept, poststop at the end."""
    h = Hooks(runtime, tmp_path)
    bundle = h.bundle(bundle_factory, hooks_of(h, KINDS), args=["/probe", "exit", "7"])
    cid = harness.new_id("run")
    r = runtime.run(cid, bundle)
    harness.reap()
    assert r.returncode == 7, r.stderr
    tags = h.tags()
    order = ["prestart.0", "createRuntime.0", "createContainer.0", "startContainer.0", "poststart.0",
             "poststop.0"]
    if runtime.name in SPEC_OVER_RUNC:
        order.remove("poststart.0")
        order.insert(3, "poststart.0")
    assert tags == order
    assert_gone(runtime, cid)


def test_run_detached_then_delete(runtime, bundle_factory, tmp_path):
    h = Hooks(runtime, tmp_path)
    bundle = h.bundle(bundle_factory, hooks_of(h, KINDS))
    cid = harness.new_id("rund")
    r = runtime.run(cid, bundle, "--detach")
    assert r.returncode == 0, r.stderr
    harness.reap_later(runtime.state(cid)["pid"])
    assert sorted(h.tags()) == sorted(f"{k}.0" for k in KINDS if k != "poststop")
    delete_ok(runtime, cid, force=True)
    assert h.tags() == ["poststop.0"]


def test_container_hook_output_is_not_the_containers(runtime, bundle_factory, tmp_path):
    """What createContainer and startContainer hooks print is theirs (runc collects it for its
    error message): the container's stdout and stderr carry only the process's output."""
    h = Hooks(runtime, tmp_path)
    hooks = {k: [{"path": "/bin/sh", "args": ["sh", "-c", f"echo {k}-out; echo {k}-err >&2"]}] for k in KINDS}
    bundle = h.bundle(bundle_factory, hooks, args=["/bin/echo", "process-out"])
    cid = harness.new_id("noise")
    r = runtime.run(cid, bundle)
    harness.reap()
    assert r.returncode == 0, r.stderr
    assert (r.stdout, r.stderr) == ("process-out\n", "")


# ---- timeouts ----

@pytest.mark.parametrize("timeout", [2147484])
def test_long_timeouts_are_no_problem(runtime, bundle_factory, tmp_path, timeout):
    """A quick hook with a timeout past poll(2)'s 24.8 days runs normally."""
    h = Hooks(runtime, tmp_path)
    lc = lifecycle(runtime, h, h.bundle(bundle_factory, hooks_of(h, KINDS, timeout=timeout)))
    assert sorted(all_records(lc)) == sorted(f"{k}.0" for k in KINDS)


def test_int64_max_timeout_is_no_limit(runtime, bundle_factory, tmp_path):
    """timeout 2**63-1 s: no overflow, the hooks run (runc 1.1.5 wraps it negative and fails)."""
    h = Hooks(runtime, tmp_path)
    bundle = h.bundle(bundle_factory, hooks_of(h, KINDS, timeout=INT64_MAX))
    if runtime.name in SPEC_OVER_RUNC:
        cid = harness.new_id("tmax")
        r = runtime.create(cid, bundle)
        harness.reap()
        assert r.returncode == 1 and "timeout of -1.0s" in r.stderr, r.stderr
        assert_gone(runtime, cid)
        return
    lc = lifecycle(runtime, h, bundle)
    assert sorted(all_records(lc)) == sorted(f"{k}.0" for k in KINDS)
