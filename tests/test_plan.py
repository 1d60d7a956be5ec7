"""Plan building as data: the same config gives the same ops, and bad configs are
refused with the JSON path before anything runs."""
import copy

import pytest

from pyrunc.cgroups.host import CgroupHost, Hierarchy
from pyrunc.errors import ConfigError, PyruncError
from pyrunc.plan import build, mounts
from pyrunc.plan import ops as O
from pyrunc.spec import default, load

V1 = CgroupHost("hybrid", [Hierarchy("/sys/fs/cgroup/memory", "/", 1, ("memory",), "memory"),
                           Hierarchy("/sys/fs/cgroup/systemd", "/", 1, ("name=systemd",), "name=systemd"),
                           Hierarchy("/sys/fs/cgroup/unified", "/", 2, (), "")], {})
PATHS = {"memory": "/sys/fs/cgroup/memory/c1", "name=systemd": "/sys/fs/cgroup/systemd/c1",
         "": "/sys/fs/cgroup/unified/c1"}


def host(**kw):
    kw.setdefault("cgroup_host", V1)
    kw.setdefault("cgroup_paths", PATHS)
    kw.setdefault("dirs", set())
    return build.Host(**kw)


def spec(**changes):
    s = default.spec()
    s["process"]["terminal"] = False
    for k, v in changes.items():
        s[k] = v
    return load.check(s)


def plan_for(s, **opts):
    opts.setdefault("console_socket", False)
    return build.build(s, build.Options("c1", "/bundle", **opts), host())


def kinds(p):
    return [O.NAMES[op.kind] for op in p.ops]


def test_default_spec_plan_is_stable():
    a = plan_for(spec())
    b = plan_for(spec())
    assert a.ops == b.ops
    assert a.rootfs == "/bundle/rootfs"
    assert a.clone_flags == O.CLONE_NEWPID | O.CLONE_NEWNET | O.CLONE_NEWIPC | O.CLONE_NEWUTS | O.CLONE_NEWNS


def test_op_order_follows_the_kernel_rules():
    k = kinds(plan_for(spec()))
    order = ["setsid", "keyring", "loopback_up", "root_propagation", "bind_rootfs", "mount", "mknod",
             "symlink", "pivot_root", "reopen_devnull", "remount_ro", "hostname", "readonly_path",
             "mask_path", "rlimit", "umask", "no_new_privs", "chdir", "caps", "user", "home_env", "caps",
             "lookup_exec", "ready", "exec"]
    positions = [k.index(name) if name != "caps" else None for name in order]
    firsts = [p for p in positions if p is not None]
    assert firsts == sorted(firsts)
    assert k[-2:] == ["ready", "exec"]
    assert k.count("caps") == 2 and k.index("caps") < k.index("user") < len(k) - 1 - k[::-1].index("caps")


def test_default_mounts():
    p = plan_for(spec())
    m = [op for op in p.ops if op.kind == O.OP_MOUNT]
    assert [op.s2 for op in m[:6]] == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"]
    dev = m[1]
    assert dev.s3 == "tmpfs" and dev.s4 == "mode=755,size=65536k"
    assert dev.u1 == mounts.MS_NOSUID | mounts.MS_STRICTATIME
    sysfs = m[5]
    assert sysfs.u1 & mounts.MS_RDONLY
    # cgroup on a v1 host: a tmpfs, then one bind per hierarchy, read-only
    cg = [op for op in m if op.s2.startswith("/sys/fs/cgroup")]
    assert [op.s2 for op in cg] == ["/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/systemd"]
    assert cg[1].s1 == "/sys/fs/cgroup/memory/c1" and cg[1].n2 & O.MNT_F_BIND and cg[1].u1 & mounts.MS_RDONLY


def test_cgroup_namespace_mounts_cgroupfs():
    s = spec()
    s["linux"]["namespaces"].append({"type": "cgroup"})
    p = plan_for(s)
    cg = [op for op in p.ops if op.kind == O.OP_MOUNT and op.s2.startswith("/sys/fs/cgroup/")]
    assert cg[0].s3 == "cgroup" and cg[0].s4 == "memory"
    assert O.NAMES[p.ops[0].kind] == "unshare" and p.ops[0].u1 == O.CLONE_NEWCGROUP


