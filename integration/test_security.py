"""Attacks, one regression test each: the container, its image or its config is the attacker.

Every test makes the attack for real and asserts positive evidence that it was made
(the hunter in the container saw the runtime's process, the image's symlink was in
place when the runtime resolved the path, the swap raced the create), then that it
failed: nothing of the host changed (a sentinel file and directories in tmp_path, the
installed runtime's files, /proc/sys/kernel/core_pattern, the host's mount table) and
a refused config left one line on stderr, exit 1 and nothing behind (no state dir,
cgroup, mount or process; the autouse no_leaks fixture checks that too).  runc 1.1.5
runs the same attack where it behaves alike; where it is itself vulnerable (it
predates the 2025 fixes) or behaves otherwise, the test says so and runs pyrunc alone.

The attacker in the container is `/probe hunt` (CVE-2019-5736) and `/probe open`
(integration/probe/probe.c).

Covered elsewhere, not repeated here:
- test_rootfs.py::test_mount_on_a_symlink_lands_inside_the_rootfs: mount destinations
  that are absolute, dangling and relative-escaping (../../..) symlinks in the image.
- test_rootfs.py::test_default_masked_and_readonly_paths: /proc/kcore, keys and
  timer_list read empty, /proc/sys and /proc/sysrq-trigger refuse writes (EROFS);
  test_masked_and_readonly_paths_as_runcs_default_spec below covers the whole list.
- test_process.py::test_preserve_fds: a directory fd of the caller does not reach a
  foreground `run`'s init; --preserve-fds passes exactly the fds asked for.
- test_cli.py::test_invalid_id_wording and test_id_over_1024_bytes_is_invalid: ids
  with "/", "..", ".", " ", an absolute path, and over 1024 bytes.
- test_cgroups_v1.py::test_dotdot_in_cgroups_path_is_refused: ".." in cgroupsPath,
  nothing left in any hierarchy.
- test_namespaces.py::test_non_namespaced_sysctl_is_refused and
  test_sysctl_without_its_namespace_is_refused: sysctls that would change the host.
- guest/cgroups_v2_checks.py (test_cgroups_v2.py) unified_slash_refused and
  unified_dotdot_refused: `unified` keys with "/" and ".." on a pure cgroup v2 host
  (this host is hybrid, where both runtimes refuse `unified` altogether).
"""
import ctypes
import hashlib
import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

import harness
from test_process import ConsoleReceiver

pytestmark = pytest.mark.integration

CORE_PATTERN = Path("/proc/sys/kernel/core_pattern")
PWNED = "pyrt-pwned"
SLEEP = ["/probe", "sleep", "60"]
# the runc spec's mounts without /dev and its submounts: the image's own /dev is used
NO_DEV = [m for m in harness.RUNC_SPEC["mounts"] if not m["destination"].startswith("/dev")]
DEVPTS = [m for m in harness.RUNC_SPEC["mounts"] if m["destination"] == "/dev/pts"]
ERRNO_NAME = re.compile(r"^E[A-Z0-9]+$")


# ---- helpers ----

def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def runtime_files(rt):
    """The installed runtime's executable files: the launcher, the interpreter its #! line
    names (resolved) and the compiled shim of the package beside it."""
    launcher = Path(os.path.realpath(rt.binary))
    first = launcher.read_bytes().split(b"\n", 1)[0].decode()
    assert first.startswith("#!"), f"{launcher} is not a #! launcher: {first!r}"
    interpreter = Path(os.path.realpath(first[2:].split()[0]))
    shims = sorted(launcher.parent.parent.glob("lib/python3*/site-packages/pyrunc/_shim*.so"))
    assert interpreter.is_file() and shims, (interpreter, shims)
    return [launcher, interpreter, *shims]


def error_line(r, status=1):
    """A refused command: exit 1 (exec: 255, as runc), exactly one runc-shaped line on
    stderr, no traceback; returns the message (pyrunc's JSON-style escapes undone)."""
    assert r.returncode == status, f"exit {r.returncode}\nstdout: {r.stdout[-2000:]}\nstderr: {r.stderr[-2000:]}"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, f"want one line of error, got:\n{r.stderr[-4000:]}"
    assert "Traceback" not in r.stderr
    m = re.search(r'level=error msg="((?:[^"\\]|\\.)*)"', lines[0])
    assert m, f"not a runc-style error line: {lines[0]}"
    try:
        return json.loads('"' + m.group(1) + '"')
    except ValueError:          # runc's Go escapes (\x00)
        return m.group(1)


def tree(path):
    """Every path below `path` (relative), without following symlinks."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            out.add(os.path.relpath(os.path.join(dirpath, name), path))
    return out


def host_mountpoints():
    return {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()}


class Refusal:
    """Snapshot before a command that must be refused; check() after it: one line,
    exit 1, and no state dir, cgroup, host mount under tmp_path or process left."""

    def __init__(self, rt, tmp_path):
        self.rt = rt
        self.tmp_path = tmp_path
        self.procs = {(p.pid, p.start) for p in harness.descendants()}
        self.mounts = harness._mounts(tmp_path)

    def check(self, r, cid, *needles):
        msg = error_line(r)
        for needle in needles:
            assert needle in msg, f"{needle!r} not in the error: {msg}"
        assert self.rt.containers() == [], f"{self.rt.name} left state: {self.rt.containers()}"
        assert not harness._cgroups([cid]), f"cgroups of {cid!r} left behind"
        assert harness._mounts(self.tmp_path) == self.mounts, "a mount was left under tmp_path"
        harness.reap()
        left = [p for p in harness.descendants() if (p.pid, p.start) not in self.procs]
        assert not left, f"processes left: {left}"
        return msg


def refused_create(rt, bundle, tmp_path, *needles, cid=None, timeout=30):
    cid = cid or harness.new_id("refused")
    ref = Refusal(rt, tmp_path)
    r = rt.create(cid, bundle, timeout=timeout)
    if r.returncode == 0:
        rt.delete(cid, force=True)
    return ref.check(r, cid, *needles)


class HostTargets:
    """What an attack aims at on the host: a sentinel file and two directories in tmp_path,
    /proc/sys/kernel/core_pattern and the host's mount table.  check() fails if any of
    them changed (and puts core_pattern back)."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.sentinel = tmp_path / "host-sentinel"
        self.sentinel.write_text("host sentinel\n")
        self.dir = tmp_path / "host-dir"
        self.dir2 = tmp_path / "host-dir2"
        for d in (self.dir, self.dir2):
            d.mkdir()
            (d / "keep").write_text("host dir\n")
        self.core_pattern = CORE_PATTERN.read_text()
        self.mounts = host_mountpoints()

    def inside(self, rootfs, path):
        """`path` (a host path) as the same path inside `rootfs`."""
        return Path(rootfs) / str(path).lstrip("/")

    def check(self):
        now = CORE_PATTERN.read_text()
        if now != self.core_pattern:
            CORE_PATTERN.write_text(self.core_pattern)
            raise AssertionError(f"host core_pattern was changed to {now!r} (put back)")
        assert self.sentinel.read_text() == "host sentinel\n", "the host sentinel file was written"
        for d in (self.dir, self.dir2):
            assert os.listdir(d) == ["keep"], f"host dir changed: {os.listdir(d)}"
            assert (d / "keep").read_text() == "host dir\n"
        new = host_mountpoints() - self.mounts
        aimed = {str(self.sentinel), str(self.dir), str(self.dir2), str(CORE_PATTERN), "/etc", "/"}
        bad = {m for m in new if m in aimed or m.startswith(str(self.tmp_path) + "/")}
        assert not bad, f"mounts appeared on the host: {sorted(bad)}"


