"""The container's process (config.json `process`), through the `pyrunc` command, next to runc.

Each test runs a real container and looks at what `/probe` saw: args and PATH lookup,
env and HOME, cwd, user and groups, umask, the five capability sets, rlimits,
no_new_privs, oom_score_adj, the terminal (console socket and foreground), stdio,
--preserve-fds, LISTEN_FDS socket activation, and `run`'s exit status and signal
forwarding.  Wherever runc supports the same thing, the same bundle runs under runc
(Debian's 1.1.5, the reference) and the probe's output must be the same.
"""
import errno
import os
import re
import resource
import select
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

import harness

pytestmark = pytest.mark.integration

RUNTIMES = ("runc", "pyrunc")
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
UNLIMITED = 2**64 - 1
RUNC_DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
LOG_MSG = re.compile(r'^time="[^"]*" level=(\w+) msg="(.*)"$')


# ---- helpers ----

def factory(bundle_factory, args=None, setup=None, made=None, **edits):
    """A bundle factory for compare(): make_bundle(args, **edits), then setup(rootfs).

    Every bundle made is appended to `made` (a list) when given.
    """
    def make(dirpath):
        b = bundle_factory(dirpath, args, **edits)
        if setup is not None:
            setup(Path(b) / "rootfs")
        if made is not None:
            made.append(Path(b))
        return b
    return make


def same_run(compare, make, *extra, rc=0, **kw):
    """Run `make`'s bundle under runc and pyrunc; runc must exit `rc`; both must print the same.

    Returns (runc report, pyrunc report), parsed.
    """
    sbs = compare(make, *extra, **kw)
    assert sbs.runc.returncode == rc, f"runc itself: exit {sbs.runc.returncode}\n{sbs.runc.stderr}"
    harness.assert_same(sbs)
    return harness.parse_report(sbs.runc.stdout), harness.parse_report(sbs.pyrunc.stdout)


def report(*sections):
    return ["/probe", "report", *sections]


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


def one_error(result):
    """The runtime failed with exit 1 and exactly one error line on stderr; return its message."""
    lines = error_lines(result.stderr)
    assert result.returncode == 1, f"exit {result.returncode}, stderr: {result.stderr!r}"
    assert len(lines) == 1, f"want one error line, got {lines!r}"
    m = LOG_MSG.match(lines[0])
    return m.group(2).replace('\\"', '"') if m else lines[0]


def assert_nothing_left(rt, cid):
    """After a failed create: no state dir, `list` empty, `state` fails (the leak fixture checks the rest)."""
    assert rt.containers() == [], f"{rt.name} left state dirs: {rt.containers()}"
    assert rt.list("json") == []
    assert rt.cmd("state", cid).returncode != 0


def failed_create(rt, bundle, *extra):
    """`create` must fail with one line and leave nothing behind; return the message."""
    cid = harness.new_id("fail")
    r = rt.create(cid, bundle, *extra)
    try:
        msg = one_error(r)
    finally:
        harness.reap()
    assert_nothing_left(rt, cid)
    return msg


def create_start_wait(rt, cid, bundle, *extra):
    """create, start, wait until stopped, delete; return the container's (stdout, stderr)."""
    r = rt.create(cid, bundle, *extra)
    assert r.returncode == 0, f"{rt.name} create: exit {r.returncode}: {r.stderr}"
    try:
        r = rt.start(cid)
        assert r.returncode == 0, f"{rt.name} start: exit {r.returncode}: {r.stderr}"
        rt.wait_status(cid, "stopped")
    finally:
        rt.delete(cid, force=True)
        harness.reap()
    return rt.output(cid)


def env_lines(stdout):
    return stdout.splitlines()


def popen(rt, argv, **kw):
    """Start `<runtime> <global flags> argv...` with our own stdio; the caller waits for it."""
    return subprocess.Popen([rt.binary, *rt.global_flags(), *map(str, argv)], **kw)


def wait_proc(p, timeout=20):
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise harness.HarnessError(f"{p.args[0]} did not exit within {timeout}s") from None


# ---- process.args: PATH lookup in the container's env ----

def _path_tools(rootfs):
    """/opt/dir/tool is a directory, /opt/noexec/tool not executable, /opt/bin/tool the probe."""
    (rootfs / "opt" / "dir" / "tool").mkdir(parents=True)
    (rootfs / "opt" / "noexec").mkdir()
    (rootfs / "opt" / "noexec" / "tool").write_text("#!/bin/sh\necho wrong tool\n")
    os.chmod(rootfs / "opt" / "noexec" / "tool", 0o644)
    (rootfs / "opt" / "bin").mkdir()
    shutil.copy(rootfs / "probe", rootfs / "opt" / "bin" / "tool")


