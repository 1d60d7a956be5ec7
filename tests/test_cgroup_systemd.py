"""The systemd cgroup driver without systemd: slice:prefix:name and slice expansion
(paths.systemd_unit, paths.expand_slice), resources and annotations -> unit
properties next to the values runc 1.1.5 sends (cgroups.sdprops), and the manager's
calls against a fake bus (cgroups.systemd.SystemdManager). The real thing runs in the
systemd guest: integration/test_systemd_cgroup.py."""
import pytest

from pyrunc.cgroups import devices as D
from pyrunc.cgroups import host as H
from pyrunc.cgroups import paths as P
from pyrunc.cgroups import sdprops as S
from pyrunc.errors import CgroupError, ConfigError

INF = (1 << 64) - 1
MiB = 1 << 20


# ---- slices and unit names (runc's ExpandSlice and getUnitName) ----

@pytest.mark.parametrize("name, path", [
    ("system.slice", "/system.slice"),
    ("a-b.slice", "/a.slice/a-b.slice"),
    ("a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice"),
    ("user-1000.slice", "/user.slice/user-1000.slice"),
    ("-.slice", "/"),
])
def test_expand_slice(name, path):
    assert P.expand_slice(name) == path


@pytest.mark.parametrize("name", ["", ".slice", "a", "a.scope", "a--b.slice", "-a.slice", "a-.slice",
                                  "a/b.slice", "system.slice/x.slice"])
def test_expand_slice_refused_as_runc(name):
    with pytest.raises(ConfigError) as e:
        P.expand_slice(name)
    assert e.value.reason == "invalid slice name: %s" % name


@pytest.mark.parametrize("cgroups_path, unit, slice_, path", [
    ("system.slice:docker:abc", "docker-abc.scope", "system.slice", "/system.slice/docker-abc.scope"),
    ("machine-x.slice:libpod:0123", "libpod-0123.scope", "machine-x.slice",
     "/machine.slice/machine-x.slice/libpod-0123.scope"),
    (":pyrunc:c1", "pyrunc-c1.scope", "system.slice", "/system.slice/pyrunc-c1.scope"),  # default slice
    ("", "runc-ID.scope", "system.slice", "/system.slice/runc-ID.scope"),   # no cgroupsPath: runc:<id>
    ("system.slice::c1", "-c1.scope", "system.slice", "/system.slice/-c1.scope"),  # as runc: empty prefix
    ("a.slice:x:a-b.slice", "a-b.slice", "a.slice", "/a.slice/a-b.slice"),   # a slice unit of its own
])
def test_systemd_unit(cgroups_path, unit, slice_, path):
    u = P.systemd_unit(cgroups_path, "ID")
    assert (u.name, u.slice, u.path) == (unit, slice_, path)


def test_systemd_unit_rootless_default_slice():
    assert P.systemd_unit(":p:c", "c", rootless=True).slice == "user.slice"


@pytest.mark.parametrize("cgroups_path", ["bad--x.slice:p:c", "notaslice:p:c", "system.slice:p:"])
def test_systemd_unit_refused(cgroups_path):
    with pytest.raises(ConfigError) as e:
        P.systemd_unit(cgroups_path, "c")
    assert e.value.path == "linux.cgroupsPath" and "\n" not in str(e.value)


def test_resolve_systemd_every_hierarchy():
    hs = [H.Hierarchy("/sys/fs/cgroup/memory", "/", 1, ("memory",), "memory"),
          H.Hierarchy("/sys/fs/cgroup/systemd", "/", 1, ("name=systemd",), "name=systemd"),
          H.Hierarchy("/sys/fs/cgroup/unified", "/", 2, (), "")]
    u = P.systemd_unit("system.slice:p:c", "c")
    assert P.resolve_systemd(H.CgroupHost("hybrid", hs, {}), u) == {
        "memory": "/sys/fs/cgroup/memory/system.slice/p-c.scope",
        "name=systemd": "/sys/fs/cgroup/systemd/system.slice/p-c.scope",
        "": "/sys/fs/cgroup/unified/system.slice/p-c.scope"}


# ---- properties: the values runc 1.1.5 sends for the same resources ----

def props(resources, version=2, sd=252):
    return dict((k, v) for k, v in S.resource_properties(resources, version, sd))


