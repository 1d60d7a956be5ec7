"""--systemd-cgroup checks, run inside the qemu guest booted with systemd as pid 1
(boot.py's systemd mode, the system D-Bus started on demand), on one of two layouts:
`--layout v2` (pure cgroup v2: runc's unified systemd manager) or `--layout v1`
(cgroups="hybrid": the v1 controllers each on its hierarchy, name=systemd, an empty
cgroup2 at /sys/fs/cgroup/unified -- runc's legacy systemd manager, v1.go). The
scenarios are the same; the Layout says which properties and files hold the limits.

One plain python process (no pytest) runs real containers with pyrunc and, on the
same configs, with runc (the host's 1.1.5), and prints `CHECK <name>: ok|FAIL
<reason>` lines as cgroups_v2_checks.py does; integration/test_systemd_cgroup.py
boots the guest and turns each line into a test.

    python3 -S systemd_checks.py [--layout v2|v1] --rootfs DIR --base-config FILE

  S  pyrunc create/start in "pyrunc-test.slice:pyrunc:s1" (a nested slice) with
     memory, swap, cpu, cpuset and pids limits and an org.systemd.property.*
     annotation; runc creates the same config in "pyrunc-test.slice:runc:r1": the
     unit properties (systemctl show) and cgroup files of both are compared; the
     init is in the scope; update (both) changes unit and files alike; pause,
     resume, exec, ps, events --stats, kill --all, delete: the unit and its cgroup are gone.
  D  the default cgroupsPath: `run` puts the container in system.slice/runc-<id>.scope.
  R  refusals, each one line, exit 1, no state dir and no unit left: a unit that
     exists already (the first container keeps running in it), a bad slice name
     (next to runc's words), a property systemd refuses, no system D-Bus.
  Last: nothing of ours is left in `systemctl list-units --all`.
  v1 adds: the init in the scope's cgroup in every hierarchy (those systemd manages and
  those pyrunc makes and joins itself, as runc's joinCgroups), blkio weight (the
  property where the host has the file, else refused as runc), `unified` refused, and
  a delete while another container of the slice runs.
"""
import json
import os
import sys
import time

import cgroups_v2_checks as base  # noqa: E402  (same directory: Results, cmd, rd, merge, Env)
from cgroups_v2_checks import Results, StepError, info, rd

PYRUNC = os.environ.get("PYRUNC", "/opt/pyrunc/bin/pyrunc")
RUNC = "/usr/sbin/runc"
CG = "/sys/fs/cgroup"
WORK = "/tmp/pyrunc-sd"
STATE_ROOT = "/run/pyrunc-sd"
RUNC_ROOT = "/run/runc-sd"
SLICE = "pyrunc-test.slice"
SLICE_PATH = "/pyrunc.slice/pyrunc-test.slice"
MiB = 1 << 20

RESOURCES = {
    "memory": {"limit": 64 * MiB, "reservation": 16 * MiB, "swap": 96 * MiB},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
    "pids": {"limit": 32},
}
ANNOTATIONS = {"org.systemd.property.TimeoutStopSec": "uint64 7",
               "org.systemd.property.CollectMode": "'inactive-or-failed'"}
UPDATE = ["--memory", str(128 * MiB), "--memory-swap", str(192 * MiB), "--pids-limit", "50",
          "--cpu-quota", "25000", "--cpu-period", "100000"]


