"""AppArmor and SELinux labels applied for real, run inside the qemu guest booted with
one LSM (integration/guest/test_guest_lsm.py boots it: one boot per LSM).

One plain python process (no pytest: its import costs seconds under TCG) runs the same
containers under runc (the host's 1.1.5, seen in the guest) and pyrunc and prints one
line per check:

    CHECK <name>: ok
    CHECK <name>: FAIL <reason>

and `SEEN <name> <text>` lines with what the containers printed. It exits 0 only if
every check passed.

    python3 -S lsm_checks.py apparmor|selinux ROOTFS BASE_CONFIG

ROOTFS: a busybox rootfs (harness.make_rootfs), BASE_CONFIG: harness.base_config() as
JSON, both made on the host. Every container mounts two tmpfs, /denied and /allowed,
and its shell prints /proc/self/attr/current, whether a write to each succeeds, and
its mountinfo.

AppArmor: securityfs is mounted and two profiles loaded with apparmor_parser:
pyrt-deny (everything but writes under /denied) and pyrt-allow (everything). The
init runs under pyrt-deny; an exec without --apparmor gets the container's profile,
one with --apparmor pyrt-allow that one; an exec of a process file without a profile
gets the container's under pyrunc, none under runc 1.1.5 (it keeps no profile in its
container config: a confinement escape pyrunc does not copy); a profile that is not
loaded fails create, and an exec (with runc's error for each).
Podman (Debian's 4.3, in a store of its own, cgroupfs manager, events in a file) runs
the rootfs as an image with --runtime runc, then pyrunc: it loads its default profile
(containers-default-<version>) itself, the init and an exec run under it in enforce
mode and it denies reading /proc/kcore and a mount (even with CAP_SYS_ADMIN), which
--security-opt apparmor=unconfined allows; apparmor=pyrt-deny gives that profile; stop
and rm leave no container, runtime state, cgroup, mount or process.
SELinux: selinuxfs is mounted and Debian's default policy loaded (permissive); the
init runs with LABEL and the mounts get MOUNT_LABEL (tmpfs, devpts, masked
directories), not proc, sysfs, mqueue or cgroup2; the session keyring is made with
LABEL (the keycreate attribute) and execs join it; exec inherits the label (also from a
process file without one) or takes --process-label; runc labels the mqueue mount's root
directory with the mount label through its xattr, and pyrunc must agree.
"""
import json
import os
import subprocess
import sys
import time

PYRUNC = os.environ.get("PYRUNC", "/opt/pyrunc/bin/pyrunc")
RUNC = "/usr/sbin/runc"
WORK = "/tmp/pyrunc-lsm"
STEP_TIMEOUT = 60
# every step together; the host allows more for the boot itself (test_guest_lsm.BOOT_TIMEOUT)
BUDGET = {"apparmor": 420, "selinux": 150}     # apparmor: podman takes 60-200 s of it
_end = [time.monotonic() + BUDGET["selinux"]]

LABEL = "system_u:system_r:svirt_t:s0:c1,c2"
LABEL2 = "system_u:system_r:svirt_t:s0:c3,c4"
MOUNT_LABEL = "system_u:object_r:svirt_tmpfs_t:s0:c1,c2"

PROFILES = """
profile pyrt-deny flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  signal,
  ptrace,
  unix,
  mount,
  umount,
  pivot_root,
  deny /denied/** wl,
}
profile pyrt-allow flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  signal,
  ptrace,
  unix,
  mount,
  umount,
  pivot_root,
}
"""

SCRIPT = ("echo current=$(cat /proc/self/attr/current | tr -d '\\000');"
          "(echo x > /denied/f) 2>/dev/null && echo denied=written || echo denied=refused;"
          "(echo x > /allowed/f) 2>/dev/null && echo allowed=written || echo allowed=refused;"
          "sed 's/^/MI /' /proc/self/mountinfo")

APPARMOR_CHECKS = ["aa_setup", "aa_features", "aa_run_runc", "aa_run_pyrunc", "aa_run_same",
                   "aa_exec_inherits_runc", "aa_exec_inherits_pyrunc", "aa_exec_file_runc",
                   "aa_exec_file_pyrunc", "aa_exec_flag_runc",
                   "aa_exec_flag_pyrunc", "aa_exec_same", "aa_exec_not_loaded_same", "aa_not_loaded_same"]