@pytest.fixture
def host(tmp_path):
    targets = HostTargets(tmp_path)
    yield targets
    targets.check()


def symlink(rootfs, at, target):
    """Replace `at` (a container path) in the image by a symlink to `target`."""
    p = Path(rootfs) / at.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.is_symlink() or p.is_file():
        p.unlink()
    elif p.is_dir():
        p.rmdir()
    os.symlink(target, p)
    return p


def run_and_delete(rt, bundle, *extra, timeout=30):
    cid = harness.new_id("atk")
    try:
        return rt.run(cid, bundle, *extra, timeout=timeout)
    finally:
        if cid in rt.containers():
            rt.delete(cid, force=True)
        harness.reap()


def wrapped(rt, argv, fds_script, fds_args, timeout=30):
    """Run `<runtime> <global flags> argv` from a shell that first opens `fds_script`'s
    fds (e.g. 'exec 3<"$1" 4</'), none close-on-exec: the caller's extra open fds."""
    out, err = rt.workdir / "wrapped.out", rt.workdir / "wrapped.err"
    with open(out, "wb") as o, open(err, "wb") as e:
        p = subprocess.run(["/bin/sh", "-c", fds_script + '; shift %d; exec "$@"' % len(fds_args), "sh",
                            *map(str, fds_args), rt.binary, *rt.global_flags(), *map(str, argv)],
                           stdin=subprocess.DEVNULL, stdout=o, stderr=e, timeout=timeout)
    harness.reap()
    return subprocess.CompletedProcess(p.args, p.returncode, out.read_text(errors="replace"),
                                       err.read_text(errors="replace"))


# fds 3..9 of the caller: the host's root, seven times over (CVE-2024-21626's leaked fd)
HOST_ROOT_FDS = "exec 3</ 4</ 5</ 6</ 7</ 8</ 9</"


# ---- CVE-2019-5736: the runtime's binary from /proc/PID/exe ----

HUNT_FIELDS = ("wronly", "rdwr", "path", "reopen", "fds", "map_files")


def hunted(text):
    """`probe hunt` output -> [dict of one `foreign:` line]."""
    out = []
    for line in text.splitlines():
        if line.startswith("foreign: "):
            out.append(dict(re.findall(r"(\w+)=(\S+)", line[len("foreign: "):])) | {"line": line})
    return out


def assert_nothing_reached(observations):
    """No open of a foreign process's binary, fd or mapping succeeded, and its exe was
    not even readable (an errno, never a host path)."""
    for o in observations:
        assert ERRNO_NAME.match(o["exe"]), f"the host binary of pid {o['pid']} is visible: {o['line']}"
        for field in HUNT_FIELDS:
            assert "ok" not in o[field].split(","), f"{field} succeeded: {o['line']}"


def test_exec_joiner_binary_cannot_be_opened_from_the_container(pyrunc, bundle_factory, tmp_path):
    """CVE-2019-5736: while `pyrunc exec` joins a running container, a process in the
    container scans /proc for processes whose /proc/PID/exe is not a file of the
    container and tries to open that binary for writing (O_WRONLY, O_RDWR, O_PATH plus a
    reopen through /proc/self/fd), and every /proc/PID/fd and /proc/PID/map_files entry.

    The joining process (the shim's clone, still the Python interpreter until its
    execve) is visible in the container's pid namespace: the hunter must see it at
    least once (its comm the launcher's name, exe unreadable) or the test proves nothing.  It is not
    dumpable and has capabilities the container lacks, so every open fails with
    EACCES; the pyrunc parent never enters the pid namespace.  The execs hold an O_PATH
    fd of the host's / and a directory fd, which must not be reachable either.  The
    launcher, the interpreter its #! names and the shim .so hash the same before and
    after.  pyrunc alone: runc's binary is a different file (a sealed memfd copy).

    Outside this protection: a container given CAP_SYS_PTRACE (in the host's user
    namespace) can read the joiner's exe link and hold an O_PATH fd of the interpreter,
    and open its fds; runc's memfd copy still keeps its binary safe in that case.
    """
    files = runtime_files(pyrunc)
    before = {p: sha256(p) for p in files}
    comm = Path(pyrunc.binary).name[:15]        # the joiner is still the launcher's process
    bundle = bundle_factory(args=["/probe", "hunt", "120"])
    cid = harness.new_id("hunt")
    r = pyrunc.run(cid, bundle, "--detach")
    assert r.returncode == 0, r.stderr
    execs = 0
    try:
        harness.wait_for(lambda: "ready" in pyrunc.output(cid)[0], 10, "the hunter to start")
        host_root = os.open("/", os.O_PATH)
        a_dir = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            deadline = time.monotonic() + 20
            while True:
                p = subprocess.run([pyrunc.binary, *pyrunc.global_flags(), "exec", cid, "/probe", "exit", "0"],
                                   pass_fds=(host_root, a_dir), stdin=subprocess.DEVNULL,
                                   capture_output=True, text=True, timeout=30)
                assert p.returncode == 0, f"exec: exit {p.returncode}: {p.stderr}"
                execs += 1
                seen = [o for o in hunted(pyrunc.output(cid)[0]) if o["comm"] == comm]
                if (execs >= 20 and seen) or time.monotonic() > deadline:
                    break
        finally:
            os.close(host_root)
            os.close(a_dir)
    finally:
        pyrunc.delete(cid, force=True)
        harness.reap()
    observations = hunted(pyrunc.output(cid)[0])
    joiners = [o for o in observations if o["comm"] == comm]
    assert joiners, (f"in {execs} execs the hunter never saw the joining process before its execve: "
                     f"the test proved nothing\n{pyrunc.output(cid)[0][-2000:]}")
    assert_nothing_reached(observations)
    assert {o["exe"] for o in joiners} <= {"EACCES", "EPERM"}, joiners
    assert {p: sha256(p) for p in files} == before, "an installed runtime file changed"