def test_bare_name_found_via_container_path(compare, bundle_factory):
    """A bare args[0] is searched in the container env's PATH, skipping a dir and a non-executable."""
    make = factory(bundle_factory, ["tool", "report", "ids", "proc"], setup=_path_tools,
                   process={"env": ["PATH=/opt/dir:/opt/noexec:/opt/bin", "TERM=xterm"]})
    rc_rep, py_rep = same_run(compare, make)
    assert py_rep["pid"] == "1" and py_rep["uid"] == "0"


def test_bare_name_keeps_argv0(compare, bundle_factory):
    """The found binary gets args[0] as written, not the path it was found at."""
    sbs = compare(factory(bundle_factory, ["sh", "-c", 'echo "$0"']))
    assert sbs.runc.returncode == 0, sbs.runc.stderr
    harness.assert_same(sbs)
    assert sbs.pyrunc.stdout == "sh\n"


@pytest.mark.parametrize("arg0, cwd", [("/probe", "/"), ("./probe", "/"), ("../probe", "/tmp"),
                                       ("/bin/../probe", "/")])
def test_args0_with_a_slash_is_not_searched(compare, bundle_factory, arg0, cwd):
    """args[0] with a slash is used as is, relative to process.cwd; PATH is not consulted."""
    make = factory(bundle_factory, [arg0, "report", "proc"],
                   process={"cwd": cwd, "env": ["PATH=/nonexistent", "TERM=xterm"]})
    rc_rep, py_rep = same_run(compare, make)
    assert py_rep["cwd"] == cwd


@pytest.mark.parametrize("args, env, name", [
    (["no-such-binary"], None, "no-such-binary"),
    (["/no/such/binary"], None, "/no/such/binary"),
    # sh is in /bin, but the container's PATH does not list /bin: the runtime's own PATH
    # must not be used
    (["sh", "-c", "true"], ["PATH=/opt:/usr/local/bin", "TERM=xterm"], "sh"),
], ids=["bare", "absolute", "not-in-container-path"])
def test_missing_binary_fails_create(runtime, bundle_factory, args, env, name):
    edits = {"process": {"env": env}} if env else {}
    bundle = bundle_factory(args=args, **edits)
    msg = failed_create(runtime, bundle)
    assert f'"{name}"' in msg, msg


# ---- process.env and HOME ----

def test_env_is_passed_exactly(compare, bundle_factory):
    """Order kept, a repeated name keeps its first place with the later value, empty values kept."""
    env = [DEFAULT_PATH, "B=first", "A=1", "EMPTY=", "B=second", "SPACES=a  b", "EQ=x=y",
           "HOME=/custom", "A=3", "LAST=z"]
    sbs = compare(factory(bundle_factory, ["/bin/env"], process={"env": env}))
    assert sbs.runc.returncode == 0, sbs.runc.stderr
    harness.assert_same(sbs)
    assert env_lines(sbs.pyrunc.stdout) == [DEFAULT_PATH, "B=second", "A=3", "EMPTY=",
                                            "SPACES=a  b", "EQ=x=y", "HOME=/custom", "LAST=z"]


@pytest.mark.parametrize("uid, gid, home", [(0, 0, "/root"), (1000, 1000, "/home/probe"),
                                            (4242, 4242, "/")],
                         ids=["root", "passwd-user", "unknown-uid"])
def test_home_from_container_passwd(compare, bundle_factory, uid, gid, home):
    """Without HOME in env, HOME comes from the container's /etc/passwd ("/" for an unknown uid)."""
    env = [DEFAULT_PATH, "TERM=xterm"]
    sbs = compare(factory(bundle_factory, ["/bin/env"],
                          process={"env": env, "user": {"uid": uid, "gid": gid}}))
    assert sbs.runc.returncode == 0, sbs.runc.stderr
    harness.assert_same(sbs)
    assert env_lines(sbs.pyrunc.stdout) == env + [f"HOME={home}"]


def test_home_kept_when_given(compare, bundle_factory):
    env = [DEFAULT_PATH, "HOME=/somewhere/else", "TERM=xterm"]
    sbs = compare(factory(bundle_factory, ["/bin/env"],
                          process={"env": env, "user": {"uid": 1000, "gid": 1000}}))
    assert sbs.runc.returncode == 0, sbs.runc.stderr
    harness.assert_same(sbs)
    assert env_lines(sbs.pyrunc.stdout) == env


# ---- process.cwd ----

def test_cwd_existing_dir(compare, bundle_factory):
    rc_rep, py_rep = same_run(compare, factory(bundle_factory, report("proc"),
                                               process={"cwd": "/tmp"}))
    assert py_rep["cwd"] == "/tmp"


