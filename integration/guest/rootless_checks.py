"""Rootless cgroups checks, run as root inside the qemu guest booted with systemd as
pid 1 (cgroup v2): an unprivileged user made here (useradd gives it /etc/subuid and
/etc/subgid ranges; the guest's /etc is its own overlay) runs pyrunc and runc 1.1.5 side
by side, each with its own `spec --rootless` bundle and its default root under
XDG_RUNTIME_DIR, through setpriv with a clean environment.

    python3 -S rootless_checks.py --rootfs DIR --base-config FILE --image-tarball TAR

  N  no delegation (the user's commands run in the checker's own root-owned cgroup):
     no limits -> the container runs with no cgroup of its own and an empty read-only
     /sys/fs/cgroup; a limit -> refused in runc's words; a cgroupsPath -> permission denied.
  B  a delegated subtree: the user's manager (user@UID.service, started here) runs a
     Delegate=yes service whose cgroup D the user owns; the commands run in D/shell, a
     relative cgroupsPath puts the container in D/<path> (fs2: below our parent): the
     init is there, memory/pids limits in the files and seen from inside, update,
     pause/resume, kill, delete (the cgroup gone).
  S  --systemd-cgroup through the user's session bus ($XDG_RUNTIME_DIR/bus): the scope
     is the user's manager's (systemctl --user), in user.slice below user@UID.service,
     with the limits; update; delete (the unit gone); a missing bus is runc's one line.
  P  rootless Podman (default systemd cgroup manager, vfs storage, no network) with
     --runtime pyrunc, then runc: run -d (the libpod scope in the user's manager), exec,
     stop, rm.
"""
import json
import os
import pwd
import sys
import time

import cgroups_v2_checks as base  # noqa: E402  (same directory: Results, cmd, rd, merge, Env)
from cgroups_v2_checks import Results, StepError, rd, wait_for

PYRUNC = os.environ.get("PYRUNC", "/opt/pyrunc/bin/pyrunc")
RUNC = "/usr/sbin/runc"
CG = "/sys/fs/cgroup"
WORK = "/tmp/pyrunc-rl"
USER = "pyrunc-guest-rl"   # not test_rootless.py's user: the guest sees the host's /etc as it changes
BUDGET = 600
MiB = 1 << 20
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LIMITS = {"memory": {"limit": 64 * MiB}, "pids": {"limit": 20}}
SHOW = "cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max 2>&1; " \
       "grep -c . /sys/fs/cgroup/cgroup.procs 2>&1"
REFUSAL = "rootless needs no limits + no cgrouppath when no permission is granted for cgroups"

CHECKS = [
    "user_has_subids",             # the user made here has /etc/subuid and /etc/subgid ranges
    "spec_rootless_as_runc",       # `spec --rootless` on this unified host: runc's (a cgroup namespace)
    "nodeleg_runs_without_limits", # no delegation, no limits: runs, in the caller's cgroup, as runc
    "nodeleg_cgroup_view",         # ... /sys/fs/cgroup inside is what runc's shows (masked: empty)
    "nodeleg_limits_refused",      # ... a memory limit: one line in runc's words, nothing left
    "nodeleg_path_refused",        # ... a cgroupsPath: permission denied, as runc, nothing left
    "deleg_init_in_cgroup",        # delegated: the init in D/<path>, cgroup.procs lists it, as runc
    "deleg_limits_in_files",       # memory.max / pids.max in the cgroup files, as runc's
    "deleg_limits_inside",         # ... and seen from inside (the cgroup bound at /sys/fs/cgroup)
    "deleg_update",                # update --memory --pids-limit: the files change, as runc's
    "deleg_pause_resume",          # cgroup.freeze 1 and paused, then 0 and running
    "deleg_kill_delete",           # kill KILL + delete: cgroup and state gone, as runc
    "sd_scope_in_users_manager",   # --systemd-cgroup: the scope in `systemctl --user list-units`
    "sd_scope_path_and_init",      # ... user.slice below user@UID.service, the init in it, as runc
    "sd_limits",                   # MemoryMax/TasksMax of the unit and the files, as runc's
    "sd_update",                   # update: unit and files change, as runc's
    "sd_delete",                   # delete: the unit is gone from the user's manager, cgroup gone
    "sd_no_bus_refused",           # no session bus: one line with runc's hint, nothing left
    "podman_run_scope",            # rootless podman (systemd manager) --runtime pyrunc: libpod scope, as runc
    "podman_exec",                 # podman exec in it, as runc
    "podman_stop_rm",              # stop, rm: the scope and the runtime's state gone, as runc
    "nothing_left",                # no unit, cgroup, state dir or process of ours
]
IMAGE = "localhost/pyrt-busybox:latest"
PODMAN = ["podman", "--storage-driver", "vfs", "--cgroup-manager", "systemd", "--events-backend", "file"]