def test_default_devices_and_links():
    p = plan_for(spec())
    nodes = {op.s2: op for op in p.ops if op.kind == O.OP_MKNOD}
    assert set(nodes) == {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}
    assert nodes["/dev/null"].n1 == 0o020666 and nodes["/dev/null"].u1 == (1 << 8) | 3
    links = {op.s2: op.s1 for op in p.ops if op.kind == O.OP_SYMLINK}
    assert links["/dev/ptmx"] == "pts/ptmx" and links["/dev/fd"] == "/proc/self/fd"


def test_config_device_overrides_default():
    s = spec()
    s["linux"]["devices"] = [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 5}]
    nodes = [op for op in plan_for(s).ops if op.kind == O.OP_MKNOD and op.s2 == "/dev/null"]
    assert len(nodes) == 1 and nodes[0].n1 == 0o020600 and nodes[0].n2 == 5


def test_bind_dev_skips_device_setup():
    s = spec()
    s["mounts"].append({"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind"]})
    assert O.OP_MKNOD not in [op.kind for op in plan_for(s).ops]


def test_capabilities_and_user():
    s = spec()
    s["process"]["user"] = {"uid": 1000, "gid": 100, "additionalGids": [5, 6], "umask": 0o077}
    p = plan_for(s)
    user = [op for op in p.ops if op.kind == O.OP_USER][0]
    assert (user.n1, user.n2, user.arr) == (1000, 100, (5, 6))
    caps = [op for op in p.ops if op.kind == O.OP_CAPS]
    expected = (1 << 29) | (1 << 5) | (1 << 10)
    assert caps[0].u1 == expected and caps[1].u2 == expected and caps[1].u4 == 0
    assert [op.n1 for op in p.ops if op.kind == O.OP_UMASK] == [0o077]


def test_unknown_capability_is_warned_and_skipped():
    s = spec()
    s["process"]["capabilities"]["bounding"].append("CAP_NOPE")
    p = plan_for(s)
    assert any("CAP_NOPE" in w for w in p.warnings)


def test_env_dedupe_keeps_first_position():
    assert build.dedupe_env(["A=1", "B=2", "A=3"]) == ["A=3", "B=2"]


def test_rlimits():
    p = plan_for(spec())
    rl = [op for op in p.ops if op.kind == O.OP_RLIMIT]
    assert [(op.n1, op.u1, op.u2) for op in rl] == [(7, 1024, 1024)]


def test_preserve_fds_moves_exec_close_floor():
    p = plan_for(spec(), preserve_fds=2)
    assert p.ops[-1].kind == O.OP_EXEC and p.ops[-1].n1 == 5


def test_join_namespace_by_path():
    s = spec()
    s["linux"]["namespaces"] = [{"type": "pid", "path": "/proc/1/ns/pid"}, {"type": "mount"},
                                {"type": "network", "path": "/run/netns/x"}, {"type": "uts"}]
    p = plan_for(s)
    assert p.pidns_path == "/proc/1/ns/pid"
    assert p.clone_flags == O.CLONE_NEWNS | O.CLONE_NEWUTS
    joins = [op for op in p.ops if op.kind == O.OP_SETNS]
    assert [(op.n1, op.fdref) for op in joins] == [(O.CLONE_NEWNET, ("path", "/run/netns/x"))]


def test_time_namespace_offsets():
    s = spec()
    s["linux"]["namespaces"].append({"type": "time"})
    s["linux"]["timeOffsets"] = {"monotonic": {"secs": 10}, "boottime": {"secs": 5, "nanosecs": 7}}
    p = plan_for(s)
    w = [op for op in p.ops if op.kind == O.OP_WRITE_FILE][0]
    assert w.s1 == "/proc/self/timens_offsets" and w.s2 == "boottime 5 7\nmonotonic 10 0\n"