def test_parked_init_is_out_of_reach_of_an_exec(pyrunc, bundle_factory, tmp_path):
    """A created (not started) container's init is the shim, parked before its execve:
    pid 1 of the container, its exe the runtime's interpreter.  A process exec'd into
    the container finds it (deterministically: it is there until `start`) and can open
    neither its binary nor its fds (the exec fifo, the rootfs, the create's fds: the
    create held an O_PATH fd of the host's / at 3..9) nor its mappings.

    pyrunc alone: runc 1.1.5's foreground exec into a created container blocks until
    the container is started.
    """
    files = runtime_files(pyrunc)
    before = {p: sha256(p) for p in files}
    cid = harness.new_id("parked")
    r = wrapped(pyrunc, ["create", "--bundle", bundle_factory(args=SLEEP), cid], HOST_ROOT_FDS, [])
    assert r.returncode == 0, r.stderr
    try:
        r = pyrunc.cmd("exec", cid, "/probe", "hunt", "0.5")
        assert r.returncode == 0, r.stderr
    finally:
        pyrunc.delete(cid, force=True)
        harness.reap()
    observations = hunted(r.stdout)
    init = [o for o in observations if o["pid"] == "1"]
    assert init, f"the hunter did not see the parked init (pid 1):\n{r.stdout}"
    assert init[0]["comm"] == Path(pyrunc.binary).name[:15], init
    assert_nothing_reached(observations)
    assert {p: sha256(p) for p in files} == before


# ---- CVE-2024-21626: fds and cwd ----

def fds_of(pid):
    return {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}


def test_caller_fds_never_reach_the_container(runc, pyrunc, bundle_factory, tmp_path):
    """The runtime started with fd 3 a file, 4 the host's / and 5 a host directory:
    the started init holds 0, 1, 2 only; an exec'd process the same, and with
    --preserve-fds 1 also 3 (the file) and nothing of 4 and 5.  As runc."""
    data = tmp_path / "preserved.txt"
    data.write_text("preserved\n")
    script = 'exec 3<"$1" 4</ 5<"$2"'
    seen = {}
    for rt in (runc, pyrunc):
        cid = harness.new_id("fds")
        bundle = bundle_factory(tmp_path / f"bundle-{rt.name}", SLEEP)
        r = wrapped(rt, ["create", "--bundle", bundle, cid], script, [data, tmp_path])
        assert r.returncode == 0, f"{rt.name} create: {r.stderr}"
        try:
            pid = rt.state(cid)["pid"]
            r = wrapped(rt, ["start", cid], script, [data, tmp_path])
            assert r.returncode == 0, f"{rt.name} start: {r.stderr}"
            probe = os.stat(bundle / "rootfs" / "probe")
            harness.wait_for(lambda: (lambda s: (s.st_dev, s.st_ino) == (probe.st_dev, probe.st_ino))(
                os.stat(f"/proc/{pid}/exe")), 10, f"{rt.name}: the init to exec /probe")
            init = sorted(fds_of(pid))
            execs = []
            for extra in ([], ["--preserve-fds", "1"]):
                r = wrapped(rt, ["exec", *extra, cid, "/probe", "report", "fds"], script, [data, tmp_path])
                assert r.returncode == 0, f"{rt.name} exec {extra}: {r.stderr}"
                execs.append(r.stdout)
        finally:
            rt.delete(cid, force=True)
            harness.reap()
        seen[rt.name] = (init, execs)
    assert seen["pyrunc"] == seen["runc"], seen
    init, (plain, preserved) = seen["pyrunc"]
    assert init == [0, 1, 2]
    assert {k: v for k, v in harness.parse_report(plain).items() if k.startswith("fd.")} == \
        {"fd.0": "pipe:", "fd.1": "pipe:", "fd.2": "pipe:"}
    assert {k: v for k, v in harness.parse_report(preserved).items() if k.startswith("fd.")} == \
        {"fd.0": "pipe:", "fd.1": "pipe:", "fd.2": "pipe:", "fd.3": str(data)}


@pytest.mark.parametrize("n", range(3, 10))
def test_cwd_through_proc_self_fd_is_refused_by_run(runc, pyrunc, bundle_factory, tmp_path, n):
    """CVE-2024-21626: process.cwd "/proc/self/fd/N" while the caller holds the host's /
    at fds 3..9.  Whatever fd N is in the runtime's child (a leaked one, or one of the
    runtime's own), `run` is refused with one line, exit 1, and nothing is left: no
    container, and nothing made in the rootfs.  As runc (Debian's 1.1.5 carries the fix).
    """
    for rt in (runc, pyrunc):
        bundle = bundle_factory(tmp_path / f"bundle-{rt.name}", ["/probe", "report", "proc", "fds"],
                                process={"cwd": f"/proc/self/fd/{n}"}, root={"readonly": False})
        image = tree(bundle / "rootfs")
        cid = harness.new_id("cwd")
        ref = Refusal(rt, tmp_path)
        r = wrapped(rt, ["run", "--bundle", bundle, cid], HOST_ROOT_FDS, [])
        if cid in rt.containers():
            rt.delete(cid, force=True)
        made = sorted(tree(bundle / "rootfs") - image)
        assert r.returncode != 0, (f"{rt.name} ran with cwd /proc/self/fd/{n} (made {made[:8]} in the rootfs):"
                                   f"\n{r.stdout}")
        if rt.name == "pyrunc":
            ref.check(r, cid)
        assert not made, f"{rt.name} made {made} in the rootfs"