def test_missing_cwd_is_created_inside_rootfs(compare, bundle_factory):
    made = []
    rc_rep, py_rep = same_run(compare, factory(bundle_factory, report("proc"), made=made,
                                               process={"cwd": "/made/by/the/runtime"}))
    assert py_rep["cwd"] == "/made/by/the/runtime"
    assert len(made) == 2
    modes = {}
    for bundle in made:
        created = bundle / "rootfs" / "made" / "by" / "the" / "runtime"
        st = created.lstat()
        assert stat.S_ISDIR(st.st_mode), created
        modes[bundle.name] = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    assert modes["bundle-pyrunc"] == modes["bundle-runc"] == (0o755, 0, 0)


def test_relative_cwd_is_rejected_at_create(runtime, bundle_factory):
    msg = failed_create(runtime, bundle_factory(process={"cwd": "tmp"}))
    assert "absolute" in msg, msg
    if runtime.name == "pyrunc":
        assert "process.cwd" in msg, msg


# ---- process.user, umask ----

def test_user_uid_gid_and_additional_gids(compare, bundle_factory):
    make = factory(bundle_factory, report("ids"),
                   process={"user": {"uid": 1000, "gid": 1000, "additionalGids": [2000, 100, 3000]}})
    rc_rep, py_rep = same_run(compare, make)
    assert [py_rep[k] for k in ("uid", "euid", "suid", "gid", "egid", "sgid")] == ["1000"] * 6
    assert py_rep["groups"] == "100 2000 3000"


def test_user_without_additional_gids_has_no_groups(compare, bundle_factory):
    """No additionalGids: the supplementary groups are cleared (not the runtime's, not /etc/group's)."""
    rc_rep, py_rep = same_run(compare, factory(bundle_factory, report("ids"),
                                               process={"user": {"uid": 1000, "gid": 1000}}))
    assert py_rep["groups"] == ""


@pytest.mark.parametrize("umask, want", [(None, "0022"), (0o077, "0077"), (0, "0000")],
                         ids=["default", "077", "000"])
def test_umask(compare, bundle_factory, umask, want):
    edits = {"process": {"user": {"uid": 0, "gid": 0, "umask": umask}}} if umask is not None else {}
    rc_rep, py_rep = same_run(compare, factory(bundle_factory, report("proc"), **edits))
    assert py_rep["umask"] == want


def _root_only_dir(rootfs):
    (rootfs / "private").mkdir(mode=0o700)
    os.chmod(rootfs / "private", 0o700)


def test_non_root_user_with_cwd_only_root_can_enter(compare, bundle_factory):
    """The runtime enters cwd while still root, so uid 1000 can start in a 0700 root dir."""
    make = factory(bundle_factory, report("ids", "proc"), setup=_root_only_dir,
                   process={"cwd": "/private", "user": {"uid": 1000, "gid": 1000}})
    rc_rep, py_rep = same_run(compare, make)
    assert py_rep["cwd"] == "/private" and py_rep["uid"] == "1000"


# ---- process.capabilities ----

MORE_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_NET_RAW",
             "CAP_SETGID", "CAP_SETUID", "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_MKNOD"]
