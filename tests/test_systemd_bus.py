"""cgroups.systemd.Bus on a real D-Bus: a private dbus-daemon (Debian's, as on every
systemd host) with a stand-in for systemd's manager on it, written with jeepney's
server side. It answers StartTransientUnit/StopUnit with a job path and sends
JobRemoved before or after its reply, as systemd may; a unit name it knows as taken
gets systemd's UnitExists error. This checks what the fake-bus tests cannot: the
signatures on the wire, the match rule and the wait for the job's signal.
Skipped only where dbus-daemon is not installed (the systemd guest runs the real one)."""
import os
import shutil
import subprocess
import threading

import pytest

pytest.importorskip("jeepney")
pytestmark = pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="dbus-daemon is not installed")

from jeepney import DBusAddress, MessageType, new_error, new_method_return, new_signal  # noqa: E402
from jeepney.bus_messages import message_bus  # noqa: E402
from jeepney.io.blocking import Proxy, open_dbus_connection  # noqa: E402

from pyrunc.cgroups import systemd, userbus  # noqa: E402
from pyrunc.errors import CgroupError  # noqa: E402

CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class FakeSystemd(threading.Thread):
    """org.freedesktop.systemd1 on the bus; `calls` records (method, body)."""

    def __init__(self, signal_first):
        super().__init__(daemon=True)
        self.signal_first = signal_first
        self.calls = []
        self.conn = open_dbus_connection(bus="SESSION")
        Proxy(message_bus, self.conn).RequestName("org.freedesktop.systemd1", 4)
        self.emitter = DBusAddress("/org/freedesktop/systemd1", interface="org.freedesktop.systemd1.Manager")
        self.stop = False
        self.jobs = 0

    def run(self):
        while not self.stop:
            try:
                msg = self.conn.receive(timeout=0.2)
            except TimeoutError:
                continue
            except Exception:
                return
            if msg.header.message_type != MessageType.method_call:
                continue
            member = msg.header.fields.get(3)      # HeaderFields.member
            self.calls.append((member, msg.body))
            if member == "Get" and msg.body[1] == "ControlGroup":
                self.conn.send(new_method_return(msg, "v", (("s", "/user.slice/user-1000.slice/user@1000.service"),)))
            elif member == "Get":
                self.conn.send(new_method_return(msg, "v", (("s", "252.39-1~deb12u2"),)))
            elif member in ("StartTransientUnit", "StopUnit"):
                unit = msg.body[0]
                if unit.startswith("taken"):
                    self.conn.send(new_error(msg, "org.freedesktop.systemd1.UnitExists", "s",
                                             ("Unit %s was already loaded or has a fragment file." % unit,)))
                    continue
                if unit.startswith("gone"):
                    self.conn.send(new_error(msg, "org.freedesktop.systemd1.NoSuchUnit", "s",
                                             ("Unit %s not loaded." % unit,)))
                    continue
                self.jobs += 1
                job = "/org/freedesktop/systemd1/job/%d" % self.jobs
                # another job's signal first: the client must wait for its own
                other = new_signal(self.emitter, "JobRemoved", "uoss", (999, "/org/freedesktop/systemd1/job/999",
                                                                        "other.scope", "done"))
                mine = new_signal(self.emitter, "JobRemoved", "uoss",
                                  (self.jobs, job, unit, "failed" if unit.startswith("fail") else "done"))
                reply = new_method_return(msg, "o", (job,))
                order = [other, mine, reply] if self.signal_first else [reply, other, mine]
                for m in order:
                    self.conn.send(m)
            elif member in ("SetUnitProperties", "ResetFailedUnit"):
                self.conn.send(new_method_return(msg))


