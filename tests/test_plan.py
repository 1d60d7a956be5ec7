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
    kw.setdefault("host_netns", "/proc/self/ns/net")
    kw.setdefault("cgroup_paths", PATHS)
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
    (lambda s: s["linux"]["namespaces"].__setitem__(3, {"type": "ipc"}), "linux.namespaces[3].type"),
    (lambda s: s.__setitem__("hostname", "x") or s["linux"]["namespaces"].pop(3), "hostname"),
    (lambda s: s["process"].__setitem__("cwd", "tmp"), "process.cwd"),
    (lambda s: s["process"].__setitem__("args", []), "process.args"),
    (lambda s: s["linux"].__setitem__("sysctl", {"kernel.pid_max": "1"}), "linux.sysctl.kernel.pid_max"),
    (lambda s: s["linux"].__setitem__("sysctl", {"net.ipv4.ip_forward": "1"}) or s["linux"]["namespaces"].pop(1),
     "linux.sysctl.net.ipv4.ip_forward"),
    (lambda s: s["mounts"].append({"destination": "/x", "type": "bind", "source": "/tmp",
                                   "options": ["rbind", "idmap"]}), "mounts[7]"),
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


# runc's flags beyond the runtime-spec's table
RUNC_FLAGS = {"acl": ("set", "MS_POSIXACL"), "noacl": ("clear", "MS_POSIXACL")}


def test_mount_option_tables_cover_the_spec_and_nothing_else():
    assert set(mounts.FLAGS) == set(SPEC_FLAGS) | set(RUNC_FLAGS)
    for option, (how, name) in RUNC_FLAGS.items():
        assert mounts.FLAGS[option] == (how == "clear", K[name])
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
    """tmpcopyup is a tmpfs extension: ignored elsewhere (a bind, even of type tmpfs), as runc."""
    assert mounts.parse_options(["tmpcopyup"], "p", "tmpfs").tmpcopyup
    for options, mtype in ((["rbind", "tmpcopyup"], "none"), (["tmpcopyup"], "proc"), (["bind", "tmpcopyup"], "tmpfs")):
        o = mounts.parse_options(options, "mounts[3].options", mtype)
        assert not o.tmpcopyup and o.data == []


@pytest.mark.parametrize("option", ["idmap", "ridmap"])
def test_mount_idmap_options_are_parsed_not_data(option):
    """plan/idmap.py decides on them (tests/test_plan_idmap.py)"""
    o = mounts.parse_options(["rbind", option], "mounts[2].options", "none")
    assert o.idmap == option and o.bind and o.data == []


@pytest.mark.parametrize("options", [["bind", "mode=755", "size=1k"], ["size=1k", "rbind", "ro"],
                                     ["bind", "bogus"]])
def test_bind_mount_data_is_kept_for_the_kernel_to_ignore(options):
    """runc passes fs data beside "bind" to mount(2), which ignores data for MS_BIND: the
    config runs, with the flags only (never refused as an unknown option)."""
    o = mounts.parse_options(options, "mounts[1].options", "none")
    assert o.bind and o.data == [x for x in options if "=" in x or x == "bogus"]
    p = plan_for(spec(mounts=[{"destination": "/proc", "type": "proc", "source": "proc"},
                              {"destination": "/mnt", "type": "none", "source": "/tmp", "options": options}]))
    m = next(op for op in p.ops if op.kind == O.OP_MOUNT and op.s2 == "/mnt")
    assert m.n2 & O.MNT_F_BIND and m.u1 & mounts.MS_BIND


