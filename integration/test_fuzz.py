"""Fuzzing (issue 7): config.json generated from the project's JSON Schema and mutated
(integration/fuzz_strategies.py), run through the real `pyrunc` command.

Every case: `create` exits 0, or 1 with one error line and never a traceback or an
"internal error" (main's catch-all for an unexpected exception); never another exit
status, never a hang (PYRUNC_FUZZ_TIMEOUT, 20 s). Warnings may come before the error
line, each a line of its own. The log flags vary per case: the text format on stderr
(mostly), with --debug, or --log FILE --log-format json as containerd and podman pass
it (every log line a JSON object, the error once more as one plain line on stderr). A
created container answers `state` as "created", then `start` (0, or 1 with one line)
and `delete --force` (0) remove it. After each case nothing is left: no state dir, no
cgroup whose name holds the id, no mount under the module's tmp dir, no process below
pytest, and the shared rootfs is as it was (it is rebuilt when a case only added
mount points or device nodes to it; a changed file or directory fails the case).

Cases are made safe for the host by fuzz_strategies.sanitize() (no host paths as root
or bind sources, no remount of shared superblocks, no host namespace joins, no busybox
applets run with random arguments, cgroupsPath under the case's id, ...).

Normal run: a few hundred cases (PYRUNC_FUZZ_EXAMPLES, default 300, about 40 s), the same
ones every run (derandomized: a suite run, and CI, must not turn red on a case nobody
changed code for).  The long run draws new cases every time (PYRUNC_FUZZ_RANDOM=1),
10,000 in about 20 minutes:

    PYRUNC_FUZZ_RANDOM=1 PYRUNC_FUZZ_EXAMPLES=10000 /opt/pyrunc/bin/python -m pytest -q -p no:cacheprovider integration/test_fuzz.py

A failure shows the case as its changes from the base config, every command's exit
status and output, and for an internal error the traceback of a --debug rerun;
Hypothesis then shrinks it. PYRUNC_FUZZ_FINDINGS=DIR also saves each failing case's
config.json (runnable: root.path "rootfs") and report there. PYRUNC_FUZZ_COLLECT=1 keeps
going after a failure: each new kind of failure is minimized (reverting changes from
the base config while it still fails the same way), saved, and all are reported at the
end, instead of Hypothesis stopping at the first. PYRUNC_FUZZ_VALID_ONLY=1 draws only
schema-generated values (and plain JSON), to reach the shim more often. With -s the
run prints how cases ended and create's most frequent errors.
"""
import copy
import json
import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import fuzz_strategies as fz
import harness

EXAMPLES = int(os.environ.get("PYRUNC_FUZZ_EXAMPLES", "300"))
TIMEOUT = float(os.environ.get("PYRUNC_FUZZ_TIMEOUT", "20"))
FINDINGS = os.environ.get("PYRUNC_FUZZ_FINDINGS")
COLLECT = os.environ.get("PYRUNC_FUZZ_COLLECT", "") not in ("", "0")
VALID_ONLY = os.environ.get("PYRUNC_FUZZ_VALID_ONLY", "") not in ("", "0")
RANDOM = os.environ.get("PYRUNC_FUZZ_RANDOM", "") not in ("", "0")
BASE = fz.base_config(harness.base_config())

# logrus text lines, as pyrunc's log.format_line writes them
LOG_LINE = re.compile(r'^time=(?:"[^"]*"|\S+) level=(\w+) msg=(.*)$')


# ---- the sandbox: the shared rootfs and everything a case may touch on the host ----