PODMAN_CHECKS = (["aa_podman_loads_default"]
                 + ["aa_podman_%s_%s" % (what, name) for name in ("runc", "pyrunc")
                    for what in ("run", "unconfined", "named", "exec", "stop_rm")]
                 + ["aa_podman_same"])
APPARMOR_CHECKS += PODMAN_CHECKS
SELINUX_CHECKS = ["se_setup", "se_features", "se_run_runc", "se_run_pyrunc", "se_run_same",
                  "se_mqueue_same", "se_keyring_runc", "se_keyring_pyrunc", "se_keyring_same",
                  "se_exec_inherits_runc", "se_exec_inherits_pyrunc",
                  "se_exec_flag_runc", "se_exec_flag_pyrunc", "se_exec_file_runc", "se_exec_file_pyrunc",
                  "se_exec_same"]
RUNTIMES = (("runc", RUNC), ("pyrunc", PYRUNC))


class Fail(Exception):
    pass


def cmd(argv, timeout=STEP_TIMEOUT, **kw):
    left = _end[0] - time.monotonic()
    if left <= 0:
        raise Fail("the checker's time budget is spent")
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    try:
        return subprocess.run(argv, timeout=min(timeout, left), stdin=subprocess.DEVNULL, text=True, **kw)
    except subprocess.TimeoutExpired:
        raise Fail("timed out: %s" % " ".join(argv)) from None


def ok(r, what):
    if r.returncode != 0:
        raise Fail("%s: exit %d: %s%s" % (what, r.returncode, r.stderr.strip()[-400:], r.stdout.strip()[-200:]))
    return r.stdout


def rt_cmd(name, path, *args):
    return [path, "--root", "/run/pyrunc-lsm-" + name] + list(args)


class Checks:
    def __init__(self, names):
        self.names = names
        self.done = {}

    def check(self, name, fn):
        try:
            fn()
        except Fail as e:
            self.fail(name, str(e))
        except Exception as e:   # a bug here must show as a failed check, not a lost report
            self.fail(name, "%s: %s" % (type(e).__name__, e))
        else:
            self.done[name] = True
            print("CHECK %s: ok" % name, flush=True)

    def fail(self, name, reason):
        self.done[name] = False
        print("CHECK %s: FAIL %s" % (name, " ".join(reason.split())), flush=True)

    def finish(self):
        for n in self.names:
            if n not in self.done:
                self.fail(n, "not run (an earlier step failed)")
        return 0 if all(self.done.get(n) for n in self.names) else 1


def seen(name, text):
    for line in text.splitlines():
        print("SEEN %s %s" % (name, line), flush=True)


def make_bundle(name, rootfs, base, process=None, linux=None, args=None):
    cfg = json.loads(json.dumps(base))
    cfg["root"] = {"path": rootfs, "readonly": True}
    cfg["process"]["args"] = args or ["/bin/sh", "-c", SCRIPT]
    cfg["process"].update(process or {})
    cfg["linux"].update(linux or {})
    for d in ("/denied", "/allowed"):
        cfg["mounts"].append({"destination": d, "type": "tmpfs", "source": "tmpfs",
                              "options": ["nosuid", "nodev", "size=1m"]})
    path = os.path.join(WORK, name)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f)
    return path


def parse(out):
    """What the container's shell printed: {key: value} and {mountpoint: (fstype, super options)}."""
    values, mounts = {}, {}
    for line in out.splitlines():
        if line.startswith("MI "):
            left, _, right = line[3:].partition(" - ")
            fields, rfields = left.split(), right.split()
            mounts[fields[4]] = (rfields[0], rfields[2] if len(rfields) > 2 else "")
        elif "=" in line:
            k, _, v = line.partition("=")
            values[k] = v
    return values, mounts


def run(name, path, bundle, cid):
    return parse(ok(cmd(rt_cmd(name, path, "run", "--bundle", bundle, cid)), "%s run" % name))


