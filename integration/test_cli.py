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
# every verb of runc 1.1.5 (`runc --help`), checkpoint apart: its --help exits 0 only where CRIU works
# (test_checkpoint.py)
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


def assert_left_nothing(rt, before, tmp_path, cid, pidfile=None):
    """After a failed create/run: no state dir, cgroup, mount or process, and `cid` is unknown."""
    harness.reap()
    harness.assert_no_leaks(before, harness.snapshot(tmp_path, [rt.root]))
    assert rt.containers() == [], f"{rt.name} left a state dir under --root"
    assert rt.list("json") == []
    fails_with(rt.cmd("state", cid), "container does not exist")
    if pidfile is not None:
        assert not pidfile.exists(), f"{rt.name} wrote the pid file of a container that failed"


def create_or_run(rt, verb, cid, bundle, *extra, flags=()):
    """`[flags] create|run --bundle B [extra] ID` (run in the foreground), output in the io files."""
    return rt.cmd(*flags, verb, "--bundle", bundle, *extra, cid, io=rt._io(cid))


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


# pyrunc refuses this (no systemd driver); runc 1.1.5 refuses --systemd-cgroup only where
# systemd is not PID 1
SYSTEMD_RUNNING = os.path.isdir("/run/systemd/system")
REFUSED = {
    "systemd-cgroup": (["--systemd-cgroup"], "systemd"),
}


@pytest.mark.parametrize("verb", ["create", "run"])
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unsupported_global_flags_refused_leaving_nothing(pyrunc, bundle_factory, tmp_path, case, verb):
    flags, names = REFUSED[case]
    bundle = bundle_factory(args=["/probe", "exit", "0"] if verb == "run" else SLEEP)
    before = harness.snapshot(tmp_path, [pyrunc.root])
    cid = harness.new_id("refuse")
    pidfile = tmp_path / "refused.pid"
    r = create_or_run(pyrunc, verb, cid, bundle, "--pid-file", pidfile, flags=flags)
    msg = fails_with(r)
    assert names in msg, f"the error does not name {names!r}: {msg!r}"
    assert r.stdout == ""
    assert_left_nothing(pyrunc, before, tmp_path, cid, pidfile)


def test_systemd_cgroup_without_systemd_fails_under_runc_too(runc, bundle_factory, tmp_path):
    """The same one-line refusal from runc, on a host (like the test machines) without systemd."""
    assert not SYSTEMD_RUNNING, "systemd is PID 1 here: runc would run this container"
    before = harness.snapshot(tmp_path, [runc.root])
    cid = harness.new_id("refuse")
    r = create_or_run(runc, "create", cid, bundle_factory(args=SLEEP), flags=["--systemd-cgroup"])
    assert "systemd not running" in fails_with(r)
    assert_left_nothing(runc, before, tmp_path, cid)


@pytest.mark.parametrize("flags", [["--rootless", "false"], ["--rootless=false"], ["--rootless", "auto"],
                                   ["--rootless=auto"], ["-rootless", "false"], ["--rootless", "true"],
                                   ["--rootless=true"]],
                         ids=["false", "=false", "auto", "=auto", "single-dash-false", "true", "=true"])
def test_rootless_false_and_auto_run_the_container(runtime, bundle_factory, tmp_path, flags):
    """As root false and auto mean "not rootless": create parks an init in its cgroup, run
    runs. true asks for the rootless cgroup manager, which root's rights let make every
    cgroup: the same container (runc 1.1.5 runs it too)."""
    before = harness.snapshot(tmp_path, [runtime.root])
    cid = harness.new_id("rootless")
    r = create_or_run(runtime, "create", cid, bundle_factory(args=SLEEP), flags=flags)
    assert (r.returncode, r.stderr) == (0, ""), f"{flags} create: {r}"
    st = runtime.state(cid)
    assert st["status"] == "created"
    harness.reap_later(st["pid"])
    during = harness.leaks(before, harness.snapshot(tmp_path, [runtime.root]))
    assert {p.pid for p in during.procs} == {st["pid"]}, harness.describe(during)
    assert [Path(s).name for s in during.states] == [cid]
    assert any(Path(c).name == cid for c in during.cgroups), f"no cgroup named {cid}: {during.cgroups}"
    assert runtime.cmd(*flags, "start", cid).returncode == 0
    assert runtime.state(cid)["status"] == "running"
    assert runtime.cmd(*flags, "delete", "--force", cid).returncode == 0

    run_id = harness.new_id("rootless")
    r = create_or_run(runtime, "run", run_id, bundle_factory(args=["/probe", "exit", "7"]), flags=flags)
    assert (r.returncode, r.stderr) == (7, ""), f"{flags} run: {r}"
    harness.wait_for(lambda: all(p.state == "Z" or harness.proc_stat(p.pid) is None
                                 for p in harness.leaks(before, harness.snapshot()).procs),
                     what="the killed init to exit")
    harness.reap()
    harness.assert_no_leaks(before, harness.snapshot(tmp_path, [runtime.root]))


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
        harness.reap_later(rt.state(running)["pid"])
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