AMBIENT = ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]
ALL_FIVE = ("bounding", "effective", "permitted", "inheritable", "ambient")
STATUS_KEYS = ("CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb")
# case: (process.capabilities (None: runc's default, {}: no key), uid, noNewPrivileges, want)
CAP_CASES = {
    "default": (None, 0, True, {k: RUNC_DEFAULT_CAPS for k in ("CapBnd", "CapEff", "CapPrm")}),
    "more": ({"bounding": MORE_CAPS, "effective": MORE_CAPS, "permitted": MORE_CAPS}, 0, True,
             {"CapBnd": MORE_CAPS, "CapEff": MORE_CAPS, "CapPrm": MORE_CAPS, "CapInh": [],
              "CapAmb": []}),
    # root's execve fills permitted and effective from the bounding set ...
    "bounding-wider-than-permitted": (
        {"bounding": MORE_CAPS, "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}, 0, False,
        {"CapBnd": MORE_CAPS, "CapEff": MORE_CAPS, "CapPrm": MORE_CAPS}),
    # ... unless no_new_privs is set: then it gains nothing
    "bounding-wider-no-new-privs": (
        {"bounding": MORE_CAPS, "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}, 0, True,
        {"CapBnd": MORE_CAPS, "CapEff": ["CAP_KILL"], "CapPrm": ["CAP_KILL"]}),
    # uid 1000 keeps capabilities across execve only through the ambient set
    "ambient-non-root": ({k: AMBIENT for k in ALL_FIVE}, 1000, True,
                         {k: AMBIENT for k in STATUS_KEYS}),
    "ambient-root": ({k: AMBIENT for k in ALL_FIVE}, 0, True, {k: AMBIENT for k in STATUS_KEYS}),
    # ambient without inheritable cannot be raised (runc ignores the failure)
    "ambient-without-inheritable": (
        {"bounding": AMBIENT, "effective": AMBIENT, "permitted": AMBIENT, "ambient": AMBIENT}, 1000,
        True, {"CapBnd": AMBIENT, "CapEff": [], "CapPrm": [], "CapInh": [], "CapAmb": []}),
    "empty": ({k: [] for k in ALL_FIVE}, 0, True, {k: [] for k in STATUS_KEYS}),
    "absent": ({}, 0, True, {k: [] for k in STATUS_KEYS}),
}


@pytest.mark.parametrize("case", list(CAP_CASES))
def test_capability_sets(compare, bundle_factory, case):
    caps, uid, nnp, want = CAP_CASES[case]

    def edit(cfg):
        if caps == {}:
            cfg["process"].pop("capabilities")
        elif caps is not None:
            cfg["process"]["capabilities"] = caps
        cfg["process"]["user"] = {"uid": uid, "gid": uid}
        cfg["process"]["noNewPrivileges"] = nnp

    rc_rep, py_rep = same_run(compare, factory(bundle_factory, report("caps", "ids"), edit=edit))
    for key, names in want.items():
        assert py_rep[key] == harness.cap_mask(names), (key, harness.cap_names(py_rep[key]))


def test_unknown_capability_is_warned_and_skipped(compare, bundle_factory):
    caps = {k: ["CAP_KILL", "CAP_NO_SUCH_THING", "CAP_NET_RAW"] for k in ALL_FIVE}
    rc_rep, py_rep = same_run(compare, factory(bundle_factory, report("caps"),
                                               process={"capabilities": caps}))
    want = harness.cap_mask(["CAP_KILL", "CAP_NET_RAW"])
    assert all(py_rep[k] == want for k in STATUS_KEYS), py_rep
    sbs = compare(factory(bundle_factory, ["/probe", "exit", "0"], process={"capabilities": caps}))
    for name in RUNTIMES:
        r = getattr(sbs, name)
        assert r.returncode == 0, r.stderr
        warnings = [m.group(2) for m in map(LOG_MSG.match, error_lines(r.stderr))
                    if m and m.group(1) == "warning"]
        assert warnings and all("CAP_NO_SUCH_THING" in w for w in warnings), (name, r.stderr)
        assert len(error_lines(r.stderr)) == len(warnings), (name, r.stderr)


# ---- process.rlimits ----

def test_rlimits_equal_runc(compare, bundle_factory):
    nofile_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    rlimits = [
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": min(4096, nofile_hard)},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": UNLIMITED},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 600},
        {"type": "RLIMIT_CPU", "soft": 100, "hard": 200},
        {"type": "RLIMIT_STACK", "soft": 4 << 20, "hard": 16 << 20},
        {"type": "RLIMIT_MEMLOCK", "soft": 65536, "hard": 65536},
        {"type": "RLIMIT_SIGPENDING", "soft": 100, "hard": 200},
        {"type": "RLIMIT_FSIZE", "soft": 1 << 30, "hard": UNLIMITED},
        {"type": "RLIMIT_MSGQUEUE", "soft": 4096, "hard": 8192},
    ]
    rc_rep, py_rep = same_run(compare, factory(bundle_factory, report("rlimits"),
                                               process={"rlimits": rlimits}))

    def fmt(v):
        return "unlimited" if v == UNLIMITED else str(v)
    for rl in rlimits:
        assert py_rep[rl["type"]] == f"{fmt(rl['soft'])} {fmt(rl['hard'])}", rl


