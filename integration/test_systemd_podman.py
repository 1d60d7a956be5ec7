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
from test_cgroups_v2 import GUEST_PYTHON, boot_checker, no_leaks  # noqa: F401 (no_leaks: autouse)

GUEST_DIR = Path(__file__).resolve().parent / "guest"
CHECKER = GUEST_DIR / "systemd_podman_checks.py"
sys.path.insert(0, str(GUEST_DIR))
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
        return boot_checker([GUEST_PYTHON, "-S", str(CHECKER), str(tarball), str(archive)],
                            "systemd podman guest", BOOT_TIMEOUT, systemd=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_guest_checker_exits_zero_with_every_check(guest):
    guest.assert_complete(checks.CHECKS)


@pytest.mark.parametrize("name", checks.CHECKS)
def test_podman_systemd(guest, name):
    guest.assert_check(name)
