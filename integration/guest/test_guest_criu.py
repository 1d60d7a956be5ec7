"""checkpoint and restore where CRIU works: the guest's Debian 6.1 kernel (on the test host's
6.18 kernel Debian's criu 3.17 fails its vDSO check, see test_checkpoint.py).

One boot (cgroup v2): the guest runs test_checkpoint.py's CRIU tests next to runc, with
PYRUNC_EXPECT_CRIU=1 so that a CRIU that does not work there fails them instead of
taking the host's failure path: a counter checkpointed and restored under its id,
--leave-running, pre-dump + dump with --parent-path, restore into a new id,
`checkpoint --help` / `features` offering checkpoint, --tcp-established (a TCP
connection inside the container), a dump to a `criu page-server`, lazy migration
(--lazy-pages, --status-fd, `criu lazy-pages`), a terminal restored with
--console-socket, and --manage-cgroups-mode soft and ignore restores into a new cgroupsPath.
test_guest_criu_v1.py boots the v1 (hybrid) layout for the cgroup restores.
"""
import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import boot  # noqa: E402

pytestmark = pytest.mark.integration

TESTS = ["test_checkpoint_help_and_features_follow_criu", "test_checkpoint_and_restore_same_id",
         "test_leave_running_pre_dump_and_restore_into_new_id", "test_tcp_established",
         "test_checkpoint_to_a_page_server", "test_lazy_pages", "test_restore_with_a_terminal",
         "test_restore_into_new_cgroups_keeps_limits"]
# what the guest needs from the host's root (it sees it read-only): CRIU, and the tools
# the tests and CRIU's network lock use
PACKAGES = {"criu": "criu", "ip": "iproute2", "iptables": "iptables"}


def checkpoint_tests_in_guest(selection, timeout, wrap=(), **boot_kwargs):
    """Boot the guest and run test_checkpoint.py's tests matching `selection` (-k) there,
    with the launcher under test and PYRUNC_EXPECT_CRIU=1; `wrap` goes before pytest's argv.
    The guest sees the host's root: CRIU and its tools are installed here first."""
    if os.environ.get("PYRUNC_IN_GUEST"):
        pytest.fail("this module boots the guest: run it on the host")
    from engines.common import ensure_packages

    ensure_packages(PACKAGES)
    launcher = os.environ.get("PYRUNC") or "/opt/pyrunc/bin/pyrunc"
    python = str(Path(launcher).parent / "python")
    argv = [*wrap, python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-rA",
            "integration/test_checkpoint.py", "-k", selection]
    return boot.boot(argv, timeout=timeout, env={"PYRUNC": launcher, "PYRUNC_EXPECT_CRIU": "1"}, **boot_kwargs)


@pytest.fixture(scope="module")
def report():
    return checkpoint_tests_in_guest(" or ".join(TESTS[:-1]) + f" or ({TESTS[-1]} and (soft or ignore))", 900)


def test_guest_checkpoint_and_restore(report):
    out = report.output
    assert report.exit_code == 0, f"guest pytest exit {report.exit_code}:\n{out[-6000:]}"
    passed = set(re.findall(r"^PASSED integration/test_checkpoint.py::(\w+)", out, re.M))
    assert passed == set(TESTS), f"expected every CRIU test to pass in the guest:\n{out[-6000:]}"
    for name in TESTS[1:]:
        for rt in ("runc", "pyrunc"):
            assert re.search(rf"^PASSED integration/test_checkpoint.py::{name}\[{rt}(-\w+)?\]", out, re.M), \
                f"{name}[{rt}] did not pass in the guest:\n{out[-6000:]}"
    assert not re.search(r"\b(failed|skipped|error)\b", out.splitlines()[-1] if out else ""), out[-3000:]
