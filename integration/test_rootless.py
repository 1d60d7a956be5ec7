"""Rootless: pyrunc run by an unprivileged user, next to runc 1.1.5 run by the same user.

The suite makes the user itself (`pyrunc-rl`, with /etc/subuid and /etc/subgid ranges,
and `pyrunc-rl-nosub`, a system user without any), reusing them when they exist and
removing what it made at the end. Each command runs as the user through setpriv with a
clean environment: PATH, HOME and an XDG_RUNTIME_DIR the test makes and the user owns,
so both runtimes keep their state under their default roots there
($XDG_RUNTIME_DIR/runc and $XDG_RUNTIME_DIR/pyrunc). Bundles come from each runtime's
own `spec --rootless`, run by the user. Cgroups are whatever this host gives such a
user: the expectations that depend on them are runc's answer on this host.
"""
import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

import harness
from test_faults import show
from test_namespaces import create_refused

pytestmark = pytest.mark.integration

USER = "pyrunc-rl"
NOSUB = "pyrunc-rl-nosub"
SLEEP = ["/probe", "sleep", "600"]
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def subids(path, name, uid):
    """[(start, count)] of `path` for the user, by name or uid, as shadow reads it."""
    out = []
    for line in Path(path).read_text().splitlines() if Path(path).exists() else ():
        f = line.strip().split(":")
        if len(f) == 3 and f[0] in (name, str(uid)):
            out.append((int(f[1]), int(f[2])))
    return out


def _free_start(path):
    ends = [100000]
    for line in Path(path).read_text().splitlines() if Path(path).exists() else ():
        f = line.strip().split(":")
        if len(f) == 3 and f[1].isdigit() and f[2].isdigit():
            ends.append(int(f[1]) + int(f[2]))
    return max(ends)


