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


# ---- delete --force with sub-cgroups ----

def own_dirs(pid, below=""):
    """{hierarchy key: the container's directory} in every mounted hierarchy, for an init
    that moved itself to `below` under it."""
    from test_cgroups_v1 import host_dirs
    out = {k: d.removesuffix(below) for k, d in host_dirs(pid).items()}
    return {k: d for k, d in out.items() if os.path.isdir(d)}


def make_sub(d, rel):
    """mkdir -p d/rel; a v1 cpuset child gets its parent's cpus and mems (else no task can join)."""
    cur = d
    for part in rel.split("/"):
        cur = f"{cur}/{part}"
        os.makedirs(cur, exist_ok=True)
        for f in ("cpuset.cpus", "cpuset.mems"):
            if os.path.exists(f"{cur}/{f}") and not read(f"{cur}/{f}"):
                with open(f"{cur}/{f}", "w") as out:
                    out.write(read(f"{os.path.dirname(cur)}/{f}"))


# the workload makes its own sub-cgroup in its rw cgroup mount, moves itself there, then sleeps
WORKLOAD = ("for d in /sys/fs/cgroup/*/; do mkdir -p $d/wl/inner; "
            "[ -f $d/cpuset.cpus ] && cat $d/cpuset.cpus > $d/wl/cpuset.cpus && cat $d/cpuset.mems > $d/wl/cpuset.mems "
            "&& cat $d/cpuset.cpus > $d/wl/inner/cpuset.cpus && cat $d/cpuset.mems > $d/wl/inner/cpuset.mems; "
            "echo $$ > $d/wl/inner/cgroup.procs; done; echo ready > /dev/shm/ready; exec /probe sleep 600")


@pytest.mark.parametrize("pidns", [True, False], ids=["pidns", "host-pidns"])
def test_delete_force_removes_sub_cgroups_as_runc(runtime, bundle_factory, pidns):
    """delete --force of a running container whose cgroups have children: one made by the
    workload (rw cgroup mount) with the workload in it, one made on the host for an
    `exec --cgroup` process, one empty.  runc kills everything in the tree (the pid
    namespace, or every pid of every sub-cgroup without one) and removes the
    sub-cgroups deepest first; pyrunc used to fail with EBUSY and leave them."""
    ns = [{"type": t} for t in ("network", "ipc", "uts", "mount")] + ([{"type": "pid"}] if pidns else [])

    def rw_cgroups(cfg):
        for m in cfg["mounts"]:
            if m["destination"] == "/sys/fs/cgroup":
                m["options"] = [o for o in m["options"] if o != "ro"]
    bundle = bundle_factory(args=["/bin/sh", "-c", WORKLOAD], linux={"namespaces": ns}, edit=rw_cgroups)
    with container(runtime, bundle, "subcg") as (cid, pid):
        harness.wait_for(lambda: os.path.exists(f"/proc/{pid}/root/dev/shm/ready"), 10, "the workload's sub-cgroups")
        dirs = own_dirs(pid, "/wl/inner")
        # the hierarchies mounted in the container (not the hybrid host's empty cgroup2 one)
        made = [k for k, d in dirs.items() if os.path.isdir(f"{d}/wl/inner")]
        assert "pids" in made and "memory" in made, f"the workload made no sub-cgroup: {made}"
        for d in dirs.values():
            make_sub(d, "exec/deeper")
            make_sub(d, "empty")
        r = runtime.cmd("exec", "-d", "--cgroup", "exec", cid, "/probe", "sleep", "600")
        assert r.returncode == 0, f"{runtime.name} exec --cgroup: {r.stderr}"
        procs = set()
        for d in dirs.values():
            for sub in ("wl/inner", "exec"):
                if os.path.exists(f"{d}/{sub}/cgroup.procs"):
                    procs.update(int(p) for p in read(f"{d}/{sub}/cgroup.procs").split())
        assert len(procs) >= 2, f"no process in the sub-cgroups: {procs}"
        for p in procs:
            harness.reap_later(p)
        # ps lists the processes of the sub-cgroups too (runc's GetAllPids)
        ps = runtime.cmd("ps", "--format", "json", cid)
        assert ps.returncode == 0 and procs <= set(json.loads(ps.stdout)), f"{runtime.name} ps: {ps.stdout} {procs}"
        r = runtime.delete(cid, force=True, timeout=15)
        assert r.returncode == 0, f"{runtime.name} delete --force: exit {r.returncode}\n{r.stderr}"
        harness.wait_for(lambda: all((s := harness.proc_stat(p)) is None or s.state == "Z" for p in procs), 5,
                         f"{runtime.name}: the sub-cgroups' processes to die")
        left = [d for d in dirs.values() if os.path.exists(d)]
        assert not left, f"{runtime.name} delete --force left {left}"