class User:
    def __init__(self):
        r = base.cmd(["id", "-u", USER], check=False)
        if r[0] != 0:
            base.cmd(["useradd", "-m", "-s", "/bin/sh", USER])
        pw = pwd.getpwnam(USER)
        self.uid, self.gid, self.home = pw.pw_uid, pw.pw_gid, pw.pw_dir
        self.xdg = "/run/user/%d" % self.uid
        self.shell = None    # a delegated cgroup the commands run in (None: the checker's)

    def env(self, extra=()):
        return ["env", "-i", "PATH=" + PATH, "HOME=" + self.home, "USER=" + USER, "XDG_RUNTIME_DIR=" + self.xdg,
                *extra]

    def argv(self, args, extra=(), cwd=None):
        inner = ["setpriv", "--reuid=%d" % self.uid, "--regid=%d" % self.gid, "--init-groups", *self.env(extra)]
        if cwd:
            inner += ["sh", "-c", 'cd "$0" && exec "$@"', cwd]
        inner += list(map(str, args))
        if self.shell is None:
            return inner
        # root puts the command in the delegated cgroup, then becomes the user
        return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', self.shell, *inner]

    def run(self, args, extra=(), cwd=None, **kw):
        return base.cmd(self.argv(args, extra, cwd), **kw)

    def systemctl(self, *args, **kw):
        return self.run(["systemctl", "--user", "--no-pager", *args], **kw)

    def show(self, unit, props):
        _, out, _ = self.systemctl("show", unit, "-p", ",".join(props), check=False)
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


class Side:
    """One runtime as the user: `pyrunc` or `runc`, with flags, and its bundles."""

    def __init__(self, user, name, binary, flags=()):
        self.user, self.name, self.binary, self.flags = user, name, binary, list(flags)
        self.root = "%s/%s" % (user.xdg, name)

    def __call__(self, *args, extra=(), **kw):
        return self.user.run([self.binary, *self.flags, *args], extra=extra, **kw)

    def bundle(self, tag, rootfs, args, linux=None):
        d = "%s/%s-%s" % (WORK, self.name, tag)
        os.makedirs(d, exist_ok=True)
        os.chown(d, self.user.uid, self.user.gid)
        if not os.path.exists(d + "/config.json"):
            self.user.run([self.binary, "spec", "--rootless"], cwd=d)
        with open(d + "/config.json") as f:
            cfg = json.load(f)
        cfg["root"]["path"] = rootfs
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = list(args)
        for k, v in (linux or {}).items():
            if v is None:
                cfg["linux"].pop(k, None)
            else:
                cfg["linux"][k] = v
        with open(d + "/config.json", "w") as f:
            json.dump(cfg, f)
        return d

    def state(self, cid):
        rc, out, _ = self("state", cid, check=False)
        return json.loads(out) if rc == 0 else None

    def ids(self):
        return sorted(e for e in os.listdir(self.root) if not e.startswith(".")) if os.path.isdir(self.root) else []


def one_line(err):
    return len([ln for ln in err.splitlines() if ln.strip()]) == 1


def inside(out):
    """The container's report: (its /proc/self/cgroup line, memory.max, pids.max, procs)."""
    return tuple(ln.strip() for ln in out.strip().splitlines()[:4])


def procs(d):
    return (rd(d + "/cgroup.procs") or "").split()


def scenario_spec(res, sides):
    cfgs = {}
    for s in sides:
        s.bundle("spec", "/", ["true"])
        with open("%s/%s-spec/config.json" % (WORK, s.name)) as f:
            cfgs[s.name] = json.load(f)
        cfgs[s.name].pop("ociVersion")
    res.eq("spec_rootless_as_runc", cfgs["pyrunc"], cfgs["runc"], "pyrunc's config vs runc's")
    res.eq("spec_rootless_as_runc", [n["type"] for n in cfgs["pyrunc"]["linux"]["namespaces"]],
           ["pid", "ipc", "uts", "mount", "cgroup", "user"], "namespaces")
    res.complete("spec_rootless_as_runc")


