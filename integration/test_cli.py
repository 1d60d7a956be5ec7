"""The command line itself, compared with runc: flag forms, errors, help, spec, validate.

Callers parse what a runtime prints: containerd reads the last error line of
its JSON --log, conmon shows the first line of stderr, podman probes `--help`
exit codes and greps error wording.  These tests pin that surface to runc
1.1.5's, runtime by runtime where the assertion is the same, side by side
where the text must match.
"""
import copy
import json
import os
import re
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import harness

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parent.parent / "config-samples"
SLEEP = ["/probe", "sleep", "600"]
TEXT_ERROR = re.compile(r'time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)" level=error msg="(.*)"')
JSON_ERROR = re.compile(r'\{"level":"error","msg":"(.*)",'
                        r'"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)"\}')
# every verb of runc 1.1.5 (`runc --help`), checkpoint apart: see test_checkpoint_help_is_not_success
RUNC_VERBS = ["create", "delete", "events", "exec", "kill", "list", "pause", "ps", "restore",
              "resume", "run", "spec", "start", "state", "update", "features"]


def raw(rt, *argv, cwd=None, timeout=30):
    """Run the runtime's binary with exactly `argv` (no global flags added), output in files."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.run([rt.binary, *map(str, argv)], stdin=subprocess.DEVNULL, stdout=out,
                           stderr=err, cwd=cwd, timeout=timeout)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(p.args, p.returncode, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))


def reap_later(pid):
    """Collect `pid` (a container init reparented to us) when it dies, as a shim or conmon would."""
    def wait():
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    threading.Thread(target=wait, daemon=True).start()


def error_msg(stderr):
    """The msg of the one runc-shaped error line that is all of stderr; fails otherwise."""
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected exactly one line on stderr, got {stderr!r}"
    m = TEXT_ERROR.fullmatch(lines[0])
    assert m, f"stderr is not runc's text log shape: {lines[0]!r}"
    return m.group(2).replace('\\"', '"')


def fails_with(r, wording=None):
    assert r.returncode == 1, f"exit {r.returncode}, expected 1\nstdout: {r.stdout}\nstderr: {r.stderr}"
    msg = error_msg(r.stderr)
    if wording is not None:
        assert wording in msg, f"expected {wording!r} in the error, got {msg!r}"
    return msg


def container(rt, bundle_factory, tag="cli"):
    """A created (parked) container: (id, init pid)."""
    cid = harness.new_id(tag)
    r = rt.create(cid, bundle_factory(args=SLEEP))
    assert r.returncode == 0, r.stderr
    return cid, rt.state(cid)["pid"]


# ---- global flags ----

def test_root_flag_forms(runtime, bundle_factory):
    cid, _ = container(runtime, bundle_factory, "root")
    root = str(runtime.root)
    for form in (["--root", root], [f"--root={root}"], ["-root", root], [f"-root={root}"]):
        r = raw(runtime, *form, "list", "-q")
        assert (r.returncode, r.stdout) == (0, cid + "\n"), f"{form}: {r}"
        r = raw(runtime, *form, "state", cid)
        assert r.returncode == 0 and json.loads(r.stdout)["id"] == cid, f"{form}: {r}"
    assert runtime.delete(cid, force=True).returncode == 0


@pytest.mark.parametrize("form", [
    ["--log", "{log}", "--log-format", "json"],
    ["--log={log}", "--log-format=json"],
    ["-log", "{log}", "-log-format", "json"],
    ["--log", "{log}", "--log-format=json"],
], ids=["spaced", "equals", "single-dash", "mixed"])
def test_error_goes_to_json_log_and_stderr(runtime, tmp_path, form):
    log = tmp_path / "log.json"
    log.write_text('{"level":"info","msg":"an earlier line","time":"2020-01-01T00:00:00Z"}\n')
    flags = [f.format(log=log) for f in form]
    for verb in (["state"], ["delete"], ["kill"], ["start"]):
        r = raw(runtime, "--root", runtime.root, *flags, *verb, "pyrt-nosuch")
        assert r.returncode == 1, r
        assert r.stderr == "container does not exist\n", f"{verb}: stderr {r.stderr!r}"
    lines = log.read_text().splitlines()
    assert lines[0] == '{"level":"info","msg":"an earlier line","time":"2020-01-01T00:00:00Z"}'
    assert len(lines) == 5, lines
    for line in lines[1:]:
        entry = json.loads(line)
        assert list(entry) == ["level", "msg", "time"], line
        assert entry["level"] == "error" and entry["msg"] == "container does not exist"
        assert JSON_ERROR.fullmatch(line), line


def test_error_goes_to_text_log_and_stderr(runtime, tmp_path):
    log = tmp_path / "log.txt"
    r = raw(runtime, "--root", runtime.root, "--log", log, "state", "pyrt-nosuch")
    assert r.returncode == 1
    assert r.stderr == "container does not exist\n"
    assert error_msg(log.read_text()) == "container does not exist"


def test_error_without_log_is_one_text_line_on_stderr(runtime):
    r = raw(runtime, "--root", runtime.root, "state", "pyrt-nosuch")
    assert fails_with(r) == "container does not exist"
    assert r.stdout == ""


# ---- error wording ----

def test_unknown_id_wording(runtime):
    for verb in (["state"], ["kill"], ["kill", "--all"], ["delete"], ["start"]):
        r = runtime.cmd(*verb, "pyrt-nosuch")
        assert fails_with(r) == "container does not exist", verb
    assert runtime.containers() == []


def test_delete_force_of_unknown_id_succeeds(runtime):
    """runc: `delete --force` of an id it does not know is not an error (containerd's cleanup path)."""
    r = runtime.cmd("delete", "--force", "pyrt-nosuch")
    assert (r.returncode, r.stderr) == (0, ""), r
    assert runtime.containers() == []


def test_already_exists_wording(runtime, bundle_factory):
    cid, pid = container(runtime, bundle_factory, "dup")
    r = runtime.create(cid, bundle_factory(args=SLEEP))
    fails_with(r, "container with given ID already exists")
    st = runtime.state(cid)
    assert (st["status"], st["pid"]) == ("created", pid)
    assert runtime.delete(cid).returncode == 0


@pytest.mark.parametrize("bad_id", ["a/b", "..", "../pyrt-x", "a b", "/pyrt-abs", "."],
                         ids=["slash", "dotdot", "dotdot-slash", "space", "absolute", "dot"])
def test_invalid_id_wording(runtime, bundle_factory, bad_id):
    bundle = bundle_factory(args=SLEEP)
    for argv in (["create", "--bundle", bundle, bad_id], ["state", bad_id], ["start", bad_id],
                 ["kill", bad_id, "KILL"], ["delete", bad_id]):
        r = runtime.cmd(*argv)
        fails_with(r, "invalid container ID format")
    assert runtime.containers() == []
    assert runtime.list("json") == []


def test_id_over_1024_bytes_is_invalid(pyrunc, runc, bundle_factory):
    """runc 1.1.5 fails too (lstat: file name too long); pyrunc names the real problem."""
    long_id = "pyrt-" + "x" * 1020
    bundle = bundle_factory(args=SLEEP)
    for rt in (runc, pyrunc):
        r = rt.cmd("create", "--bundle", bundle, long_id)
        assert r.returncode == 1, r
        assert rt.containers() == []
    fails_with(pyrunc.cmd("create", "--bundle", bundle, long_id), "invalid container ID format")
    fails_with(pyrunc.cmd("state", long_id), "invalid container ID format")


def test_error_messages_match_runc(runc, pyrunc, bundle_factory):
    """The whole message of state/start/kill/delete errors is runc's, word for word."""
    msgs = {}
    for rt in (runc, pyrunc):
        running = harness.new_id("msg")
        assert rt.run(running, bundle_factory(args=SLEEP), "-d").returncode == 0
        reap_later(rt.state(running)["pid"])
        stopped = harness.new_id("msg")
        assert rt.run(stopped, bundle_factory(args=["/probe", "exit", "0"]), "-d", "--keep").returncode == 0
        rt.wait_status(stopped, "stopped")
        cases = {
            "state unknown": ["state", "pyrt-nosuch"],
            "start running": ["start", running],
            "start stopped": ["start", stopped],
            "kill stopped": ["kill", stopped, "KILL"],
            "kill bad signal": ["kill", running, "FOO"],
            "delete running": ["delete", running],
            "state bad id": ["state", "a/b"],
        }
        got = {}
        for name, argv in cases.items():
            r = rt.cmd(*argv)
            assert r.returncode == 1, f"{rt.name} {name}: {r}"
            got[name] = error_msg(r.stderr).replace(running, "ID")
        msgs[rt.name] = got
        assert rt.delete(running, force=True).returncode == 0
        assert rt.delete(stopped).returncode == 0
    assert msgs["pyrunc"] == msgs["runc"]
    assert msgs["runc"]["start running"] == "cannot start an already running container"


# ---- help, usage, version ----

@pytest.mark.parametrize("verb", RUNC_VERBS)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_verb_help(runtime, verb, flag):
    r = raw(runtime, verb, flag)
    prog = Path(runtime.binary).name
    assert r.returncode == 0, f"{verb} {flag}: exit {r.returncode}\n{r.stderr}"
    assert r.stdout.startswith(f"NAME:\n   {prog} {verb} - "), r.stdout[:200]
    assert "\nUSAGE:\n" in r.stdout
    assert r.stderr == ""


def test_checkpoint_help_is_not_success(pyrunc):
    """podman takes `checkpoint --help` exiting 0 as "this runtime can checkpoint"."""
    for flag in ("--help", "-h"):
        r = raw(pyrunc, "checkpoint", flag)
        assert r.returncode != 0, f"checkpoint {flag} exited 0: podman would think it is supported"


def test_restore_lsm_mount_context_needs_a_value(runtime):
    r = raw(runtime, "restore", "--lsm-mount-context")
    assert r.returncode == 1
    assert "flag needs an argument" in r.stdout + r.stderr


@pytest.mark.parametrize("argv", [["state"], ["start"], ["delete"], ["kill"], ["pause"], ["create"],
                                  ["run"], ["state", "a", "b"], ["kill", "a", "b", "c"]],
                         ids=lambda a: "-".join(a))
def test_missing_arguments_usage_like_runc(runc, pyrunc, argv):
    out = {}
    for rt in (runc, pyrunc):
        r = raw(rt, "--root", rt.root, *argv)
        assert r.returncode == 1, f"{rt.name} {argv}: exit {r.returncode}"
        assert r.stdout.startswith("Incorrect Usage."), r.stdout[:100]
        assert f"\nUSAGE:\n   {rt.name} {argv[0]} " in r.stdout, r.stdout
        # runc names itself by os.Args[0] here ("/usr/sbin/runc: ..."): compare what follows
        out[rt.name] = error_msg(r.stderr).split(": ", 1)[1]
    assert out["pyrunc"] == out["runc"]


def test_version(pyrunc):
    for flag in ("--version", "-v"):
        r = raw(pyrunc, flag)
        assert r.returncode == 0, r
        assert r.stdout.splitlines()[0].startswith("pyrunc version "), r.stdout
        assert r.stderr == ""


# ---- spec ----

def spec_text(rt, tmp_path, *flags):
    d = tmp_path / f"spec-{rt.name}-{'-'.join(f.strip('-') for f in flags) or 'plain'}"
    d.mkdir()
    r = raw(rt, "spec", *flags, cwd=d)
    assert r.returncode == 0, r
    assert (r.stdout, r.stderr) == ("", "")
    assert sorted(os.listdir(d)) == ["config.json"]
    return (d / "config.json").read_text()


@pytest.mark.parametrize("flags", [[], ["--rootless"]], ids=["default", "rootless"])
def test_spec_is_runcs(runc, pyrunc, tmp_path, flags):
    ours, theirs = spec_text(pyrunc, tmp_path, *flags), spec_text(runc, tmp_path, *flags)
    a, b = json.loads(ours), json.loads(theirs)
    assert a.pop("ociVersion") and b.pop("ociVersion")
    assert a == b
    norm = re.compile(r'^\t"ociVersion": "[^"]*",$', re.M)
    assert norm.sub("V", ours) == norm.sub("V", theirs)     # tabs, key order, no trailing newline
    assert ours.startswith('{\n\t"ociVersion": ')


def test_spec_matches_the_sample(tmp_path, pyrunc):
    sample = json.loads((SAMPLES / "valid" / "runc-spec.json").read_text())
    ours = json.loads(spec_text(pyrunc, tmp_path))
    sample.pop("ociVersion")
    ours.pop("ociVersion")
    assert ours == sample


def test_spec_refuses_to_overwrite(runtime, tmp_path):
    (tmp_path / "config.json").write_text("keep me")
    r = raw(runtime, "spec", cwd=tmp_path)
    assert fails_with(r) == "File config.json exists. Remove it first"
    assert (tmp_path / "config.json").read_text() == "keep me"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "config.json").write_text("keep me too")
    fails_with(raw(runtime, "spec", "-b", tmp_path / "b"), "exists")
    assert (tmp_path / "b" / "config.json").read_text() == "keep me too"