def test_exec_cwd_through_proc_self_fd_is_refused(runc, pyrunc, bundle_factory, tmp_path):
    """CVE-2024-21626 through `exec --cwd /proc/self/fd/N` (N = 3..9), the caller holding the
    host's / at fds 3..9: refused, one line, exit 255 (exec's, as runc), no process left; the
    container runs on.  runc refuses too."""
    for rt in (runc, pyrunc):
        cid = harness.new_id("xcwd")
        assert rt.run(cid, bundle_factory(tmp_path / f"bundle-{rt.name}", SLEEP), "--detach").returncode == 0
        try:
            for n in range(3, 10):
                procs = {(p.pid, p.start) for p in harness.descendants()}
                r = wrapped(rt, ["exec", "--cwd", f"/proc/self/fd/{n}", cid, "/probe", "report", "proc"],
                            HOST_ROOT_FDS, [])
                assert r.returncode != 0, f"{rt.name} exec ran in /proc/self/fd/{n}:\n{r.stdout}"
                if rt.name == "pyrunc":
                    assert error_line(r, 255).startswith("exec failed: ")
                    left = [p for p in harness.descendants() if (p.pid, p.start) not in procs]
                    assert not left, left
            assert rt.state(cid)["status"] == "running"
        finally:
            rt.delete(cid, force=True)
            harness.reap()


# ---- symlinks in the image ----

def masked_writes_script():
    """Open for writing, then write to, /dev/null, /dev/console, every default masked path
    and core_pattern; print PATH=RESULT lines, then the container's mount points."""
    paths = ["/dev/null", "/dev/console", *harness.RUNC_SPEC["linux"]["maskedPaths"], str(CORE_PATTERN)]
    writes = "; ".join(f"echo {p}=$(/probe open {p} w)" for p in paths)
    return f"{writes}; for p in {' '.join(paths)}; do /probe write $p {PWNED} >/dev/null; done; " \
           "cut -d' ' -f5 /proc/self/mountinfo"


@pytest.mark.parametrize("target", ["core_pattern", "host-absolute", "host-relative"])
def test_dev_null_symlink_never_masks_or_writes_a_host_file(pyrunc, bundle_factory, tmp_path, host, target):
    """CVE-2025-31133: the image's /dev/null is a symlink (the config mounts no tmpfs on
    /dev) to /proc/sys/kernel/core_pattern or to a host file, by absolute path or by
    ../../.. .  The runtime binds /dev/null over every masked path: it must bind the null
    device or refuse (pyrunc checks it is char 1:3 and refuses with one line), never
    bind the link's target there, where the container could write it.  The container
    writes to /dev/null and every masked path; host core_pattern and the sentinel stay.

    pyrunc alone: runc 1.1.5 predates the fix and binds core_pattern over the masked
    paths (running it would let this test write the host's core_pattern).
    """
    link = {"core_pattern": str(CORE_PATTERN), "host-absolute": str(host.sentinel),
            "host-relative": "../" * 12 + str(host.sentinel).lstrip("/")}[target]
    bundle = bundle_factory(args=["/bin/sh", "-c", masked_writes_script()], mounts=NO_DEV,
                            root={"readonly": False})
    symlink(bundle / "rootfs", "/dev/null", link)
    cid = harness.new_id("null")
    ref = Refusal(pyrunc, tmp_path)
    r = pyrunc.run(cid, bundle)
    if cid in pyrunc.containers():
        pyrunc.delete(cid, force=True)
    host.check()
    if r.returncode != 0:
        msg = ref.check(r, cid)
        assert "/dev/null" in msg, msg
    assert os.path.islink(bundle / "rootfs" / "dev" / "null"), "the attack was not in place"


@pytest.mark.parametrize("target", ["core_pattern", "host-absolute", "host-relative"])
def test_dev_console_symlink_never_reaches_the_host(pyrunc, bundle_factory, tmp_path, host, target):
    """CVE-2025-52565: terminal: true and the image's /dev/console a symlink (no tmpfs on
    /dev; devpts on /dev/pts) to /proc/sys/kernel/core_pattern or a host file.  The pty
    the runtime binds on /dev/console must land inside the container or the create is
    refused; the container then writes to /dev/console and to core_pattern, and the
    host's core_pattern and sentinel stay as they were, with no mount on the host.

    pyrunc alone: runc 1.1.5 predates the fix.
    """
    link = {"core_pattern": str(CORE_PATTERN), "host-absolute": str(host.sentinel),
            "host-relative": "../" * 12 + str(host.sentinel).lstrip("/")}[target]
    script = (f"for f in /dev/console {CORE_PATTERN} {host.sentinel}; do echo $f=$(/probe write $f {PWNED}); "
              "done; cut -d' ' -f5 /proc/self/mountinfo")
    bundle = bundle_factory(args=["/bin/sh", "-c", script], mounts=NO_DEV + DEVPTS,
                            process={"terminal": True, "env": ["PATH=/bin", "HOME=/root"]})
    symlink(bundle / "rootfs", "/dev/console", link)
    cid = harness.new_id("console")
    recv = ConsoleReceiver(tmp_path / "console.sock")
    try:
        ref = Refusal(pyrunc, tmp_path)
        r = pyrunc.create(cid, bundle, "--console-socket", recv.path, timeout=15)
        if r.returncode != 0:
            ref.check(r, cid)
        else:
            try:
                assert pyrunc.start(cid).returncode == 0
                text = recv.text()
                pyrunc.wait_status(cid, "stopped")
            finally:
                pyrunc.delete(cid, force=True)
                harness.reap()
            assert "/dev/console=ok" in text, f"the container did not run its writes:\n{text}"
    finally:
        recv.close()
    host.check()


def test_dev_console_symlink_cannot_hang_create(pyrunc, bundle_factory, tmp_path, host):
    """CVE-2025-52565, second face: the image's /dev/console is a symlink to /etc/passwd,
    which the runtime reads while it sets HOME (the env has none).  If the pty is bound
    there, the runtime reads its own console and `create` never returns (and whoever
    holds the console socket would choose HOME).  create must finish: refused with one
    line, or with the pty only on /dev/console.

    pyrunc alone: runc 1.1.5 predates the fix and hangs the same way.
    """
    bundle = bundle_factory(args=["/bin/sh", "-c", "echo HOME=$HOME; cut -d' ' -f5 /proc/self/mountinfo"],
                            mounts=NO_DEV + DEVPTS, process={"terminal": True, "env": ["PATH=/bin"]})
    symlink(bundle / "rootfs", "/dev/console", "/etc/passwd")
    cid = harness.new_id("console")
    recv = ConsoleReceiver(tmp_path / "console.sock")
    try:
        ref = Refusal(pyrunc, tmp_path)
        try:
            r = pyrunc.create(cid, bundle, "--console-socket", recv.path, timeout=6)
        except harness.HarnessError:
            r = None
        finally:
            if cid in pyrunc.containers():
                pyrunc.delete(cid, force=True)
            harness.reap()
        assert r is not None, ("create hung for 6 s: the pty was bound over the image's /etc/passwd through "
                               "its /dev/console symlink, and the runtime read it for HOME")
        if r.returncode != 0:
            ref.check(r, cid)
    finally:
        recv.close()
    assert (bundle / "rootfs" / "etc" / "passwd").read_text() == harness.PASSWD


