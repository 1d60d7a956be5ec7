"""cgroup v2 checks of pyrunc, run inside the qemu guest (pure cgroup v2).

One plain python process (no pytest: its import alone costs seconds under TCG)
runs real containers with pyrunc and prints one line per check:

    CHECK <name>: ok
    CHECK <name>: FAIL <reason>

plus `TIMING <step> <seconds>` lines.  It exits 0 only if every check in CHECKS
passed.  integration/test_cgroups_v2.py boots the guest, runs this and turns each
CHECK line into a test.

    python3 -S cgroups_v2_checks.py [--rootfs DIR --base-config FILE]

--rootfs: a rootfs with static busybox (applets as /bin links) and /probe, made on
the host by harness.make_rootfs() so that nothing is compiled in the guest;
--base-config: harness.base_config() as JSON.  Without them the harness is imported
and both are made under /tmp (slow under TCG: gcc builds the probe).

Containers (every one is a real pyrunc container; the rootfs is shared, read-only):
  A  create/start with absolute cgroupsPath /pyrunc-v2test/a/ctr and most resource
     fields; pause, ps, events (cpu, memory, pids, blkio, hugetlb), resume, update,
     pause again and delete --force.  The same config is
     also created (never started) and updated with runc (the host's 1.1.5, seen in
     the guest) to compare the cgroup files; it costs about a second.
  B  run, default cgroupsPath, cgroup namespace (ro cgroup mount), device rules, pids limit.
  C  run, memory limit with no swap, cpu.idle: the OOM killer; the ro cgroup mount
     without a cgroup namespace.
  D  run -d, cgroup namespace, rw cgroup mount: mkdir/rmdir in it; pause, kill KILL,
     state, delete.
  R  three creates that must be refused (realtime cpu, two bad `unified` keys).
"""
import json
import os
import select
import subprocess
import sys
import time

PYRUNC = os.environ.get("PYRUNC", "/opt/pyrunc/bin/pyrunc")
RUNC = "/usr/sbin/runc"
CG = "/sys/fs/cgroup"
PARENT = "pyrunc-v2test"            # made here, before A: delete must leave it alone
WORK = "/tmp/pyrunc-cgv2"
STATE_ROOT = "/run/pyrunc-cgv2"
RUNC_ROOT = "/run/runc-cgv2"
STEP_TIMEOUT = 60                   # one command, or one wait for a container's marker
BUDGET = 200                        # every step together (they take 15-45 s); the host allows 300 s
_budget_end = [time.monotonic() + BUDGET]

MiB = 1 << 20
A_PATH = "/%s/a/ctr" % PARENT
A_RESOURCES = {
    "memory": {"limit": 256 * MiB, "reservation": 64 * MiB, "swap": 384 * MiB},
    "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
    "pids": {"limit": 64},
    "unified": {"memory.high": str(192 * MiB)},
}
A_BURST = 10000
A_BLKIO_WEIGHT = 10
A_HUGETLB = 8 * MiB
B_MEMORY = 100 * MiB
B_PIDS = 16
C_MEMORY = 32 * MiB

# every check, in the order they are printed; the host test expects each of them
CHECKS = [
    "cgroup_path_absolute",
    "init_cgroup_after_create",
    "memory_max",
    "memory_low",
    "memory_swap_max",
    "cpu_weight_shares_1024",
    "cpu_max_quota",
    "cpu_max_burst",
    "cpuset_cpus_mems",
    "pids_max",
    "io_weight_blkio_10",
    "hugetlb_max",
    "unified_written",
    "runc_same_values",
    "pause_freezes",
    "ps_json_pids",
    "events_stats",
    "events_stats_blkio",
    "events_stats_hugetlb",
    "resume_thaws",
    "update_memory",
    "update_pids_limit",
    "cpu_weight_shares_262144",
    "cpu_max_unlimited",
    "io_weight_blkio_1000",
    "runc_same_values_after_update",
    "delete_removes_created_dirs",
    "delete_force_paused",
    "cgroup_path_default",
    "cpu_weight_shares_2",
    "pids_fork_loop_stopped",
    "devices_default_allowed",
    "devices_not_allowed_eperm",
    "cgroupns_proc_self_cgroup",
    "cgroupns_mount_root",
    "cgroupns_procs_only_container",
    "cgroup_mount_ro",
    "run_removes_cgroup",
    "cpu_idle",
    "memory_swap_max_zero",
    "oom_kill",
    "events_oom",
    "cgroup_mount_ro_no_cgroupns",
    "cgroup_mount_rw",
    "kill_paused_stopped",
    "delete_after_kill_paused",
    "realtime_ignored",
    "unified_slash_refused",
    "unified_dotdot_refused",
]


class StepError(Exception):
    pass


def limit(timeout):
    """`timeout`, cut to what is left of the checker's budget (StepError when spent), so
    that a hanging pyrunc fails the checks that are left instead of the whole boot."""
    left = _budget_end[0] - time.monotonic()
    if left <= 0:
        raise StepError("the checker's time budget of %ds is spent" % BUDGET)
    return min(timeout, left)


# ---------------------------------------------------------------- results

class Results:
    def __init__(self, names):
        self.names = list(names)
        self.fails = {}
        self.done = set()
        self.completed = set()
        self.timings = []

    def check(self, name, cond, why):
        assert name in self.names, name
        self.done.add(name)
        if not cond:
            self.fails.setdefault(name, []).append(why)
        return cond

    def eq(self, name, got, want, what):
        return self.check(name, got == want, "%s: got %r, want %r" % (what, got, want))

    def complete(self, *names):
        """These checks have had all their parts evaluated in the current scenario."""
        self.completed.update(names)

    def scenario(self, title, owned, fn):
        """Run fn(); on an exception every check in `owned` it has not completed fails."""
        self.completed = set()
        t0 = time.monotonic()
        try:
            fn()
        except Exception as e:     # noqa: BLE001 - any failure becomes the checks' reason
            msg = "%s failed before this check: %s: %s" % (title, type(e).__name__, e)
            for name in owned:
                if name not in self.completed:
                    self.check(name, False, msg)
        self.timings.append((title, time.monotonic() - t0))
        print("TIMING %s %.1f" % (title, time.monotonic() - t0), flush=True)

    def report(self):
        ok = True
        for name in self.names:
            if name in self.fails:
                ok = False
                reason = " | ".join(self.fails[name]).replace("\n", "\\n")
                print("CHECK %s: FAIL %s" % (name, reason))
            elif name in self.done:
                print("CHECK %s: ok" % name)
            else:
                ok = False
                print("CHECK %s: FAIL never evaluated" % name)
        sys.stdout.flush()
        return ok


# ---------------------------------------------------------------- helpers

_seq = [0]