# ---- verdicts: the same config to both runtimes, the same exit status ----

def create_verdict(rt, bundle, files=()):
    """create (no start): (exit status, error, {file: content} of the devices/other
    cgroup files asked for when it was created); the container is deleted after."""
    cid = harness.new_id("verdict")
    r = rt.create(cid, bundle)
    seen = {}
    try:
        if r.returncode == 0:
            pid = rt.state(cid)["pid"]
            harness.reap_later(pid)
            mounted = {c for key in HIER for c in key.split(",")}
            for controller, name in files:
                p = f"{dir_of(pid, controller)}/{name}" if controller in mounted else None
                seen[name] = read(p) if p and os.path.exists(p) else None
                if name == "devices.list" and seen[name]:   # the order is crun's, not runc's (below)
                    seen[name] = sorted(seen[name].splitlines())
    finally:
        if cid in rt.containers():
            rt.delete(cid, force=True)
    assert r.returncode != 0 or seen is not None
    if r.returncode:
        assert cid not in rt.containers(), f"{rt.name}: a refused create left {cid}"
    return r.returncode, error_of(r), seen


def assert_same_verdicts(runc, pyrunc, bundle_factory, cases, make_linux, files=(), unlike=None):
    """Every case to both runtimes: the same exit status (and the same files when created,
    but for those `unlike` names for the case)."""
    diffs, statuses = [], set()
    for name, case in cases.items():
        got = {rt.name: create_verdict(rt, bundle_factory(args=SLEEP, linux=make_linux(case)), files)
               for rt in (runc, pyrunc)}
        statuses.add(got["runc"][0])
        for f in (unlike or {}).get(name, ()):
            for v in got.values():
                v[2].pop(f, None)
        a, b = got["runc"], got["pyrunc"]
        if a[0] != b[0] or a[2] != b[2]:
            diffs.append(f"  {name}: {case}\n    runc   exit {a[0]} {a[1]!r} {a[2]}\n"
                         f"    pyrunc exit {b[0]} {b[1]!r} {b[2]}")
        if b[0]:
            assert b[0] == 1 and len(b[1].splitlines()) == 1, f"{name}: pyrunc {b}"
    assert not diffs, "verdicts differ from runc's:\n" + "\n".join(diffs)
    assert statuses == {0, 1}, f"the table has no accepted or no refused case under runc: {statuses}"


def fuse(access, **kw):
    return dict({"allow": True, "type": "c", "major": 10, "minor": 229, "access": access}, **kw)


DEVICE_CASES = {
    # access: runc keeps the letters r, w, m in any order and number, drops the others
    "access-empty": fuse(""),
    "access-mrw": fuse("mrw"),
    "access-wr": fuse("wr"),
    "access-rrrr": fuse("rrrr"),
    "access-rwmr": fuse("rwmr"),
    "access-rx": fuse("rx"),
    "access-r-space-w": fuse("r w"),
    "access-x": fuse("x"),               # nothing left to allow: refused (runc: read-back mismatch)
    "access-R": fuse("R"),
    "deny-access-x": fuse("x", allow=False),
    # type: "" and absent are "a"; only a, b, c are cgroup types
    "type-empty": {"allow": True, "type": "", "access": "rwm"},
    "type-a-with-numbers": {"allow": True, "type": "a", "major": 1, "minor": 3, "access": "r"},
    "type-u": fuse("rwm", type="u"),
    "type-p": fuse("rwm", type="p"),
    "type-C": fuse("rwm", type="C"),
    # major/minor: absent or -1 is any; the v1 kernel reads 4294967295 as any
    "major-absent": {"allow": True, "type": "c", "minor": 229, "access": "rwm"},
    "minor-absent": {"allow": True, "type": "c", "major": 10, "access": "rwm"},
    "major-minus-1": fuse("rwm", major=-1),
    "major-minus-2": fuse("rwm", major=-2),
    "major-4095": fuse("rwm", major=4095),
    "major-4096": fuse("rwm", major=4096),
    "minor-2^20": fuse("rwm", minor=1 << 20),
    "major-2^32-1": fuse("rwm", major=(1 << 32) - 1),
    "minor-2^32-1": fuse("rwm", minor=(1 << 32) - 1),
    "major-2^32": fuse("rwm", major=1 << 32),
    # allow absent is false
    "allow-absent": {"type": "c", "major": 10, "minor": 229, "access": "rwm"},
    "hole-in-wildcard": [fuse("rwm", minor=None), fuse("w", allow=False)],
}


