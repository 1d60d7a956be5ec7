#!/usr/bin/env python3
"""pyrunc benchmark: pyrunc against runc and crun on the same busybox bundle.

    /opt/pyrunc/bin/python bench/run.py --quick     # about 2 minutes
    /opt/pyrunc/bin/python bench/run.py             # the full run, about 10-15 minutes

As root.  Prints a table, writes bench/results/latest.json and latest.md.  The method
is in bench/README.md.  Everything the bench makes (bundles, state roots, containers,
their cgroups, processes) is attributable to this run and removed at the end; on a
hybrid cgroup host the whole bench runs in a private mount namespace in which
/sys/fs/cgroup/unified is unmounted, so that crun accepts the host, and the host's
own mounts are never changed.
"""
import argparse
import copy
import ctypes
import glob
import itertools
import json
import os
import platform
import secrets
import select
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "integration"))
import harness  # noqa: E402  (the integration tests' runc spec and busybox check)

RESULTS = os.path.join(HERE, "results")
README = os.path.join(HERE, "README.md")
MAIN_README = os.path.join(os.path.dirname(HERE), "README.md")
PYRUNC = os.environ.get("PYRUNC", "/opt/pyrunc/bin/pyrunc")
GNU_TIME = "/usr/bin/time"
CMD_TIMEOUT = 60
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
CGROUP_ROOT = "/sys/fs/cgroup"
OTHERS = ("runc", "crun")

# rounds: how often the rotation pyrunc, runc, crun, floor runs per latency test
PLAN_FULL = {"rounds": 50, "rounds_scan": 25, "rounds_list1000": 10, "rss_runs": 5,
             "mem_runs": 15, "parallel_rounds": 3, "list_big": 1000, "phase_rounds": 30, "strace_runs": 10}
PLAN_QUICK = {"rounds": 20, "rounds_scan": 12, "rounds_list1000": 0, "rss_runs": 3,
              "mem_runs": 10, "parallel_rounds": 1, "list_big": 0, "phase_rounds": 12, "strace_runs": 5}

# The targets of issue 18 ("Speed"), each from the medians of this run: (label, the
# latency metric, how many interpreter starts (floors) pyrunc may spend beyond the
# limit, the runtime whose median is the limit (None: the floor), its factor).
#   pyrunc - floors * floor <= factor * other
SPEED_TARGETS = [
    ("run - floor <= crun's run", "run", 1, "crun", 1.0),
    ("create+start+delete - 3 floors <= crun's", "create+start+delete", 3, "crun", 1.0),
    ("create <= floor + crun's create", "create", 1, "crun", 1.0),
    ("start <= 1.15 x floor", "start", 0, None, 1.15),
    ("delete <= 1.15 x floor", "delete", 0, None, 1.15),
    ("state <= 1.15 x floor", "state (1 present)", 0, None, 1.15),
    ("kill <= 1.15 x floor", "kill (1 present)", 0, None, 1.15),
    ("list <= 1.15 x floor", "list (1 present)", 0, None, 1.15),
]
# which phase breakdown explains a target (the verbs PYRUNC_PHASES records)
TARGET_VERBS = {"run": ["run"], "create+start+delete": ["create", "start", "delete"], "create": ["create"],
                "start": ["start"], "delete": ["delete"], "state (1 present)": ["state"],
                "kill (1 present)": ["kill"], "list (1 present)": ["list"]}

USERNS_RUN = "run (user namespace)"

# The pause before each timed command (--settle). Moving a task into a v1 cgroup waits
# for an RCU grace period unless another move happened within about one grace period
# before (the kernel's rcu_sync on cgroup_threadgroup_rwsem stays active that long). Back
# to back, a runtime that moves its init early (crun, ~2 ms after its spawn) rides on the
# previous command's move and skips the wait; one that moves it later (pyrunc, after the
# interpreter's start) mostly does not: the rotation then measures who follows whom. After
# a pause of a few grace periods every command meets the kernel as a command run alone
# does, and the comparison is reproducible. 0 restores back to back.
SETTLE = 0.1


def settle():
    if SETTLE:
        time.sleep(SETTLE)