# (resources, cgroup version, {property: (signature, value)} as runc's genV{1,2}ResourcesProperties)
RUNC_TABLE = [
    ({"memory": {"limit": 64 * MiB}}, 2, {"MemoryMax": ("t", 64 * MiB)}),
    ({"memory": {"limit": -1}}, 2, {"MemoryMax": ("t", INF), "MemorySwapMax": ("t", INF)}),
    ({"memory": {"limit": 64 * MiB, "swap": 96 * MiB, "reservation": 16 * MiB}}, 2,
     {"MemoryMax": ("t", 64 * MiB), "MemoryLow": ("t", 16 * MiB), "MemorySwapMax": ("t", 32 * MiB)}),
    ({"memory": {"limit": 64 * MiB, "swap": -1}}, 2, {"MemoryMax": ("t", 64 * MiB), "MemorySwapMax": ("t", INF)}),
    ({"cpu": {"shares": 1024}}, 2, {"CPUWeight": ("t", 39)}),
    ({"cpu": {"shares": 2}}, 2, {"CPUWeight": ("t", 1)}),
    ({"cpu": {"shares": 262144}}, 2, {"CPUWeight": ("t", 10000)}),
    ({"cpu": {"quota": 50000, "period": 100000}}, 2,
     {"CPUQuotaPeriodUSec": ("t", 100000), "CPUQuotaPerSecUSec": ("t", 500000)}),
    ({"cpu": {"quota": 12345, "period": 100000}}, 2,      # 123450 µs/s, up to whole percents
     {"CPUQuotaPeriodUSec": ("t", 100000), "CPUQuotaPerSecUSec": ("t", 130000)}),
    ({"cpu": {"quota": 5000}}, 2, {"CPUQuotaPerSecUSec": ("t", 50000)}),   # the default period
    ({"cpu": {"quota": -1, "period": 50000}}, 2,
     {"CPUQuotaPeriodUSec": ("t", 50000), "CPUQuotaPerSecUSec": ("t", INF)}),
    ({"cpu": {"cpus": "0-1", "mems": "0"}}, 2, {"AllowedCPUs": ("ay", b"\x03"), "AllowedMemoryNodes": ("ay", b"\x01")}),
    ({"pids": {"limit": 32}}, 2, {"TasksMax": ("t", 32)}),
    ({"pids": {"limit": -1}}, 2, {"TasksMax": ("t", INF)}),
    ({"pids": {"limit": 0}}, 2, {}),                       # runc: only > 0 or -1
    ({"unified": {"memory.high": "1000000", "pids.max": "max", "cpu.weight": "50", "memory.oom.group": "1"}}, 2,
     {"MemoryHigh": ("t", 1000000), "TasksMax": ("t", INF), "CPUWeight": ("t", 50)}),
    ({"unified": {"cpu.max": "max 50000"}}, 2,
     {"CPUQuotaPeriodUSec": ("t", 50000), "CPUQuotaPerSecUSec": ("t", INF)}),
    # v1
    ({"memory": {"limit": 64 * MiB}}, 1, {"MemoryLimit": ("t", 64 * MiB)}),
    ({"cpu": {"shares": 512, "quota": 20000, "period": 100000}}, 1,
     {"CPUShares": ("t", 512), "CPUQuotaPeriodUSec": ("t", 100000), "CPUQuotaPerSecUSec": ("t", 200000)}),
    ({"blockIO": {"weight": 500}}, 1, {"BlockIOWeight": ("t", 500)}),
    ({"pids": {"limit": 10}}, 1, {"TasksMax": ("t", 10)}),   # runc 1.1.5: no TasksAccounting here on v1
    ({"pids": {"limit": -1}}, 1, {"TasksMax": ("t", INF)}),
    ({"pids": {"limit": 0}}, 1, {}),
    ({"memory": {"limit": -1}}, 1, {"MemoryLimit": ("t", INF)}),
    # v1 has no property for the reservation nor the swap limit: the files only
    ({"memory": {"limit": 64 * MiB, "reservation": 16 * MiB, "swap": 96 * MiB}}, 1,
     {"MemoryLimit": ("t", 64 * MiB)}),
    ({"cpu": {"shares": 2}}, 1, {"CPUShares": ("t", 2)}),    # as is, no weight conversion
    ({"cpu": {"quota": 12345, "period": 100000}}, 1,
     {"CPUQuotaPeriodUSec": ("t", 100000), "CPUQuotaPerSecUSec": ("t", 130000)}),
    ({"cpu": {"quota": -1, "period": 50000}}, 1,
     {"CPUQuotaPeriodUSec": ("t", 50000), "CPUQuotaPerSecUSec": ("t", INF)}),
    # runc sends AllowedCPUs/AllowedMemoryNodes on v1 too (systemd ignores them there)
    ({"cpu": {"cpus": "0-1", "mems": "0"}}, 1, {"AllowedCPUs": ("ay", b"\x03"), "AllowedMemoryNodes": ("ay", b"\x01")}),
    ({"blockIO": {"weight": 500}}, 2, {}),                  # runc 1.1.5's v2 driver sends no IOWeight
]