def test_device_rules_runc_takes(runc, pyrunc, bundle_factory):
    """linux.resources.devices: each rule after runc's deny-all, to both runtimes; the
    same verdict, and the same devices.list where created."""
    def linux(case):
        rules = case if isinstance(case, list) else [case]
        rules = [{k: v for k, v in r.items() if v is not None} for r in rules]
        return {"resources": {"devices": [{"allow": False, "access": "rwm"}] + rules}}
    assert_same_verdicts(runc, pyrunc, bundle_factory, DEVICE_CASES, linux, [("devices", "devices.list")])


LINUX_DEVICE_CASES = {
    "char": {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229},
    "major-absent": {"path": "/dev/fuse", "type": "c", "minor": 229},
    "numbers-absent": {"path": "/dev/fuse", "type": "c"},
    "type-u": {"path": "/dev/fuse", "type": "u", "major": 10, "minor": 229},
    "fifo": {"path": "/dev/fifo", "type": "p"},
    "fifo-with-numbers": {"path": "/dev/fifo", "type": "p", "major": 1, "minor": 2},
    "block": {"path": "/dev/loopx", "type": "b", "major": 7, "minor": 0},
    "type-a": {"path": "/dev/x", "type": "a", "major": 1, "minor": 3},
    "type-empty": {"path": "/dev/x", "type": "", "major": 1, "minor": 3},
    "major-minus-1": {"path": "/dev/x", "type": "c", "major": -1, "minor": 3},
    "relative-path": {"path": "dev/x", "type": "c", "major": 1, "minor": 3},
    "outside-dev": {"path": "/tmp/x", "type": "c", "major": 1, "minor": 3},
    "mode-with-type-bits": {"path": "/dev/x", "type": "c", "major": 1, "minor": 3, "fileMode": 0o40755},
}


def test_linux_devices_runc_takes(runc, pyrunc, bundle_factory):
    """linux.devices entries: the same verdict as runc (left out: a device without a path,
    which runc 1.1.5 takes and pyrunc refuses, see README)."""
    def linux(case):
        return {"devices": [case]}
    assert_same_verdicts(runc, pyrunc, bundle_factory, LINUX_DEVICE_CASES, linux, [("devices", "devices.list")])


# ---- devices.list in the config's order (crun's way) ----

CRUN_SCRIPT = r"""
set -e
# crun refuses a hybrid host: in this private mount namespace only, the cgroup2 mount
# goes (the host's mounts are not touched)
if grep -q ' /sys/fs/cgroup/unified ' /proc/self/mountinfo; then umount -l /sys/fs/cgroup/unified; fi
crun --root "$ROOT" create --bundle "$BUNDLE" "$ID" </dev/null >"$ROOT.out" 2>"$ROOT.err" ||
    { cat "$ROOT.err" >&2; exit 1; }
pid=$(crun --root "$ROOT" state "$ID" | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
dir=$(sed -n 's/^[0-9]*:devices://p' /proc/$pid/cgroup)
cat "/sys/fs/cgroup/devices$dir/devices.list"
crun --root "$ROOT" delete -f "$ID"
"""


def crun_devices_list(bundle, tmp_path):
    import subprocess
    cid = harness.new_id("crun")
    env = dict(os.environ, ROOT=str(tmp_path / "root-crun"), BUNDLE=str(bundle), ID=cid)
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", CRUN_SCRIPT], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"crun: {r.stderr}"
    return r.stdout.splitlines()