@pytest.mark.parametrize("mutate,path", [
    (lambda s: s["linux"].__setitem__("gidMappings", [{"containerID": 0, "hostID": 1, "size": 1}]),
     "linux.gidMappings"),
    (lambda s: s["linux"]["namespaces"].__setitem__(3, {"type": "ipc"}), "linux.namespaces[3].type"),
    (lambda s: s.__setitem__("hostname", "x") or s["linux"]["namespaces"].pop(3), "hostname"),
    (lambda s: s["process"].__setitem__("cwd", "tmp"), "process.cwd"),
    (lambda s: s["process"].__setitem__("args", []), "process.args"),
    (lambda s: s["linux"].__setitem__("sysctl", {"kernel.pid_max": "1"}), "linux.sysctl.kernel.pid_max"),
    (lambda s: s["linux"].__setitem__("sysctl", {"net.ipv4.ip_forward": "1"}) or s["linux"]["namespaces"].pop(1),
     "linux.sysctl.net.ipv4.ip_forward"),
    (lambda s: s["mounts"].append({"destination": "/x", "type": "bind", "source": "/tmp",
                                   "options": ["rbind", "nosuidd"]}), "mounts[7].options[1]"),
    (lambda s: s["process"]["env"].append("NOEQUALS"), "process.env[2]"),
    (lambda s: s["linux"].__setitem__("timeOffsets", {"monotonic": {"secs": 1}}), "linux.timeOffsets"),
])
def test_bad_configs_name_their_path(mutate, path):
    s = copy.deepcopy(default.spec())
    s["process"]["terminal"] = False
    mutate(s)
    with pytest.raises(ConfigError) as e:
        plan_for(load.check(s))
    assert e.value.path == path


def test_terminal_without_console_socket_is_runcs_error():
    """Not a config error but a command-line one (runc's words): create detaches, so a
    terminal needs --console-socket, and a console socket needs a terminal."""
    s = copy.deepcopy(default.spec())
    s["process"]["terminal"] = True
    with pytest.raises(PyruncError, match="^cannot allocate tty if runc will detach without setting console socket$") as e:
        plan_for(load.check(s))
    assert not isinstance(e.value, ConfigError)
    s["process"]["terminal"] = False
    with pytest.raises(PyruncError, match="^cannot use console socket if runc will not detach or allocate tty$"):
        plan_for(load.check(s), console_socket=True)


def test_mount_options_table():
    o = mounts.parse_options(["ro", "nosuid", "rw", "rprivate", "rro", "rnoatime", "size=1m"], "p", "tmpfs")
    assert o.flags == mounts.MS_NOSUID
    assert o.propagation == [mounts.MS_PRIVATE | mounts.MS_REC]
    assert o.attr_set == mounts.MOUNT_ATTR_RDONLY | mounts.MOUNT_ATTR_NOATIME
    assert o.attr_clr == mounts.MOUNT_ATTR__ATIME
    assert o.data == ["size=1m"]
    b = mounts.parse_options(["rbind", "ro"], "p", "none")
    assert b.bind and b.flags == mounts.MS_BIND | mounts.MS_REC | mounts.MS_RDONLY


def test_clean_path():
    assert mounts.clean_path("/a/../../b//c/.") == "/b/c"
    assert mounts.clean_path("/") == "/"


# ---- the mount option table, entry by entry ----

def _kernel_constants(header="/usr/include/linux/mount.h"):
    """MS_* and MOUNT_ATTR_* from the kernel's uapi header (`N`, `0xN` or `(1<<N)`)."""
    import re
    from pathlib import Path
    out = {}
    for name, value in re.findall(r"^#define\s+((?:MS|MOUNT_ATTR)_\w+)\s+(\(1\s*<<\s*\d+\)|0x[0-9a-fA-F]+|\d+)(?=\s|$)",
                                  Path(header).read_text(), re.M):
        shift = re.fullmatch(r"\(1\s*<<\s*(\d+)\)", value)
        out[name] = 1 << int(shift.group(1)) if shift else int(value, 0)
    return out


K = _kernel_constants()
ATIME = K["MOUNT_ATTR__ATIME"]

