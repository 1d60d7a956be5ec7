"""Cgroups on a v1 (hybrid or legacy) host, in real containers through `pyrunc` and runc.

Where the container's cgroups go (cgroupsPath absent, relative, absolute), what delete
removes, the limits each controller shows in its files, the devices cgroup seen from
inside, and the cgroup verbs: pause/resume, update, ps, events.  The cgroup mount
inside the container is compared with runc's too.

runc 1.1.5 is the reference: a behaviour runc has is asserted for both runtimes (the
`runtime` fixture) or compared with runc's on the same config; the two places where
pyrunc is stricter on purpose (`..` in cgroupsPath, removing the parents it created)
are checked for pyrunc alone, and say so.

Every cgroup directory a test makes itself is named by harness.new_id(), so the leak
check would see it, and the test removes it.  Inits of detached containers are our
children (we are a subreaper): `reap_later` collects them as they die, since a v1
cgroup with an unreaped zombie cannot be removed.
"""
import contextlib
import json
import os
import re
import selectors
import signal
import subprocess
import time
from pathlib import Path

import pytest

import harness

pytestmark = pytest.mark.integration

CG = Path("/sys/fs/cgroup")
SLEEP = ["/probe", "sleep", "600"]
MiB = 1 << 20
NS = [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]


# ---- host facts ----

def hierarchies():
    """{key as /proc/PID/cgroup names it: mountpoint} for the host's cgroup mounts
    ("memory", "cpu", "name=systemd", "" for the cgroup2 one)."""
    out = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype, _, super_opts = right.split()[:3]
        if fstype == "cgroup2":
            out.setdefault("", left.split()[4])
        elif fstype == "cgroup":
            key = ",".join(o for o in super_opts.split(",")
                           if o not in ("rw", "ro") and not o.startswith(("release_agent=", "xattr",
                                                                          "clone_children", "noprefix")))
            out.setdefault(key, left.split()[4])
    return out


HIER = hierarchies()


def proc_cgroup(pid="self"):
    """/proc/PID/cgroup -> {key: path}."""
    out = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, key, path = line.split(":", 2)
        out[key] = path
    return out


def host_dirs(pid):
    """{key: directory on the host} of a process's cgroups, in every mounted hierarchy."""
    return {k: HIER[k] + p.rstrip("/") for k, p in proc_cgroup(pid).items() if k in HIER}


def dir_of(pid, controller):
    for key, path in host_dirs(pid).items():
        if controller in key.split(","):
            return path
    raise AssertionError(f"controller {controller} is not mounted: {HIER}")


def read(path):
    return Path(path).read_text().strip()


def v1_keys():
    return [k for k in HIER if k]


def block_device():
    """major:minor of a real block device for blkio throttling (the first disk)."""
    for dev in sorted(Path("/sys/block").iterdir()):
        if not dev.name.startswith(("loop", "ram", "zram")) and (dev / "dev").exists():
            return read(dev / "dev")
    return "7:0"


# ---- containers ----

@contextlib.contextmanager
def container(rt, bundle, tag="cg", start=True, cid=None):
    """create (and start) a container; yield (id, init pid); delete --force it at the end."""
    cid = cid or harness.new_id(tag)
    r = rt.create(cid, bundle)
    assert r.returncode == 0, f"{rt.name} create: exit {r.returncode}\n{r.stderr}"
    try:
        pid = rt.state(cid)["pid"]
        harness.reap_later(pid)
        if start:
            r = rt.start(cid)
            assert r.returncode == 0, f"{rt.name} start: exit {r.returncode}\n{r.stderr}"
        yield cid, pid
    finally:
        if cid in rt.containers():
            r = rt.delete(cid, force=True, timeout=15)
            assert r.returncode == 0, f"{rt.name} delete --force: exit {r.returncode}\n{r.stderr}"


def error_of(r):
    """The msg of a runc-style error line (unquoted), or all of stderr."""
    m = re.search(r'level=error msg="((?:[^"\\]|\\.)*)"', r.stderr)
    return json.loads('"' + m.group(1) + '"') if m else r.stderr.strip()


def assert_fails(r, wording):
    assert r.returncode == 1, f"exit {r.returncode}, expected 1\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert wording in error_of(r), f"expected {wording!r} in the error, got {r.stderr!r}"


def cgroup_files(pid, wanted):
    """{file: content} for `wanted` = {controller: [file, ...]} of a live container."""
    return {f: read(f"{dir_of(pid, c)}/{f}") for c, files in wanted.items() for f in files}


def files_under_both(runc, pyrunc, bundle_factory, resources, wanted, args=SLEEP, **fields):
    """The same resources under each runtime: {runtime name: {file: content}}."""
    out = {}
    for rt in (runc, pyrunc):
        bundle = bundle_factory(args=args, linux={"resources": resources}, **fields)
        with container(rt, bundle, "res") as (cid, pid):
            out[rt.name] = cgroup_files(pid, wanted)
    return out


def assert_same_files(seen):
    diff = {f: (seen["runc"][f], seen["pyrunc"].get(f)) for f in seen["runc"]
            if seen["runc"][f] != seen["pyrunc"].get(f)}
    assert not diff, "cgroup files differ from runc's (runc, pyrunc):\n" + \
        "\n".join(f"  {f}: {a!r} vs {b!r}" for f, (a, b) in diff.items())


def assert_refused_by_both(runc, pyrunc, bundle_factory, resources, missing, tag="nohost"):
    """On a host without `missing` (a controller or a cgroup file the kernel lacks) runc refuses
    `resources` at create; pyrunc must refuse it too, leaving no container and no cgroup."""
    for rt in (runc, pyrunc):
        cid = harness.new_id(tag)
        r = rt.create(cid, bundle_factory(args=SLEEP, linux={"resources": resources}))
        assert r.returncode == 1, f"{rt.name} accepted {resources} on a host without {missing}: {r.stderr}"
        assert cid not in rt.containers()
        assert not harness._cgroups([cid])


def remove_own_dirs(paths):
    """rmdir cgroup dirs this test made (or runc left of the test's), deepest first."""
    for p in sorted(set(map(str, paths)), key=lambda s: s.count("/"), reverse=True):
        with contextlib.suppress(OSError):      # gone already, or busy: the leak check reports it
            os.rmdir(p)


# ---- cgroupsPath ----

def test_default_cgroups_path_is_the_id_under_the_runtimes_cgroup(runtime, bundle_factory):
    own = proc_cgroup()
    with container(runtime, bundle_factory(args=SLEEP), "dflt") as (cid, pid):
        seen = proc_cgroup(pid)
        assert seen == {k: own[k].rstrip("/") + "/" + cid for k in own}, \
            f"init's /proc/PID/cgroup {seen}, own {own}"
        dirs = host_dirs(pid)
        assert set(dirs) == set(HIER)
        for key, d in dirs.items():
            assert os.path.isdir(d), f"{d} is not a directory"
            assert pid in map(int, read(f"{d}/cgroup.procs").split()), f"{pid} not in {d}/cgroup.procs"
    for d in dirs.values():
        assert not os.path.exists(d), f"delete left {d}"