HELP_SECTIONS = ["NAME", "USAGE", "VERSION", "COMMANDS", "GLOBAL OPTIONS"]


def help_sections(text):
    """{section: [its lines]} of urfave/cli's app help, sections in the order printed."""
    out, current = {}, None
    for line in text.splitlines():
        m = re.fullmatch(r"([A-Z][A-Z ]*):", line)
        if m:
            current = out.setdefault(m.group(1), [])
        elif current is not None and line:
            current.append(line)
    return out


def help_commands(lines):
    """COMMANDS lines -> {name or alias: description}."""
    out = {}
    for line in lines:
        names, _, desc = line.strip().partition("  ")
        for name in names.split(", "):
            out[name] = desc.strip()
    return out


def help_flags(lines):
    """GLOBAL OPTIONS lines -> set of flag names ("--root", "-h", ...)."""
    return {name.split()[0] for line in lines for name in line.strip().split("  ")[0].split(", ")}


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["help"], ["h"], []],
                         ids=["--help", "-h", "help", "h", "no-args"])
def test_global_help(runtime, argv):
    """No verb: the app help on stdout, exit 0, urfave/cli's sections with runc's verbs."""
    r = raw(runtime, *argv)
    prog = Path(runtime.binary).name
    assert r.returncode == 0, f"{argv}: exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert r.stderr == "", f"{argv}: stderr {r.stderr!r}"
    assert r.stdout.startswith(f"NAME:\n   {prog} - "), r.stdout[:200]
    sections = help_sections(r.stdout)
    assert list(sections) == HELP_SECTIONS, f"{argv}: sections {list(sections)}"
    assert sections["USAGE"] == [f"   {prog} [global options] command [command options] [arguments...]"]
    commands = help_commands(sections["COMMANDS"])
    missing = [v for v in RUNC_VERBS + ["help", "h"] if v not in commands]
    assert not missing, f"{argv}: COMMANDS does not list {missing}:\n{r.stdout}"
    assert all(commands[v] for v in RUNC_VERBS), f"a verb without a description:\n{r.stdout}"
    flags = help_flags(sections["GLOBAL OPTIONS"])
    expected = {"--debug", "--log", "--log-format", "--root", "--systemd-cgroup", "--rootless",
                "--help", "-h", "--version", "-v"}
    assert expected <= flags, f"{argv}: GLOBAL OPTIONS lacks {sorted(expected - flags)}"
    assert raw(runtime, "--help").stdout == r.stdout, "the forms of global help print different text"


def test_global_help_has_runcs_shape(runc, pyrunc):
    """pyrunc's app help has runc's sections, verbs (with runc's descriptions) and global flags."""
    ours, theirs = (help_sections(raw(rt, "--help").stdout) for rt in (pyrunc, runc))
    assert list(ours) == list(theirs)
    our_cmds, their_cmds = help_commands(ours["COMMANDS"]), help_commands(theirs["COMMANDS"])
    assert set(their_cmds) == set(RUNC_VERBS) | {"checkpoint", "help", "h"}, "runc's help did not parse"
    missing = sorted(set(their_cmds) - set(our_cmds))
    assert not missing, f"pyrunc --help does not list runc's commands {missing}"
    # runc's own wording, "runc" apart (list: "lists containers started by runc ...")
    differ = {v: (our_cmds[v], d) for v, d in their_cmds.items()
              if our_cmds[v].replace("pyrunc", "runc") != d}
    assert not differ, f"descriptions differ from runc's (pyrunc, runc): {differ}"
    # --criu is runc's CRIU binary: pyrunc accepts it, hidden (it finds criu in $PATH)
    missing = sorted(help_flags(theirs["GLOBAL OPTIONS"]) - help_flags(ours["GLOBAL OPTIONS"]) - {"--criu"})
    assert not missing, f"pyrunc --help does not list runc's global flags {missing}"


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