@pytest.mark.parametrize("resources, version, want", RUNC_TABLE)
def test_resource_properties_as_runc(resources, version, want):
    assert props(resources, version) == want


def test_v1_properties_in_runcs_order():
    r = {"memory": {"limit": 64 * MiB}, "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
         "pids": {"limit": 32}, "blockIO": {"weight": 300}}
    assert [k for k, _ in S.resource_properties(r, 1)] == [
        "MemoryLimit", "CPUShares", "CPUQuotaPeriodUSec", "CPUQuotaPerSecUSec", "BlockIOWeight", "TasksMax",
        "AllowedCPUs"]


@pytest.mark.parametrize("version, io", [(2, "IOAccounting"), (1, "BlockIOAccounting")])
def test_base_properties_accounting_per_version(version, io):
    u = P.systemd_unit("system.slice:p:c", "c")
    p = dict(S.base_properties(u, 7, "libcontainer container c", version))
    assert p[io] == ("b", True) and ({"IOAccounting", "BlockIOAccounting"} - {io}).isdisjoint(p)
    assert p["MemoryAccounting"] == p["CPUAccounting"] == p["TasksAccounting"] == ("b", True)
    assert p["PIDs"] == ("au", [7]) and p["Delegate"] == ("b", True)


def test_old_systemd_gets_no_period_nor_cpuset():
    got = props({"cpu": {"quota": 50000, "period": 100000, "cpus": "0"}}, 2, sd=241)
    assert got == {"CPUQuotaPerSecUSec": ("t", 500000)}


@pytest.mark.parametrize("text, mask", [
    ("0", b"\x01"), ("1", b"\x02"), ("0-1", b"\x03"), ("0,1", b"\x03"), ("2-3", b"\x0c"), ("0-7", b"\xff"),
    ("8", b"\x00\x01"), ("1-3,5", b"\x2e"), ("9-11", b"\x00\x0e"), ("", b"\x00"), (" 0 , 2 ", b"\x05"),
])
def test_range_to_bits(text, mask):
    assert S.range_to_bits(text) == mask


@pytest.mark.parametrize("text", ["a", "3-1", "-1", "1-"])
def test_range_to_bits_refused(text):
    with pytest.raises(ValueError):
        S.range_to_bits(text)


def test_swap_below_limit_refused_with_path():
    with pytest.raises(ConfigError) as e:
        props({"memory": {"limit": 64 * MiB, "swap": 32 * MiB}})
    assert e.value.path == "linux.resources.memory.swap"


PROC_DEVICES = """Character devices:
  1 mem
  5 /dev/tty
136 pts
180 usb

Block devices:
  8 sd
259 blkext
"""


def test_device_properties_runc_defaults():
    got = S.device_properties(D.effective_rules(None), PROC_DEVICES)
    assert got[0] == ("DevicePolicy", ("s", "strict"))
    assert got[1] == ("DeviceAllow", ("a(ss)", []))    # emptied first, as runc
    name, (sig, allow) = got[2]
    assert (name, sig) == ("DeviceAllow", "a(ss)")
    assert sorted(allow) == sorted([
        ("char-*", "m"), ("block-*", "m"), ("/dev/char/1:3", "rwm"), ("/dev/char/1:8", "rwm"),
        ("/dev/char/1:7", "rwm"), ("/dev/char/5:0", "rwm"), ("/dev/char/1:5", "rwm"), ("/dev/char/1:9", "rwm"),
        ("char-pts", "rwm"), ("/dev/char/5:2", "rwm"), ("/dev/char/10:200", "rwm")])