def test_relative_cgroups_path_is_under_the_runtimes_cgroup(runtime, bundle_factory):
    own = proc_cgroup()
    parent = harness.new_id("rel")
    bundle = bundle_factory(args=SLEEP, linux={"cgroupsPath": f"{parent}/b"})
    made = [os.path.join(HIER[k], own[k].lstrip("/"), parent) for k in HIER]
    try:
        with container(runtime, bundle, "rel") as (cid, pid):
            seen = proc_cgroup(pid)
            assert seen == {k: own[k].rstrip("/") + f"/{parent}/b" for k in own}, seen
            dirs = host_dirs(pid)
            assert all(os.path.isdir(d) and d.endswith(f"/{parent}/b") for d in dirs.values()), dirs
        for d in dirs.values():
            assert not os.path.exists(d), f"delete left the container's cgroup {d}"
        if runtime.name == "pyrunc":
            # pyrunc removes every directory it created, the parents too (runc 1.1.5
            # removes the leaf only and leaves `parent` behind)
            left = [d for d in made if os.path.exists(d)]
            assert not left, f"delete left the parents it created: {left}"
    finally:
        remove_own_dirs([f"{d}/b" for d in made] + made)


def test_absolute_cgroups_path_is_from_each_hierarchys_root(runtime, bundle_factory):
    cid = harness.new_id("abs")
    bundle = bundle_factory(args=SLEEP, linux={"cgroupsPath": f"/{cid}/x"})
    made = [f"{HIER[k]}/{cid}" for k in HIER]
    try:
        with container(runtime, bundle, cid=cid) as (_, pid):
            seen = proc_cgroup(pid)
            assert seen == {k: f"/{cid}/x" for k in seen}, seen
            assert set(seen) == set(HIER)
            for k in HIER:
                assert pid in map(int, read(f"{HIER[k]}/{cid}/x/cgroup.procs").split())
        for k in HIER:
            assert not os.path.exists(f"{HIER[k]}/{cid}/x"), f"delete left {HIER[k]}/{cid}/x"
        if runtime.name == "pyrunc":
            left = [d for d in made if os.path.exists(d)]
            assert not left, f"delete left the parents it created: {left}"
    finally:
        remove_own_dirs([f"{d}/x" for d in made] + made)


def test_delete_keeps_a_parent_that_existed_before(runtime, bundle_factory):
    parent = harness.new_id("keep")
    made = []
    try:
        for k, mnt in HIER.items():
            d = f"{mnt}/{parent}"
            os.mkdir(d)
            made.append(d)
            if "cpuset" in k.split(","):        # a new v1 cpuset is empty: give ours the root's
                for f in ("cpuset.cpus", "cpuset.mems"):
                    Path(d, f).write_text(read(f"{mnt}/{f}"))
        bundle = bundle_factory(args=SLEEP, linux={"cgroupsPath": f"/{parent}/child"})
        with container(runtime, bundle, "kept") as (cid, pid):
            assert proc_cgroup(pid) == {k: f"/{parent}/child" for k in proc_cgroup(pid)}
        for d in made:
            assert os.path.isdir(d), f"delete removed {d}, which existed before the container"
            assert not os.path.exists(f"{d}/child"), f"delete left {d}/child"
    finally:
        remove_own_dirs([f"{d}/child" for d in made] + made)


def test_delete_while_a_sibling_lives_under_the_parent_it_made(runtime, bundle_factory):
    """The first container makes the parent; a second one's cgroup goes below it; deleting
    the first succeeds at once (runc removes only its own cgroup). pyrunc keeps the busy
    parent, as runc always does."""
    parent = harness.new_id("share")
    made = [f"{HIER[k]}/{parent}" for k in HIER]
    try:
        first = bundle_factory(args=SLEEP, linux={"cgroupsPath": f"/{parent}/a"})
        second = bundle_factory(args=SLEEP, linux={"cgroupsPath": f"/{parent}/b"})
        with container(runtime, first, "sh-a") as (cid_a, _):
            with container(runtime, second, "sh-b") as (cid_b, pid_b):
                started = time.monotonic()
                r = runtime.delete(cid_a, force=True)
                assert r.returncode == 0, f"{runtime.name} delete: {r.stderr}"
                assert time.monotonic() - started < 5
                for k in HIER:
                    assert not os.path.exists(f"{HIER[k]}/{parent}/a"), f"delete left {HIER[k]}/{parent}/a"
                    assert pid_b in map(int, read(f"{HIER[k]}/{parent}/b/cgroup.procs").split())
    finally:
        remove_own_dirs([f"{d}/a" for d in made] + [f"{d}/b" for d in made] + made)


def test_an_existing_parent_with_an_empty_cpuset(runtime, bundle_factory):
    """A new v1 cpuset cgroup has empty cpus and mems, so no task can join it: runc fills
    an existing empty parent from its ancestors before it makes the container's cgroup."""
    parent = harness.new_id("cpuset")
    made = [f"{HIER[k]}/{parent}" for k in HIER if "cpuset" in k.split(",")]
    try:
        for d in made:
            os.mkdir(d)
        bundle = bundle_factory(args=SLEEP, linux={"cgroupsPath": f"/{parent}/child"})
        with container(runtime, bundle, "cpuset") as (cid, pid):
            d = dir_of(pid, "cpuset")
            assert d.endswith(f"/{parent}/child")
            assert read(f"{d}/cpuset.cpus") == read(f"{HIER['cpuset']}/cpuset.cpus")
            assert read(f"{d}/cpuset.mems") == read(f"{HIER['cpuset']}/cpuset.mems")
        for d in made:
            assert os.path.isdir(d), f"delete removed {d}, which existed before the container"
    finally:
        remove_own_dirs([f"{HIER[k]}/{parent}/child" for k in HIER] + [f"{HIER[k]}/{parent}" for k in HIER])


def test_dotdot_in_cgroups_path_is_refused(pyrunc, bundle_factory):
    """pyrunc only: it refuses `..` outright (runc 1.1.5 cleans the path lexically instead,
    so "a/../b" becomes "b"); the error names the field and nothing is left behind."""
    name = harness.new_id("dotdot")
    # (never a path that would clean to the runtime's own cgroup: under a regression that
    # would be the host's root cgroup)
    for path in (f"{name}/../{name}", f"/../{name}/x", f"{name}/a/../../{name}"):
        cid = harness.new_id("dotdot")
        procs = {(p.pid, p.start) for p in harness.descendants()}
        r = pyrunc.create(cid, bundle_factory(args=SLEEP, linux={"cgroupsPath": path}))
        assert r.returncode == 1, f"{path}: exit {r.returncode}\n{r.stderr}"
        assert "linux.cgroupsPath" in error_of(r), f"{path}: {r.stderr}"
        assert cid not in pyrunc.containers()
        assert not harness._cgroups([cid, name]), f"{path}: cgroups left behind"
        harness.reap()
        assert not [p for p in harness.descendants() if (p.pid, p.start) not in procs]


def host_mode():
    """The host's cgroup mode as the test sees it: v1 controllers (a name= hierarchy is
    none) and/or a cgroup2 mount."""
    v1 = any(k and not k.startswith("name=") for k in HIER)
    return {(True, True): "hybrid", (True, False): "legacy", (False, True): "v2"}.get((v1, "" in HIER), "none")


def debug_messages(stderr):
    """[(level, msg)] of the logrus-style lines a --debug run writes."""
    out = []
    for line in stderr.splitlines():
        m = re.search(r'level=(\w+) msg="((?:[^"\\]|\\.)*)"', line)
        assert m, f"not a log line: {line!r}"
        out.append((m.group(1), json.loads('"' + m.group(2) + '"')))
    return out


