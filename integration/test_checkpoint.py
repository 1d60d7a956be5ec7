"""checkpoint and restore through CRIU, next to runc, on whatever host this runs.

Every test first asks CRIU whether it works here (`criu check`). Where it does not (this
project's 6.18 host: Debian's criu 3.17 fails its vDSO check), the verbs must fail with
one line naming CRIU's own reason and leave the container running as it was. Where it
does (the qemu guest's Debian 6.1 kernel, see guest/test_guest_criu.py, which sets
PYRUNC_EXPECT_CRIU=1), a counter is checkpointed and restored and must go on from where
it stopped: same id, --leave-running, pre-dump + dump, restore into a new id.

The counter keeps a random token and its count in memory and writes "token count" to a
file of the rootfs: a restored process has the dumped token and a larger count, a
restarted one a new token.
"""
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import harness

pytestmark = pytest.mark.integration

COUNTER = ["/bin/sh", "-c", 'r=$RANDOM$RANDOM; i=0; while :; do i=$((i+1)); echo "$r $i" > /count.tmp; '
           'mv /count.tmp /count; sleep 0.2; done']


def criu_reason():
    """None when `criu check` passes here, else CRIU's first error line."""
    path = shutil.which("criu") or "/usr/sbin/criu"
    if not os.path.exists(path):
        return "criu binary not found"
    r = subprocess.run([path, "check"], capture_output=True, text=True, timeout=120)
    if r.returncode == 0:
        return None
    for line in (r.stderr + r.stdout).splitlines():
        m = re.search(r"Error \([^)]*\): (.*)", line)
        if m:
            return m.group(1).strip()
    return (r.stderr + r.stdout).strip().splitlines()[-1]


@pytest.fixture(scope="module")
def criu():
    why = criu_reason()
    if os.environ.get("PYRUNC_EXPECT_CRIU") == "1":
        assert why is None, f"CRIU was expected to work here: {why}"
    return why


def msg_of(stderr):
    return [m.replace('\\"', '"') for m in re.findall(r'level=error msg="((?:[^"\\]|\\.)*)"', stderr)]


def read_count(bundle):
    try:
        token, n = (bundle / "rootfs" / "count").read_text().split()
        return token, int(n)
    except (OSError, ValueError):
        return None


def wait_count(bundle, above=0, token=None, timeout=30, runner=None):
    """The counter once it passes `above` (with `token`). `runner`: (Popen, its stderr's
    read end, the image dir) of a foreground restore, which must not exit first: if it
    does, fail at once with its stderr and the end of CRIU's restore.log."""
    def ok():
        c = read_count(bundle)
        if c and c[1] > above and (token is None or c[0] == token):
            return c
        if runner is not None and runner[0].poll() is not None:
            os.set_blocking(runner[1], False)
            try:
                err = os.read(runner[1], 65536).decode(errors="replace")
            except BlockingIOError:
                err = ""
            try:
                crilog = "".join(open(os.path.join(runner[2], "restore.log")).readlines()[-30:])
            except OSError as e:
                crilog = str(e)
            raise AssertionError(f"restore exited {runner[0].returncode} before the counter passed {above}:\n"
                                 f"{err}\nrestore.log ends:\n{crilog}")
        return None
    return harness.wait_for(ok, timeout, f"the counter in {bundle} to pass {above}")


def counter_bundle(bundle_factory):
    return bundle_factory(args=COUNTER, root={"readonly": False})


@pytest.fixture
def pipes():
    """Stdio pipes for detached containers, as runc's own tests give them: CRIU dumps a
    pipe (and restore hands a new one back), not a file outside the container's mounts."""
    made = []

    def make():
        fds = [os.pipe() for _ in range(3)]
        made.extend(fd for pair in fds for fd in pair)
        return (fds[0][0], fds[1][1], fds[2][1]), (fds[0][1], fds[1][0], fds[2][0])
    yield make
    for fd in made:
        try:
            os.close(fd)
        except OSError:
            pass