def test_rlimit_above_current_hard_limit_fails(runtime, bundle_factory):
    """Raising a hard limit needs CAP_SYS_RESOURCE, which root lacks on these machines."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard != resource.RLIM_INFINITY
    bundle = bundle_factory(process={"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024,
                                                  "hard": hard + 1000}]})
    msg = failed_create(runtime, bundle)
    assert "rlimit" in msg.lower() and "operation not permitted" in msg, msg


def test_nofile_limit_of_zero_fails_create(runtime, bundle_factory):
    """An RLIMIT_NOFILE soft limit of 0 leaves the init no fd to reopen exec.fifo with:
    create fails with one line and nothing is left, under runc as under pyrunc (the init
    must not die after a create that reported success)."""
    bundle = bundle_factory(process={"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 0, "hard": 1024}]})
    msg = failed_create(runtime, bundle)
    assert "too many open files" in msg, msg


# ---- noNewPrivileges, oomScoreAdj ----

@pytest.mark.parametrize("nnp, want", [(True, "1"), (False, "0"), (None, "0")],
                         ids=["true", "false", "absent"])
def test_no_new_privileges(compare, bundle_factory, nnp, want):
    rc_rep, py_rep = same_run(compare, factory(bundle_factory, report("caps"),
                                               process={"noNewPrivileges": nnp}))
    assert py_rep["NoNewPrivs"] == want


def _current_oom_score_adj():
    return int(Path("/proc/self/oom_score_adj").read_text())


@pytest.mark.parametrize("delta", [0, 100, 1000])
def test_oom_score_adj(compare, bundle_factory, delta):
    value = min(_current_oom_score_adj() + delta, 1000)
    rc_rep, py_rep = same_run(compare, factory(bundle_factory, report("proc"),
                                               process={"oomScoreAdj": value}))
    assert py_rep["oom_score_adj"] == str(value)


# ---- terminal ----

class ConsoleReceiver:
    """An AF_UNIX server for --console-socket: takes the pty master (SCM_RIGHTS), reads it to EOF."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.master = None
        self.payload = b""
        self.data = bytearray()
        self.error = None
        self.got_fd = threading.Event()
        self.stop = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            while not self.stop.is_set():
                r, _, _ = select.select([self.sock], [], [], 0.1)
                if r:
                    break
            else:
                return
            conn, _ = self.sock.accept()
            with conn:
                self.payload, fds, _, _ = socket.recv_fds(conn, 4096, 4)
            if len(fds) != 1:
                raise AssertionError(f"console socket: got {len(fds)} fds")
            self.master = fds[0]
            self.got_fd.set()
            while not self.stop.is_set():
                r, _, _ = select.select([self.master], [], [], 0.1)
                if not r:
                    continue
                try:
                    chunk = os.read(self.master, 4096)
                except OSError as e:
                    if e.errno == errno.EIO:         # every slave fd is closed
                        break
                    raise
                if not chunk:
                    break
                self.data += chunk
        except Exception as e:          # reported by the test through .error
            self.error = e
        finally:
            self.done.set()

    def text(self, timeout=10):
        """Everything the container wrote to the pty, once it is closed, with \\r\\n as \\n."""
        if not self.done.wait(timeout):
            raise harness.HarnessError("the pty master did not reach EOF")
        if self.error:
            raise self.error
        return self.data.decode(errors="replace").replace("\r\n", "\n")

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
        if self.master is not None:
            os.close(self.master)


def _tty_report_lines(text):
    """The probe's tty/proc lines, and the mount and device lines about the console."""
    keep = []
    for line in text.splitlines():
        key = line.partition(": ")[0]
        if key in ("mount", "device"):
            if "/dev/console" in line or "/dev/pts " in line or "/dev/ptmx" in line:
                keep.append(line)
        elif key.startswith("tty.") or key in ("ctty", "sid_is_pid", "pgid_is_pid", "pid"):
            keep.append(line)
    return keep


def _run_with_console_socket(rt, bundle, tmp_path):
    cid = harness.new_id("tty")
    recv = ConsoleReceiver(tmp_path / f"console-{rt.name}.sock")
    try:
        r = rt.create(cid, bundle, "--console-socket", recv.path)
        assert r.returncode == 0, f"{rt.name} create: exit {r.returncode}: {r.stderr}"
        try:
            assert recv.got_fd.wait(5), f"{rt.name}: no pty master on the console socket"
            st = os.fstat(recv.master)
            assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 5, "not /dev/ptmx"
            r = rt.start(cid)
            assert r.returncode == 0, f"{rt.name} start: exit {r.returncode}: {r.stderr}"
            text = recv.text()
            rt.wait_status(cid, "stopped")
        finally:
            rt.delete(cid, force=True)
            harness.reap()
        return text, rt.output(cid)
    finally:
        recv.close()


def test_terminal_with_console_socket(bundle_factory, runc, pyrunc, tmp_path):
    """The pty master goes to the console socket; the container has the slave on 0/1/2, as its
    controlling tty and bound on /dev/console; what it prints arrives on the master."""
    results = {}
    for rt in (runc, pyrunc):
        bundle = bundle_factory(tmp_path / f"bundle-{rt.name}", report("tty", "proc", "mounts", "devices"),
                                process={"terminal": True})
        text, (out, err) = _run_with_console_socket(rt, bundle, tmp_path)
        assert out == "", f"{rt.name}: container stdout went to the create's stdout: {out!r}"
        results[rt.name] = text
    runc_lines, py_lines = (_tty_report_lines(results[n]) for n in RUNTIMES)
    assert py_lines == runc_lines, "\n".join(["runc:", *runc_lines, "pyrunc:", *py_lines])
    rep = harness.parse_report(results["pyrunc"])
    assert [rep[f"tty.{i}"] for i in range(3)] == ["/dev/pts/0"] * 3
    assert rep["ctty"] == "yes"
    assert any(m.startswith("/dev/console devpts ") for m in rep["mount"]), rep["mount"]
    assert any(d.startswith("/dev/console char 136:0 ") for d in rep["device"]), rep["device"]