class V2:
    """Pure cgroup v2: one directory, runc's v2 properties."""
    name = "v2"
    PROPS = ["ActiveState", "Slice", "Delegate", "MemoryMax", "MemoryLow", "MemorySwapMax", "CPUWeight",
             "CPUQuotaPerSecUSec", "CPUQuotaPeriodUSec", "AllowedCPUs", "TasksMax", "DevicePolicy",
             "TimeoutStopUSec", "CollectMode", "MemoryAccounting", "TasksAccounting"]
    WANT_PROPS = {"Slice": SLICE, "Delegate": "yes", "MemoryMax": str(64 * MiB), "MemoryLow": str(16 * MiB),
                  "MemorySwapMax": str(32 * MiB), "CPUWeight": "20", "CPUQuotaPerSecUSec": "500ms",
                  "CPUQuotaPeriodUSec": "100ms", "AllowedCPUs": "0", "TasksMax": "32", "DevicePolicy": "strict",
                  "MemoryAccounting": "yes", "TasksAccounting": "yes"}
    # {file: controller}; v2 has one directory
    FILES = {"memory.max": "", "memory.low": "", "memory.swap.max": "", "cpu.weight": "", "cpu.max": "",
             "cpuset.cpus": "", "pids.max": ""}
    WANT_FILES = {"memory.max": str(64 * MiB), "memory.low": str(16 * MiB), "memory.swap.max": str(32 * MiB),
                  "cpu.weight": "20", "cpu.max": "50000 100000", "cpuset.cpus": "0", "pids.max": "32"}
    UPDATE = UPDATE
    WANT_UPDATE_PROPS = {"MemoryMax": str(128 * MiB), "MemorySwapMax": str(64 * MiB), "TasksMax": "50",
                         "CPUQuotaPerSecUSec": "250ms"}
    WANT_UPDATE_FILES = {"memory.max": str(128 * MiB), "memory.swap.max": str(64 * MiB), "pids.max": "50",
                         "cpu.max": "25000 100000"}
    FREEZER = ("", "cgroup.freeze", "1", "0")

    @staticmethod
    def dirs(path):
        """{hierarchy key: directory} of the cgroup at `path` below every root."""
        return {"": CG + path}

    @staticmethod
    def in_cgroup(text, path):
        """Whether a /proc/PID/cgroup text puts the process at `path`."""
        return (text or "").strip() == "0::" + path


def v1_hierarchies():
    """{hierarchy key as /proc/self/cgroup names it: mountpoint} ("" the unified one)."""
    out = {}
    for line in (rd("/proc/self/cgroup") or "").splitlines():
        _, key, _ = line.split(":", 2)
        d = CG + "/" + ("unified" if key == "" else "systemd" if key == "name=systemd" else key)
        if os.path.isdir(d):
            out[key] = d
    return out


class V1:
    """Hybrid (v1 controllers + name=systemd + an empty cgroup2): runc's legacy
    manager's properties (genV1ResourcesProperties) and the v1 files."""
    name = "v1"
    PROPS = ["ActiveState", "Slice", "Delegate", "MemoryLimit", "CPUShares", "CPUQuotaPerSecUSec",
             "CPUQuotaPeriodUSec", "AllowedCPUs", "TasksMax", "DevicePolicy", "DeviceAllow", "BlockIOAccounting",
             "TimeoutStopUSec", "CollectMode", "MemoryAccounting", "TasksAccounting", "CPUAccounting"]
    WANT_PROPS = {"Slice": SLICE, "Delegate": "yes", "MemoryLimit": str(64 * MiB), "CPUShares": "512",
                  "CPUQuotaPerSecUSec": "500ms", "CPUQuotaPeriodUSec": "100ms", "AllowedCPUs": "0",
                  "TasksMax": "32", "DevicePolicy": "strict", "BlockIOAccounting": "yes",
                  "MemoryAccounting": "yes", "TasksAccounting": "yes", "CPUAccounting": "yes"}
    FILES = {"memory.limit_in_bytes": "memory", "memory.memsw.limit_in_bytes": "memory",
             "memory.soft_limit_in_bytes": "memory", "cpu.shares": "cpu", "cpu.cfs_quota_us": "cpu",
             "cpu.cfs_period_us": "cpu", "cpuset.cpus": "cpuset", "pids.max": "pids", "devices.list": "devices"}
    WANT_FILES = {"memory.limit_in_bytes": str(64 * MiB), "memory.memsw.limit_in_bytes": str(96 * MiB),
                  "memory.soft_limit_in_bytes": str(16 * MiB), "cpu.shares": "512", "cpu.cfs_quota_us": "50000",
                  "cpu.cfs_period_us": "100000", "cpuset.cpus": "0", "pids.max": "32"}
    UPDATE = UPDATE + ["--cpu-share", "256"]
    WANT_UPDATE_PROPS = {"MemoryLimit": str(128 * MiB), "TasksMax": "50", "CPUQuotaPerSecUSec": "250ms",
                         "CPUShares": "256"}
    WANT_UPDATE_FILES = {"memory.limit_in_bytes": str(128 * MiB), "memory.memsw.limit_in_bytes": str(192 * MiB),
                         "pids.max": "50", "cpu.cfs_quota_us": "25000", "cpu.shares": "256"}
    FREEZER = ("freezer", "freezer.state", "FROZEN", "THAWED")

    @staticmethod
    def dirs(path):
        return {k: d + path for k, d in v1_hierarchies().items()}

    @staticmethod
    def in_cgroup(text, path):
        lines = (text or "").strip().splitlines()
        return bool(lines) and all(ln.split(":", 2)[2] == path for ln in lines)