@pytest.fixture
def bus_env(tmp_path, monkeypatch):
    sock = tmp_path / "bus"
    conf = tmp_path / "bus.conf"
    conf.write_text(CONF % sock)
    # --print-address: the daemon prints its address once it accepts connections (the
    # socket file exists a little earlier, and a client then may be refused)
    daemon = subprocess.Popen(["dbus-daemon", "--config-file", str(conf), "--nofork", "--nopidfile",
                               "--print-address=1"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        address = daemon.stdout.readline().decode().strip()
        assert address.startswith("unix:"), f"dbus-daemon did not start: {daemon.stderr.read1().decode()}"
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=%s" % sock)
        yield
    finally:
        daemon.kill()
        daemon.wait(timeout=10)


@pytest.fixture(params=[True, False], ids=["signal-before-reply", "signal-after-reply"])
def fake(bus_env, request):
    f = FakeSystemd(request.param)
    f.start()
    yield f
    f.stop = True
    f.join(timeout=5)
    f.conn.close()


def test_start_set_stop_on_the_wire(fake):
    b = systemd.Bus(user=True)
    try:
        assert b.version() == 252
        props = [("Slice", ("s", "system.slice")), ("Delegate", ("b", True)), ("PIDs", ("au", [1234])),
                 ("AllowedCPUs", ("ay", b"\x03")), ("DeviceAllow", ("a(ss)", [("/dev/char/1:3", "rwm")])),
                 ("MemoryMax", ("t", (1 << 64) - 1))]
        assert b.start_transient_unit("pyrt-c1.scope", props) == "done"
        b.set_unit_properties("pyrt-c1.scope", [("TasksMax", ("t", 5))])
        assert b.stop_unit("pyrt-c1.scope") == "done"
        assert b.start_transient_unit("fail-c2.scope", []) == "failed"
    finally:
        b.close()
    start = [body for m, body in fake.calls if m == "StartTransientUnit"][0]
    assert start == ("pyrt-c1.scope", "replace", props, [])
    assert ("SetUnitProperties", ("pyrt-c1.scope", True, [("TasksMax", ("t", 5))])) in fake.calls
    assert ("StopUnit", ("pyrt-c1.scope", "replace")) in fake.calls


def test_errors_keep_systemd_s_name_and_words(fake):
    b = systemd.Bus(user=True)
    try:
        with pytest.raises(systemd.SystemdError) as e:
            b.start_transient_unit("taken.scope", [])
        assert e.value.name == "org.freedesktop.systemd1.UnitExists"
        assert str(e.value) == ("StartTransientUnit taken.scope: Unit taken.scope was already loaded or has a "
                                "fragment file.")
    finally:
        b.close()


def test_manager_through_the_bus(fake, tmp_path):
    """The driver end to end on the stand-in: a unit taken is refused and never
    stopped; a unit already gone at delete is no error."""
    from pyrunc.cgroups import paths

    d = tmp_path / "scope"
    d.mkdir()
    session = lambda user: systemd.Bus(user=True)  # noqa: E731
    m = systemd.new("v2", {"": str(d)}, paths.systemd_unit("system.slice:taken:c1", "c1"))
    m.bus_factory = session
    m.apply({}, devices=False)
    with pytest.raises(CgroupError, match="unit taken-c1.scope already exists"):
        m.join(os.getpid())
    m.destroy()
    assert not [c for c in fake.calls if c[0] == "StopUnit"]
    m = systemd.new("v2", {"": str(d)}, paths.systemd_unit("system.slice:gone:c1", "c1"))
    m.bus_factory = session
    m.started = True
    m.destroy()
    assert [c for c in fake.calls if c[0] == "StopUnit"] == [("StopUnit", ("gone-c1.scope", "replace"))]


def test_no_bus_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=%s" % (tmp_path / "nothing"))
    with pytest.raises(CgroupError) as e:
        systemd.Bus(user=True)
    # runc's words for the user's bus, with its dbus-user-session hint
    assert str(e.value) == (userbus.HINT + 'error while dialing "unix:path=%s": no such file or directory'
                            % (tmp_path / "nothing"))


def test_users_manager_cgroup_and_state(fake, tmp_path):
    """Rootless: the user's manager's ControlGroup (where its units live), and a
    manager that records it is the user's, so delete and update use the session bus."""
    from pyrunc.cgroups import paths

    b = systemd.Bus(user=True)
    try:
        assert b.manager_property("ControlGroup") == "/user.slice/user-1000.slice/user@1000.service"
    finally:
        b.close()
    asked = []
    m = systemd.new("v2", {"": str(tmp_path)}, paths.systemd_unit("", "c1", rootless=True), user=True)
    assert m.record()["systemdUser"] is True and m.record()["systemdSlice"] == "user.slice"
    back = systemd.SystemdManager.from_state(dict(m.record(), cgroupDriver="systemd"))
    back.bus_factory = lambda user: asked.append(user) or systemd.Bus(user=True)
    back.destroy()
    assert asked == [True]
    assert ("StopUnit", ("runc-c1.scope", "replace")) in fake.calls
    root = systemd.new("v2", {"": str(tmp_path)}, paths.systemd_unit("", "c2"))
    assert "systemdUser" not in root.record()