def test_debug_create_says_which_cgroup_mode_was_used(pyrunc, bundle_factory):
    """pyrunc only: `--debug create` logs the mode it detected and every cgroup directory of
    the container (runc 1.1.5's debug output names neither)."""
    assert host_mode() == "hybrid", f"this file is for the hybrid v1 host; the test sees {host_mode()}: {HIER}"
    cid = harness.new_id("dbg")
    r = pyrunc.cmd("--debug", "create", "--bundle", bundle_factory(args=SLEEP), cid, io=pyrunc._io(cid))
    assert r.returncode == 0, r.stderr
    try:
        pid = pyrunc.state(cid)["pid"]
        harness.reap_later(pid)
        stderr = pyrunc.output(cid)[1]
        modes = [msg for level, msg in debug_messages(stderr) if msg.startswith("cgroup mode ")]
        assert len(modes) == 1, f"expected one `cgroup mode` line:\n{stderr}"
        assert [level for level, msg in debug_messages(stderr) if msg == modes[0]] == ["debug"]
        m = re.fullmatch(r"cgroup mode (\S+): (.*)", modes[0])
        assert m and m.group(1) == "hybrid", modes[0]
        assert m.group(2).split(", ") == sorted(host_dirs(pid).values()), \
            f"the line names other directories than the init is in:\n{modes[0]}\n{host_dirs(pid)}"
    finally:
        assert pyrunc.delete(cid, force=True).returncode == 0
    # without --debug nothing is said
    cid = harness.new_id("dbg")
    with container(pyrunc, bundle_factory(args=SLEEP), cid=cid, start=False):
        assert pyrunc.output(cid)[1] == ""


SYSTEMD_WORDING = {
    # runc 1.1.5 on a host without systemd (as here) refuses before anything else
    "runc": "runc create failed: systemd not running on this host, cannot use systemd cgroups manager",
    # pyrunc makes runc's check first (where systemd runs: integration/test_systemd_cgroup.py)
    "pyrunc": "systemd not running on this host, cannot use systemd cgroups manager",
}


@pytest.mark.parametrize("verb", ["create", "run"])
def test_systemd_cgroup_fails_with_one_line_and_leaves_nothing(runtime, bundle_factory, verb):
    """--systemd-cgroup: runc and pyrunc fail here because systemd is not running; each says
    so in one error line, exits 1 and leaves no state dir,
    cgroup or process, with or without a systemd-style cgroupsPath."""
    for path in (None, "system.slice:pyrt:{cid}"):
        cid = harness.new_id("sd")
        linux = {"cgroupsPath": path.format(cid=cid)} if path else {}
        procs = {(p.pid, p.start) for p in harness.descendants()}
        extra = ["--detach"] if verb == "run" else []
        r = runtime.cmd("--systemd-cgroup", verb, *extra, "--bundle", bundle_factory(args=SLEEP, linux=linux), cid,
                        io=runtime._io(cid))
        stdout, stderr = runtime.output(cid)
        what = f"{runtime.name} --systemd-cgroup {verb} (cgroupsPath {path}): exit {r.returncode}"
        assert r.returncode == 1, f"{what}\n{stderr}"
        assert stdout == "" and len(stderr.splitlines()) == 1, f"{what}: not one line:\n{stderr}"
        assert 'level=error msg="' in stderr, stderr
        wording = SYSTEMD_WORDING[runtime.name]
        if runtime.name == "runc":
            wording = wording.replace("create", verb)
        assert wording in error_of(subprocess.CompletedProcess([], 1, "", stderr)), f"{what}: {stderr}"
        assert cid not in runtime.containers() and not (runtime.root / cid).exists()
        assert not harness._cgroups({cid}), f"{what}: cgroups left behind"
        harness.reap()
        assert not [p for p in harness.descendants() if (p.pid, p.start) not in procs], f"{what}: processes left"


def test_the_init_is_in_its_cgroups_before_start(runtime, bundle_factory):
    with container(runtime, bundle_factory(args=SLEEP), "early", start=False) as (cid, pid):
        assert runtime.state(cid)["status"] == "created"
        seen = proc_cgroup(pid)
        assert all(p.endswith("/" + cid) for p in seen.values()), f"before start: {seen}"
        for key, d in host_dirs(pid).items():
            assert pid in map(int, read(f"{d}/cgroup.procs").split()), \
                f"{pid} is not in {d}/cgroup.procs before start"


# ---- memory ----

MEM_FILES = {"memory": ["memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.memsw.limit_in_bytes",
                        "memory.swappiness", "memory.oom_control"]}


def has_memsw():
    return Path(HIER["memory"], "memory.memsw.limit_in_bytes").exists()


def has_rt():
    """cpu.rt_* exist only with CONFIG_RT_GROUP_SCHED."""
    return Path(HIER["cpu"], "cpu.rt_runtime_us").exists()


def test_memory_files_are_runcs(runc, pyrunc, bundle_factory):
    mem = {"limit": 64 * MiB, "reservation": 32 * MiB, "swappiness": 30, "disableOOMKiller": True}
    if has_memsw():
        mem["swap"] = 96 * MiB
    seen = files_under_both(runc, pyrunc, bundle_factory, {"memory": mem}, MEM_FILES)
    assert seen["runc"]["memory.limit_in_bytes"] == str(64 * MiB)
    assert seen["runc"]["memory.oom_control"].splitlines()[0] == "oom_kill_disable 1"
    assert_same_files(seen)


def test_memory_limit_without_the_other_fields_is_runcs(runc, pyrunc, bundle_factory):
    seen = files_under_both(runc, pyrunc, bundle_factory, {"memory": {"limit": 48 * MiB}}, MEM_FILES)
    assert seen["pyrunc"]["memory.limit_in_bytes"] == str(48 * MiB)
    assert_same_files(seen)


def oom_bundle(bundle_factory, args):
    mem = {"limit": 32 * MiB}
    if has_memsw():
        mem["swap"] = 32 * MiB
    return bundle_factory(args=args, linux={"resources": {"memory": mem}})


def test_exceeding_the_memory_limit_is_oom_killed(runtime, bundle_factory):
    cid = harness.new_id("oom")
    r = runtime.run(cid, oom_bundle(bundle_factory, ["/probe", "mem", "96"]))
    out = runtime.output(cid)
    assert r.returncode == 137, f"{runtime.name} run: exit {r.returncode}, expected 137 (SIGKILL)\n" \
                                f"output: {out}\nstderr: {r.stderr}"
    assert "touched" not in out[0]
    assert cid not in runtime.containers()


def test_within_the_memory_limit_runs(runtime, bundle_factory):
    cid = harness.new_id("mem")
    r = runtime.run(cid, oom_bundle(bundle_factory, ["/probe", "mem", "8"]))
    assert r.returncode == 0, r.stderr
    assert runtime.output(cid)[0] == "touched: 8\n"


# ---- pids ----

def test_pids_limit_stops_a_fork_loop(runtime, bundle_factory):
    cid = harness.new_id("pids")
    bundle = bundle_factory(args=["/probe", "forkbomb", "60"], linux={"resources": {"pids": {"limit": 10}}})
    r = runtime.run(cid, bundle)
    assert r.returncode == 0, r.stderr
    out = runtime.output(cid)[0]
    m = re.search(r"forked: (\d+)", out)
    assert m and int(m.group(1)) < 10, f"the fork loop was not stopped: {out!r}"
    assert "error: EAGAIN" in out, out


def test_pids_file_is_runcs(runc, pyrunc, bundle_factory):
    seen = files_under_both(runc, pyrunc, bundle_factory, {"pids": {"limit": 42}}, {"pids": ["pids.max"]})
    assert seen["pyrunc"] == {"pids.max": "42"}
    assert_same_files(seen)


# ---- cpu, cpuset ----

def test_cpu_files_are_runcs(runc, pyrunc, bundle_factory):
    cpu = {"shares": 512, "quota": 50000, "period": 200000, "cpus": "0", "mems": "0"}
    wanted = {"cpu": ["cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"],
              "cpuset": ["cpuset.cpus", "cpuset.mems"]}
    seen = files_under_both(runc, pyrunc, bundle_factory, {"cpu": cpu}, wanted)
    assert seen["pyrunc"] == {"cpu.shares": "512", "cpu.cfs_quota_us": "50000", "cpu.cfs_period_us": "200000",
                              "cpuset.cpus": "0", "cpuset.mems": "0"}
    assert_same_files(seen)


