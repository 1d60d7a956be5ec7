"""sd_notify through the container (NOTIFY_SOCKET in the runtime's environment), runc
and pyrunc side by side: the process gets NOTIFY_SOCKET=/run/notify/notify.sock on a
read-only bind, `start` (or `run -d`) returns once the container sent READY=1 and the
caller's socket gets the READY line and MAINPID=<init pid>; a container that exits
without READY does not hang `start`."""
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

import harness

READY_THEN_SLEEP = ["/bin/sh", "-c", "sleep 1; /probe sdnotify READY=1; exec /probe sleep 600"]


@pytest.fixture(params=["runc", "pyrunc"])
def runtime(request):
    """A state root short enough for the socket path (<root>/<id>/notify/notify.sock
    must fit the 107 bytes of sun_path; pytest's tmp_path may not)."""
    base = Path(tempfile.mkdtemp(prefix="pyrt-n"))
    yield harness.Runtime(request.param, base)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def host_socket(tmp_path, monkeypatch):
    path = tmp_path / "host-notify.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    s.settimeout(0.2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield s
    s.close()


def received(s):
    out = []
    while True:
        try:
            out.append(s.recv(4096).decode())
        except (socket.timeout, BlockingIOError):
            return out


@pytest.mark.parametrize("how", ["create-start", "run-detach"])
def test_ready_is_forwarded_with_the_init_pid(runtime, bundle_factory, host_socket, how):
    cid = harness.new_id("notify")
    bundle = bundle_factory(args=READY_THEN_SLEEP)
    t0 = time.monotonic()
    if how == "create-start":
        r = runtime.create(cid, bundle)
        assert r.returncode == 0, r.stderr
        pid = runtime.state(cid)["pid"]
        harness.reap_later(pid)
        assert received(host_socket) == [], "something was sent before start"
        r = runtime.start(cid)
    else:
        r = runtime.run(cid, bundle, "--detach")
        pid = runtime.state(cid)["pid"]
        harness.reap_later(pid)
    took = time.monotonic() - t0
    try:
        assert r.returncode == 0, r.stderr
        assert took >= 1, f"{runtime.name} returned after {took:.2f}s, before the container's READY=1"
        assert received(host_socket) == ["READY=1\n", "MAINPID=%d\n" % pid]
        assert runtime.state(cid)["status"] == "running"
        out, _ = runtime.output(cid)
        assert "sdnotify: sent READY=1" in out
    finally:
        runtime.delete(cid, force=True)


def test_container_sees_the_socket_read_only(runtime, bundle_factory, host_socket):
    # create + start: runc 1.1.5's foreground `run` waits for READY while the init it has
    # not reaped yet still shows in /proc, so it hangs on a container that exits first
    cid = harness.new_id("notify")
    r = runtime.create(cid, bundle_factory(args=["/probe", "report", "env", "mounts"]))
    assert r.returncode == 0, r.stderr
    harness.reap_later(runtime.state(cid)["pid"])
    try:
        r = runtime.start(cid, timeout=30)
        assert r.returncode == 0, r.stderr
        out, _ = runtime.output(cid)
        assert "env: NOTIFY_SOCKET=/run/notify/notify.sock" in out, out
        line = [ln for ln in out.splitlines() if ln.startswith("mount: /run/notify ")]
        assert len(line) == 1 and "ro" in line[0].split()[-1].split(","), f"{runtime.name}: {line}"
        assert {"nosuid", "nodev", "noexec"} <= set(line[0].split()[-1].split(",")), line
    finally:
        runtime.delete(cid, force=True)


def test_exit_without_ready_does_not_hang_start(runtime, bundle_factory, host_socket):
    cid = harness.new_id("notify")
    r = runtime.create(cid, bundle_factory(args=["/bin/sh", "-c", "sleep 0.5"]))
    assert r.returncode == 0, r.stderr
    harness.reap_later(runtime.state(cid)["pid"])
    try:
        r = runtime.start(cid, timeout=30)
        assert r.returncode == 0, r.stderr
        assert received(host_socket) == []
    finally:
        runtime.delete(cid, force=True)


def test_foreground_run_forwards_ready_and_keeps_the_exit_code(bundle_factory, host_socket):
    """pyrunc only: runc 1.1.5's foreground `run` waits for READY before it forwards the
    output and, with the init not yet reaped, hangs once the container exits (see above);
    pyrunc waits for READY in a child process while it pumps the output."""
    base = Path(tempfile.mkdtemp(prefix="pyrt-n"))
    try:
        rt = harness.Runtime("pyrunc", base)
        cid = harness.new_id("notify")
        r = rt.run(cid, bundle_factory(args=["/bin/sh", "-c", "/probe sdnotify READY=1; echo after; exit 3"]))
        assert r.returncode == 3, r.stderr
        out, _ = rt.output(cid)
        assert out == "sdnotify: sent READY=1\nafter\n"
        got = received(host_socket)
        assert len(got) == 2 and got[0] == "READY=1\n" and got[1].startswith("MAINPID="), got
        assert cid not in rt.containers()
    finally:
        shutil.rmtree(base, ignore_errors=True)
