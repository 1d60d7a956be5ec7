"""Cgroup conformance with runc 1.1.5 on a v1 (hybrid or legacy) host: the cases of the
conformance issue that test_cgroups_v1.py did not cover.

Each test runs the same bundle (and the same commands) under runc and pyrunc and
compares what they did: the exit status, the files of the container's cgroups, what
is left behind.  Where pyrunc deliberately differs (it refuses where runc 1.1.5
hangs), the test says so and checks pyrunc alone for that case.
"""
import json
import os
import time

import pytest

import harness
from test_cgroups_v1 import HIER, MiB, SLEEP, container, dir_of, error_of, read

pytestmark = pytest.mark.integration

MEMORY_FILES = ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")


def memory_files(pid):
    d = dir_of(pid, "memory")
    return {f: read(f"{d}/{f}") if os.path.exists(f"{d}/{f}") else None for f in MEMORY_FILES}


# ---- update --memory -1 ----

UNLIMITED_STEPS = [
    # (update arguments, stdin): -1 without a swap value lifts the memsw limit too
    (["--memory", "-1"], None),
    (["--memory", "32m"], None),
    (["--memory", "100m", "--memory-swap", "200m"], None),
    (["--resources", "-"], json.dumps({"memory": {"limit": -1}})),
    (["--memory", "50m", "--memory-swap", "300m"], None),
    (["--memory", "-1", "--memory-swap", "-1"], None),
    (["--memory", "64m", "--memory-swap", "128m"], None),
    # refused by both: the kernel (runc) or the check (pyrunc) wants memsw >= limit
    (["--memory", "-1", "--memory-swap", "200m"], None),
    (["--memory", "400m"], None),
]


def test_update_memory_unlimited_as_runc(runc, pyrunc, bundle_factory):
    """`update --memory -1` on a container with a memory and a swap limit: runc takes an
    unset swap with limit -1 as "both unlimited" and writes memsw first; pyrunc used to
    refuse it (the stored swap limit below "unlimited")."""
    seen = {}
    for rt in (runc, pyrunc):
        bundle = bundle_factory(args=SLEEP, linux={"resources": {"memory": {"limit": 64 * MiB, "swap": 128 * MiB}}})
        with container(rt, bundle, "unlim") as (cid, pid):
            steps = [(None, 0, "", memory_files(pid))]
            for args, stdin in UNLIMITED_STEPS:
                r = rt.cmd("update", *args, cid, input=stdin)
                steps.append((args, r.returncode, error_of(r) if r.returncode else "", memory_files(pid)))
            seen[rt.name] = steps
    swap = seen["runc"][0][3]["memory.memsw.limit_in_bytes"]
    first = seen["pyrunc"][1]
    assert first[1] == 0, f"pyrunc update --memory -1: {first[2]}"
    assert int(first[3]["memory.limit_in_bytes"]) > 1 << 40, first
    if swap is not None:    # with swap accounting, memsw is lifted as well
        assert int(first[3]["memory.memsw.limit_in_bytes"]) > 1 << 40, first
    for a, b in zip(seen["runc"], seen["pyrunc"], strict=True):
        assert a[1] == b[1], f"update {a[0]}: runc exit {a[1]} {a[2]!r}, pyrunc exit {b[1]} {b[2]!r}"
        # runc 1.1.5 leaves the writes before a refused one in place; pyrunc refuses
        # before writing: the files are compared after the successful steps only
        if a[1] == 0:
            assert a[3] == b[3], f"update {a[0]}: runc {a[3]}, pyrunc {b[3]}"
    assert [s[1] for s in seen["pyrunc"][1:]] == [0] * 7 + [1, 1], seen["pyrunc"]


# ---- creating into a frozen cgroup ----

def freezer_root():
    for key, mnt in HIER.items():
        if "freezer" in key.split(","):
            return mnt
    raise AssertionError(f"no v1 freezer hierarchy on this host: {HIER}")


def made_dirs(top):
    """Every directory named `top` (and below) in every hierarchy, deepest first."""
    out = []
    for mnt in HIER.values():
        for root, dirs, _ in os.walk(f"{mnt}/{top}"):
            out.append(root)
    return sorted(out, key=lambda p: p.count("/"), reverse=True)


def create_frozen(rt, bundle_factory, below):
    """create into /<top> (below=False) or /<top>/c (below=True) with /<top> frozen: the
    exit status, the error and how long it took; everything is thawed and removed after."""
    top = harness.new_id("frozen")
    fz = freezer_root()
    os.makedirs(f"{fz}/{top}")
    cid = harness.new_id("infrozen")
    try:
        with open(f"{fz}/{top}/freezer.state", "w") as f:
            f.write("FROZEN")
        assert read(f"{fz}/{top}/freezer.state") == "FROZEN"
        bundle = bundle_factory(args=SLEEP, linux={"cgroupsPath": f"/{top}/c" if below else f"/{top}"})
        t = time.monotonic()
        r = rt.create(cid, bundle, timeout=20)
        took = time.monotonic() - t
        left = cid in rt.containers()
        return r.returncode, error_of(r), took, left
    finally:
        with open(f"{fz}/{top}/freezer.state", "w") as f:
            f.write("THAWED")
        if cid in rt.containers():
            rt.delete(cid, force=True)
        harness.reap()
        for d in made_dirs(top):
            for _ in range(100):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def test_create_into_a_frozen_cgroup_fails_as_runc(runtime, bundle_factory):
    """runc checks the cgroup's freezer state before it puts the init in; pyrunc used to
    hang there (its init frozen before it could report)."""
    rc, err, took, left = create_frozen(runtime, bundle_factory, below=False)
    assert rc == 1, f"{runtime.name} create into a frozen cgroup: exit {rc} {err!r}"
    assert "container's cgroup unexpectedly frozen" in err and len(err.splitlines()) == 1, err
    assert took < 10 and not left


def test_create_below_a_frozen_cgroup_fails_in_pyrunc(pyrunc, bundle_factory):
    """pyrunc only: a new cgroup below a frozen one is frozen too.  runc 1.1.5 checks only
    the cgroup's own freezer.self_freezing and hangs here; pyrunc fails the same way as
    for the frozen cgroup itself (README, deliberate differences)."""
    rc, err, took, left = create_frozen(pyrunc, bundle_factory, below=True)
    assert rc == 1 and "container's cgroup unexpectedly frozen" in err, f"exit {rc} {err!r}"
    assert took < 10 and not left