def detached(name, path, bundle, cid, execs, script=SCRIPT, refused=()):
    """run -d a sleeping container, exec `script` with each list of flags in it (and each
    of `refused`, which must fail), delete it; the outputs, the label of its mqueue
    mount's root, and each refused exec's exit status and error line from `marker` on."""
    outs, errors = [], []
    # the detached init keeps the stdio it was given: a file, not a pipe run() would wait on
    log = os.path.join(bundle, "stdio.log")
    with open(log, "w") as f:
        r = cmd(rt_cmd(name, path, "run", "-d", "--bundle", bundle, cid), stdout=f, stderr=f)
    if r.returncode != 0:
        with open(log) as f:
            raise Fail("%s run -d: exit %d: %s" % (name, r.returncode, f.read()[-400:]))
    try:
        pid = json.loads(ok(cmd(rt_cmd(name, path, "state", cid)), "%s state" % name))["pid"]
        for flags in execs:
            argv = [] if "-p" in flags else ["/bin/sh", "-c", script]    # -p: the file's args
            outs.append(ok(cmd(rt_cmd(name, path, "exec", *flags, cid, *argv)),
                           "%s exec %s" % (name, " ".join(flags))))
        for flags, marker in refused:
            r = cmd(rt_cmd(name, path, "exec", *flags, cid, "/bin/true"))
            expect(marker in r.stderr, "%s exec %s: exit %d: %s" % (name, " ".join(flags), r.returncode,
                                                                    r.stderr.strip()))
            errors.append((r.returncode, r.stderr[r.stderr.index(marker):].splitlines()[0].rstrip('"').strip()))
        mq = None
        try:
            mq = os.getxattr("/proc/%d/root/dev/mqueue" % pid, "security.selinux").rstrip(b"\0").decode()
        except OSError as e:
            mq = "errno %d" % e.errno
        return outs, mq, errors
    finally:
        cmd(rt_cmd(name, path, "delete", "-f", cid))


def features(lsm):
    doc = json.loads(ok(cmd([PYRUNC, "features"]), "pyrunc features"))
    got = {k: doc["linux"][k]["enabled"] for k in ("apparmor", "selinux")}
    want = {"apparmor": lsm == "apparmor", "selinux": lsm == "selinux"}
    if got != want:
        raise Fail("features say %r, want %r" % (got, want))


def expect(cond, why):
    if not cond:
        raise Fail(why)


# ---------------------------------------------------------------- AppArmor

