"""pyrunc on a pure cgroup v2 host: resources, device filter, pause/resume, update,
ps, events (cpu, memory, pids, blkio, hugetlb), kill and delete (--force) of a paused
container, cgroup namespaces and the ro/rw cgroup mount, checked with real containers.

The test host has hybrid cgroups, so the checks run in the qemu guest of
integration/guest/boot.py: ONE boot for the module, in which ONE python process
(integration/guest/cgroups_v2_checks.py, a plain script: pytest's import alone
costs seconds under TCG) runs every container and prints a `CHECK name: ok|FAIL
reason` line per check.  Each check is a test here; a check missing from the
output fails, and so does a guest that exits non-zero.

The host prepares what the guest would otherwise build slowly: the static probe
and a busybox rootfs (harness.make_rootfs) plus the base config, under
/var/tmp/pyrunc-guest-cgroups/<hash>/ (the guest sees the host's root read-only;
its own /tmp starts empty).  Run inside the guest itself (PYRUNC_IN_GUEST=1), the
module runs the checker directly instead of booting another guest.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import harness

GUEST_DIR = Path(__file__).resolve().parent / "guest"
CHECKER = GUEST_DIR / "cgroups_v2_checks.py"
sys.path.insert(0, str(GUEST_DIR))
import boot  # noqa: E402
import cgroups_v2_checks as checks  # noqa: E402

ASSETS = Path("/var/tmp/pyrunc-guest-cgroups")
ASSETS_VERSION = "1"
GUEST_PYTHON = "/usr/bin/python3"
BOOT_TIMEOUT = 300          # a normal run takes 20-60 s; the checker gives up on its steps at 200 s
CHECK_LINE = re.compile(r"^CHECK (\S+): (ok|FAIL)(?: (.*))?$", re.M)


def prepare_assets():
    """The rootfs (busybox + /probe) and base config the guest uses, built once per
    content under ASSETS/<hash>; returns (rootfs, base config path)."""
    probe = harness.build_probe()
    base = json.dumps(harness.base_config(), indent=1, sort_keys=True)
    h = hashlib.sha256(ASSETS_VERSION.encode())
    for part in (probe.read_bytes(), harness.BUSYBOX.read_bytes(), base.encode(),
                 harness.PASSWD.encode(), harness.GROUP.encode()):
        h.update(hashlib.sha256(part).digest())
    out = ASSETS / h.hexdigest()[:16]
    if not (out / "ready").exists():
        ASSETS.mkdir(parents=True, exist_ok=True)
        tmp = ASSETS / f".tmp-{os.getpid()}-{time.monotonic_ns()}"
        try:
            harness.make_rootfs(tmp / "rootfs")
            (tmp / "base.json").write_text(base + "\n")
            (tmp / "ready").write_text("")
            try:
                os.rename(tmp, out)
            except OSError:
                if not (out / "ready").exists():      # not a concurrent build that won
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    for old in ASSETS.iterdir():                      # superseded builds, a day old
        if old != out and time.time() - old.stat().st_mtime > 86400:
            shutil.rmtree(old, ignore_errors=True)
    return out / "rootfs", out / "base.json"


@pytest.fixture(autouse=True)
def no_leaks():
    """Overrides conftest's leak check for this module: these tests change nothing on
    the host (every container lives in the guest), and conftest's scan of the host's
    mounts and cgroups would blame them for other suites' containers running at the
    same time.  What they could leave behind is a process (qemu): that is checked."""
    harness.reap()
    before = {(p.pid, p.start) for p in harness.descendants()}
    yield
    harness.reap()
    left = [p for p in harness.descendants() if (p.pid, p.start) not in before]
    if left:
        harness.kill_procs(left)
        pytest.fail("the test left processes behind: " + ", ".join(f"{p.pid} ({p.comm})" for p in left),
                    pytrace=False)


def parse_checks(output):
    """{name: (ok, reason)} from the CHECK lines; a repeated name is an error."""
    found = {}
    for m in CHECK_LINE.finditer(output):
        name = m.group(1)
        if name in found:
            found[name] = (False, f"reported twice: {found[name]} and {m.groups()[1:]}")
            continue
        found[name] = (m.group(2) == "ok", m.group(3) or "")
    return found


class GuestRun:
    """What one checker run printed: its CHECK lines, TIMING lines and exit code."""

    def __init__(self, exit_code, output, seconds, how):
        self.exit_code = exit_code
        self.output = output
        self.seconds = seconds
        self.how = how
        self.checks = parse_checks(output)
        self.timings = dict((m.group(1), float(m.group(2)))
                            for m in re.finditer(r"^TIMING (\S+) ([\d.]+)$", output, re.M))

    def assert_complete(self, names):
        """Every check of `names` reported, no other, and the checker exited 0."""
        missing = [n for n in names if n not in self.checks]
        unknown = [n for n in self.checks if n not in names]
        assert not missing and not unknown, (
            f"missing checks {missing}, unknown checks {unknown}; output:\n{self.output[-8000:]}")
        assert self.exit_code == 0, (
            f"the checker exited {self.exit_code} ({self.how}); failed: "
            f"{[n for n, (ok, _) in self.checks.items() if not ok]}\noutput:\n{self.output[-8000:]}")

    def assert_check(self, name, extra=""):
        """One check, as its own test: missing or FAIL fails it with the reason."""
        if name not in self.checks:
            pytest.fail(f"check {name} is missing from the guest's output (exit {self.exit_code}):\n"
                        f"{self.output[-6000:]}", pytrace=False)
        ok, reason = self.checks[name]
        if not ok:
            pytest.fail(f"{name}: {reason}{extra}", pytrace=False)


def boot_checker(argv, label, timeout, **boot_kw):
    """Boot the guest once to run a checker script: a GuestRun, or the test fails with
    the console's tail when the guest did not run it to the end."""
    env = {"PYRUNC": os.environ["PYRUNC"]} if os.environ.get("PYRUNC") else None   # as harness.Runtime
    try:
        r = boot.boot(argv, timeout=timeout, env=env, **boot_kw)
    except boot.GuestError as e:
        pytest.fail(f"the {label} did not run the checks: {e}\n--- console (tail) ---\n{e.output[-6000:]}",
                    pytrace=False)
    run = GuestRun(r.exit_code, r.output, r.seconds, label)
    print(f"\n{label}: exit {r.exit_code} after {r.seconds:.1f}s; timings {run.timings}")
    return run


@pytest.fixture(scope="module")
def guest():
    if os.environ.get("PYRUNC_IN_GUEST"):
        # already in the guest: run the checker here (it builds its own rootfs)
        t0 = time.monotonic()
        p = subprocess.run([GUEST_PYTHON, "-S", str(CHECKER)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=BOOT_TIMEOUT)
        return GuestRun(p.returncode, p.stdout, time.monotonic() - t0, "in this guest")
    rootfs, base = prepare_assets()
    argv = [GUEST_PYTHON, "-S", str(CHECKER), "--rootfs", str(rootfs), "--base-config", str(base)]
    return boot_checker(argv, "cgroup v2 guest", BOOT_TIMEOUT)


def test_guest_checker_exits_zero_with_every_check(guest):
    guest.assert_complete(checks.CHECKS)


@pytest.mark.parametrize("name", checks.CHECKS)
def test_cgroup_v2(guest, name):
    guest.assert_check(name)
