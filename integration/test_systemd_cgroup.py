"""--systemd-cgroup on a host whose pid 1 is systemd, next to runc: the transient scope
with the limits as unit properties and in the cgroup files, update, pause/resume,
ps, events, kill --all and delete (the unit gone), the default cgroupsPath, and the
refusals (unit exists, bad slice, a property systemd refuses) that leave nothing.

This host's pid 1 is not systemd, so the checks run in the qemu guest booted in its
systemd mode (integration/guest/boot.py, systemd=True): ONE boot, in which ONE plain
python process (integration/guest/systemd_checks.py) prints a `CHECK name: ok|FAIL
reason` line per check; each is a test here.  The rootfs and base config are the
ones test_cgroups_v2.py prepares for its guest.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_cgroups_v2 import GUEST_PYTHON, GuestRun, boot_checker, no_leaks, prepare_assets  # noqa: F401 (no_leaks: autouse)

GUEST_DIR = Path(__file__).resolve().parent / "guest"
CHECKER = GUEST_DIR / "systemd_checks.py"
sys.path.insert(0, str(GUEST_DIR))
import systemd_checks as checks  # noqa: E402

BOOT_TIMEOUT = 300      # a normal run takes 60-120 s (systemd's boot is about 20 s of it)


@pytest.fixture(scope="module")
def guest():
    if os.environ.get("PYRUNC_IN_GUEST"):
        if not os.path.isdir("/run/systemd/system"):
            pytest.fail("in a guest whose pid 1 is not systemd: boot it with systemd=True", pytrace=False)
        t0 = time.monotonic()
        p = subprocess.run([GUEST_PYTHON, "-S", str(CHECKER)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=BOOT_TIMEOUT)
        return GuestRun(p.returncode, p.stdout, time.monotonic() - t0, "in this guest")
    from engines import common

    # the guest boots the host's own systemd, and its system D-Bus
    common.ensure_packages({"/lib/systemd/systemd": "systemd", "dbus-daemon": "dbus"})
    rootfs, base = prepare_assets()
    argv = [GUEST_PYTHON, "-S", str(CHECKER), "--rootfs", str(rootfs), "--base-config", str(base)]
    return boot_checker(argv, "systemd guest", BOOT_TIMEOUT, systemd=True)


def test_guest_checker_exits_zero_with_every_check(guest):
    guest.assert_complete(checks.CHECKS)


@pytest.mark.parametrize("name", checks.CHECKS)
def test_systemd_cgroup(guest, name):
    guest.assert_check(name)