def with_pipes(rt, pipes, *argv, timeout=120):
    """`rt argv...` detached with its (and the container's) stdio on fresh pipes."""
    child, ours = pipes()
    p = subprocess.run([rt.binary, *rt.global_flags(), *map(str, argv)], stdin=child[0], stdout=child[1],
                       stderr=child[2], timeout=timeout)
    for fd in child:
        os.close(fd)
    os.set_blocking(ours[2], False)
    try:
        err = os.read(ours[2], 65536).decode(errors="replace")
    except BlockingIOError:
        err = ""
    return subprocess.CompletedProcess(argv, p.returncode, "", err)


def start_counter(rt, bundle, cid, pipes):
    harness.TEST_IDS.add(cid)
    r = with_pipes(rt, pipes, "run", "--detach", "--bundle", bundle, cid)
    assert r.returncode == 0, f"{rt.name} run: {r.stderr}"
    pid = rt.state(cid)["pid"]
    harness.reap_later(pid)
    return pid, wait_count(bundle, 2)


def assert_stands_still(bundle, seconds=0.8):
    before = read_count(bundle)
    time.sleep(seconds)
    assert read_count(bundle) == before, "the counter still runs after a checkpoint without --leave-running"


def restore(rt, pipes, cid, bundle, image, *extra):
    harness.TEST_IDS.add(cid)
    r = with_pipes(rt, pipes, "restore", "--detach", "--bundle", bundle, "--image-path", image, *extra, cid)
    assert r.returncode == 0, f"{rt.name} restore: {r.stderr}"
    st = rt.state(cid)
    assert st["status"] == "running" and st["id"] == cid and st["bundle"] == str(bundle)
    harness.reap_later(st["pid"])
    return st


def test_checkpoint_help_and_features_follow_criu(pyrunc, runc, criu):
    """`checkpoint --help` exits 0 (podman: "can checkpoint") and `features` says
    checkpoint.enabled only where CRIU works; elsewhere one line names CRIU's reason."""
    r = pyrunc.cmd("checkpoint", "--help")
    feats = json.loads(pyrunc.cmd("features", check=True).stdout)
    enabled = feats["annotations"]["org.opencontainers.runc.checkpoint.enabled"]
    if criu is None:
        assert r.returncode == 0 and "--leave-running" in r.stdout, r.stderr
        assert enabled == "true"
    else:
        assert r.returncode == 1 and r.stdout == ""
        assert msg_of(r.stderr) == [f"checkpoint is not supported on this host: criu: {criu}"], r.stderr
        assert enabled == "false"
    # runc's flags, all of them, in the help (read from runc's own)
    theirs = set(re.findall(r"--[a-z-]+", runc.cmd("checkpoint", "--help").stdout))
    ours = set(re.findall(r"--[a-z-]+", pyrunc.cmd("checkpoint", "--help").stdout + r.stderr)) if criu is None \
        else theirs
    assert theirs <= ours, f"flags runc has: {sorted(theirs - ours)}"
    theirs = set(re.findall(r"--[a-z-]+", runc.cmd("restore", "--help").stdout))
    ours = set(re.findall(r"--[a-z-]+", pyrunc.cmd("restore", "--help").stdout))
    assert theirs <= ours, f"restore flags runc has: {sorted(theirs - ours)}"


@pytest.mark.parametrize("argv, wording", [
    (["--parent-path", "/abs"], "--parent-path must be relative"),
    (["--parent-path", "nosuch"], "invalid --parent-path: stat "),
    (["--page-server", "nohost"], "Use --page-server ADDRESS:PORT to specify page server"),
    (["--page-server", "h:port"], "Invalid port number"),
    (["--manage-cgroups-mode", "loose"], "Invalid manage cgroups mode"),
    (["--empty-ns", "pid"], 'namespace "pid" is not supported'),
])
def test_checkpoint_bad_flags_leave_the_container(runtime, bundle_factory, tmp_path, pipes, argv, wording):
    """runc's checks of the flags, before CRIU is asked: its words, exit 1, still running."""
    bundle = counter_bundle(bundle_factory)
    pid, _ = start_counter(runtime, bundle, "ck-flags", pipes)
    try:
        r = runtime.cmd("checkpoint", "--image-path", tmp_path / "img", *argv, "ck-flags")
        assert r.returncode == 1, r
        assert any(wording in m for m in msg_of(r.stderr)), r.stderr
        st = runtime.state("ck-flags")
        assert st["status"] == "running" and st["pid"] == pid
    finally:
        runtime.delete("ck-flags", force=True)