def test_cpuset_of_a_new_cgroup_is_its_parents_when_unset(runc, pyrunc, bundle_factory):
    seen = files_under_both(runc, pyrunc, bundle_factory, {}, {"cpuset": ["cpuset.cpus", "cpuset.mems"]})
    assert seen["pyrunc"]["cpuset.cpus"] == read(f"{HIER['cpuset']}/cpuset.cpus")
    assert_same_files(seen)


# ---- blkio, hugetlb ----

def blkio_weight_file():
    """The weight file this host's blkio controller has (CFQ's or BFQ's), or None: with the
    mq-deadline or none scheduler the kernel offers neither, and runc then refuses a weight."""
    for name in ("blkio.weight", "blkio.bfq.weight"):
        if os.path.exists(f"{HIER['blkio']}/{name}"):
            return name
    return None


def test_blkio_throttle_files_are_runcs(runc, pyrunc, bundle_factory):
    major, minor = map(int, block_device().split(":"))
    blk = {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": MiB}],
           "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]}
    wanted = {"blkio": ["blkio.throttle.read_bps_device", "blkio.throttle.write_iops_device"]}
    seen = files_under_both(runc, pyrunc, bundle_factory, {"blockIO": blk}, wanted)
    assert seen["runc"]["blkio.throttle.read_bps_device"] == f"{major}:{minor} {MiB}"
    assert seen["pyrunc"]["blkio.throttle.write_iops_device"] == f"{major}:{minor} 100"
    assert_same_files(seen)


def test_blkio_weight_is_runcs(runc, pyrunc, bundle_factory):
    """Where the host has a weight file both set it to the same value; where it has none
    (mq-deadline, no BFQ) runc refuses the config, and so must pyrunc, leaving nothing."""
    res = {"blockIO": {"weight": 300}}
    weight = blkio_weight_file()
    if weight is not None:
        seen = files_under_both(runc, pyrunc, bundle_factory, res, {"blkio": [weight]})
        assert seen["pyrunc"][weight] == "300", seen
        assert_same_files(seen)
        return
    assert_refused_by_both(runc, pyrunc, bundle_factory, res, "blkio.weight or blkio.bfq.weight", "blkw")


def test_hugetlb_is_runcs(runc, pyrunc, bundle_factory):
    """With the hugetlb controller mounted the limit is runc's; without it both refuse the config."""
    res = {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MiB}]}
    if "hugetlb" in HIER:
        seen = files_under_both(runc, pyrunc, bundle_factory, res, {"hugetlb": ["hugetlb.2MB.limit_in_bytes"]})
        assert seen["pyrunc"]["hugetlb.2MB.limit_in_bytes"] == str(4 * MiB)
        assert_same_files(seen)
        return
    assert_refused_by_both(runc, pyrunc, bundle_factory, res, "the hugetlb controller", "huge")


# ---- devices ----