class BenchError(Exception):
    pass


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# ---------------------------------------------------------------- processes

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    """Detached container inits outlive the `create` that forked them: they become our
    children, so that the bench can wait for them and leaves no zombie."""
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise BenchError("prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(ctypes.get_errno()))


_devnull_r = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
_devnull_w = os.open("/dev/null", os.O_WRONLY | os.O_CLOEXEC)


def wait_exit(pid, timeout=CMD_TIMEOUT, reap=True):
    """Block until `pid` exits (pidfd + poll); reap it if it is our child. Returns the
    wait status, or None when the process was not ours to reap."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        fd = None
    if fd is not None:
        try:
            p = select.poll()
            p.register(fd, select.POLLIN)
            if not p.poll(timeout * 1000):
                raise TimeoutError("pid %d still runs after %ss" % (pid, timeout))
        finally:
            os.close(fd)
    if not reap:
        return None
    try:
        _, status = os.waitpid(pid, 0)
        return status
    except ChildProcessError:
        return None


class Spawner:
    """posix_spawn + pidfd wait: the cheapest honest way to time a command (no shell, no
    pipes; stdin /dev/null, stdout /dev/null, stderr appended to a log file)."""

    def __init__(self, errlog):
        self.errlog = errlog
        self.errfd = os.open(errlog, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)

    def close(self):
        os.close(self.errfd)

    def call(self, argv, check=True, stdout_fd=None, env=None, times=None):
        """Run argv; return (elapsed seconds, exit code). `times`, a list, gets the
        CLOCK_MONOTONIC ns before the spawn and after the exit (PYRUNC_PHASES' clock)."""
        actions = [(os.POSIX_SPAWN_DUP2, _devnull_r, 0),
                   (os.POSIX_SPAWN_DUP2, stdout_fd if stdout_fd is not None else _devnull_w, 1),
                   (os.POSIX_SPAWN_DUP2, self.errfd, 2)]
        t0 = time.perf_counter()
        if times is not None:
            times.append(time.monotonic_ns())
        pid = os.posix_spawn(argv[0], argv, env or ENV, file_actions=actions)
        try:
            status = wait_exit(pid)
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise BenchError("%s: timed out after %ss" % (" ".join(argv), CMD_TIMEOUT))
        elapsed = time.perf_counter() - t0
        if times is not None:
            times.append(time.monotonic_ns())
        rc = os.waitstatus_to_exitcode(status)
        if check and rc != 0:
            raise BenchError("%s: exit %d; stderr is in %s:\n%s" % (
                " ".join(argv), rc, self.errlog, tail(self.errlog)))
        return elapsed, rc

    def output(self, argv):
        fd, path = tempfile.mkstemp(prefix="out-", dir=os.path.dirname(self.errlog))
        try:
            self.call(argv, stdout_fd=fd)
            with open(path) as f:
                return f.read()
        finally:
            os.close(fd)
            os.unlink(path)


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def proc_stat(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])   # state, ppid, start time


def descendants():
    """Every live process below this one (ppid chain)."""
    kids = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st:
                kids.setdefault(st[1], []).append((int(name), st))
    out, todo = [], [os.getpid()]
    while todo:
        for pid, st in kids.get(todo.pop(), []):
            out.append((pid, st))
            todo.append(pid)
    return out


def reap_all():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# ---------------------------------------------------------------- cgroups and the private mount namespace

def statfs_type(path):
    class Statfs(ctypes.Structure):
        _fields_ = [("f_type", ctypes.c_long), ("rest", ctypes.c_byte * 120)]
    buf = Statfs()
    if libc.statfs(path.encode(), ctypes.byref(buf)) != 0:
        return None
    return buf.f_type & 0xffffffff


CGROUP2_MAGIC = 0x63677270
TMPFS_MAGIC = 0x01021994


def cgroup_mode():
    """What crun's detection sees: unified, hybrid (cgroup2 at .../unified) or legacy."""
    t = statfs_type(CGROUP_ROOT)
    if t == CGROUP2_MAGIC:
        return "v2"
    if t != TMPFS_MAGIC:
        return "none"
    return "hybrid" if statfs_type(CGROUP_ROOT + "/unified") == CGROUP2_MAGIC else "legacy"


def mnt_ns(pid="self"):
    try:
        return os.stat("/proc/%s/ns/mnt" % pid).st_ino
    except OSError:
        return None


def enter_private_ns():
    """Leave the host's mount namespace, make every mount private in ours, and unmount
    /sys/fs/cgroup/unified there only: crun then sees a v1-only (legacy) host.  Returns
    a description for the report."""
    CLONE_NEWNS, MS_REC, MS_PRIVATE, MNT_DETACH = 0x20000, 0x4000, 1 << 18, 2
    host_ns = mnt_ns()
    if threading.active_count() != 1:
        raise BenchError("unshare(CLONE_NEWNS) needs a single-threaded process")
    if libc.unshare(CLONE_NEWNS) != 0:
        raise BenchError("unshare(CLONE_NEWNS): " + os.strerror(ctypes.get_errno()))
    ours = mnt_ns()
    if ours == host_ns or ours is None:
        raise BenchError("unshare did not give a new mount namespace; not touching any mount")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise BenchError("make / rprivate in the private namespace: " + os.strerror(ctypes.get_errno()))
    if libc.umount2(b"/sys/fs/cgroup/unified", MNT_DETACH) != 0:
        raise BenchError("umount /sys/fs/cgroup/unified (private namespace): " + os.strerror(ctypes.get_errno()))
    if cgroup_mode() != "legacy":
        raise BenchError("the private namespace still shows cgroup mode %s" % cgroup_mode())
    return {"host_mnt_ns": host_ns, "bench_mnt_ns": ours}


def host_unified_intact(host_ns):
    """The host's view (the parent's namespace, if it is the one we left) still has the
    cgroup2 mount at /sys/fs/cgroup/unified."""
    ppid = os.getppid()
    if mnt_ns(ppid) != host_ns:
        return None
    try:
        with open("/proc/%d/mountinfo" % ppid) as f:
            return any(line.split()[4] == "/sys/fs/cgroup/unified" for line in f)
    except OSError:
        return None


def hierarchies():
    """{key: (mountpoint, mount root)} of the cgroup mounts we see."""
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fs = right.split()
            if not fs or fs[0] not in ("cgroup", "cgroup2"):
                continue
            fields = left.split()
            if fs[0] == "cgroup2":
                key = ""
            else:
                opts = [o for o in fs[2].split(",") if o not in ("rw", "ro") and "=" not in o or o.startswith("name=")]
                key = ",".join(opts)
            out.setdefault(key, (fields[4], fields[3]))
    return out


def own_cgroups(pid="self"):
    out = {}
    with open("/proc/%s/cgroup" % pid) as f:
        for line in f:
            parts = line.rstrip("\n").split(":", 2)
            if len(parts) == 3:
                out[parts[1]] = parts[2]
    return out


def memory_charge(pid):
    """Bytes charged to the memory cgroup of `pid` at its peak: memory.peak (v2) or
    memory.max_usage_in_bytes (v1)."""
    hs = hierarchies()
    cg = own_cgroups(pid)
    if "memory" in hs and "memory" in cg:
        mnt, root = hs["memory"]
        rel = cg["memory"][len(root):] if root != "/" and cg["memory"].startswith(root) else cg["memory"]
        f = mnt + rel + "/memory.max_usage_in_bytes"
    elif "" in hs and "" in cg:
        mnt, root = hs[""]
        rel = cg[""][len(root):] if root != "/" and cg[""].startswith(root) else cg[""]
        f = mnt + rel + "/memory.peak"
    else:
        raise BenchError("no memory cgroup for pid %d" % pid)
    with open(f) as fh:
        return int(fh.read()), f


def memory_stat_now(cgdir):
    """What the cgroup holds now, to the page: rss + cache (v1) or anon + file + kernel (v2).
    The peak files count in per-cpu batches (64 pages on v1), memory.stat does not."""
    vals = {}
    with open(cgdir + "/memory.stat") as f:
        for line in f:
            k, _, v = line.partition(" ")
            vals[k] = int(v)
    if "rss" in vals:
        return vals["rss"] + vals["cache"]
    return vals.get("anon", 0) + vals.get("file", 0) + vals.get("kernel", 0)


def cgroup_dirs_named(prefix):
    """Cgroup directories whose name starts with `prefix`, at the top of every hierarchy
    and under this process's own cgroup (where runtimes put cgroupsPath-less containers)."""
    found = []
    own = own_cgroups()
    for key, (mnt, root) in hierarchies().items():
        bases = {mnt}
        mine = own.get(key)
        if mine is not None:
            rel = mine[len(root):] if root != "/" and mine.startswith(root) else mine
            bases.add(mnt + rel.rstrip("/"))
        for base in bases:
            try:
                names = os.listdir(base)
            except OSError:
                continue
            found += [base + "/" + n for n in names if n.startswith(prefix) and os.path.isdir(base + "/" + n)]
    return sorted(set(found))


# ---------------------------------------------------------------- the bundle

def make_bundles(workdir):
    """One busybox-static rootfs; two configs (runc's default spec, no terminal, read-only
    root): /bin/true for the timings, /bin/sleep for the containers that must stay up."""
    harness.busybox_applets()   # a static /bin/busybox (installs busybox-static if needed)
    rootfs = os.path.join(workdir, "rootfs")
    for d in ("bin", "proc", "sys", "dev", "etc", "tmp", "root"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    shutil.copy("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    for applet in ("true", "sleep", "sh"):
        os.symlink("busybox", os.path.join(rootfs, "bin", applet))
    bundles = {}
    # "true-userns": the same in a new user namespace whose map keeps the rootfs's owners
    # (host ids 0-65535 as themselves), so that only the namespace is measured
    idmap = [{"containerID": 0, "hostID": 0, "size": 65536}]
    for name, args in (("true", ["/bin/true"]), ("sleep", ["/bin/sleep", "100000"]),
                       ("true-userns", ["/bin/true"])):
        cfg = copy.deepcopy(harness.RUNC_SPEC)
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = args
        cfg["root"] = {"path": rootfs, "readonly": True}
        if name.endswith("-userns"):
            cfg["linux"]["namespaces"].append({"type": "user"})
            cfg["linux"]["uidMappings"] = cfg["linux"]["gidMappings"] = idmap
        b = os.path.join(workdir, "bundle-" + name)
        os.makedirs(b)
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        bundles[name] = b
    return bundles


# ---------------------------------------------------------------- runtimes

class Runtime:
    def __init__(self, name, binary, workdir, prefix):
        self.name = name
        self.binary = binary
        self.root = os.path.join(workdir, "root-" + name)
        os.makedirs(self.root, mode=0o700)
        self.piddir = os.path.join(workdir, "pid-" + name)
        os.makedirs(self.piddir)
        self.sp = Spawner(os.path.join(workdir, name + ".stderr"))
        self.prefix = prefix + name[:2] + "-"
        self.counter = itertools.count(1)   # next() is atomic: ids are made in worker threads too
        self.pids = {}          # id -> init pid, for every container we made
        self.starts = {}        # id -> the init's start time (a recycled pid is not ours)

    def new_id(self, tag):
        return "%s%s%d" % (self.prefix, tag, next(self.counter))

    def argv(self, *args):
        return [self.binary, "--root", self.root, *args]

    def call(self, *args, check=True):
        return self.sp.call(self.argv(*args), check=check)[0]

    def timed(self, *args):
        """call() after the settling pause: a timed command of the latency tests."""
        settle()
        return self.call(*args)

    def create(self, cid, bundle, timed=False):
        pidfile = os.path.join(self.piddir, cid)
        if timed:
            settle()
        t = self.call("create", "--bundle", bundle, "--pid-file", pidfile, cid)
        self.record(cid, pidfile)
        return t

    def record(self, cid, pidfile):
        with open(pidfile) as f:
            pid = self.pids[cid] = int(f.read())
        os.unlink(pidfile)
        st = proc_stat(pid)
        self.starts[cid] = st[2] if st else None

    def containers(self):
        try:
            return sorted(n for n in os.listdir(self.root) if os.path.isdir(os.path.join(self.root, n)))
        except FileNotFoundError:
            return []

    def version(self):
        try:
            return self.sp.output([self.binary, "--version"]).splitlines()[0]
        except BenchError as e:
            return "unknown (%s)" % e


class Floor:
    """The interpreter start every pyrunc command pays: the launcher's own interpreter."""
    name = "floor"

    def __init__(self, interpreter, workdir):
        self.argv = [interpreter, "-I", "-S", "-c", "pass"]
        self.sp = Spawner(os.path.join(workdir, "floor.stderr"))

    def call(self):
        settle()   # the floor is timed as the commands are
        return self.sp.call(self.argv)[0]


def launcher_interpreter(path):
    with open(path, "rb") as f:
        first = f.readline().decode()
    if not first.startswith("#!"):
        raise BenchError("%s has no #! line" % path)
    return first[2:].split()[0]


# ---------------------------------------------------------------- measurements

class Samples:
    """metric -> runtime -> [seconds or bytes, one per round]; rounds stay aligned so
    that ratios are paired."""

    def __init__(self):
        self.data = {}

    def add(self, metric, who, value):
        self.data.setdefault(metric, {}).setdefault(who, []).append(value)


def rotation(items, i):
    k = i % len(items)
    return items[k:] + items[:k]


def bench_floor_only(S, floor, rounds):
    for _ in range(rounds):
        S.add("python3 -I -S -c pass", "floor", floor.call())


def bench_run(S, rts, floor, bundles, rounds):
    log("run /bin/true end to end, without and with a user namespace: %d rounds" % rounds)
    for i in range(rounds):
        for who in rotation([*rts, floor], i):
            if who is floor:
                S.add("run", "floor", floor.call())
                continue
            for metric, bundle in (("run", "true"), (USERNS_RUN, "true-userns")):
                cid = who.new_id("r")
                S.add(metric, who.name, who.timed("run", "--bundle", bundles[bundle], cid))
                if cid in who.containers():
                    raise BenchError("%s run left %s behind" % (who.name, cid))


def bench_split(S, rts, floor, bundles, rounds):
    log("create, start, wait, delete: %d rounds" % rounds)
    for i in range(rounds):
        for who in rotation([*rts, floor], i):
            if who is floor:
                S.add("floor (split rounds)", "floor", floor.call())
                continue
            cid = who.new_id("s")
            tc = who.create(cid, bundles["true"], timed=True)
            ts = who.timed("start", cid)
            t0 = time.perf_counter()
            status = wait_exit(who.pids[cid])
            tw = time.perf_counter() - t0
            if status is not None and os.waitstatus_to_exitcode(status) != 0:
                raise BenchError("%s: /bin/true exited %s" % (who.name, os.waitstatus_to_exitcode(status)))
            td = who.timed("delete", cid)
            for m, v in (("create", tc), ("start", ts), ("wait for exit", tw), ("delete", td),
                         ("create+start+delete", tc + ts + td), ("create+start+wait+delete", tc + ts + tw + td)):
                S.add(m, who.name, v)
    # the floor for these metrics is the floor measured in the same rounds
    fl = S.data["floor (split rounds)"]["floor"]
    for m in ("create", "start", "delete", "create+start+delete", "create+start+wait+delete"):
        S.data[m]["floor"] = list(fl)
    del S.data["floor (split rounds)"]


def start_target(who, bundles):
    cid = who.new_id("t")
    who.create(cid, bundles["sleep"])
    who.call("start", cid)
    return cid


def bench_verbs(S, rts, floor, targets, present, rounds, verbs=("state", "kill", "list")):
    log("%s with %d present: %d rounds" % (", ".join(verbs), present, rounds))
    for verb in verbs:
        metric = "%s (%d present)" % (verb, present)
        for i in range(rounds):
            for who in rotation([*rts, floor], i):
                if who is floor:
                    S.add(metric, "floor", floor.call())
                elif verb == "state":
                    S.add(metric, who.name, who.timed("state", targets[who.name]))
                elif verb == "kill":
                    # SIGWINCH: the sleeping init (pid 1 of its namespace, no handler) ignores it
                    S.add(metric, who.name, who.timed("kill", targets[who.name], "WINCH"))
                else:
                    S.add(metric, who.name, who.timed("list"))


def populate(rts, bundles, total, width):
    """Grow every runtime's root to `total` containers with stopped ones (created,
    started, exited, not deleted): the cheapest steady state that still has a state dir."""
    def one(who):
        cid = who.new_id("p")
        who.create(cid, bundles["true"])
        who.call("start", cid)
        wait_exit(who.pids[cid])
    for who in rts:
        need = total - len(who.containers())
        if need <= 0:
            continue
        log("populate %s: %d more stopped containers" % (who.name, need))
        with ThreadPoolExecutor(width) as ex:
            for f in [ex.submit(one, who) for _ in range(need)]:
                f.result()
        if len(who.containers()) != total:
            raise BenchError("%s: %d containers present, wanted %d" % (who.name, len(who.containers()), total))


RSS_PARTS = {}


def pyrunc_site(launcher):
    """The site-packages the launcher puts on sys.path (where the pyrunc package is)."""
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(launcher)))
    for d in sorted(glob.glob(prefix + "/lib/python3*/site-packages")):
        if os.path.isdir(d + "/pyrunc"):
            return d
    return prefix + "/lib/python3/dist-packages"


def peak_rss(S, rts, floor, bundles, runs, workdir):
    """ru_maxrss of each command, from GNU time -v."""
    log("peak RSS per command: %d runs" % runs)
    out = os.path.join(workdir, "time-v.txt")

    def rss_of(path):
        with open(path) as f:
            for line in f:
                if "Maximum resident set size" in line:
                    return int(line.rsplit(":", 1)[1]) * 1024
        raise BenchError("no RSS in %s" % path)

    def timed(who, *args):
        who.sp.call([GNU_TIME, "-v", "-o", out, *who.argv(*args)])
        return rss_of(out)

    site = pyrunc_site(PYRUNC)
    path = "import sys; sys.path.append(%r); " % site
    parts = {"interpreter": "pass", "+ _cffi_backend": path + "import _cffi_backend",
             "+ pyrunc.shim (cffi, the shim, the plan's ops)": path + "import pyrunc.shim"}
    for i in range(runs):
        floor.sp.call([GNU_TIME, "-v", "-o", out, *floor.argv])
        S.add("python3 -I -S -c pass", "floor", rss_of(out))
        for what, code in parts.items():
            floor.sp.call([GNU_TIME, "-v", "-o", out, floor.argv[0], "-I", "-S", "-c", code])
            RSS_PARTS.setdefault(what, []).append(rss_of(out))
        for who in rotation(list(rts), i):
            cid = who.new_id("m")
            pidfile = os.path.join(who.piddir, cid)
            S.add("create", who.name, timed(who, "create", "--bundle", bundles["sleep"], "--pid-file", pidfile, cid))
            who.record(cid, pidfile)
            S.add("state", who.name, timed(who, "state", cid))
            S.add("start", who.name, timed(who, "start", cid))
            S.add("kill", who.name, timed(who, "kill", cid, "WINCH"))
            S.add("list", who.name, timed(who, "list"))
            who.call("kill", cid, "KILL")
            wait_exit(who.pids[cid])
            S.add("delete", who.name, timed(who, "delete", cid))
            rid = who.new_id("m")
            S.add("run", who.name, timed(who, "run", "--bundle", bundles["true"], rid))


CODE_USE = {}


def code_use(who, floor, bundles):
    """For `create` and `run`: the heap the code objects of the pyrunc modules they load
    take, and the part of it that belongs to code they never run (bench/codeuse.py, one
    profiled run each). That part is the most that moving code off their paths could
    take from their peak RSS."""
    log("code that create and run load and never run")
    script = os.path.join(HERE, "codeuse.py")
    out = os.path.join(os.path.dirname(who.root), "codeuse.json")
    sys.path.insert(0, HERE)
    try:
        import codeuse
    finally:
        sys.path.remove(HERE)
    for verb in ("create", "run"):
        cid = who.new_id("u")
        pidfile = os.path.join(who.piddir, cid)
        if verb == "create":
            args = ("create", "--bundle", bundles["sleep"], "--pid-file", pidfile, cid)
        else:
            args = ("run", "--bundle", bundles["true"], cid)
        who.sp.call([floor.argv[0], "-I", "-S", script, "run", out, *who.argv(*args)])
        if verb == "create":
            who.record(cid, pidfile)
            who.call("delete", "-f", cid)
        with open(out) as f:
            doc = json.load(f)
        heap = int(who.sp.output([floor.argv[0], "-I", "-S", script, "heap", out]))
        called, never, never_heap = codeuse.summary(doc, heap)
        CODE_USE[verb] = {"modules": len(doc["modules"]), "heap": heap, "called": called, "never": never,
                          "never_heap": never_heap}


def cgroup_charge(S, rts, bundles, runs):
    log("memory charged to the container's cgroup: %d runs" % runs)
    for i in range(runs):
        for who in rotation(list(rts), i):
            cid = who.new_id("c")
            who.create(cid, bundles["sleep"])
            who.call("start", cid)
            time.sleep(0.1)
            value, path = memory_charge(who.pids[cid])
            S.add("peak (%s)" % path.rsplit("/", 1)[1], who.name, value)
            S.add("now, memory.stat (page exact)", who.name, memory_stat_now(path.rsplit("/", 1)[0]))
            who.call("kill", cid, "KILL")
            wait_exit(who.pids[cid])
            who.call("delete", cid)


# ---------------------------------------------------------------- where the time goes

PHASE_VERBS = ("run", "create", "start", "delete", "state", "kill", "list")
INTERP = "interpreter start (spawn to the launcher's first line)"
EXIT = "exit (_exit, reaped by the bench)"


def bench_phases(who, floor, bundles, target, rounds, workdir):
    """pyrunc's commands again with PYRUNC_PHASES set: each one appends its marks
    (CLOCK_MONOTONIC, as the bench's own clock) to a file, so that its wall time splits
    into phases: the interpreter's start (the bench's spawn to the launcher's first
    line), each mark to the next, and the exit. The floor runs in the same rounds.
    Returns {verb: [{phase: seconds}, ...]}, {"floor": [seconds]}."""
    log("pyrunc's phases (PYRUNC_PHASES): %d rounds" % rounds)
    marks_file = os.path.join(workdir, "phases.txt")
    env = dict(ENV, PYRUNC_PHASES=marks_file)
    out = {v: [] for v in PHASE_VERBS}
    floors = []

    def timed(verb, *args):
        try:
            os.unlink(marks_file)
        except FileNotFoundError:
            pass
        times = []
        settle()
        who.sp.call(who.argv(*args), env=env, times=times)
        with open(marks_file) as f:
            fields = f.read().split()
        names, stamps = [], []
        i = 1
        while i < len(fields):      # "pid name ns name ns ...": names may hold spaces
            j = i
            while not fields[j].isdigit():
                j += 1
            names.append(" ".join(fields[i:j]).rstrip(","))
            stamps.append(int(fields[j]))
            i = j + 1
        row = {INTERP: (stamps[0] - times[0]) / 1e9}
        for k in range(1, len(names)):
            key = names[k]
            while key in row:       # a mark repeated (run's delete): keep both
                key += "'"
            row[key] = (stamps[k] - stamps[k - 1]) / 1e9
        row[EXIT] = (times[1] - stamps[-1]) / 1e9
        row["total"] = (times[1] - times[0]) / 1e9
        out[verb].append(row)

    for _ in range(rounds):
        floors.append(floor.call())
        timed("run", "run", "--bundle", bundles["true"], who.new_id("f"))
        cid = who.new_id("f")
        pidfile = os.path.join(who.piddir, cid)
        timed("create", "create", "--bundle", bundles["true"], "--pid-file", pidfile, cid)
        who.record(cid, pidfile)
        timed("start", "start", cid)
        wait_exit(who.pids[cid])
        timed("delete", "delete", cid)
        timed("state", "state", target)
        timed("kill", "kill", target, "WINCH")
        timed("list", "list")
    return out, floors


def summarize_phases(raw, floors):
    """{verb: [(phase, median seconds)]} in the order the phases happen, and the floor."""
    out = {}
    for verb, rows in raw.items():
        if not rows:
            continue
        names = []
        for r in rows:
            names += [k for k in r if k not in names]
        out[verb] = [(k, statistics.median(r.get(k, 0.0) for r in rows)) for k in names]
    return out, statistics.median(floors) if floors else None


def strace_cgroup_waits(rts, bundles, runs, workdir):
    """What each runtime's `run` waits for in the cgroup filesystem, by `strace -f -T`
    (the durations of the calls themselves, not affected much by tracing): its first
    write to a cgroup.procs (a v1 host's RCU grace period), all of them, and its mkdirs
    there. {runtime: {what: [seconds per run]}}; {} without strace."""
    strace = shutil.which("strace", path=ENV["PATH"])
    if not strace:
        log("no strace: the cgroup waits are not measured")
        return {}
    log("cgroup waits under strace -f -T: %d runs" % runs)
    out = {}
    trace = os.path.join(workdir, "strace.txt")
    for i in range(runs):
        for who in rotation(list(rts), i):
            settle()
            who.sp.call([strace, "-f", "-T", "-y", "-qq", "-e", "trace=write,mkdir,mkdirat", "-o", trace,
                         *who.argv("run", "--bundle", bundles["true"], who.new_id("q"))])
            procs, mkdirs, pending = [], [], {}
            with open(trace) as f:
                for line in f:
                    pid, _, rest = line.partition(" ")
                    cg = "cgroup.procs>" in rest and rest.lstrip().startswith("write(")
                    md = rest.lstrip().startswith("mkdir") and CGROUP_ROOT in rest
                    if "<unfinished" in rest:
                        if cg or md:
                            pending[pid] = procs if cg else mkdirs
                        continue
                    dest = procs if cg else mkdirs if md else None
                    if "resumed>" in rest:
                        dest = pending.pop(pid, None)
                    if dest is not None and rest.rstrip().endswith(">"):
                        dest.append(float(rest.rstrip()[:-1].rsplit("<", 1)[1]))
            m = out.setdefault(who.name, {})
            m.setdefault("first cgroup.procs write", []).append(procs[0] if procs else 0.0)
            m.setdefault("all cgroup.procs writes", []).append(sum(procs))
            m.setdefault("cgroup mkdirs", []).append(sum(mkdirs))
    return {who: {k: statistics.median(v) for k, v in m.items()} for who, m in out.items()}


def parallel(S, rts, bundles, widths, rounds, count=100):
    """`count` containers created, started, waited for and deleted, `width` at a time."""
    leaks = {}
    for width in widths:
        metric = "parallel %d, %d at a time" % (count, width)
        for i in range(rounds):
            for who in rotation(list(rts), i):
                log("%s: %s" % (metric, who.name))
                ids = [who.new_id("x%d-" % width) for _ in range(count)]

                def one(cid, who=who):
                    who.create(cid, bundles["true"])
                    who.call("start", cid)
                    wait_exit(who.pids[cid])
                    who.call("delete", cid)

                t0 = time.perf_counter()
                with ThreadPoolExecutor(width) as ex:
                    errors = [f.exception() for f in [ex.submit(one, c) for c in ids]]
                elapsed = time.perf_counter() - t0
                errors = [e for e in errors if e]
                left = {"state dirs": [c for c in who.containers() if c in ids],
                        "cgroups": [d for d in cgroup_dirs_named(who.prefix + "x%d-" % width)],
                        "processes": [p for p, st in descendants() if st[0] != "Z"],
                        "errors": [str(e) for e in errors[:3]] + (["... %d errors" % len(errors)] if errors else [])}
                S.add(metric, who.name, elapsed)
                leaks.setdefault(metric, {}).setdefault(who.name, []).append(
                    {k: v for k, v in left.items() if v})
                reap_all()
    return leaks


# ---------------------------------------------------------------- cleanup

def cleanup(rts, prefix, width=4):
    """Delete every container this run made, by the runtime that made it; then remove
    what a runtime may have left: its cgroups (named by our ids) and processes (ours)."""
    report = []

    def one(who, cid):
        pid = who.pids.get(cid)
        st = proc_stat(pid) if pid else None
        if st and st[2] != who.starts.get(cid):
            st = None           # the pid was recycled: that process is not ours
        if st and st[0] != "Z":
            who.call("kill", cid, "KILL", check=False)
            try:
                wait_exit(pid, timeout=10)
            except TimeoutError:
                report.append("%s: init %d of %s did not die" % (who.name, pid, cid))
        elif st:
            wait_exit(pid, timeout=1)
        _, rc = who.sp.call(who.argv("delete", "--force", cid), check=False)
        if rc != 0:
            report.append("%s delete --force %s: exit %d" % (who.name, cid, rc))

    with ThreadPoolExecutor(width) as ex:
        for f in [ex.submit(one, who, cid) for who in rts for cid in who.containers() if cid.startswith(prefix)]:
            f.result()
    reap_all()
    for pid, st in descendants():
        if st[0] != "Z":
            report.append("left process %d: killed" % pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    time.sleep(0.05)
    reap_all()
    for d in sorted(cgroup_dirs_named(prefix), key=len, reverse=True):
        report.append("left cgroup %s" % d)
        try:
            os.rmdir(d)
        except OSError as e:
            report.append("  rmdir: %s" % e)
    return report


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path)]