def test_checkpoint_of_a_created_container_is_refused(runtime, bundle_factory, tmp_path):
    bundle = counter_bundle(bundle_factory)
    runtime.create("ck-created", bundle, check=True)
    r = runtime.cmd("checkpoint", "--image-path", tmp_path / "img", "ck-created")
    assert r.returncode == 1
    assert msg_of(r.stderr)[-1] == "Container cannot be checkpointed in created state", r.stderr
    runtime.delete("ck-created", force=True, check=True)


def test_checkpoint_and_restore_same_id(runtime, bundle_factory, tmp_path, pipes, criu):
    """A counter checkpointed stops and its container is gone (runc deletes it); restored
    under the same id from the same bundle it goes on from its count. Where CRIU does not
    work: exit 1, CRIU's reason, and the container runs on untouched."""
    bundle = counter_bundle(bundle_factory)
    image = tmp_path / "img"
    pid, (token, _) = start_counter(runtime, bundle, "ck1", pipes)
    r = runtime.cmd("checkpoint", "--image-path", image, "ck1", timeout=120)
    if criu is not None:
        assert r.returncode == 1, r
        msgs = msg_of(r.stderr)
        assert any(m.startswith("criu failed: type DUMP") for m in msgs), r.stderr
        if runtime.name == "pyrunc":
            assert len(msgs) == 1 and criu in msgs[0] and "\n" not in msgs[0], r.stderr
        st = runtime.state("ck1")
        assert st["status"] == "running" and st["pid"] == pid
        wait_count(bundle, read_count(bundle)[1], token)
        runtime.delete("ck1", force=True, check=True)
        return
    assert r.returncode == 0, r.stderr
    assert (image / "descriptors.json").exists() and list(image.glob("*.img"))
    assert runtime.cmd("state", "ck1").returncode == 1, "a checkpointed container is deleted (runc)"
    assert_stands_still(bundle)
    _, n = read_count(bundle)
    st = restore(runtime, pipes, "ck1", bundle, image, "--pid-file", tmp_path / "restored.pid")
    assert (tmp_path / "restored.pid").read_text() == str(st["pid"])
    wait_count(bundle, n, token)
    runtime.delete("ck1", force=True, check=True)


def test_leave_running_pre_dump_and_restore_into_new_id(runtime, bundle_factory, tmp_path, pipes, criu):
    """--pre-dump then a final dump with --parent-path and --leave-running: the container
    runs on; restored in the foreground into another id (after the first is gone) the
    counter has the dumped token and goes on from the dumped count; killed, the restore
    exits 137 and the container is gone."""
    bundle = counter_bundle(bundle_factory)
    pid, (token, _) = start_counter(runtime, bundle, "ck2", pipes)
    pre = tmp_path / "img" / "pre"
    final = tmp_path / "img" / "final"
    r = runtime.cmd("checkpoint", "--pre-dump", "--image-path", pre, "ck2", timeout=120)
    if criu is not None:
        assert r.returncode == 1 and runtime.state("ck2")["pid"] == pid, r
        if runtime.name == "pyrunc":
            assert msg_of(r.stderr) == [f"CRIU feature check failed: criu: {criu}"], r.stderr
        runtime.delete("ck2", force=True, check=True)
        return
    assert r.returncode == 0, r.stderr
    assert runtime.state("ck2")["status"] == "running"
    r = runtime.cmd("checkpoint", "--leave-running", "--image-path", final, "--parent-path", "../pre", "ck2",
                    timeout=120)
    assert r.returncode == 0, r.stderr
    st = runtime.state("ck2")
    assert st["status"] == "running" and st["pid"] == pid
    _, dumped = read_count(bundle)
    wait_count(bundle, dumped + 2, token)   # still counting
    runtime.delete("ck2", force=True, check=True)
    (bundle / "rootfs" / "count").unlink()   # what appears now is the restored process's
    # in the foreground: the runtime waits for the restored init, then deletes the container
    # and exits with its status
    harness.TEST_IDS.add("ck2-new")
    child, ours = pipes()
    p = subprocess.Popen([runtime.binary, *runtime.global_flags(), "restore", "--bundle", str(bundle),
                          "--image-path", str(final), "ck2-new"], stdin=child[0], stdout=child[1], stderr=child[2])
    for fd in child:
        os.close(fd)
    try:
        c = wait_count(bundle, dumped, token, timeout=90, runner=(p, ours[2], str(final)))
        wait_count(bundle, c[1], token)
        st = runtime.state("ck2-new")
        assert st["status"] == "running" and runtime.cmd("state", "ck2").returncode == 1
        runtime.kill("ck2-new", "KILL", check=True)
        assert p.wait(timeout=60) == 137
        assert runtime.cmd("state", "ck2-new").returncode == 1, "deleted once its init exited"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        runtime.delete("ck2-new", force=True)
        forget_runcs_old_cgroup(runtime, "ck2")