def test_device_properties_allow_all_and_deny_list():
    allow_all = [(True, "a", -1, -1, "rwm")]
    assert S.device_properties(allow_all) == [("DevicePolicy", ("s", "auto")), ("DeviceAllow", ("a(ss)", []))]
    warned = []
    deny_list = allow_all + [(False, "c", 1, 3, "rwm")]
    got = S.device_properties(deny_list, warn=warned.append)
    assert got == [("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", []))] and warned


def test_device_properties_skip_what_systemd_cannot_say():
    warned = []
    rules = [(True, "c", -1, 5, "r"), (True, "c", 999, -1, "r"), (True, "b", 8, 0, "rw")]
    got = S.device_properties(rules, PROC_DEVICES, warned.append)
    assert got[2] == ("DeviceAllow", ("a(ss)", [("/dev/block/8:0", "rw")]))
    assert len(warned) == 2


def test_device_properties_skip_a_device_with_no_dev_nor_sys_link():
    warned, noted = [], []
    there = {"/dev/char/1:3", "/sys/dev/char/5:0"}
    rules = [(True, "c", 1, 3, "rwm"), (True, "c", 5, 0, "rwm"), (True, "c", 10, 200, "rwm")]
    got = S.device_properties(rules, PROC_DEVICES, warned.append, exists=there.__contains__, note=noted.append)
    assert got[2] == ("DeviceAllow", ("a(ss)", [("/dev/char/1:3", "rwm"), ("/dev/char/5:0", "rwm")]))
    assert noted == ["skipping device /dev/char/10:200 for systemd: stat /sys/dev/char/10:200: "
                     "no such file or directory"] and warned == []


# ---- annotations (runc's initSystemdProps, godbus's ParseVariant) ----

@pytest.mark.parametrize("value, want", [
    ("true", ("b", True)), ("false", ("b", False)),
    ("42", ("i", 42)), ("uint64 42", ("t", 42)), ("@t 42", ("t", 42)), ("uint32 7", ("u", 7)),
    ("'inactive-or-failed'", ("s", "inactive-or-failed")), ('"x y"', ("s", "x y")),
    ("1.5", ("d", 1.5)), ("['a', 'b']", ("as", ["a", "b"])), ("@as []", ("as", [])),
])
def test_parse_variant(value, want):
    assert S.parse_variant(value) == want


@pytest.mark.parametrize("value", ["nope", "'open", "[1, 'a']", "[]", "uint32 -1", "byte 256", "@b 1"])
def test_parse_variant_refused(value):
    with pytest.raises(ValueError):
        S.parse_variant(value)


def test_annotation_properties():
    got = S.annotation_properties({
        "org.systemd.property.TimeoutStopSec": "uint64 7",     # Sec -> USec, seconds -> µs
        "org.systemd.property.RuntimeMaxSec": "2.5",
        "org.systemd.property.CollectMode": "'inactive-or-failed'",
        "org.systemd.property.CPUQuotaPerSecUSec": "uint64 300000",   # already USec: as is
        "other.annotation": "ignored"})
    assert got == [("CPUQuotaPerSecUSec", ("t", 300000)), ("CollectMode", ("s", "inactive-or-failed")),
                   ("RuntimeMaxUSec", ("t", 2500000)), ("TimeoutStopUSec", ("t", 7000000))]


@pytest.mark.parametrize("key, value, words", [
    ("org.systemd.property.AB", "true", "name incorrect: too short"),
    ("org.systemd.property.Foo9", "true", "name incorrect: contains non-alphabetic character"),
    ("org.systemd.property.Foo", "what", "value parse error"),
    ("org.systemd.property.TimeoutStopSec", "'x'", "value parse error: not a number"),
])
def test_annotation_refused(key, value, words):
    with pytest.raises(ConfigError) as e:
        S.annotation_properties({key: value})
    assert words in str(e.value) and e.value.path == "annotations." + key


# ---- the manager against a fake bus ----