class Sandbox:
    """<top>/sandbox: rootfs, dir, file, link-dir -> dir, bundle/{srcdir,srcfile}; the
    runtime's root and io files under <top>/rt, outside the sandbox."""

    def __init__(self, top):
        self.top = Path(top)
        self.path = self.top / "sandbox"
        self.rootfs = self.path / "rootfs"
        self.bundle = self.path / "bundle"
        self.rt = harness.Runtime("pyrunc", self.top / "rt")
        self.build()

    def build(self):
        if self.path.exists():
            shutil.rmtree(self.path)
        harness.make_rootfs(self.rootfs)
        (self.path / "dir").mkdir()
        (self.path / "dir" / "inside").write_text("x\n")
        (self.path / "file").write_text("file\n")
        (self.path / "link-dir").symlink_to("dir")
        (self.bundle / "srcdir").mkdir(parents=True)
        (self.bundle / "srcfile").write_text("srcfile\n")
        self.pristine = self.listing()

    def listing(self):
        """What must not change: every entry's type, mode, owner and link target; a
        regular file's size, mtime and inode too."""
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.path):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                rel = os.path.relpath(p, self.path)
                if rel == "bundle/config.json":
                    continue
                try:
                    s = os.lstat(p)
                except OSError:
                    continue
                key = (s.st_mode, s.st_uid, s.st_gid)
                if stat.S_ISREG(s.st_mode):
                    key += (s.st_size, s.st_mtime_ns, s.st_ino)
                elif stat.S_ISLNK(s.st_mode):
                    key += (os.readlink(p),)
                out[rel] = key
        return out

    def check_and_reset(self):
        """None if untouched; else rebuild, and return what changed in an existing entry
        ("" when the case only added entries: mount points, devices, a cwd)."""
        now = self.listing()
        if now == self.pristine:
            return None
        changed = ["%s: %r -> %r" % (k, v, now.get(k, "(gone)")) for k, v in sorted(self.pristine.items())
                   if now.get(k) != v]
        self.build()
        return "\n".join(changed)

    def context(self, cid):
        return fz.Context(cid, self.rootfs, self.path, self.bundle)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("integration tests need root", pytrace=False)
    return Sandbox(tmp_path_factory.mktemp("fuzz"))


# ---- one case ----

def cgroups_of(cid):
    """Cgroup directories whose name holds the id (cgroupsPath puts it in the first
    component of every path the fuzz makes)."""
    found = set()
    for hierarchy in harness.CGROUP_ROOT.iterdir() if harness.CGROUP_ROOT.is_dir() else ():
        if hierarchy.is_symlink() or not hierarchy.is_dir():
            continue
        base = len(hierarchy.parts)
        for dirpath, dirnames, _ in os.walk(hierarchy):
            if len(Path(dirpath).parts) - base >= 6:
                dirnames[:] = []
            for d in dirnames:
                if cid in d:
                    found.add(os.path.join(dirpath, d))
    return found


def check_output(verb, r, expect_ok=False, logmode=("text", False), logtext=""):
    """Problems with one command's exit status, stderr and (with --log) its log lines.

    Text log format: stderr holds logrus lines (`time=... level=... msg=...`), exactly
    one at level error when the exit status is 1, warnings (and debug with --debug)
    besides.  JSON log format to a file (containerd's and podman's way): the file gets
    one JSON object per line, with the same rule for levels, and stderr holds just the
    error's message, one line."""
    fmt, debug = logmode
    allowed = ("error", "warning", "debug") if debug else ("error", "warning")
    problems = []
    stderr = r.stderr
    if debug and "internal error" in stderr:
        # --debug prints the traceback of an internal error after its line: that one
        # is by design; the internal error is the problem reported
        cut = stderr.find("Traceback (most recent call last):", stderr.find("internal error"))
        stderr = stderr if cut < 0 else stderr[:cut]
    if r.returncode not in ((0,) if expect_ok else (0, 1)):
        problems.append("%s: exit status %s" % (verb, r.returncode))
    for text, name in ((stderr, "stderr"), (r.stdout, "stdout"), (logtext, "the log")):
        if "Traceback" in text:
            problems.append("%s: a traceback on %s" % (verb, name))
    levels, msgs = [], []
    lines = [line for line in stderr.split("\n") if line.strip()]
    if fmt == "json":
        for line in logtext.split("\n"):
            if not line:
                continue
            try:
                entry = json.loads(line)
                levels.append(entry["level"])
                msgs.append(entry["msg"])
                if not isinstance(entry["msg"], str) or not isinstance(entry["time"], str):
                    raise TypeError("msg and time must be strings")
            except (ValueError, KeyError, TypeError) as e:
                problems.append("%s: log line is not a JSON log entry (%s): %r" % (verb, e, line[:300]))
        if len(lines) != (1 if r.returncode == 1 else 0):
            problems.append("%s: exit %s with %d stderr lines beside the JSON log: %r"
                            % (verb, r.returncode, len(lines), lines[:3]))
        msgs += lines
    else:
        for line in lines:
            m = LOG_LINE.match(line)
            if not m:
                problems.append("%s: stderr line is not a log line: %r" % (verb, line[:300]))
                continue
            levels.append(m.group(1))
            msgs.append(m.group(2).lstrip('"'))
    if any(m.startswith("internal error") for m in msgs):
        problems.append("%s: internal error (an unexpected exception)" % verb)
    for level in sorted(set(levels) - set(allowed)):
        problems.append("%s: unexpected log level %s" % (verb, level))
    if r.returncode == 1 and levels.count("error") != 1:
        problems.append("%s: exit 1 with %d error lines (want exactly one)" % (verb, levels.count("error")))
    if r.returncode == 0 and "error" in levels:
        problems.append("%s: exit 0 but an error line" % verb)
    return problems