def test_restore_without_images_leaves_nothing(runtime, bundle_factory, tmp_path):
    """A restore that cannot start fails (exit 1) and leaves no container behind."""
    bundle = counter_bundle(bundle_factory)
    (tmp_path / "empty").mkdir()
    r = runtime.cmd("restore", "--detach", "--bundle", bundle, "--image-path", tmp_path / "empty", "rs1")
    assert r.returncode == 1, r
    assert runtime.cmd("state", "rs1").returncode == 1


def refused_here(runtime, r, cid, pid, criu):
    """Where CRIU does not work: exit 1, pyrunc names CRIU's reason in one line, and the
    container runs on as it was (then it is deleted)."""
    assert r.returncode == 1, r
    if runtime.name == "pyrunc":
        msgs = msg_of(r.stderr)
        assert len(msgs) == 1 and criu in msgs[0], r.stderr
    st = runtime.state(cid)
    assert st["status"] == "running" and st["pid"] == pid
    runtime.delete(cid, force=True, check=True)


def free_port():
    """A loopback port nobody listens on (CRIU's page server binds it itself)."""
    import random

    busy = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            busy |= {int(line.split()[1].rsplit(":", 1)[1], 16) for line in open(table).readlines()[1:]}
        except OSError:
            pass
    return random.choice([p for p in range(27000, 28000) if p not in busy])