class FakeBus:
    def __init__(self, results=None, fail=None, version=252):
        self.calls = []
        self.results = results or {}
        self.fail = fail or {}
        self._version = version

    def __call__(self, user=False):
        self.calls.append(("connect", user))
        return self

    def version(self):
        return self._version

    def _do(self, method, *args):
        self.calls.append((method,) + args)
        if method in self.fail:
            raise self.fail[method]
        return self.results.get(method, "done")

    def start_transient_unit(self, unit, props):
        return self._do("start", unit, props)

    def stop_unit(self, unit):
        return self._do("stop", unit)

    def set_unit_properties(self, unit, props):
        return self._do("set", unit, props)

    def reset_failed_unit(self, unit):
        return self._do("reset", unit)

    def close(self):
        self.calls.append(("close",))


def manager(tmp_path, bus, mode="v2", cgroups_path="system.slice:pyrt:c1"):
    from pyrunc.cgroups import systemd

    u = P.systemd_unit(cgroups_path, "c1")
    d = tmp_path / "cg" / u.path.strip("/")
    d.mkdir(parents=True)     # systemd makes the scope's directory
    m = systemd.new(mode, {"": str(d)}, u, [("CollectMode", ("s", "inactive-or-failed"))])
    m.bus_factory = bus
    return m, d


def test_manager_create_start_apply_destroy(tmp_path):
    bus = FakeBus()
    m, d = manager(tmp_path, bus)
    assert m.create() == [] and m.spawn_dir() is None
    assert bus.calls == []            # nothing before the init exists
    m.apply({"pids": {"limit": 5}}, devices=False)
    (d / "pids.max").write_text("")
    m.join(4242)
    start = [c for c in bus.calls if c[0] == "start"]
    assert len(start) == 1
    _, unit, props = start[0]
    p = dict(props)
    assert unit == "pyrt-c1.scope"
    assert p["Slice"] == ("s", "system.slice") and p["Delegate"] == ("b", True)
    assert p["PIDs"] == ("au", [4242]) and p["TasksMax"] == ("t", 5)
    assert p["Description"] == ("s", "libcontainer container c1")
    assert p["CollectMode"] == ("s", "inactive-or-failed")
    assert p["DefaultDependencies"] == ("b", False)
    assert "DevicePolicy" not in p    # devices=False
    assert (d / "pids.max").read_text() == "5"    # the cgroupfs write after the unit
    rec = m.record()
    assert rec["cgroupDriver"] == "systemd" and rec["systemdUnit"] == "pyrt-c1.scope"
    m.destroy()
    assert ("stop", "pyrt-c1.scope") in bus.calls and bus.calls[-1] == ("close",)


def test_manager_from_state_update_sets_properties_then_files(tmp_path):
    from pyrunc.cgroups.manager import Manager

    bus = FakeBus()
    m, d = manager(tmp_path, bus)
    st = dict(m.record(), cgroupMode="v2")
    m2 = Manager.from_state(st)
    assert type(m2).__name__ == "SystemdManager" and m2.started
    m2.bus_factory = bus
    (d / "memory.max").write_text("")
    m2.apply({"memory": {"limit": 128 * MiB}}, update=True, devices=False)
    sets = [c for c in bus.calls if c[0] == "set"]
    assert sets == [("set", "pyrt-c1.scope", [("MemoryMax", ("t", 128 * MiB))])]
    assert (d / "memory.max").read_text() == str(128 * MiB)


def test_cgroupfs_state_never_imports_the_driver():
    from pyrunc.cgroups.manager import Manager

    m = Manager.from_state({"cgroupMode": "v2", "cgroupPaths": {"": "/x"}})
    assert type(m) is Manager and m.spawn_dir() == "/x"


def test_unit_exists_is_refused_and_never_stopped(tmp_path):
    from pyrunc.cgroups.systemd import SystemdError

    bus = FakeBus(fail={"start": SystemdError("StartTransientUnit pyrt-c1.scope",
                                              "org.freedesktop.systemd1.UnitExists", ("Unit pyrt-c1.scope was "
                                                                                     "already loaded",))})
    m, _ = manager(tmp_path, bus)
    with pytest.raises(CgroupError, match=r'^unable to start unit "pyrt-c1.scope": unit pyrt-c1.scope already '
                                          r'exists$'):
        m.join(1)
    m.destroy()
    assert not [c for c in bus.calls if c[0] == "stop"]   # someone else's unit


def test_failed_job_is_reset_and_named(tmp_path):
    bus = FakeBus(results={"start": "failed"})
    m, _ = manager(tmp_path, bus)
    with pytest.raises(CgroupError, match="error creating systemd unit `pyrt-c1.scope`: got `failed`"):
        m.join(1)
    assert ("reset", "pyrt-c1.scope") in bus.calls