# ---------------------------------------------------------------- summary and table

def summarize(S, who_list):
    out = {}
    for metric, by in S.data.items():
        m = {}
        for who, vals in by.items():
            m[who] = {"n": len(vals), "median": statistics.median(vals), "min": min(vals), "max": max(vals)}
        ratios = {}
        if "pyrunc" in by:
            for other in [*OTHERS, "floor"]:
                if other in by and len(by[other]) == len(by["pyrunc"]) and all(by[other]):
                    r = [a / b for a, b in zip(by["pyrunc"], by[other])]
                    ratios[other] = {"median": statistics.median(r), "min": min(r), "max": max(r), "n": len(r)}
        out[metric] = {"by": m, "paired_ratio": ratios}
    return out


def _median(block, metric, who):
    d = block.get(metric, {}).get("by", {}).get(who)
    return d["median"] if d else None


def _top_phases(phases, verbs, n=4):
    """The largest phases of pyrunc's `verbs` (the breakdown's medians), as text."""
    rows = []
    for verb in verbs:
        for name, sec in phases.get(verb, []):
            if name not in ("total", INTERP, EXIT):   # the floor pays those too
                rows.append((sec, "%s%s %.1f" % (verb + ": " if len(verbs) > 1 else "", name, sec * 1000)))
    rows.sort(reverse=True)
    return "; ".join(t for _, t in rows[:n]) + " ms" if rows else ""


