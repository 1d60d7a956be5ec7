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


def wait_count(bundle, above=0, token=None, timeout=30):
    def ok():
        c = read_count(bundle)
        return c if c and c[1] > above and (token is None or c[0] == token) else None
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
    child, _ = pipes()
    p = subprocess.Popen([runtime.binary, *runtime.global_flags(), "restore", "--bundle", str(bundle),
                          "--image-path", str(final), "ck2-new"], stdin=child[0], stdout=child[1], stderr=child[2])
    for fd in child:
        os.close(fd)
    try:
        c = wait_count(bundle, dumped, token, timeout=90)
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


def test_restore_without_images_leaves_nothing(runtime, bundle_factory, tmp_path):
    """A restore that cannot start fails (exit 1) and leaves no container behind."""
    bundle = counter_bundle(bundle_factory)
    (tmp_path / "empty").mkdir()
    r = runtime.cmd("restore", "--detach", "--bundle", bundle, "--image-path", tmp_path / "empty", "rs1")
    assert r.returncode == 1, r
    assert runtime.cmd("state", "rs1").returncode == 1