def scenario_nodeleg(user, rootfs, res, sides):
    own = rd("/proc/self/cgroup").split("::", 1)[1]
    parent = CG + own.rpartition("/")[0]
    got = {}
    for s in sides:
        b = s.bundle("n", rootfs, ["/bin/sh", "-c", SHOW + "; echo done"], {"cgroupsPath": None, "resources": None})
        rc, out, err = s("run", "n-" + s.name, cwd=b, check=False)
        got[s.name] = (rc, inside(out), err.strip())
    p, r = got["pyrunc"], got["runc"]
    res.eq("nodeleg_runs_without_limits", (p[0], r[0]), (0, 0), "exit codes (stderr %r, %r)" % (p[2], r[2]))
    # the container has no cgroup namespace root of its own: it stays in the caller's
    res.eq("nodeleg_runs_without_limits", (p[1][:1], os.path.exists(parent + "/n-pyrunc")), (r[1][:1], False),
           "/proc/self/cgroup inside (runc's), no cgroup made")
    res.complete("nodeleg_runs_without_limits")
    res.eq("nodeleg_cgroup_view", p[1][1:], r[1][1:], "memory.max, pids.max, cgroup.procs lines inside, as runc")
    res.complete("nodeleg_cgroup_view")

    for s in sides:
        b = s.bundle("l", rootfs, ["/bin/true"], {"cgroupsPath": None, "resources": LIMITS})
        rc, _, err = s("run", "l-" + s.name, cwd=b, check=False)
        res.check("nodeleg_limits_refused", rc == 1 and REFUSAL in err and one_line(err),
                  "%s: exit %s, stderr %r" % (s.name, rc, err))
        res.eq("nodeleg_limits_refused", ("l-" + s.name in s.ids(), os.path.exists(parent + "/l-" + s.name)),
               (False, False), "%s: state dir, cgroup left" % s.name)
    res.complete("nodeleg_limits_refused")

    for s in sides:
        b = s.bundle("p", rootfs, ["/bin/true"], {"cgroupsPath": "pyrunc-rl-p", "resources": None})
        rc, _, err = s("run", "p-" + s.name, cwd=b, check=False)
        res.check("nodeleg_path_refused", rc == 1 and "permission denied" in err and one_line(err),
                  "%s: exit %s, stderr %r" % (s.name, rc, err))
        res.eq("nodeleg_path_refused", ("p-" + s.name in s.ids(), os.path.exists(parent + "/pyrunc-rl-p")),
               (False, False), "%s: state dir, cgroup left" % s.name)
    res.complete("nodeleg_path_refused")


def delegated_service(user):
    """A Delegate=yes service of the user's manager: its cgroup D (the user's), with
    its process moved to D/holder so that D itself can give controllers to children."""
    user.run(["systemd-run", "--user", "--quiet", "--unit=pyrunc-rl-deleg.service", "-p", "Delegate=yes",
              "/bin/sleep", "3600"])
    rel = wait_for(lambda: user.show("pyrunc-rl-deleg.service", ["ControlGroup"]).get("ControlGroup"), 30,
                   "the delegated service's cgroup")
    d = CG + rel
    pid = wait_for(lambda: procs(d), 30, "the delegated service's process")[0]
    for sub in ("holder", "shell"):
        user.run(["mkdir", "%s/%s" % (d, sub)])
    with open(d + "/holder/cgroup.procs", "w") as f:
        f.write(pid)
    return d


def scenario_deleg(user, rootfs, res, sides, d):
    user.shell = d + "/shell"
    try:
        _scenario_deleg(user, rootfs, res, sides, d)
    finally:
        user.shell = None