# runtime-spec config.md, "Linux mount options": option -> ("set"|"clear", MS_* flag)
SPEC_FLAGS = {
    "async": ("clear", "MS_SYNCHRONOUS"), "atime": ("clear", "MS_NOATIME"), "bind": ("set", "MS_BIND"),
    "defaults": ("set", None), "dev": ("clear", "MS_NODEV"), "diratime": ("clear", "MS_NODIRATIME"),
    "dirsync": ("set", "MS_DIRSYNC"), "exec": ("clear", "MS_NOEXEC"), "iversion": ("set", "MS_I_VERSION"),
    "lazytime": ("set", "MS_LAZYTIME"), "loud": ("clear", "MS_SILENT"), "mand": ("set", "MS_MANDLOCK"),
    "noatime": ("set", "MS_NOATIME"), "nodev": ("set", "MS_NODEV"), "nodiratime": ("set", "MS_NODIRATIME"),
    "noexec": ("set", "MS_NOEXEC"), "noiversion": ("clear", "MS_I_VERSION"),
    "nolazytime": ("clear", "MS_LAZYTIME"), "nomand": ("clear", "MS_MANDLOCK"),
    "norelatime": ("clear", "MS_RELATIME"), "nostrictatime": ("clear", "MS_STRICTATIME"),
    "nosuid": ("set", "MS_NOSUID"), "nosymfollow": ("set", "MS_NOSYMFOLLOW"), "rbind": ("set", "MS_BIND|MS_REC"),
    "relatime": ("set", "MS_RELATIME"), "remount": ("set", "MS_REMOUNT"), "ro": ("set", "MS_RDONLY"),
    "rw": ("clear", "MS_RDONLY"), "silent": ("set", "MS_SILENT"), "strictatime": ("set", "MS_STRICTATIME"),
    "suid": ("clear", "MS_NOSUID"), "symfollow": ("clear", "MS_NOSYMFOLLOW"), "sync": ("set", "MS_SYNCHRONOUS"),
}
SPEC_PROPAGATION = {
    "private": "MS_PRIVATE", "rprivate": "MS_PRIVATE|MS_REC", "shared": "MS_SHARED", "rshared": "MS_SHARED|MS_REC",
    "slave": "MS_SLAVE", "rslave": "MS_SLAVE|MS_REC", "unbindable": "MS_UNBINDABLE",
    "runbindable": "MS_UNBINDABLE|MS_REC",
}
# "Recursively set/clear MOUNT_ATTR_*" (mount_setattr with AT_RECURSIVE)
SPEC_RECURSIVE = {
    "rro": ("set", "MOUNT_ATTR_RDONLY"), "rrw": ("clear", "MOUNT_ATTR_RDONLY"),
    "rnosuid": ("set", "MOUNT_ATTR_NOSUID"), "rsuid": ("clear", "MOUNT_ATTR_NOSUID"),
    "rnodev": ("set", "MOUNT_ATTR_NODEV"), "rdev": ("clear", "MOUNT_ATTR_NODEV"),
    "rnoexec": ("set", "MOUNT_ATTR_NOEXEC"), "rexec": ("clear", "MOUNT_ATTR_NOEXEC"),
    "rnodiratime": ("set", "MOUNT_ATTR_NODIRATIME"), "rdiratime": ("clear", "MOUNT_ATTR_NODIRATIME"),
    "rrelatime": ("set", "MOUNT_ATTR_RELATIME"), "rnorelatime": ("clear", "MOUNT_ATTR_RELATIME"),
    "rnoatime": ("set", "MOUNT_ATTR_NOATIME"), "ratime": ("clear", "MOUNT_ATTR_NOATIME"),
    "rstrictatime": ("set", "MOUNT_ATTR_STRICTATIME"), "rnostrictatime": ("clear", "MOUNT_ATTR_STRICTATIME"),
    "rnosymfollow": ("set", "MOUNT_ATTR_NOSYMFOLLOW"), "rsymfollow": ("clear", "MOUNT_ATTR_NOSYMFOLLOW"),
}
ATIME_MODES = ("MOUNT_ATTR_RELATIME", "MOUNT_ATTR_NOATIME", "MOUNT_ATTR_STRICTATIME")


def _bits(names):
    value = 0
    for name in (names.split("|") if names else ()):
        value |= K[name]
    return value


def test_mount_option_tables_cover_the_spec_and_nothing_else():
    assert set(mounts.FLAGS) == set(SPEC_FLAGS)
    assert set(mounts.PROPAGATION) == set(SPEC_PROPAGATION)
    assert set(mounts.RECURSIVE) == set(SPEC_RECURSIVE)


@pytest.mark.parametrize("name", sorted({n for _, n in SPEC_FLAGS.values() if n}
                                        | set(SPEC_PROPAGATION.values()) | {n for _, n in SPEC_RECURSIVE.values()}
                                        | {"MOUNT_ATTR__ATIME"}))
def test_mount_constants_are_the_kernels(name):
    for part in name.split("|"):
        assert getattr(mounts, part) == K[part], part