def paired_share(samples, metric, floors, other, factor):
    """Per round, pyrunc's side of a target over its limit ((pyrunc - floors x floor) /
    (factor x other), the floor of the same round standing in for a missing other), and
    the median of those shares; None when the metric was not measured. Paired, as the
    latency ratios are: on a machine whose timings jump between two levels, a ratio of two
    medians taken apart moves by more than the margins the targets leave."""
    by = samples.get(metric, {})
    p, f = by.get("pyrunc"), by.get("floor")
    o = by.get(other) if other else f
    if not p or not f or not o or not len(p) == len(f) == len(o):
        return None
    shares = [(a - floors * b) / (factor * c) for a, b, c in zip(p, f, o) if c]
    return statistics.median(shares) if shares else None


def verdicts(lat, rss, mem, par, leaks, phases=None, rss_parts=None, samples=None, unrun=None):
    """Issue 18's targets: for each, pyrunc's side and the limit (this run's medians), the
    median per-round share of the limit that pyrunc takes (met when at most 1), and, when
    not met, what stops it (the breakdown's largest phases)."""
    phases = phases or {}
    v = []
    for label, metric, floors, other, factor in SPEED_TARGETS:
        p, f = _median(lat, metric, "pyrunc"), _median(lat, metric, "floor")
        o = _median(lat, metric, other) if other else f
        share = paired_share(samples or {}, metric, floors, other, factor)
        if p is None or f is None or o is None or share is None:
            v.append({"target": label, "value": "-", "limit": "-", "met": None, "stops": "not measured"})
            continue
        value, limit = p - floors * f, factor * o
        if floors:
            vtext = "%.1f - %d x %.1f = %.1f ms" % (p * 1000, floors, f * 1000, value * 1000)
            ltext = "%s %.1f ms" % (other, limit * 1000)
        else:
            vtext = "%.1f ms = %.3f x floor" % (p * 1000, p / f)
            ltext = "%.2f x %.1f = %.1f ms" % (factor, f * 1000, limit * 1000)
        met = share <= 1.0
        stops = "" if met else "over by %.1f ms; largest phases beyond the interpreter's start and exit: %s" % (
            (share - 1.0) * limit * 1000, _top_phases(phases, TARGET_VERBS.get(metric, [])))
        v.append({"target": label, "value": vtext, "limit": ltext, "share": share, "met": met, "stops": stops})
    for metric in ("create", "run"):
        p, r = _median(rss, metric, "pyrunc"), _median(rss, metric, "runc")
        if p is None or r is None:
            continue
        stops = ""
        if p > r and rss_parts:
            stops = "over by %d KiB; %s" % ((p - r) / 1024, rss_parts)
            cu = (unrun or {}).get(metric)
            if cu:
                stops += ("; the code objects of the %d pyrunc modules it loads take %d KiB of heap, of which "
                          "code it never runs is at most %d KiB: %s" % (
                              cu["modules"], cu["heap"] / 1024, cu["never_heap"] / 1024,
                              "less than the excess, so moving code off the path cannot meet this target"
                              if cu["never_heap"] < p - r else "as much as the excess"))
        v.append({"target": "peak RSS of %s <= runc's" % metric, "value": "%d KiB" % (p / 1024),
                  "limit": "%d KiB" % (r / 1024), "met": p <= r, "stops": stops})
    # "everything else stays as it is"
    for metric in mem:
        if metric.startswith("peak"):
            p, c = _median(mem, metric, "pyrunc"), _median(mem, metric, "crun")
            if p is not None and c is not None:
                v.append({"target": "(kept) memory charged, %s <= crun's" % metric, "value": "%d KiB" % (p / 1024),
                          "limit": "%d KiB" % (c / 1024), "met": p <= c, "stops": ""})
    p, r = _median(lat, "list (1000 present)", "pyrunc"), _median(lat, "list (1000 present)", "runc")
    if p is not None and r is not None:
        v.append({"target": "(kept) list of 1000 <= runc's", "value": "%.1f ms" % (p * 1000),
                  "limit": "%.1f ms" % (r * 1000), "met": p <= r, "stops": ""})
    for metric in par:
        bad = [who for who, runs in leaks.get(metric, {}).items() if any(runs)]
        v.append({"target": "(kept) %s: nothing left over" % metric, "value": ", ".join(bad) or "none",
                  "limit": "none", "met": not any(leaks.get(metric, {}).get("pyrunc", [])), "stops": ""})
    return v