def test_spec_bundle_flag(runtime, tmp_path):
    for i, form in enumerate((["-b", "{d}"], ["--bundle", "{d}"], ["--bundle={d}"])):
        d = tmp_path / f"b{i}"
        d.mkdir()
        r = raw(runtime, "spec", *[f.format(d=d) for f in form], cwd=tmp_path)
        assert r.returncode == 0, r
        assert json.loads((d / "config.json").read_text())["process"]["args"] == ["sh"]
        assert not (tmp_path / "config.json").exists()


# ---- validate (pyrunc's own verb) ----

def validate(pyrunc, tmp_path, name, text):
    b = tmp_path / name
    b.mkdir()
    (b / "config.json").write_text(text)
    return raw(pyrunc, "validate", "-b", b)


# the CLI over a spread of the samples (tests/test_schema.py runs the checker over every one)
VALID_SAMPLES = ["runc-spec.json", "podman-run-privileged.json", "containerd-ctr-run.json", "minimal.json"]
INVALID_EVERY = 5
INVALID_ALWAYS = ["not-json.json", "config-not-object.json", "missing-ociVersion.json",
                  "bad-namespace-type.json", "process-cwd-relative.json"]


def test_validate_good_bundles(pyrunc, tmp_path, bundle):
    for argv, cwd in ((["-b", bundle], None), (["--bundle", bundle], None), ([], bundle)):
        r = raw(pyrunc, "validate", *argv, cwd=cwd)
        assert r.returncode == 0, f"validate {argv}: {r.stdout}{r.stderr}"
    for name in VALID_SAMPLES:
        r = validate(pyrunc, tmp_path, name[:-5], (SAMPLES / "valid" / name).read_text())
        assert r.returncode == 0, f"{name}: {r.stdout}{r.stderr}"