def _scenario_deleg(user, rootfs, res, sides, d):
    seen = {}
    for s in sides:
        cid = "b-" + s.name
        b = s.bundle("b", rootfs, ["/bin/sh", "-c", SHOW + "; echo ready; exec sleep 600"],
                     {"cgroupsPath": cid, "resources": LIMITS})
        s("create", "--bundle", b, cid)
        printed = "%s/cmd-%d.out" % (base.WORK, base._seq[0])
        s("start", cid)
        st = s.state(cid)
        cg = d + "/" + cid
        seen[s.name] = {"pid": st["pid"], "cg": cg, "out": printed, "proc": rd("/proc/%d/cgroup" % st["pid"]),
                        "procs": procs(cg), "files": (rd(cg + "/memory.max"), rd(cg + "/pids.max"))}
    for name, v in seen.items():
        res.eq("deleg_init_in_cgroup", (v["proc"], v["procs"]), ("0::" + v["cg"][len(CG):], [str(v["pid"])]),
               "%s: /proc/PID/cgroup, cgroup.procs" % name)
        res.eq("deleg_limits_in_files", v["files"], (str(64 * MiB), "20"), "%s: memory.max, pids.max" % name)
    res.complete("deleg_init_in_cgroup", "deleg_limits_in_files")
    # what the init printed: its stdout went to the `create` command's file
    outs = {n: wait_for(lambda: _printed(v["out"]), 30, "%s's container output" % n) for n, v in seen.items()}
    res.eq("deleg_limits_inside", outs["pyrunc"][:3], ("0::/", str(64 * MiB), "20"),
           "pyrunc: /proc/self/cgroup, memory.max, pids.max inside")
    res.eq("deleg_limits_inside", outs["pyrunc"], outs["runc"], "pyrunc's view inside vs runc's")
    res.complete("deleg_limits_inside")

    for s in sides:
        s("update", "--memory", str(128 * MiB), "--pids-limit", "30", "b-" + s.name)
    files = {n: (rd(v["cg"] + "/memory.max"), rd(v["cg"] + "/pids.max")) for n, v in seen.items()}
    res.eq("deleg_update", files["pyrunc"], (str(128 * MiB), "30"), "pyrunc's files after update")
    res.eq("deleg_update", files["pyrunc"], files["runc"], "pyrunc's files vs runc's")
    res.complete("deleg_update")

    for s in sides:
        cid, cg = "b-" + s.name, seen[s.name]["cg"]
        s("pause", cid)
        paused = (s.state(cid)["status"], rd(cg + "/cgroup.freeze"))
        s("resume", cid)
        resumed = (s.state(cid)["status"], rd(cg + "/cgroup.freeze"))
        res.eq("deleg_pause_resume", (paused, resumed), (("paused", "1"), ("running", "0")),
               "%s: status, cgroup.freeze" % s.name)
    res.complete("deleg_pause_resume")

    for s in sides:
        cid, cg = "b-" + s.name, seen[s.name]["cg"]
        s("kill", cid, "KILL")
        wait_for(lambda: (s.state(cid) or {}).get("status") == "stopped", 30, cid + " to stop")
        s("delete", cid)
        res.eq("deleg_kill_delete", (os.path.exists(cg), cid in s.ids()), (False, False),
               "%s: cgroup, state dir after delete" % s.name)
    res.complete("deleg_kill_delete")


def _printed(path):
    """The container's report once it has printed it all (its stdout is `create`'s file)."""
    text = rd(path) or ""
    return inside(text) if text.endswith("ready") else None


SD_PROPS = ["ActiveState", "Slice", "Delegate", "MemoryMax", "TasksMax", "ControlGroup", "LoadState"]


def scenario_systemd(user, rootfs, res, sides, d):
    user.shell = d + "/shell"   # a terminal of the user's session: inside the user's manager
    try:
        _scenario_systemd(user, rootfs, res, sides)
    finally:
        user.shell = None


