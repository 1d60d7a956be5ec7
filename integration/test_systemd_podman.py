"""Podman (4.3, Debian's) with its default `--cgroup-manager systemd` and pyrunc as the
runtime, and containerd (1.6) running it with the systemd cgroup driver (ctr's
--runc-systemd-cgroup, what SystemdCgroup = true sets), on a host whose pid 1 is systemd: the qemu guest in its systemd mode, ONE boot
running integration/guest/systemd_podman_checks.py (`run -d --sdnotify=container`, the
libpod scope pyrunc makes, exec, stop, rm), each CHECK line a test here.  The image is
the busybox tarball integration/engines/common.py makes for test_podman.py."""
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from engines import common
from engines.podman import docker_archive
from test_cgroups_v2 import GUEST_PYTHON, GuestRun, no_leaks  # noqa: F401 (no_leaks: autouse)

GUEST_DIR = Path(__file__).resolve().parent / "guest"
CHECKER = GUEST_DIR / "systemd_podman_checks.py"
sys.path.insert(0, str(GUEST_DIR))
import boot  # noqa: E402
import systemd_podman_checks as checks  # noqa: E402

BOOT_TIMEOUT = 300      # about 150 s: systemd's boot, then podman and containerd under TCG


@pytest.fixture(scope="module")
def guest():
    if os.environ.get("PYRUNC_IN_GUEST"):
        pytest.fail("run this module on the host: it boots its own systemd guest", pytrace=False)
    common.ensure_packages({"podman": "podman", "conmon": "conmon", "dbus-daemon": "dbus",
                            "/lib/systemd/systemd": "systemd", "containerd": "containerd", "ctr": "containerd"})
    # the guest sees the host's /var/tmp, not its /tmp
    work = Path(tempfile.mkdtemp(prefix="pyrunc-guest-podman-", dir="/var/tmp"))
    try:
        tarball = common.rootfs_tar(work)
        archive = docker_archive(work, tarball)
        env = {"PYRUNC": os.environ["PYRUNC"]} if os.environ.get("PYRUNC") else None
        try:
            r = boot.boot([GUEST_PYTHON, "-S", str(CHECKER), str(tarball), str(archive)], timeout=BOOT_TIMEOUT, env=env,
                          systemd=True)
        except boot.GuestError as e:
            pytest.fail(f"the systemd guest did not run the checks: {e}\n--- console (tail) ---\n"
                        f"{e.output[-6000:]}", pytrace=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    run = GuestRun(r.exit_code, r.output, r.seconds, "qemu guest (systemd)")
    print(f"\nsystemd podman guest: exit {r.exit_code} after {r.seconds:.1f}s; timings {run.timings}")
    return run


def test_guest_checker_exits_zero_with_every_check(guest):
    missing = [n for n in checks.CHECKS if n not in guest.checks]
    assert not missing, f"missing checks {missing}; output:\n{guest.output[-8000:]}"
    assert guest.exit_code == 0, (
        f"the checker exited {guest.exit_code}; failed: "
        f"{[n for n, (ok, _) in guest.checks.items() if not ok]}\noutput:\n{guest.output[-8000:]}")


@pytest.mark.parametrize("name", checks.CHECKS)
def test_podman_systemd(guest, name):
    if name not in guest.checks:
        pytest.fail(f"check {name} is missing from the guest's output (exit {guest.exit_code}):\n"
                    f"{guest.output[-6000:]}", pytrace=False)
    ok, reason = guest.checks[name]
    if not ok:
        pytest.fail(f"{name}: {reason}", pytrace=False)