def test_validate_names_the_path_of_invalid_samples(pyrunc, tmp_path):
    every = sorted((SAMPLES / "invalid").glob("*.json"))
    assert len(every) > 50
    samples = sorted(set(every[::INVALID_EVERY]) | {SAMPLES / "invalid" / n for n in INVALID_ALWAYS})

    def check(sample):
        expect = sample.with_suffix(".expect").read_text().strip()
        r = validate(pyrunc, tmp_path, sample.stem, sample.read_text())
        lines = r.stdout.splitlines()
        if r.returncode != 1 or len(lines) != 1:
            return f"{sample.name}: exit {r.returncode}, {len(lines)} lines: {r.stdout!r}"
        prefix = {"": "config.json: ", "<json>": "config.json: invalid JSON"}.get(
            expect, f"config.json: {expect}: ")
        if not lines[0].startswith(prefix):
            return f"{sample.name}: expected a line starting {prefix!r}, got {lines[0]!r}"
        return None
    with ThreadPoolExecutor(4) as ex:
        problems = [p for p in ex.map(check, samples) if p]
    assert not problems, "\n".join(problems)


def test_validate_lists_every_problem(pyrunc, tmp_path):
    cfg = json.loads((SAMPLES / "valid" / "runc-spec.json").read_text())
    bad = copy.deepcopy(cfg)
    bad["linux"]["namespaces"][2]["type"] = "pidd"
    bad["process"]["cwd"] = "relative/dir"
    bad["hostname"] = 5
    bad["process"]["rlimits"][0]["hard"] = "1024"
    r = validate(pyrunc, tmp_path, "multi", json.dumps(bad, indent="\t"))
    assert r.returncode == 1, r
    lines = r.stdout.splitlines()
    paths = ["hostname", "linux.namespaces[2].type", "process.cwd", "process.rlimits[0].hard"]
    assert len(lines) == len(paths), r.stdout
    for path in paths:
        assert sum(line.startswith(f"config.json: {path}: ") for line in lines) == 1, (path, r.stdout)