class Outcome:
    def __init__(self, cid, data):
        self.cid = cid
        self.data = data
        self.steps = []       # (verb, CompletedProcess or message)
        self.problems = []
        self.debug = ""       # `--debug create` output when create hit an internal error
        self.logmode = ("text", False)

    def signature(self):
        """What kind of failure: the problems without ids, paths and numbers, plus where
        a traceback (on stderr, or from the --debug rerun of an internal error) ends."""
        sig = set()
        for p in self.problems:
            p = p.replace(self.cid, "ID")
            if "stderr line is not a log line" in p:
                p = p.split(":")[0] + ": stderr lines that are not log lines"
            p = re.sub(r"/[^ ]*/(rt|sandbox)/[^ ]*", "PATH", p.split(":\n")[0])
            sig.add(re.sub(r"\d+", "N", p)[:120])
        texts = [self.debug] + [r.stderr for _, r in self.steps if not isinstance(r, str) and "Traceback" in r.stderr]
        for text in texts:
            where = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', text)
            if where:
                f, line, fn = where[-1]
                last = [x for x in text.strip().splitlines() if re.match(r"^[\w.]+(Error|Exception)\b", x)]
                exc = last[-1].split(":")[0] if last else "?"
                sig.add("%s at %s:%s (%s)" % (exc, f.split("site-packages/")[-1], line, fn))
        return tuple(sorted(sig))

    def report(self):
        out = ["log format %s%s" % (self.logmode[0], ", --debug" if self.logmode[1] else ""), "problems:"]
        out += ["  " + p for p in self.problems]
        for verb, r in self.steps:
            if isinstance(r, str):
                out.append("%s: %s" % (verb, r))
            else:
                out.append("%s: exit %s\n  stderr: %s\n  stdout: %s" % (verb, r.returncode, r.stderr.strip()[:3000],
                                                                       r.stdout.strip()[:500]))
        if self.debug:
            out.append("--debug create:\n" + self.debug[-4000:])
        return "\n".join(out)


STATS = {}
ERRORS = {}     # create's error messages (cut), to see where cases stop


def _event(text):
    STATS[text] = STATS.get(text, 0) + 1
    try:
        event(text)
    except Exception:   # outside a Hypothesis test
        pass


LOG_MODES = [("text", False)] * 6 + [("text", True), ("json", False), ("json", True)]


def _cmd(sandbox, outcome, verb, *argv, logmode=("text", False)):
    """One pyrunc command with the case's log flags; None (and a problem) if it hangs.
    `create` gets files for the container's stdio (harness: a detached init must not
    hold a pipe open)."""
    rt, cid = sandbox.rt, outcome.cid
    fmt, debug = logmode
    flags = ["--debug"] if debug else []
    logfile = sandbox.top / "logs" / (cid + ".log")
    if fmt == "json":
        logfile.parent.mkdir(exist_ok=True)
        flags += ["--log", str(logfile), "--log-format", "json"]
    start = logfile.stat().st_size if logfile.exists() else 0
    try:
        r = rt.cmd(*flags, verb, *argv, timeout=TIMEOUT, io=rt._io(cid) if verb == "create" else None)
    except harness.HarnessError as e:
        outcome.steps.append((verb, str(e)[:2000]))
        outcome.problems.append("%s: hung (no exit within %ss)" % (verb, TIMEOUT))
        return None
    logtext = ""
    if logfile.exists():
        with open(logfile, "rb") as f:
            f.seek(start)
            logtext = f.read().decode("utf-8", "replace")
    outcome.steps.append((verb, r))
    if logtext:
        outcome.steps.append(("  (its log)", logtext[-3000:]))
    outcome.problems += check_output(verb if verb != "delete" else "delete --force", r,
                                     expect_ok=verb in ("state", "delete"), logmode=logmode, logtext=logtext)
    return r


def _umount_under(top):
    for _, mp in sorted(harness._mounts(top), key=lambda m: -len(m[1])):
        subprocess.run(["umount", "-l", mp], capture_output=True)


