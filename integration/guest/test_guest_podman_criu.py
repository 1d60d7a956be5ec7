"""`podman container checkpoint/restore` where CRIU works: the guest's Debian 6.1 kernel.

One boot (about 2.5 min under TCG, podman being slow there): the guest runs
test_podman_checkpoint.py with PYRUNC_EXPECT_CRIU=1, Podman 4.3 with conmon driving
pyrunc's and runc's `checkpoint` and `restore`: the container stops, comes back running.
Kept apart from test_guest_criu.py so that each boot stays within its budget.
"""
import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import boot  # noqa: E402

pytestmark = pytest.mark.integration


def test_guest_podman_checkpoint_and_restore():
    if os.environ.get("PYRUNC_IN_GUEST"):
        pytest.fail("this module boots the guest: run it on the host")
    launcher = os.environ.get("PYRUNC") or "/opt/pyrunc/bin/pyrunc"
    python = str(Path(launcher).parent / "python")
    argv = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-rA",
            "integration/test_podman_checkpoint.py"]
    r = boot.boot(argv, timeout=600, env={"PYRUNC": launcher, "PYRUNC_EXPECT_CRIU": "1"})
    out = r.output
    assert r.exit_code == 0, f"guest pytest exit {r.exit_code}:\n{out[-6000:]}"
    for rt in ("runc", "pyrunc"):
        assert re.search(rf"^PASSED integration/test_podman_checkpoint.py::test_podman_checkpoint_and_restore"
                         rf"\[{rt}\]", out, re.M), f"podman checkpoint/restore with {rt} did not pass:\n{out[-6000:]}"