def test_mount_destination_checks_by_type_as_runc():
    """proc and sysfs only on an ordinary directory; binds and the types runc has no case
    for never on or inside /proc; tmpfs, mqueue and cgroup unchecked."""
    s = spec()
    s["mounts"].append({"destination": "/b", "type": "bind", "source": "/tmp", "options": ["rbind"]})
    s["mounts"].append({"destination": "/o", "type": "overlay", "source": "overlay", "options": ["lowerdir=/x"]})
    s["mounts"].append({"destination": "/p", "type": "proc", "source": "/proc", "options": ["rbind"]})
    p = plan_for(s)
    checks = {op.s2: op.n2 & (O.MNT_F_ORDINARY_DIR | O.MNT_F_PROC_CHECK) for op in p.ops if op.kind == O.OP_MOUNT}
    assert checks["/proc"] == checks["/sys"] == O.MNT_F_ORDINARY_DIR
    assert checks["/dev/pts"] == checks["/b"] == checks["/o"] == checks["/p"] == O.MNT_F_PROC_CHECK
    assert checks["/dev"] == checks["/dev/shm"] == checks["/dev/mqueue"] == 0
    cg = [op for op in p.ops if op.kind == O.OP_MOUNT and op.s2.startswith("/sys/fs/cgroup")]
    assert cg[0].n2 == 0 and all(op.n2 & O.MNT_F_PROC_CHECK for op in cg[1:])


def test_read_only_dev_is_remounted_with_its_own_flags():
    s = spec()
    dev = next(m for m in s["mounts"] if m["destination"] == "/dev")
    dev["options"] = ["nosuid", "noexec", "ro", "mode=755"]
    p = plan_for(s)
    mount = next(op for op in p.ops if op.kind == O.OP_MOUNT and op.s2 == "/dev")
    assert not mount.u1 & mounts.MS_RDONLY      # devices are made in it first
    ro = next(op for op in p.ops if op.kind == O.OP_REMOUNT_RO and op.s2 == "/dev")
    assert ro.u1 == mounts.MS_RDONLY | mounts.MS_NOSUID | mounts.MS_NOEXEC
    assert p.ops.index(ro) > p.ops.index(next(op for op in p.ops if op.kind == O.OP_MKNOD))


@pytest.mark.parametrize("no_pivot", [False, True])
def test_no_mount_namespace_mounts_in_the_runtimes_and_chroots(no_pivot):
    """No mount namespace: the caller's "/" keeps its propagation, the rootfs is bound and
    mounted into as usual, and the root changes by chroot alone (never MS_MOVE onto the
    caller's "/", not even with --no-pivot)."""
    s = spec()
    s["linux"]["namespaces"] = [ns for ns in s["linux"]["namespaces"] if ns["type"] != "mount"]
    s["linux"]["maskedPaths"] = s["linux"]["readonlyPaths"] = []
    s["linux"]["rootfsPropagation"] = "rshared"
    p = plan_for(s, no_pivot=no_pivot)
    k = kinds(p)
    assert "root_propagation" not in k and "pivot_root" not in k
    assert k.index("bind_rootfs") < k.index("mount") < k.index("move_root")
    assert next(op for op in p.ops if op.kind == O.OP_MOVE_ROOT).n1 == 1
    assert not p.clone_flags & O.CLONE_NEWNS


@pytest.mark.parametrize("key", ["maskedPaths", "readonlyPaths"])
def test_no_mount_namespace_refuses_masked_and_readonly_paths(key):
    s = spec()
    s["linux"]["namespaces"] = [ns for ns in s["linux"]["namespaces"] if ns["type"] != "mount"]
    s["linux"]["maskedPaths" if key == "readonlyPaths" else "readonlyPaths"] = []
    with pytest.raises(ConfigError, match="unable to restrict sys entries without a private MNT namespace") as e:
        plan_for(s)
    assert e.value.path == "linux." + key


@pytest.mark.parametrize("mount_ns", [True, False])
def test_exec_into_a_container_without_a_mount_namespace_chroots_to_its_root(mount_ns):
    s = spec()
    proc = s["process"]
    new = ["ipc", "network", "pid", "uts"] + (["mount"] if mount_ns else [])
    st = {"pid": 42, "rootfs": "/b/rootfs", "namespaces": {"new": new, "joins": {}}}
    p = build.build_exec(proc, st, build.Options("c1", "/b", console_socket=False, exec_fifo=False,
                                                 joining=True), host())
    joined = [op.fdref[1] for op in p.ops if op.kind == O.OP_SETNS]
    roots = [op for op in p.ops if op.kind == O.OP_MOVE_ROOT]
    if mount_ns:
        assert "/proc/42/ns/mnt" in joined and roots == []
    else:
        assert "/proc/42/ns/mnt" not in joined
        assert [(r.n1, r.s1) for r in roots] == [(1, "/proc/42/root")]
        assert p.ops.index(roots[0]) < kinds(p).index("chdir")