def run_case(sandbox, cfg, how, logmode=("text", False), debug_on_internal=True):
    """Write the case's config.json, create/state/start/delete it, check everything;
    returns an Outcome (problems empty when all is well)."""
    cid = harness.new_id("fz")
    doc = fz.sanitize(cfg, sandbox.context(cid))
    data = fz.encode(doc, how)
    (sandbox.bundle / "config.json").write_bytes(data)
    outcome = Outcome(cid, data)
    outcome.logmode = logmode
    rt = sandbox.rt
    harness.reap()
    before = harness.snapshot(sandbox.top, [rt.root], names={cid})
    try:
        r = _cmd(sandbox, outcome, "create", "--bundle", sandbox.bundle, cid, logmode=logmode)
        if r is not None:
            _event("create exit %s" % r.returncode)
            if r.returncode == 1:
                msg = r.stderr.strip().splitlines()[-1:] or [""]
                msg = re.sub(r"\d+", "N", re.sub(r'^.*?msg="?|create container \\?"[^"\\]*\\?": ', "", msg[0]))
                ERRORS[msg[:70]] = ERRORS.get(msg[:70], 0) + 1
        if r is not None and r.returncode == 0:
            s = _cmd(sandbox, outcome, "state", cid, logmode=logmode)
            if s is not None and s.returncode == 0:
                try:
                    status = json.loads(s.stdout)["status"]
                except (ValueError, KeyError, TypeError):
                    status = "unparsable: %r" % s.stdout[:200]
                if status != "created":
                    outcome.problems.append("state: status %r after create, want \"created\"" % status)
            s = _cmd(sandbox, outcome, "start", cid, logmode=logmode)
            if s is not None:
                _event("start exit %s" % s.returncode)
            _cmd(sandbox, outcome, "delete", "--force", cid, logmode=logmode)
    finally:
        _check_leaks(sandbox, outcome, before)
        logfile = sandbox.top / "logs" / (cid + ".log")
        if logfile.exists():
            logfile.unlink()
    if debug_on_internal and any("internal error" in p for p in outcome.problems):
        outcome.debug = _debug_create(sandbox, cfg, how)
    return outcome


def _check_leaks(sandbox, outcome, before):
    rt, cid = sandbox.rt, outcome.cid
    if cid in rt.containers():
        rt.delete(cid, force=True, timeout=TIMEOUT)     # state dirs are reported below, from `before`
    leaked = None
    deadline = time.monotonic() + 2
    while True:
        harness.reap()
        leaked = harness.leaks(before, harness.snapshot(sandbox.top, [rt.root], names={cid}))
        cgroups = cgroups_of(cid)
        # a process SIGKILLed by delete may take a moment to become a zombie we can reap
        if not leaked.procs or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if any(leaked) or cgroups:
        outcome.problems.append("left behind:\n" + harness.describe(leaked) +
                                "".join("\n  cgroup %s" % c for c in sorted(cgroups - leaked.cgroups)))
        harness.kill_procs(leaked.procs)
        _umount_under(sandbox.top)
        harness.remove_cgroups(cgroups | set(leaked.cgroups))
        for s in leaked.states:
            shutil.rmtree(s, ignore_errors=True)
    changed = sandbox.check_and_reset()
    if changed:
        outcome.problems.append("changed the shared rootfs/sandbox:\n" + changed)
    if changed is not None:
        _event("sandbox rebuilt")
    for p in rt._io(cid):
        if p.exists():
            p.unlink()


def _debug_create(sandbox, cfg, how):
    """The traceback behind an internal error: the same case with --debug (a new id)."""
    cid = harness.new_id("fzdbg")
    data = fz.encode(fz.sanitize(cfg, sandbox.context(cid)), how)
    (sandbox.bundle / "config.json").write_bytes(data)
    rt = sandbox.rt
    before = harness.snapshot(sandbox.top, [rt.root], names={cid})
    try:
        r = rt.cmd("--debug", "create", "--bundle", sandbox.bundle, cid, timeout=TIMEOUT)
        text = r.stderr
    except harness.HarnessError as e:
        text = str(e)
    scratch = Outcome(cid, data)
    _check_leaks(sandbox, scratch, before)
    return text


# ---- reporting ----

def describe_case(cfg, how, outcome):
    lines = ["case %s, encoding %r" % (outcome.cid, how)]
    if how[0] == "json" and isinstance(cfg, dict):
        lines.append("config = the base config (fuzz_strategies.base_config) with:")
        lines += ["  " + d for d in fz.diff(BASE, cfg)] or ["  (no changes)"]
    else:
        lines.append("config.json bytes (%d): %r" % (len(outcome.data), outcome.data[:2000]))
    lines.append(outcome.report())
    path = save_finding(cfg, how, outcome)
    if path:
        lines.append("saved: %s" % path)
    return "\n".join(lines)