@pytest.mark.parametrize("target", ["host-absolute", "host-relative"])
def test_dev_pts_symlink_keeps_devpts_inside(runc, pyrunc, bundle_factory, tmp_path, host, target):
    """The image's /dev/pts (no tmpfs on /dev) is a symlink to a host directory: the devpts
    mount lands on that path inside the rootfs, or the create is refused; the host
    directory is untouched.  runc and pyrunc alike."""
    link = str(host.dir) if target == "host-absolute" else "../" * 12 + str(host.dir).lstrip("/")
    for rt in (runc, pyrunc):
        bundle = bundle_factory(tmp_path / f"bundle-{rt.name}", ["/bin/sh", "-c", "cut -d' ' -f5,9 /proc/self/mountinfo"],
                                mounts=NO_DEV + DEVPTS)
        symlink(bundle / "rootfs", "/dev/pts", link)
        r = run_and_delete(rt, bundle)
        host.check()
        if r.returncode == 0:
            assert f"{host.dir} devpts" in r.stdout.splitlines(), f"{rt.name}: devpts is not inside:\n{r.stdout}"
            assert host.inside(bundle / "rootfs", host.dir).is_dir()
        else:
            assert r.returncode == 1, f"{rt.name}: {r.stderr}"


@pytest.mark.parametrize("target", ["host-absolute", "relative", "with-sysctl"])
def test_proc_symlink_is_refused(runc, pyrunc, bundle_factory, tmp_path, host, target):
    """The image's /proc is a symlink (to a host directory's path, or to tmp/x): procfs
    is never mounted through it (it would carry the masks and the sysctl writes along,
    the CVE-2019-19921 class).  Both runtimes refuse with runc's words, one line, nothing
    left, the host untouched; with a sysctl no write happens anywhere."""
    link = "tmp/x" if target == "relative" else str(host.dir)
    extra = {"linux": {"sysctl": {"net.ipv4.ip_forward": "1"}}} if target == "with-sysctl" else {}
    forward = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    for rt in (runc, pyrunc):
        bundle = bundle_factory(tmp_path / f"bundle-{rt.name}",
                                ["/bin/sh", "-c", "cut -d' ' -f5,9 /proc/self/mountinfo; ls /proc/self/ns"], **extra)
        symlink(bundle / "rootfs", "/proc", link)
        ref = Refusal(rt, tmp_path)
        cid = harness.new_id("proc")
        r = rt.run(cid, bundle)
        if cid in rt.containers():
            rt.delete(cid, force=True)
        host.check()
        assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == forward
        assert r.returncode == 1, f"{rt.name} ran procfs through the /proc symlink:\n{r.stdout}{r.stderr}"
        assert 'filesystem \\"proc\\" must be mounted on ordinary directory' in r.stderr, r.stderr
        if rt.name == "pyrunc":
            ref.check(r, cid, 'mount "proc" on "/proc"')
        assert not (bundle / "rootfs" / "tmp" / "x").exists() and not list(host.dir.iterdir())[1:]


def test_masked_and_readonly_paths_that_are_symlinks_stay_inside(runc, pyrunc, bundle_factory, tmp_path, host):
    """maskedPaths /evil (-> the host sentinel's absolute path) and /evil2 (-> ../../..
    to a host directory) and readonlyPaths /evil3 (-> another host directory): the masks
    and the read-only bind land on those paths inside the rootfs (the image has them), the
    container reads them empty or read-only, and the host's files stay and are not
    mounted over.  The same under runc (which resolves them after pivot_root)."""
    script = ("for f in /evil /evil2/keep /evil3/keep /evil3/new; do "
              f"echo $f=$(/probe read $f | head -c 32)/$(/probe write $f {PWNED}); done; "
              "cut -d' ' -f5 /proc/self/mountinfo | grep -v -E '^/(proc|sys|dev)'")

    def make(dirpath):
        bundle = bundle_factory(dirpath, ["/bin/sh", "-c", script], root={"readonly": False},
                                linux={"maskedPaths": ["/evil", "/evil2"], "readonlyPaths": ["/evil3"]})
        rootfs = bundle / "rootfs"
        symlink(rootfs, "/evil", str(host.sentinel))
        symlink(rootfs, "/evil2", "../" * 12 + str(host.dir2).lstrip("/"))
        symlink(rootfs, "/evil3", str(host.dir))
        for d in (host.dir, host.dir2):
            host.inside(rootfs, d).mkdir(parents=True)
            (host.inside(rootfs, d) / "keep").write_text("image\n")
        host.inside(rootfs, host.sentinel).write_text("image sentinel\n")
        return bundle
    sbs = harness.side_by_side(make, workdir=tmp_path / "sbs", runc=runc, pyrunc=pyrunc)
    host.check()
    assert sbs.runc.returncode == 0, sbs.runc.stderr
    harness.assert_same(sbs)
    lines = sbs.pyrunc.stdout.splitlines()
    # masked: the file reads empty (the null device), the directory is an empty read-only
    # tmpfs; read-only: the image's file is there and nothing can be written
    assert lines[:4] == ["/evil=/ok", "/evil2/keep=ENOENT/EROFS", "/evil3/keep=image/EROFS",
                         "/evil3/new=ENOENT/EROFS"], lines
    assert {str(host.sentinel), str(host.dir), str(host.dir2)} <= set(lines[4:]), lines


# ---- a directory swapped for a symlink while create runs ----

RENAME_EXCHANGE = 2
AT_FDCWD = -100


