"""Rootless cgroups, pure logic (runc 1.1.5): the user's session bus (address and uid,
cgroups/systemd/user.go), whether the rootless manager is used (rootless_linux.go),
where the user's manager puts a unit, the unified host's relative cgroupsPath (fs2's
parent of our own cgroup) and the cgroup2 mount's fallback in the plan."""
import pytest

from pyrunc import rootless
from pyrunc.cgroups import paths as P
from pyrunc.cgroups import userbus
from pyrunc.cgroups.host import CgroupHost, Hierarchy
from pyrunc.errors import CgroupError
from pyrunc.plan import build
from pyrunc.plan import ops as O
from pyrunc.spec import default, load

UNIFIED = CgroupHost("v2", [Hierarchy("/sys/fs/cgroup", "/", 2, (), "")],
                     {"": "/user.slice/user-1000.slice/session-3.scope"})
HYBRID = CgroupHost("hybrid", [Hierarchy("/sys/fs/cgroup/memory", "/", 1, ("memory",), "memory"),
                               Hierarchy("/sys/fs/cgroup/unified", "/", 2, (), "")],
                    {"memory": "/user.slice/session-3.scope", "": "/user.slice/session-3.scope"})


# -- the session bus --------------------------------------------------------------

def test_bus_address_from_the_environment_first():
    env = {b"DBUS_SESSION_BUS_ADDRESS": b"unix:path=/tmp/b", b"XDG_RUNTIME_DIR": b"/run/user/1000"}
    assert userbus.address_from(env, lambda p: True) == "unix:path=/tmp/b"


def test_bus_address_from_xdg_runtime_dir_when_the_socket_exists():
    env = {b"XDG_RUNTIME_DIR": b"/run/user/1000/"}
    seen = []
    assert userbus.address_from(env, lambda p: seen.append(p) or True) == "unix:path=/run/user/1000/bus"
    assert seen == ["/run/user/1000/bus"]
    assert userbus.address_from(env, lambda p: False) is None
    assert userbus.address_from({b"DBUS_SESSION_BUS_ADDRESS": b""}, lambda p: True) is None


def test_bus_address_from_systemctl_show_environment():
    text = "HOME=/home/u\nDBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus\nPATH=/bin\n"
    assert userbus.address_from_show_environment(text) == "unix:path=/run/user/1000/bus"
    assert userbus.address_from_show_environment("HOME=/home/u\n") is None


def test_owner_uid_from_busctl_status():
    text = "PID=1234\nUID=0\nEUID=0\nOwnerUID=1000\nAuditLoginUID=1000\n"
    assert userbus.owner_uid_from_busctl(text) == 1000
    with pytest.raises(CgroupError, match="could not detect the OwnerUID"):
        userbus.owner_uid_from_busctl("PID=1\nUID=0\n")
    with pytest.raises(CgroupError, match="could not detect the OwnerUID"):
        userbus.owner_uid_from_busctl("OwnerUID=n/a\n")


def test_external_auth_names_the_uid_in_hex_decimal():
    assert userbus.auth_line(1000) == b"AUTH EXTERNAL 31303030\r\n"
    assert userbus.auth_line(0) == b"AUTH EXTERNAL 30\r\n"


def test_detect_uid_outside_a_user_namespace_is_ours(monkeypatch):
    monkeypatch.setattr(rootless, "in_userns", lambda: False)
    monkeypatch.setattr(userbus.posix, "getuid", lambda: 4242)
    assert userbus.detect_uid() == 4242


def test_detect_uid_in_a_user_namespace_asks_busctl(monkeypatch):
    monkeypatch.setattr(rootless, "in_userns", lambda: True)
    argv = []
    monkeypatch.setattr(userbus, "_output", lambda a: (argv.append(a), ("OwnerUID=1001\n", ""))[1])
    assert userbus.detect_uid() == 1001
    assert argv == [["busctl", "--user", "--no-pager", "status"]]
    monkeypatch.setattr(userbus, "_output", lambda a: (None, "Failed to connect to bus"))
    with pytest.raises(CgroupError, match="could not execute `busctl --user --no-pager status`"):
        userbus.detect_uid()


def test_no_session_bus_anywhere_is_runcs_words(monkeypatch):
    monkeypatch.setattr(userbus, "address_from", lambda env, exists: None)
    monkeypatch.setattr(userbus, "_output", lambda a: ("HOME=/x\n", ""))
    with pytest.raises(CgroupError, match="could not detect DBUS_SESSION_BUS_ADDRESS from `systemctl --user "
                                          "--no-pager show-environment`. Make sure you have installed the "
                                          "dbus-user-session"):
        userbus.session_bus_address()


# -- the rootless decision --------------------------------------------------------

@pytest.mark.parametrize("euid,userns,systemd,owner,want", [
    (True, False, False, None, True),      # an unprivileged user
    (True, False, True, None, True),
    (False, False, False, None, False),    # the real root
    (False, False, True, None, False),
    (False, True, False, None, True),      # root in a user namespace, cgroupfs: always
    (False, True, True, 1000, True),       # ... systemd: the bus's owner is a user (rootless Podman)
    (False, True, True, 0, False),         # ... systemd run by that namespace's root (a systemd container)
    (False, True, True, "error", False),   # ... no session bus: root, as runc
])
def test_rootless_cgroup_manager_as_runc_decides(monkeypatch, euid, userns, systemd, owner, want):
    monkeypatch.setattr(rootless, "euid", lambda: euid)
    monkeypatch.setattr(rootless, "in_userns", lambda: userns)
    asked = []

    def owner_uid():
        asked.append(1)
        if owner == "error":
            raise CgroupError("could not execute `busctl --user --no-pager status`")
        return owner

    assert rootless.cgroups("auto", systemd=systemd, owner_uid=owner_uid) is want
    assert bool(asked) == (userns and systemd and not euid)


