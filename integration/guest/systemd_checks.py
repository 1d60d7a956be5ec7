"""--systemd-cgroup checks, run inside the qemu guest booted with systemd as pid 1
(boot.py's systemd mode: cgroup v2, the system D-Bus started on demand).

One plain python process (no pytest) runs real containers with pyrunc and, on the
same configs, with runc (the host's 1.1.5), and prints `CHECK <name>: ok|FAIL
<reason>` lines as cgroups_v2_checks.py does; integration/test_systemd_cgroup.py
boots the guest and turns each line into a test.

    python3 -S systemd_checks.py --rootfs DIR --base-config FILE

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
"""
import json
import os
import sys
import time

import cgroups_v2_checks as base  # noqa: E402  (same directory: Results, cmd, rd, merge, Env)
from cgroups_v2_checks import Results, StepError, rd

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
PROPS = ["ActiveState", "Slice", "Delegate", "MemoryMax", "MemoryLow", "MemorySwapMax", "CPUWeight",
         "CPUQuotaPerSecUSec", "CPUQuotaPeriodUSec", "AllowedCPUs", "TasksMax", "DevicePolicy",
         "TimeoutStopUSec", "CollectMode", "MemoryAccounting", "TasksAccounting"]
FILES = ["memory.max", "memory.low", "memory.swap.max", "cpu.weight", "cpu.max", "cpuset.cpus", "pids.max"]

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


def cmd(argv, **kw):
    return base.cmd(argv, **kw)


def pyrunc(*args, **kw):
    return cmd([PYRUNC, "--root", STATE_ROOT, "--systemd-cgroup", *map(str, args)], **kw)


def runc(*args, **kw):
    return cmd([RUNC, "--root", RUNC_ROOT, "--systemd-cgroup", *map(str, args)], **kw)


def show(unit, props=PROPS):
    rc, out, _ = cmd(["systemctl", "show", unit, "-p", ",".join(props)], check=False)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def load_state(unit):
    return show(unit, ["LoadState"]).get("LoadState")


def files(d):
    return {f: rd(d + "/" + f) for f in FILES}


def state_dirs():
    return sorted(os.listdir(STATE_ROOT)) if os.path.isdir(STATE_ROOT) else []


def one_line(err):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return len(lines) == 1, lines


def scenario_s(env, res):
    patch = {"linux": {"resources": RESOURCES, "cgroupsPath": SLICE + ":pyrunc:s1"}, "annotations": ANNOTATIONS}
    bundle, _ = env.bundle("s1", ["/bin/sh", "-c", "echo ready; exec sleep 600"], patch)
    rpatch = {"linux": {"resources": RESOURCES, "cgroupsPath": SLICE + ":runc:r1"}, "annotations": ANNOTATIONS}
    rbundle, _ = env.bundle("r1", ["/bin/sh", "-c", "exec sleep 600"], rpatch)
    unit, runit = "pyrunc-s1.scope", "runc-r1.scope"
    d, rdir = CG + SLICE_PATH + "/" + unit, CG + SLICE_PATH + "/" + runit

    pyrunc("create", "--bundle", bundle, "s1")
    runc("create", "--bundle", rbundle, "r1")
    p = show(unit)
    res.eq("create_makes_scope", (p.get("ActiveState"), os.path.isdir(d)), ("active", True), "state and dir")
    res.complete("create_makes_scope")
    want = {"Slice": SLICE, "Delegate": "yes", "MemoryMax": str(64 * MiB), "MemoryLow": str(16 * MiB),
            "MemorySwapMax": str(32 * MiB), "CPUWeight": "20", "CPUQuotaPerSecUSec": "500ms",
            "CPUQuotaPeriodUSec": "100ms", "AllowedCPUs": "0", "TasksMax": "32", "DevicePolicy": "strict",
            "MemoryAccounting": "yes", "TasksAccounting": "yes"}
    for k, v in want.items():
        res.eq("scope_properties", p.get(k), v, k)
    rp = show(runit)
    res.eq("properties_match_runc", p, rp, "systemctl show of pyrunc's and runc's units")
    res.eq("annotation_property", (p.get("TimeoutStopUSec"), p.get("CollectMode")), ("7s", "inactive-or-failed"),
           "TimeoutStopUSec, CollectMode")
    res.complete("scope_properties", "properties_match_runc", "annotation_property")
    f = files(d)
    res.eq("cgroup_files", f, {"memory.max": str(64 * MiB), "memory.low": str(16 * MiB),
                               "memory.swap.max": str(32 * MiB), "cpu.weight": "20", "cpu.max": "50000 100000",
                               "cpuset.cpus": "0", "pids.max": "32"}, "files")
    res.eq("cgroup_files_match_runc", f, files(rdir), "pyrunc's and runc's cgroup files")
    res.complete("cgroup_files", "cgroup_files_match_runc")
    st = json.loads(pyrunc("state", "s1")[1])
    pid = st["pid"]
    res.eq("init_in_scope", rd("/proc/%d/cgroup" % pid), "0::" + SLICE_PATH + "/" + unit, "/proc/PID/cgroup")
    res.eq("init_in_scope", (rd(d + "/cgroup.procs") or "").split(), [str(pid)], "cgroup.procs")
    res.complete("init_in_scope")

    upd = ["--memory", str(128 * MiB), "--memory-swap", str(192 * MiB), "--pids-limit", "50",
           "--cpu-quota", "25000", "--cpu-period", "100000"]
    pyrunc("update", *upd, "s1")
    runc("update", *upd, "r1")
    p = show(unit)
    res.eq("update_unit_and_files", (p.get("MemoryMax"), p.get("MemorySwapMax"), p.get("TasksMax"),
                                     p.get("CPUQuotaPerSecUSec")),
           (str(128 * MiB), str(64 * MiB), "50", "250ms"), "unit after update")
    res.eq("update_unit_and_files", (rd(d + "/memory.max"), rd(d + "/memory.swap.max"), rd(d + "/pids.max"),
                                     rd(d + "/cpu.max")),
           (str(128 * MiB), str(64 * MiB), "50", "25000 100000"), "files after update")
    res.eq("update_matches_runc", (p, files(d)), (show(runit), files(rdir)), "unit and files, pyrunc vs runc")
    res.complete("update_unit_and_files", "update_matches_runc")
    runc("delete", "--force", "r1")

    pyrunc("start", "s1")
    pyrunc("pause", "s1")
    paused = (json.loads(pyrunc("state", "s1")[1])["status"], rd(d + "/cgroup.freeze"))
    pyrunc("resume", "s1")
    resumed = (json.loads(pyrunc("state", "s1")[1])["status"], rd(d + "/cgroup.freeze"))
    res.eq("pause_resume", (paused, resumed), (("paused", "1"), ("running", "0")), "status, cgroup.freeze")
    res.complete("pause_resume")
    _, out, _ = pyrunc("exec", "s1", "/bin/cat", "/proc/self/cgroup")
    res.eq("exec_in_scope", out.strip(), "0::" + SLICE_PATH + "/" + unit, "exec's /proc/self/cgroup")
    res.complete("exec_in_scope")
    _, out, _ = pyrunc("ps", "--format", "json", "s1")
    res.check("ps_and_events", pid in json.loads(out), "ps json %s lacks the init %d" % (out.strip(), pid))
    _, out, _ = pyrunc("events", "--stats", "s1")
    ev = json.loads(out)
    res.check("ps_and_events", ev["data"]["pids"]["current"] >= 1 and ev["data"]["memory"]["usage"]["limit"]
              == 128 * MiB, "events --stats: %s" % out.strip()[:300])
    res.complete("ps_and_events")
    pyrunc("kill", "--all", "s1", "KILL")
    base.wait_for(lambda: json.loads(pyrunc("state", "s1")[1])["status"] == "stopped", 30, "s1 to stop")
    pyrunc("delete", "s1")
    res.eq("kill_all_and_delete", (load_state(unit), os.path.exists(d), "s1" in state_dirs()),
           ("not-found", False, False), "unit LoadState, cgroup dir, state dir after delete")
    res.eq("kill_all_and_delete", (load_state(runit), os.path.exists(rdir)), ("not-found", False),
           "runc's unit after its delete")
    res.complete("kill_all_and_delete")