def save_finding(cfg, how, outcome, directory=FINDINGS):
    """The case as a config.json anyone can run: @ROOTFS@ -> "rootfs" (a bundle's own),
    @CID@ -> "fuzzcid", @SANDBOX@ -> /tmp/fuzz-sandbox; bytes as they were for byte
    mutations."""
    if not directory:
        return None
    os.makedirs(directory, exist_ok=True)
    name = "finding-%s" % outcome.cid
    subst = {fz.ROOTFS: "rootfs", fz.CID: "fuzzcid", fz.SANDBOX: "/tmp/fuzz-sandbox", fz.BUNDLE: "."}
    data = fz.encode(fz._fill(cfg, subst), how)
    path = os.path.join(directory, name + (".json" if how[0] == "json" else ".bin"))
    with open(path, "wb") as f:
        f.write(data)
    with open(os.path.join(directory, name + ".txt"), "w") as f:
        f.write("signature: %r\n\n%s\n" % (outcome.signature(), outcome.report()))
    return path


def minimize(sandbox, cfg, how, logmode, signature, budget=80):
    """Revert the case's changes from the base config one by one while it still fails
    with the same signature; then drop list items and keys inside what is left."""
    if not isinstance(cfg, dict):
        return cfg
    runs = [0]

    def still_fails(candidate):
        if runs[0] >= budget:
            return False
        runs[0] += 1
        o = run_case(sandbox, candidate, how, logmode)
        return o.problems and o.signature() == signature

    def candidates(base, doc, loc=()):
        if isinstance(base, dict) and isinstance(doc, dict):
            for k in list(doc):
                if k not in base:
                    yield loc + (k,), None
                elif base[k] != doc[k]:
                    yield from candidates(base[k], doc[k], loc + (k,))
            for k in base:
                if k not in doc:
                    yield loc + (k,), ("restore", base[k])
        elif isinstance(doc, (dict, list)) and doc:
            yield loc, ("restore", base)
            keys = list(doc) if isinstance(doc, dict) else list(range(len(doc) - 1, -1, -1))
            for k in keys:
                yield loc + (k,), None
        else:
            yield loc, ("restore", base)

    cur = cfg
    progress = True
    while progress and runs[0] < budget:
        progress = False
        for loc, action in list(candidates(BASE, cur)):
            trial = copy.deepcopy(cur)
            try:
                if action is None:
                    fz.delete_at(trial, loc)
                else:
                    trial = fz.set_at(trial, loc, copy.deepcopy(action[1]))
            except (KeyError, IndexError, TypeError):
                continue
            if still_fails(trial):
                cur = trial
                progress = True
                break
    return cur


# ---- the tests ----

def test_base_case_runs(sandbox):
    """The unmutated base config goes all the way: create, state, start and delete exit 0."""
    outcome = run_case(sandbox, BASE, ("json",))
    assert not outcome.problems, describe_case(BASE, ("json",), outcome)
    assert [r.returncode for _, r in outcome.steps if not isinstance(r, str)] == [0, 0, 0, 0], outcome.report()


def test_fuzz_create_start_delete(sandbox):
    findings = {}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not RANDOM, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                     HealthCheck.large_base_example, HealthCheck.function_scoped_fixture])
    @given(cfg=fz.configs(BASE, VALID_ONLY), how=fz.encodings(VALID_ONLY), logmode=st.sampled_from(LOG_MODES))
    def case(cfg, how, logmode):
        outcome = run_case(sandbox, cfg, how, logmode)
        if not outcome.problems:
            return
        if not COLLECT:
            raise AssertionError(describe_case(cfg, how, outcome))
        sig = outcome.signature()
        if sig in findings:
            findings[sig][0] += 1
            return
        # a hang costs PYRUNC_FUZZ_TIMEOUT per try: not worth minimizing
        small = cfg if any("hung" in x for x in sig) else minimize(sandbox, cfg, how, logmode, sig)
        final = run_case(sandbox, small, how, logmode)
        if not final.problems or final.signature() != sig:
            small, final = cfg, outcome
        findings[sig] = [1, describe_case(small, how, final)]

    case()
    print("\nfuzz outcomes: " + ", ".join("%s: %d" % kv for kv in sorted(STATS.items())))
    print("most frequent create errors:\n  " + "\n  ".join(
        "%5d %s" % (n, m) for m, n in sorted(ERRORS.items(), key=lambda kv: -kv[1])[:25]))
    if findings:
        pytest.fail("%d kinds of failure:\n\n" % len(findings) + "\n\n".join(
            "=== seen %d times: %s\n%s" % (n, "; ".join(sig), text) for sig, (n, text) in findings.items()),
            pytrace=False)