@pytest.mark.parametrize("option", sorted(SPEC_FLAGS))
@pytest.mark.parametrize("mtype", ["tmpfs", "none"])
def test_mount_flag_option(option, mtype):
    """A flag option on its own sets its flag (or, for a clearing one, sets nothing) and
    after the option that sets that flag, a clearing one takes it away again."""
    how, names = SPEC_FLAGS[option]
    flag = _bits(names)
    bind = bool(flag & K["MS_BIND"])
    if mtype == "none" and not bind:
        mtype = "bind"          # a non-bind option on a bind mount: the bind is the type
    o = mounts.parse_options([option], "mounts[0].options", mtype)
    assert o.data == [] and o.propagation == [] and (o.attr_set, o.attr_clr) == (0, 0)
    assert o.bind == (bind or mtype == "bind")
    extra = K["MS_BIND"] if o.bind and not bind else 0
    if how == "set":
        assert o.flags == flag | extra
    else:
        assert o.flags == extra
        setter = next(n for n, (h, f) in SPEC_FLAGS.items() if h == "set" and f == names)
        both = mounts.parse_options([setter, option], "mounts[0].options", mtype)
        assert both.flags & flag == 0
        assert mounts.parse_options([option, setter], "mounts[0].options", mtype).flags & flag == flag


@pytest.mark.parametrize("option", sorted(SPEC_PROPAGATION))
def test_mount_propagation_option(option):
    o = mounts.parse_options(["rbind", option], "mounts[0].options", "none")
    assert o.propagation == [_bits(SPEC_PROPAGATION[option])]
    assert o.flags == K["MS_BIND"] | K["MS_REC"] and (o.attr_set, o.attr_clr) == (0, 0) and o.data == []


@pytest.mark.parametrize("option", sorted(SPEC_RECURSIVE))
@pytest.mark.parametrize("mtype", ["tmpfs", "bind"])
def test_mount_recursive_option(option, mtype):
    """attr_set / attr_clr for mount_setattr(2).  The atime modes are an enumeration: the
    kernel takes a change only with the whole MOUNT_ATTR__ATIME in attr_clr (EINVAL for a
    part of it), so every atime option clears the field and sets its mode, and the clearing
    ones (ratime, rnostrictatime, rnorelatime) leave relatime (0).  runc 1.1.5 passes a
    partial attr_clr for ratime and rnostrictatime and fails with EINVAL (runc#5095, fixed
    in runc 1.4.1 by #5098 the same way as here)."""
    how, name = SPEC_RECURSIVE[option]
    attr = K[name]
    o = mounts.parse_options(["rbind", option] if mtype == "bind" else [option], "mounts[0].options", mtype)
    assert o.data == [] and o.propagation == []
    assert o.flags == (K["MS_BIND"] | K["MS_REC"] if mtype == "bind" else 0)
    if name in ATIME_MODES:
        assert o.attr_clr == ATIME
        assert o.attr_set == (attr if how == "set" else 0)
    elif how == "set":
        assert (o.attr_set, o.attr_clr) == (attr, 0)
    else:
        assert (o.attr_set, o.attr_clr) == (0, attr)
    # what the kernel accepts: all of MOUNT_ATTR__ATIME in attr_clr or none, and an atime
    # mode in attr_set only with it
    assert o.attr_clr & ATIME in (0, ATIME)
    assert o.attr_set & ATIME == 0 or o.attr_clr & ATIME == ATIME


@pytest.mark.parametrize("first,second,want_set,want_clr", [
    ("rro", "rrw", 0, "MOUNT_ATTR_RDONLY"),
    ("rrw", "rro", "MOUNT_ATTR_RDONLY", 0),
    ("rnoatime", "rstrictatime", "MOUNT_ATTR_STRICTATIME", "MOUNT_ATTR__ATIME"),
    ("rnoatime", "ratime", 0, "MOUNT_ATTR__ATIME"),
    ("rnosymfollow", "rnodiratime", "MOUNT_ATTR_NOSYMFOLLOW|MOUNT_ATTR_NODIRATIME", 0),
])
def test_mount_recursive_options_later_wins(first, second, want_set, want_clr):
    o = mounts.parse_options([first, second], "mounts[0].options", "tmpfs")
    assert (o.attr_set, o.attr_clr) == (_bits(want_set or ""), _bits(want_clr or ""))


def test_mount_tmpcopyup_option():
    assert mounts.parse_options(["tmpcopyup"], "p", "tmpfs").tmpcopyup
    with pytest.raises(ConfigError) as e:
        mounts.parse_options(["rbind", "tmpcopyup"], "mounts[3].options", "none")
    assert e.value.path == "mounts[3].options"


@pytest.mark.parametrize("option", ["idmap", "ridmap"])
def test_mount_idmap_options_are_parsed_not_data(option):
    """plan/idmap.py decides on them (tests/test_plan_idmap.py)"""
    o = mounts.parse_options(["rbind", option], "mounts[2].options", "none")
    assert o.idmap == option and o.bind and o.data == []