def test_rootless_flag_wins(monkeypatch):
    monkeypatch.setattr(rootless, "euid", lambda: True)
    assert rootless.cgroups("false", systemd=True, owner_uid=lambda: 1000) is False
    assert rootless.cgroups("true", systemd=True, owner_uid=lambda: 0) is True


# -- where the unit goes ----------------------------------------------------------

def test_rootless_default_slice_is_user_slice_below_the_users_manager():
    unit = P.systemd_unit("", "c1", rootless=True)
    assert (unit.name, unit.slice) == ("runc-c1.scope", "user.slice")
    got = P.resolve_systemd(UNIFIED, unit, "/user.slice/user-1000.slice/user@1000.service")
    assert got == {"": "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/user.slice/runc-c1.scope"}


def test_rootless_podman_path_below_the_users_manager():
    unit = P.systemd_unit("user.slice:libpod:abc", "abc", rootless=True)
    got = P.resolve_systemd(UNIFIED, unit, "/user.slice/user-1000.slice/user@1000.service/")
    assert got[""] == "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-abc.scope"
    nested = P.systemd_unit("app-pods.slice:p:c2", "c2", rootless=True)
    assert P.resolve_systemd(UNIFIED, nested, "/m.service")[""] == \
        "/sys/fs/cgroup/m.service/app.slice/app-pods.slice/p-c2.scope"


def test_root_systemd_path_is_unchanged():
    unit = P.systemd_unit("", "c1")
    assert P.resolve_systemd(UNIFIED, unit) == {"": "/sys/fs/cgroup/system.slice/runc-c1.scope"}


# -- a relative cgroupsPath on a unified host --------------------------------------

def test_relative_path_on_a_unified_host_is_below_our_parent():
    """fs2: our own cgroup has processes (a session scope, a service): its parent."""
    assert P.resolve(UNIFIED, "", "c1") == {"": "/sys/fs/cgroup/user.slice/user-1000.slice/c1"}
    assert P.resolve(UNIFIED, "grp/c1", "x") == {"": "/sys/fs/cgroup/user.slice/user-1000.slice/grp/c1"}
    at_root = CgroupHost("v2", UNIFIED.hierarchies, {"": "/"})
    assert P.resolve(at_root, "", "c1") == {"": "/sys/fs/cgroup/c1"}
    top = CgroupHost("v2", UNIFIED.hierarchies, {"": "/init.scope"})
    assert P.resolve(top, "", "c1") == {"": "/sys/fs/cgroup/c1"}


def test_relative_path_on_v1_and_hybrid_stays_below_our_own():
    got = P.resolve(HYBRID, "", "c1")
    assert got == {"memory": "/sys/fs/cgroup/memory/user.slice/session-3.scope/c1",
                   "": "/sys/fs/cgroup/unified/user.slice/session-3.scope/c1"}


# -- the cgroup2 mount ------------------------------------------------------------

def cgroup_mount(rootless_cgroups, cgroup2_path):
    s = default.spec()
    s["process"]["terminal"] = False
    s["linux"]["namespaces"].append({"type": "cgroup"})
    h = build.Host(cgroup_host=UNIFIED, host_netns="/proc/self/ns/net",
                   cgroup_paths={"": cgroup2_path} if cgroup2_path else {})
    h.rootless_cgroups = rootless_cgroups
    h.cgroup2_path = cgroup2_path
    p = build.build(load.check(s), build.Options("c1", "/bundle", console_socket=False), h)
    cg, = [op for op in p.ops if op.kind == O.OP_MOUNT and op.s2 == "/sys/fs/cgroup"]
    return cg


def test_cgroup2_mount_falls_back_to_the_containers_cgroup():
    cg = cgroup_mount(False, "/sys/fs/cgroup/c1")
    assert (cg.s1, cg.s3, cg.s4) == ("cgroup2", "cgroup2", "/sys/fs/cgroup/c1")
    assert cg.n2 == O.MNT_F_CGROUP2_FALLBACK


def test_rootless_cgroup2_mount_is_masked_where_there_is_no_cgroup():
    cg = cgroup_mount(True, "/sys/fs/cgroup/user.slice/c1")
    assert cg.s4 == "/sys/fs/cgroup/user.slice/c1"
    assert cg.n2 == O.MNT_F_CGROUP2_FALLBACK | O.MNT_F_MASK_IF_GONE
    # no cgroup path at all: the whole hierarchy, as runc's UnifiedMountpoint
    assert cgroup_mount(False, None).s4 == "/sys/fs/cgroup"


# -- `spec` on a unified host -------------------------------------------------------

def test_spec_adds_a_cgroup_namespace_on_a_unified_host_as_runc():
    ns = lambda s: [n["type"] for n in s["linux"]["namespaces"]]  # noqa: E731
    assert ns(default.spec(cgroupns=True)) == ["pid", "network", "ipc", "uts", "mount", "cgroup"]
    assert ns(default.spec(rootless=True, cgroupns=True)) == ["pid", "ipc", "uts", "mount", "cgroup", "user"]
    assert ns(default.spec(rootless=True)) == ["pid", "ipc", "uts", "mount", "user"]
    assert '"type": "cgroup"' in default.render(rootless=True, cgroupns=True)
