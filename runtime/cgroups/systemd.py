"""The systemd cgroup driver (--systemd-cgroup): the container's cgroup is a transient
unit that systemd makes and owns, asked for over D-Bus, then filled in as the cgroupfs
driver does (runc's systemd managers call the fs manager's Set after theirs).

  create   nothing until the init exists: systemd puts a scope's processes in it
           itself (StartTransientUnit with PIDs=[init]); the resources go in as unit
           properties, with Delegate=yes so the cgroup files below are ours to write;
  join     starts the unit (waiting for its job), then on v1 makes and joins the
           hierarchies systemd does not manage, then the cgroupfs writes;
  apply    SetUnitProperties (runtime) for `update`, then the cgroupfs writes;
  destroy  StopUnit (waiting for its job), then whatever we made ourselves (on v1
           the slice's parents in the hierarchies systemd does not manage once empty).

Everything else (freezer, pids, stats, kill) reads the same files as the cgroupfs
driver, through Manager. The D-Bus client (jeepney) is imported here only, and only
when a verb talks to systemd.

Why jeepney (measured on the 2-core test host, Python 3.11): pure Python, no build;
importing jeepney.io.blocking costs 16-30 ms, connect and authenticate about 1 ms,
a call 0.1-0.2 ms; dbus-fast costs 68 ms to import and is asyncio-first; sdbus and
pystemd need libsystemd headers and a compiled extension, as would sd-bus through
the cffi shim, on every host that builds pyrunc.
"""
from pyrunc import log
from pyrunc.cgroups import fs
from pyrunc.cgroups.manager import Manager
from pyrunc.errors import CgroupError

JOB_TIMEOUT = 30.0  # seconds, as runc waits for a unit's job

_SYSTEMD = "org.freedesktop.systemd1"
_PATH = "/org/freedesktop/systemd1"
_MANAGER = "org.freedesktop.systemd1.Manager"


class Bus:
    """systemd's manager over the system bus (the user's session bus when rootless),
    through jeepney. Errors are CgroupErrors naming the call and systemd's answer."""

    def __init__(self, user=False):
        try:
            from jeepney.io.blocking import open_dbus_connection
        except ImportError:
            raise CgroupError("the systemd cgroup driver needs the jeepney D-Bus library (pip install jeepney)") \
                from None
        if user:
            from pyrunc.cgroups import userbus

            self.conn = userbus.connect(JOB_TIMEOUT)
            return
        try:
            # a socket-activated bus daemon may take seconds to answer its first client
            self.conn = open_dbus_connection(bus="SESSION" if user else "SYSTEM", auth_timeout=JOB_TIMEOUT)
        except Exception as e:  # OSError, a missing address variable, a refused authentication
            raise CgroupError("connect to the %s D-Bus: %s" % ("session" if user else "system", _why(e))) from None

    def close(self):
        self.conn.close()

    def _call(self, method, signature="", body=(), what=None):
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import DBusErrorResponse, unwrap_msg

        addr = DBusAddress(_PATH, bus_name=_SYSTEMD, interface=_MANAGER)
        try:
            reply = self.conn.send_and_get_reply(new_method_call(addr, method, signature, body),
                                                 timeout=JOB_TIMEOUT)
            return unwrap_msg(reply)
        except DBusErrorResponse as e:
            raise SystemdError(what or method, e.name, e.data) from None
        except Exception as e:
            raise CgroupError("%s: %s" % (what or method, _why(e))) from None

    def manager_property(self, name):
        """A string property of the manager (the user's: ControlGroup names its cgroup)."""
        from jeepney import DBusAddress, Properties
        from jeepney.wrappers import DBusErrorResponse, unwrap_msg

        try:
            reply = self.conn.send_and_get_reply(
                Properties(DBusAddress(_PATH, bus_name=_SYSTEMD, interface=_MANAGER)).get(name), timeout=JOB_TIMEOUT)
            (_, value), = unwrap_msg(reply)
        except DBusErrorResponse as e:
            raise SystemdError("get the manager's %s" % name, e.name, e.data) from None
        except Exception as e:
            raise CgroupError("get the manager's %s: %s" % (name, _why(e))) from None
        return value

    def version(self):
        from jeepney import DBusAddress, Properties
        from jeepney.wrappers import unwrap_msg

        try:
            reply = self.conn.send_and_get_reply(
                Properties(DBusAddress(_PATH, bus_name=_SYSTEMD, interface=_MANAGER)).get("Version"), timeout=5)
            (_, text), = unwrap_msg(reply)
        except Exception:
            return 0
        digits = ""
        for ch in text.lstrip("v"):
            if not ch.isdigit():
                break
            digits += ch
        return int(digits or 0)

    def _job(self, method, unit, signature, body):
        """Run a call that queues a job and wait for the job's JobRemoved: its result."""
        from jeepney import MatchRule, message_bus
        from jeepney.io.blocking import Proxy

        # the bus routes by the well-known sender name; the messages carry systemd's
        # unique name, so the local filter leaves the sender out
        rule = MatchRule(type="signal", interface=_MANAGER, member="JobRemoved", path=_PATH)
        try:
            Proxy(message_bus, self.conn, timeout=JOB_TIMEOUT).AddMatch(
                MatchRule(type="signal", sender=_SYSTEMD, interface=_MANAGER, member="JobRemoved", path=_PATH))
        except Exception as e:
            raise CgroupError("subscribe to systemd's job signals: %s" % _why(e)) from None
        import time

        with self.conn.filter(rule, bufsize=256) as queue:
            job, = self._call(method, signature, body, what="%s %s" % (method, unit))
            deadline = time.monotonic() + JOB_TIMEOUT
            while True:
                # signals that came in with the reply are queued already
                while queue:
                    _, path, _, result = queue.popleft().body
                    if path == job:
                        return result
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                try:
                    msg = self.conn.recv_until_filtered(queue, timeout=left)
                except TimeoutError:
                    return None
                except Exception as e:
                    raise CgroupError("wait for systemd's job for %s: %s" % (unit, _why(e))) from None
                _, path, _, result = msg.body
                if path == job:
                    return result

    def start_transient_unit(self, unit, props):
        return self._job("StartTransientUnit", unit, "ssa(sv)a(sa(sv))", (unit, "replace", props, []))

    def stop_unit(self, unit):
        return self._job("StopUnit", unit, "ss", (unit, "replace"))

    def set_unit_properties(self, unit, props):
        self._call("SetUnitProperties", "sba(sv)", (unit, True, props), what="SetUnitProperties %s" % unit)

    def reset_failed_unit(self, unit):
        self._call("ResetFailedUnit", "s", (unit,))