def test_dir_swapped_for_a_symlink_during_create(pyrunc, bundle_factory, tmp_path, host):
    """CVE-2021-30465 class: while `create` bind-mounts a host directory on /mnt/target, a
    thread keeps exchanging the image's /mnt/target (a directory) with a symlink to the
    host directory (absolute and ../../.. in turns), with renameat2(RENAME_EXCHANGE).

    Over 24 creates the bind must always be in the container's mount table at a path
    inside the rootfs (/mnt/target, its swapped name /mnt/target.link, or the host
    directory's path made inside the rootfs), or the create refused with one line: a
    mount that went outside the rootfs would be missing, detached with the old root.
    The host directory keeps its contents and gets no mount.  Evidence of the race:
    swaps happen during every create, and the runtime saw the symlink at least once
    (it followed it inside, or refused).  pyrunc alone (runc fixed this in 1.0.0-rc95).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    payload = tmp_path / "payload"
    payload.mkdir()
    (payload / "marker").write_text("payload\n")
    bind = {"destination": "/mnt/target", "type": "bind", "source": str(payload), "options": ["bind"]}
    bundle = bundle_factory(args=SLEEP, mounts=harness.RUNC_SPEC["mounts"] + [bind])
    mnt = bundle / "rootfs" / "mnt"
    (mnt / "target").mkdir(parents=True)
    a, b = bytes(mnt / "target"), bytes(mnt / "target.link")
    replica = str(host.dir)
    st = os.stat(payload)
    dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    outcomes = []
    for i in range(24):
        link = str(host.dir) if i % 2 else "../../" + "../" * 10 + str(host.dir).lstrip("/")
        if (mnt / "target.link").is_symlink():
            (mnt / "target.link").unlink()
        elif (mnt / "target").is_symlink():
            (mnt / "target").unlink()
            os.rename(mnt / "target.link", mnt / "target")
        os.symlink(link, mnt / "target.link")
        stop, swaps, errors = threading.Event(), [0], []

        def swap():
            while not stop.is_set():
                if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0:
                    errors.append(ctypes.get_errno())
                    return
                swaps[0] += 1
        swapper = threading.Thread(target=swap, daemon=True)
        cid = harness.new_id("race")
        ref = Refusal(pyrunc, tmp_path)
        swapper.start()
        try:
            r = pyrunc.create(cid, bundle)
        finally:
            stop.set()
            swapper.join()
        assert not errors, f"renameat2: {os.strerror(errors[0])}"
        assert swaps[0] > 0, "no swap happened during the create"
        try:
            if r.returncode != 0:
                ref.check(r, cid)
                outcomes.append("refused")
                continue
            pid = pyrunc.state(cid)["pid"]
            points = [f[4] for f in (line.split() for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines())
                      if f[2] == dev and f[3].endswith("/payload")]
        finally:
            if cid in pyrunc.containers():
                pyrunc.delete(cid, force=True)
            harness.reap()
        assert len(points) == 1, f"create {i}: the bind is not in the container ({points}): it went outside"
        assert points[0] in ("/mnt/target", "/mnt/target.link", replica), f"create {i}: bind on {points[0]}"
        outcomes.append("followed" if points[0] == replica else "dir")
        host.check()
    assert set(outcomes) - {"dir"}, f"the runtime never saw the symlink: {outcomes}"


# ---- masked and read-only paths, runc's default list ----

def test_masked_and_readonly_paths_as_runcs_default_spec(runc, pyrunc, bundle_factory, tmp_path):
    """Every maskedPaths entry of runc's default spec that exists reads empty (a file: the
    null device; a directory: an empty read-only tmpfs), every readonlyPaths entry cannot
    be opened for writing (EROFS; nothing is written, not even on a failure of the
    protection), and its mount is read-only.  Entries the host lacks are absent.  The
    same output under runc."""
    linux = harness.RUNC_SPEC["linux"]
    lines = []
    for p in linux["maskedPaths"]:
        lines.append(f'if [ -d {p} ]; then echo "{p} dir entries=$(ls -A {p} | wc -l) '
                     f'create=$(/probe write {p}/x y)"; elif [ -e {p} ]; then echo "{p} file '
                     f'bytes=$(/probe read {p} | wc -c) open-w=$(/probe open {p} w)"; else echo "{p} absent"; fi')
    for p in linux["readonlyPaths"]:
        # a file of the path that root could write (the path itself if it is a file), or none
        lines.append(f'if [ -e {p} ]; then f=$(find {p} -maxdepth 2 -type f -perm -u+w | sort | head -1); '
                     f'echo "{p} open-w=$(if [ -n "$f" ]; then /probe open $f w; else echo -; fi) '
                     f'$(awk \'$5 == "{p}" {{split($6, o, ","); print o[1]}}\' /proc/self/mountinfo | tail -1)"; '
                     f'else echo "{p} absent"; fi')
    sbs = harness.side_by_side(lambda d: bundle_factory(d, ["/bin/sh", "-c", "; ".join(lines)]),
                               workdir=tmp_path / "sbs", runc=runc, pyrunc=pyrunc)
    assert sbs.runc.returncode == 0, sbs.runc.stderr
    harness.assert_same(sbs)
    out = dict(line.split(" ", 1) for line in sbs.pyrunc.stdout.splitlines())
    for p in linux["maskedPaths"]:
        if not os.path.exists(p):
            assert out[p] == "absent"
        elif os.path.isdir(p):
            assert out[p] == "dir entries=0 create=EROFS", (p, out[p])
        else:
            assert out[p] == "file bytes=0 open-w=ok", (p, out[p])   # the null device takes writes
    for p in linux["readonlyPaths"]:
        assert out[p] in (("absent",) if not os.path.exists(p) else ("open-w=EROFS ro", "open-w=- ro")), (p, out[p])
    assert "open-w=EROFS ro" in out.values(), "no read-only path had a writable file to try"
    assert sum(v != "absent" for v in out.values()) >= 6, "too few of the paths exist to prove anything"


# ---- hostile config values ----

def _cgroups_path(path):
    return {"linux": {"cgroupsPath": path}}


def _unified(key):
    return {"linux": {"resources": {"unified": {key: "1"}}}}


def _sysctl(name):
    return {"linux": {"sysctl": {name: "1"}}}


# name: (config fields, what pyrunc's one line names, runc refuses too)
HOSTILE = {
    "cgroupsPath-abs-dotdot": (_cgroups_path("/../../x"), "linux.cgroupsPath", False),
    "cgroupsPath-rel-dotdot": (_cgroups_path("a/../../b"), "linux.cgroupsPath", False),
    "cgroupsPath-up": (_cgroups_path("../../../sys"), "linux.cgroupsPath", False),
    "cgroupsPath-root": (_cgroups_path("/"), "linux.cgroupsPath", True),
    "unified-dotdot-procs": (_unified("../cgroup.procs"), "linux.resources.unified", True),
    "unified-slash": (_unified("a/b"), "linux.resources.unified", True),
    "unified-cgroup-procs": (_unified("cgroup.procs"), "linux.resources.unified", True),
    "unified-dotdot": (_unified(".."), "linux.resources.unified", True),
    "sysctl-dotdot-sysrq": (_sysctl("../../../proc/sysrq-trigger"), "linux.sysctl", True),
    # sysctl.d's slash form is taken (as runc: test_conformance_spec.py), not a way out of
    # net/: runc would write the host's kernel.sysrq here
    "sysctl-slashes-dotdot": (_sysctl("net/ipv4/../../kernel/sysrq"), "linux.sysctl", False),
    "sysctl-dots-then-slashes": (_sysctl("net.ipv4.conf.all.../../../../sysrq-trigger"), "linux.sysctl", True),
    "sysctl-empty-components": (_sysctl("net.ipv4.."), "sysctl", True),
    "hook-relative": ({"hooks": {"prestart": [{"path": "relative/hook"}]}}, "hooks.prestart[0].path", True),
    "hook-missing": ({"hooks": {"createRuntime": [{"path": "/no/such/hook"}]}}, "/no/such/hook", True),
    # runc runs it, from the container's / (where bin/true is)
    "hook-container-relative": ({"hooks": {"createContainer": [{"path": "bin/true"}]}},
                                "hooks.createContainer[0].path", False),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_config_value_is_refused(runc, pyrunc, bundle_factory, tmp_path, case):
    """Escapes in cgroupsPath (runc cleans them lexically and runs: pyrunc refuses), in
    `unified` keys (this hybrid host: both refuse `unified`; the v2 key checks run in the
    guest), in sysctl names (the write would reach /proc/sysrq-trigger), and hook paths
    that are relative or missing: one line, exit 1, nothing created.  runc too refuses
    where the table says so."""
    fields, needle, runc_refuses = HOSTILE[case]
    if runc_refuses:
        cid = harness.new_id("runc-refused")
        r = runc.create(cid, bundle_factory(args=SLEEP, **fields))
        if r.returncode == 0:
            runc.delete(cid, force=True)
        assert r.returncode == 1, f"runc accepted it: {r.stderr}"
        assert runc.containers() == [] and not harness._cgroups([cid])
    refused_create(pyrunc, bundle_factory(args=SLEEP, **fields), tmp_path, needle)


def _nul(path, value):
    """Set the config field at dotted `path` (list indexes as numbers) to `value`."""
    def edit(cfg):
        node, keys = cfg, path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
        node[int(keys[-1]) if isinstance(node, list) else keys[-1]] = value
    return edit


NUL = "\u0000"
# name: (edit, the JSON path pyrunc's line must name); runc 1.1.5 refuses each one
NUL_FIELDS = {
    "cgroupsPath": (_nul("linux.cgroupsPath", f"pyrt{NUL}x"), "linux.cgroupsPath"),
    "mount-destination": (lambda c: c["mounts"].append({"destination": f"/mnt{NUL}/../../etc", "type": "tmpfs",
                                                        "source": "tmpfs"}), "mounts[7].destination"),
    "mount-source": (lambda c: c["mounts"].append({"destination": "/mnt", "type": "bind",
                                                   "source": f"/tmp{NUL}x", "options": ["bind"]}),
                     "mounts[7].source"),
    "cwd": (_nul("process.cwd", f"/tmp{NUL}x"), "process.cwd"),
    "maskedPaths": (_nul("linux.maskedPaths.2", f"/proc/kcore{NUL}x"), "linux.maskedPaths[2]"),
    "device-path": (_nul("linux.devices", [{"path": f"/dev/fuse{NUL}x", "type": "c", "major": 10,
                                            "minor": 229}]), "linux.devices[0].path"),
    "hook-path": (_nul("hooks", {"prestart": [{"path": f"/bin/true{NUL}x"}]}), "hooks.prestart[0].path"),
    "sysctl-value": (_nul("linux.sysctl", {"net.ipv4.ip_forward": f"1{NUL}0"}),
                     "linux.sysctl.net.ipv4.ip_forward"),
}


@pytest.mark.parametrize("case", sorted(NUL_FIELDS))
def test_nul_byte_in_a_config_string_is_refused(runc, pyrunc, bundle_factory, tmp_path, case):
    """A NUL byte inside a path-like config string ("\\u0000" in the JSON): C would see
    a shorter string than the config says (a mount on "/mnt" for "/mnt\\0/../../etc", a
    mask of "/proc/kc" for "/proc/kcore\\0x").  It must be refused with one line naming
    the field, exit 1, nothing created, never silently truncated.  runc refuses each of
    these too (its wording differs)."""
    edit, field = NUL_FIELDS[case]
    cid = harness.new_id("runc-nul")
    r = runc.run(cid, bundle_factory(args=["/probe", "exit", "0"], edit=edit))
    if cid in runc.containers():
        runc.delete(cid, force=True)
    assert r.returncode == 1, f"runc accepted it: {r.stderr}"
    cid = harness.new_id("nul")
    ref = Refusal(pyrunc, tmp_path)
    r = pyrunc.run(cid, bundle_factory(args=["/probe", "exit", "0"], edit=edit))
    if cid in pyrunc.containers():
        pyrunc.delete(cid, force=True)
    assert r.returncode != 0, f"pyrunc ran the container: {field} was cut at its NUL byte"
    ref.check(r, cid, field)


def test_mount_destination_escape_lands_inside(runc, pyrunc, bundle_factory, tmp_path, host):
    """Mount destinations "../../etc" and "/../../../<host dir>" are cleaned as paths inside
    the rootfs: a tmpfs on the image's /etc and on <host dir> made inside the rootfs; the
    host's /etc and directory are untouched.  As runc (which warns that the destination
    is not absolute)."""
    etc_before = sorted(os.listdir("/etc"))
    mounts = harness.RUNC_SPEC["mounts"] + [
        {"destination": "../../etc", "type": "tmpfs", "source": "escape1"},
        {"destination": "/../../.." + str(host.dir), "type": "tmpfs", "source": "escape2"}]
    script = "grep -E ' - tmpfs escape' /proc/self/mountinfo | cut -d' ' -f5; ls /etc | wc -l"
    sbs = harness.side_by_side(lambda d: bundle_factory(d, ["/bin/sh", "-c", script], mounts=mounts),
                               workdir=tmp_path / "sbs", runc=runc, pyrunc=pyrunc)
    host.check()
    assert sorted(os.listdir("/etc")) == etc_before
    assert sbs.runc.returncode == 0, sbs.runc.stderr
    harness.assert_same(sbs)
    assert sbs.pyrunc.stdout.splitlines() == ["/etc", str(host.dir), "0"], sbs.pyrunc.stdout
    assert sbs.pyrunc.stderr == ""


def _long_env(n):
    """n more env variables of 45 bytes each; HOME stays unset (runc's spec has none)."""
    def edit(cfg):
        cfg["process"]["env"] = cfg["process"]["env"] + ["V%d=%s" % (i, "x" * 40) for i in range(n)]
    return edit


def test_long_env_reaches_the_container_whole(runc, pyrunc, bundle_factory, tmp_path):
    """5000 env variables (250 kB, well within execve's limit) and no HOME: the container
    gets every one of them, and HOME from its /etc/passwd, as under runc.  Nothing may be
    dropped silently (a container relying on a late variable, e.g. a security setting,
    would run without it)."""
    sbs = harness.side_by_side(lambda d: bundle_factory(d, ["/bin/sh", "-c", "env | grep -c ^V; echo $HOME"],
                                                        edit=_long_env(5000)),
                               workdir=tmp_path / "sbs", runc=runc, pyrunc=pyrunc)
    assert sbs.runc.stdout == "5000\n/root\n", sbs.runc
    assert sbs.pyrunc.returncode == 0, sbs.pyrunc.stderr
    assert sbs.pyrunc.stdout == sbs.runc.stdout, f"pyrunc passed {sbs.pyrunc.stdout.split()[0]} of 5000 variables"


def test_huge_env_config_is_refused_in_one_line(pyrunc, bundle_factory, tmp_path):
    """A 14 MB config.json: 300000 env variables, more than execve takes.  pyrunc must not
    hang (30 s) and must refuse with one line (argument list too long), exit 1, no
    traceback, nothing left; never run the container with part of its env.  pyrunc
    alone: runc 1.1.5 spins for minutes on it."""
    bundle = bundle_factory(args=["/bin/sh", "-c", "env | grep -c ^V"], edit=_long_env(300_000))
    assert (bundle / "config.json").stat().st_size > 10 << 20
    cid = harness.new_id("huge")
    ref = Refusal(pyrunc, tmp_path)
    r = pyrunc.run(cid, bundle, timeout=30)
    if cid in pyrunc.containers():
        pyrunc.delete(cid, force=True)
    assert r.returncode != 0, f"the container ran with {r.stdout.strip()} of 300000 variables"
    msg = ref.check(r, cid)
    assert "argument list too long" in msg.lower(), msg


def test_huge_unknown_array_does_not_hang(pyrunc, bundle_factory, tmp_path):
    """A 10^6-element array in an unknown field (11 MB): ignored as runc ignores unknown
    fields, or refused with one line; never a hang (30 s) or a traceback."""
    def edit(cfg):
        cfg["x-unknown"] = list(range(1_000_000))
    bundle = bundle_factory(args=["/probe", "exit", "7"], edit=edit)
    assert (bundle / "config.json").stat().st_size > 10 << 20
    cid = harness.new_id("array")
    ref = Refusal(pyrunc, tmp_path)
    r = pyrunc.run(cid, bundle, timeout=30)
    if cid in pyrunc.containers():
        pyrunc.delete(cid, force=True)
    assert "Traceback" not in r.stderr
    if r.returncode != 7:
        ref.check(r, cid)


@pytest.mark.parametrize("where", ["annotation", "unknown-field", "unterminated"])
def test_deeply_nested_json_is_refused(runc, pyrunc, bundle_factory, tmp_path, where):
    """100000 nested arrays (in an annotation's value, in an unknown field, or never
    closed): one line, exit 1, no traceback (no RecursionError), nothing left.  runc
    refuses too (exceeded max depth)."""
    for rt in (runc, pyrunc):
        bundle = bundle_factory(tmp_path / f"bundle-{rt.name}", SLEEP)
        text = json.dumps(harness.read_config(bundle))[:-1]
        deep = "[" * 100_000 + ("" if where == "unterminated" else "]" * 100_000)
        if where == "annotation":
            text += ', "annotations": {"x": %s}}' % deep
        else:
            text += ', "x-deep": %s}' % deep
        (bundle / "config.json").write_text(text)
        msg = refused_create(rt, bundle, tmp_path)
        if rt.name == "pyrunc":
            assert "config.json" in msg, msg


# container ids that must be refused; argv cannot carry a NUL byte (execve's strings end at
# the first one), so "\x01" and a newline stand for the control characters
HOSTILE_IDS = {
    "empty": lambda cid: "",
    "control-char": lambda cid: cid + "\x01",
    "newline": lambda cid: cid + "\n",
    "parent": lambda cid: "../" + cid,
    "dot-dot-after": lambda cid: cid + "/..",
    "dot-dot-inside": lambda cid: "x/../" + cid,
    "over-1024": lambda cid: cid + "x" * 1024,
}


@pytest.mark.parametrize("case", sorted(HOSTILE_IDS))
def test_hostile_container_id_is_refused(runc, pyrunc, bundle_factory, tmp_path, case):
    """Ids that are empty, hold control characters, climb out of --root or exceed 1024
    bytes: create is refused with one line, exit 1, and nothing is made, under --root
    or beside it (an id "../x" would be a state dir next to the root).  runc refuses
    each too."""
    bundle = bundle_factory(args=SLEEP)
    for rt in (runc, pyrunc):
        cid = HOSTILE_IDS[case](harness.new_id("id"))
        beside, under = set(os.listdir(tmp_path)), set(os.listdir(rt.root))
        ref = Refusal(rt, tmp_path)
        r = rt.cmd("create", "--bundle", bundle, cid)
        assert r.returncode == 1, f"{rt.name} accepted the id {cid!r}: {r.stderr}"
        if rt.name == "pyrunc":
            ref.check(r, cid, "invalid container ID format")
        assert set(os.listdir(tmp_path)) == beside, f"{rt.name} made {set(os.listdir(tmp_path)) - beside}"
        assert set(os.listdir(rt.root)) == under, f"{rt.name} made {set(os.listdir(rt.root)) - under}"
