"""Namespaces, hostname/domainname and sysctl, in real containers through `pyrunc`.

Each behaviour runc 1.1.5 has is compared with runc on the same bundle; what runc 1.1.5
lacks (the time namespace) is checked against the value the kernel must show.  The
filesystem side (root, mounts, /dev, masked paths) is in test_rootfs.py.
"""
import ctypes
import itertools
import json
import os
import re
import secrets
import signal
import subprocess
from pathlib import Path

import pytest

import harness

pytestmark = pytest.mark.integration

DEFAULT_NS = [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]
NS_FILES = ("pid", "net", "ipc", "uts", "mnt", "cgroup", "time")


# ---- helpers ----

@pytest.fixture
def both(tmp_path, runc, pyrunc, probe):
    """Run one bundle recipe under runc and pyrunc: both(args, *run_flags, **config fields)."""
    counter = itertools.count()

    def run(args=None, *extra, **fields):
        return harness.side_by_side(lambda d: harness.make_bundle(d, args, **fields), *extra,
                                    workdir=tmp_path / f"sbs-{next(counter)}", runc=runc, pyrunc=pyrunc)
    return run


def ok(sbs):
    for name in ("runc", "pyrunc"):
        r = getattr(sbs, name)
        assert r.returncode == 0, f"{name} exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return sbs.runc.stdout, sbs.pyrunc.stdout


def namespaces(*extra):
    return {"namespaces": DEFAULT_NS + list(extra)}


def one_line_error(r):
    """A failed pyrunc command: exit 1 and exactly one line on stderr; return its message, unquoted."""
    assert r.returncode == 1, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, f"want one line of error, got:\n{r.stderr}"
    m = re.search(r'level=error msg="((?:[^"\\]|\\.)*)"', lines[0])
    assert m, f"not a runc-style error line: {lines[0]}"
    return json.loads('"' + m.group(1) + '"')


def create_refused(pyrunc, bundle, *needles):
    """`pyrunc create` fails with one line naming every needle and leaves nothing behind."""
    cid = harness.new_id("refused")
    procs = {(p.pid, p.start) for p in harness.descendants()}
    r = pyrunc.create(cid, bundle)
    line = one_line_error(r)
    for needle in needles:
        assert needle in line, f"{needle!r} not in the error: {line}"
    assert cid not in pyrunc.containers(), f"state dir of {cid} left under {pyrunc.root}"
    assert pyrunc.cmd("state", cid).returncode != 0
    assert not harness._cgroups([cid]), f"cgroups of {cid} left behind"
    assert not [l for l in Path("/proc/self/mountinfo").read_text().splitlines() if str(bundle) in l]
    harness.reap()
    left = [p for p in harness.descendants() if (p.pid, p.start) not in procs]
    assert not left, f"processes left: {left}"
    return line


def refused_by_runc(runc, bundle_factory, **fields):
    """runc also refuses the config (its wording differs)."""
    r = runc.run(harness.new_id("runc-refused"), bundle_factory(**fields))
    assert r.returncode != 0, f"runc accepted it:\n{r.stdout}"
    return r.stderr


def ns_links_script():
    return "; ".join(f"echo {n}=$(readlink /proc/self/ns/{n})" for n in NS_FILES)


def host_ns(name):
    return os.readlink(f"/proc/self/ns/{name}")


def parse_kv(text):
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