def userns_cost(lat):
    """What a user namespace adds to `run`, as a ratio of each runtime's plain run."""
    out = {}
    for who in ("pyrunc", "runc", "crun"):
        plain, userns = _median(lat, "run", who), _median(lat, USERNS_RUN, who)
        if plain and userns:
            out[who] = userns / plain
    return out


def fmt_ms(s):
    return "%.1f" % (s * 1000) if s < 10 else "%.2f s" % s


def fmt_cell(d, unit):
    if d is None:
        return "-"
    f = {"ms": fmt_ms, "s": lambda x: "%.2f" % x, "MiB": lambda x: "%.1f" % (x / 1048576),
         "KiB": lambda x: "%d" % (x / 1024)}[unit]
    if d["n"] == 1:
        return f(d["median"])
    return "%s (%s..%s)" % (f(d["median"]), f(d["min"]), f(d["max"]))


def fmt_ratio(r):
    if not r:
        return "-"
    return "%.2f (%.2f..%.2f)" % (r["median"], r["min"], r["max"])


def table(section, unit, block, cols):
    head = ["metric", "n", *cols, "pyrunc/runc", "pyrunc/crun", "pyrunc/floor"]
    lines = ["", "### " + section, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for metric, s in block.items():
        n = max(d["n"] for d in s["by"].values())
        cells = [fmt_cell(s["by"].get(c), unit) for c in cols]
        ratios = [fmt_ratio(s["paired_ratio"].get(o)) for o in ("runc", "crun", "floor")]
        lines.append("| " + " | ".join([metric, str(n), *cells, *ratios]) + " |")
    return lines


def settle_note(ms):
    if not ms:
        return "Commands ran back to back (`--settle 0`)."
    return ("Each timed command started %g ms after the previous one ended (`--settle`), so that "
            "none rides on another's cgroup move (bench/README.md)." % ms)


def render(result, ratios_only=False):
    m = result["machine"]
    lines = ["## Latest run: %s (%s mode)" % (result["finished"], result["mode"]), "",
             "Machine: %s; %d CPUs; %d MiB RAM; kernel %s; %s; cgroups: host %s, bench %s; "
             "load average %s at start, %s at the end." % (
                 m["cpu"], m["cpus"], m["mem_mib"], m["kernel"], m["os"], m["cgroup_host"], m["cgroup_bench"],
                 m["load_start"], m["load_end"]),
             "Runtimes: %s." % "; ".join("%s = %s" % kv for kv in m["versions"].items()),
             "",
             "Medians with (min..max); ratios are the median (min..max) of per-round pyrunc/other ratios, "
             "the runtimes alternating in rotated order every round; floor = `%s`. %s" % (
                 " ".join(m["floor"]), settle_note(m.get("settle_ms", 0)))]
    if ratios_only:   # the guest: TCG makes every absolute figure meaningless
        lines[0] = "## In the qemu guest (TCG): ratios only, %s" % result["finished"]
        lines += table("Latency ratios", "ms", result["latency"], [])
        lines += table("Peak RSS ratios", "KiB", result["peak_rss"], [])
        lines += ["", "### Targets (issue 18)", "", "| target | met |", "|---|---|"]
        lines += ["| %s | %s |" % (t["target"], {True: "yes", False: "**no**", None: "n/a"}[t["met"]])
                  for t in result["targets"]]
        return "\n".join(lines)
    lines += table("Latency (ms)", "ms", result["latency"], ["pyrunc", "runc", "crun", "floor"])
    lines += table("Peak RSS of each command (KiB, GNU time -v)", "KiB", result["peak_rss"],
                   ["pyrunc", "runc", "crun", "floor"])
    lines += table("Memory charged to the cgroup of a container that only sleeps (KiB)", "KiB",
                   result["cgroup_charge"], ["pyrunc", "runc", "crun"])
    lines += table("Parallel: 100 containers created, started, waited for, deleted (seconds)", "s",
                   result["parallel"], ["pyrunc", "runc", "crun"])
    leak_lines = []
    for metric, by in result["leaks"].items():
        for who, runs in by.items():
            leak_lines.append("%s, %s: %s" % (metric, who, "nothing left" if not any(runs) else json.dumps(runs)))
    lines += ["", "Left over after the parallel runs: " + "; ".join(leak_lines) + "."]
    lines += render_phases(result)
    lines += ["", "### Targets (issue 18)", "",
              "pyrunc and limit: this run's medians. Share: the median over the rounds of pyrunc's side over the "
              "limit, each round's commands side by side; a latency target is met when it is at most 1.", "",
              "| target | pyrunc | limit | share | met | what stops it (phases below) |", "|---|---|---|---|---|---|"]
    for t in result["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
        share = "%.2f" % t["share"] if t.get("share") is not None else "-"
        lines.append("| %s | %s | %s | %s | %s | %s |" % (t["target"], t["value"], t["limit"], share, met,
                                                          t["stops"]))
    u = result.get("userns_cost") or {}
    if u:
        lines += ["", "A user namespace adds to `run` (its run / its plain run): %s." % ", ".join(
            "%s %.2f" % kv for kv in u.items())]
    lines += ["", "Cleanup: %s" % ("; ".join(result["cleanup"]) or "everything removed by the runtimes themselves"),
              "Host mounts untouched: %s." % result["host_mounts_intact"], ""]
    return "\n".join(lines)


def render_phases(result):
    """pyrunc's phases (medians, ms) per verb, with the crun costs that compare."""
    ph = result.get("phases") or {}
    if not ph.get("verbs"):
        return []
    lines = ["", "### Where pyrunc's time goes (ms, medians of %d rounds with PYRUNC_PHASES)" % ph["rounds"], "",
             "Each command's marks (CLOCK_MONOTONIC) against the bench's spawn and reap; a phase ends at the "
             "mark it is named after and includes the imports made in it. Floor in the same rounds: %.1f ms."
             % (ph["floor"] * 1000), ""]
    lat = result["latency"]
    for verb, rows in ph["verbs"].items():
        metric = {"state": "state (1 present)", "kill": "kill (1 present)", "list": "list (1 present)"}.get(verb, verb)
        crun = _median(lat, metric, "crun")
        lines.append("- **%s** (crun's whole %s: %s ms): %s" % (
            verb, verb, "%.1f" % (crun * 1000) if crun else "-",
            ", ".join("%s %.2f" % (name, sec * 1000) for name, sec in rows)))
    cg = ph.get("cgroup_waits") or {}
    if cg:
        lines += ["", "The cgroup filesystem's waits in `run`, per runtime (`strace -f -T`, medians of %d runs, ms; "
                  "pyrunc's first write is its warm-up thread's, overlapped with its start-up):" % ph["strace_runs"], "",
                  "| | " + " | ".join(cg) + " |", "|---|" + "---|" * len(cg)]
        for what in next(iter(cg.values())):
            lines.append("| %s | %s |" % (what, " | ".join("%.2f" % (cg[w].get(what, 0) * 1000) for w in cg)))
    if ph.get("rss_parts"):
        lines += ["", "Peak RSS of the interpreter alone and with what create/run load (KiB): %s."
                  % ph["rss_parts"]]
    for verb, cu in sorted((ph.get("code_use") or {}).items()):
        lines += ["", "`%s` loads %d pyrunc modules whose code objects take %d KiB of heap; code it never runs "
                  "(by a profiled run: %d of %d KiB of code objects) accounts for at most %d KiB of it "
                  "(bench/codeuse.py)." % (verb, cu["modules"], cu["heap"] / 1024, cu["never"] / 1024,
                                           (cu["called"] + cu["never"]) / 1024, cu["never_heap"] / 1024)]
    return lines


def machine_info():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    osname = platform.system()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "mem_mib": mem, "kernel": platform.release(), "os": osname}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def update_readme(md):
    """The table goes into bench/README.md and the project's README.md, between the
    latest-run markers of each."""
    begin, end = "<!-- latest-run:begin -->", "<!-- latest-run:end -->"
    for path in (README, MAIN_README):
        with open(path) as f:
            text = f.read()
        if begin not in text or end not in text:
            raise BenchError("%s has no %s ... %s section" % (path, begin, end))
        head, rest = text.split(begin, 1)
        _, tail_ = rest.split(end, 1)
        with open(path, "w") as f:
            f.write(head + begin + "\n" + md + "\n" + end + tail_)


# ---------------------------------------------------------------- main

def in_guest(a):
    """bench/run.py --quick in integration/guest's qemu guest (pure cgroup v2, the host's
    / read-only with a tmpfs on top), with this PYRUNC; only the ratios are printed."""
    sys.path.insert(0, os.path.join(REPO, "integration", "guest"))
    import boot

    argv = [sys.executable, os.path.abspath(__file__), "--in-guest", "--quick", "--skip-parallel",
            "--runtimes", a.runtimes, "--out", "/tmp/pyrunc-bench-guest"]
    if a.rounds:
        argv += ["--rounds", str(a.rounds)]
    log("booting the guest (TCG: expect 10-30 minutes)")
    r = boot.boot(argv, timeout=3600, env={"PYRUNC": PYRUNC})
    text = r.output
    if r.exit_code != 0 or GUEST_BEGIN not in text:
        raise BenchError("the guest's bench exited %d:\n%s" % (r.exit_code, text[-3000:]))
    md = text.split(GUEST_BEGIN, 1)[1].split(GUEST_END, 1)[0].strip() + "\n"
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "guest.md"), "w") as f:
        f.write(md)
    print(md)
    log("guest run done in %.0f s; %s/guest.md" % (r.seconds, RESULTS))