@pytest.mark.parametrize("verb", ["create", "run-detached"])
def test_terminal_without_console_socket_fails(runtime, bundle_factory, verb):
    bundle = bundle_factory(process={"terminal": True})
    if verb == "create":
        msg = failed_create(runtime, bundle)
    else:
        cid = harness.new_id("fail")
        r = runtime.run(cid, bundle, "--detach")
        msg = one_error(r)
        harness.reap()
        assert_nothing_left(runtime, cid)
    assert "console socket" in msg and "tty" in msg, msg


@pytest.mark.parametrize("terminal", [True, False])
def test_foreground_run_refuses_a_console_socket(runtime, bundle_factory, tmp_path, terminal):
    """runc's rule: a console socket is for a detached container with a terminal; a
    foreground `run` refuses it at once (its words), whether the socket exists or not."""
    bundle = bundle_factory(process={"terminal": terminal})
    cid = harness.new_id("fail")
    r = runtime.run(cid, bundle, "--console-socket", str(tmp_path / "no-such.sock"))
    harness.reap()
    msg = one_error(r)
    assert msg.endswith("cannot use console socket if runc will not detach or allocate tty"), msg
    assert_nothing_left(runtime, cid)


def on_pty(rt, argv, timeout=20):
    """`<runtime> argv...` in a new session with a pty as its stdin/stdout/stderr; return
    (exit code, output with the pty's CRLF as LF)."""
    master, slave = os.openpty()
    try:
        p = popen(rt, argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        slave = None
        data = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(master, 4096)
                except OSError as e:
                    if e.errno != errno.EIO:
                        raise
                    chunk = b""
                if not chunk:
                    break
                data += chunk
            elif p.poll() is not None:
                break
        return wait_proc(p, 5), data.decode(errors="replace").replace("\r\n", "\n")
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)


def _run_on_pty(rt, bundle, cid, timeout=20):
    """Foreground `run` with a pty as its stdin/stdout/stderr; return (exit code, output)."""
    try:
        rc, text = on_pty(rt, ["run", "--bundle", bundle, cid], timeout)
        return rc, text.replace("\r", "")
    finally:
        if rt.installed() and cid in rt.containers():
            rt.delete(cid, force=True)
        harness.reap()


def test_foreground_run_with_terminal(bundle_factory, runc, pyrunc, tmp_path):
    results = {}
    for rt in (runc, pyrunc):
        bundle = bundle_factory(tmp_path / f"bundle-{rt.name}", report("tty", "proc"),
                                process={"terminal": True})
        results[rt.name] = _run_on_pty(rt, bundle, harness.new_id("fgtty"))
    assert results["runc"][0] == 0, results["runc"]
    assert results["pyrunc"] == results["runc"], results
    rep = harness.parse_report(results["pyrunc"][1])
    assert [rep.get(f"tty.{i}") for i in range(3)] == ["/dev/pts/0"] * 3, rep
    assert rep["ctty"] == "yes"


# ---- stdio ----

def _normalize_io(text, rt, cid):
    return text.replace(str(rt.iodir / cid), "<io>")


def test_detached_container_inherits_runtime_stdio(bundle_factory, runc, pyrunc, tmp_path):
    """create/start: the container's 0/1/2 are the files the runtime was started with."""
    seen = {}
    for rt in (runc, pyrunc):
        cid = harness.new_id("stdio")
        bundle = bundle_factory(tmp_path / f"bundle-{rt.name}", report("fds"))
        out, err = create_start_wait(rt, cid, bundle)
        seen[rt.name] = _normalize_io(out, rt, cid)
        assert err == "", (rt.name, err)
    assert seen["pyrunc"] == seen["runc"], seen
    rep = harness.parse_report(seen["pyrunc"])
    assert rep["fd.1"].endswith("<io>.out") and rep["fd.2"].endswith("<io>.err"), rep
    assert rep["fd.0"].endswith("null"), rep
    assert sorted(k for k in rep if k.startswith("fd.")) == ["fd.0", "fd.1", "fd.2"], rep


def test_foreground_run_without_terminal_gets_pipes(compare, bundle_factory):
    rc_rep, py_rep = same_run(compare, factory(bundle_factory, report("fds")))
    fds = {k: v for k, v in py_rep.items() if k.startswith("fd.")}
    assert fds == {"fd.0": "pipe:", "fd.1": "pipe:", "fd.2": "pipe:"}


def test_foreground_run_stdout_and_stderr_are_separate(compare, bundle_factory):
    sbs = compare(factory(bundle_factory, ["sh", "-c", "echo to-out; echo to-err >&2; echo more-out"]))
    assert sbs.runc.returncode == 0, sbs.runc.stderr
    harness.assert_same(sbs)
    assert (sbs.pyrunc.stdout, sbs.pyrunc.stderr) == ("to-out\nmore-out\n", "to-err\n")
    assert sbs.runc.stderr == "to-err\n"