def test_systemd_refusal_is_one_line(tmp_path):
    from pyrunc.cgroups.systemd import SystemdError

    bus = FakeBus(fail={"start": SystemdError("StartTransientUnit pyrt-c1.scope",
                                              "org.freedesktop.DBus.Error.PropertyReadOnly",
                                              ("Cannot set property NoSuchThing, or unknown property.",))})
    m, _ = manager(tmp_path, bus)
    with pytest.raises(CgroupError) as e:
        m.join(1)
    assert str(e.value) == ('unable to start unit "pyrt-c1.scope": StartTransientUnit pyrt-c1.scope: '
                            'Cannot set property NoSuchThing, or unknown property.')


def test_stop_of_a_unit_already_gone_is_fine(tmp_path):
    from pyrunc.cgroups.systemd import SystemdError

    bus = FakeBus(fail={"stop": SystemdError("StopUnit x", "org.freedesktop.systemd1.NoSuchUnit", ("gone",))})
    m, _ = manager(tmp_path, bus)
    m.apply({}, devices=False)
    m.join(1)
    m.destroy()


# ---- v1: the hierarchies systemd does not manage are made, joined and removed here ----

def v1_manager(tmp_path, bus, managed=("memory", "pids", "name=systemd"), ours=("freezer", "cpuset")):
    from pyrunc.cgroups import systemd

    u = P.systemd_unit("pyrunc-test.slice:pyrt:c1", "c1")
    paths = {}
    for key in managed + ours:
        paths[key] = str(tmp_path / key.replace("=", "_")) + u.path
        if key in managed:
            (tmp_path / key.replace("=", "_") / u.path.strip("/")).mkdir(parents=True)  # systemd's
        else:
            (tmp_path / key.replace("=", "_")).mkdir()                                  # the mountpoint only
    m = systemd.new("hybrid", paths, u)
    m.bus_factory = bus
    return m, paths


def test_v1_join_makes_and_joins_what_systemd_does_not_manage(tmp_path, monkeypatch):
    from pyrunc.cgroups import fs

    joined = []
    monkeypatch.setattr(fs, "join", lambda paths, pid: joined.append((sorted(paths), pid)))
    bus = FakeBus()
    m, paths = v1_manager(tmp_path, bus)
    m.apply({}, devices=False)
    m.join(4242)
    p = dict([c for c in bus.calls if c[0] == "start"][0][2])
    assert p["BlockIOAccounting"] == ("b", True) and "IOAccounting" not in p
    ours = [d for d in m.created if d.endswith("pyrt-c1.scope")]
    assert sorted(ours) == sorted([paths["freezer"], paths["cpuset"]])    # systemd's were there
    assert not [d for d in m.created if "/memory/" in d or "/pids/" in d]
    assert joined == [(sorted(paths), 4242)]     # every hierarchy: systemd's already have it


def test_v1_unified_is_refused_before_any_unit(tmp_path):
    bus = FakeBus()
    m, _ = v1_manager(tmp_path, bus)
    with pytest.raises(ConfigError) as e:
        m.apply({"unified": {"memory.high": "1"}}, devices=False)
    assert e.value.reason == "invalid configuration: cannot use unified on cgroup v1"
    assert bus.calls == []


def test_v1_destroy_keeps_a_parent_another_container_is_below(tmp_path, monkeypatch):
    import os

    from pyrunc.cgroups import fs

    monkeypatch.setattr(fs, "join", lambda paths, pid: None)
    bus = FakeBus()
    m, paths = v1_manager(tmp_path, bus)
    m.apply({}, devices=False)
    m.join(1)
    freezer_slice = os.path.dirname(paths["freezer"])
    cpuset_top = str(tmp_path / "cpuset" / "pyrunc.slice")
    assert freezer_slice in m.created and cpuset_top in m.created
    os.mkdir(freezer_slice + "/other-c2.scope")    # another container of the slice
    m.destroy()
    assert ("stop", "pyrt-c1.scope") in bus.calls
    assert not os.path.exists(paths["freezer"]) and not os.path.exists(paths["cpuset"])
    assert os.path.isdir(freezer_slice + "/other-c2.scope")      # kept, with what is below it
    assert not os.path.exists(cpuset_top)                        # empty: removed