GUEST_BEGIN, GUEST_END = "<!-- bench-guest:begin -->", "<!-- bench-guest:end -->"


def _interrupted(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main():
    global SETTLE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds, no list with 1000 (about 2 minutes)")
    ap.add_argument("--rounds", type=int, help="override the rounds of the latency tests")
    ap.add_argument("--runtimes", default="runc,crun", help="what pyrunc is compared with (default runc,crun)")
    ap.add_argument("--no-private-ns", action="store_true",
                    help="stay in the host's mount namespace (crun then fails on a hybrid host and is skipped)")
    ap.add_argument("--skip-parallel", action="store_true")
    ap.add_argument("--update-readme", action="store_true", help="put the table into bench/README.md and README.md")
    ap.add_argument("--out", default=RESULTS, help="directory for latest.json and latest.md")
    ap.add_argument("--guest", action="store_true",
                    help="run the same comparison in the qemu guest (cgroup v2; ratios only: TCG is slow); "
                         "the table goes to bench/results/guest.md")
    ap.add_argument("--settle", type=float, default=SETTLE * 1000, metavar="MS",
                    help="pause before each timed command (default %(default)g; 0: back to back)")
    ap.add_argument("--in-guest", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    SETTLE = a.settle / 1000
    if a.guest:
        return in_guest(a)
    if os.geteuid() != 0:
        sys.exit("bench/run.py: must run as root")
    plan = dict(PLAN_QUICK if a.quick else PLAN_FULL)
    if a.rounds:
        plan["rounds"] = plan["rounds_scan"] = a.rounds
    if a.in_guest:   # TCG: fewer of the secondary runs
        plan.update(phase_rounds=min(plan["phase_rounds"], plan["rounds"]), strace_runs=3, mem_runs=5, rss_runs=2,
                    present=0)
    started = time.time()
    load_start = loadavg()
    host_mode = cgroup_mode()
    ns = None
    if host_mode == "hybrid" and not a.no_private_ns:
        ns = enter_private_ns()
        log("private mount namespace %d (host %d): /sys/fs/cgroup/unified unmounted there only"
            % (ns["bench_mnt_ns"], ns["host_mnt_ns"]))
    become_subreaper()
    signal.signal(signal.SIGTERM, _interrupted)

    workdir = tempfile.mkdtemp(prefix="pyrunc-bench-")
    prefix = "pyrb%s-" % secrets.token_hex(3)
    rts, cleanup_report, result = [], [], None
    try:
        bundles = make_bundles(workdir)
        floor = Floor(launcher_interpreter(PYRUNC), workdir)
        names = ["pyrunc"] + [n for n in a.runtimes.split(",") if n]
        for n in names:
            binary = PYRUNC if n == "pyrunc" else shutil.which(n, path=ENV["PATH"])
            if not binary:
                log("%s is not installed: skipped" % n)
                continue
            rt = Runtime(n, binary, workdir, prefix)
            try:   # one container end to end, or the runtime is skipped (pyrunc never is)
                rt.call("run", "--bundle", bundles["true"], rt.new_id("probe"))
            except BenchError as e:
                if n == "pyrunc":
                    raise
                log("%s cannot run the bundle here, skipped: %s" % (n, e))
                rt.sp.close()
                continue
            rts.append(rt)
        versions = {rt.name: rt.version() for rt in rts}
        by = {rt.name: rt for rt in rts}
        S = Samples()
        bench_floor_only(S, floor, 5)   # warm-up of the interpreter's files
        S = Samples()
        bench_run(S, rts, floor, bundles, plan["rounds"])
        bench_split(S, rts, floor, bundles, plan["rounds"])
        targets = {rt.name: start_target(rt, bundles) for rt in rts}
        bench_verbs(S, rts, floor, targets, 1, plan["rounds"])
        if plan.get("present", 100):
            populate(rts, bundles, 100, 2)
            bench_verbs(S, rts, floor, targets, 100, plan["rounds_scan"])
        if plan["list_big"]:
            populate(rts, bundles, plan["list_big"], 4)
            bench_verbs(S, rts, floor, targets, plan["list_big"], plan["rounds_list1000"], verbs=("list",))
        bench_floor_only(S, floor, plan["rounds"])
        log("removing the populated containers")
        cleanup_report += cleanup(rts, prefix)
        R = Samples()
        peak_rss(R, rts, floor, bundles, plan["rss_runs"], workdir)
        rss_parts = ", ".join("%s %d" % (k, statistics.median(v) / 1024) for k, v in RSS_PARTS.items())
        code_use(by["pyrunc"], floor, bundles)
        phase_raw, phase_floors = bench_phases(by["pyrunc"], floor, bundles, start_target(by["pyrunc"], bundles),
                                               plan["phase_rounds"], workdir)
        phase_sum, phase_floor = summarize_phases(phase_raw, phase_floors)
        cg_waits = strace_cgroup_waits(rts, bundles, plan["strace_runs"], workdir)
        cleanup_report += cleanup(rts, prefix)   # the phases' sleeping container: gone before the parallel runs
        M = Samples()
        cgroup_charge(M, rts, bundles, plan["mem_runs"])
        P = Samples()
        leaks = {}
        if not a.skip_parallel:
            leaks = parallel(P, rts, bundles, (2, 8), plan["parallel_rounds"])
        lat, rss, mem, par = summarize(S, by), summarize(R, by), summarize(M, by), summarize(P, by)
        # order the latency rows for reading
        order = ["python3 -I -S -c pass", "run", USERNS_RUN, "create", "start", "wait for exit", "delete",
                 "create+start+delete", "create+start+wait+delete"]
        lat = {k: lat[k] for k in order if k in lat} | {k: v for k, v in lat.items() if k not in order}
        rss = {k: rss[k] for k in ("python3 -I -S -c pass", "run", "create", "start", "state", "kill", "list", "delete") if k in rss}
        result = {
            "mode": "quick" if a.quick else "full", "plan": plan,
            "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
            "machine": machine_info() | {
                "cgroup_host": host_mode, "cgroup_bench": cgroup_mode(),
                "private_mount_ns": bool(ns), "load_start": load_start,
                "versions": versions, "floor": floor.argv, "settle_ms": SETTLE * 1000},
            "memory_file": "memory.peak" if cgroup_mode() == "v2" else "memory.max_usage_in_bytes",
            "latency": lat, "peak_rss": rss, "cgroup_charge": mem, "parallel": par, "leaks": leaks,
            "samples": {"latency": S.data, "peak_rss": R.data, "cgroup_charge": M.data, "parallel": P.data},
        }
        result["phases"] = {"rounds": plan["phase_rounds"], "floor": phase_floor, "verbs": phase_sum,
                            "raw": phase_raw, "cgroup_waits": cg_waits, "strace_runs": plan["strace_runs"],
                            "rss_parts": rss_parts, "code_use": CODE_USE}
        result["targets"] = verdicts(lat, rss, mem, par, leaks, phase_sum, rss_parts, S.data, CODE_USE)
        result["userns_cost"] = userns_cost(lat)
    finally:
        cleanup_report += cleanup(rts, prefix)
        for rt in rts:
            left = [c for c in rt.containers()]
            if left:
                cleanup_report.append("%s root still holds %s" % (rt.name, left[:5]))
            rt.sp.close()
        left_mounts = mounts_under(workdir)
        if left_mounts:
            cleanup_report.append("mounts left under %s: %s (workdir kept)" % (workdir, left_mounts))
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    intact = host_unified_intact(ns["host_mnt_ns"]) if ns else "not applicable (no private namespace)"
    result["cleanup"] = cleanup_report
    result["host_mounts_intact"] = {True: "yes (the host still has /sys/fs/cgroup/unified)",
                                    False: "NO", None: "could not check"}.get(intact, intact)
    result["finished"] = time.strftime("%Y-%m-%d %H:%M")
    result["machine"]["load_end"] = loadavg()
    result["elapsed_s"] = round(time.time() - started, 1)
    md = render(result)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "latest.json"), "w") as f:
        json.dump(result, f, indent=1, sort_keys=False)
    with open(os.path.join(a.out, "latest.md"), "w") as f:
        f.write(md)
    if a.update_readme:
        update_readme(md)
    if a.in_guest:
        md = GUEST_BEGIN + "\n" + render(result, ratios_only=True) + "\n" + GUEST_END
    print(md)
    log("done in %.0f s; %s/latest.json" % (result["elapsed_s"], a.out))


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        sys.exit("bench/run.py: %s" % e)
