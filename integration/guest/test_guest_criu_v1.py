"""checkpoint and restore on cgroup v1: the guest booted in the hybrid layout (the v1
controllers each on its own hierarchy, an empty cgroup2 at /sys/fs/cgroup/unified, as
on this project's host), where CRIU 3.17 works (Debian's 6.1 kernel).

One boot: test_checkpoint.py's cgroup restores next to runc, PYRUNC_EXPECT_CRIU=1: a
counter with memory and pids limits checkpointed with --manage-cgroups-mode soft, full,
strict and ignore, restored from a config naming another cgroupsPath: the restored init
in the new path in every v1 controller with its limits (strict: CRIU's refusal of the
cgroup pyrunc made, runc 1.1.5 dropping the mode on restore; ignore: runc 1.1.5 refuses
the mode), and a plain checkpoint/restore under the same id.
"""
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_guest_criu import checkpoint_tests_in_guest  # noqa: E402

pytestmark = pytest.mark.integration

MODES = ("soft", "full", "strict", "ignore")


def test_guest_checkpoint_and_restore_on_cgroup_v1():
    # the layout the tests ran in, checked in the guest before them
    probe = ('grep -q "^cgroup /sys/fs/cgroup/memory cgroup " /proc/mounts && '
             'grep -q "^cgroup2 /sys/fs/cgroup/unified cgroup2 " /proc/mounts && '
             'echo "LAYOUT: memory v1, cgroup2 unified"; exec "$@"')
    r = checkpoint_tests_in_guest("test_restore_into_new_cgroups_keeps_limits or test_checkpoint_and_restore_same_id",
                                  900, wrap=("/bin/sh", "-c", probe, "sh"), cgroups="hybrid")
    out = r.output
    assert r.exit_code == 0, f"guest pytest exit {r.exit_code}:\n{out[-6000:]}"
    assert "LAYOUT: memory v1, cgroup2 unified" in out, f"not the hybrid layout:\n{out[-3000:]}"
    for rt in ("runc", "pyrunc"):
        assert re.search(rf"^PASSED integration/test_checkpoint.py::test_checkpoint_and_restore_same_id\[{rt}\]",
                         out, re.M), f"checkpoint/restore with {rt} did not pass on v1:\n{out[-6000:]}"
        for mode in MODES:
            assert re.search(rf"^PASSED integration/test_checkpoint.py::test_restore_into_new_cgroups_keeps_limits"
                             rf"\[{rt}-{mode}\]", out, re.M), f"{rt} {mode} did not pass on v1:\n{out[-6000:]}"
    assert not re.search(r"\b(failed|skipped|error)\b", out.splitlines()[-1] if out else ""), out[-3000:]
