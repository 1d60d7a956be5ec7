"""Rootless pyrunc and cgroup v2, next to runc 1.1.5, as an unprivileged user on a host
whose pid 1 is systemd: with no delegation (no limits runs, a limit or a cgroupsPath is
refused as runc's rootless manager refuses them), inside a delegated subtree (a
Delegate=yes service of the user's own manager: the init in its cgroup, memory/pids
limits in effect, update, pause/resume, kill, delete), and with --systemd-cgroup through
the user's session bus (the scope in the user's manager, its limits, update, delete, a
missing bus refused in runc's words), and rootless Podman with its default systemd cgroup
manager and --runtime pyrunc (run, exec, stop, rm), each next to runc.

This host is neither cgroup v2 nor booted by systemd, so the checks run in the qemu
guest in its systemd mode (integration/guest/boot.py, systemd=True): ONE boot, in which
ONE plain python process (integration/guest/rootless_checks.py) makes the user, starts
its user@UID.service and prints a `CHECK name: ok|FAIL reason` line per check; each is a
test here. The rootfs is the one test_cgroups_v2.py prepares for its guest.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from test_cgroups_v2 import GUEST_PYTHON, boot_checker, no_leaks, prepare_assets  # noqa: F401 (no_leaks: autouse)

pytestmark = pytest.mark.integration

GUEST_DIR = Path(__file__).resolve().parent / "guest"
CHECKER = GUEST_DIR / "rootless_checks.py"
sys.path.insert(0, str(GUEST_DIR))
import rootless_checks as checks  # noqa: E402

BOOT_TIMEOUT = 900      # systemd's boot and the user's manager (90 s), ~60 runtime and ~12 podman commands under TCG
USER_BUS_SOCKET = Path("/usr/lib/systemd/user/dbus.socket")   # dbus-user-session: $XDG_RUNTIME_DIR/bus


def ensure_host_packages():
    from engines import common

    common.ensure_packages({"/lib/systemd/systemd": "systemd", "dbus-daemon": "dbus", "setpriv": "util-linux",
                            "useradd": "passwd", "busctl": "systemd", "runc": "runc", "podman": "podman",
                            "conmon": "conmon", "newuidmap": "uidmap"})
    if not USER_BUS_SOCKET.exists():
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "dbus-user-session"],
                       capture_output=True, timeout=900, env=env)
    assert USER_BUS_SOCKET.exists(), "dbus-user-session could not be installed: the user's manager has no bus"


@pytest.fixture(scope="module")
def guest():
    if os.environ.get("PYRUNC_IN_GUEST"):
        pytest.fail("run this module on the host: it boots its own systemd guest", pytrace=False)
    from engines import common

    ensure_host_packages()
    rootfs, base = prepare_assets()
    # the guest sees the host's /var/tmp, not its /tmp
    work = Path(tempfile.mkdtemp(prefix="pyrunc-guest-rootless-", dir="/var/tmp"))
    try:
        os.chmod(work, 0o755)            # the user's podman reads the image from here
        tarball = common.rootfs_tar(work)
        os.chmod(tarball, 0o644)
        argv = [GUEST_PYTHON, "-S", str(CHECKER), "--rootfs", str(rootfs), "--base-config", str(base),
                "--image-tarball", str(tarball)]
        return boot_checker(argv, "rootless systemd guest", BOOT_TIMEOUT, systemd=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_guest_checker_exits_zero_with_every_check(guest):
    guest.assert_complete(checks.CHECKS)


@pytest.mark.parametrize("name", checks.CHECKS)
def test_rootless_cgroups(guest, name):
    guest.assert_check(name)
