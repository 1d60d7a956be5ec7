"""--systemd-cgroup on a cgroup v1 host whose pid 1 is systemd (runc's legacy systemd
manager, libcontainer/cgroups/systemd/v1.go), next to runc: the scope with runc's v1
properties (MemoryLimit, CPUShares, CPUQuota*, TasksMax, DevicePolicy/DeviceAllow,
BlockIOAccounting, BlockIOWeight where the host has the file) and the v1 files, the
init in the scope's cgroup in every hierarchy (systemd's and the ones pyrunc makes and
joins itself: cpuset, freezer, net_cls, perf_event, hugetlb, ...), update, pause/resume
(freezer), events --stats, ps, kill --all, delete (unit and dirs gone, also while
another container of the slice runs), the default cgroupsPath, and the refusals.

ONE boot of the qemu guest with systemd as pid 1 on the hybrid layout (boot.py's
systemd=True, cgroups="hybrid": the layout of this test host), in which
integration/guest/systemd_checks.py --layout v1 prints a CHECK line per check; each
is a test here (test_systemd_cgroup.py runs the same checker on cgroup v2).
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

CHECKS = checks.checks_for("v1")
BOOT_TIMEOUT = 420      # a normal run takes 90-180 s under TCG (two runtimes, one boot)


@pytest.fixture(scope="module")
def guest():
    if os.environ.get("PYRUNC_IN_GUEST"):
        if not os.path.isdir("/run/systemd/system") or os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            pytest.fail("not a v1 guest whose pid 1 is systemd: boot it with systemd=True, cgroups='hybrid'",
                        pytrace=False)
        t0 = time.monotonic()
        p = subprocess.run([GUEST_PYTHON, "-S", str(CHECKER), "--layout", "v1"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=BOOT_TIMEOUT)
        return GuestRun(p.returncode, p.stdout, time.monotonic() - t0, "in this guest")
    from engines import common

    # the guest boots the host's own systemd, and its system D-Bus
    common.ensure_packages({"/lib/systemd/systemd": "systemd", "dbus-daemon": "dbus"})
    rootfs, base = prepare_assets()
    argv = [GUEST_PYTHON, "-S", str(CHECKER), "--layout", "v1", "--rootfs", str(rootfs), "--base-config", str(base)]
    return boot_checker(argv, "systemd v1 guest", BOOT_TIMEOUT, systemd=True, cgroups="hybrid")


def test_guest_checker_exits_zero_with_every_check(guest):
    guest.assert_complete(CHECKS)


@pytest.mark.parametrize("name", CHECKS)
def test_systemd_cgroup_v1(guest, name):
    guest.assert_check(name)