def apparmor(rootfs, base):
    c = Checks(APPARMOR_CHECKS)
    res = {}

    def setup():
        if not os.path.exists("/sys/kernel/security/apparmor"):
            ok(cmd(["mount", "-t", "securityfs", "securityfs", "/sys/kernel/security"]), "mount securityfs")
        with open("/sys/module/apparmor/parameters/enabled") as f:
            expect(f.read().startswith("Y"), "AppArmor is not enabled")
        prof = os.path.join(WORK, "profiles")
        with open(prof, "w") as f:
            f.write(PROFILES)
        ok(cmd(["apparmor_parser", "-r", "-K", prof], timeout=90), "apparmor_parser")
        with open("/sys/kernel/security/apparmor/profiles") as f:
            loaded = f.read()
        expect("pyrt-deny (enforce)" in loaded and "pyrt-allow (enforce)" in loaded, "not loaded: " + loaded)
    c.check("aa_setup", setup)
    if not c.done.get("aa_setup"):
        return c.finish()
    c.check("aa_features", lambda: features("apparmor"))

    for name, path in RUNTIMES:
        def run_check(name=name, path=path):
            b = make_bundle("aa-run-" + name, rootfs, base, process={"apparmorProfile": "pyrt-deny"})
            values, _ = run(name, path, b, "aa-run")
            res["run", name] = values
            seen("aa_run_" + name, json.dumps(values, sort_keys=True))
            expect(values == {"current": "pyrt-deny (enforce)", "denied": "refused", "allowed": "written"},
                   "init saw %r" % values)
        c.check("aa_run_" + name, run_check)

        def exec_checks(name=name, path=path):
            b = make_bundle("aa-exec-" + name, rootfs, base, process={"apparmorProfile": "pyrt-deny"},
                            args=["/bin/sleep", "60"])
            proc = os.path.join(WORK, "process.json")   # no profile: the container's applies
            with open(proc, "w") as f:
                json.dump({"args": ["/bin/sh", "-c", SCRIPT], "cwd": "/", "env": base["process"]["env"]}, f)
            outs, _, errors = detached(name, path, b, "aa-exec", [[], ["--apparmor", "pyrt-allow"], ["-p", proc]],
                                       refused=[(["--apparmor", "pyrt-missing"], "apparmor failed to apply profile")])
            res["exec", name] = [parse(o)[0] for o in outs]
            res["exec_missing", name] = errors[0]
            seen("aa_exec_" + name, json.dumps(res["exec", name], sort_keys=True))
            seen("aa_exec_missing_" + name, json.dumps(errors[0]))
        try:
            exec_checks()
        except Exception as e:
            res["exec", name] = e
        for check, i, want in (("inherits", 0, {"current": "pyrt-deny (enforce)", "denied": "refused",
                                                  "allowed": "written"}),
                               ("flag", 1, {"current": "pyrt-allow (enforce)", "denied": "written",
                                            "allowed": "written"}),
                               # a process file without a profile: runc 1.1.5 keeps no profile
                               # in its container config, so its exec runs unconfined; pyrunc
                               # gives it the container's (an exec must not escape confinement)
                               ("file", 2, {"current": "unconfined" if name == "runc" else "pyrt-deny (enforce)",
                                            "denied": "written" if name == "runc" else "refused",
                                            "allowed": "written"})):
            def exec_check(name=name, i=i, want=want):
                got = res["exec", name]
                if isinstance(got, Exception):
                    raise Fail(str(got))
                expect(got[i] == want, "exec saw %r, want %r" % (got[i], want))
            c.check("aa_exec_%s_%s" % (check, name), exec_check)

    c.check("aa_run_same", lambda: expect(res.get(("run", "runc")) == res.get(("run", "pyrunc")),
                                          "runc %r, pyrunc %r" % (res.get(("run", "runc")),
                                                                  res.get(("run", "pyrunc")))))
    c.check("aa_exec_same", lambda: expect(res["exec", "runc"][:2] == res["exec", "pyrunc"][:2],
                                           "runc %r, pyrunc %r" % (res["exec", "runc"], res["exec", "pyrunc"])))

    def exec_not_loaded():
        # runc's exec exits 255 and does not prefix the error as its init does; pyrunc
        # names its thread's attribute
        got = {name: res.get(("exec_missing", name)) for name, _ in RUNTIMES}
        expect(None not in got.values(), "not run: %r" % got)
        (rc, msg), (py_rc, py_msg) = got["runc"], got["pyrunc"]
        expect(rc == 255 and msg.endswith("no such file or directory"), repr(got))
        expect((py_rc, py_msg) == (rc, msg.replace("/proc/self/", "/proc/thread-self/")), repr(got))
    c.check("aa_exec_not_loaded_same", exec_not_loaded)

    def not_loaded():
        msgs = {}
        for name, path in RUNTIMES:
            b = make_bundle("aa-missing-" + name, rootfs, base, process={"apparmorProfile": "pyrt-missing"})
            r = cmd(rt_cmd(name, path, "create", "--bundle", b, "aa-missing"))
            cmd(rt_cmd(name, path, "delete", "-f", "aa-missing"))
            expect(r.returncode == 1, "%s create: exit %d" % (name, r.returncode))
            marker = "unable to apply apparmor profile: "
            expect(marker in r.stderr, "%s: %s" % (name, r.stderr))
            msgs[name] = r.stderr[r.stderr.index(marker):].splitlines()[0].rstrip('"').strip()
            left = cmd(rt_cmd(name, path, "list", "-q")).stdout.split()
            expect(left == [], "%s left %r" % (name, left))
        seen("aa_not_loaded", json.dumps(msgs))
        expect(msgs["runc"].endswith("no such file or directory"), msgs["runc"])
        expect(msgs["pyrunc"] == msgs["runc"].replace("/proc/self/", "/proc/thread-self/"), repr(msgs))
    c.check("aa_not_loaded_same", not_loaded)
    podman_checks(c, rootfs)
    return c.finish()


# ---------------------------------------------------------------- Podman under AppArmor

PODMAN_WORK = "/tmp/pyrt-podman"     # podman refuses a runroot longer than 50 characters
IMAGE = "localhost/pyrt-busybox:latest"
PODMAN_OPTS = ["--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096",
               "--cgroup-parent", "/pyrt-podman"]
DEFAULT_PREFIX = "containers-default-"
# what the container saw: its label (both files), and whether the default profile's
# `deny @{PROC}/kcore rwklx` and `deny mount` stopped it (CAP_SYS_ADMIN is added so that
# only AppArmor can refuse the mount; podman's masked /proc/kcore is /dev/null to read)
PODMAN_SCRIPT = ("echo current=$(cat /proc/self/attr/current | tr -d '\\000');"
                 "echo aa_current=$(cat /proc/self/attr/apparmor/current | tr -d '\\000');"
                 "cat /proc/kcore >/dev/null 2>&1 && echo kcore=read || echo kcore=refused;"
                 "mkdir -p /tmp/m; mount -t tmpfs t /tmp/m 2>/dev/null && echo mount=done || echo mount=refused")


