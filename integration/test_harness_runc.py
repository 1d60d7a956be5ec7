"""The harness and the probe, proved against runc: what pyrunc will be compared with."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

import harness

pytestmark = pytest.mark.integration

RUNC_DEFAULT_CAPS = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}


def test_probe_report_under_runc(runc, bundle):
    cid = harness.new_id("report")
    r = runc.run(cid, bundle)
    assert r.returncode == 0, r.stderr
    rep = harness.parse_report(r.stdout)

    assert rep["hostname"] == "runc"
    assert rep["pid"] == "1"
    assert rep["ppid"] == "0"
    assert rep["sid_is_pid"] == "yes"
    assert (rep["uid"], rep["euid"], rep["suid"]) == ("0", "0", "0")
    assert (rep["gid"], rep["egid"], rep["sgid"]) == ("0", "0", "0")
    assert rep["cwd"] == "/"

    assert rep["CapBnd"] == harness.cap_mask(RUNC_DEFAULT_CAPS)
    assert harness.cap_names(rep["CapEff"]) == RUNC_DEFAULT_CAPS
    assert harness.cap_names(rep["CapPrm"]) == RUNC_DEFAULT_CAPS
    assert rep["NoNewPrivs"] == "1"

    mounts = {m.split()[0]: m.split()[1] for m in rep["mount"]}
    assert mounts["/proc"] == "proc"
    assert mounts["/dev/pts"] == "devpts"
    root_opts = next(m.split()[2] for m in rep["mount"] if m.split()[0] == "/").split(",")
    assert "ro" in root_opts

    assert rep["RLIMIT_NOFILE"] == "1024 1024"
    assert "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in rep["env"]
    assert "/dev/null char 1:3 0666 0:0" in rep["device"]
    assert rep["net.lo"] == "up"
    assert rep["tty.0"] == "no" and rep["ctty"] == "no"
    assert runc.containers() == []          # foreground run deletes its container


def test_report_is_stable_between_two_runs(bundle_factory, runc, tmp_path):
    """Two runs of one config print the same report, so side_by_side can diff runtimes."""
    other = harness.Runtime("runc", tmp_path / "other")
    sbs = harness.side_by_side(bundle_factory, workdir=tmp_path / "sbs", runc=runc, pyrunc=other)
    assert sbs.runc.returncode == 0, sbs.runc.stderr
    harness.assert_same(sbs)


def test_side_by_side_fails_without_pyrunc(bundle_factory, runc, tmp_path):
    missing = harness.Runtime("pyrunc", tmp_path / "missing", binary=str(tmp_path / "no-such-pyrunc"))
    with pytest.raises(harness.HarnessError, match="not installed"):
        harness.side_by_side(bundle_factory, workdir=tmp_path / "sbs", runc=runc, pyrunc=missing)


def test_probe_verbs_under_runc(runc, bundle_factory):
    def run(*args):
        r = runc.run(harness.new_id("verb"), bundle_factory(args=["/probe", *args]))
        return r.returncode, r.stdout

    assert run("exit", "7") == (7, "")
    assert run("write", "/probe-was-here", "x") == (1, "EROFS\n")        # read-only root
    assert run("read", "/etc/hostname") == (1, "ENOENT\n")
    assert run("read", "/etc/group")[1].startswith("root:x:0:")
    assert run("kill-self", "9") == (1, "survived\n")        # pid 1 ignores its own SIGKILL
    assert run("syscall", "mount", "none", "/tmp", "tmpfs") == (1, "EPERM\n")
    assert run("syscall", "getcwd") == (0, "ok\n")
    assert run("forkbomb", "3") == (0, "forked: 3\n")
    assert run("exec", "/bin/echo", "hi") == (0, "hi\n")


def test_lifecycle_create_start_state_kill_delete(runc, bundle, tmp_path):
    before = harness.snapshot(tmp_path, [runc.root])
    harness.edit_config(bundle, ["/probe", "signals"])
    cid = harness.new_id("cycle")

    r = runc.create(cid, bundle)
    assert r.returncode == 0, r.stderr
    st = runc.state(cid)
    assert st["status"] == "created" and st["id"] == cid and st["pid"] > 0
    during = harness.leaks(before, harness.snapshot(tmp_path, [runc.root]))
    assert any(cid in c for c in during.cgroups)
    assert {p.pid for p in during.procs} == {st["pid"]}
    assert [c["id"] for c in runc.list("json")] == [cid]

    assert runc.start(cid).returncode == 0
    runc.wait_status(cid, "running")
    harness.wait_for(lambda: "ready" in runc.output(cid)[0], what="the probe to be ready")
    assert runc.kill(cid, "USR1").returncode == 0
    harness.wait_for(lambda: "signal: 10" in runc.output(cid)[0], what="SIGUSR1 to arrive")
    assert runc.kill(cid, "TERM").returncode == 0
    runc.wait_status(cid, "stopped")
    assert runc.output(cid)[0] == "ready\nsignal: 10\nsignal: 15\n"

    assert runc.delete(cid).returncode == 0
    assert runc.cmd("state", cid).returncode != 0
    assert runc.list("json") == []
    harness.reap()
    harness.assert_no_leaks(before, harness.snapshot(tmp_path, [runc.root]))


def test_detached_container_zombie_is_reaped(runc, bundle, tmp_path):
    harness.edit_config(bundle, ["/probe", "exit", "3"])
    cid = harness.new_id("orphan")
    r = runc.run(cid, bundle, "--detach", "--pid-file", tmp_path / "pid")
    assert r.returncode == 0, r.stderr
    pid = int((tmp_path / "pid").read_text())      # `state` says pid 0 once it has exited

    # runc has exited: the container init is now our child, a zombie once it exits
    zombie = harness.wait_for(lambda: (p := harness.proc_stat(pid)) and p.state == "Z" and p,
                              what=f"container init {pid} to exit")
    assert zombie.ppid == os.getpid()
    reaped = dict(harness.reap())
    assert os.WIFEXITED(reaped[pid]) and os.WEXITSTATUS(reaped[pid]) == 3
    assert harness.proc_stat(pid) is None

    assert runc.state(cid)["status"] == "stopped"
    assert runc.delete(cid).returncode == 0


def test_leak_fixture_catches_and_cleans_a_leaky_test(tmp_path):
    """An inner pytest whose test leaves a detached container fails, and is cleaned up."""
    for name in ("conftest.py", "harness.py"):
        (tmp_path / name).symlink_to(harness.HERE / name)
    (tmp_path / "test_leaky.py").write_text(textwrap.dedent("""
        import harness

        def test_leaves_a_container(runc, bundle):
            harness.edit_config(bundle, ["/probe", "sleep", "600"])
            assert runc.run(harness.new_id("leaky"), bundle, "--detach").returncode == 0
    """))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "--basetemp", str(tmp_path / "inner"), str(tmp_path / "test_leaky.py")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "the test left behind" in r.stdout
    assert "/root-runc/pyrt-leaky-" in r.stdout and "process" in r.stdout
    assert "cleanup could not remove" not in r.stdout
    time.sleep(0.1)
    assert not any(harness.leaks(harness.Snapshot(frozenset(), frozenset(), frozenset(), frozenset()),
                                 harness.snapshot(tmp_path)).procs)