ORDER_RULES = [{"allow": False, "access": "rwm"},
               {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
               {"allow": True, "type": "b", "major": 7, "access": "r"},
               {"allow": True, "type": "c", "major": 4, "minor": 1, "access": "w"},
               {"allow": False, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
               {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"},
               {"allow": True, "type": "c", "major": 4, "minor": 1, "access": "r"}]


def test_devices_list_is_in_the_configs_order_as_crun(runc, pyrunc, bundle_factory, tmp_path):
    """pyrunc writes deny-all and then each rule in order, as crun does, so devices.list
    lists the config's exceptions in the config's order, then the default ones.  runc
    1.1.5 writes the same exceptions sorted by number (README, deliberate differences):
    the set is runc's, the order crun's.  crun's own default list differs from runc's
    (it has 5:1, not 10:200), so the config's part is compared with crun's."""
    lists = {}
    for rt in (runc, pyrunc):
        bundle = bundle_factory(args=SLEEP, linux={"resources": {"devices": ORDER_RULES}})
        with container(rt, bundle, "order", start=False) as (cid, pid):
            lists[rt.name] = read(f"{dir_of(pid, 'devices')}/devices.list").splitlines()
    crun = crun_devices_list(bundle_factory(args=SLEEP, linux={"resources": {"devices": ORDER_RULES}}), tmp_path)
    assert sorted(lists["pyrunc"]) == sorted(lists["runc"]), lists
    mine = ["c 10:229 rwm", "b 7:* r", "c 4:1 rw", "c 1:3 rwm"]
    assert lists["pyrunc"][:4] == mine, lists["pyrunc"]
    assert crun[:4] == mine, crun
    assert lists["runc"] != lists["pyrunc"], "runc 1.1.5 sorts the list: the order test shows nothing"


# ---- linux.resources: the boundary of what runc takes, value by value ----

M = MiB
RESOURCE_CASES = {
    "mem-limit-0": {"memory": {"limit": 0}},
    "mem-limit-neg1": {"memory": {"limit": -1}},
    "mem-limit-neg2": {"memory": {"limit": -2}},
    "mem-limit-1": {"memory": {"limit": 1}},
    "mem-limit-4096": {"memory": {"limit": 4096}},
    "mem-limit-huge": {"memory": {"limit": 1 << 62}},
    "mem-swap-lt-limit": {"memory": {"limit": 64*M, "swap": 32*M}},
    "mem-swap-eq-limit": {"memory": {"limit": 64*M, "swap": 64*M}},
    "mem-swap-only": {"memory": {"swap": 64*M}},
    "mem-swap-neg1-only": {"memory": {"swap": -1}},
    "mem-swap-neg2": {"memory": {"limit": 64*M, "swap": -2}},
    "mem-limit-neg1-swap": {"memory": {"limit": -1, "swap": 64*M}},
    "mem-res-neg1": {"memory": {"reservation": -1}},
    "mem-res-neg2": {"memory": {"reservation": -2}},
    "mem-res-gt-limit": {"memory": {"limit": 32*M, "reservation": 64*M}},
    "mem-swappiness-101": {"memory": {"swappiness": 101}},
    "mem-swappiness-100": {"memory": {"swappiness": 100}},
    "mem-swappiness-0": {"memory": {"swappiness": 0}},
    "mem-kernel": {"memory": {"kernel": 64*M}},
    "mem-kernel-tcp": {"memory": {"kernelTCP": 64*M}},
    "mem-oom-disable": {"memory": {"disableOOMKiller": True}},
    "mem-usehier": {"memory": {"useHierarchy": True}},
    "cpu-shares-0": {"cpu": {"shares": 0}},
    "cpu-shares-1": {"cpu": {"shares": 1}},
    "cpu-shares-2": {"cpu": {"shares": 2}},
    "cpu-shares-262144": {"cpu": {"shares": 262144}},
    "cpu-shares-262145": {"cpu": {"shares": 262145}},
    "cpu-quota-neg1": {"cpu": {"quota": -1}},
    "cpu-quota-neg2": {"cpu": {"quota": -2}},
    "cpu-quota-999": {"cpu": {"quota": 999}},
    "cpu-quota-1000": {"cpu": {"quota": 1000}},
    "cpu-quota-huge": {"cpu": {"quota": 1 << 50}},
    "cpu-period-999": {"cpu": {"period": 999}},
    "cpu-period-1000": {"cpu": {"period": 1000}},
    "cpu-period-1000000": {"cpu": {"period": 1000000}},
    "cpu-period-1000001": {"cpu": {"period": 1000001}},
    "cpu-quota-period": {"cpu": {"quota": 50000, "period": 100000}},
    "cpu-quota-lt-period": {"cpu": {"quota": 500, "period": 100000}},
    "cpu-burst-gt-quota": {"cpu": {"quota": 50000, "period": 100000, "burst": 60000}},
    "cpu-burst-no-quota": {"cpu": {"burst": 1000}},
    "cpu-burst-0": {"cpu": {"burst": 0}},
    "cpu-idle-1": {"cpu": {"idle": 1}},
    "cpu-idle-0": {"cpu": {"idle": 0}},
    "cpu-idle-2": {"cpu": {"idle": 2}},
    "cpu-idle-neg1": {"cpu": {"idle": -1}},
    "cpu-idle-shares": {"cpu": {"idle": 1, "shares": 512}},
    "cpu-rt-runtime": {"cpu": {"realtimeRuntime": 1000}},
    "cpu-rt-runtime-neg1": {"cpu": {"realtimeRuntime": -1}},
    "cpu-rt-runtime-gt-period": {"cpu": {"realtimeRuntime": 2000000, "realtimePeriod": 1000000}},
    "cpu-rt-period-only": {"cpu": {"realtimePeriod": 500000}},
    "cpu-rt-runtime-neg2": {"cpu": {"realtimeRuntime": -2}},
    "cpuset-0": {"cpu": {"cpus": "0"}},
    "cpuset-0-1": {"cpu": {"cpus": "0-1"}},
    "cpuset-0,1": {"cpu": {"cpus": "0,1"}},
    "cpuset-99": {"cpu": {"cpus": "99"}},
    "cpuset-abc": {"cpu": {"cpus": "abc"}},
    "cpuset-space": {"cpu": {"cpus": " 0 "}},
    "cpuset-1-0": {"cpu": {"cpus": "1-0"}},
    "cpuset-empty": {"cpu": {"cpus": ""}},
    "cpuset-trailing-comma": {"cpu": {"cpus": "0,"}},
    "mems-0": {"cpu": {"mems": "0"}},
    "mems-5": {"cpu": {"mems": "5"}},
    "pids-0": {"pids": {"limit": 0}},
    "pids-neg1": {"pids": {"limit": -1}},
    "pids-neg2": {"pids": {"limit": -2}},
    "pids-1": {"pids": {"limit": 1}},
    "pids-huge": {"pids": {"limit": 1 << 40}},
    "blkio-weight-10": {"blockIO": {"weight": 10}},
    "blkio-weight-5": {"blockIO": {"weight": 5}},
    "blkio-weight-1000": {"blockIO": {"weight": 1000}},
    "blkio-weight-1001": {"blockIO": {"weight": 1001}},
    "blkio-leaf-weight": {"blockIO": {"leafWeight": 500}},
    "blkio-weight-dev": {"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 500}]}},
    "blkio-throttle": {"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000000}]}},
    "blkio-throttle-0": {"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 0}]}},
    "blkio-throttle-nodev": {"blockIO": {"throttleReadBpsDevice": [{"major": 250, "minor": 99, "rate": 1000}]}},
    "blkio-throttle-neg-major": {"blockIO": {"throttleReadBpsDevice": [{"major": -1, "minor": 0, "rate": 1000}]}},
    "huge-2MB": {"hugepageLimits": [{"pageSize": "2MB", "limit": 2 * M}]},
    "huge-1GB": {"hugepageLimits": [{"pageSize": "1GB", "limit": 1 << 30}]},
    "huge-3MB": {"hugepageLimits": [{"pageSize": "3MB", "limit": 2 * M}]},
    "huge-bad": {"hugepageLimits": [{"pageSize": "2mb", "limit": 2 * M}]},
    "net-classid": {"network": {"classID": 1048577}},
    "net-prio": {"network": {"priorities": [{"name": "lo", "priority": 5}]}},
    "net-prio-noif": {"network": {"priorities": [{"name": "nosuchif0", "priority": 5}]}},
    "rdma": {"rdma": {"mlx5_0": {"hcaHandles": 3}}},
    "unified-empty": {"unified": {}},
}

# runc 1.1.5 has no cpu.idle and no cpu.burst (runc 1.2 does) and ignores them; pyrunc
# writes them as runc 1.2, so the kernel's refusals are pyrunc's (README)
RUNC_1_2_CASES = {"cpu-burst-gt-quota": "burst 60000 is larger than quota 50000",
                  "cpu-idle-2": "must be 0 or 1", "cpu-idle-neg1": "must be 0 or 1"}
# files where pyrunc deliberately differs after a create both accept: cpu.idle (which
# makes the kernel show cpu.shares 3) and cpu.cfs_burst_us as runc 1.2; pids.max for a
# limit of 0 as runtime-spec 1.3 (runc 1.1.5 leaves 0 unset)
DIFFERENT_FILES = {"cpu-idle-1": {"cpu.idle", "cpu.shares"}, "cpu-idle-shares": {"cpu.idle", "cpu.shares"},
                   "cpu-burst-no-quota": {"cpu.cfs_burst_us"}, "pids-0": {"pids.max"}}
RESOURCE_FILES = (
    [("memory", "memory." + f) for f in ("limit_in_bytes", "memsw.limit_in_bytes", "soft_limit_in_bytes",
                                         "swappiness", "oom_control", "kmem.limit_in_bytes",
                                         "kmem.tcp.limit_in_bytes", "use_hierarchy")]
    + [("cpu", "cpu." + f) for f in ("shares", "cfs_quota_us", "cfs_period_us", "rt_runtime_us", "rt_period_us",
                                     "cfs_burst_us", "idle")]
    + [("cpuset", "cpuset.cpus"), ("cpuset", "cpuset.mems"), ("pids", "pids.max")]
    + [("blkio", "blkio." + f) for f in ("bfq.weight", "weight", "throttle.read_bps_device", "bfq.weight_device")]
    + [("net_cls", "net_cls.classid"), ("net_prio", "net_prio.ifpriomap")])


def test_resources_boundary_is_runcs(runc, pyrunc, bundle_factory):
    """Each linux.resources value to both runtimes: the same exit status and, where both
    create, the same cgroup files (the host decides what exists: a case the host cannot
    do fails under both)."""
    same = {k: v for k, v in RESOURCE_CASES.items() if k not in RUNC_1_2_CASES}
    assert_same_verdicts(runc, pyrunc, bundle_factory, same, lambda res: {"resources": res}, RESOURCE_FILES,
                         DIFFERENT_FILES)
    for name, words in RUNC_1_2_CASES.items():
        bundle = bundle_factory(args=SLEEP, linux={"resources": RESOURCE_CASES[name]})
        assert create_verdict(runc, bundle)[0] == 0, f"runc 1.1.5 now refuses {name}: compare pyrunc with it"
        rc, err, _ = create_verdict(pyrunc, bundle)
        assert rc == 1 and words in err, f"{name}: pyrunc exit {rc} {err!r}"


def test_unified_on_v1_is_runcs_invalid_configuration(runc, pyrunc, bundle_factory, tmp_path):
    """runc's words for a unified key on a v1 host, at create and at update."""
    for rt in (runc, pyrunc):
        r = rt.create(harness.new_id("unif"), bundle_factory(args=SLEEP, linux={"resources": {
            "unified": {"pids.max": "10"}}}))
        assert r.returncode == 1 and "invalid configuration: cannot use unified on cgroup v1" in error_of(r), \
            f"{rt.name}: {r.stderr}"
        with container(rt, bundle_factory(args=SLEEP), "unifupd") as (cid, pid):
            r = rt.cmd("update", "--resources", "-", cid, input=json.dumps({"unified": {"pids.max": "10"}}))
            assert r.returncode == 1 and "cannot use unified on cgroup v1" in error_of(r), f"{rt.name}: {r.stderr}"


def test_memory_limit_below_usage_is_runcs_error(runc, pyrunc, bundle_factory):
    """A limit the kernel cannot reclaim down to (EBUSY): runc's "unable to set memory
    limit to N (current usage: ..., peak usage: ...)", which callers match on.  The
    container holds 16 MiB of tmpfs pages; without swap they cannot be reclaimed, with
    swap the kernel may make room, then both succeed."""
    seen = {}
    fill = ["/bin/sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=16 2>/dev/null; echo ok > /dev/shm/ready; "
                             "exec /probe sleep 600"]
    for rt in (runc, pyrunc):
        bundle = bundle_factory(args=fill, linux={"resources": {"memory": {"limit": 64 * MiB}}})
        with container(rt, bundle, "ebusy") as (cid, pid):
            harness.wait_for(lambda: os.path.exists(f"/proc/{pid}/root/dev/shm/ready"), 10, "the tmpfs fill")
            r = rt.cmd("update", "--memory", "4m", cid)
            seen[rt.name] = (r.returncode, error_of(r) if r.returncode else "", memory_files(pid))
    assert seen["runc"][0] == seen["pyrunc"][0], seen
    if seen["runc"][0]:
        for name, (rc, err, files) in seen.items():
            assert rc == 1 and f"unable to set memory limit to {4 * MiB} (current usage: " in err, (name, err)
            assert files["memory.limit_in_bytes"] == str(64 * MiB), (name, files)


def test_create_into_a_cgroup_with_processes_warns_as_runc(runtime, bundle_factory):
    """runc 1.1.5 takes a cgroup that already has processes, with a warning (and a
    deprecation notice); the warning is the same under pyrunc."""
    import subprocess
    top = harness.new_id("busy")
    dirs = [f"{mnt}/{top}" for mnt in HIER.values()]
    sleeper = subprocess.Popen(["/bin/sleep", "600"])
    cid = harness.new_id("inbusy")
    try:
        for d in dirs:
            make_sub(os.path.dirname(d), os.path.basename(d))
            with open(f"{d}/cgroup.procs", "w") as f:
                f.write(str(sleeper.pid))
        r = runtime.create(cid, bundle_factory(args=SLEEP, linux={"cgroupsPath": f"/{top}"}))
        assert r.returncode == 0, f"{runtime.name}: {r.stderr}"
        assert "container's cgroup is not empty: 1 process(es) found" in r.stderr, r.stderr
        harness.reap_later(runtime.state(cid)["pid"])
    finally:
        sleeper.kill()
        sleeper.wait()
        if cid in runtime.containers():
            runtime.delete(cid, force=True)
        for d in dirs:
            for _ in range(100):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def test_kernel_memory_is_ignored_with_runcs_warning(runtime, bundle_factory):
    """memory.kernel and kernelTCP: accepted, ignored, and warned about in runc's words,
    at create and at update --kernel-memory."""
    words = "Kernel memory settings are ignored and will be removed"
    bundle = bundle_factory(args=SLEEP, linux={"resources": {"memory": {"limit": 64 * MiB, "kernel": 32 * MiB,
                                                                        "kernelTCP": 16 * MiB}}})
    cid = harness.new_id("kmem")
    r = runtime.create(cid, bundle)
    try:
        assert r.returncode == 0 and words in r.stderr, f"{runtime.name}: {r.stderr}"
        pid = runtime.state(cid)["pid"]
        harness.reap_later(pid)
        kmem = f"{dir_of(pid, 'memory')}/memory.kmem.limit_in_bytes"
        before = read(kmem) if os.path.exists(kmem) else None
        u = runtime.cmd("update", "--kernel-memory", "8m", cid)
        assert u.returncode == 0 and words in u.stderr, f"{runtime.name} update: {u.stderr}"
        assert (read(kmem) if os.path.exists(kmem) else None) == before, "the kernel memory limit was written"
    finally:
        if cid in runtime.containers():
            runtime.delete(cid, force=True)


UPDATE_FLAG_CASES = [
    "--cpu-share 1", "--cpu-share 0", "--cpu-share -1", "--cpu-share abc", "--cpu-share 262145",
    "--cpu-quota -2", "--cpu-quota -1", "--cpu-period 0", "--cpu-period 999", "--cpu-period -5",
    "--pids-limit -1", "--pids-limit abc", "--pids-limit -5",
    "--memory 1k", "--memory abc", "--memory -2", "--memory 0", "--memory 100MiB", "--memory 100mb",
    "--memory 100M", "--memory 5G", "--memory 96_m", "--memory 1e3", "--memory 0x10", "--memory 1.2.3",
    "--memory 64mm", "--memory-swap 0", "--memory-reservation -1", "--memory-reservation 32m",
    "--cpuset-cpus 99", "--cpuset-cpus abc", "--blkio-weight 0", "--blkio-weight -1",
    "--cpu-rt-runtime -1", "--cpu-rt-period 0", "--kernel-memory 1m", "--kernel-memory abc",
]


def test_update_flag_values_runc_takes(runc, pyrunc, bundle_factory):
    """Each `update` flag value to both runtimes, one after the other on one container:
    the same exit status at each step (the values are parsed as runc parses them:
    go-units sizes, "-1" exactly, unsigned and signed integers)."""
    import shlex
    cases = UPDATE_FLAG_CASES + [["--memory", " 64m"], ["--memory", "64m "], ["--memory", " -1"]]
    seen = {}
    for rt in (runc, pyrunc):
        bundle = bundle_factory(args=SLEEP, linux={"resources": {"memory": {"limit": 256 * MiB}}})
        with container(rt, bundle, "updflag") as (cid, pid):
            seen[rt.name] = [(rt.cmd("update", *(shlex.split(c) if isinstance(c, str) else c), cid), c)
                             for c in cases]
    diffs = [f"  {c!r}: runc exit {a.returncode} {error_of(a)!r}, pyrunc exit {b.returncode} {error_of(b)!r}"
             for (a, c), (b, _) in zip(seen["runc"], seen["pyrunc"]) if a.returncode != b.returncode]
    assert not diffs, "update verdicts differ from runc's:\n" + "\n".join(diffs)
    assert {r.returncode for r, _ in seen["runc"]} == {0, 1}


def test_update_pids_limit_0_changes_nothing_as_runc(runc, pyrunc, bundle_factory):
    """`update --pids-limit 0` is no flag to runc 1.1.5 (context.Int's default): the
    limit stays; -1 lifts it; a number sets it."""
    from test_cgroups_v1 import assert_same_series, update_series
    steps = [["--pids-limit", "0"], ["--pids-limit", "-1"], ["--pids-limit", "0"], ["--pids-limit", "20"]]
    seen = {rt.name: update_series(rt, bundle_factory(args=SLEEP, linux={"resources": {"pids": {"limit": 50}}}),
                                   steps, {"pids": ["pids.max"]}) for rt in (runc, pyrunc)}
    assert [s[3]["pids.max"] for s in seen["pyrunc"]] == ["50", "50", "max", "max", "20"], seen["pyrunc"]
    assert_same_series(seen)


def test_delete_force_with_a_frozen_sub_cgroup_in_pyrunc(pyrunc, bundle_factory):
    """pyrunc only: a sub-cgroup frozen on its own holds its tasks (and so the pid
    namespace's init) past SIGKILL; pyrunc thaws it and the delete completes.  runc
    1.1.5 waits 10 s and fails with "container init still running" (README)."""
    with container(pyrunc, bundle_factory(args=SLEEP), "frzsub") as (cid, pid):
        dirs = own_dirs(pid)
        for d in dirs.values():
            make_sub(d, "sub")
        r = pyrunc.cmd("exec", "-d", "--cgroup", "sub", cid, "/probe", "sleep", "600")
        assert r.returncode == 0, r.stderr
        fz = f"{dir_of(pid, 'freezer')}/sub/freezer.state"
        procs = [int(p) for p in read(f"{dir_of(pid, 'freezer')}/sub/cgroup.procs").split()]
        assert procs, "no process in the sub-cgroup"
        for p in procs:
            harness.reap_later(p)
        with open(fz, "w") as f:
            f.write("FROZEN")
        harness.wait_for(lambda: read(fz) == "FROZEN", 5, "the sub-cgroup to freeze")
        t = time.monotonic()
        r = pyrunc.delete(cid, force=True, timeout=20)
        assert r.returncode == 0, r.stderr
        assert time.monotonic() - t < 8, "delete waited for the frozen task"
        assert not [d for d in dirs.values() if os.path.exists(d)]
