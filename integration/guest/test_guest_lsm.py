"""AppArmor and SELinux labels applied for real: the qemu guest boots Debian's kernel once
with AppArmor and once with SELinux (Debian's default policy, permissive), and ONE plain
python process per boot (integration/guest/lsm_checks.py) runs the same containers under
runc and pyrunc and prints a `CHECK name: ok|FAIL reason` line per check; each check is
a test here. What is checked is in lsm_checks.py's docstring: the init's and an exec's
/proc/self/attr/current, a write the profile denies, the mount context of each mount,
the error for a profile that is not loaded, and `features`; in the AppArmor boot also
Podman (Debian's 4.3) with its own default profile, next to runc.

The packages come from the host, which the guest sees: Debian's `apparmor`
(apparmor_parser) and `selinux-policy-default` with `policycoreutils` (load_policy),
and podman with conmon for the AppArmor boot; they are installed on the host when
missing. The rootfs and base config are made on the host
(test_cgroups_v2.prepare_assets); the guest makes podman's image from that rootfs. The
SELinux boot and its checks take 40-90 s, the AppArmor one 2-4 min (podman under TCG; more on a loaded machine).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

GUEST_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(GUEST_DIR))
import boot  # noqa: E402
import lsm_checks  # noqa: E402
from engines import common  # noqa: E402
from test_cgroups_v2 import GuestRun, no_leaks, prepare_assets  # noqa: E402,F401  (no_leaks: the fixture)

GUEST_PYTHON = "/usr/bin/python3"
BOOT_TIMEOUT = {"apparmor": 540, "selinux": 240}   # the checker gives up on its steps at lsm_checks.BUDGET
PACKAGES = {"apparmor_parser": "apparmor", "load_policy": "policycoreutils"}
POLICY = Path("/etc/selinux/default/policy")
KERNEL_ARGS = {"apparmor": ["apparmor=1", "security=apparmor"], "selinux": ["security=selinux", "selinux=1"]}


def ensure_packages(lsm):
    if lsm == "apparmor":
        common.ensure_packages({"podman": "podman", "conmon": "conmon"})
    want = [pkg for tool, pkg in PACKAGES.items() if shutil.which(tool, path="/usr/sbin:/sbin") is None]
    if not POLICY.is_dir():
        want.append("selinux-policy-default")
    if want:
        r = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *want],
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"apt-get install {' '.join(want)}: {r.stderr[-2000:]}"


def boot_checks(lsm):
    if os.environ.get("PYRUNC_IN_GUEST"):
        pytest.fail("this module boots its own guests: run it on the host", pytrace=False)
    ensure_packages(lsm)
    rootfs, base = prepare_assets()
    argv = [GUEST_PYTHON, "-S", str(GUEST_DIR / "lsm_checks.py"), lsm, str(rootfs), str(base)]
    env = {"PYRUNC": os.environ["PYRUNC"]} if os.environ.get("PYRUNC") else None   # as harness.Runtime
    try:
        r = boot.boot(argv, timeout=BOOT_TIMEOUT[lsm], env=env, kernel_args=KERNEL_ARGS[lsm])
    except boot.GuestError as e:
        pytest.fail(f"the {lsm} guest did not run the checks: {e}\n--- console (tail) ---\n{e.output[-6000:]}",
                    pytrace=False)
    run = GuestRun(r.exit_code, r.output, r.seconds, f"{lsm} guest")
    print(f"\n{lsm} guest: exit {r.exit_code} after {r.seconds:.1f}s")
    return run


@pytest.fixture(scope="module")
def apparmor_guest():
    return boot_checks("apparmor")


@pytest.fixture(scope="module")
def selinux_guest():
    return boot_checks("selinux")


def _check(guest, name):
    if name not in guest.checks:
        pytest.fail(f"check {name} is missing from the guest's output (exit {guest.exit_code}):\n"
                    f"{guest.output[-6000:]}", pytrace=False)
    ok, reason = guest.checks[name]
    if not ok:
        seen = "\n".join(line for line in guest.output.splitlines() if line.startswith("SEEN "))
        pytest.fail(f"{name}: {reason}\n{seen}", pytrace=False)


def _complete(guest, names):
    extra = [n for n in guest.checks if n not in names]
    assert not extra and guest.exit_code == (0 if all(ok for ok, _ in guest.checks.values()) else 1), (
        f"exit {guest.exit_code}, unknown checks {extra}; output:\n{guest.output[-6000:]}")


def test_apparmor_guest_reports_every_check(apparmor_guest):
    _complete(apparmor_guest, lsm_checks.APPARMOR_CHECKS)


@pytest.mark.parametrize("name", lsm_checks.APPARMOR_CHECKS)
def test_apparmor(apparmor_guest, name):
    _check(apparmor_guest, name)


def test_selinux_guest_reports_every_check(selinux_guest):
    _complete(selinux_guest, lsm_checks.SELINUX_CHECKS)


@pytest.mark.parametrize("name", lsm_checks.SELINUX_CHECKS)
def test_selinux(selinux_guest, name):
    _check(selinux_guest, name)
