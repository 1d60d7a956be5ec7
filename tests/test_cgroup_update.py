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


@pytest.mark.parametrize("text,value", [
    ("100", 100), ("64m", 64 << 20), ("64M", 64 << 20), ("64 m", 64 << 20), ("1.5m", 3 << 19), ("512KiB", 512 << 10),
    ("100mb", 100 << 20), ("100MB", 100 << 20), ("1g", 1 << 30), ("2T", 2 << 40), ("1p", 1 << 50), ("0", 0), ("7b", 7),
    ("7i", 7), ("1kib", 1024), ("10.", None), (" 64m", None), ("64m ", None), ("64  m", None), ("1e3", None),
    ("0x10", None), ("-2", None), ("abc", None), ("", None), ("1.2.3", None), ("64mm", None), ("64x", None),
    ("١٢", None),
])
def test_ram_in_bytes_is_go_units(text, value):
    """go-units v0.4.0's RAMInBytes, which runc 1.1.5's update uses (its regexp: ASCII
    digits, an optional fraction, one optional space, [kmgtp], [i], [b])."""
    from pyrunc.errors import PyruncError
    if value is None:
        with pytest.raises(PyruncError) as e:
            U.ram_in_bytes(text, "memory")
        assert str(e.value).startswith("invalid value for memory: ")
    else:
        assert U.ram_in_bytes(text) == value


def test_pids_limit_flag_0_is_no_flag():
    """runc 1.1.5 reads --pids-limit with context.Int: 0 is the flag's default, nothing."""
    assert U.resources_from_flags({"pids-limit": "0"}) == {}
    assert U.resources_from_flags({"pids-limit": "-1"}) == {"pids": {"limit": -1}}
    assert U.resources_from_flags({"pids-limit": "7", "memory": "-1"}) == {"pids": {"limit": 7},
                                                                          "memory": {"limit": -1}}