MISSING_SOURCE = "/no/such/dir"
CHILD_FAILURES = {
    # name: (bundle fields, what both runtimes' one line must contain)
    "no-such-binary": (dict(args=["/no/such/binary"]),
                       ["/no/such/binary", "no such file or directory"]),
    "bad-mount": (dict(args=SLEEP, mounts=harness.RUNC_SPEC["mounts"] + [
        {"destination": "/mnt", "type": "bind", "source": MISSING_SOURCE, "options": ["bind"]}]),
        ["mount", MISSING_SOURCE, '"/mnt"', "no such file or directory"]),
}


@pytest.mark.parametrize("verb", ["create", "run"])
@pytest.mark.parametrize("case", sorted(CHILD_FAILURES))
def test_create_failing_in_the_child_leaves_nothing(runtime, bundle_factory, tmp_path, case, verb):
    """A failure after the clone (exec lookup, a mount) is one line naming the step, the
    path and the errno, and leaves no state, cgroup, mount or process."""
    assert not os.path.lexists(MISSING_SOURCE)
    fields, names = CHILD_FAILURES[case]
    bundle = bundle_factory(**fields)
    before = harness.snapshot(tmp_path, [runtime.root])
    cid = harness.new_id("late")
    pidfile = tmp_path / "late.pid"
    r = create_or_run(runtime, verb, cid, bundle, "--pid-file", pidfile)
    msg = fails_with(r)
    missing = [n for n in names if n not in msg]
    assert not missing, f"{runtime.name}: the error does not name {missing}: {msg!r}"
    assert msg.endswith("no such file or directory"), f"the errno is not the last word: {msg!r}"
    assert_left_nothing(runtime, before, tmp_path, cid, pidfile)


# process.cwd that is a regular file: runc (and pyrunc) first mkdir -p the cwd inside the
# rootfs, and that is the step that fails with ENOTDIR
# (verb, process.cwd, the component that is not a directory): the error names the one
# (runc, as Go's MkdirAll reports it) or the cwd itself (pyrunc, as mkdir(2) was called)
BAD_CWDS = [("create", "/etc/passwd", "/etc/passwd"), ("run", "/probe", "/probe"),
            ("create", "/etc/passwd/sub", "/etc/passwd")]


@pytest.mark.parametrize("verb,cwd,named", BAD_CWDS, ids=["create-passwd", "run-probe", "create-under-a-file"])
def test_cwd_that_is_a_file_fails_in_the_child(runc, pyrunc, bundle_factory, tmp_path, verb, cwd, named):
    msgs = {}
    for rt in (runc, pyrunc):
        bundle = bundle_factory(args=SLEEP if verb == "create" else ["/probe", "exit", "0"],
                                process={"cwd": cwd})
        assert (bundle / "rootfs" / "etc" / "passwd").is_file() and (bundle / "rootfs" / "probe").is_file()
        before = harness.snapshot(tmp_path, [rt.root])
        cid = harness.new_id("dir")
        pidfile = tmp_path / f"cwd-{rt.name}.pid"
        r = create_or_run(rt, verb, cid, bundle, "--pid-file", pidfile)
        msg = msgs[rt.name] = fails_with(r).replace(cid, "ID")
        assert msg.endswith(": not a directory"), f"{rt.name}: {msg!r}"
        assert any(re.search(r'[ "]%s"?: not a directory$' % re.escape(path), msg) for path in {cwd, named}), \
            f"{rt.name}: the error does not name {named!r} or {cwd!r}: {msg!r}"
        assert_left_nothing(rt, before, tmp_path, cid, pidfile)
    # the line must say that the failing step is the process's cwd: a bare `mkdir "<path>"`
    # reads like any mount point's
    assert re.search(r"\bc(wd|hdir)\b", msgs["pyrunc"]), \
        f"pyrunc's error does not say the step is the cwd: {msgs['pyrunc']!r} (runc: {msgs['runc']!r})"