def podman_argv(path, *args):
    return ["podman", "--root", PODMAN_WORK + "/storage", "--runroot", PODMAN_WORK + "/run",
            "--tmpdir", PODMAN_WORK + "/tmp", "--network-config-dir", PODMAN_WORK + "/net",
            "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--runtime", path] + list(args)


def podman(path, *args):
    return ok(cmd(podman_argv(path, *args), timeout=90), "podman " + " ".join(args[:2]))


def podman_run(path, opts, script=PODMAN_SCRIPT):
    """`podman run --rm` with CAP_SYS_ADMIN added: what its shell printed, as {key: value}."""
    return parse(podman(path, "run", "--rm", *PODMAN_OPTS, "--cap-add", "SYS_ADMIN", *opts, IMAGE,
                        "/bin/sh", "-c", script))[0]


def loaded_profiles():
    with open("/sys/kernel/security/apparmor/profiles") as f:
        return dict(line.rsplit(" ", 1) for line in f.read().splitlines())


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f if line.split()[4].startswith(path + "/")}


def procs_naming(text):
    """Pids whose command line names `text` (conmon's names the container id)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def settled(pids_of, timeout=15):
    """The pids `pids_of()` names once none is left, or after `timeout` s those still there:
    conmon and the `podman container cleanup` it starts may end just after `rm` returns."""
    end = time.monotonic() + timeout
    while True:
        pids = pids_of()
        if not pids or time.monotonic() > end:
            return pids
        time.sleep(0.2)


def exec_and_remove(name, path):
    """run -d (CAP_SYS_ADMIN added), exec PODMAN_SCRIPT in it, read the init's label, then
    stop and rm: what the exec saw, and what was left after rm."""
    mounts = mounts_under(PODMAN_WORK)
    cid = podman(path, "run", "-d", "--name", "pyrt-" + name, *PODMAN_OPTS, "--cap-add", "SYS_ADMIN",
                 IMAGE, "/bin/sleep", "600").strip().splitlines()[-1]
    state = os.path.join("/run", name, cid)        # the runtime's state: it was the one podman ran
    removed = False
    try:
        pid = json.loads(podman(path, "inspect", cid))[0]["State"]["Pid"]
        with open("/proc/%d/cgroup" % pid) as f:
            cgroup = "/sys/fs/cgroup" + f.read().strip().split(":", 2)[2]
        seen_exec = parse(podman(path, "exec", "pyrt-" + name, "/bin/sh", "-c", PODMAN_SCRIPT))[0]
        with open("/proc/%d/attr/current" % pid) as f:
            seen_exec["init"] = f.read().rstrip("\0\n")
        seen_exec["running"] = [os.path.isdir(state), os.path.isdir(cgroup)]
        podman(path, "stop", "-t", "1", cid)
        podman(path, "rm", cid)
        removed = True
    finally:
        if not removed:                            # a failure half-way
            cmd(podman_argv(path, "rm", "-f", "-t", "0", cid))
    procs = settled(lambda: procs_naming(cid))     # first: the cleanup may still be unmounting
    left = {"containers": podman(path, "ps", "-a", "-q").split(), "state": os.path.exists(state),
            "cgroup": os.path.exists(cgroup), "mounts": sorted(mounts_under(PODMAN_WORK) - mounts),
            "processes": procs}
    return seen_exec, left


def podman_checks(c, rootfs):
    res = {}
    for d in ("storage", "run", "tmp", "net"):
        os.makedirs(os.path.join(PODMAN_WORK, d), exist_ok=True)

    def loads_default():
        before = [p for p in loaded_profiles() if p.startswith(DEFAULT_PREFIX)]
        expect(before == [], "loaded before podman ran: %r" % before)
        tarball = os.path.join(WORK, "image-root.tar")
        ok(cmd(["tar", "--numeric-owner", "-C", rootfs, "-cf", tarball, "."]), "tar the rootfs")
        podman(RUNC, "import", tarball, IMAGE)
        res["run", "runc"] = podman_run(RUNC, [])      # podman loads its profile for the first container
        loaded = {p: mode for p, mode in loaded_profiles().items() if p.startswith(DEFAULT_PREFIX)}
        seen("aa_podman_loads_default", json.dumps(loaded))
        expect(len(loaded) == 1 and list(loaded.values()) == ["(enforce)"], "after a run: %r" % loaded)
        res["default"] = "%s (enforce)" % list(loaded)[0]
    c.check("aa_podman_loads_default", loads_default)
    if not c.done.get("aa_podman_loads_default"):
        return
    default = res["default"]
    confined = {"current": default, "aa_current": default, "kcore": "refused", "mount": "refused"}
    tmpfs = ["--mount", "type=tmpfs,destination=/denied", "--mount", "type=tmpfs,destination=/allowed"]
    wants = {
        "run": ([], PODMAN_SCRIPT, confined),
        # what the default profile refused, allowed without it: the refusals were its
        "unconfined": (["--security-opt", "apparmor=unconfined"], PODMAN_SCRIPT,
                       {"current": "unconfined", "aa_current": "unconfined", "kcore": "read", "mount": "done"}),
        "named": (["--security-opt", "apparmor=pyrt-deny"] + tmpfs, SCRIPT,
                  {"current": "pyrt-deny (enforce)", "denied": "refused", "allowed": "written"}),
    }
    for name, path in RUNTIMES:
        for what, (opts, script, want) in wants.items():
            def run_check(name=name, path=path, what=what, opts=opts, script=script, want=want):
                if (what, name) not in res:
                    res[what, name] = podman_run(path, opts, script)
                got = res[what, name]
                seen("aa_podman_%s_%s" % (what, name), json.dumps(got, sort_keys=True))
                expect(got == want, "saw %r, want %r" % (got, want))
            c.check("aa_podman_%s_%s" % (what, name), run_check)
        try:
            res["exec", name], res["left", name] = exec_and_remove(name, path)
        except Exception as e:
            res["exec", name] = res["left", name] = e
        for what, want in (("exec", dict(confined, init=default, running=[True, True])),
                           ("stop_rm", {"containers": [], "state": False, "cgroup": False, "mounts": [],
                                        "processes": []})):
            def after_check(name=name, what=what, want=want):
                got = res["exec" if what == "exec" else "left", name]
                if isinstance(got, Exception):
                    raise Fail(str(got))
                seen("aa_podman_%s_%s" % (what, name), json.dumps(got, sort_keys=True))
                expect(got == want, "saw %r, want %r" % (got, want))
            c.check("aa_podman_%s_%s" % (what, name), after_check)

    def same():
        for what in ("run", "unconfined", "named", "exec"):
            got = {name: res.get((what, name)) for name, _ in RUNTIMES}
            expect(got["runc"] == got["pyrunc"], "%s: runc %r, pyrunc %r" % (what, got["runc"], got["pyrunc"]))
    c.check("aa_podman_same", same)


# ---------------------------------------------------------------- SELinux

LABELLED = ("/dev", "/dev/shm", "/dev/pts", "/allowed", "/denied", "/sys/firmware", "/proc/acpi")  # masked dirs last
UNLABELLED = ("/proc", "/sys", "/dev/mqueue", "/sys/fs/cgroup")
# the session keyring's label (KEYCTL_GET_SECURITY): the init's keycreate label made it
KEY_SCRIPT = ";/probe keyring | sed -n 's/^session.label: /keylabel=/p'"


def selinux(rootfs, base):
    c = Checks(SELINUX_CHECKS)
    res = {}

    def setup():
        if not os.path.exists("/sys/fs/selinux/enforce"):
            ok(cmd(["mount", "-t", "selinuxfs", "selinuxfs", "/sys/fs/selinux"]), "mount selinuxfs")
        ok(cmd(["load_policy"], timeout=90), "load_policy")
        with open("/sys/fs/selinux/enforce") as f:
            expect(f.read().strip() == "0", "not permissive")
        with open("/proc/self/attr/current") as f:
            cur = f.read().rstrip("\0\n")
        expect(cur != "kernel", "no policy: current label %r" % cur)
    c.check("se_setup", setup)
    if not c.done.get("se_setup"):
        return c.finish()
    c.check("se_features", lambda: features("selinux"))
    ctx = 'context="%s"' % MOUNT_LABEL

    for name, path in RUNTIMES:
        def run_check(name=name, path=path):
            b = make_bundle("se-run-" + name, rootfs, base, process={"selinuxLabel": LABEL},
                            linux={"mountLabel": MOUNT_LABEL}, args=["/bin/sh", "-c", SCRIPT + KEY_SCRIPT])
            values, mounts = run(name, path, b, "se-run-" + name)   # a keyring _ses.ID of its own
            mine = {m: mounts.get(m) for m in LABELLED + UNLABELLED}
            res["run", name] = (values["current"], mine)
            res["keyring", name] = [values.get("keylabel")]
            seen("se_run_" + name, json.dumps(res["run", name], sort_keys=True))
            expect(values["current"] == LABEL, "init label %r" % values["current"])
            for m in LABELLED:
                expect(mine[m] and "," + ctx + "," in "," + mine[m][1] + ",", "%s: %r" % (m, mine[m]))
            for m in UNLABELLED:
                expect(mine[m] and "context=" not in mine[m][1], "%s: %r" % (m, mine[m]))
        c.check("se_run_" + name, run_check)

        def exec_checks(name=name, path=path):
            b = make_bundle("se-exec-" + name, rootfs, base, process={"selinuxLabel": LABEL},
                            linux={"mountLabel": MOUNT_LABEL}, args=["/bin/sleep", "60"])
            proc = os.path.join(WORK, "process.json")   # no label: the container's applies
            with open(proc, "w") as f:
                json.dump({"args": ["/bin/sh", "-c", SCRIPT + KEY_SCRIPT], "cwd": "/",
                           "env": base["process"]["env"]}, f)
            outs, mq, _ = detached(name, path, b, "se-exec-" + name, [[], ["--process-label", LABEL2], ["-p", proc]],
                                   script=SCRIPT + KEY_SCRIPT)
            res["exec", name] = [parse(o)[0]["current"] for o in outs]
            # an exec joins the init's keyring (_ses.ID): the label it was made with
            res["exec_keyring", name] = [parse(o)[0].get("keylabel") for o in outs]
            res["mqueue", name] = mq
            seen("se_exec_" + name, json.dumps(res["exec", name]))
            seen("se_mqueue_" + name, mq)
        try:
            exec_checks()
        except Exception as e:
            res["exec", name] = e
        for check, i, want in (("inherits", 0, LABEL), ("flag", 1, LABEL2), ("file", 2, LABEL)):
            def exec_check(name=name, i=i, want=want):
                got = res["exec", name]
                if isinstance(got, Exception):
                    raise Fail(str(got))
                expect(got[i] == want, "exec label %r, want %r" % (got[i], want))
            c.check("se_exec_%s_%s" % (check, name), exec_check)

        def keyring_check(name=name):
            got = res.get(("keyring", name), []) + res.get(("exec_keyring", name), [])
            seen("se_keyring_" + name, json.dumps(got))
            expect(got == [LABEL] * 4, "the session keyring's label seen by the init and 3 execs: %r" % got)
        c.check("se_keyring_" + name, keyring_check)

    c.check("se_run_same", lambda: expect(res.get(("run", "runc")) == res.get(("run", "pyrunc")),
                                          "runc %r, pyrunc %r" % (res.get(("run", "runc")),
                                                                  res.get(("run", "pyrunc")))))
    c.check("se_exec_same", lambda: expect(res["exec", "runc"] == res["exec", "pyrunc"],
                                           "runc %r, pyrunc %r" % (res["exec", "runc"], res["exec", "pyrunc"])))
    def keyring_same():
        got = {name: [res.get(("keyring", name)), res.get(("exec_keyring", name))] for name, _ in RUNTIMES}
        expect(got["runc"] == got["pyrunc"], "runc %r, pyrunc %r" % (got["runc"], got["pyrunc"]))
    c.check("se_keyring_same", keyring_same)
    c.check("se_mqueue_same", lambda: expect(res.get(("mqueue", "runc")) == res.get(("mqueue", "pyrunc")),
                                             "runc %r, pyrunc %r" % (res.get(("mqueue", "runc")),
                                                                     res.get(("mqueue", "pyrunc")))))
    return c.finish()


def main(argv):
    lsm, rootfs, base_path = argv
    with open(base_path) as f:
        base = json.load(f)
    os.makedirs(WORK, exist_ok=True)
    _end[0] = time.monotonic() + BUDGET[lsm]
    return {"apparmor": apparmor, "selinux": selinux}[lsm](rootfs, base)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