class SystemdError(CgroupError):
    """systemd answered a call with a D-Bus error."""

    def __init__(self, what, name, data):
        detail = data[0] if data and isinstance(data[0], str) else name
        super().__init__("%s: %s" % (what, detail))
        self.name = name


def _why(e):
    from pyrunc.errors import strerror

    if isinstance(e, OSError) and e.errno:
        return strerror(e.errno)
    return str(e) or type(e).__name__


def _proc_devices():
    try:
        with open("/proc/devices") as f:
            return f.read()
    except OSError:
        return ""


class SystemdManager(Manager):
    """Manager whose cgroup is a systemd unit. `unit`/`slice` name it; `started`: the
    unit was made by this container (only then is it stopped); `user`: rootless, the
    unit is the user's manager's (its session bus), and what the user may not write
    (device rules) is best effort, as runc's rootless managers."""

    __slots__ = ("unit", "slice", "name", "started", "annotations", "pending", "bus_factory", "_bus",
                 "_sd_version", "user")

    driver = "systemd"

    def __init__(self, mode, paths, created=(), unit=None, slice_=None, started=False, annotations=None,
                 name="", bus_factory=Bus, user=False, bus=None):
        super().__init__(mode, paths, created)
        self.user = user
        self.unit = unit
        self.slice = slice_
        self.name = name
        self.started = started
        self.annotations = annotations or []
        self.pending = None
        self.bus_factory = bus_factory
        self._bus = bus
        self._sd_version = None

    @classmethod
    def from_state(cls, st):
        return cls(st.get("cgroupMode") or "none", st.get("cgroupPaths") or {}, st.get("cgroupsCreated") or [],
                   unit=st.get("systemdUnit"), slice_=st.get("systemdSlice"), started=bool(st.get("systemdUnit")),
                   user=bool(st.get("systemdUser")))

    def record(self):
        out = super().record()
        # the unit is named before it is started: a create killed half-way leaves a
        # state that `delete --force` stops it from (a unit already gone is no error)
        out.update({"cgroupDriver": "systemd", "systemdUnit": self.unit, "systemdSlice": self.slice})
        if self.user:
            out["systemdUser"] = True   # later verbs talk to the user's manager too
        return out

    @property
    def version(self):
        return 2 if self.unified else 1

    def bus(self):
        if self._bus is None:
            self._bus = self.bus_factory(user=self.user)
        return self._bus

    def systemd_version(self):
        if self._sd_version is None:
            self._sd_version = self.bus().version()
        return self._sd_version

    def close(self):
        if self._bus is not None:
            try:
                self._bus.close()
            except Exception:
                pass
            self._bus = None

    # -- create: the unit is made when the init exists -------------------------------

    def create(self):
        self.created = []
        return self.created

    def spawn_dir(self):
        return None  # the init joins through systemd, after the clone

    def apply(self, resources, update=False, device_paths=(), devices=True, rootless=False):
        if not self.started and not update:
            if not self.unified:
                # v1: what the plan refuses (`unified` first, as runc's legacy manager
                # at its creation) is refused before a unit exists
                from pyrunc.cgroups.resources import plan_v1

                plan_v1(resources, device_paths=device_paths)
            # before join(): kept for the unit's properties, written after it starts
            self.pending = (resources, device_paths, devices)
            return
        if update and self.unit:
            # no device properties here: runc 1.1.5 sends its device rules again, and on
            # v1 freezes the container around the call because systemd then rewrites the
            # device list from deny-all; without them systemd rewrites only the files of
            # the properties that changed
            from pyrunc.cgroups import sdprops

            props = sdprops.resource_properties(resources, self.version, self.systemd_version())
            if props:
                self.bus().set_unit_properties(self.unit, props)
        super().apply(resources, update=update, device_paths=device_paths, devices=devices, rootless=self.user)

    def join(self, pid):
        from pyrunc.cgroups import devices as devrules
        from pyrunc.cgroups import sdprops
        from pyrunc.cgroups.paths import SystemdUnit

        resources, device_paths, devices = self.pending or ({}, (), True)
        unit = SystemdUnit(self.unit, self.slice, "")
        props = sdprops.base_properties(unit, None if unit.is_slice else pid,
                                        "libcontainer container " + self.name, self.version)
        props.extend(self.annotations)
        rules = devrules.effective_rules((resources or {}).get("devices"), device_paths) if devices else None
        props.extend(sdprops.resource_properties(resources, self.version, self.systemd_version(), rules,
                                                 _proc_devices() if rules is not None else "", log.warning,
                                                 fs.exists, log.debugf))
        self._start(props)
        # v1: systemd makes the hierarchies it manages; the others (cpuset, freezer,
        # net_cls, ...) are ours to make, as runc's joinCgroups; a slice unit is joined
        # by hand in every hierarchy
        self.created = fs.create(self.paths)
        if unit.is_slice or not self.unified:
            fs.join(self.paths, pid)
        if resources or devices:
            super().apply(resources, device_paths=device_paths, devices=devices, rootless=self.user)

    def _start(self, props):
        bus = self.bus()
        try:
            result = bus.start_transient_unit(self.unit, props)
        except SystemdError as e:
            if e.name == "org.freedesktop.systemd1.UnitExists":
                # runc 1.1.5 goes on with a unit it did not make, and its init outside
                # it; a unit of that name belongs to someone else: refuse
                raise CgroupError('unable to start unit "%s": unit %s already exists' % (self.unit, self.unit)) \
                    from None
            raise CgroupError('unable to start unit "%s": %s' % (self.unit, e)) from None
        if result != "done":
            try:
                bus.reset_failed_unit(self.unit)
            except CgroupError:
                pass
            if result is None:
                raise CgroupError("Timeout waiting for systemd to create " + self.unit)
            raise CgroupError("error creating systemd unit `%s`: got `%s`" % (self.unit, result))
        self.started = True

    # -- removal ---------------------------------------------------------------------

    def try_destroy(self):
        return False  # the unit must be stopped whatever its cgroup holds

    def destroy(self):
        if self.started and self.unit:
            try:
                result = self.bus().stop_unit(self.unit)
            except SystemdError as e:
                if e.name != "org.freedesktop.systemd1.NoSuchUnit":
                    raise
                result = "done"   # a scope goes by itself once its last process is gone
            if result is None:
                raise CgroupError("Timed out while waiting for systemd to remove " + self.unit)
            if result != "done":
                log.warning("error removing unit `%s`: got `%s`. Continuing..." % (self.unit, result))
            self.started = False
        self.close()
        # v1: the parents made in the hierarchies systemd does not manage (freezer/
        # <slice>, ...) are shared by every container of the slice: removed once empty,
        # kept while another container's cgroup is below them (runc never removes them)
        leaves = set(self.paths.values())
        fs.remove([d for d in self.created if d in leaves], leaves)
        fs.prune([d for d in self.created if d not in leaves])


def new(mode, paths, unit, annotations=None, user=False, bus=None):
    """The manager for a new container in `unit` (a paths.SystemdUnit); `user`: in the
    user's manager, over `bus` when create has it open already."""
    return SystemdManager(mode, paths, unit=unit.name, slice_=unit.slice, annotations=annotations,
                          name=unit.label, user=user, bus=bus)