LAYOUTS = {"v2": V2, "v1": V1}
L = V2      # the layout of this run (main() sets it)

CHECKS = [
    "create_makes_scope",          # pyrunc create: <prefix>-<name>.scope in the nested slice, active
    "scope_properties",            # Delegate, Slice, the limits as unit properties (expected values)
    "properties_match_runc",       # ... and the same as runc's unit for the same config
    "annotation_property",         # org.systemd.property.TimeoutStopSec=uint64 7 -> TimeoutStopUSec=7s
    "cgroup_files",                # the cgroup files hold the limits
    "cgroup_files_match_runc",     # ... as runc's do
    "init_in_scope",               # the init's /proc/PID/cgroup is the scope, cgroup.procs lists it
    "update_unit_and_files",       # update: MemoryMax/TasksMax/CPUQuota and the files change
    "update_matches_runc",
    "pause_resume",
    "exec_in_scope",               # exec: the new process joins the scope (no D-Bus call)
    "ps_and_events",
    "kill_all_and_delete",         # kill --all KILL, delete: the unit is not-found, the cgroup gone
    "default_cgroups_path",        # run: system.slice/runc-<id>.scope seen from inside
    "unit_exists_refused",         # a second container on the same unit: one line, nothing left
    "bad_slice_refused",           # "bad--x.slice": one line (runc's words), nothing left
    "systemd_refusal",             # a property systemd refuses: one line, nothing left
    "bus_gone_refused",            # no system D-Bus: one line, nothing left
    "nothing_left",                # no unit of ours in list-units --all, no state dirs
]
CHECKS_V1 = CHECKS[:CHECKS.index("update_unit_and_files")] + [
    "init_hierarchies_match_runc",  # /proc/PID/cgroup as runc's init's (runc 1.1.5 knows no misc controller)
    "joins_unmanaged_hierarchies",  # pyrunc made only the dirs systemd does not (freezer, cpuset, ...), joined them
    "events_match_runc",            # events --stats: cpuset flags, throttling names, limits as runc's
] + CHECKS[CHECKS.index("update_unit_and_files"):CHECKS.index("default_cgroups_path")] + [
    "shared_slice_delete",          # delete while another container of the slice runs: ok, its cgroup stays
] + CHECKS[CHECKS.index("default_cgroups_path"):CHECKS.index("nothing_left")] + [
    "blkio_weight_as_runc",         # BlockIOWeight and the file where the host has it, else refused as runc
    "unified_refused",              # linux.resources.unified on v1: runc's words, nothing left
    "nothing_left",
]


def checks_for(layout):
    return CHECKS_V1 if layout == "v1" else CHECKS


def cmd(argv, **kw):
    return base.cmd(argv, **kw)


def pyrunc(*args, **kw):
    return cmd([PYRUNC, "--root", STATE_ROOT, "--systemd-cgroup", *map(str, args)], **kw)


def runc(*args, **kw):
    return cmd([RUNC, "--root", RUNC_ROOT, "--systemd-cgroup", *map(str, args)], **kw)


def show(unit, props=None):
    """systemctl show's values; a property listed on several lines (DeviceAllow) is
    their sorted list joined by "; "."""
    rc, out, _ = cmd(["systemctl", "show", unit, "-p", ",".join(props or L.PROPS)], check=False)
    got = {}
    for line in out.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            got.setdefault(k, []).append(v)
    return {k: "; ".join(sorted(v)) for k, v in got.items()}


def load_state(unit):
    return show(unit, ["LoadState"]).get("LoadState")


def dir_for(dirs, controller):
    for key, d in dirs.items():
        if controller in key.split(",") or key == controller:
            return d
    return None


def files(dirs):
    """{file: its text} of the layout's files in the cgroup's directories; devices.list
    as its sorted lines (runc and pyrunc write the same rules in other orders)."""
    out = {}
    for f, c in L.FILES.items():
        d = dir_for(dirs, c)
        text = rd(d + "/" + f) if d else None
        out[f] = sorted(text.splitlines()) if f == "devices.list" and text is not None else text
    return out


def proc_cgroup(pid):
    return rd("/proc/%d/cgroup" % pid)


def state_dirs():
    return sorted(os.listdir(STATE_ROOT)) if os.path.isdir(STATE_ROOT) else []


def one_line(err):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return len(lines) == 1, lines


def state_json(cid):
    return json.loads(pyrunc("state", cid)[1])