def listening(port):
    """True once something listens on TCP `port` (read from /proc: a test connection would
    be the page server's one and only client)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in open(table).readlines()[1:]:
                f = line.split()
                if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "0A":
                    return True
        except OSError:
            pass
    return False


# The counter's lines go through a TCP connection inside the container: a client loop
# writes "token count" to `nc 127.0.0.1 5000`, a listener (`nc -l`, its stdin a pipe that
# stays open: busybox's nc quits at EOF there) writes each line it receives to /count. The
# count advances only while that connection carries data.
TCP_COUNTER = ["/bin/sh", "-c",
               'sleep 1000000 | nc -l -p 5000 '
               '| while read r i; do echo "$r $i" > /count.tmp; mv /count.tmp /count; done & '
               'r=$RANDOM$RANDOM; i=0; while :; do i=$((i+1)); echo "$r $i"; sleep 0.2; done '
               '| (until nc 127.0.0.1 5000; do sleep 0.2; done)']


@pytest.fixture
def netns():
    """A named network namespace with its loopback up (runc's tests join one by path):
    it outlives the container, so the restored connection finds its addresses there."""
    name = f"pyrunc-ck-{os.getpid()}-{time.monotonic_ns() % 100000}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, timeout=60)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, capture_output=True, timeout=60)
        yield f"/run/netns/{name}"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=60)


def netstat(netns):
    """The TCP sockets of the namespace on port 5000, their states by name."""
    states = {"01": "ESTABLISHED", "0A": "LISTEN"}
    r = subprocess.run(["ip", "netns", "exec", netns.rpartition("/")[2], "cat", "/proc/net/tcp"],
                       capture_output=True, text=True, timeout=60)
    return [(f[1], f[2], states.get(f[3], f[3])) for f in (line.split() for line in r.stdout.splitlines()[1:])
            if f[1].endswith(":1388") or f[2].endswith(":1388")]


def unlock_criu(netns):
    """Remove CRIU's network lock (the CRIU chain and the jumps to it) from the namespace;
    True if it was there."""
    def ipt(*argv):
        return subprocess.run(["ip", "netns", "exec", netns.rpartition("/")[2], "iptables", "-w", *argv],
                              capture_output=True, text=True, timeout=60).returncode == 0
    found = False
    for chain in ("INPUT", "OUTPUT"):
        while ipt("-D", chain, "-j", "CRIU"):
            found = True
    return ipt("-F", "CRIU") and ipt("-X", "CRIU") and found


def test_tcp_established(runtime, bundle_factory, tmp_path, pipes, criu, netns):
    """A container (in a network namespace joined by path, as runc's tests do: the one it
    makes itself is restored empty, without its loopback) with an established TCP
    connection on its loopback: without --tcp-established the dump is refused with CRIU's
    reason (one line) and the container runs on; with it, checkpointed and restored
    (--tcp-established) the connection is established again and, CRIU's leftover network
    lock removed, carries the counter on: the dumped token, from its count on."""
    def edit(cfg):
        cfg["linux"]["namespaces"] = [ns for ns in cfg["linux"]["namespaces"] if ns["type"] != "network"] + \
            [{"type": "network", "path": netns}]
    bundle = bundle_factory(args=TCP_COUNTER, root={"readonly": False}, edit=edit)
    image = tmp_path / "img"
    pid, (token, _) = start_counter(runtime, bundle, "ck-tcp", pipes)
    try:
        r = runtime.cmd("checkpoint", "--image-path", image, "ck-tcp", timeout=180)
        if criu is not None:
            return refused_here(runtime, r, "ck-tcp", pid, criu)
        assert r.returncode == 1, r
        # runc says only "criu failed: type NOTIFY errno 0" (the reason is in its dump.log);
        # pyrunc gives CRIU's reason in its one line
        why = "Connected TCP socket, consider using --tcp-established option"
        assert why in (image / "dump.log").read_text(errors="replace")
        if runtime.name == "pyrunc":
            msgs = msg_of(r.stderr)
            assert len(msgs) == 1 and msgs[0].startswith("criu failed: type DUMP") and why in msgs[0], r.stderr
        st = runtime.state("ck-tcp")
        assert st["status"] == "running" and st["pid"] == pid
        wait_count(bundle, read_count(bundle)[1], token)   # the refused dump left it running
        r = runtime.cmd("checkpoint", "--tcp-established", "--image-path", image, "ck-tcp", timeout=180)
        assert r.returncode == 0, r.stderr
        assert runtime.cmd("state", "ck-tcp").returncode == 1
        assert_stands_still(bundle)
        _, n = read_count(bundle)
        restore(runtime, pipes, "ck-tcp", bundle, image, "--tcp-established")
        # CRIU 3.17 locks the network of an "empty" (runc: always --empty-ns network) namespace
        # on restore and, the namespace being external, never unlocks it (CRIU issue #577):
        # its CRIU chain drops everything but its own packets. The restored connection is
        # there, established, with the bytes it had queued.
        assert any(s[2] == "ESTABLISHED" for s in netstat(netns)), netstat(netns)
        assert unlock_criu(netns), "CRIU's network lock was expected in the namespace after restore"
        wait_count(bundle, n + 2, token, timeout=60)
    finally:
        runtime.delete("ck-tcp", force=True)


def test_checkpoint_to_a_page_server(runtime, bundle_factory, tmp_path, pipes, criu):
    """`criu page-server` started here takes the memory pages of a dump with --page-server;
    the image directory gets the rest. Both together restore the counter."""
    bundle = counter_bundle(bundle_factory)
    image, pages = tmp_path / "img", tmp_path / "pages"
    pages.mkdir()
    pid, (token, _) = start_counter(runtime, bundle, "ck-ps", pipes)
    port = free_port()
    server = None
    if criu is None:
        server = subprocess.Popen([shutil.which("criu") or "/usr/sbin/criu", "page-server", "--images-dir", pages,
                                   "--port", str(port), "--address", "127.0.0.1", "-o", "page-server.log",
                                   "-v4"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        harness.wait_for(lambda: listening(port), 60, "criu page-server to listen")
    try:
        r = runtime.cmd("checkpoint", "--page-server", f"127.0.0.1:{port}", "--image-path", image, "ck-ps",
                        timeout=180)
        if criu is not None:
            return refused_here(runtime, r, "ck-ps", pid, criu)
        assert r.returncode == 0, r.stderr
        assert server.wait(timeout=60) == 0, (pages / "page-server.log").read_text()[-3000:]
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
    assert list(pages.glob("pages-*.img")) and not list(image.glob("pages-*.img")), \
        "the pages went to the page server, not to the image directory"
    assert_stands_still(bundle)
    _, n = read_count(bundle)
    for f in pages.glob("*.img"):
        shutil.copy(f, image / f.name)
    restore(runtime, pipes, "ck-ps", bundle, image)
    wait_count(bundle, n, token)
    runtime.delete("ck-ps", force=True, check=True)


def test_lazy_pages(runtime, bundle_factory, tmp_path, pipes, criu):
    """runc's lazy migration: checkpoint --lazy-pages --page-server --status-fd writes \\0
    once CRIU serves the pages; `criu lazy-pages` fetches them for a restore --lazy-pages
    into a new id, whose counter goes on with the dumped token; the checkpoint then ends
    (0) and the first container is gone."""
    bundle = counter_bundle(bundle_factory)
    image, work = tmp_path / "img", tmp_path / "work"
    pid, (token, _) = start_counter(runtime, bundle, "ck-lazy", pipes)
    port = free_port()
    status_r, status_w = os.pipe()
    ck = subprocess.Popen([runtime.binary, *runtime.global_flags(), "checkpoint", "--lazy-pages",
                           "--page-server", f"0.0.0.0:{port}", "--status-fd", str(status_w),
                           "--work-path", work, "--image-path", image, "ck-lazy"],
                          pass_fds=(status_w,), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    os.close(status_w)
    daemon = None
    try:
        import select

        ready, _, _ = select.select([status_r], [], [], 120)
        got = os.read(status_r, 1) if ready else None
        if criu is not None:
            assert got == b"", "no \\0 on the status fd where CRIU fails"
            out, err = ck.communicate(timeout=60)
            return refused_here(runtime, subprocess.CompletedProcess(ck.args, ck.returncode, out, err),
                                "ck-lazy", pid, criu)
        assert got == b"\0", f"status fd: {got!r}; checkpoint: {ck.poll()} {ck.stderr.read() if ck.poll() else ''}"
        assert (image / "inventory.img").exists()
        daemon = subprocess.Popen([shutil.which("criu") or "/usr/sbin/criu", "lazy-pages", "--page-server",
                                   "--address", "127.0.0.1", "--port", str(port), "-D", image, "-o", "lazy.log", "-v4"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        (bundle / "rootfs" / "count").unlink()   # what appears now is the restored process's
        # the restore finds the daemon by its socket in its work directory (runc's test: the images)
        harness.wait_for(lambda: (image / "lazy-pages.socket").exists(), 60, "criu lazy-pages to listen")
        harness.TEST_IDS.add("ck-lazy-new")
        r = with_pipes(runtime, pipes, "restore", "--detach", "--bundle", bundle, "--image-path", image,
                       "--lazy-pages", "--work-path", image, "ck-lazy-new")
        assert r.returncode == 0, f"{runtime.name} restore: {r.stderr}"
        st = runtime.state("ck-lazy-new")
        harness.reap_later(st["pid"])
        if st["status"] != "running":
            time.sleep(5)
            log = (image / "lazy.log").read_text(errors="replace") if (image / "lazy.log").exists() else ""
            raise AssertionError(f"restored: {st}\n{harness.proc_stat(st['pid'])}\nlazy.log:\n"
                                 + "\n".join(line for line in log.splitlines() if "rror" in line or "arn" in line)
                                 + log[-3000:] + f"\ncheckpoint: {ck.poll()}")
        c = wait_count(bundle, 0, token, timeout=90)
        wait_count(bundle, c[1] + 2, token)
        out, err = ck.communicate(timeout=180)
        assert ck.returncode == 0, err
        assert daemon.wait(timeout=60) == 0
        assert runtime.cmd("state", "ck-lazy").returncode == 1, "the lazily migrated container is deleted"
        st2 = runtime.state("ck-lazy-new")   # the first one's delete left the new one alone
        assert st2["status"] == "running" and st2["pid"] == st["pid"]
        wait_count(bundle, c[1] + 4, token)
        runtime.delete("ck-lazy-new", force=True, check=True)
    finally:
        os.close(status_r)
        for p in (ck, daemon):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        runtime.delete("ck-lazy", force=True)
        runtime.delete("ck-lazy-new", force=True)
        forget_runcs_old_cgroup(runtime, "ck-lazy")


# A terminal container answering each line typed with "ponG token count line".
TTY_ECHO = ["/bin/sh", "-c", 'r=$RANDOM$RANDOM; i=0; while read l; do i=$((i+1)); echo "ponG $r $i $l"; done']


def _pong(recv, word, timeout=60):
    def seen():
        m = re.search(rf"ponG (\d+) (\d+) {word}\r?\n", recv.data.decode(errors="replace"))
        return m.groups() if m else None
    return harness.wait_for(seen, timeout, f"the answer to {word!r} on the terminal")


def test_restore_with_a_terminal(runtime, bundle_factory, tmp_path, criu):
    """A container with terminal: true (created with --console-socket): checkpointed and
    restored with --console-socket, the new pty master arrives on the socket and the same
    shell answers on it, its token and count carried over."""
    from test_process import ConsoleReceiver

    bundle = bundle_factory(args=TTY_ECHO, process={"terminal": True})
    image = tmp_path / "img"
    recv = ConsoleReceiver(tmp_path / "console1.sock")
    try:
        r = runtime.cmd("run", "--detach", "--console-socket", recv.path, "--bundle", bundle, "ck-tty")
        assert r.returncode == 0, r.stderr
        pid = runtime.state("ck-tty")["pid"]
        harness.reap_later(pid)
        assert recv.got_fd.wait(30), "no pty master on the console socket"
        os.write(recv.master, b"one\n")
        token, n = _pong(recv, "one")
        assert n == "1"
        r = runtime.cmd("checkpoint", "--image-path", image, "ck-tty", timeout=180)
        if criu is not None:
            return refused_here(runtime, r, "ck-tty", pid, criu)
        assert r.returncode == 0, r.stderr
    finally:
        recv.close()
    recv = ConsoleReceiver(tmp_path / "console2.sock")
    try:
        r = runtime.cmd("restore", "--detach", "--console-socket", recv.path, "--bundle", bundle,
                        "--image-path", image, "ck-tty", timeout=180)
        assert r.returncode == 0, r.stderr
        harness.reap_later(runtime.state("ck-tty")["pid"])
        assert recv.got_fd.wait(30), "no pty master on the console socket after restore"
        os.write(recv.master, b"two\n")
        assert _pong(recv, "two") == (token, "2")
    finally:
        runtime.delete("ck-tty", force=True)
        recv.close()


def cgroup_of(pid):
    """{controller: path} of a process (cgroup2 under "")."""
    out = {}
    for line in open(f"/proc/{pid}/cgroup").read().splitlines():
        _, ctrls, path = line.split(":", 2)
        for c in ctrls.split(","):
            out[c] = path
    return out


def limits_of(pid):
    """The memory and pids limits of the cgroup the process is in (v1 or v2, read from
    where this host mounts them)."""
    cg = cgroup_of(pid)
    if "memory" in cg:
        mem = Path("/sys/fs/cgroup/memory") / cg["memory"].lstrip("/") / "memory.limit_in_bytes"
        pids = Path("/sys/fs/cgroup/pids") / cg["pids"].lstrip("/") / "pids.max"
    else:
        mem = Path("/sys/fs/cgroup") / cg[""].lstrip("/") / "memory.max"
        pids = Path("/sys/fs/cgroup") / cg[""].lstrip("/") / "pids.max"
    return int(mem.read_text()), int(pids.read_text())


def cgroup_dirs(path):
    """Where a cgroup path exists: in cgroup2 or in any v1 hierarchy."""
    roots = [Path("/sys/fs/cgroup")] + [p for p in Path("/sys/fs/cgroup").iterdir() if p.is_dir()]
    return [str(d / path.lstrip("/")) for d in roots if (d / path.lstrip("/")).is_dir()]


def forget_runcs_old_cgroup(runtime, old_id):
    """runc 1.1.5 restores a container on cgroup v2 into the dumped one's cgroup (CRIU
    makes it again), which no delete then removes (README, deliberate differences):
    runc's leftover, removed here so that the leak check judges pyrunc's alone."""
    if runtime.name == "runc" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
        harness.remove_cgroups(harness.snapshot(names={old_id}).cgroups)


def remove_cgroup(path):
    """rmdir an empty cgroup left by CRIU in every hierarchy (v1) or in cgroup2."""
    for d in [Path("/sys/fs/cgroup")] + [p for p in Path("/sys/fs/cgroup").iterdir() if p.is_dir()]:
        try:
            (d / path.lstrip("/")).rmdir()
        except OSError:
            pass


@pytest.mark.parametrize("mode", ["soft", "full", "strict", "ignore"])
def test_restore_into_new_cgroups_keeps_limits(runtime, bundle_factory, tmp_path, pipes, criu, mode):
    """A counter with memory and pids limits and a cgroupsPath, checkpointed with
    --manage-cgroups-mode MODE and restored with it from a config naming another
    cgroupsPath: the runtime makes that cgroup with the limits, and CRIU, given it as the
    cgroup root, puts the restored init there in every controller the runtime manages.
    pyrunc passes the mode to the restore too (later runc does; runc 1.1.5 takes the flag
    and drops it: CRIU restores with its default, soft), so with strict CRIU refuses the
    cgroup the runtime made ("Abort restore of existing cgroups") and the restore leaves
    nothing. runc 1.1.5 refuses "ignore" (later runc takes it, as pyrunc does), and on
    cgroup v2 gives CRIU no cgroup root: its init goes back to the old path."""
    limits = {"memory": {"limit": 96 << 20}, "pids": {"limit": 77}}
    old, new = f"/ck-cg-{mode}", f"/ck-cg-{mode}-new"
    harness.TEST_IDS.update({old[1:], new[1:]})
    bundle = bundle_factory(args=COUNTER, root={"readonly": False},
                            linux={"resources": limits, "cgroupsPath": old})
    image = tmp_path / "img"
    pid, (token, _) = start_counter(runtime, bundle, "ck-cg", pipes)
    try:
        v2 = "memory" not in cgroup_of(pid)
        managed = [c for c, p in cgroup_of(pid).items() if p == old]   # what the runtime put in its cgroup
        assert managed
        r = runtime.cmd("checkpoint", "--manage-cgroups-mode", mode, "--image-path", image, "ck-cg", timeout=180)
        if mode == "ignore" and runtime.name == "runc":
            assert r.returncode == 1 and "Invalid manage cgroups mode" in r.stderr, r
            assert runtime.state("ck-cg")["pid"] == pid
            return
        if criu is not None:
            return refused_here(runtime, r, "ck-cg", pid, criu)
        assert r.returncode == 0, r.stderr
        assert_stands_still(bundle)
        assert not cgroup_dirs(old), "the checkpointed container's cgroup is gone with it"
        _, n = read_count(bundle)
        harness.edit_config(bundle, linux={"cgroupsPath": new})
        runc_v2 = runtime.name == "runc" and v2
        if mode == "strict" and runtime.name == "pyrunc":
            harness.TEST_IDS.add("ck-cg")
            r = with_pipes(runtime, pipes, "restore", "--detach", "--bundle", bundle, "--image-path", image,
                           "--manage-cgroups-mode", mode, "ck-cg")
            assert r.returncode == 1 and "Abort restore of existing cgroups" in (image / "restore.log").read_text()
            if runtime.name == "pyrunc":
                msgs = msg_of(r.stderr)
                assert len(msgs) == 1 and "cg: Abort restore of existing cgroups" in msgs[0], r.stderr
            assert runtime.cmd("state", "ck-cg").returncode == 1
            return
        st = restore(runtime, pipes, "ck-cg", bundle, image, "--manage-cgroups-mode", mode)
        wait_count(bundle, n, token)
        cg = cgroup_of(st["pid"])
        moved = {c: cg[c] for c in managed}
        want = old if runc_v2 and mode != "ignore" else new
        assert moved and all(p == want for p in moved.values()), f"restored init's cgroups: {cg}"
        if not runc_v2:
            assert limits_of(st["pid"]) == (96 << 20, 77)
            assert not cgroup_dirs(old), "the old cgroup came back with the restore"
    finally:
        runtime.delete("ck-cg", force=True)
        remove_cgroup(old)