def _scenario_systemd(user, rootfs, res, sides):
    manager = "/user.slice/user-%d.slice/user@%d.service" % (user.uid, user.uid)
    got = {}
    for s in sides:
        cid = "s-" + s.name
        b = s.bundle("s", rootfs, ["/bin/sh", "-c", SHOW + "; exec sleep 600"],
                     {"cgroupsPath": None, "resources": LIMITS})
        s("create", "--bundle", b, cid)
        unit = "runc-%s.scope" % cid
        st = s.state(cid)
        _, units, _ = user.systemctl("list-units", "--no-legend", "--plain", "--type=scope")
        p = user.show(unit, SD_PROPS)
        cg = CG + (p.get("ControlGroup") or "/nonexistent")
        got[s.name] = {"unit": unit, "listed": unit in units.split(), "props": p, "cg": cg, "pid": st["pid"],
                       "proc": rd("/proc/%d/cgroup" % st["pid"]), "files": (rd(cg + "/memory.max"),
                                                                           rd(cg + "/pids.max"))}
    for name, v in got.items():
        res.eq("sd_scope_in_users_manager", (v["listed"], v["props"].get("ActiveState")), (True, "active"),
               "%s: %s listed by systemctl --user, active" % (name, v["unit"]))
        res.eq("sd_scope_path_and_init", (v["props"].get("ControlGroup"), v["proc"]),
               (manager + "/user.slice/" + v["unit"], "0::" + manager + "/user.slice/" + v["unit"]),
               "%s: the unit's ControlGroup, the init's /proc/PID/cgroup" % name)
        res.eq("sd_limits", (v["props"].get("MemoryMax"), v["props"].get("TasksMax"), v["files"]),
               (str(64 * MiB), "20", (str(64 * MiB), "20")), "%s: MemoryMax, TasksMax, the files" % name)
    strip = lambda p: {k: v for k, v in p.items() if k != "ControlGroup"}  # noqa: E731
    res.eq("sd_scope_path_and_init", strip(got["pyrunc"]["props"]), strip(got["runc"]["props"]),
           "pyrunc's unit vs runc's")
    res.complete("sd_scope_in_users_manager", "sd_scope_path_and_init", "sd_limits")

    for s in sides:
        s("update", "--memory", str(128 * MiB), "--pids-limit", "30", "s-" + s.name)
    after = {}
    for name, v in got.items():
        p = user.show(v["unit"], SD_PROPS)
        after[name] = (p.get("MemoryMax"), p.get("TasksMax"), rd(v["cg"] + "/memory.max"), rd(v["cg"] + "/pids.max"))
    res.eq("sd_update", after["pyrunc"], (str(128 * MiB), "30", str(128 * MiB), "30"),
           "pyrunc: MemoryMax, TasksMax, memory.max, pids.max after update")
    res.eq("sd_update", after["pyrunc"], after["runc"], "pyrunc vs runc after update")
    res.complete("sd_update")

    for s in sides:
        cid = "s-" + s.name
        s("delete", "--force", cid)
        v = got[s.name]
        res.eq("sd_delete", (user.show(v["unit"], ["LoadState"]).get("LoadState"), os.path.exists(v["cg"]),
                             cid in s.ids()), ("not-found", False, False),
               "%s: LoadState, cgroup, state dir after delete" % s.name)
    res.complete("sd_delete")

    nobus = ["DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/bus"]
    for s in sides:
        cid = "x-" + s.name
        b = s.bundle("x", rootfs, ["/bin/sleep", "600"], {"cgroupsPath": None, "resources": None})
        rc, _, err = s("run", "-d", cid, extra=nobus, cwd=b, check=False)
        res.check("sd_no_bus_refused", rc == 1 and one_line(err) and "failed to connect to dbus (hint: for "
                  "rootless containers, maybe you need to install dbus-user-session package" in err
                  and "/nonexistent/bus" in err, "%s: exit %s, stderr %r" % (s.name, rc, err))
        res.eq("sd_no_bus_refused", (cid in s.ids(), user.show("runc-%s.scope" % cid, ["LoadState"]).get("LoadState")),
               (False, "not-found"), "%s: state dir, unit" % s.name)
    res.complete("sd_no_bus_refused")


def scenario_podman(user, res, sides, d, tarball):
    """Rootless Podman with its default systemd cgroup manager, pyrunc then runc as its
    runtime: the user's podman runs the runtime in its own user namespace, where the
    runtime is "root" and finds the user through the session bus's OwnerUID."""
    user.shell = d + "/shell"
    try:
        _scenario_podman(user, res, sides, tarball)
    finally:
        user.shell = None


def _scenario_podman(user, res, sides, tarball):
    manager = "/user.slice/user-%d.slice/user@%d.service" % (user.uid, user.uid)
    podman = lambda *a, **kw: user.run(PODMAN + list(a), timeout=180, **kw)  # noqa: E731
    podman("import", tarball, IMAGE)
    seen = {}
    for s in sides:
        name = "c-" + s.name
        _, out, _ = podman("--runtime", s.binary, "run", "-d", "--network", "none", "--name", name, IMAGE,
                           "/bin/sh", "-c", "exec sleep 600")
        cid = out.strip().splitlines()[-1]
        _, out, _ = podman("inspect", name)
        pid = json.loads(out)[0]["State"]["Pid"]
        unit = "libpod-%s.scope" % cid
        p = user.show(unit, ["ActiveState", "Slice", "Delegate", "ControlGroup"])
        cg = CG + (p.get("ControlGroup") or "/nonexistent")
        seen[s.name] = (name, cid, unit, cg)
        res.eq("podman_run_scope", (p.get("ActiveState"), p.get("Slice"), p.get("Delegate"),
                                    p.get("ControlGroup"), str(pid) in procs(cg), cid in s.ids()),
               ("active", "user.slice", "yes", manager + "/user.slice/" + unit, True, True),
               "%s: the unit in the user's manager, the init in it, the runtime's state" % s.name)
        _, out, _ = podman("exec", name, "/bin/cat", "/proc/1/cmdline")
        res.eq("podman_exec", out.split("\0")[:2], ["sleep", "600"], "%s: /proc/1/cmdline seen by exec" % s.name)
    res.complete("podman_run_scope", "podman_exec")
    for s in sides:
        name, cid, unit, cg = seen[s.name]
        podman("stop", "-t", "1", name)
        podman("rm", name)
        res.eq("podman_stop_rm", (user.show(unit, ["LoadState"]).get("LoadState"), os.path.exists(cg),
                                  cid in s.ids()), ("not-found", False, False),
               "%s: unit, cgroup, the runtime's state after rm" % s.name)
    res.complete("podman_stop_rm")