class Helper:
    """A process of ours in new namespaces (`unshare`), killed by pid in close()."""

    def __init__(self, flags, script):
        self.proc = subprocess.Popen(["unshare", *flags, "sh", "-c", script + "; exec sleep 60"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        harness.wait_for(lambda: self._ready(), 10, "the helper to reach its sleep")

    def _ready(self):
        if self.proc.poll() is not None:
            raise harness.HarnessError(f"helper exited {self.proc.returncode}: {self.proc.stderr.read()}")
        try:
            return Path(f"/proc/{self.pid}/comm").read_text().strip() == "sleep"
        except OSError:
            return False

    def ns(self, name):
        return f"/proc/{self.pid}/ns/{name}"

    def run(self, *argv):
        """argv in the helper's uts and net namespaces."""
        return subprocess.run(["nsenter", "-t", str(self.pid), "-u", "-n", *argv],
                              capture_output=True, text=True, timeout=10, check=True).stdout

    def close(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc.stderr.close()


@pytest.fixture
def helper():
    """A helper in new uts and net namespaces: hostname pyrt-helper, a veth pair pyrta/pyrtb."""
    h = Helper(["--uts", "--net"], "hostname pyrt-helper && ip link add pyrta type veth peer name pyrtb")
    try:
        yield h
    finally:
        h.close()


# ---- the default namespaces ----

def test_default_namespaces_pid_uts_net(both):
    sbs = both(["/probe", "report", "proc", "net"])
    ok(sbs)
    harness.assert_same(sbs)
    rep = harness.parse_report(sbs.pyrunc.stdout)
    assert (rep["pid"], rep["ppid"]) == ("1", "0")
    assert rep["hostname"] == "runc"
    assert {k: v for k, v in rep.items() if k.startswith("net")} == {"net.lo": "up"}


def test_pid_namespace_shows_only_the_containers_processes(both):
    sbs = both(["/bin/sh", "-c", "echo $$; ls /proc | grep '^[0-9]' | sort -n | tr '\\n' ' '"])
    for out in ok(sbs):
        # the shell is 1; `ls`, `grep`, `sort` and `tr` are the only others (their numbers
        # differ: runc's init used a few pids in the namespace before the exec)
        assert out.splitlines()[0] == "1"
        pids = out.splitlines()[1].split()
        assert pids[0] == "1" and len(pids) <= 5, pids


def test_default_namespaces_are_new_and_the_others_are_the_hosts(both):
    sbs = both(["/bin/sh", "-c", ns_links_script()])
    runc_out, py_out = ok(sbs)

    def differ(text):
        links = parse_kv(text)
        assert set(links) == set(NS_FILES), text
        return {n for n in NS_FILES if links[n] != host_ns(n)}
    assert differ(py_out) == differ(runc_out) == {"pid", "net", "ipc", "uts", "mnt"}


def test_ipc_namespace_is_private(runtime, bundle_factory):
    """A SysV segment of the host is not seen inside; a POSIX queue made inside is not on the host."""
    libc = ctypes.CDLL(None, use_errno=True)
    key = int.from_bytes(secrets.token_bytes(3), "big") | 0x70000000
    qname = f"/pyrt-q-{secrets.token_hex(4)}"
    shmid = libc.shmget(key, 4096, 0o1000 | 0o600)          # IPC_CREAT
    assert shmid >= 0, os.strerror(ctypes.get_errno())
    try:
        assert f"{key}" in Path("/proc/sysvipc/shm").read_text()
        script = (f"grep -c ' {key} ' /proc/sysvipc/shm; touch /dev/mqueue{qname} && ls /dev/mqueue; "
                  f"echo ipc=$(readlink /proc/self/ns/ipc)")
        r = runtime.run(harness.new_id("ipc"), bundle_factory(args=["/bin/sh", "-c", script]))
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == "0", f"the host's segment {key} is visible inside"
        assert lines[1] == qname[1:], "the queue was not made inside"
        assert lines[2] != f"ipc={host_ns('ipc')}"
        fd = libc.mq_open(qname.encode(), os.O_RDONLY)
        if fd >= 0:
            os.close(fd)
            libc.mq_unlink(qname.encode())
        assert fd < 0 and ctypes.get_errno() == 2, f"the container's queue {qname} is on the host"
    finally:
        libc.shmctl(shmid, 0, None)                           # IPC_RMID


# ---- joining namespaces by path ----

def test_join_uts_and_network_namespaces_by_path(both, helper):
    host = names()
    ns = [{"type": "pid"}, {"type": "network", "path": helper.ns("net")}, {"type": "ipc"},
          {"type": "uts", "path": helper.ns("uts")}, {"type": "mount"}]
    sbs = both(["/bin/sh", "-c", "/probe report net; readlink /proc/self/ns/net; readlink /proc/self/ns/uts; "
                                 "hostname"],
               hostname=None, linux={"namespaces": ns})
    ok(sbs)
    harness.assert_same(sbs)
    rep = harness.parse_report(sbs.pyrunc.stdout)
    assert sbs.pyrunc.stdout.splitlines()[-1] == "pyrt-helper"
    # the helper's interfaces; runc brings lo up only in a namespace it made
    assert {k: v for k, v in rep.items() if k.startswith("net.")} == {
        "net.lo": "down", "net.pyrta": "down", "net.pyrtb": "down"}
    assert sbs.pyrunc.stdout.splitlines()[-3:-1] == [os.readlink(helper.ns("net")), os.readlink(helper.ns("uts"))]
    assert names() == host
    assert helper.run("hostname").strip() == "pyrt-helper"


def test_hostname_set_in_a_joined_uts_namespace(runtime, bundle_factory, helper):
    """runc takes a uts namespace joined by path as the container's own: `hostname` is set in it
    (the helper sees the new name), as the runtime-spec allows."""
    ns = [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
          {"type": "uts", "path": helper.ns("uts")}, {"type": "mount"}]
    bundle = bundle_factory(args=["/probe", "report", "proc"], hostname="pyrt-joined",
                            linux={"namespaces": ns})
    host = names()
    r = runtime.run(harness.new_id("joinuts"), bundle)
    assert r.returncode == 0, r.stderr
    assert harness.parse_report(r.stdout)["hostname"] == "pyrt-joined"
    assert helper.run("hostname").strip() == "pyrt-joined"
    assert names() == host


def test_namespace_path_of_the_wrong_type_is_refused(pyrunc, runc, bundle_factory, helper):
    ns = [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
          {"type": "uts", "path": helper.ns("net")}, {"type": "mount"}]
    bundle = bundle_factory(hostname=None, linux={"namespaces": ns})
    line = create_refused(pyrunc, bundle, helper.ns("net"))
    assert "uts" in line and "net" in line
    refused_by_runc(runc, bundle_factory, hostname=None, linux={"namespaces": ns})
    assert helper.run("hostname").strip() == "pyrt-helper"


def test_duplicate_namespace_type_is_refused(pyrunc, runc, bundle_factory):
    linux = namespaces({"type": "network"})
    line = create_refused(pyrunc, bundle_factory(linux=linux), "linux.namespaces[5]", "network")
    assert "duplicate" in line
    refused_by_runc(runc, bundle_factory, linux=linux)


class ForkHelper(Helper):
    """A helper through `unshare --fork --kill-child`: `pid` is the forked child (the
    sleeping shell, pid 1 of a new pid namespace when --pid is given); it and unshare are
    killed by pid in close()."""

    def __init__(self, flags, script):
        self.inner = None
        try:
            super().__init__([*flags, "--fork", "--kill-child"], script)
        except BaseException:
            if getattr(self, "proc", None) is not None:
                self.close()
            raise
        self.pid = self.inner.pid

    def _ready(self):
        if self.proc.poll() is not None:
            raise harness.HarnessError(f"helper exited {self.proc.returncode}: {self.proc.stderr.read()}")
        kids = [p for p in harness.descendants(self.proc.pid) if p.ppid == self.proc.pid]
        if len(kids) == 1 and kids[0].comm == "sleep":
            self.inner = kids[0]
        return self.inner is not None

    def close(self):
        # the child first (its start time still ours): unshare reaps it and exits; killed
        # only if it does not, and then the child (reparented to us) is reaped here
        cur = harness.proc_stat(self.inner.pid) if self.inner else None
        if cur and cur.start == self.inner.start:
            os.kill(self.inner.pid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc.stderr.close()
        if self.inner:
            left = harness.kill_procs([self.inner])
            assert not left, f"helper child {self.inner.pid} did not go away"


# config type -> /proc/PID/ns name
NS_FILE = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt", "cgroup": "cgroup"}
SHM_SIZE = 12289            # the helper's SysV segment: an odd size to find in /proc/sysvipc/shm


def _join_script():
    return "; ".join([ns_links_script(), "echo self=$$", "echo init=$(cat /proc/1/comm)",
                      f"echo shm=$(grep -cw {SHM_SIZE} /proc/sysvipc/shm)",
                      "echo mark=$(cat /mnt/where 2>/dev/null || echo none)",
                      "echo cgpath=$(cut -d: -f3 /proc/self/cgroup | sort -u | tr '\\n' ' ')"])


@pytest.mark.parametrize("joined", [("pid",), ("ipc",), ("mount",), ("cgroup",), ("pid", "ipc", "mount", "cgroup")],
                         ids=["pid", "ipc", "mount", "cgroup", "all"])
def test_join_pid_ipc_mount_cgroup_namespaces_by_path(runc, pyrunc, bundle_factory, tmp_path, joined):
    """A helper in new pid, ipc, mount and cgroup namespaces (pid 1 of its pid namespace is
    `sleep`; it made a SysV segment; it mounted a tmpfs holding `where` = helper on a host
    directory that is empty outside it).  The container joins the `joined` ones by path:
    their /proc/self/ns links are the helper's, and it sees the helper's pid 1, segment and
    mount; the other configured ones are new, the unconfigured cgroup and time the host's.
    Each runtime gets a helper of its own: a container that joins the mount namespace
    pivots the helper's root too.  The helper keeps the host's /proc (no --mount-proc):
    runc and pyrunc both fail to set up a joined mount namespace whose /proc belongs to a
    pid namespace their init is not in (no /proc/self there)."""
    mark = tmp_path / "nsmark"
    mark.mkdir()
    script = (f"ipcmk -M {SHM_SIZE} >/dev/null && mount -t tmpfs -o size=1m pyrt-nsmark {mark} && "
              f"echo helper > {mark}/where")
    want_types = ["pid", "network", "ipc", "uts", "mount"] + (["cgroup"] if "cgroup" in joined else [])
    results = {}
    for rt in (runc, pyrunc):
        h = ForkHelper(["--pid", "--ipc", "--mount", "--cgroup"], script)
        try:
            helper_links = {n: os.readlink(h.ns(n)) for n in NS_FILES}
            ns = [{"type": t, "path": h.ns(NS_FILE[t])} if t in joined else {"type": t} for t in want_types]
            bundle = bundle_factory(args=["/bin/sh", "-c", _join_script()], linux={"namespaces": ns},
                                    mounts=harness.base_config()["mounts"] +
                                    [{"destination": "/mnt", "type": "bind", "source": str(mark),
                                      "options": ["rbind"]}])
            cid = harness.new_id("join")
            r = rt.run(cid, bundle)
            assert harness.proc_stat(h.pid) is not None, "the helper died while the container ran"
        finally:
            h.close()
        assert r.returncode == 0, f"{rt.name} exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
        out = parse_kv(r.stdout)
        links = {n: out[n] for n in NS_FILES}
        # each namespace: the helper's (joined), the host's, or a new one
        where = {n: "host" if links[n] == host_ns(n) else "helper" if links[n] == helper_links[n] else "new"
                 for n in NS_FILES}
        results[rt.name] = (where, {k: out[k] for k in ("init", "shm", "mark")},
                            out["cgpath"].replace(cid, "ID"), out["self"])
    assert results["pyrunc"][:3] == results["runc"][:3], results
    where, seen, cgpath, self_pid = results["pyrunc"]
    expect = {n: "new" for n in ("pid", "net", "ipc", "uts", "mnt")}
    expect.update({"cgroup": "host", "time": "host"})
    expect.update({NS_FILE[t]: "helper" for t in joined})
    assert where == expect
    assert seen == {"init": "sleep" if "pid" in joined else "sh", "shm": "1" if "ipc" in joined else "0",
                    "mark": "helper" if "mount" in joined else "none"}
    assert (self_pid == "1") == ("pid" not in joined)
    if "cgroup" in joined:
        # the helper's cgroup namespace is rooted at this process's cgroups, the
        # container's cgroups are <the runtime's own>/<id>
        assert cgpath.split() == ["/ID"], cgpath
    assert not list(mark.iterdir()), "the helper's mount showed on the host"


# ---- cgroup and time namespaces ----

def test_cgroup_namespace_shows_root_paths(both):
    sbs = both(["/probe", "read", "/proc/self/cgroup"], linux=namespaces({"type": "cgroup"}))
    ok(sbs)
    harness.assert_same(sbs)
    lines = sbs.pyrunc.stdout.splitlines()
    assert lines and all(line.endswith(":/") for line in lines), lines


def test_without_cgroup_namespace_the_host_paths_show(both):
    sbs = both(["/bin/sh", "-c", "cat /proc/self/cgroup; echo cgroup=$(readlink /proc/self/ns/cgroup)"])
    runc_out, py_out = ok(sbs)
    ids = [r.args[-1] for r in sbs]

    def norm(text, cid):
        assert all(cid in line for line in text.splitlines()[:-1]), text
        return text.replace(cid, "ID")
    assert norm(py_out, ids[1]) == norm(runc_out, ids[0])
    assert py_out.splitlines()[-1] == f"cgroup={host_ns('cgroup')}"


def _uptime():
    return float(Path("/proc/uptime").read_text().split()[0])


def test_time_namespace_offsets(pyrunc, bundle_factory):
    """monotonic and boottime offsets: /proc/uptime (boottime) is ahead of the host's by the
    boottime offset; timens_offsets shows both.

    pyrunc alone: runc 1.1.5 has no time namespace ('namespace {"time" ""} does not exist';
    it came in runc 1.2)."""
    offsets = {"monotonic": {"secs": 86400, "nanosecs": 0}, "boottime": {"secs": 172800, "nanosecs": 5}}
    bundle = bundle_factory(args=["/bin/sh", "-c", "cat /proc/uptime /proc/self/timens_offsets; "
                                  "echo time=$(readlink /proc/self/ns/time)"],
                            linux={"namespaces": DEFAULT_NS + [{"type": "time"}], "timeOffsets": offsets})
    before = _uptime()
    r = pyrunc.run(harness.new_id("timens"), bundle)
    after = _uptime()
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    inside = float(lines[0].split()[0])
    assert before + 172800 - 0.02 <= inside <= after + 172800 + 0.02, (before, inside, after)
    assert {tuple(l.split()) for l in lines[1:3]} == {("monotonic", "86400", "0"), ("boottime", "172800", "5")}
    assert lines[3] != f"time={host_ns('time')}"


def test_time_namespace_without_offsets(pyrunc, bundle_factory):
    bundle = bundle_factory(args=["/bin/sh", "-c", "cat /proc/uptime /proc/self/timens_offsets; "
                                  "echo time=$(readlink /proc/self/ns/time)"],
                            linux={"namespaces": DEFAULT_NS + [{"type": "time"}]})
    before = _uptime()
    r = pyrunc.run(harness.new_id("timens0"), bundle)
    after = _uptime()
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert before - 0.02 <= float(lines[0].split()[0]) <= after + 0.02
    assert {tuple(l.split()) for l in lines[1:3]} == {("monotonic", "0", "0"), ("boottime", "0", "0")}
    assert lines[3] != f"time={host_ns('time')}"


# ---- hostname and domainname ----

def test_hostname(both, host_names):
    sbs = both(["/probe", "report", "proc"], hostname="pyrt-box")
    ok(sbs)
    harness.assert_same(sbs)
    rep = harness.parse_report(sbs.pyrunc.stdout)
    assert (rep["hostname"], rep["domainname"]) == ("pyrt-box", "(none)")
    assert names() == host_names


def test_domainname(pyrunc, bundle_factory, host_names):
    """pyrunc alone: `domainname` came with runtime-spec 1.1 and runc 1.2; runc 1.1.5 ignores it."""
    r = pyrunc.run(harness.new_id("domain"), bundle_factory(args=["/probe", "report", "proc"],
                                                            hostname="pyrt-box", domainname="pyrt.example"))
    assert r.returncode == 0, r.stderr
    rep = harness.parse_report(r.stdout)
    assert (rep["hostname"], rep["domainname"]) == ("pyrt-box", "pyrt.example")
    assert names() == host_names


def test_hostname_without_uts_namespace_is_refused(pyrunc, runc, bundle_factory, host_names):
    fields = {"hostname": "pyrt-nouts", "linux": {"namespaces": [n for n in DEFAULT_NS if n["type"] != "uts"]}}
    line = create_refused(pyrunc, bundle_factory(**fields), "hostname")
    assert "UTS" in line or "uts" in line
    refused_by_runc(runc, bundle_factory, **fields)
    assert names() == host_names


def test_domainname_without_uts_namespace_is_refused(pyrunc, bundle_factory, host_names):
    """pyrunc alone (runc 1.1.5 ignores domainname; runc 1.2 refuses this config too)."""
    fields = {"hostname": None, "domainname": "pyrt.example",
              "linux": {"namespaces": [n for n in DEFAULT_NS if n["type"] != "uts"]}}
    line = create_refused(pyrunc, bundle_factory(**fields), "domainname")
    assert "UTS" in line or "uts" in line
    assert names() == host_names


# ---- sysctl ----

def _host_sysctl(name):
    return Path("/proc/sys/" + name.replace(".", "/")).read_text().strip()


@pytest.fixture
def host_sysctls():
    """Read host sysctls (the test says which) and put back any a failing runtime changed."""
    saved = {}

    def read(*names):
        for n in names:
            saved.setdefault(n, _host_sysctl(n))
        return {n: _host_sysctl(n) for n in names}
    yield read
    for n, v in saved.items():
        if _host_sysctl(n) != v:
            Path("/proc/sys/" + n.replace(".", "/")).write_text(v)


def names():
    """The host's (hostname, domainname)."""
    return tuple(Path(f"/proc/sys/kernel/{n}").read_text().strip() for n in ("hostname", "domainname"))


@pytest.fixture
def host_names():
    """The host's (hostname, domainname), put back if a failing runtime changed them."""
    before = names()
    yield before
    for name, old, now in zip(("hostname", "domainname"), before, names()):
        if now != old:
            Path(f"/proc/sys/kernel/{name}").write_text(old)


def test_namespaced_sysctls_apply_inside_only(both, host_sysctls):
    names = ("net.ipv4.ip_forward", "kernel.shmmax", "kernel.msgmax", "net.ipv4.tcp_syncookies")
    host = host_sysctls(*names)
    want = {"net.ipv4.ip_forward": "0" if host["net.ipv4.ip_forward"] == "1" else "1",
            "kernel.shmmax": "123456789", "kernel.msgmax": "12345",
            "net.ipv4.tcp_syncookies": "0" if host["net.ipv4.tcp_syncookies"] != "0" else "2"}
    script = "; ".join(f"echo {n}=$(cat /proc/sys/{n.replace('.', '/')})" for n in names)
    sbs = both(["/bin/sh", "-c", script], linux={"sysctl": want})
    ok(sbs)
    harness.assert_same(sbs)
    assert parse_kv(sbs.pyrunc.stdout) == want
    assert host_sysctls(*names) == host


def test_non_namespaced_sysctl_is_refused(pyrunc, runc, bundle_factory, host_sysctls):
    before = host_sysctls("kernel.pid_max")["kernel.pid_max"]
    linux = {"sysctl": {"kernel.pid_max": "40000"}}
    create_refused(pyrunc, bundle_factory(linux=linux), "linux.sysctl.kernel.pid_max")
    refused_by_runc(runc, bundle_factory, linux=linux)
    assert _host_sysctl("kernel.pid_max") == before


@pytest.mark.parametrize("name,value,ns", [("net.ipv4.ip_forward", "1", "network"),
                                           ("kernel.shmmax", "123456789", "ipc")])
def test_sysctl_without_its_namespace_is_refused(pyrunc, runc, bundle_factory, host_sysctls, name, value, ns):
    before = host_sysctls(name)[name]
    linux = {"sysctl": {name: value}, "namespaces": [n for n in DEFAULT_NS if n["type"] != ns]}
    line = create_refused(pyrunc, bundle_factory(linux=linux), f"linux.sysctl.{name}")
    assert ns in line
    refused_by_runc(runc, bundle_factory, linux=linux)
    assert _host_sysctl(name) == before


# ---- the session keyring ----

def keyring_of(text):
    """`probe keyring` output -> (session keyring id, its KEYCTL_DESCRIBE "type;uid;gid;perm;desc")."""
    rep = harness.parse_report(text)
    assert rep.get("session.id", "").isdigit(), text
    return rep["session.id"], rep["session"]


def host_keyring(probe):
    """This process's session keyring (a container made with --no-new-keyring inherits it)."""
    r = subprocess.run([str(probe), "keyring"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr
    return keyring_of(r.stdout)


def created_keyrings(rt, bundle, flags, exec_args=None):
    """create (with `flags`) and start `bundle`: its output's keyring, and with `exec_args`
    also an exec's output's keyring; (cid, init's, exec's or None)."""
    cid = harness.new_id("keyring")
    try:
        rt.create(cid, bundle, *flags, check=True)
        rt.start(cid, check=True)
        harness.wait_for(lambda: "session: " in rt.output(cid)[0], 10, f"{rt.name} init's keyring")
        exec_out = None
        if exec_args:
            e = rt.cmd("exec", cid, *exec_args)
            assert e.returncode == 0, f"{rt.name} exec: {e.stdout}{e.stderr}"
            exec_out = keyring_of(e.stdout)
        return cid, keyring_of(rt.output(cid)[0]), exec_out
    finally:
        rt.delete(cid, force=True)


KEY_USR_SEARCH = 0x00080000


@pytest.mark.parametrize("flags", [(), ("--no-new-keyring",)], ids=["new-keyring", "no-new-keyring"])
def test_session_keyring(runc, pyrunc, bundle_factory, probe, flags):
    """By default the init joins a new session keyring `_ses.<id>`, owned by root, that the
    user may search (runc adds KEY_USR_SEARCH so an exec can join it); with `create
    --no-new-keyring` it keeps the caller's session keyring (the same id as this process's)."""
    host = host_keyring(probe)
    got = {}
    for rt in (runc, pyrunc):
        cid, (kid, desc), _ = created_keyrings(rt, bundle_factory(args=["/probe", "keyring"]), flags)
        got[rt.name] = (kid, desc.replace(cid, "ID"))
    if flags:
        assert got["runc"] == host
        assert got["pyrunc"] == host
        return
    assert got["pyrunc"][1] == got["runc"][1]
    kind, uid, gid, perm, name = got["pyrunc"][1].split(";", 4)
    assert (kind, uid, gid, name) == ("keyring", "0", "0", "_ses.ID")
    assert int(perm, 16) & KEY_USR_SEARCH
    assert got["pyrunc"][0] != host[0] and got["pyrunc"][0] != got["runc"][0]


@pytest.mark.parametrize("flags", [(), ("--no-new-keyring",)], ids=["new-keyring", "no-new-keyring"])
def test_exec_session_keyring_follows_create(runc, pyrunc, bundle_factory, probe, flags):
    """An exec joins the container's session keyring by its name (the same keyring as the
    init's); in a container created with --no-new-keyring, runc's exec makes no keyring
    either and keeps the caller's."""
    host = host_keyring(probe)
    got = {}
    for rt in (runc, pyrunc):
        bundle = bundle_factory(args=["/bin/sh", "-c", "/probe keyring; exec /probe sleep 30"])
        cid, init, execd = created_keyrings(rt, bundle, flags, exec_args=["/probe", "keyring"])
        got[rt.name] = tuple((kid, desc.replace(cid, "ID")) for kid, desc in (init, execd))
    for name in ("runc", "pyrunc"):
        init, execd = got[name]
        if flags:
            assert (name, init, execd) == (name, host, host)
        else:
            assert (name, execd) == (name, init)
            assert init[1].endswith(";_ses.ID") and init[0] != host[0]