def created_dirs(cid):
    """The cgroup dirs pyrunc's state says this container made (cgroupsCreated)."""
    import marshal

    with open("%s/%s/state" % (STATE_ROOT, cid), "rb") as f:
        return marshal.load(f).get("cgroupsCreated") or []


def scenario_s(env, res):
    patch = {"linux": {"resources": RESOURCES, "cgroupsPath": SLICE + ":pyrunc:s1"}, "annotations": ANNOTATIONS}
    bundle, _ = env.bundle("s1", ["/bin/sh", "-c", "echo ready; exec sleep 600"], patch)
    rpatch = {"linux": {"resources": RESOURCES, "cgroupsPath": SLICE + ":runc:r1"}, "annotations": ANNOTATIONS}
    rbundle, _ = env.bundle("r1", ["/bin/sh", "-c", "exec sleep 600"], rpatch)
    unit, runit = "pyrunc-s1.scope", "runc-r1.scope"
    path, rpath = SLICE_PATH + "/" + unit, SLICE_PATH + "/" + runit
    dirs, rdirs = L.dirs(path), L.dirs(rpath)

    pyrunc("create", "--bundle", bundle, "s1")
    runc("create", "--bundle", rbundle, "r1")
    p = show(unit)
    res.eq("create_makes_scope", (p.get("ActiveState"), sorted(k for k, d in dirs.items() if os.path.isdir(d))),
           ("active", sorted(dirs)), "state and the hierarchies with the scope's dir")
    res.complete("create_makes_scope")
    for k, v in L.WANT_PROPS.items():
        res.eq("scope_properties", p.get(k), v, k)
    rp = show(runit)
    res.eq("properties_match_runc", p, rp, "systemctl show of pyrunc's and runc's units")
    res.eq("annotation_property", (p.get("TimeoutStopUSec"), p.get("CollectMode")), ("7s", "inactive-or-failed"),
           "TimeoutStopUSec, CollectMode")
    res.complete("scope_properties", "properties_match_runc", "annotation_property")
    f, rf = files(dirs), files(rdirs)
    res.eq("cgroup_files", {k: f[k] for k in L.WANT_FILES}, L.WANT_FILES, "files")
    if "devices.list" in f:
        res.check("cgroup_files", f["devices.list"] and "c 1:3 rwm" in f["devices.list"]
                  and "a *:* rwm" not in f["devices.list"], "devices.list %r: not runc's default rules" %
                  f["devices.list"])
    res.eq("cgroup_files_match_runc", f, rf, "pyrunc's and runc's cgroup files")
    res.complete("cgroup_files", "cgroup_files_match_runc")
    pid = state_json("s1")["pid"]
    res.check("init_in_scope", L.in_cgroup(proc_cgroup(pid), path),
              "/proc/PID/cgroup %r, want every line at %s" % (proc_cgroup(pid), path))
    for key, d in sorted(dirs.items()):
        res.eq("init_in_scope", (rd(d + "/cgroup.procs") or "").split(), [str(pid)], "cgroup.procs of " + d)
    res.complete("init_in_scope")
    if L is V1:
        v1_hierarchy_checks(res, pid, path, rpath)
    upd = L.UPDATE
    pyrunc("update", *upd, "s1")
    runc("update", *upd, "r1")
    p = show(unit)
    res.eq("update_unit_and_files", {k: p.get(k) for k in L.WANT_UPDATE_PROPS}, L.WANT_UPDATE_PROPS,
           "unit after update")
    f = files(dirs)
    res.eq("update_unit_and_files", {k: f[k] for k in L.WANT_UPDATE_FILES}, L.WANT_UPDATE_FILES,
           "files after update")
    res.eq("update_matches_runc", (p, f), (show(runit), files(rdirs)), "unit and files, pyrunc vs runc")
    res.complete("update_unit_and_files", "update_matches_runc")
    if L is V1:
        pyrunc("start", "s1")
        runc("start", "r1")
        events_against_runc(res)
    runc("delete", "--force", "r1")

    if L is not V1:
        pyrunc("start", "s1")
    key, fname, on, off = L.FREEZER
    ffile = dir_for(dirs, key) + "/" + fname
    pyrunc("pause", "s1")
    paused = (state_json("s1")["status"], rd(ffile))
    pyrunc("resume", "s1")
    resumed = (state_json("s1")["status"], rd(ffile))
    res.eq("pause_resume", (paused, resumed), (("paused", on), ("running", off)), "status, " + fname)
    res.complete("pause_resume")
    _, out, _ = pyrunc("exec", "s1", "/bin/cat", "/proc/self/cgroup")
    res.check("exec_in_scope", L.in_cgroup(out, path), "exec's /proc/self/cgroup %r, want %s" % (out, path))
    res.complete("exec_in_scope")
    _, out, _ = pyrunc("ps", "--format", "json", "s1")
    res.check("ps_and_events", pid in json.loads(out), "ps json %s lacks the init %d" % (out.strip(), pid))
    _, out, _ = pyrunc("events", "--stats", "s1")
    ev = json.loads(out)
    res.check("ps_and_events", ev["data"]["pids"]["current"] >= 1 and ev["data"]["memory"]["usage"]["limit"]
              == 128 * MiB, "events --stats: %s" % out.strip()[:300])
    res.complete("ps_and_events")
    made = created_dirs("s1")
    pyrunc("kill", "--all", "s1", "KILL")
    base.wait_for(lambda: state_json("s1")["status"] == "stopped", 30, "s1 to stop")
    pyrunc("delete", "s1")
    res.eq("kill_all_and_delete", (load_state(unit), [d for d in dirs.values() if os.path.exists(d)],
                                   "s1" in state_dirs()),
           ("not-found", [], False), "unit LoadState, cgroup dirs, state dir after delete")
    # v1: the slice's dirs pyrunc made in the hierarchies systemd does not manage go
    # too (runc's container was deleted first: nothing is below them any more)
    res.eq("kill_all_and_delete", [d for d in made if os.path.exists(d)], [], "the dirs pyrunc made")
    res.eq("kill_all_and_delete", (load_state(runit), [d for d in rdirs.values() if os.path.exists(d)]),
           ("not-found", []), "runc's unit and dirs after its delete")
    res.complete("kill_all_and_delete")