def test_bind_target_kind_is_decided_at_mount_time():
    """The plan does not stat a bind's source (it may lie in an earlier mount of the
    container): the shim makes a file or a directory as the source is then."""
    s = spec(mounts=[{"destination": "/proc", "type": "proc", "source": "proc"},
                     {"destination": "/f", "type": "bind", "source": "/nonexistent/f", "options": ["bind"]},
                     {"destination": "/t", "type": "tmpfs", "source": "tmpfs"}])
    kinds_of = {op.s2: op.n1 for op in plan_for(s).ops if op.kind == O.OP_MOUNT}
    assert kinds_of == {"/proc": O.MNT_TARGET_DIR, "/f": O.MNT_TARGET_SOURCE, "/t": O.MNT_TARGET_DIR}


@pytest.mark.parametrize("prop,late", [("unbindable", True), ("runbindable", True), ("rshared", True),
                                       ("private", False), ("rslave", False)])
def test_rootfs_propagation_unbindable_and_shared_are_applied_last(prop, late):
    """An unbindable or shared root is made so after pivot_root and after the read-only
    and masked paths (bound from their own mounts); until then "/" is rslave."""
    s = spec()
    s["linux"]["rootfsPropagation"] = prop
    p = plan_for(s)
    props = [op for op in p.ops if op.kind == O.OP_ROOT_PROPAGATION]
    want = mounts.PROPAGATION[prop]
    if late:
        assert [op.u1 for op in props] == [mounts.MS_SLAVE | mounts.MS_REC, want]
        assert p.ops.index(props[1]) > max(i for i, op in enumerate(p.ops) if op.kind == O.OP_MASK_PATH)
    else:
        assert [op.u1 for op in props] == [want]


@pytest.mark.parametrize("mtype,options,own", [("tmpfs", ["mode=1777"], True), ("tmpfs", ["size=1m"], False),
                                               ("bind", ["bind", "mode=1777"], False)])
def test_tmpfs_with_a_mode_of_its_own(mtype, options, own):
    s = spec(mounts=[{"destination": "/proc", "type": "proc", "source": "proc"},
                     {"destination": "/m", "type": mtype, "source": "/tmp", "options": options}])
    op = next(op for op in plan_for(s).ops if op.kind == O.OP_MOUNT and op.s2 == "/m")
    assert bool(op.n2 & O.MNT_F_OWN_MODE) == own


def test_ready_opens_the_fifo_by_name_in_the_state_dir():
    from pyrunc.state import store

    ready = next(op for op in plan_for(spec()).ops if op.kind == O.OP_READY)
    assert (ready.n1, ready.s1, ready.fdref) == (1, store.FIFO, "fifo")


@pytest.mark.parametrize("case", ["create", "start hooks", "exec", "no fifo"])
def test_ready_sheds_the_runtime_only_when_execve_follows(case):
    """csrc/shed.c unmaps the runtime's memory at READY: only when the next and last op is
    the execve (startContainer hooks run in between and need it) and start waits on a fifo."""
    s = spec(hooks={"startContainer": [{"path": "/bin/true"}]}) if case == "start hooks" else spec()
    if case == "exec":
        proc = dict(s["process"], args=["/bin/true"])
        p = build.build_exec(proc, {"pid": 7, "namespaces": {}, "newPidns": True}, build.Options(
            "c1", "/b", console_socket=False, exec_fifo=False), host())
    else:
        p = plan_for(s, exec_fifo=case != "no fifo")
    i = next(i for i, op in enumerate(p.ops) if op.kind == O.OP_READY)
    shed = bool(p.ops[i].u1 & O.READY_SHED)
    assert shed == (case == "create"), kinds(p)[i:]
    if shed:
        assert [op.kind for op in p.ops[i + 1:]] == [O.OP_EXEC]


def _ns_without(*types):
    return [n for n in default.spec()["linux"]["namespaces"] if n["type"] not in types]