def test_foreground_run_passes_stdin(compare, bundle_factory):
    sbs = compare(factory(bundle_factory, ["/bin/cat"]), input="line one\nline two\n")
    assert sbs.runc.returncode == 0, sbs.runc.stderr
    harness.assert_same(sbs)
    assert sbs.pyrunc.stdout == "line one\nline two\n"


# ---- --preserve-fds ----

# opens 3 and 4 (files), 5 (a directory) and 6 (a file), none close-on-exec, then execs "$@"
FD_WRAPPER = 'exec 3<"$1" 4<"$2" 5<"$3" 6<"$4"; shift 4; exec "$@"'


def _run_wrapped(rt, argv, tmp_path, wrapper, wrapper_args, env=None, timeout=20):
    out = tmp_path / f"wrapped-{rt.name}.out"
    err = tmp_path / f"wrapped-{rt.name}.err"
    with open(out, "wb") as o, open(err, "wb") as e:
        p = subprocess.Popen(["/bin/sh", "-c", wrapper, "sh", *map(str, wrapper_args),
                              rt.binary, *rt.global_flags(), *map(str, argv)],
                             stdin=subprocess.DEVNULL, stdout=o, stderr=e, env=env)
        rc = wait_proc(p, timeout)
    harness.reap()
    return rc, out.read_text(), err.read_text()


@pytest.mark.parametrize("n", [0, 1, 2])
def test_preserve_fds(bundle_factory, runc, pyrunc, tmp_path, n):
    """fds 3..3+n-1 reach the container; the caller's other open fds (a dir fd among them) do not."""
    files = []
    for i in range(3):
        f = tmp_path / f"preserved-{i}.txt"
        f.write_text(f"file {i}\n")
        files.append(f)
    opened = [files[0], files[1], tmp_path, files[2]]       # fds 3, 4, 5, 6
    results = {}
    for rt in (runc, pyrunc):
        cid = harness.new_id("fds")
        bundle = bundle_factory(tmp_path / f"bundle-{rt.name}", report("fds"))
        rc, out, err = _run_wrapped(rt, ["run", "--bundle", bundle, "--preserve-fds", n, cid],
                                    tmp_path, FD_WRAPPER, opened)
        if cid in rt.containers():
            rt.delete(cid, force=True)
        results[rt.name] = (rc, out)
        assert rc == 0 or rt.name == "pyrunc", f"runc: exit {rc}: {err}"
        if rt.name == "pyrunc":
            assert rc == 0, f"pyrunc: exit {rc}: {err}"
    assert results["pyrunc"] == results["runc"], results
    rep = harness.parse_report(results["pyrunc"][1])
    fds = {k: v for k, v in rep.items() if k.startswith("fd.")}
    want = {"fd.0": "pipe:", "fd.1": "pipe:", "fd.2": "pipe:"}
    want.update({f"fd.{3 + i}": str(opened[i]) for i in range(n)})
    assert fds == want


# ---- LISTEN_FDS socket activation ----

LISTEN_WRAPPER = 'exec 3<"$1" 5<"$2"; shift 2; LISTEN_PID=${LISTEN_PID:-$$} LISTEN_FDS=1 exec "$@"'


@pytest.mark.parametrize("listen_pid", [None, "1"], ids=["own-pid", "other-pid"])
def test_listen_fds_socket_activation(bundle_factory, runc, pyrunc, tmp_path, listen_pid):
    """With LISTEN_PID = the runtime's pid, fd 3 is passed and LISTEN_FDS=1, LISTEN_PID=1 are
    added to the container's env; with another LISTEN_PID nothing is."""
    listened = tmp_path / "listened.txt"
    listened.write_text("socket stand-in\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}
    if listen_pid:
        env["LISTEN_PID"] = listen_pid
    results = {}
    for rt in (runc, pyrunc):
        cid = harness.new_id("listen")
        bundle = bundle_factory(tmp_path / f"bundle-{rt.name}", report("fds", "env"))
        rc, out, err = _run_wrapped(rt, ["run", "--bundle", bundle, cid], tmp_path,
                                    LISTEN_WRAPPER, [listened, tmp_path], env=env)
        if cid in rt.containers():
            rt.delete(cid, force=True)
        assert rc == 0, f"{rt.name}: exit {rc}: {err}"
        results[rt.name] = out
    assert results["pyrunc"] == results["runc"]
    rep = harness.parse_report(results["pyrunc"])
    fds = sorted(k for k in rep if k.startswith("fd."))
    listen_env = sorted(e for e in rep["env"] if e.startswith("LISTEN_"))
    if listen_pid is None:
        assert fds == ["fd.0", "fd.1", "fd.2", "fd.3"] and rep["fd.3"] == str(listened)
        assert listen_env == ["LISTEN_FDS=1", "LISTEN_PID=1"]
    else:
        assert fds == ["fd.0", "fd.1", "fd.2"]
        assert listen_env == []


# ---- run: exit status and signals ----

@pytest.mark.parametrize("code", [0, 7, 255])
def test_run_returns_exit_status(compare, bundle_factory, code):
    sbs = compare(factory(bundle_factory, ["/probe", "exit", str(code)]))
    assert sbs.runc.returncode == code, sbs.runc.stderr
    harness.assert_same(sbs)


def _no_pid_namespace(cfg):
    cfg["linux"]["namespaces"] = [ns for ns in cfg["linux"]["namespaces"] if ns["type"] != "pid"]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGABRT],
                         ids=lambda s: s.name)