def v1_hierarchy_checks(res, pid, path, rpath):
    """The init's place in every v1 hierarchy next to runc's, and which dirs pyrunc made."""
    rpid = json.loads(runc("state", "r1")[1])["pid"]
    mine = dict(ln.split(":", 2)[1:] for ln in (proc_cgroup(pid) or "").splitlines())
    theirs = {k: v.replace(rpath, path) for k, v in
              (ln.split(":", 2)[1:] for ln in (proc_cgroup(rpid) or "").splitlines())}
    # runc 1.1.5's legacy manager joins only the controllers it knows: not "misc"
    unknown = {k: v for k, v in mine.items() if theirs.get(k) == "/" and k == "misc"}
    info("hierarchies runc 1.1.5 leaves at the root (pyrunc joins them)", repr(sorted(unknown)))
    res.eq("init_hierarchies_match_runc", {k: v for k, v in mine.items() if k not in unknown},
           {k: v for k, v in theirs.items() if k not in unknown}, "/proc/PID/cgroup, pyrunc vs runc")
    res.complete("init_hierarchies_match_runc")
    # systemd made the scope's dirs in the hierarchies it manages; pyrunc made the
    # others (and their parents) and joined them, as runc's joinCgroups
    made = created_dirs("s1")
    leaf = [d for d in made if d.endswith(path)]
    systemd_owns = ("memory", "cpu,cpuacct", "blkio", "pids", "devices", "name=systemd", "")
    dirs = L.dirs(path)
    res.eq("joins_unmanaged_hierarchies", sorted(k for k, d in dirs.items() if d in leaf and k in systemd_owns), [],
           "hierarchies systemd manages in which pyrunc made the scope's dir")
    for want in ("freezer", "cpuset"):
        res.check("joins_unmanaged_hierarchies", dir_for(dirs, want) in leaf,
                  "pyrunc did not make the %s dir (made: %s)" % (want, made))
    info("dirs pyrunc made", "\n".join(made))
    res.complete("joins_unmanaged_hierarchies")


THROTTLING = {"periods", "throttledPeriods", "throttledTime"}     # runc's types/events.go names