def scenario_default(env, res):
    bundle, _ = env.bundle("d1", ["/bin/cat", "/proc/self/cgroup"], {"linux": {"cgroupsPath": None}})
    _, out, _ = pyrunc("run", "--bundle", bundle, "d1")
    res.eq("default_cgroups_path", out.strip(), "0::/system.slice/runc-d1.scope", "the container's /proc/self/cgroup")
    res.eq("default_cgroups_path", (load_state("runc-d1.scope"), "d1" in state_dirs()), ("not-found", False),
           "after run")
    res.complete("default_cgroups_path")


def refused(res, name, rc, err, *words):
    ok, lines = one_line(err)
    res.check(name, rc == 1 and ok and all(w in err for w in words),
              "exit %s, stderr %r, want one line with %r" % (rc, err, words))


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
    res.eq("unit_exists_refused", load_state("pyrunc-dup.scope"), "not-found", "the unit after the first's delete")
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
    res.eq("systemd_refusal", ("refuse" in state_dirs(), load_state("pyrunc-refuse.scope")), (False, "not-found"),
           "state dir and unit")
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
                                [ln for ln in ps.splitlines() if ln.strip() == "/bin/sleep 600"]),
           (False, "not-found", []), "state dir, unit and the init after the refusal")
    res.complete("bus_gone_refused")


def scenario_left(res):
    _, out, _ = cmd(["systemctl", "list-units", "--all", "--no-legend", "--plain"])
    # the scopes (the slices above them stay, as systemd makes them for runc too)
    ours = [ln for ln in out.splitlines() if ln.split() and ln.split()[0].startswith(("pyrunc-", "runc-"))
            and ln.split()[0].endswith(".scope")]
    res.eq("nothing_left", (ours, state_dirs()), ([], []), "units and state dirs left")
    res.complete("nothing_left")


def main(argv):
    t0 = time.monotonic()
    base.WORK = WORK
    res = Results(CHECKS)
    if not os.path.isdir("/run/systemd/system") or rd("/proc/1/comm") != "systemd":
        print("systemd is not pid 1 here")
        res.report()
        return 1
    env = base.prepare(argv)
    base._budget_end[0] = time.monotonic() + base.BUDGET
    res.scenario("scope", CHECKS[:CHECKS.index("default_cgroups_path")], lambda: scenario_s(env, res))
    res.scenario("default", ["default_cgroups_path"], lambda: scenario_default(env, res))
    res.scenario("refusals", ["unit_exists_refused", "bad_slice_refused", "systemd_refusal", "bus_gone_refused"],
                 lambda: scenario_refusals(env, res))
    res.scenario("left", ["nothing_left"], lambda: scenario_left(res))
    print("TIMING checks-total %.1f" % (time.monotonic() - t0), flush=True)
    return 0 if res.report() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