def scenario_left(user, res, sides, d):
    _, out, _ = user.systemctl("list-units", "--all", "--no-legend", "--plain", "--type=scope")
    ours = [w for w in out.split() if w.startswith("runc-") and w.endswith(".scope")]
    subs = sorted(e for e in os.listdir(d) if os.path.isdir(d + "/" + e)) if d else []
    _, ps, _ = base.cmd(["ps", "-u", USER, "-o", "args="])
    sleeps = [ln for ln in ps.splitlines() if ln.strip() == "sleep 600"]
    res.eq("nothing_left", (ours, subs, [s.ids() for s in sides], sleeps), ([], ["holder", "shell"], [[], []], []),
           "units, cgroups in D, state dirs, container processes")
    res.complete("nothing_left")


def main(argv):
    t0 = time.monotonic()
    base.WORK = WORK
    res = Results(CHECKS)
    if not os.path.isdir("/run/systemd/system") or rd("/proc/1/comm") != "systemd":
        print("systemd is not pid 1 here")
        res.report()
        return 1
    argv = list(argv)
    tarball = None
    if "--image-tarball" in argv:
        i = argv.index("--image-tarball")
        tarball = argv[i + 1]
        del argv[i:i + 2]
    env = base.prepare(argv)
    os.chmod(WORK, 0o755)
    base._budget_end[0] = time.monotonic() + BUDGET
    user = User()
    sub = (rd("/etc/subuid") or "") + "\n" + (rd("/etc/subgid") or "")
    res.eq("user_has_subids", len([ln for ln in sub.splitlines() if ln.startswith(USER + ":")]), 2,
           "/etc/subuid and /etc/subgid lines")
    base.cmd(["systemctl", "start", "user@%d.service" % user.uid], timeout=120)
    wait_for(lambda: os.path.exists(user.xdg + "/bus"), 60, "the user's session bus socket")
    pyrunc = Side(user, "pyrunc", PYRUNC)
    runc = Side(user, "runc", RUNC)
    sides = (pyrunc, runc)
    res.scenario("spec", ["spec_rootless_as_runc"], lambda: scenario_spec(res, sides))
    res.scenario("nodeleg", [c for c in CHECKS if c.startswith("nodeleg")],
                 lambda: scenario_nodeleg(user, env.rootfs, res, sides))
    d = [None]

    def deleg():
        d[0] = delegated_service(user)
        scenario_deleg(user, env.rootfs, res, sides, d[0])

    res.scenario("deleg", [c for c in CHECKS if c.startswith("deleg")], deleg)
    sd = (Side(user, "pyrunc", PYRUNC, ["--systemd-cgroup"]), Side(user, "runc", RUNC, ["--systemd-cgroup"]))

    def systemd():
        if d[0] is None:
            raise StepError("no delegated service to run the user's commands in")
        scenario_systemd(user, env.rootfs, res, sd, d[0])

    res.scenario("systemd", [c for c in CHECKS if c.startswith("sd_")], systemd)
    def podman():
        if d[0] is None or tarball is None:
            raise StepError("no delegated service to run podman in, or no --image-tarball")
        scenario_podman(user, res, sides, d[0], tarball)

    res.scenario("podman", [c for c in CHECKS if c.startswith("podman_")], podman)
    res.scenario("left", ["nothing_left"], lambda: scenario_left(user, res, sides, d[0]))
    print("TIMING checks-total %.1f" % (time.monotonic() - t0), flush=True)
    return 0 if res.report() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