def events_against_runc(res):
    _, out, _ = pyrunc("events", "--stats", "s1")
    _, rout, _ = runc("events", "--stats", "r1")
    d, rdata = json.loads(out)["data"], json.loads(rout)["data"]
    res.eq("events_match_runc", sorted(d), sorted(rdata), "data's keys")
    res.eq("events_match_runc", d["cpuset"], rdata["cpuset"], "cpuset (the same config, the same parent)")
    res.check("events_match_runc", set(d["cpu"]["throttling"]) <= THROTTLING
              and set(rdata["cpu"]["throttling"]) <= THROTTLING,
              "throttling keys: pyrunc %s, runc %s" % (sorted(d["cpu"]["throttling"]),
                                                      sorted(rdata["cpu"]["throttling"])))
    for k in ("usage", "swap"):
        res.eq("events_match_runc", d["memory"][k]["limit"], rdata["memory"][k]["limit"], "memory.%s.limit" % k)
    res.eq("events_match_runc", d["pids"].get("limit"), rdata["pids"].get("limit"), "pids.limit")
    res.complete("events_match_runc")


def scenario_default(env, res):
    bundle, _ = env.bundle("d1", ["/bin/cat", "/proc/self/cgroup"], {"linux": {"cgroupsPath": None}})
    _, out, _ = pyrunc("run", "--bundle", bundle, "d1")
    res.check("default_cgroups_path", L.in_cgroup(out, "/system.slice/runc-d1.scope"),
              "the container's /proc/self/cgroup %r, want /system.slice/runc-d1.scope" % out)
    res.eq("default_cgroups_path", (load_state("runc-d1.scope"), "d1" in state_dirs()), ("not-found", False),
           "after run")
    res.complete("default_cgroups_path")


def refused(res, name, rc, err, *words):
    ok, lines = one_line(err)
    res.check(name, rc == 1 and ok and all(w in err for w in words),
              "exit %s, stderr %r, want one line with %r" % (rc, err, words))


def left_dirs(path):
    return [d for d in L.dirs(path).values() if os.path.exists(d)]


def scenario_refusals(env, res):
    # a unit that exists already: the second create is refused, the first keeps its unit
    patch = {"linux": {"cgroupsPath": "system.slice:pyrunc:dup"}}
    b1, _ = env.bundle("dup1", ["/bin/sleep", "600"], patch)
    pyrunc("create", "--bundle", b1, "dup1")
    rc, _, err = pyrunc("create", "--bundle", b1, "dup2", check=False)
    refused(res, "unit_exists_refused", rc, err, "pyrunc-dup.scope", "already exists")
    res.eq("unit_exists_refused", ("dup2" in state_dirs(), show("pyrunc-dup.scope").get("ActiveState")),
           (False, "active"), "dup2's state dir, the first container's unit")
    pyrunc("delete", "--force", "dup1")
    res.eq("unit_exists_refused", (load_state("pyrunc-dup.scope"), left_dirs("/system.slice/pyrunc-dup.scope")),
           ("not-found", []), "the unit and its dirs after the first's delete")
    res.complete("unit_exists_refused")

    b2, _ = env.bundle("bad", ["/bin/true"], {"linux": {"cgroupsPath": "bad--x.slice:pyrunc:bad"}})
    rc, _, err = pyrunc("create", "--bundle", b2, "bad", check=False)
    refused(res, "bad_slice_refused", rc, err, "invalid slice name: bad--x.slice")
    rrc, _, rerr = runc("create", "--bundle", b2, "bad", check=False)
    res.check("bad_slice_refused", rrc == 1 and "invalid slice name: bad--x.slice" in rerr,
              "runc: exit %s, %r" % (rrc, rerr))
    res.eq("bad_slice_refused", ("bad" in state_dirs(), load_state("pyrunc-bad.scope")), (False, "not-found"),
           "state dir and unit")
    res.complete("bad_slice_refused")

    b3, _ = env.bundle("refuse", ["/bin/true"], {"linux": {"cgroupsPath": "system.slice:pyrunc:refuse"},
                                                 "annotations": {"org.systemd.property.NoSuchThing": "true"}})
    rc, _, err = pyrunc("create", "--bundle", b3, "refuse", check=False)
    refused(res, "systemd_refusal", rc, err, "pyrunc-refuse.scope", "NoSuchThing")
    res.eq("systemd_refusal", ("refuse" in state_dirs(), load_state("pyrunc-refuse.scope"),
                               left_dirs("/system.slice/pyrunc-refuse.scope")), (False, "not-found", []),
           "state dir, unit and cgroup dirs")
    res.complete("systemd_refusal")

    # the system bus gone (stopped with its socket): create cannot ask systemd for the scope
    b4, _ = env.bundle("nobus", ["/bin/sleep", "600"], {"linux": {"cgroupsPath": "system.slice:pyrunc:nobus"}})
    cmd(["systemctl", "stop", "dbus.socket", "dbus.service"])
    try:
        rc, _, err = pyrunc("create", "--bundle", b4, "nobus", check=False)
    finally:
        cmd(["systemctl", "start", "dbus.socket"])
    refused(res, "bus_gone_refused", rc, err, "connect to the system D-Bus")
    _, ps, _ = cmd(["ps", "-eo", "args"])
    res.eq("bus_gone_refused", ("nobus" in state_dirs(), load_state("pyrunc-nobus.scope"),
                                [ln for ln in ps.splitlines() if ln.strip() == "/bin/sleep 600"],
                                left_dirs("/system.slice/pyrunc-nobus.scope")),
           (False, "not-found", [], []), "state dir, unit, the init and cgroup dirs after the refusal")
    res.complete("bus_gone_refused")