# ---- bad input to create ----

def _edit(path, value):
    def edit(cfg):
        node, keys = cfg, re.findall(r"[^.\[\]]+", path)
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        last = keys[-1]
        node[int(last) if isinstance(node, list) else last] = value
    return edit


BAD_CONFIGS = {
    # name: (how to break the bundle, what pyrunc's one line must name)
    "invalid-json": ('{"ociVersion": "1.0.2-dev", "process": {', "config.json: invalid JSON"),
    "missing-config": (None, "config.json not found"),
    "args-not-array": (_edit("process.args", "/probe"), "process.args"),
    "uid-string": (_edit("process.user.uid", "0"), "process.user.uid"),
    "rlimit-hard-string": (_edit("process.rlimits[0].hard", "1024"), "process.rlimits[0].hard"),
    "namespace-pidd": (_edit("linux.namespaces[0].type", "pidd"), "linux.namespaces[0].type"),
    "relative-cwd": (_edit("process.cwd", "tmp"), "process.cwd"),
    "mounts-not-array": (_edit("mounts", {"destination": "/proc"}), "mounts"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_create_with_bad_config_leaves_nothing(runtime, bundle_factory, tmp_path, case):
    breaker, names = BAD_CONFIGS[case]
    bundle = bundle_factory(args=SLEEP)
    if breaker is None:
        (bundle / "config.json").unlink()
    elif isinstance(breaker, str):
        (bundle / "config.json").write_text(breaker)
    else:
        harness.edit_config(bundle, edit=breaker)
    cid = harness.new_id("bad")
    pidfile = tmp_path / "bad.pid"
    r = runtime.create(cid, bundle, "--pid-file", pidfile)
    msg = fails_with(r)
    if runtime.name == "pyrunc":
        assert names in msg, f"the error does not name {names!r}: {msg!r}"
    assert runtime.containers() == [], "a state dir was left under --root"
    assert runtime.list("json") == []
    assert not pidfile.exists()
    fails_with(runtime.cmd("state", cid), "container does not exist")


def test_create_error_in_json_log(runtime, bundle_factory, tmp_path):
    """containerd reports the last error line of its --log as "OCI runtime create failed: <msg>"."""
    bundle = bundle_factory(args=SLEEP)
    harness.edit_config(bundle, edit=_edit("process.cwd", "tmp"))
    log = tmp_path / "create.json"
    r = raw(runtime, "--root", runtime.root, "--log", log, "--log-format", "json",
            "create", "--bundle", bundle, harness.new_id("jlog"))
    assert r.returncode == 1
    lines = log.read_text().splitlines()
    assert lines and JSON_ERROR.fullmatch(lines[-1]), lines
    last = json.loads(lines[-1])
    assert r.stderr == last["msg"] + "\n", f"stderr {r.stderr!r} is not the logged error {last['msg']!r}"
    if runtime.name == "pyrunc":
        assert "process.cwd" in last["msg"]
    assert runtime.containers() == []


@pytest.mark.parametrize("case", ["no-such-binary", "bad-mount"])
def test_create_failing_in_the_child_leaves_nothing(runtime, bundle_factory, tmp_path, case):
    """A failure after the clone (exec lookup, a mount) leaves no state, cgroup or process."""
    if case == "no-such-binary":
        bundle = bundle_factory(args=["/no/such/binary"])
    else:
        bundle = bundle_factory(args=SLEEP, mounts=harness.RUNC_SPEC["mounts"] + [
            {"destination": "/mnt", "type": "bind", "source": str(tmp_path / "missing"),
             "options": ["bind"]}])
    cid = harness.new_id("late")
    r = runtime.create(cid, bundle, "--pid-file", tmp_path / "late.pid")
    fails_with(r)
    assert runtime.containers() == []
    assert runtime.list("json") == []
    assert not (tmp_path / "late.pid").exists()
    harness.reap()