DEVICE_RULES = {
    "default": [{"allow": False, "access": "rwm"}],
    "fuse": [{"allow": False, "access": "rwm"},
             {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"}],
    "allow-all-but": [{"allow": True, "access": "rwm"},
                      {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"}],
    "mixed": [{"allow": False, "access": "rwm"},
              {"allow": True, "type": "b", "major": 7, "access": "r"},
              {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"},
              {"allow": False, "type": "c", "major": 5, "minor": 0, "access": "rwm"}],
}


@pytest.mark.parametrize("rules", sorted(DEVICE_RULES))
def test_devices_list_grants_what_runcs_does(runc, pyrunc, bundle_factory, rules):
    """The same exceptions as runc's; their order is the config's (crun's way, see
    test_conformance_cgroups.py), where runc 1.1.5 sorts them by number."""
    seen = files_under_both(runc, pyrunc, bundle_factory, {"devices": DEVICE_RULES[rules]},
                            {"devices": ["devices.list"]})
    for name in seen:
        seen[name]["devices.list"] = sorted(seen[name]["devices.list"].splitlines())
    assert_same_files(seen)


MKNOD_CAPS = {"bounding": ["CAP_MKNOD"], "effective": ["CAP_MKNOD"], "permitted": ["CAP_MKNOD"], "ambient": []}
DEVICE_SCRIPT = ("mknod /dev/fuse0 c 10 229 && echo mknod=ok; /probe read /dev/fuse0 | head -c 16; "
                 "mknod /dev/loopx b 7 0 && echo bmknod=ok; /probe read /dev/loopx | head -c 16; echo; "
                 "/probe write /dev/null x; /probe write /dev/tty x; /probe read /dev/zero | head -c 1 | wc -c")


@pytest.mark.parametrize("rules", ["default", "mixed"])
def test_denied_device_open_is_eperm_as_under_runc(compare, bundle_factory, rules):
    """mknod is allowed (c *:* m), opening the node is what the devices cgroup refuses."""
    sbs = compare(lambda d: bundle_factory(d, ["/bin/sh", "-c", DEVICE_SCRIPT],
                                           process={"capabilities": MKNOD_CAPS, "noNewPrivileges": True},
                                           linux={"resources": {"devices": DEVICE_RULES[rules]}}))
    assert sbs.runc.returncode == 0, sbs.runc.stderr
    assert "mknod=ok\nEPERM\n" in sbs.runc.stdout, sbs.runc.stdout
    harness.assert_same(sbs)


# ---- pause / resume ----

COUNTER = ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /dev/shm/n; /probe sleep 0.02; done"]


def counter(pid):
    try:
        return int(read(f"/proc/{pid}/root/dev/shm/n") or 0)
    except (OSError, ValueError):
        return 0


def test_pause_freezes_and_resume_thaws(runtime, bundle_factory):
    with container(runtime, bundle_factory(args=COUNTER), "pause") as (cid, pid):
        harness.wait_for(lambda: counter(pid) > 2, 10, "the counter to run")
        r = runtime.cmd("pause", cid)
        assert r.returncode == 0, r.stderr
        assert runtime.state(cid)["status"] == "paused"
        assert read(f"{dir_of(pid, 'freezer')}/freezer.state") == "FROZEN"
        status = read(f"/proc/{pid}/status")
        state = re.search(r"^State:\s+(\S)", status, re.M).group(1)
        assert state in "DT", f"init state {state} while paused"
        frozen = counter(pid)
        time.sleep(0.3)
        assert counter(pid) == frozen, "the counter moved while paused"
        assert_fails(runtime.cmd("pause", cid), "container not running")
        r = runtime.cmd("resume", cid)
        assert r.returncode == 0, r.stderr
        assert runtime.state(cid)["status"] == "running"
        assert read(f"{dir_of(pid, 'freezer')}/freezer.state") == "THAWED"
        harness.wait_for(lambda: counter(pid) > frozen + 2, 10, "the counter to go on after resume")
        assert_fails(runtime.cmd("resume", cid), "container not paused")


def test_pause_and_resume_of_a_created_container(runtime, bundle_factory):
    with container(runtime, bundle_factory(args=SLEEP), "pzc", start=False) as (cid, pid):
        assert_fails(runtime.cmd("resume", cid), "container not paused")
        assert runtime.cmd("pause", cid).returncode == 0
        assert runtime.state(cid)["status"] == "paused"
        assert runtime.cmd("resume", cid).returncode == 0
        assert runtime.state(cid)["status"] == "created"


def test_cgroup_verbs_on_a_stopped_container_fail(runtime, bundle_factory):
    with container(runtime, bundle_factory(args=["/probe", "exit", "0"]), "stopv") as (cid, pid):
        runtime.wait_status(cid, "stopped")
        assert_fails(runtime.cmd("pause", cid), "container not running")
        assert_fails(runtime.cmd("resume", cid), "container not paused")
        assert_fails(runtime.cmd("update", "--memory", "64m", cid), "container not running")


def test_events_of_a_stopped_container_fails_as_runc(runtime, bundle_factory):
    with container(runtime, bundle_factory(args=["/probe", "exit", "0"]), "stopev") as (cid, pid):
        runtime.wait_status(cid, "stopped")
        for args in (["--stats"], ["--interval", "100ms"]):
            r = runtime.cmd("events", *args, cid, timeout=10)
            assert r.stdout == ""
            assert_fails(r, f"container with id {cid} is not running")


def test_ps_of_a_stopped_container_lists_nothing(runtime, bundle_factory):
    """runc answers `ps` of a stopped container with an empty list, not an error."""
    with container(runtime, bundle_factory(args=["/probe", "exit", "0"]), "stopps") as (cid, pid):
        runtime.wait_status(cid, "stopped")
        r = runtime.cmd("ps", "--format", "json", cid)
        assert (r.returncode, r.stdout) == (0, "null\n"), f"exit {r.returncode}: {r.stdout!r} {r.stderr!r}"
        r = runtime.cmd("ps", cid)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[0].split()[:2] == ["UID", "PID"] and len(r.stdout.splitlines()) == 1


def test_kill_of_a_paused_container_stops_it(runtime, bundle_factory):
    with container(runtime, bundle_factory(args=SLEEP), "pzkill") as (cid, pid):
        assert runtime.cmd("pause", cid).returncode == 0
        r = runtime.kill(cid, "KILL", timeout=10)
        assert r.returncode == 0, r.stderr
        harness.wait_for(lambda: runtime.state(cid)["status"] == "stopped", 5,
                         f"{runtime.name}: SIGKILL to stop the paused container "
                         f"(init state {getattr(harness.proc_stat(pid), 'state', None)})")


def test_delete_force_of_a_paused_container(runtime, bundle_factory):
    with container(runtime, bundle_factory(args=SLEEP), "pzdel") as (cid, pid):
        assert runtime.cmd("pause", cid).returncode == 0
        assert_fails(runtime.delete(cid), "is not stopped")
        dirs = host_dirs(pid)
        r = runtime.delete(cid, force=True, timeout=10)
        assert r.returncode == 0, r.stderr
        assert cid not in runtime.containers()
        harness.wait_for(lambda: (p := harness.proc_stat(pid)) is None or p.state == "Z", 5,
                         f"init {pid} to die")
    left = [d for d in dirs.values() if os.path.exists(d)]
    assert not left, f"delete --force left {left}"


# ---- update ----

UPDATE_FILES = {"memory": ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes"],
                "pids": ["pids.max"], "cpu": ["cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"],
                "cpuset": ["cpuset.cpus"]}


def update_steps(tmp_path, memsw):
    """The update series; without memsw on the host (no swap accounting) the same steps
    without swap, which runc cannot set there."""
    def mem(limit, swap):
        return {"limit": limit, "swap": swap} if memsw else {"limit": limit}
    res_file = tmp_path / "resources.json"
    res_file.write_text(json.dumps({"memory": mem(256 * MiB, 512 * MiB), "pids": {"limit": 25}}))
    return [
        (["--memory", "128m", "--pids-limit", "20", "--cpu-share", "256", "--cpu-quota", "30000",
          "--cpu-period", "100000"], None),
        # lower the limit with memsw set: the limit must be written first
        (["--resources", "-"], json.dumps({"memory": mem(96 * MiB, 96 * MiB), "cpu": {"shares": 300}})),
        # raise both above the current memsw: memsw must be written first
        (["--resources", str(res_file)], None),
        (["--memory", "32m", "--memory-swap", "32m"] if memsw else ["--memory", "32m"], None),
        (["--memory-reservation", "16m", "--cpuset-cpus", "0"], None),
    ]


def test_update_changes_the_live_files_as_runc(runc, pyrunc, bundle_factory, tmp_path):
    seen = {}
    for rt in (runc, pyrunc):
        bundle = bundle_factory(args=SLEEP, linux={"resources": {"memory": {"limit": 64 * MiB},
                                                                 "pids": {"limit": 100}, "cpu": {"shares": 1024}}})
        with container(rt, bundle, "upd") as (cid, pid):
            steps = []
            for args, stdin in update_steps(tmp_path, has_memsw()):
                r = rt.cmd("update", *args, cid, input=stdin)
                assert r.returncode == 0, f"{rt.name} update {args}: exit {r.returncode}\n{r.stderr}"
                steps.append(cgroup_files(pid, UPDATE_FILES))
            seen[rt.name] = steps
    first = seen["pyrunc"][0]
    assert (first["memory.limit_in_bytes"], first["pids.max"], first["cpu.shares"], first["cpu.cfs_quota_us"]) == \
        (str(128 * MiB), "20", "256", "30000"), first
    for i, (a, b) in enumerate(zip(seen["runc"], seen["pyrunc"])):
        assert a == b, f"after update step {i}: runc {a}\npyrunc {b}"


def test_update_lowers_below_and_raises_above_the_current_memsw(runtime, bundle_factory, runc, pyrunc):
    mem = {"limit": 64 * MiB, "swap": 128 * MiB}
    if not has_memsw():
        assert_refused_by_both(runc, pyrunc, bundle_factory, {"memory": mem}, "memory.memsw.limit_in_bytes", "memsw")
        return
    with container(runtime, bundle_factory(args=SLEEP, linux={"resources": {"memory": mem}}), "memsw") as (cid, pid):
        d = dir_of(pid, "memory")

        def values():
            return int(read(f"{d}/memory.limit_in_bytes")), int(read(f"{d}/memory.memsw.limit_in_bytes"))
        for args, want in ((["--memory", "32m"], (32 * MiB, 128 * MiB)),
                           (["--memory", "256m", "--memory-swap", "512m"], (256 * MiB, 512 * MiB)),
                           (["--memory", "16m", "--memory-swap", "24m"], (16 * MiB, 24 * MiB)),
                           (["--memory", "1g", "--memory-swap", "-1"], (1 << 30, None))):
            r = runtime.cmd("update", *args, cid)
            assert r.returncode == 0, f"update {args}: exit {r.returncode}\n{r.stderr}"
            got = values()
            assert got[0] == want[0] and (want[1] is None or got[1] == want[1]), f"update {args}: {got}"
        assert values()[1] > 1 << 40, "--memory-swap -1 did not lift the memsw limit"


def parse_list(text):
    """A cpuset list ("0-2,4") -> [0, 1, 2, 4]."""
    out = []
    for part in filter(None, text.split(",")):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


NEW_FLAG_FILES = {"cpu": ["cpu.rt_period_us", "cpu.rt_runtime_us"], "cpuset": ["cpuset.cpus", "cpuset.mems"],
                  "blkio": ["blkio.weight", "blkio.bfq.weight"], "memory": ["memory.limit_in_bytes"]}


def present_files(pid, wanted=NEW_FLAG_FILES):
    """{file: content, or None where the kernel has no such file} in a live container's cgroups."""
    out = {}
    for c, files in wanted.items():
        for f in files:
            p = f"{dir_of(pid, c)}/{f}"
            out[f] = read(p) if os.path.exists(p) else None
    return out


def update_series(rt, bundle, steps, wanted=NEW_FLAG_FILES, tag="updn"):
    """`update` each of `steps` on one live container: [(args, exit status, error, files after)],
    with the files before the first step as step None."""
    out = []
    with container(rt, bundle, tag) as (cid, pid):
        out.append((None, 0, "", present_files(pid, wanted)))
        for args in steps:
            r = rt.cmd("update", *args, cid)
            out.append((args, r.returncode, error_of(r) if r.returncode else r.stderr, present_files(pid, wanted)))
    return out


def assert_same_series(seen):
    for a, b in zip(seen["runc"], seen["pyrunc"], strict=True):
        assert (a[1], a[3]) == (b[1], b[3]), \
            f"update {a[0]}:\n  runc   exit {a[1]} {a[2]!r}\n         {a[3]}\n" \
            f"  pyrunc exit {b[1]} {b[2]!r}\n         {b[3]}"


def test_update_cpuset_mems_rt_and_blkio_weight_as_runc(runc, pyrunc, bundle_factory):
    """The update flags runc 1.1.5 has that update_steps does not use: --cpuset-mems,
    --cpu-rt-period/--cpu-rt-runtime, --blkio-weight; the live files after each step are
    runc's.  Where the kernel lacks a file (blkio.weight without CFQ or BFQ, cpu.rt_*
    without RT_GROUP_SCHED) both must fail, naming it; values the kernel refuses (a memory
    node it does not have, a runtime above the period) fail the same way under both."""
    nodes = parse_list(read(f"{HIER['cpuset']}/cpuset.mems"))
    node, bad_node = str(nodes[-1]), str(max(nodes) + 1)
    steps = [
        ["--cpuset-mems", node],
        ["--cpu-rt-period", "500000", "--cpu-rt-runtime", "100000"],
        ["--cpu-rt-runtime", "150000"],
        ["--cpu-rt-period", "900000"],
        ["--blkio-weight", "300"],
        ["--blkio-weight", "1000", "--cpuset-mems", node, "--cpu-rt-runtime", "50000"],
        ["--cpuset-mems", bad_node],
        ["--cpu-rt-runtime", "2000000"],
    ]
    seen = {rt.name: update_series(rt, bundle_factory(args=SLEEP), steps) for rt in (runc, pyrunc)}

    files = seen["pyrunc"][0][3]
    rt_ok = files["cpu.rt_period_us"] is not None and files["cpu.rt_runtime_us"] is not None
    weight = "blkio.weight" if files["blkio.weight"] is not None else "blkio.bfq.weight"
    weight_ok = files[weight] is not None
    missing = (1, {}, "no such file or directory")
    want = [  # (exit status, the files that must show the step, what the error says)
        (0, {"cpuset.mems": node}, ""),
        (0, {"cpu.rt_period_us": "500000", "cpu.rt_runtime_us": "100000"}, "") if rt_ok else missing,
        (0, {"cpu.rt_period_us": "500000", "cpu.rt_runtime_us": "150000"}, "") if rt_ok else missing,
        (0, {"cpu.rt_period_us": "900000", "cpu.rt_runtime_us": "150000"}, "") if rt_ok else missing,
        (0, {weight: "300"}, "") if weight_ok else missing,
        (0, {weight: "1000", "cpu.rt_runtime_us": "50000"}, "") if weight_ok and rt_ok else missing,
        (1, {"cpuset.mems": node}, "invalid argument"),
        (1, {"cpu.rt_runtime_us": "50000"}, "invalid argument") if rt_ok else missing,
    ]
    names = {2: "cpu.rt_", 3: "cpu.rt_", 4: "cpu.rt_", 5: weight, 7: "cpuset.mems", 8: "cpu.rt_runtime_us"}
    for name, series in seen.items():
        for i, ((args, rc, err, got), (want_rc, want_files, says)) in enumerate(zip(series[1:], want, strict=True), 1):
            assert rc == want_rc, f"{name} update {args}: exit {rc}, expected {want_rc}: {err}"
            assert {f: got[f] for f in want_files} == want_files, f"{name} update {args}: {got}"
            if rc:
                assert len(err.splitlines()) == 1 and says in err, f"{name} update {args}: {says!r} not in {err!r}"
                assert names.get(i, "") in err, f"{name} update {args}: {names[i]} not named in {err!r}"
    assert_same_series(seen)


def test_update_rt_period_below_the_current_runtime_as_runc(runc, pyrunc, bundle_factory):
    """runc 1.1.5 writes cpu.rt_period_us, then cpu.rt_runtime_us: a new period below the
    current runtime is refused by the kernel (EINVAL) before anything changes, and lowering
    the runtime first, in its own update, is the way down.  Going up, period first works."""
    cpu = {"realtimePeriod": 1000000, "realtimeRuntime": 200000}
    if not has_rt():
        assert_refused_by_both(runc, pyrunc, bundle_factory, {"cpu": cpu}, "cpu.rt_runtime_us", "nort")
        return
    steps = [(["--cpu-rt-period", "100000", "--cpu-rt-runtime", "10000"], 1, ("1000000", "200000")),
             (["--cpu-rt-runtime", "10000"], 0, ("1000000", "10000")),
             (["--cpu-rt-period", "100000"], 0, ("100000", "10000")),
             (["--cpu-rt-period", "1000000", "--cpu-rt-runtime", "200000"], 0, ("1000000", "200000"))]
    wanted = {"cpu": ["cpu.rt_period_us", "cpu.rt_runtime_us"]}
    seen = {rt.name: update_series(rt, bundle_factory(args=SLEEP, linux={"resources": {"cpu": cpu}}),
                                   [a for a, _, _ in steps], wanted)
            for rt in (runc, pyrunc)}
    for name, series in seen.items():
        assert series[0][3] == {"cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "200000"}, series[0]
        for (args, rc, err, got), (_, want_rc, (period, runtime)) in zip(series[1:], steps, strict=True):
            assert rc == want_rc, f"{name} update {args}: exit {rc}, expected {want_rc}: {err}"
            assert got == {"cpu.rt_period_us": period, "cpu.rt_runtime_us": runtime}, f"{name} update {args}: {got}"
            if rc:
                assert "cpu.rt_period_us" in err and "invalid argument" in err, f"{name} update {args}: {err}"
    assert_same_series(seen)


def test_a_refused_update_fails_as_runc(runc, pyrunc, bundle_factory):
    """The kernel refuses one write of an update: both exit 1 with that write's error, and
    the files are left as runc leaves them (runc 1.1.5 does not undo the writes before the
    refused one: its "Setting back cgroup configs" writes the new values again)."""
    bad_node = str(max(parse_list(read(f"{HIER['cpuset']}/cpuset.mems"))) + 1)
    res = {"cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 100000}, "memory": {"limit": 64 * MiB}}
    if not has_rt():
        assert_refused_by_both(runc, pyrunc, bundle_factory, res, "cpu.rt_runtime_us", "nort")
        return
    steps = [(["--cpu-rt-period", "600000", "--cpu-rt-runtime", "2000000"], "cpu.rt_runtime_us"),  # runtime > period
             (["--memory", "32m", "--cpuset-mems", bad_node], "cpuset.mems")]                     # no such node
    seen = {rt.name: update_series(rt, bundle_factory(args=SLEEP, linux={"resources": res}), [a for a, _ in steps])
            for rt in (runc, pyrunc)}
    for name, series in seen.items():
        assert series[0][3]["memory.limit_in_bytes"] == str(64 * MiB)
        for (args, rc, err, got), (_, file) in zip(series[1:], steps, strict=True):
            assert rc == 1, f"{name} update {args}: exit {rc}"
            assert len(err.splitlines()) == 1 and file in err and "invalid argument" in err, f"{name} {args}: {err!r}"
        assert series[-1][3]["memory.limit_in_bytes"] == str(64 * MiB), f"{name}: {series[-1]}"
    assert_same_series(seen)


def test_update_blkio_weight_below_10_is_refused_by_pyrunc(pyrunc, bundle_factory):
    """pyrunc only: it keeps --blkio-weight to the documented 10..1000 (runc's help says so,
    and the unit tests pin the refusal), where runc 1.1.5 passes any value to the kernel
    (BFQ takes 1..1000: `runc update --blkio-weight 5` sets blkio.bfq.weight to 5)."""
    series = update_series(pyrunc, bundle_factory(args=SLEEP), [["--blkio-weight", "5"], ["--blkio-weight", "1001"]])
    before = series[0][3]
    for args, rc, err, got in series[1:]:
        # named as the caller gave it: the flag, not a config.json path
        assert rc == 1 and err.startswith("--blkio-weight: ") and "10 to 1000" in err, f"{args}: {rc} {err}"
        assert "config.json" not in err, err
        assert got == before, f"update {args} was refused but changed {got}"


CPU_FILES = {"cpu": ["cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_burst_us", "cpu.idle"],
             "memory": ["memory.limit_in_bytes"]}


def test_update_cpu_burst_and_cpu_idle(runc, pyrunc, bundle_factory):
    """--cpu-burst and --cpu-idle are runc 1.2's, not 1.1.5's (it refuses them as unknown
    flags): pyrunc's are checked against the kernel's files.  The kernel refuses any
    cpu.shares write to an idle group, so once idle the container's other updates must
    still work, and leaving idle must give back the configured shares."""
    help_text = runc.cmd("update", "--help").stdout
    assert "--cpu-share" in help_text, help_text
    for flag in ("--cpu-burst", "--cpu-idle"):
        assert flag not in help_text, f"runc now has {flag}: compare pyrunc's with it"
        assert_fails(runc.cmd("update", flag, "1", "pyrt-none"), f"flag provided but not defined: -{flag[2:]}")
    res = {"cpu": {"shares": 512, "quota": 50000, "period": 100000}, "memory": {"limit": 128 * MiB}}
    steps = [
        ["--cpu-burst", "20000"],
        ["--cpu-quota", "80000", "--cpu-burst", "40000"],
        ["--cpu-quota", "10000", "--cpu-burst", "40000"],       # burst > quota: refused
        ["--cpu-burst", "0"],
        ["--cpu-idle", "1"],
        ["--memory", "64m"],
        ["--cpu-idle", "0"],
        ["--cpu-share", "256"],
        ["--cpu-idle", "2"],                                     # 0 or 1 only
    ]
    series = update_series(pyrunc, bundle_factory(args=SLEEP, linux={"resources": res}), steps, CPU_FILES, "idle")
    files = series[0][3]
    assert files["cpu.shares"] == "512" and files["cpu.cfs_quota_us"] == "50000", files
    burst = files["cpu.cfs_burst_us"] is not None
    idle = files["cpu.idle"] is not None
    B = (lambda v: v) if burst else (lambda v: None)             # no cpu.cfs_burst_us: ignored, as runc 1.2
    I = (lambda v: v) if idle else (lambda v: None)
    want = [
        (0, {"cpu.cfs_burst_us": B("20000"), "cpu.cfs_quota_us": "50000"}),
        (0, {"cpu.cfs_burst_us": B("40000"), "cpu.cfs_quota_us": "80000"}),
        (1, {"cpu.cfs_burst_us": B("40000"), "cpu.cfs_quota_us": "80000"}),
        (0, {"cpu.cfs_burst_us": B("0"), "cpu.cfs_quota_us": "80000"}),
        (0, {"cpu.idle": "1"}) if idle else (1, {}),             # no cpu.idle: refused, naming it
        (0, {"memory.limit_in_bytes": str(64 * MiB), "cpu.idle": I("1")}),
        (0, {"cpu.idle": "0", "cpu.shares": "512"}) if idle else (1, {}),
        (0, {"cpu.shares": "256", "cpu.idle": I("0")}),
        (1, {"cpu.idle": I("0"), "cpu.shares": "256"}),
    ]
    for (args, rc, err, got), (want_rc, want_files) in zip(series[1:], want, strict=True):
        assert rc == want_rc, f"update {args}: exit {rc}, expected {want_rc}: {err}\n  files {got}"
        assert {f: got[f] for f in want_files} == want_files, f"update {args}: {got}"
        if rc:
            assert len(err.splitlines()) == 1, err
            # a refused value names its flag; a missing kernel file names the file
            assert ("--cpu-burst" in err) if "--cpu-burst" in args else ("--cpu-idle" in err or "cpu.idle" in err), \
                f"update {args}: {err}"


# ---- ps ----

PS_SCRIPT = ["/bin/sh", "-c", "/probe sleep 600 & /probe sleep 601 & wait"]


def container_pids(pid):
    return sorted(map(int, read(f"{dir_of(pid, 'pids')}/cgroup.procs").split()))


def test_ps_lists_the_containers_processes(runtime, bundle_factory):
    with container(runtime, bundle_factory(args=PS_SCRIPT), "ps") as (cid, pid):
        harness.wait_for(lambda: len(container_pids(pid)) == 3, 10, "three processes in the container")
        pids = container_pids(pid)
        r = runtime.cmd("ps", cid)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        header = lines[0].split()
        assert header[:3] == ["UID", "PID", "PPID"] and header[-1] == "CMD", lines[0]
        assert sorted(int(l.split()[1]) for l in lines[1:]) == pids, r.stdout
        assert any(l.endswith("/probe sleep 601") for l in lines[1:]), r.stdout

        r = runtime.cmd("ps", "--format", "json", cid)
        assert r.returncode == 0, r.stderr
        assert r.stdout.endswith("\n") and sorted(json.loads(r.stdout)) == pids, r.stdout
        assert r.stdout == json.dumps(json.loads(r.stdout), separators=(",", ":")) + "\n"

        r = runtime.cmd("ps", cid, "-o", "pid,comm")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].split() == ["PID", "COMMAND"], r.stdout
        rows = sorted((int(l.split()[0]), l.split()[1]) for l in lines[1:])
        assert [p for p, _ in rows] == pids
        assert sorted(c for _, c in rows) == ["probe", "probe", "sh"]


def test_ps_json_is_runcs(runc, pyrunc, bundle_factory):
    out = {}
    for rt in (runc, pyrunc):
        with container(rt, bundle_factory(args=PS_SCRIPT), "psj") as (cid, pid):
            harness.wait_for(lambda: len(container_pids(pid)) == 3, 10, "three processes")
            r = rt.cmd("ps", "-f", "json", cid)
            assert r.returncode == 0, r.stderr
            listed = json.loads(r.stdout)
            out[rt.name] = (sorted(listed) == container_pids(pid),
                            r.stdout == json.dumps(listed, separators=(",", ":")) + "\n")
    assert out["runc"] == (True, True)
    assert out["pyrunc"] == out["runc"], f"pyrunc: right pids, runc's text: {out['pyrunc']}"


# ---- events ----

def shape(value):
    """The key structure of a JSON value: dicts keep their keys, lists their first item's shape."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


STATS_RES = {"memory": {"limit": 64 * MiB}, "pids": {"limit": 100}}


def test_events_stats_prints_one_stats_object(runtime, bundle_factory):
    with container(runtime, bundle_factory(args=PS_SCRIPT, linux={"resources": STATS_RES}), "ev") as (cid, pid):
        harness.wait_for(lambda: len(container_pids(pid)) == 3, 10, "three processes")
        r = runtime.cmd("events", "--stats", cid)
        assert r.returncode == 0, r.stderr
        assert r.stdout.count("\n") == 1, r.stdout
        ev = json.loads(r.stdout)
        assert (ev["type"], ev["id"]) == ("stats", cid)
        data = ev["data"]
        for key in ("cpu", "memory", "pids", "blkio"):
            assert key in data, f"no {key} in {sorted(data)}"
        assert data["pids"] == {"current": 3, "limit": 100}
        assert data["memory"]["usage"]["limit"] == 64 * MiB
        assert data["memory"]["usage"]["usage"] > 0
        assert data["cpu"]["usage"]["total"] > 0


def test_events_stats_has_runcs_shape(runc, pyrunc, bundle_factory):
    shapes, cpusets = {}, {}
    for rt in (runc, pyrunc):
        with container(rt, bundle_factory(args=PS_SCRIPT, linux={"resources": STATS_RES}), "evs") as (cid, pid):
            harness.wait_for(lambda: len(container_pids(pid)) == 3, 10, "three processes")
            r = rt.cmd("events", "--stats", cid)
            assert r.returncode == 0, r.stderr
            shapes[rt.name] = shape(json.loads(r.stdout))
            cpusets[rt.name] = json.loads(r.stdout)["data"]["cpuset"]
    # the same parent, the same defaults: the cpuset files' values too (sched_load_balance, ...)
    assert cpusets["pyrunc"] == cpusets["runc"]
    a, b = shapes["runc"], shapes["pyrunc"]
    assert list(a) == list(b) and sorted(a["data"]) == sorted(b["data"]), (a.keys(), b.get("data", {}).keys())
    for key in ("cpu", "memory", "pids", "blkio", "cpuset", "hugetlb"):
        assert a["data"][key] == b["data"][key], f"data.{key}:\nrunc   {a['data'][key]}\npyrunc {b['data'][key]}"


class EventStream:
    """`events` in the background; lines() reads JSON lines with a deadline; stop() ends it by pid."""

    def __init__(self, rt, *args):
        self.proc = subprocess.Popen([rt.binary, *rt.global_flags(), "events", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.buf = b""
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)

    def lines(self, n=1, timeout=10, until=None):
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            while b"\n" in self.buf and len(got) < n:
                line, self.buf = self.buf.split(b"\n", 1)
                got.append(json.loads(line))
                if until and until(got[-1]):
                    return got
            if len(got) >= n:
                break
            left = deadline - time.monotonic()
            if left <= 0 or not self.sel.select(left):
                raise AssertionError(f"events: {len(got)} of {n} lines in {timeout}s: {got}")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"events ended (exit {self.proc.wait()}): {got} "
                                     f"{self.proc.stderr.read().decode()}")
            self.buf += chunk
        return got

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.sel.close()
        self.proc.stdout.close()
        self.proc.stderr.close()


def test_events_interval_streams_stats(runtime, bundle_factory):
    with container(runtime, bundle_factory(args=SLEEP), "evi") as (cid, pid):
        stream = EventStream(runtime, "--interval", "200ms", cid)
        try:
            t0 = time.monotonic()
            events = stream.lines(2, timeout=10)
            elapsed = time.monotonic() - t0
        finally:
            stream.stop()
    assert [(e["type"], e["id"]) for e in events] == [("stats", cid)] * 2, events
    assert all("memory" in e["data"] and "cpu" in e["data"] for e in events)
    assert elapsed < 5, f"two 200ms intervals took {elapsed:.1f}s"


def test_events_report_an_oom_kill(runtime, bundle_factory):
    script = ["/bin/sh", "-c", "while [ ! -e /dev/shm/go ]; do /probe sleep 0.05; done; /probe mem 96; "
              "/probe sleep 600"]
    bundle = oom_bundle(bundle_factory, script)
    with container(runtime, bundle, "evoom") as (cid, pid):
        stream = EventStream(runtime, "--interval", "30s", cid)
        try:
            time.sleep(0.3)          # let `events` read the memory cgroup's starting state
            Path(f"/proc/{pid}/root/dev/shm/go").write_text("")
            events = stream.lines(5, timeout=15, until=lambda e: e["type"] == "oom")
        finally:
            stream.stop()
        oom_kills = read(f"{dir_of(pid, 'memory')}/memory.oom_control")
    assert events[-1] == {"type": "oom", "id": cid}, f"no oom event: {events}"
    assert "oom_kill 1" in oom_kills.splitlines(), oom_kills


# ---- the cgroup mount inside the container ----

def normalize_mountinfo(text):
    """The /sys/fs/cgroup lines of a mountinfo, without mount ids and with the container id as ID.
    The tmpfs's device number is a fresh anonymous one (0:N) per container, the same under
    both runtimes only when nothing else on the host mounted in between: it is left out."""
    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) > 4 and f[4].startswith("/sys/fs/cgroup"):
            dev = "0:ANON" if " - tmpfs " in line else f[2]
            out.append(" ".join(["N", "N", dev] + f[3:]))
    return "".join(l + "\n" for l in out)


MOUNT_SCRIPT = ("cat /proc/self/cgroup; echo ---; cat /proc/self/mountinfo; echo ---; ls /sys/fs/cgroup; "
                "/probe write /sys/fs/cgroup/pids/pids.max 5")


def assert_same_parts(parts):
    import difflib
    a = "---\n".join(parts["runc"]).splitlines(True)
    b = "---\n".join(parts["pyrunc"]).splitlines(True)
    if a != b:
        raise AssertionError("differs from runc's:\n" + "".join(difflib.unified_diff(a, b, "runc", "pyrunc")))


def cgroup_mount_run(compare, bundle_factory, namespaces, ro=True):
    def make(d):
        def edit(cfg):
            for m in cfg["mounts"]:
                if m["destination"] == "/sys/fs/cgroup" and not ro:
                    m["options"] = [o for o in m["options"] if o != "ro"]
        return bundle_factory(d, ["/bin/sh", "-c", MOUNT_SCRIPT], linux={"namespaces": namespaces}, edit=edit)
    sbs = compare(make)
    parts = {}
    for name in ("runc", "pyrunc"):
        r = getattr(sbs, name)
        assert r.returncode in (0, 1), f"{name}: exit {r.returncode}\n{r.stderr}"
        own, mounts, rest = re.sub(r"pyrt-sbs-[0-9a-f]{8}", "ID", r.stdout).split("---\n")
        parts[name] = (own, normalize_mountinfo(mounts), rest)
    return parts


def test_cgroup_mount_is_one_ro_mount_per_hierarchy_as_runc(compare, bundle_factory):
    parts = cgroup_mount_run(compare, bundle_factory, NS)
    own, mounts, rest = parts["pyrunc"]
    lines = mounts.splitlines()
    assert lines[0].split()[3:5] == ["/", "/sys/fs/cgroup"] and " - tmpfs " in lines[0], lines[0]
    assert len(lines) == 1 + len(v1_keys()), mounts
    assert all(l.split()[5].startswith("ro,") and " - cgroup " in l for l in lines[1:]), mounts
    assert rest.splitlines()[-1] == "EROFS", rest
    assert_same_parts(parts)


def test_cgroup_namespace_makes_the_containers_cgroup_the_root(compare, bundle_factory):
    parts = cgroup_mount_run(compare, bundle_factory, NS + [{"type": "cgroup"}])
    own, mounts, rest = parts["pyrunc"]
    assert all(l.endswith(":/") for l in own.splitlines()), own
    assert all(l.split()[3] == "/" for l in mounts.splitlines()), mounts
    assert_same_parts(parts)


def test_cgroup_mount_rw_when_configured_as_runc(compare, bundle_factory):
    parts = cgroup_mount_run(compare, bundle_factory, NS + [{"type": "cgroup"}], ro=False)
    mounts = parts["pyrunc"][1].splitlines()
    assert all(l.split()[5].startswith("rw,") for l in mounts[1:]), mounts
    assert_same_parts(parts)