SHARE = "pyrunc-share.slice"
SHARE_PATH = "/pyrunc.slice/pyrunc-share.slice"


def scenario_shared_slice(env, res):
    """v1: the first container of a slice makes the slice's dirs in the hierarchies
    systemd does not manage; deleted while a second one runs below them, its delete
    must leave them (busy) and succeed."""
    for cid in ("sa", "sb"):
        b, _ = env.bundle(cid, ["/bin/sleep", "600"], {"linux": {"cgroupsPath": SHARE + ":pyrunc:" + cid}})
        pyrunc("create", "--bundle", b, cid)
    made_by_a = created_dirs("sa")
    a_dirs, b_dirs = L.dirs(SHARE_PATH + "/pyrunc-sa.scope"), L.dirs(SHARE_PATH + "/pyrunc-sb.scope")
    rc, _, err = pyrunc("delete", "--force", "sa", check=False)
    b_pid = state_json("sb")["pid"]
    res.eq("shared_slice_delete", (rc, err.strip(), [d for d in a_dirs.values() if os.path.exists(d)],
                                   load_state("pyrunc-sa.scope")), (0, "", [], "not-found"),
           "delete of the first: exit, stderr, its dirs, its unit")
    res.check("shared_slice_delete", L.in_cgroup(proc_cgroup(b_pid), SHARE_PATH + "/pyrunc-sb.scope"),
              "the second's init: %r" % proc_cgroup(b_pid))
    pyrunc("delete", "--force", "sb")
    res.eq("shared_slice_delete", ([d for d in b_dirs.values() if os.path.exists(d)], load_state("pyrunc-sb.scope")),
           ([], "not-found"), "the second's dirs and unit after its delete")
    # the parents the first made stay (made by one container, busy at its delete, not
    # the second's to remove); runc's legacy manager never removes them
    kept = [d for d in made_by_a if os.path.exists(d)]
    info("slice dirs the first container made, kept", "\n".join(kept))
    for d in sorted(kept, key=len, reverse=True):
        os.rmdir(d)
    res.complete("shared_slice_delete")


def blkio_has_weight():
    names = os.listdir(CG + "/blkio") if os.path.isdir(CG + "/blkio") else []
    return "blkio.weight" in names or "blkio.bfq.weight" in names


def scenario_blkio_weight(env, res):
    """BlockIOWeight where the host's blkio has a weight file; else both runtimes refuse
    the weight (runc: the file's write fails) and leave nothing."""
    patch = {"linux": {"resources": {"blockIO": {"weight": 300}}, "cgroupsPath": "system.slice:pyrunc:bw"}}
    b, _ = env.bundle("bw", ["/bin/sleep", "600"], patch)
    rpatch = {"linux": {"resources": {"blockIO": {"weight": 300}}, "cgroupsPath": "system.slice:runc:rbw"}}
    rb, _ = env.bundle("rbw", ["/bin/sleep", "600"], rpatch)
    rc, _, err = pyrunc("create", "--bundle", b, "bw", check=False)
    rrc, _, rerr = runc("create", "--bundle", rb, "rbw", check=False)
    if blkio_has_weight():
        info("blkio", "the host has a blkio weight file: BlockIOWeight is set")
        res.eq("blkio_weight_as_runc", (rc, rrc), (0, 0), "create's exit, pyrunc and runc")
        p, rp = show("pyrunc-bw.scope", ["BlockIOWeight"]), show("runc-rbw.scope", ["BlockIOWeight"])
        res.eq("blkio_weight_as_runc", (p, rp), ({"BlockIOWeight": "300"},) * 2, "BlockIOWeight")
        d = L.dirs("/system.slice/pyrunc-bw.scope")["blkio"]
        rd_ = L.dirs("/system.slice/runc-rbw.scope")["blkio"]
        w = [rd(x + "/blkio.weight") or rd(x + "/blkio.bfq.weight") for x in (d, rd_)]
        res.check("blkio_weight_as_runc", w[0] == w[1] and w[0] and w[0].split()[-1] == "300",
                  "weight files: pyrunc %r, runc %r" % tuple(w))
        pyrunc("delete", "--force", "bw")
        runc("delete", "--force", "rbw")
    else:
        info("blkio", "no blkio weight file here: the weight is refused, as by runc")
        refused(res, "blkio_weight_as_runc", rc, err, "blkio", "weight")
        res.check("blkio_weight_as_runc", rrc == 1 and "weight" in rerr, "runc: exit %s, %r" % (rrc, rerr))
        res.eq("blkio_weight_as_runc", ("bw" in state_dirs(), load_state("pyrunc-bw.scope"),
                                        left_dirs("/system.slice/pyrunc-bw.scope"), load_state("runc-rbw.scope")),
               (False, "not-found", [], "not-found"), "pyrunc's state dir, unit and dirs; runc's unit")
    res.complete("blkio_weight_as_runc")


