"""`update`'s own logic: what the flags ask for, before the cgroup writes."""
import pytest

from pyrunc.lifecycle import update as U


@pytest.mark.parametrize("new,expected", [
    # runc: an unset swap (0) with limit -1 is "memory and swap unlimited"
    ({"memory": {"limit": -1}}, {"memory": {"limit": -1, "swap": -1}}),
    ({"memory": {"limit": -1, "swap": 0}}, {"memory": {"limit": -1, "swap": -1}}),
    ({"memory": {"limit": -1, "swap": 1 << 30}}, {"memory": {"limit": -1, "swap": 1 << 30}}),
    ({"memory": {"limit": 1 << 20}}, {"memory": {"limit": 1 << 20}}),
    ({"memory": {"reservation": -1}}, {"memory": {"reservation": -1}}),
    ({"pids": {"limit": 5}}, {"pids": {"limit": 5}}),
])
def test_unlimited_memory_lifts_swap_too(new, expected):
    assert U.unlimited_swap_too(new) == expected


def test_merged_unlimited_memory_replaces_the_stored_swap():
    current = {"memory": {"limit": 64 << 20, "swap": 128 << 20}, "pids": {"limit": 10}}
    merged = U.merge(current, U.unlimited_swap_too({"memory": {"limit": -1}}))
    assert merged == {"memory": {"limit": -1, "swap": -1}, "pids": {"limit": 10}}