class SessionUser:
    """A user made (or reused) for the session; undo() removes what was made."""

    def __init__(self, name, with_subids):
        self.name = name
        self.made = False
        self.added = []
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            # a system user (-r) gets no subordinate ids from useradd
            cmd = ["useradd", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin"] + ([] if with_subids else ["-r"])
            r = subprocess.run(cmd + [name], capture_output=True, text=True)
            if r.returncode != 0:
                raise harness.HarnessError(f"useradd {name}: {r.stderr}")
            self.made = True
            pw = pwd.getpwnam(name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        for f in ("/etc/subuid", "/etc/subgid"):
            have = subids(f, name, self.uid)
            if with_subids and not have:
                line = f"{name}:{_free_start(f)}:65536\n"
                with open(f, "a") as fh:
                    fh.write(line)
                self.added.append((f, line))
            elif not with_subids and have:
                raise harness.HarnessError(f"{name} has ranges in {f}; the test needs a user without any")
        self.subuid = subids("/etc/subuid", name, self.uid)
        self.subgid = subids("/etc/subgid", name, self.uid)

    def undo(self):
        for f, line in self.added:
            text = Path(f).read_text()
            if line in text:
                Path(f).write_text(text.replace(line, "", 1))
        if self.made:
            subprocess.run(["userdel", self.name], capture_output=True)


@pytest.fixture(scope="module")
def users():
    made = []
    try:
        made.append(SessionUser(USER, True))
        made.append(SessionUser(NOSUB, False))
        yield {u.name: u for u in made}
    finally:
        for u in made:
            u.undo()


@pytest.fixture
def home(users):
    """A directory the user owns (0700): its bundles, HOME and XDG_RUNTIME_DIR."""
    d = Path(tempfile.mkdtemp(prefix="pyrt-rl-", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


class UserRuntime(harness.Runtime):
    """A runtime run by `user` through setpriv, with its default --root under the
    XDG_RUNTIME_DIR the test made; `path` replaces PATH, `flags` are global flags."""

    def __init__(self, name, user, home, path=PATH, flags=()):
        self.user = user
        self.home = Path(home)
        self.xdg = self.home / "xdg"
        for d in (self.home, self.xdg):
            d.mkdir(exist_ok=True, mode=0o700)
            os.chown(d, user.uid, user.gid)
        self.path = path
        self.flags = list(flags)
        self.name = name
        self.binary = harness._runtime_binary(name)
        self.workdir = self.home
        self.root = self.xdg / name
        self.iodir = self.home / f"io-{name}-{user.name}"
        self.iodir.mkdir(exist_ok=True)
        self.log = None
        self.log_format = None
        harness.Runtime.registry.append(self)

    def global_flags(self):
        return list(self.flags)

    def wrap(self, argv):
        return ["setpriv", "--reuid", str(self.user.uid), "--regid", str(self.user.gid), "--init-groups",
                "env", "-i", f"PATH={self.path}", f"HOME={self.home}", f"XDG_RUNTIME_DIR={self.xdg}",
                f"USER={self.user.name}", *argv]


@pytest.fixture
def as_user(users, home):
    """as_user(name, user=USER, **kw): a UserRuntime for runc or pyrunc."""
    def make(name, user=USER, **kw):
        return UserRuntime(name, users[user], home, **kw)
    return make


def rootless_bundle(rt, args, edit=None):
    """`<runtime> spec --rootless` run by the user, then the probe's rootfs and `args`."""
    d = Path(tempfile.mkdtemp(prefix=f"bundle-{rt.name}-", dir=rt.home))
    os.chown(d, rt.user.uid, rt.user.gid)
    r = rt.cmd("spec", "--rootless", cwd=d)
    assert r.returncode == 0, show(r)
    cfg = json.loads((d / "config.json").read_text())
    cfg["process"].update(terminal=False, args=args)
    if edit:
        cfg = edit(cfg) or cfg
    (d / "config.json").unlink()
    return harness.make_bundle(d, edit=lambda _: cfg)


def both(as_user, args, edit=None, **kw):
    """(runc, pyrunc) UserRuntimes and a spec --rootless bundle for each."""
    rts = [as_user("runc", **kw), as_user("pyrunc", **kw)]
    return [(rt, rootless_bundle(rt, args, edit)) for rt in rts]


def run_both(as_user, args, edit=None):
    out = {}
    for rt, bundle in both(as_user, args, edit):
        cid = harness.new_id("rl")
        r = rt.run(cid, bundle)
        assert r.returncode == 0, f"{rt.name}: {show(r)}"
        assert cid not in rt.containers()
        out[rt.name] = r.stdout
    assert out["pyrunc"] == out["runc"], f"runc:\n{out['runc']}\npyrunc:\n{out['pyrunc']}"
    return out["pyrunc"]


def self_and_sub(user):
    start = user.subuid[0][0]
    gstart = user.subgid[0][0]
    return ([{"containerID": 0, "hostID": user.uid, "size": 1}, {"containerID": 1, "hostID": start, "size": 65536}],
            [{"containerID": 0, "hostID": user.gid, "size": 1}, {"containerID": 1, "hostID": gstart, "size": 65536}])


# ---- spec and the default root ----

def test_spec_rootless_is_runcs(as_user, users):
    cfgs = {}
    for name in ("runc", "pyrunc"):
        rt = as_user(name)
        d = Path(tempfile.mkdtemp(prefix="spec-", dir=rt.home))
        os.chown(d, rt.user.uid, rt.user.gid)
        r = rt.cmd("spec", "--rootless", cwd=d)
        assert r.returncode == 0, show(r)
        text = (d / "config.json").read_text()
        cfgs[name] = json.loads(text)
        assert text.startswith('{\n\t"ociVersion"')  # runc's tab indent
    for c in cfgs.values():
        c.pop("ociVersion")
    assert cfgs["pyrunc"] == cfgs["runc"]
    u = users[USER]
    assert cfgs["pyrunc"]["linux"]["uidMappings"] == [{"containerID": 0, "hostID": u.uid, "size": 1}]
    assert cfgs["pyrunc"]["linux"]["gidMappings"] == [{"containerID": 0, "hostID": u.gid, "size": 1}]


def test_default_root_is_under_xdg_runtime_dir_as_runc(as_user, users):
    u = users[USER]
    for rt, bundle in both(as_user, ["/probe", "exit", "0"]):
        assert rt.run(harness.new_id("rl"), bundle).returncode == 0
        st = os.stat(rt.root)
        assert (st.st_uid, st.st_gid) == (u.uid, u.gid)
        assert stat.S_IMODE(st.st_mode) == 0o1700, f"{rt.name}: {oct(st.st_mode)}"  # sticky: XDG keeps it
    assert not os.path.exists("/run/pyrunc/" + USER)


# ---- what the process sees ----

def test_run_ids_maps_and_capabilities_as_runc(as_user, users):
    script = ("/probe report ids caps; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; "
              "cat /proc/self/cgroup; stat -c '%n %u:%g' / /probe /proc; hostname")
    out = run_both(as_user, ["sh", "-c", script])
    u = users[USER]
    rep = harness.parse_report(out)
    assert (rep["uid"], rep["euid"], rep["gid"]) == ("0", "0", "0")
    lines = [l.split() for l in out.splitlines()]
    assert ["0", str(u.uid), "1"] in lines and ["0", str(u.gid), "1"] in lines
    assert ["deny"] in lines  # the kernel's rule for an unprivileged gid_map writer
    # our own cgroup: a user cannot make cgroups on this host, or it could (runc agrees)
    assert f"/proc 65534:65534" in out  # the host's proc root belongs to ids not mapped here


def test_full_probe_report_as_runc(as_user):
    run_both(as_user, ["/probe", "report"])


def test_multi_range_map_through_newuidmap_as_runc(as_user, users):
    u = users[USER]
    uids, gids = self_and_sub(u)

    def edit(cfg):
        cfg["linux"]["uidMappings"], cfg["linux"]["gidMappings"] = uids, gids
        cfg["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]})
        cfg["process"]["user"] = {"uid": 1000, "gid": 1000}  # ids of the subordinate ranges
    script = ("cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id; "
              "touch /tmp/a && stat -c '%n %u:%g' /tmp/a; /probe report ids")
    out = run_both(as_user, ["sh", "-c", script], edit)
    lines = [l.split() for l in out.splitlines()]
    assert lines[:4] == [["0", str(u.uid), "1"], ["1", str(uids[1]["hostID"]), "65536"],
                         ["0", str(u.gid), "1"], ["1", str(gids[1]["hostID"]), "65536"]]
    assert "/tmp/a 1000:1000" in out  # a subordinate id, usable inside


def test_lifecycle_as_the_user(as_user, users):
    """create, state, start, exec, kill, delete by the user that made the container."""
    u = users[USER]
    script = "cat /proc/self/uid_map; id; readlink /proc/1/exe"
    execs = {}
    for rt, bundle in both(as_user, SLEEP):
        cid = harness.new_id("rl")
        assert rt.create(cid, bundle).returncode == 0
        try:
            st = rt.state(cid)
            assert st["status"] == "created"
            harness.reap_later(st["pid"])
            assert os.stat(f"/proc/{st['pid']}").st_uid == u.uid  # the container's root is the user
            assert os.stat(rt.root / cid).st_uid == u.uid
            assert rt.start(cid).returncode == 0
            assert rt.state(cid)["status"] == "running"
            e = rt.cmd("exec", cid, "sh", "-c", script)
            assert e.returncode == 0, show(e)
            execs[rt.name] = e.stdout
            ps = rt.cmd("ps", cid)
            if not harness._cgroups({cid}):  # no cgroup the user could make: runc fails, so do we
                assert ps.returncode == 1 and "unable to get all container pids" in ps.stderr, show(ps)
            else:
                assert ps.returncode == 0 and "sleep" in ps.stdout, show(ps)
            assert rt.kill(cid, "KILL").returncode == 0
            rt.wait_status(cid, "stopped")
            assert rt.delete(cid).returncode == 0
            assert cid not in rt.containers()
        finally:
            if cid in rt.containers():
                rt.delete(cid, force=True)
    assert execs["pyrunc"] == execs["runc"]
    assert execs["pyrunc"].split()[:3] == ["0", str(u.uid), "1"]


def test_exec_in_a_multi_range_container_as_runc(as_user, users):
    uids, gids = self_and_sub(users[USER])

    def edit(cfg):
        cfg["linux"]["uidMappings"], cfg["linux"]["gidMappings"] = uids, gids
    execs = {}
    for rt, bundle in both(as_user, SLEEP, edit):
        cid = harness.new_id("rl")
        assert rt.create(cid, bundle).returncode == 0
        try:
            harness.reap_later(rt.state(cid)["pid"])
            assert rt.start(cid).returncode == 0
            e = rt.cmd("exec", "--user", "1000:1000", cid, "sh", "-c", "id; cat /proc/self/uid_map")
            assert e.returncode == 0, show(e)
            execs[rt.name] = e.stdout
            assert rt.delete(cid, force=True).returncode == 0
        finally:
            if cid in rt.containers():
                rt.delete(cid, force=True)
    assert execs["pyrunc"] == execs["runc"]
    assert execs["pyrunc"].startswith("uid=1000")


def test_cgroup_limit_as_runc_on_this_host(as_user):
    """A memory limit without cgroupsPath: the rootless manager's answer, which on a host
    whose cgroups the user cannot write is runc's one-line refusal."""
    def edit(cfg):
        cfg["linux"]["resources"] = {"memory": {"limit": 64 << 20}}
    (runc, rb), (pyrunc, pb) = both(as_user, ["/probe", "exit", "0"], edit)
    r = runc.run(harness.new_id("rl"), rb)
    if r.returncode == 0:
        p = pyrunc.run(harness.new_id("rl"), pb)
        assert p.returncode == 0, show(p)
    else:
        assert "cannot set memory limit: container could not join or create cgroup" in r.stderr, show(r)
        create_refused(pyrunc, pb, "cannot set memory limit: container could not join or create cgroup")


def test_device_rules_are_best_effort_as_runc(as_user):
    def edit(cfg):
        cfg["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    run_both(as_user, ["/probe", "report", "ids"], edit)


def test_detached_with_console_socket_and_pid_file_as_runc(as_user, users):
    """run -d --console-socket --pid-file by the user: the pty master reaches the user's
    socket, the pid file is the user's, the process has the pty as its terminal."""
    from test_process import ConsoleReceiver

    u = users[USER]
    seen = {}
    for rt, bundle in both(as_user, ["/probe", "report", "tty", "ids"], lambda c: c["process"].update(terminal=True)):
        cid = harness.new_id("rl")
        sock_dir = rt.home / f"console-{rt.name}"
        sock_dir.mkdir()
        os.chown(sock_dir, u.uid, u.gid)
        recv = ConsoleReceiver(sock_dir / "sock")
        os.chown(recv.path, u.uid, u.gid)
        pid_file = sock_dir / "pid"
        try:
            r = rt.run(cid, bundle, "-d", "--console-socket", recv.path, "--pid-file", pid_file)
            assert r.returncode == 0, f"{rt.name}: {show(r)}"
            assert recv.got_fd.wait(5), f"{rt.name}: no pty master on the console socket"
            assert os.stat(pid_file).st_uid == u.uid
            harness.reap_later(int(pid_file.read_text()))
            seen[rt.name] = recv.text()
            rt.wait_status(cid, "stopped")
            assert rt.delete(cid).returncode == 0
        finally:
            recv.stop.set()
            if cid in rt.containers():
                rt.delete(cid, force=True)
    assert seen["pyrunc"] == seen["runc"], f"runc:\n{seen['runc']}\npyrunc:\n{seen['pyrunc']}"
    assert "ctty: yes" in seen["pyrunc"]


def _hard_nofile():
    import resource

    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


@pytest.mark.parametrize("edit,needle", [
    (lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_NOFILE", "soft": 1024,
                                             "hard": _hard_nofile() + 1}]), "operation not permitted"),
    (lambda c: c["process"].update(oomScoreAdj=-1), "permission denied"),
], ids=["raise-hard-rlimit", "lower-oom-score-adj"])
def test_what_the_user_cannot_raise_fails_as_runc(as_user, edit, needle):
    """A hard rlimit above the user's or an oom_score_adj below it need CAP_SYS_RESOURCE
    in the initial user namespace: runc fails, and so does pyrunc, in one line."""
    (runc, rb), (pyrunc, pb) = both(as_user, SLEEP, edit)
    r = runc.run(harness.new_id("rl"), rb)
    assert r.returncode == 1, show(r)
    create_refused(pyrunc, pb, needle)


def test_seccomp_filter_and_its_cache_under_the_users_root_as_runc(as_user, users):
    def edit(cfg):
        cfg["root"]["readonly"] = False
        cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
    out = run_both(as_user, ["sh", "-c", "mkdir /tmp/x; echo $?; /probe report caps"], edit)
    assert out.startswith("1\n"), out  # mkdir failed: the filter is loaded
    cache = as_user("pyrunc").root / ".seccomp"
    assert cache.is_dir() and cache.stat().st_uid == users[USER].uid


# ---- refused ----

def test_no_user_namespace_refused_as_runc(as_user):
    def edit(cfg):
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "user"]
        del cfg["linux"]["uidMappings"], cfg["linux"]["gidMappings"]
    (runc, rb), (pyrunc, pb) = both(as_user, SLEEP, edit)
    r = runc.run(harness.new_id("rl"), rb)
    assert r.returncode == 1 and "rootless container requires user namespaces" in r.stderr, show(r)
    create_refused(pyrunc, pb, "rootless container requires user namespaces")


def test_additional_groups_refused_as_runc(as_user):
    def edit(cfg):
        cfg["process"]["user"]["additionalGids"] = [0]
    (runc, rb), (pyrunc, pb) = both(as_user, SLEEP, edit)
    cid = harness.new_id("rl")
    r = runc.run(cid, rb)
    assert r.returncode == 1 and "cannot set any additional groups in a rootless container" in r.stderr, show(r)
    create_refused(pyrunc, pb, "cannot set any additional groups in a rootless container")


def test_user_without_subordinate_ids_refused(as_user, users):
    nosub = users[NOSUB]

    def edit(cfg):
        cfg["linux"]["uidMappings"].append({"containerID": 1, "hostID": 100000, "size": 10})
    (runc, rb), (pyrunc, pb) = both(as_user, SLEEP, edit, user=NOSUB)
    assert runc.run(harness.new_id("rl"), rb).returncode == 1
    create_refused(pyrunc, pb, "linux.uidMappings[1]: host ids 100000-100009 are not subordinate ids of user "
                   f"{NOSUB} (uid {nosub.uid}) in /etc/subuid")


def test_range_outside_the_users_subordinate_ids_refused(as_user, users):
    u = users[USER]
    start, count = u.subgid[0]

    def edit(cfg):
        cfg["linux"]["gidMappings"].append({"containerID": 1, "hostID": start + count, "size": 1})
    (runc, rb), (pyrunc, pb) = both(as_user, SLEEP, edit)
    assert runc.run(harness.new_id("rl"), rb).returncode == 1
    create_refused(pyrunc, pb, f"linux.gidMappings[1]: host ids {start + count}-{start + count} are not "
                   "subordinate ids of user")


def test_missing_newuidmap_refused(as_user, users):
    uids, gids = self_and_sub(users[USER])

    def edit(cfg):
        cfg["linux"]["uidMappings"], cfg["linux"]["gidMappings"] = uids, gids
    empty = Path(tempfile.mkdtemp(prefix="nopath-", dir="/tmp"))
    try:
        os.chmod(empty, 0o755)
        pyrunc = as_user("pyrunc")
        bundle = rootless_bundle(pyrunc, SLEEP, edit)
        pyrunc.path = str(empty)
        create_refused(pyrunc, bundle, "linux.uidMappings: an unprivileged user needs newuidmap")
    finally:
        shutil.rmtree(empty)


def test_overlapping_ranges_refused(as_user, users):
    u = users[USER]
    start = u.subuid[0][0]

    def edit(cfg):
        cfg["linux"]["uidMappings"] += [{"containerID": 1, "hostID": start, "size": 10},
                                        {"containerID": 5, "hostID": start + 100, "size": 10}]
    (runc, rb), (pyrunc, pb) = both(as_user, SLEEP, edit)
    assert runc.run(harness.new_id("rl"), rb).returncode == 1
    create_refused(pyrunc, pb, "linux.uidMappings[2]: container ids 5-14 overlap linux.uidMappings[1] (1-10)")


def test_rootless_false_makes_cgroups_and_fails_as_runc(as_user):
    """--rootless false: the root manager, whose cgroup mkdir the user may not do here
    (or may: then both run)."""
    (runc, rb), (pyrunc, pb) = both(as_user, ["/probe", "exit", "0"], flags=["--rootless", "false"])
    r = runc.run(harness.new_id("rl"), rb)
    if r.returncode == 0:
        assert pyrunc.run(harness.new_id("rl"), pb).returncode == 0
    else:
        assert "permission denied" in r.stderr, show(r)
        create_refused(pyrunc, pb, "permission denied")


def test_rootless_flag_value_checked_as_runc(as_user):
    (runc, rb), (pyrunc, pb) = both(as_user, SLEEP, flags=["--rootless", "maybe"])
    r = runc.run(harness.new_id("rl"), rb)
    assert r.returncode == 1 and 'strconv.ParseBool: parsing \\"maybe\\": invalid syntax' in r.stderr, show(r)
    create_refused(pyrunc, pb, 'strconv.ParseBool: parsing "maybe": invalid syntax')


# ---- rootless Podman ----
#
# Podman run by the user runs the OCI runtime inside its own user namespace (the user's
# id and its subordinate ranges), where the runtime is "root": no mknod, cgroups it may
# not write, namespaces it shares with the host that its user namespace does not own.
# The user's own store (vfs) under a HOME of the test's, the image imported from a local
# archive as engines/podman.py does; no systemd here: cgroupfs and a file event log.

class UserPodman:
    def __init__(self, user, workdir):
        self.user = user
        self.home = Path(workdir) / "home"
        self.xdg = Path(workdir) / "xdg"
        for d in (Path(workdir), self.home, self.xdg):
            d.mkdir(exist_ok=True, mode=0o700)
            os.chown(d, user.uid, user.gid)

    def __call__(self, *args, runtime=None, timeout=90):
        rt = ["--runtime", runtime] if runtime else []
        argv = ["setpriv", "--reuid", str(self.user.uid), "--regid", str(self.user.gid), "--init-groups",
                "env", "-i", f"PATH={PATH}", f"HOME={self.home}", f"XDG_RUNTIME_DIR={self.xdg}",
                f"USER={self.user.name}", "podman", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                "--storage-driver", "vfs", *rt, *map(str, args)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.home,
                              stdin=subprocess.DEVNULL)

    def pause_pid(self):
        """podman's pause process, which holds its user namespace between commands."""
        try:
            return int((self.xdg / "libpod" / "tmp" / "pause.pid").read_text())
        except (OSError, ValueError):
            return None


@pytest.fixture(scope="module")
def user_podman(users, probe, tmp_path_factory):
    from engines import common

    common.ensure_packages({"podman": "podman", "conmon": "conmon"})
    work = Path(tempfile.mkdtemp(prefix="pyrt-rlpod-", dir="/tmp"))
    p = UserPodman(users[USER], work)
    try:
        tar = common.rootfs_tar(tmp_path_factory.mktemp("rlpod-image"))
        shutil.copy(tar, work / "image.tar")
        os.chown(work / "image.tar", p.user.uid, p.user.gid)
        r = p("import", work / "image.tar", common.IMAGE, timeout=300)
        assert r.returncode == 0, f"podman import as {USER}: {r.stderr}"
        yield p
    finally:
        p("rm", "-a", "-f", "-t", "0")
        p("rmi", "-a", "-f", timeout=120)
        pause = p.pause_pid()
        if pause and harness.proc_stat(pause) and os.stat(f"/proc/{pause}").st_uid == p.user.uid:
            common.kill_pids([pause])  # the one this fixture's podman started, by its pid
        harness.reap()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def settled(no_leaks, user_podman):
    from engines import common

    before = {common.proc_key(p) for p in harness.descendants()}
    yield
    left = common.settle(before)
    assert not left, f"processes left by podman: {left}"


def test_rootless_podman_run_exec_stop_rm_as_runc(user_podman, settled):
    from engines import common

    seen = {}
    for name in ("runc", "pyrunc"):
        binary = harness._runtime_binary(name)
        r = user_podman("run", "--rm", "--network", "none", common.IMAGE, "sh", "-c",
                        "id; cat /proc/self/uid_map /proc/self/gid_map; ls -ln /dev/null; /probe report ids caps",
                        runtime=binary)
        assert r.returncode == 0, f"{name}: podman run: {r.stderr}"
        out = r.stdout
        r = user_podman("run", "-d", "--network", "none", common.IMAGE, "/probe", "sleep", "600", runtime=binary)
        assert r.returncode == 0, f"{name}: podman run -d: {r.stderr}"
        cid = r.stdout.strip()
        try:
            e = user_podman("exec", cid, "sh", "-c", "id; cat /proc/self/uid_map; readlink /proc/1/exe")
            assert e.returncode == 0, f"{name}: podman exec: {e.stderr}"
            out += e.stdout
            assert user_podman("stop", "-t", "0", cid).returncode == 0
            i = user_podman("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", cid)
            out += i.stdout
            assert user_podman("rm", cid).returncode == 0
        finally:
            user_podman("rm", "-f", "-t", "0", cid)
        seen[name] = out
        # the runtime's state went with the container
        root = user_podman.xdg / name
        assert not [d for d in (os.listdir(root) if root.is_dir() else ()) if not d.startswith(".")]
    assert seen["pyrunc"] == seen["runc"], f"runc:\n{seen['runc']}\npyrunc:\n{seen['pyrunc']}"
    u = user_podman.user
    assert ["0", str(u.uid), "1"] == seen["pyrunc"].splitlines()[1].split()
    assert "exited 137" in seen["pyrunc"]



class PinnedUserRuntime(UserRuntime):
    """The user's runtime on CPU 0 only."""

    def wrap(self, argv):
        return ["taskset", "-c", "0", *super().wrap(argv)]


def test_rootless_creates_under_cpu_contention(users, home):
    """The runtime writes the maps as soon as it learns the init's pid; sharing CPU 0 with
    busy loops, the init's first instruction may come later. Every run must still map
    it: /proc/PID/setgroups and newuidmap need the init dumpable from birth."""
    u = users[USER]
    busy = [subprocess.Popen(["taskset", "-c", "0", "sh", "-c", "while :; do :; done"]) for _ in range(2)]
    try:
        for maps in (None, self_and_sub(u)):
            for name in ("runc", "pyrunc"):
                rt = PinnedUserRuntime(name, u, home)
                edit = (lambda c: c["linux"].update(uidMappings=maps[0], gidMappings=maps[1])) if maps else None
                bundle = rootless_bundle(rt, ["/probe", "report", "ids"], edit)
                for i in range(15):
                    r = rt.run(harness.new_id("rl"), bundle)
                    assert r.returncode == 0, f"{name} ({'ranges' if maps else 'self-map'}), run {i}: {show(r)}"
    finally:
        for p in busy:
            p.kill()
        for p in busy:
            p.wait()