def scenario_unified(env, res):
    patch = {"linux": {"resources": {"unified": {"memory.high": "1000000"}},
                       "cgroupsPath": "system.slice:pyrunc:uni"}}
    b, _ = env.bundle("uni", ["/bin/true"], patch)
    rc, _, err = pyrunc("create", "--bundle", b, "uni", check=False)
    refused(res, "unified_refused", rc, err, "cannot use unified on cgroup v1")
    rrc, _, rerr = runc("create", "--bundle", b, "runi", check=False)
    res.check("unified_refused", rrc == 1 and "cannot use unified on cgroup v1" in rerr,
              "runc: exit %s, %r" % (rrc, rerr))
    res.eq("unified_refused", ("uni" in state_dirs(), load_state("pyrunc-uni.scope"),
                               left_dirs("/system.slice/pyrunc-uni.scope")), (False, "not-found", []),
           "state dir, unit and dirs")
    res.complete("unified_refused")


def scenario_left(res):
    _, out, _ = cmd(["systemctl", "list-units", "--all", "--no-legend", "--plain"])
    # the scopes (the slices above them stay, as systemd makes them for runc too)
    ours = [ln for ln in out.splitlines() if ln.split() and ln.split()[0].startswith(("pyrunc-", "runc-"))
            and ln.split()[0].endswith(".scope")]
    res.eq("nothing_left", (ours, state_dirs()), ([], []), "units and state dirs left")
    res.complete("nothing_left")


def main(argv):
    global L
    t0 = time.monotonic()
    base.WORK = WORK
    argv = list(argv)
    layout = "v2"
    if "--layout" in argv:
        i = argv.index("--layout")
        layout = argv[i + 1]
        del argv[i:i + 2]
    L = LAYOUTS[layout]
    names = checks_for(layout)
    res = Results(names)
    if not os.path.isdir("/run/systemd/system") or rd("/proc/1/comm") != "systemd":
        print("systemd is not pid 1 here")
        res.report()
        return 1
    unified = os.path.exists(CG + "/cgroup.controllers")
    if unified != (layout == "v2"):
        print("layout %s asked for, but /sys/fs/cgroup is %s" % (layout, "cgroup2" if unified else "v1"))
        res.report()
        return 1
    env = base.prepare(argv)
    base._budget_end[0] = time.monotonic() + base.BUDGET * (1.5 if layout == "v1" else 1)
    res.scenario("scope", names[:names.index("default_cgroups_path")], lambda: scenario_s(env, res))
    if layout == "v1":
        res.scenario("shared", ["shared_slice_delete"], lambda: scenario_shared_slice(env, res))
    res.scenario("default", ["default_cgroups_path"], lambda: scenario_default(env, res))
    res.scenario("refusals", ["unit_exists_refused", "bad_slice_refused", "systemd_refusal", "bus_gone_refused"],
                 lambda: scenario_refusals(env, res))
    if layout == "v1":
        res.scenario("blkio", ["blkio_weight_as_runc"], lambda: scenario_blkio_weight(env, res))
        res.scenario("unified", ["unified_refused"], lambda: scenario_unified(env, res))
    res.scenario("left", ["nothing_left"], lambda: scenario_left(res))
    print("TIMING checks-total %.1f" % (time.monotonic() - t0), flush=True)
    return 0 if res.report() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