def cmd(argv, timeout=STEP_TIMEOUT, check=True):
    """Run argv with stdout/stderr in files (a detached container inherits them, so
    pipes would never reach EOF); return (rc, out, err)."""
    _seq[0] += 1
    timeout = limit(timeout)
    out_p = "%s/cmd-%d.out" % (WORK, _seq[0])
    err_p = "%s/cmd-%d.err" % (WORK, _seq[0])
    with open(out_p, "w+b") as out, open(err_p, "w+b") as err:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
            p.kill()
            try:
                p.wait(timeout=5)      # not forever: a task stuck in the kernel ignores SIGKILL
            except subprocess.TimeoutExpired:
                pass
        out.seek(0)
        err.seek(0)
        o = out.read().decode(errors="replace")
        e = err.read().decode(errors="replace")
    if rc is None:
        raise StepError("%s: timed out after %ss; stderr: %s" % (" ".join(argv), timeout, e.strip()))
    if check and rc != 0:
        raise StepError("%s: exit %d; stdout: %s; stderr: %s" % (" ".join(argv), rc, o.strip(), e.strip()))
    return rc, o, e


def pyrunc(*args, **kw):
    return cmd([PYRUNC, "--root", STATE_ROOT, *map(str, args)], **kw)


def rd(path):
    """The file's text, stripped, or None if it cannot be read."""
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def kv(path):
    out = {}
    for line in (rd(path) or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = parts[1]
    return out


def io_default_weight(text):
    """io.weight reads "default N" (then "maj:min N" lines): N, or the raw text."""
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "default":
            return parts[1]
    return text


def tree():
    """Every cgroup directory, relative to the root."""
    out = set()
    for dirpath, dirnames, _ in os.walk(CG):
        for d in dirnames:
            out.add(os.path.relpath(os.path.join(dirpath, d), CG))
    return out


def procs(d):
    return sorted(int(x) for x in (rd(d + "/cgroup.procs") or "").split())


def pid_state(pid):
    """The state letter of /proc/<pid>/stat (R, S, Z, ...), or None once the pid is gone."""
    text = rd("/proc/%d/stat" % pid)
    if not text or ")" not in text:
        return None
    rest = text.rpartition(")")[2].split()
    return rest[0] if rest else None


def pid_alive(pid):
    """Neither gone nor a zombie."""
    return pid_state(pid) not in (None, "Z", "X", "x")


def mount_options(mountinfo_line):
    """The per-mount options (the 6th field) of a /proc/<pid>/mountinfo line, as a list."""
    fields = mountinfo_line.split()
    return fields[5].split(",") if len(fields) > 5 else []


# A write into a read-only cgroup mount: mkdir (busybox prints strerror) and a write to
# an existing file, with the value the file holds already (harmless if the mount is rw).
# Prints romkdir=<message> rc=N and rowrite=<probe's errno name or ok>.
RO_WRITES = r"""
echo "romkdir=$( (mkdir /sys/fs/cgroup/ro-test 2>&1; echo "rc=$?") | tr '\n' ' ')"
rmdir /sys/fs/cgroup/ro-test 2>/dev/null
echo "rowrite=$(/probe write /sys/fs/cgroup/%s "$(cat /sys/fs/cgroup/%s)")"
"""


def check_ro_writes(R, name, out, what):
    mk = lines_with(out, "romkdir=")
    R.check(name, len(mk) == 1 and "Read-only file system" in mk[0] and mk[0].rstrip().endswith("rc=1"),
            "mkdir in %s: %r (want EROFS: Read-only file system)" % (what, mk))
    R.eq(name, lines_with(out, "rowrite="), ["EROFS"], "a write to a cgroup file in %s" % what)


def wait_for(fn, timeout, what, interval=0.1):
    timeout = limit(timeout)
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise StepError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def merge(cfg, patch):
    for k, v in patch.items():
        if v is None:
            cfg.pop(k, None)
        elif isinstance(v, dict) and isinstance(cfg.get(k), dict):
            merge(cfg[k], v)
        else:
            cfg[k] = json.loads(json.dumps(v))
    return cfg


class Env:
    """What the scenarios share: the rootfs, the base config, the host's facts."""

    def __init__(self, rootfs, base):
        self.rootfs = rootfs
        self.base = base
        self.parent_files = set()

    def bundle(self, name, args, patch):
        cfg = merge(json.loads(json.dumps(self.base)), patch)
        cfg["root"] = {"path": self.rootfs, "readonly": True}
        cfg["process"]["args"] = list(args)
        d = "%s/bundle-%s" % (WORK, name)
        os.makedirs(d, exist_ok=True)
        with open(d + "/config.json", "w") as f:
            json.dump(cfg, f, indent=1)
        return d, cfg

    @property
    def has_burst(self):
        return "cpu.max.burst" in self.parent_files

    @property
    def has_io_weight(self):
        return "io.weight" in self.parent_files and "io.bfq.weight" not in self.parent_files

    @property
    def has_hugetlb_2mb(self):
        return "hugetlb.2MB.max" in self.parent_files


class Proc:
    """A pyrunc command with piped stdout (stderr merged) read with deadlines, and a
    stdin pipe: `run` in the foreground, whose container prints markers and blocks
    on `read` while the checker looks at its cgroup, or a streaming `events`."""

    def __init__(self, *args):
        self.args = args
        self.proc = subprocess.Popen([PYRUNC, "--root", STATE_ROOT, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.buf = b""
        self.eof = False

    def _fill(self, deadline):
        """Read what is there (waiting until the deadline); False once at EOF."""
        left = deadline - time.monotonic()
        if self.eof or left <= 0:
            return False
        r, _, _ = select.select([self.proc.stdout], [], [], min(left, 1.0))
        if r:
            data = os.read(self.proc.stdout.fileno(), 65536)
            if not data:
                self.eof = True
                return False
            self.buf += data
        return True

    def read_until(self, marker, timeout=STEP_TIMEOUT):
        timeout = limit(timeout)
        deadline = time.monotonic() + timeout
        while marker.encode() not in self.buf:
            if not self._fill(deadline):
                why = "ended (exit %s)" % self._wait(5) if self.eof else "timed out after %ss" % timeout
                raise StepError("pyrunc %s: %s before printing %r; output: %s"
                                % (" ".join(self.args), why, marker, self.text()))
        return self.text()

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def finish(self, data=b"", timeout=STEP_TIMEOUT):
        """Send data, close stdin, read to EOF and wait: (exit status, all output)."""
        try:
            if data:
                self.send(data)
            self.proc.stdin.close()
        except OSError:
            pass
        timeout = limit(timeout)
        deadline = time.monotonic() + timeout
        while self._fill(deadline):
            pass
        if not self.eof:
            raise StepError("pyrunc %s did not finish in %ss; output: %s"
                            % (" ".join(self.args), timeout, self.text()))
        try:
            rc = self.proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise StepError("pyrunc %s closed its output but did not exit" % " ".join(self.args)) from None
        return rc, self.text()

    def text(self):
        return self.buf.decode(errors="replace")

    def _wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self._wait(5)


def run_container(cid, bundle):
    return Proc("run", "--bundle", bundle, cid)


def abort_container(proc, cid):
    proc.kill()
    pyrunc("delete", "--force", cid, check=False)


def info(title, text):
    print("INFO %s: %s" % (title, text.strip().replace("\n", "\\n")[:3000]), flush=True)


def lines_with(text, prefix):
    return [ln[len(prefix):] for ln in text.splitlines() if ln.startswith(prefix)]


# ---------------------------------------------------------------- scenario A

def read_a_values(d, env):
    names = ["memory.max", "memory.low", "memory.swap.max", "memory.high", "cpu.weight", "cpu.max",
             "cpuset.cpus", "cpuset.mems", "pids.max"]
    if env.has_burst:
        names.append("cpu.max.burst")
    if env.has_io_weight:
        names.append("io.weight")
    if env.has_hugetlb_2mb:
        names.append("hugetlb.2MB.max")
    return {n: rd(d + "/" + n) for n in names}


def a_config(env, name, cgroups_path, args):
    res = json.loads(json.dumps(A_RESOURCES))
    if env.has_burst:
        res["cpu"]["burst"] = A_BURST
    if env.has_io_weight:
        res["blockIO"] = {"weight": A_BLKIO_WEIGHT}
    if env.has_hugetlb_2mb:
        res["hugepageLimits"] = [{"pageSize": "2MB", "limit": A_HUGETLB}]
    return env.bundle(name, args, {"linux": {"cgroupsPath": cgroups_path, "resources": res}})


class RuncTwin:
    """A's config created by runc (never started), updated like A, for comparison."""

    CID = "cgv2-runc-a"
    DIR = "%s/%s/runc-a" % (CG, PARENT)

    def __init__(self, env):
        self.env = env
        self.error = None
        self.created = False
        self.initial = None
        if not os.path.exists(RUNC):
            self.error = "runc is not installed at %s" % RUNC
            return
        try:
            bundle, _ = a_config(env, "runc-a", "/%s/runc-a" % PARENT, ["/probe", "sleep", "1"])
            cmd([RUNC, "--root", RUNC_ROOT, "create", "--bundle", bundle, self.CID])
            self.created = True
            self.initial = read_a_values(self.DIR, env)
        except Exception as e:     # noqa: BLE001
            self.error = "runc could not create the same bundle: %s" % e

    def update(self, flags):
        cmd([RUNC, "--root", RUNC_ROOT, "update", *flags, self.CID])
        return read_a_values(self.DIR, self.env)

    def delete(self):
        if self.created:
            cmd([RUNC, "--root", RUNC_ROOT, "delete", "--force", self.CID], check=False)
            self.created = False


# Files where runc 1.1.5 (the host's) is known to differ from current runc, which
# pyrunc follows; they are checked against the expected values instead:
# - cpu.max.burst: 1.1.5 does not write it on cgroup v2 (it reads 0);
# - memory.swap.max after `update --memory`: 1.1.5 resets the stored swap to
#   "unset" and leaves the file alone, runc >= 1.2 merges the flags into the
#   stored resources and recomputes swap.max from the config's memory+swap.
RUNC_SKIP = {"cpu.max.burst"}
RUNC_SKIP_AFTER_UPDATE = RUNC_SKIP | {"memory.swap.max"}


def compare_with_runc(R, name, runc_vals, vals, skip=RUNC_SKIP):
    diff = {k: (runc_vals[k], vals.get(k)) for k in runc_vals
            if k not in skip and runc_vals[k] != vals.get(k)}
    R.check(name, not diff, "files that differ, (runc, pyrunc): %s" % json.dumps(diff, sort_keys=True))


TICK_SCRIPT = ("/probe sleep 3600 & i=0; while :; do i=$((i+1)); echo $i > /dev/shm/tick; "
               "sleep 0.2; done")


def scenario_a(env, res):
    R = res
    twin = RuncTwin(env)
    try:
        cid = "cgv2-a"
        bundle, _ = a_config(env, "a", A_PATH, ["/bin/sh", "-c", TICK_SCRIPT])
        before = tree() - {PARENT + "/runc-a"}
        pidfile = WORK + "/a.pid"
        pyrunc("create", "--bundle", bundle, "--pid-file", pidfile, cid)
        try:
            _scenario_a_body(env, R, cid, pidfile, before, twin)
        finally:
            if os.path.isdir(STATE_ROOT + "/" + cid):
                pyrunc("delete", "--force", cid, check=False)
    finally:
        twin.delete()


def _scenario_a_body(env, R, cid, pidfile, before, twin):
    d = CG + A_PATH
    pid = int(rd(pidfile))
    # right after create, before start: the init is already in its cgroup
    R.eq("init_cgroup_after_create", rd("/proc/%d/cgroup" % pid), "0::" + A_PATH, "/proc/<init>/cgroup")
    R.eq("init_cgroup_after_create", procs(d), [pid], "cgroup.procs after create")
    made = tree() - before - {PARENT + "/runc-a"}
    R.check("cgroup_path_absolute", os.path.isdir(d), "%s does not exist" % d)
    R.eq("cgroup_path_absolute", made, {PARENT + "/a", PARENT + "/a/ctr"}, "directories created by create")

    vals = read_a_values(d, env)
    R.eq("memory_max", vals["memory.max"], str(256 * MiB), "memory.max")
    R.eq("memory_low", vals["memory.low"], str(64 * MiB), "memory.low")
    # OCI swap is memory+swap: 384M - 256M of swap alone
    R.eq("memory_swap_max", vals["memory.swap.max"], str(128 * MiB), "memory.swap.max (swap 384M, limit 256M)")
    R.eq("cpu_weight_shares_1024", vals["cpu.weight"], "39", "cpu.weight for shares 1024")
    R.eq("cpu_max_quota", vals["cpu.max"], "50000 100000", "cpu.max")
    if R.check("cpu_max_burst", env.has_burst, "the guest kernel has no cpu.max.burst: cannot check"):
        R.eq("cpu_max_burst", vals["cpu.max.burst"], str(A_BURST), "cpu.max.burst")
    R.eq("cpuset_cpus_mems", (vals["cpuset.cpus"], vals["cpuset.mems"]), ("0", "0"), "(cpuset.cpus, cpuset.mems)")
    R.eq("pids_max", vals["pids.max"], "64", "pids.max")
    if R.check("io_weight_blkio_10", env.has_io_weight,
               "the guest kernel has no io.weight (or BFQ is active): cannot check"):
        R.eq("io_weight_blkio_10", io_default_weight(vals["io.weight"]), "1", "io.weight for blkio weight 10")
    if R.check("hugetlb_max", env.has_hugetlb_2mb, "the guest kernel has no hugetlb.2MB.max: cannot check"):
        R.eq("hugetlb_max", vals["hugetlb.2MB.max"], str(A_HUGETLB), "hugetlb.2MB.max")
        if os.path.exists(d + "/hugetlb.2MB.rsvd.max"):
            R.eq("hugetlb_max", rd(d + "/hugetlb.2MB.rsvd.max"), str(A_HUGETLB), "hugetlb.2MB.rsvd.max")
    R.eq("unified_written", vals["memory.high"], str(192 * MiB), "memory.high from unified")
    R.complete("init_cgroup_after_create", "cgroup_path_absolute", "memory_max", "memory_low", "memory_swap_max",
               "cpu_weight_shares_1024", "cpu_max_quota", "cpu_max_burst", "cpuset_cpus_mems", "pids_max",
               "io_weight_blkio_10", "hugetlb_max", "unified_written")

    if twin.initial is None:
        R.check("runc_same_values", False, twin.error)
    else:
        compare_with_runc(R, "runc_same_values", twin.initial, vals)
    R.complete("runc_same_values")

    # start; the init ticks a counter in its /dev/shm every 0.2 s
    pyrunc("start", cid)
    tick_file = "/proc/%d/root/dev/shm/tick" % pid

    def tick():
        v = rd(tick_file)
        return int(v) if v and v.isdigit() else 0

    wait_for(tick, 30, "the container's first tick")

    # pause
    pyrunc("pause", cid)
    t_paused = tick()
    st = json.loads(pyrunc("state", cid)[1])
    R.eq("pause_freezes", st.get("status"), "paused", "state.status after pause")
    R.check("pause_freezes", "frozen 1" in (rd(d + "/cgroup.events") or "").splitlines(),
            "cgroup.events after pause: %r" % rd(d + "/cgroup.events"))
    R.eq("pause_freezes", rd(d + "/cgroup.freeze"), "1", "cgroup.freeze after pause")

    # ps and events while frozen: the processes cannot change under us
    listed = procs(d)
    rc, out, err = pyrunc("ps", "--format", "json", cid)
    try:
        ps_pids = sorted(json.loads(out))
    except ValueError:
        ps_pids = "not JSON: %r" % out
    R.eq("ps_json_pids", ps_pids, listed, "ps --format json vs cgroup.procs")
    R.check("ps_json_pids", pid in listed and len(listed) >= 2,
            "cgroup.procs %r should hold the init %d and its background child" % (listed, pid))
    R.complete("ps_json_pids")

    cpu_before = int(kv(d + "/cpu.stat").get("usage_usec", -1))
    mem_before = int(rd(d + "/memory.current") or -1)
    io_hugetlb_before = read_io_hugetlb(d)
    rc, out, err = pyrunc("events", "--stats", cid)
    cpu_after = int(kv(d + "/cpu.stat").get("usage_usec", -1))
    mem_after = int(rd(d + "/memory.current") or -1)
    io_hugetlb_after = read_io_hugetlb(d)
    _check_events(R, out, cid, cpu_before, cpu_after, mem_before, mem_after, d)
    _check_events_blkio_hugetlb(R, env, out, io_hugetlb_before, io_hugetlb_after)
    if twin.created:
        # what runc itself prints for its twin (created, never started): the shape compared
        # with above, for the log
        t_rc, t_out, t_err = cmd([RUNC, "--root", RUNC_ROOT, "events", "--stats", twin.CID], check=False)
        try:
            t_data = json.loads(t_out.splitlines()[0]).get("data") or {}
            info("runc events --stats on its twin: blkio, hugetlb",
                 json.dumps({"blkio": t_data.get("blkio", "absent"), "hugetlb": t_data.get("hugetlb", "absent"),
                             "io.stat": rd(twin.DIR + "/io.stat")}, sort_keys=True))
        except (ValueError, IndexError):
            info("runc events --stats on its twin exited %d" % t_rc, t_out + t_err)
    R.complete("events_stats", "events_stats_blkio", "events_stats_hugetlb")

    time.sleep(0.5)
    R.eq("pause_freezes", tick(), t_paused, "the tick counter while paused (through ps, events and 0.5 s)")
    R.complete("pause_freezes")

    # resume
    pyrunc("resume", cid)
    R.check("resume_thaws", "frozen 0" in (rd(d + "/cgroup.events") or "").splitlines(),
            "cgroup.events after resume: %r" % rd(d + "/cgroup.events"))
    try:
        wait_for(lambda: tick() > t_paused, 15, "the tick counter to move after resume")
        R.check("resume_thaws", True, "")
    except StepError as e:
        R.check("resume_thaws", False, str(e))
    st = json.loads(pyrunc("state", cid)[1])
    R.eq("resume_thaws", st.get("status"), "running", "state.status after resume")
    R.complete("resume_thaws")

    # update
    flags = ["--memory", "128M", "--pids-limit", "32", "--cpu-share", "262144", "--cpu-quota=-1",
             "--cpu-period", "100000"]
    if env.has_io_weight:
        flags += ["--blkio-weight", "1000"]
    rc, out, err = pyrunc("update", *flags, cid, check=False)
    why = "update %s exited %d: %s" % (" ".join(flags), rc, (out + err).strip())
    for name in ("update_memory", "update_pids_limit", "cpu_weight_shares_262144", "cpu_max_unlimited",
                 "io_weight_blkio_1000"):
        R.check(name, rc == 0, why)
    R.eq("update_memory", rd(d + "/memory.max"), str(128 * MiB), "memory.max after update --memory 128M")
    # the flags merge into the container's resources (runc >= 1.2): the config's swap,
    # 384M of memory+swap, now leaves 256M of swap alone
    R.eq("update_memory", rd(d + "/memory.swap.max"), str(256 * MiB),
         "memory.swap.max after update --memory 128M (config swap 384M)")
    R.eq("update_pids_limit", rd(d + "/pids.max"), "32", "pids.max after update --pids-limit 32")
    R.eq("cpu_weight_shares_262144", rd(d + "/cpu.weight"), "10000", "cpu.weight after update --cpu-share 262144")
    R.eq("cpu_max_unlimited", rd(d + "/cpu.max"), "max 100000", "cpu.max after update --cpu-quota=-1")
    if R.check("io_weight_blkio_1000", env.has_io_weight,
               "the guest kernel has no io.weight (or BFQ is active): cannot check"):
        R.eq("io_weight_blkio_1000", io_default_weight(rd(d + "/io.weight")), "10000",
             "io.weight after update --blkio-weight 1000")
    t_update = tick()
    try:
        wait_for(lambda: tick() > t_update, 15, "the tick counter to move after update")
    except StepError as e:
        R.check("update_memory", False, "after update: %s" % e)
    R.complete("update_memory", "update_pids_limit", "cpu_weight_shares_262144", "cpu_max_unlimited",
               "io_weight_blkio_1000")
    # the same update through runc, on its twin of A: the same files
    if twin.initial is None:
        R.check("runc_same_values_after_update", False, twin.error)
    else:
        compare_with_runc(R, "runc_same_values_after_update", twin.update(flags), read_a_values(d, env),
                          RUNC_SKIP_AFTER_UPDATE)
    R.complete("runc_same_values_after_update")

    # delete --force of the container paused again: prompt, and the cgroup and state go
    name = "delete_force_paused"
    t0 = time.monotonic()
    pyrunc("pause", cid)
    pause_s = time.monotonic() - t0
    R.check(name, "frozen 1" in (rd(d + "/cgroup.events") or "").splitlines(),
            "cgroup.events after the second pause: %r" % rd(d + "/cgroup.events"))
    t0 = time.monotonic()
    rc, out, err = pyrunc("delete", "--force", cid, check=False, timeout=30)
    delete_s = time.monotonic() - t0
    info("delete --force of the paused container", "%.1fs (pause %.1fs)" % (delete_s, pause_s))
    R.eq(name, rc, 0, "exit status of delete --force of the paused container (stderr %r)" % err.strip())
    # the baseline: `pause`, one pyrunc command of about the same weight; a delete that
    # waits for a frozen init (pyrunc gives up after 10 s) is far slower
    R.check(name, delete_s <= 2 * pause_s + 5,
            "delete --force of the paused container took %.1fs (pause took %.1fs)" % (delete_s, pause_s))
    R.check(name, not os.path.exists(d), "%s still exists after delete --force" % d)
    R.check(name, not os.path.exists(STATE_ROOT + "/" + cid), "state dir left by delete --force")
    R.check(name, not pid_alive(pid), "the init %d is still alive after delete --force: %s" % (pid, pid_state(pid)))
    R.complete(name)

    # and exactly the two directories create made are gone
    R.eq("delete_removes_created_dirs", rc, 0, "exit status of delete --force")
    after = tree() - {PARENT + "/runc-a"}
    R.eq("delete_removes_created_dirs", sorted(after ^ before), [], "cgroup dirs changed by create+delete")
    R.check("delete_removes_created_dirs", os.path.isdir(CG + "/" + PARENT),
            "the pre-existing parent %s was removed" % PARENT)
    R.complete("delete_removes_created_dirs")


def hugepage_sizes():
    """The host's huge page sizes as runc names them (cgroups.HugePageSizes): 2MB, 1GB."""
    out = []
    try:
        names = os.listdir("/sys/kernel/mm/hugepages")
    except OSError:
        return out
    for n in sorted(names):
        if n.startswith("hugepages-") and n.endswith("kB") and n[10:-2].isdigit():
            v, i, units = float(int(n[10:-2]) * 1024), 0, ["B", "KB", "MB", "GB", "TB", "PB"]
            while v >= 1024 and i < len(units) - 1:
                v /= 1024
                i += 1
            out.append("%g%s" % (v, units[i]))
    return out


def read_io_hugetlb(d):
    """io.stat and, per huge page size, (hugetlb.<size>.current, .events, .max) of cgroup d."""
    return {"io.stat": rd(d + "/io.stat"),
            "hugetlb": {size: (rd("%s/hugetlb.%s.current" % (d, size)), rd("%s/hugetlb.%s.events" % (d, size)),
                               rd("%s/hugetlb.%s.max" % (d, size)))
                        for size in hugepage_sizes()}}


def blkio_from_io_stat(text):
    """runc's `blkio` of `events --stats` on cgroup v2 from io.stat (fs2/io.go statIo):
    rbytes/wbytes -> ioServiceBytesRecursive, rios/wios -> ioServicedRecursive, op
    Read/Write, every field omitempty; both lists absent when io.stat has no device.
    The lists are sorted: runc's order follows a map's."""
    out = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) < 2 or parts[0].count(":") != 1:
            continue
        major, minor = (int(x) for x in parts[0].split(":"))
        for item in parts[1:]:
            key, _, value = item.partition("=")
            table, op = {"rbytes": ("ioServiceBytesRecursive", "Read"), "wbytes": ("ioServiceBytesRecursive", "Write"),
                         "rios": ("ioServicedRecursive", "Read"), "wios": ("ioServicedRecursive", "Write")
                         }.get(key, (None, None))
            if table is None:
                continue
            e = {"op": op}
            for k, v in (("major", major), ("minor", minor), ("value", int(value))):
                if v:
                    e[k] = v
            out.setdefault(table, []).append(e)
    return {k: sorted(v, key=lambda e: json.dumps(e, sort_keys=True)) for k, v in out.items()}


def hugetlb_from_files(files):
    """runc's `hugetlb` on cgroup v2 (fs2/hugetlb.go statHugeTlb): per page size, usage
    from hugetlb.<size>.current (omitempty), failcnt from the `max` of .events; no
    `max` (v2 has no max usage; the limit hugetlb.<size>.max is not a stat)."""
    out = {}
    for size, (current, events, _) in files.items():
        if current is None:
            continue
        e = {}
        if int(current):
            e["usage"] = int(current)
        ev = {}
        for line in (events or "").splitlines():
            k, _, v = line.partition(" ")
            ev[k] = v.strip()
        e["failcnt"] = int(ev.get("max", 0))
        out[size] = e
    return out


def _check_events_blkio_hugetlb(R, env, out, before, after):
    try:
        data = json.loads(out.splitlines()[0]).get("data") or {}
    except (ValueError, IndexError, AttributeError):
        for name in ("events_stats_blkio", "events_stats_hugetlb"):
            R.check(name, False, "events --stats printed no JSON: %r" % out)
        return
    name = "events_stats_blkio"
    info("events --stats blkio and hugetlb", json.dumps({"blkio": data.get("blkio", "absent"),
                                                         "hugetlb": data.get("hugetlb", "absent"),
                                                         "io.stat": before["io.stat"]}, sort_keys=True))
    R.check(name, before["io.stat"] is not None, "the container's io.stat cannot be read")
    blkio = data.get("blkio")
    R.check(name, isinstance(blkio, dict), "blkio is %r, want an object (runc always prints it)" % (blkio,))
    if isinstance(blkio, dict):
        got = {k: sorted(v, key=lambda e: json.dumps(e, sort_keys=True)) if isinstance(v, list) else v
               for k, v in blkio.items()}
        want = [blkio_from_io_stat(before["io.stat"]), blkio_from_io_stat(after["io.stat"])]
        R.check(name, got in want, "blkio %s, want %s from io.stat %r"
                % (json.dumps(got, sort_keys=True), json.dumps(want[0], sort_keys=True), before["io.stat"]))

    name = "events_stats_hugetlb"
    hugetlb = data.get("hugetlb")
    if env.has_hugetlb_2mb:
        R.check(name, before["hugetlb"].get("2MB", (None,))[0] is not None,
                "the container's cgroup has no hugetlb.2MB.current (sizes %s)" % hugepage_sizes())
        # A's config limits 2MB pages: the limit is in the files, never in the stats
        R.eq(name, before["hugetlb"].get("2MB", (None, None, None))[2], str(A_HUGETLB), "hugetlb.2MB.max")
    R.check(name, isinstance(hugetlb, dict), "hugetlb is %r, want an object (runc always prints it)" % (hugetlb,))
    want = [hugetlb_from_files(before["hugetlb"]), hugetlb_from_files(after["hugetlb"])]
    R.check(name, hugetlb in want, "hugetlb %s, want %s from the hugetlb.<size>.current/.events files %s"
            % (json.dumps(hugetlb, sort_keys=True), json.dumps(want[0], sort_keys=True),
               json.dumps(before["hugetlb"], sort_keys=True)))


def _check_events(R, out, cid, cpu_before, cpu_after, mem_before, mem_after, d):
    name = "events_stats"
    try:
        ev = json.loads(out.splitlines()[0])
    except (ValueError, IndexError):
        R.check(name, False, "events --stats printed no JSON: %r" % out)
        return
    R.eq(name, (ev.get("type"), ev.get("id")), ("stats", cid), "(type, id)")
    data = ev.get("data") or {}
    total = ((data.get("cpu") or {}).get("usage") or {}).get("total")
    R.check(name, isinstance(total, int) and cpu_before * 1000 <= total <= cpu_after * 1000 and total > 0,
            "cpu.usage.total %r not within cpu.stat usage_usec*1000 [%d, %d]"
            % (total, cpu_before * 1000, cpu_after * 1000))
    usage = (data.get("memory") or {}).get("usage") or {}
    lo, hi = min(mem_before, mem_after), max(mem_before, mem_after)
    u = usage.get("usage")
    R.check(name, isinstance(u, int) and u > 0 and lo * 0.9 <= u <= hi * 1.1,
            "memory.usage.usage %r not near memory.current [%d, %d]" % (u, lo, hi))
    R.eq(name, usage.get("limit"), int(rd(d + "/memory.max")), "memory.usage.limit vs memory.max")
    pids = data.get("pids") or {}
    R.eq(name, pids.get("current"), int(rd(d + "/pids.current")), "pids.current")
    R.eq(name, pids.get("limit"), int(rd(d + "/pids.max")), "pids.limit")


# ---------------------------------------------------------------- scenario B

B_SCRIPT = r"""
echo "cg=$(cat /proc/self/cgroup | tr '\n' ';')"
grep ' /sys/fs/cgroup ' /proc/self/mountinfo | sed 's/^/mnt=/'
echo "procs=$(cat /sys/fs/cgroup/cgroup.procs | tr '\n' ' ')"
echo "memmax=$(cat /sys/fs/cgroup/memory.max)"
echo "null=$(/probe write /dev/null x)"
echo "full=$(/probe write /dev/full x)"
echo "fuse=$(/probe read /dev/fuse)"
ls -l /dev/fuse | sed 's/^/fusenode=/'
/probe forkbomb 64 | sed 's/^/fork-/'
echo WAITING
read x
""" + RO_WRITES % ("pids.max", "pids.max") + r"""
echo DONE
"""


def scenario_b(env, res):
    R = res
    cid = "cgv2-b"
    patch = {"linux": {
        "namespaces": env.base["linux"]["namespaces"] + [{"type": "cgroup"}],
        "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666,
                     "uid": 0, "gid": 0}],
        "resources": {
            "devices": [{"allow": False, "access": "rwm"},
                        {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"}],
            "memory": {"limit": B_MEMORY},
            "cpu": {"shares": 2},
            "pids": {"limit": B_PIDS},
        },
    }}
    bundle, _ = env.bundle("b", ["/bin/sh", "-c", B_SCRIPT], patch)
    run = run_container(cid, bundle)
    try:
        run.read_until("WAITING")
        d = CG + "/" + cid           # the default cgroupsPath: the id, under our own cgroup (/)
        listed = procs(d)
        R.check("cgroup_path_default", os.path.isdir(d) and listed, "%s missing or empty (procs %r)" % (d, listed))
        for p in listed:
            R.eq("cgroup_path_default", rd("/proc/%d/cgroup" % p), "0::/" + cid, "/proc/%d/cgroup" % p)
        R.eq("cpu_weight_shares_2", rd(d + "/cpu.weight"), "1", "cpu.weight for shares 2")
        R.eq("pids_fork_loop_stopped", rd(d + "/pids.max"), str(B_PIDS), "pids.max")
        R.complete("cpu_weight_shares_2")
        rc, out = run.finish(b"go\n")
    except BaseException:
        abort_container(run, cid)
        raise
    info("container B printed", out)
    R.check("cgroup_path_default", rc == 0 and "DONE" in out, "run exited %s: %s" % (rc, out))

    forked = lines_with(out, "fork-forked: ")
    errors = lines_with(out, "fork-error: ")
    R.check("pids_fork_loop_stopped", forked and forked[0].isdigit() and int(forked[0]) < B_PIDS,
            "forkbomb 64 under pids.max %d: %r" % (B_PIDS, lines_with(out, "fork-")))
    R.eq("pids_fork_loop_stopped", errors, ["EAGAIN"], "the fork loop's error")

    R.eq("devices_default_allowed", lines_with(out, "null="), ["ok"], "write /dev/null")
    R.eq("devices_default_allowed", lines_with(out, "full="), ["ENOSPC"], "write /dev/full (opened, then full)")
    node = lines_with(out, "fusenode=")
    R.check("devices_not_allowed_eperm", node and node[0].startswith("c") and "10," in node[0],
            "/dev/fuse was not created as c 10,229: %r" % node)
    R.eq("devices_not_allowed_eperm", lines_with(out, "fuse="), ["EPERM"], "open /dev/fuse (denied)")

    R.eq("cgroupns_proc_self_cgroup", lines_with(out, "cg="), ["0::/;"], "/proc/self/cgroup in the container")
    mnt = lines_with(out, "mnt=")
    fields = mnt[0].split() if len(mnt) == 1 else []
    sep = fields.index("-") if "-" in fields else -1
    R.check("cgroupns_mount_root", len(fields) > 4 and sep > 0 and fields[3] == "/" and fields[sep + 1] == "cgroup2",
            "mountinfo of /sys/fs/cgroup: %r (want root / and type cgroup2)" % mnt)
    R.eq("cgroupns_mount_root", lines_with(out, "memmax="), [str(B_MEMORY)],
         "memory.max at the mount's root (the container's own limit)")
    pids = lines_with(out, "procs=")
    nums = pids[0].split() if pids else []
    R.eq("cgroup_mount_ro", mount_options(mnt[0])[:1] if len(mnt) == 1 else mnt, ["ro"],
         "the first mount option of /sys/fs/cgroup (config: ro, cgroup namespace)")
    check_ro_writes(R, "cgroup_mount_ro", out, "the ro cgroup2 mount (cgroup namespace)")
    R.check("cgroupns_procs_only_container",
            nums and "1" in nums and all(n.isdigit() and 0 < int(n) < 50 for n in nums) and len(nums) <= 6,
            "cgroup.procs at the mount's root: %r (want only the container's few pids, 1 among them)" % pids)

    R.check("run_removes_cgroup", not os.path.exists(CG + "/" + cid), "%s/%s still exists after run" % (CG, cid))
    R.check("run_removes_cgroup", not os.path.exists(STATE_ROOT + "/" + cid), "state dir left after run")
    R.complete(*CHECKS[CHECKS.index("cgroup_path_default"):CHECKS.index("cpu_idle")])


# ---------------------------------------------------------------- scenario C

C_SCRIPT = r"""
grep ' /sys/fs/cgroup ' /proc/self/mountinfo | sed 's/^/mnt=/'
""" + RO_WRITES % ("cpu.idle", "cpu.idle") + r"""
echo WAITING
read x
/probe mem 128
echo "mem-rc=$?"
echo OOM-DONE
read x
exec /probe mem 128
"""


def scenario_c(env, res):
    R = res
    cid = "cgv2-c"
    patch = {"linux": {"resources": {"memory": {"limit": C_MEMORY, "swap": C_MEMORY}, "cpu": {"idle": 1}}}}
    bundle, _ = env.bundle("c", ["/bin/sh", "-c", C_SCRIPT], patch)
    d = CG + "/" + cid
    run = run_container(cid, bundle)
    events = None
    try:
        run.read_until("WAITING")
        R.eq("cpu_idle", rd(d + "/cpu.idle"), "1", "cpu.idle")
        R.eq("memory_swap_max_zero", rd(d + "/memory.swap.max"), "0", "memory.swap.max (swap == limit)")
        R.complete("cpu_idle", "memory_swap_max_zero")
        R.eq("oom_kill", rd(d + "/memory.max"), str(C_MEMORY), "memory.max")
        oom_before = int(kv(d + "/memory.events").get("oom_kill", -1))
        # a streaming `events` must report the OOM kill; it has read the OOM count
        # once it printed its first stats line
        events = Proc("events", "--interval", "30s", cid)
        first = events.read_until("\n").split("\n")[0]
        R.check("events_oom", '"stats"' in first, "events printed no stats line first: %r" % first[:300])
        # a child of the init touches 128M under a 32M limit with no swap
        run.send(b"go\n")
        out = run.read_until("OOM-DONE")
        R.eq("oom_kill", lines_with(out, "mem-rc="), ["137"], "exit status of `probe mem 128` under a 32M limit")
        oom_after = int(kv(d + "/memory.events").get("oom_kill", -1))
        R.check("oom_kill", oom_after > oom_before >= 0,
                "memory.events oom_kill went from %d to %d" % (oom_before, oom_after))
        try:
            events.read_until('"oom"', timeout=20)
        except StepError as e:
            R.check("events_oom", False, str(e))
        # now the init itself: run must exit 128+SIGKILL
        rc, out = run.finish(b"go\n")
        ev_rc, ev_out = events.finish()
    except BaseException:
        if events is not None:
            events.kill()
        abort_container(run, cid)
        raise
    info("container C printed", out)
    info("events printed", ev_out)
    R.eq("oom_kill", rc, 137, "pyrunc run's exit when the init is OOM-killed; output %r" % out)
    R.check("oom_kill", not os.path.exists(d), "%s still exists after run" % d)
    ev_lines = []
    for line in ev_out.splitlines():
        try:
            ev_lines.append(json.loads(line))
        except ValueError:
            R.check("events_oom", False, "events printed a line that is not JSON: %r" % line)
    R.eq("events_oom", [e.get("id") for e in ev_lines if e.get("type") == "oom"][:1], [cid],
         "the oom events' id (events printed types %r)" % [e.get("type") for e in ev_lines])
    R.eq("events_oom", ev_rc, 0, "exit status of `events` once the container stopped")

    name = "cgroup_mount_ro_no_cgroupns"
    mnt = lines_with(out, "mnt=")
    R.eq(name, mount_options(mnt[0])[:1] if len(mnt) == 1 else mnt, ["ro"],
         "the first mount option of /sys/fs/cgroup (config: ro, no cgroup namespace)")
    check_ro_writes(R, name, out, "the ro cgroup mount (no cgroup namespace)")


# ---------------------------------------------------------------- scenario D

# the container's side of D; it reports in its own /dev/shm, which the checker reads
# (and writes `go` to) through /proc/<init>/root
D_SCRIPT = r"""
grep ' /sys/fs/cgroup ' /proc/self/mountinfo > /dev/shm/mnt
cat /proc/self/cgroup > /dev/shm/cg
(mkdir /sys/fs/cgroup/rw-test 2>&1; echo "rc=$?") > /dev/shm/mkdir.tmp
mv /dev/shm/mkdir.tmp /dev/shm/mkdir
while [ ! -e /dev/shm/go ]; do sleep 0.05; done
(rmdir /sys/fs/cgroup/rw-test 2>&1; echo "rc=$?") > /dev/shm/rmdir.tmp
mv /dev/shm/rmdir.tmp /dev/shm/rmdir
exec /probe sleep 3600
"""


def scenario_d(env, res):
    """run -d with a cgroup namespace and a rw cgroup mount: mkdir/rmdir in the
    namespace's root; then pause, kill KILL, state and a plain delete."""
    R = res
    cid = "cgv2-d"
    d = CG + "/" + cid
    mounts = []
    for m in env.base["mounts"]:
        m = json.loads(json.dumps(m))
        if m.get("type") == "cgroup":
            m["options"] = [o for o in m.get("options") or [] if o not in ("ro", "rw")] + ["rw"]
        mounts.append(m)
    bundle, _ = env.bundle("d", ["/bin/sh", "-c", D_SCRIPT], {
        "mounts": mounts,
        "linux": {"namespaces": env.base["linux"]["namespaces"] + [{"type": "cgroup"}]}})
    pidfile = WORK + "/d.pid"
    pyrunc("run", "--detach", "--bundle", bundle, "--pid-file", pidfile, cid)
    try:
        _scenario_d_body(R, cid, d, int(rd(pidfile)))
    finally:
        if os.path.isdir(STATE_ROOT + "/" + cid):
            pyrunc("delete", "--force", cid, check=False)


def _scenario_d_body(R, cid, d, pid):
    shm = "/proc/%d/root/dev/shm/" % pid
    name = "cgroup_mount_rw"
    wait_for(lambda: rd(shm + "mkdir") is not None, 30, "the container's mkdir in /sys/fs/cgroup")
    mnt = (rd(shm + "mnt") or "").splitlines()
    R.eq(name, mount_options(mnt[0])[:1] if len(mnt) == 1 else mnt, ["rw"],
         "the first mount option of /sys/fs/cgroup (config: rw, cgroup namespace)")
    R.eq(name, rd(shm + "cg"), "0::/", "/proc/self/cgroup in the container")
    R.eq(name, rd(shm + "mkdir"), "rc=0", "mkdir /sys/fs/cgroup/rw-test in the container")
    R.check(name, os.path.isdir(d + "/rw-test"),
            "%s/rw-test does not exist: the container's mkdir did not land in its own cgroup" % d)
    with open(shm + "go", "w"):
        pass
    wait_for(lambda: rd(shm + "rmdir") is not None, 30, "the container's rmdir")
    R.eq(name, rd(shm + "rmdir"), "rc=0", "rmdir /sys/fs/cgroup/rw-test in the container")
    R.check(name, not os.path.exists(d + "/rw-test"), "%s/rw-test is still there after the rmdir" % d)
    R.complete(name)

    # pause, then SIGKILL: the init dies although frozen, and the container is stopped
    name = "kill_paused_stopped"
    wait_for(lambda: (rd("/proc/%d/comm" % pid) or "") == "probe", 30, "the init to exec /probe sleep")
    pyrunc("pause", cid)
    st = json.loads(pyrunc("state", cid)[1])
    R.eq(name, st.get("status"), "paused", "state.status after pause (before the kill)")
    t0 = time.monotonic()
    rc, out, err = pyrunc("kill", cid, "KILL", check=False, timeout=30)
    R.eq(name, rc, 0, "exit status of kill %s KILL of the paused container (stderr %r)" % (cid, err.strip()))
    try:
        wait_for(lambda: not pid_alive(pid), 10, "the paused init %d to die after kill KILL" % pid, 0.05)
    except StepError as e:
        R.check(name, False, "%s (state %s)" % (e, pid_state(pid)))
    info("kill KILL of the paused container", "the init was dead %.1fs after kill started; cgroup.events %r"
         % (time.monotonic() - t0, rd(d + "/cgroup.events")))
    rc, out, err = pyrunc("state", cid, check=False)
    try:
        status = json.loads(out).get("status")
    except ValueError:
        status = "state exited %d: %s" % (rc, (out + err).strip())
    R.eq(name, status, "stopped", "state.status after kill KILL of the paused container")
    R.complete(name)

    name = "delete_after_kill_paused"
    rc, out, err = pyrunc("delete", cid, check=False, timeout=30)
    R.eq(name, rc, 0, "exit status of delete (no --force) after the kill (stderr %r)" % err.strip())
    R.check(name, not os.path.exists(d), "%s still exists after delete" % d)
    R.check(name, not os.path.exists(STATE_ROOT + "/" + cid), "state dir left by delete")
    R.complete(name)


# ---------------------------------------------------------------- refusals

def refused(env, R, name, cid, patch, want_in_error, extra=None):
    """create must fail, name the JSON path, and leave no cgroup dir or state behind."""
    bundle, _ = env.bundle(cid, ["/probe", "exit", "0"], patch)
    before = tree()
    rc, out, err = pyrunc("create", "--bundle", bundle, cid, check=False)
    info("%s: create exited %d, stderr" % (name, rc), err)
    if rc == 0:
        pyrunc("delete", "--force", cid, check=False)
    R.check(name, rc != 0, "create was not refused (exit 0)")
    R.check(name, want_in_error in err, "stderr does not name %r: %r" % (want_in_error, err.strip()))
    R.eq(name, sorted(tree() ^ before), [], "cgroup dirs left by the refused create")
    R.check(name, not os.path.exists(STATE_ROOT + "/" + cid), "state dir left by the refused create")
    if extra:
        extra()
    R.complete(name)


def realtime_ignored(env, R):
    """runc 1.1.5's v2 manager has no realtime files and ignores realtimeRuntime/Period:
    the container runs, and no cpu.rt_* file is asked for."""
    name, cid = "realtime_ignored", "cgv2-rt"
    bundle, _ = env.bundle(cid, ["/probe", "exit", "0"],
                           {"linux": {"resources": {"cpu": {"realtimeRuntime": 1000, "realtimePeriod": 100000}}}})
    before = tree()
    rc, out, err = pyrunc("create", "--bundle", bundle, cid, check=False)
    info("%s: create exited %d, stderr" % (name, rc), err)
    R.check(name, rc == 0, "create refused realtime settings runc ignores on v2: %r" % err.strip())
    if rc == 0:
        pyrunc("delete", "--force", cid, check=False)
    R.eq(name, sorted(tree() ^ before), [], "cgroup dirs left after delete")
    R.complete(name)


def scenario_refusals(env, res):
    R = res
    realtime_ignored(env, R)
    parent_pids = rd(CG + "/" + PARENT + "/pids.max")
    refused(env, R, "unified_slash_refused", "cgv2-u1",
            {"linux": {"cgroupsPath": "/%s/u1" % PARENT, "resources": {"unified": {"../pids.max": "7"}}}},
            "linux.resources.unified",
            extra=lambda: R.eq("unified_slash_refused", rd(CG + "/" + PARENT + "/pids.max"), parent_pids,
                               "the parent's pids.max"))
    refused(env, R, "unified_dotdot_refused", "cgv2-u2",
            {"linux": {"resources": {"unified": {"..": "1"}}}},
            "linux.resources.unified")


# ---------------------------------------------------------------- main

def prepare(argv):
    rootfs = base = None
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--rootfs":
            rootfs = args.pop(0)
        elif a == "--base-config":
            base = args.pop(0)
        else:
            raise SystemExit("usage: cgroups_v2_checks.py [--rootfs DIR --base-config FILE]")
    os.makedirs(WORK, exist_ok=True)
    if rootfs is None or base is None:
        # standalone: the harness makes both (gcc builds the probe: slow under TCG)
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        import harness
        if rootfs is None:
            rootfs = str(harness.make_rootfs(WORK + "/rootfs"))
        base_cfg = harness.base_config()
    else:
        with open(base) as f:
            base_cfg = json.load(f)
    for p in (rootfs + "/probe", rootfs + "/bin/sh"):
        if not os.path.exists(p):
            raise SystemExit("rootfs %s has no %s" % (rootfs, p))
    return Env(rootfs, base_cfg)


def main(argv):
    t0 = time.monotonic()
    res = Results(CHECKS)
    if rd("/proc/self/cgroup") != "0::/" or not os.path.exists(CG + "/cgroup.subtree_control"):
        print("not a cgroup v2 host in the root cgroup: /proc/self/cgroup = %r" % rd("/proc/self/cgroup"))
        res.report()
        return 1
    env = prepare(argv)
    _budget_end[0] = time.monotonic() + BUDGET
    os.makedirs(CG + "/" + PARENT, exist_ok=True)
    env.parent_files = set(os.listdir(CG + "/" + PARENT))
    print("INFO controllers: %s" % rd(CG + "/cgroup.controllers"), flush=True)
    res.scenario("refusals", ["realtime_ignored", "unified_slash_refused", "unified_dotdot_refused"],
                 lambda: scenario_refusals(env, res))
    res.scenario("container-a", CHECKS[:CHECKS.index("cgroup_path_default")], lambda: scenario_a(env, res))
    res.scenario("container-b", CHECKS[CHECKS.index("cgroup_path_default"):CHECKS.index("cpu_idle")],
                 lambda: scenario_b(env, res))
    res.scenario("container-c", ["cpu_idle", "memory_swap_max_zero", "oom_kill", "events_oom",
                                 "cgroup_mount_ro_no_cgroupns"],
                 lambda: scenario_c(env, res))
    res.scenario("container-d", ["cgroup_mount_rw", "kill_paused_stopped", "delete_after_kill_paused"],
                 lambda: scenario_d(env, res))
    print("TIMING checks-total %.1f" % (time.monotonic() - t0), flush=True)
    return 0 if res.report() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