def test_run_killed_by_signal_returns_128_plus_signal(compare, bundle_factory, sig):
    """Without a pid namespace the probe is not an init, so its own signal kills it."""
    sbs = compare(factory(bundle_factory, ["/probe", "kill-self", str(int(sig))],
                          edit=_no_pid_namespace))
    assert sbs.runc.returncode == 128 + sig, (sbs.runc.returncode, sbs.runc.stdout, sbs.runc.stderr)
    harness.assert_same(sbs)


def test_run_killed_from_outside_returns_137(bundle_factory, runc, pyrunc, tmp_path):
    """`kill ID KILL` on a foreground run's container: run exits 128+9."""
    for rt in (runc, pyrunc):
        cid = harness.new_id("killed")
        bundle = bundle_factory(tmp_path / f"bundle-{rt.name}", ["/probe", "signals"])
        out = tmp_path / f"killed-{rt.name}.out"
        with open(out, "wb") as o:
            p = popen(rt, ["run", "--bundle", bundle, cid], stdin=subprocess.DEVNULL, stdout=o,
                      stderr=subprocess.PIPE)
        try:
            harness.wait_for(lambda: "ready" in out.read_text(), 10, f"{rt.name}: probe ready")
            assert rt.kill(cid, "KILL").returncode == 0
            rc = wait_proc(p)
            stderr = p.stderr.read().decode()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stderr.close()
            if cid in rt.containers():
                rt.delete(cid, force=True)
            harness.reap()
        assert rc == 128 + signal.SIGKILL, f"{rt.name}: exit {rc}: {stderr}"


def test_run_forwards_signals_to_the_container(bundle_factory, runc, pyrunc, tmp_path):
    """SIGUSR1, SIGHUP and SIGTERM sent to a foreground run reach the probe, in order."""
    outputs = {}
    for rt in (runc, pyrunc):
        cid = harness.new_id("fwd")
        bundle = bundle_factory(tmp_path / f"bundle-{rt.name}", ["/probe", "signals"])
        out = tmp_path / f"fwd-{rt.name}.out"
        err = tmp_path / f"fwd-{rt.name}.err"
        with open(out, "wb") as o, open(err, "wb") as e:
            p = popen(rt, ["run", "--bundle", bundle, cid], stdin=subprocess.DEVNULL, stdout=o, stderr=e)
        try:
            harness.wait_for(lambda: "ready" in out.read_text(), 10, f"{rt.name}: probe ready")
            for sig in (signal.SIGUSR1, signal.SIGHUP):
                os.kill(p.pid, sig)
                harness.wait_for(lambda: f"signal: {int(sig)}\n" in out.read_text(), 5,
                                 f"{rt.name}: {sig.name} to reach the container")
            os.kill(p.pid, signal.SIGTERM)
            rc = wait_proc(p)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            if cid in rt.containers():
                rt.delete(cid, force=True)
            harness.reap()
        # runc (Go) also forwards the SIGURGs its runtime sends itself for goroutine preemption
        lines = [l for l in out.read_text().splitlines(True) if l != f"signal: {int(signal.SIGURG)}\n"]
        outputs[rt.name] = (rc, "".join(lines))
    assert outputs["runc"] == (0, "ready\nsignal: 10\nsignal: 1\nsignal: 15\n"), outputs["runc"]
    assert outputs["pyrunc"] == outputs["runc"]


@pytest.mark.parametrize("where,field", [("process", "apparmorProfile"), ("process", "selinuxLabel")])
def test_security_label_is_refused_not_ignored(runtime, bundle_factory, where, field):
    """A label this host (no AppArmor, no SELinux) cannot apply fails create under runc and
    pyrunc alike, one line, nothing left: a container must not run without the
    confinement its config asked for."""
    bundle = bundle_factory(**{where: {field: "pyrt_label"}})
    msg = failed_create(runtime, bundle)
    assert ("apparmor" if field == "apparmorProfile" else "selinux") in msg, msg