@pytest.mark.parametrize("sysctl, namespaces, refusal", [
    # runc's validator (libcontainer/configs/validate), its words
    ({"kernel.shmmax": "1"}, None, None),
    ({"fs.mqueue.msg_max": "1"}, None, None),
    ({"kernel.msgmax": "1"}, _ns_without("ipc"), 'sysctl "kernel.msgmax" is not allowed in the hosts ipc namespace'),
    ({"fs.mqueue.queues_max": "1"}, _ns_without("ipc"),
     'sysctl "fs.mqueue.queues_max" is not allowed in the hosts ipc namespace'),
    ({"net.ipv4.ip_forward": "1"}, None, None),
    ({"net/ipv4/ip_forward": "1"}, None, None),
    ({"net.ipv4.ip_forward": "1"}, _ns_without("network"),
     'sysctl "net.ipv4.ip_forward" not allowed in host network namespace'),
    ({"net.ipv4.ip_forward": "1"}, _ns_without("network") + [{"type": "network", "path": "/proc/self/ns/net"}],
     'sysctl "net.ipv4.ip_forward" not allowed in host network namespace'),
    ({"net.ipv4.ip_forward": "1"}, _ns_without("network") + [{"type": "network", "path": "/run/netns/x"}], None),
    ({"kernel.domainname": "d"}, None, None),
    ({"kernel.hostname": "h"}, None,
     'sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field'),
    ({"kernel.domainname": "d"}, _ns_without("uts"),
     'sysctl "kernel.domainname" is not in a separate kernel namespace'),
    ({"kernel.hostname": "h"}, _ns_without("uts"), 'sysctl "kernel.hostname" is not in a separate kernel namespace'),
    ({"kernel.pid_max": "1"}, None, 'sysctl "kernel.pid_max" is not in a separate kernel namespace'),
    ({"vm.swappiness": "1"}, None, 'sysctl "vm.swappiness" is not in a separate kernel namespace'),
    ({"net": "1"}, None, 'sysctl "net" is not in a separate kernel namespace'),
    ({"net/ipv4/../../kernel/x": "1"}, None, 'invalid sysctl name "net/ipv4/../../kernel/x"'),
    ({"net.ipv4..x": "1"}, None, 'invalid sysctl name "net.ipv4..x"'),
])
def test_sysctl_rules_are_runcs(sysctl, namespaces, refusal):
    s = spec()
    s["linux"]["sysctl"] = sysctl
    if namespaces is not None:
        s["linux"]["namespaces"] = namespaces
        if not any(n["type"] == "uts" for n in namespaces):
            s.pop("hostname", None)
    if refusal is None:
        plan_for(s)
        return
    with pytest.raises(ConfigError) as e:
        plan_for(s)
    assert e.value.path == "linux.sysctl." + next(iter(sysctl)) and e.value.reason == refusal


@pytest.mark.parametrize("key, path", [
    ("net.ipv4.ip_forward", "/proc/sys/net/ipv4/ip_forward"),
    ("net/ipv4/ip_forward", "/proc/sys/net/ipv4/ip_forward"),
    # sysctl.d(5): after a "/" first separator, "." is part of a level's name
    ("net/ipv4/conf/eth0.100/rp_filter", "/proc/sys/net/ipv4/conf/eth0.100/rp_filter"),
])
def test_sysctl_slash_names_are_written_where_sysctl_d_says(key, path):
    s = spec()
    s["linux"]["sysctl"] = {key: "1"}
    ops = [op for op in plan_for(s).ops if op.kind == O.OP_SYSCTL]
    assert [op.s1 for op in ops] == [path]


def test_id_mappings_without_a_user_namespace_are_not_read():
    s = spec()
    s["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    assert plan_for(s).ops == plan_for(spec()).ops


def test_relative_masked_and_readonly_paths_are_from_the_containers_root():
    """runc applies them after pivot_root with / as its working directory."""
    s = spec()
    s["linux"]["maskedPaths"] = ["proc/kcore"]
    s["linux"]["readonlyPaths"] = ["proc/sys"]
    p = plan_for(s)
    assert [op.s2 for op in p.ops if op.kind == O.OP_MASK_PATH] == ["/proc/kcore"]
    assert [op.s2 for op in p.ops if op.kind == O.OP_READONLY_PATH] == ["/proc/sys"]

