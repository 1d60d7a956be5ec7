"""spec + options + host facts -> Plan. Pure: no syscalls (host facts come in through
`Host`, which tests replace), so the same config always gives the same ops.

The op order follows what the kernel and runc's init require:
  join namespaces, unshare cgroup/time -> session, oom, keyring label, keyring, loopback ->
  rootfs: propagation, bind, mounts, devices, pivot_root -> console, read-only root ->
  hostname, sysctl, read-only and masked paths -> rlimits, personality, umask,
  no_new_privs -> AppArmor/SELinux exec labels -> cwd, bounding set, ids, HOME, cwd
  retry, capabilities -> lookup of argv[0] -> READY (wait on exec.fifo) -> seccomp -> execve.
With a user namespace, oom_score_adj, rlimits and the joins by path (the user namespace
first) move to `pre_ops`, run before the init is cloned into the new namespaces, and the
init, released once the runtime wrote its maps, first becomes the namespace's root.
"""
from pyrunc import OCI_VERSION, errors
from pyrunc.errors import ConfigError, PyruncError
from pyrunc.plan import caps as capsmod
from pyrunc.plan import labels
from pyrunc.plan import idmap
from pyrunc.plan import mounts as mnt
from pyrunc.plan import userns
from pyrunc.plan.ops import (CLONE_NEWCGROUP, CLONE_NEWTIME, MNT_F_BIND, MNT_F_CGROUP2_FALLBACK, MNT_F_MASK_IF_GONE,
                             MNT_F_ORDINARY_DIR, MNT_F_OWN_MODE,
                             MNT_F_PROC_CHECK, MNT_F_RECURSIVE_ATTR, MNT_F_TMPCOPYUP, MNT_TARGET_DIR,
                             MNT_TARGET_SOURCE, NS_FLAGS, Op)
from pyrunc.plan import ops as O

S_IFCHR = 0o020000
S_IFBLK = 0o060000
S_IFIFO = 0o010000

DEFAULT_DEVICES = (
    ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
    ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
)
DEV_SYMLINKS = (("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
                ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"))

RLIMIT_NUMBERS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}
# sysctls that belong to a namespace, and which one (runc's validator)
IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
               "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")
CAP_SYS_ADMIN = 21
PER_LINUX = 0x0000
PER_LINUX32 = 0x0008


class Options:
    """What the command line adds to the config."""

    def __init__(self, cid, bundle, no_pivot=False, no_new_keyring=False, preserve_fds=0,
                 console_socket=False, listen_fds=0, exec_fifo=True, seccomp=None, joining=False):
        self.id = cid
        self.bundle = bundle
        self.no_pivot = no_pivot
        self.no_new_keyring = no_new_keyring
        self.preserve_fds = preserve_fds
        self.console_socket = console_socket  # True, False, or "auto": a foreground run provides one
        self.listen_fds = listen_fds
        self.exec_fifo = exec_fifo
        self.seccomp = seccomp  # (BPF bytes, seccomp(2) flags) compiled from linux.seccomp
        self.joining = joining  # an exec: the process joins a running container


class Host:
    """Host facts the plan depends on. The real one looks at the machine; tests pass
    their own."""

    def __init__(self, cgroup_host=None, cgroup_paths=None, last_cap=40, kcore=False, selinux=False,
                 host_netns=None, rootless_euid=False, cgroup_mount_paths=None):
        self.cgroup_host = cgroup_host
        self.selinux = selinux  # SELinux enabled (pyrunc.lsm.selinux_enabled)
        self.cgroup_paths = cgroup_paths or {}
        # the cgroups a container sees bound at a `cgroup` mount without a cgroup
        # namespace: its own, or the caller's where a rootless runtime could not make them
        self.cgroup_mount_paths = cgroup_mount_paths or self.cgroup_paths
        self.rootless_euid = rootless_euid  # the runtime is not root of its user namespace
        self.rootless_cgroups = False  # runc's rootless cgroup manager (create sets it)
        self.in_userns = False  # the runtime itself runs in a user namespace (rootless podman)
        self.last_cap = last_cap
        self.kcore = kcore
        self.host_netns = host_netns  # tests: the path that names the runtime's netns (no stat)
        self.systemd_unit = self.systemd_props = None  # --systemd-cgroup: the scope to make
        self.systemd_bus = None  # rootless --systemd-cgroup: the user's bus, open since create's checks
        self.cgroup2_path = None  # v2: the container's cgroup, even where rootless gets none

    def is_host_netns(self, path):
        """True if `path` (a network namespace to join) is the runtime's own: its net
        sysctls are the host's (runc's check; True in a new namespace means no)."""
        if path is True:
            return False
        if self.host_netns is not None:
            return path == self.host_netns
        import posix

        try:
            a, b = posix.stat("/proc/self/ns/net"), posix.stat(path)
        except OSError as e:
            raise PyruncError("invalid netns path: stat %s: %s" % (e.filename, errors.strerror(e.errno))) from None
        return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class Plan:
    __slots__ = ("clone_flags", "pidns_path", "ops", "argv", "env", "rootfs", "terminal", "warnings",
                 "preserve_fds", "namespaces", "console_size", "hooks", "no_new_keyring", "pre_ops",
                 "id_maps", "map_writer")

    def __init__(self):
        self.clone_flags = 0
        self.pidns_path = None
        self.ops = []
        # with a user namespace: ops of the spawn's first stage (shim.h two_stage), run as
        # root of the runtime's user namespace before the init is cloned; None otherwise
        self.pre_ops = None
        self.id_maps = None  # (uid_map, gid_map) text the runtime writes for a new user namespace
        self.map_writer = None  # an unprivileged runtime's way to write them (lifecycle.idmaps)
        self.argv = []
        self.env = []
        self.rootfs = ""
        self.terminal = False
        self.warnings = []
        self.preserve_fds = 0
        self.namespaces = {}
        self.console_size = (0, 0)
        self.hooks = {}
        self.no_new_keyring = False


def _abs_in_bundle(bundle, path):
    return path if path.startswith("/") else bundle.rstrip("/") + "/" + path


def dedupe_env(env):
    """KEY=VALUE pairs, later values replacing earlier ones in place (runc's setenv)."""
    index = {}
    out = []
    for e in env or ():
        name = e.partition("=")[0]
        if name in index:
            out[index[name]] = e
        else:
            index[name] = len(out)
            out.append(e)
    return out


def _hook_ops(spec, opts, kind, status):
    """createContainer / startContainer: run by the init, in the container's namespaces."""
    hooks = (spec.get("hooks") or {}).get(kind)
    if not hooks:
        return []  # a config without hooks never imports the hooks module
    from pyrunc import jsonio
    from pyrunc.hooks import exec_env

    ops = []
    for i, h in enumerate(hooks):
        state = {"ociVersion": OCI_VERSION, "id": opts.id, "status": status, "pid": 0, "bundle": opts.bundle}
        ann = spec.get("annotations")
        if ann:
            state["annotations"] = {k: ann[k] for k in sorted(ann)}
        text = jsonio.dumps(state)
        before, _, after = text.partition('"pid":0')
        env = None if h.get("env") is None else exec_env(h["env"])
        ops.append(Op(O.OP_HOOK, "%s hook #%d" % (kind, i), s1=h["path"], s2=before + '"pid":', s3=after,
                      v1=h.get("args") or [h["path"]], v2=env, n1=h.get("timeout") or 0,
                      n2=i, n3=int(kind == "createContainer")))
    return ops


def _namespaces(linux, plan, rootless_euid=False):
    new = set()
    joins = {}
    for i, ns in enumerate(linux.get("namespaces") or ()):
        t = ns["type"]
        if ns.get("path"):
            joins[t] = ns["path"]
        else:
            new.add(t)
    if rootless_euid:
        _rootless_checks(linux, "user" in new or "user" in joins)
    plan.id_maps = userns.check(linux, "user" in new, joins.get("user"))
    plan.namespaces = {"new": sorted(new), "joins": joins}
    return new, joins


def _rootless_checks(linux, userns):
    """runc's validation of a config run by an unprivileged user (validate/rootless.go):
    only a user namespace it owns gives it the rights the container's setup needs."""
    if not userns:
        raise PyruncError("rootless container requires user namespaces")
    if not linux.get("uidMappings"):
        raise PyruncError("rootless containers requires at least one UID mapping")
    if not linux.get("gidMappings"):
        raise PyruncError("rootless containers requires at least one GID mapping")


def _rootless_mount_ids(spec, linux):
    """runc: a uid=/gid= mount option must name an id mapped in the user namespace."""
    for i, m in enumerate(spec.get("mounts") or ()):
        for opt in m.get("options") or ():
            for key, maps in (("uid=", "uidMappings"), ("gid=", "gidMappings")):
                if not opt.startswith(key) or not opt[4:].isdigit():
                    continue
                n = int(opt[4:])
                if not any(r["containerID"] <= n < r["containerID"] + r["size"] for r in linux.get(maps) or ()):
                    raise ConfigError("mounts[%d].options" % i, "cannot specify %s mount options for unmapped %s in "
                                      "rootless containers" % (key, key[:3]))


def sysctl_dotted(name):
    """sysctl.d(5): a name whose first separator is "/" uses "/" between levels and "."
    inside them; runc checks the dotted form (net/ipv4/conf/eth0.1/x -> net.ipv4.conf.eth0/1.x)."""
    first = next((c for c in name if c in "./"), ".")
    if first == ".":
        return name
    return name.translate(_SWAP_DOT_SLASH)


_SWAP_DOT_SLASH = str.maketrans("./", "/.")


def sysctl_refusal(name, has, host):
    """runc's rule for one sysctl (dotted name), its words: None if allowed. /proc/sys
    is not all namespaced; only the ipc, net and uts ones a container may set in its
    own namespaces. `has(t)`: the container has its own (new or joined) namespace t."""
    if name in IPC_SYSCTLS or name.startswith("fs.mqueue."):
        return None if has("ipc") else 'sysctl "%s" is not allowed in the hosts ipc namespace' % name
    if name.startswith("net."):
        if has("network") and not host.is_host_netns(has("network")):
            return None
        return 'sysctl "%s" not allowed in host network namespace' % name
    if has("uts"):
        if name == "kernel.domainname":
            return None
        if name == "kernel.hostname":
            return 'sysctl "%s" is not allowed as it conflicts with the OCI "hostname" field' % name
    return 'sysctl "%s" is not in a separate kernel namespace' % name


def _sysctl_ops(linux, new, joins, host):
    ops = []

    def has(t):
        # the joined path, or True for a new namespace
        return joins.get(t) or (t in new)

    for key in sorted(linux.get("sysctl") or {}):
        value = linux["sysctl"][key]
        name = sysctl_dotted(key)
        rel = name.translate(_SWAP_DOT_SLASH)   # its file under /proc/sys
        if set(rel.split("/")) & {"", ".", ".."}:
            raise ConfigError("linux.sysctl." + key, 'invalid sysctl name "%s"' % key)
        why = sysctl_refusal(name, has, host)
        if why:
            raise ConfigError("linux.sysctl." + key, why)
        path = "/proc/sys/" + rel
        ops.append(Op(O.OP_SYSCTL, 'sysctl "%s"' % key, s1=path, s2=value))
    return ops


def _cgroup_mount_ops(i, m, opts, host, new, mount_label):
    """`type: cgroup` becomes the host's hierarchies: on v2 one cgroup2 mount (or a bind of
    the container's cgroup without a cgroup namespace); on v1 a tmpfs with one mount per
    hierarchy, ro or rw per the options, like runc."""
    dest = mnt.clean_path("/" + m["destination"])
    ch = host.cgroup_host
    if ch is None or ch.mode == "none":
        raise ConfigError("mounts[%d]" % i, "cgroup mount requested but the host has no cgroup hierarchies")
    flags = opts.flags & ~(mnt.MS_BIND | mnt.MS_REC)
    cgns = "cgroup" in new
    paths = host.cgroup_mount_paths
    what = 'mount "cgroup" on "%s"' % dest
    ops = []
    if ch.mode == "v2":
        if cgns:
            # in a user namespace the cgroup2 mount is refused: the container's cgroup is
            # bound instead (masked when a rootless container has none), as runc
            fallback = host.cgroup2_path or ch.unified.mountpoint
            ops.append(Op(O.OP_MOUNT, what, s1="cgroup2", s2=dest, s3="cgroup2", s4=fallback, u1=flags,
                          n1=MNT_TARGET_DIR,
                          n2=MNT_F_CGROUP2_FALLBACK | (MNT_F_MASK_IF_GONE if host.rootless_cgroups else 0)))
        else:
            ops.append(Op(O.OP_MOUNT, what, s1=paths[""], s2=dest, u1=flags | mnt.MS_BIND | mnt.MS_REC,
                          n1=MNT_TARGET_DIR, n2=MNT_F_BIND))
        return ops
    ops.append(Op(O.OP_MOUNT, 'mount "tmpfs" on "%s"' % dest, s1="tmpfs", s2=dest, s3="tmpfs",
                  u1=mnt.MS_NOSUID | mnt.MS_NODEV | mnt.MS_NOEXEC,
                  s4=labels.mount_data("mode=755", "tmpfs", False, mount_label), n1=MNT_TARGET_DIR))
    for h in ch.v1:
        name = h.mountpoint.rpartition("/")[2]
        sub = dest + "/" + name
        if cgns:
            source = h.options[5:] if h.options.startswith("name=") else "cgroup"  # runc's source names
            ops.append(Op(O.OP_MOUNT, 'mount "cgroup" on "%s"' % sub, s1=source, s2=sub, s3="cgroup",
                          u1=flags, s4=h.options, n1=MNT_TARGET_DIR))
        else:
            ops.append(Op(O.OP_MOUNT, 'bind cgroup "%s" on "%s"' % (paths[h.key], sub), s1=paths[h.key], s2=sub,
                          u1=flags | mnt.MS_BIND, n1=MNT_TARGET_DIR, n2=MNT_F_BIND | mount_checks("bind", True)))
        if "," in name:
            for ctrl in name.split(","):
                ops.append(Op(O.OP_SYMLINK, "symlink %s" % ctrl, s1=name, s2=dest + "/" + ctrl))
    return ops


def mount_checks(mtype, bind):
    """runc's checks of a destination, by mount type: proc and sysfs only on a real
    directory (never through a symlink at the destination); binds and the types runc has
    no case for (devpts, overlay, ...) never over /proc or inside it, but for a procfs on
    /proc and lxcfs's files; tmpfs, mqueue and cgroup have no check."""
    if bind:
        return MNT_F_PROC_CHECK
    if mtype in ("proc", "sysfs"):
        return MNT_F_ORDINARY_DIR
    if mtype in ("tmpfs", "mqueue", "cgroup"):
        return 0
    return MNT_F_PROC_CHECK


def _mount_ops(spec, opts, host, new, plan):
    ops = []
    dev_is_bind = False
    dev_readonly = False
    late_ro = []
    mount_label = (spec.get("linux") or {}).get("mountLabel")
    for i, m in enumerate(spec.get("mounts") or ()):
        mtype = m.get("type") or ""
        o = mnt.parse_options(m.get("options"), "mounts[%d].options" % i, mtype)
        dest = mnt.clean_path("/" + m["destination"])
        if dest == "/":
            raise ConfigError("mounts[%d].destination" % i, 'mounting on "/" is not allowed')
        idm = idmap.for_mount(i, m, o, spec.get("linux") or {}, new, plan.namespaces.get("joins") or {},
                              o.flags & mnt.MS_REC)
        if idm is None:
            idm = idmap.for_userns_bind(i, o, new, plan.namespaces.get("joins") or {}, host.rootless_euid)
        if mtype == "cgroup" and not o.bind:
            ops.extend(_cgroup_mount_ops(i, m, o, host, new, mount_label))
            continue
        src = m.get("source") or ""
        kind = MNT_TARGET_DIR
        flags = 0
        if o.bind:
            if not src:
                raise ConfigError("mounts[%d].source" % i, "a bind mount needs a source")
            src = _abs_in_bundle(opts.bundle, src)
            # a file or a directory as the source is when its turn comes: it may lie in
            # an earlier mount of the container (as runc, which stats it then)
            kind = MNT_TARGET_SOURCE
            flags |= MNT_F_BIND
            if dest == "/dev":
                dev_is_bind = True
        if dest == "/dev" and o.flags & mnt.MS_RDONLY:
            dev_readonly = o.flags & PER_MOUNT_FLAGS  # truthy: MS_RDONLY is among them
        mflags = o.flags
        if dest == "/dev":
            # devices are created in /dev after the mount: it is made read-only at the end
            mflags &= ~mnt.MS_RDONLY
        elif mtype == "tmpfs" and not o.bind and mflags & mnt.MS_RDONLY:
            # as runc: a read-only tmpfs is mounted writable (its mode copied, tmpcopyup and
            # nested mount points made), then only the mount is made read-only at the end
            mflags &= ~mnt.MS_RDONLY
            late_ro.append((dest, mflags & PER_MOUNT_FLAGS))
        if o.tmpcopyup:
            flags |= MNT_F_TMPCOPYUP
        flags |= mount_checks(mtype, o.bind)
        if mtype == "tmpfs" and any(d.startswith("mode=") for d in o.data):
            flags |= MNT_F_OWN_MODE
        prop = 0
        for p in o.propagation:
            prop = p  # the last one wins, as mount(8)
        if o.attr_set or o.attr_clr:
            flags |= MNT_F_RECURSIVE_ATTR
        what = 'mount "%s" on "%s"' % (src or mtype, dest)
        if idm is not None:
            # the runtime makes the (idmapped) tree (shim.py); the init attaches it
            ops.append(Op(O.OP_MOUNT_TREE, what, s1=src, s2=dest, u1=mflags, u2=prop, u3=o.attr_set,
                          u4=o.attr_clr, n1=kind, n2=flags, n3=int(idm[0] == idmap.BIND_FDREF), fdref=idm))
            continue
        data = labels.mount_data(",".join(o.data), mtype, o.bind, mount_label)
        ops.append(Op(O.OP_MOUNT, what, s1=src or None, s2=dest, s3=mtype or None,
                      s4=data or None, u1=mflags, u2=prop, u3=o.attr_set, u4=o.attr_clr,
                      n1=kind, n2=flags))
        if mtype == "mqueue" and not o.bind:
            op = labels.mqueue_op(dest, mount_label, host)
            if op is not None:
                ops.append(op)
    return ops, dev_is_bind, dev_readonly, late_ro


# what a bind remount would otherwise reset on the mount
PER_MOUNT_FLAGS = (mnt.MS_RDONLY | mnt.MS_NOSUID | mnt.MS_NODEV | mnt.MS_NOEXEC | mnt.MS_NOATIME
                   | mnt.MS_NODIRATIME | mnt.MS_RELATIME | mnt.MS_STRICTATIME | mnt.MS_NOSYMFOLLOW)


def _device_ops(linux, bind):
    """mknod, or in a user namespace (where mknod is refused) a bind of the host's node
    on an empty file, as runc."""
    if bind:
        return _device_bind_ops(linux)
    ops = []
    configured = {}
    for i, d in enumerate(linux.get("devices") or ()):
        configured[mnt.clean_path(d["path"])] = (i, d)
    for path, major, minor in DEFAULT_DEVICES:
        if path in configured:
            continue
        ops.append(Op(O.OP_MKNOD, 'mknod "%s"' % path, s2=path, n1=S_IFCHR | 0o666, u1=_makedev(major, minor)))
    for path, (i, d) in configured.items():
        t = d["type"]
        kind = {"c": S_IFCHR, "u": S_IFCHR, "b": S_IFBLK, "p": S_IFIFO}[t]
        mode = d.get("fileMode")
        perm = 0o666 if mode is None else mode & 0o7777
        dev = 0 if t == "p" else _makedev(d.get("major", 0), d.get("minor", 0))
        ops.append(Op(O.OP_MKNOD, 'mknod "%s"' % path, s2=path, n1=kind | perm, u1=dev,
                      n2=d.get("uid", 0), n3=d.get("gid", 0)))
    return ops


def _device_bind_ops(linux):
    configured = [mnt.clean_path(d["path"]) for d in linux.get("devices") or ()]
    paths = [p for p, _, _ in DEFAULT_DEVICES if p not in configured] + list(dict.fromkeys(configured))
    return [Op(O.OP_BIND_DEV, 'bind device "%s"' % p, s1=p, s2=p) for p in paths]


def _makedev(major, minor):
    major &= 0xFFFFFFFF
    minor &= 0xFFFFFFFF
    return ((major & 0xFFFFF000) << 32) | ((major & 0xFFF) << 8) | ((minor & 0xFFFFFF00) << 12) | (minor & 0xFF)


def _rlimit_ops(proc):
    return [Op(O.OP_RLIMIT, "setrlimit %s" % rl["type"], n1=RLIMIT_NUMBERS[rl["type"]], u1=rl["soft"],
               u2=rl["hard"]) for rl in proc.get("rlimits") or ()]


def _oom_ops(proc):
    if proc.get("oomScoreAdj") is None:
        return []
    return [Op(O.OP_OOM_SCORE_ADJ, "set oom_score_adj", n1=proc["oomScoreAdj"])]


def _process_ops(proc, host, plan, warn, opts, rlimits=True):
    """`rlimits` False: a user-namespaced process had them set before it entered the
    namespace (raising a hard limit needs CAP_SYS_RESOURCE in the runtime's)."""
    ops = _rlimit_ops(proc) if rlimits else []
    user = proc.get("user") or {"uid": 0, "gid": 0}
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    if opts.joining:
        # runc sets the umask in the container's init only: an exec'd process keeps its caller's
        ops.append(Op(O.OP_UMASK, "umask of the caller", n1=-1))
    else:
        umask = user.get("umask")
        ops.append(Op(O.OP_UMASK, "umask", n1=0o022 if umask is None else umask))
    if proc.get("noNewPrivileges"):
        ops.append(Op(O.OP_NO_NEW_PRIVS, "prctl PR_SET_NO_NEW_PRIVS"))
    ops.extend(labels.exec_ops(proc, opts.joining))
    cwd = proc["cwd"]
    ops.append(Op(O.OP_CHDIR, 'chdir "%s"' % cwd, s1=cwd, n1=1))
    caps = proc.get("capabilities")
    top = host.last_cap
    if caps is None:
        bounding = effective = permitted = inheritable = ambient = 0
    else:
        bounding = capsmod.mask(caps.get("bounding"), "process.capabilities.bounding", warn, top)
        effective = capsmod.mask(caps.get("effective"), "process.capabilities.effective", warn, top)
        permitted = capsmod.mask(caps.get("permitted"), "process.capabilities.permitted", warn, top)
        inheritable = capsmod.mask(caps.get("inheritable"), "process.capabilities.inheritable", warn, top)
        ambient = capsmod.mask(caps.get("ambient"), "process.capabilities.ambient", warn, top)
    ops.append(Op(O.OP_CAPS, "drop bounding capabilities", n1=0, u1=bounding))
    gids = list(dict.fromkeys(user.get("additionalGids") or ()))  # runc's lookup dedupes
    if host.rootless_euid and gids:
        raise PyruncError("cannot set any additional groups in a rootless container")
    # runc: a rootless process keeps the groups it has (an unprivileged user namespace
    # cannot call setgroups)
    ops.append(Op(O.OP_USER, "set user %d:%d" % (uid, gid), n1=uid, n2=gid, n3=0 if host.rootless_euid else 1,
                  arr=gids))
    ops.append(Op(O.OP_HOME_ENV, "set HOME", n1=uid))
    ops.append(Op(O.OP_CHDIR, 'chdir "%s"' % cwd, s1=cwd, n1=2))
    final = Op(O.OP_CAPS, "set capabilities", n1=1, u2=effective, u3=permitted, u4=inheritable, u5=ambient)
    seccomp = opts.seccomp
    if seccomp is not None and not proc.get("noNewPrivileges") and not (effective >> CAP_SYS_ADMIN) & 1:
        # Without no_new_privs the kernel wants CAP_SYS_ADMIN to load a filter: keep it
        # until the filter is in, then set the configured sets.
        admin = 1 << CAP_SYS_ADMIN
        ops.append(Op(O.OP_CAPS, "set capabilities (keeping CAP_SYS_ADMIN for seccomp)", n1=1,
                      u2=effective | admin, u3=permitted | admin, u4=inheritable))
    else:
        ops.append(final)
        final = None
    ops.append(Op(O.OP_LOOKUP_EXEC, 'look up "%s"' % proc["args"][0]))
    ops.append(Op(O.OP_DETACH, "detach from the runtime"))
    tail = []
    if seccomp is not None:
        # last: none of the runtime's own setup runs under the container's filter
        program, flags = seccomp
        tail.append(Op(O.OP_SECCOMP, "load seccomp filter", s1=program, n1=len(program), u1=flags))
    if final is not None:
        tail.append(final)
    return ops, tail


def _personality_ops(linux):
    """linux.personality, for the init and (as runc) for every exec'd process."""
    pers = linux.get("personality")
    if not pers:
        return []
    return [Op(O.OP_PERSONALITY, "set personality", n1=PER_LINUX32 if pers["domain"] == "LINUX32" else PER_LINUX)]


def _keyring_ops(ops, proc, opts):
    key_label = labels.keycreate_op(proc)
    if key_label is not None:
        ops.append(key_label)
    ops.append(Op(O.OP_KEYRING, "join session keyring", s1="_ses." + opts.id))


SECCOMP_FILTER_FLAG_NEW_LISTENER = 8

# OP_CONSOLE u1: the runtime itself proxies the pty (a foreground run or exec -t), so
# output post-processing is off before the process writes (runc's output has no "\r\n")
_CLEAR_ONLCR = 1


def build(spec, opts, host):
    plan = Plan()
    plan.no_new_keyring = opts.no_new_keyring  # recorded: an exec follows the init
    warn = plan.warnings.append
    proc = spec.get("process")
    if proc is None:
        raise ConfigError("process", "must not be empty")
    linux = spec.get("linux") or {}
    labels.check(proc, host)
    root = spec.get("root")
    if not root:
        raise ConfigError("root", "must be specified")
    plan.rootfs = _abs_in_bundle(opts.bundle, root["path"])
    new, joins = _namespaces(linux, plan, host.rootless_euid)
    if host.rootless_euid:
        _rootless_mount_ids(spec, linux)
    ops = plan.ops

    for key in ("hostname", "domainname"):
        if spec.get(key) and "uts" not in new and "uts" not in joins:
            raise ConfigError(key, "unable to set %s without a private UTS namespace" % key)
    # runc 1.1.5 knows no time namespace; these are runc 1.2's rules and words
    if linux.get("timeOffsets") and "time" in joins:
        raise ConfigError("linux.timeOffsets", "time namespace enabled, but both namespace path and time offsets "
                          "specified -- you may only provide one")
    if linux.get("timeOffsets") and "time" not in new:
        raise ConfigError("linux.timeOffsets", "time namespace offsets specified, but time namespace isn't enabled "
                          "in the config")

    plan.clone_flags = 0
    for t in new:
        if t not in ("cgroup", "time"):
            plan.clone_flags |= NS_FLAGS[t]
    in_userns = "user" in new or "user" in joins
    if in_userns:
        # The namespaces joined by path are joined first, as root of the runtime's user
        # namespace (the user namespace first, as runc), then the init is cloned into the
        # new ones, which the new (or joined) user namespace then owns. The oom score and
        # rlimits are set there too: lowering the one and raising the others need
        # CAP_SYS_RESOURCE in the runtime's user namespace (runc: nsexec and its parent).
        plan.pre_ops = _oom_ops(proc) + _rlimit_ops(proc)
        for t in ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount"):
            if t in joins:
                plan.pre_ops.append(Op(O.OP_SETNS, 'join %s namespace "%s"' % (t, joins[t]), n1=NS_FLAGS[t],
                                       fdref=("path", joins[t])))
        # Released after the runtime wrote the maps: become the namespace's root first
        # (runc's nsexec does too), else our ids are unmapped there and every file we
        # create fails with EOVERFLOW.
        ops.append(Op(O.OP_USER, "become root in the user namespace", n1=0, n2=0, n3=2))
        if "ipc" in new:
            # as runc (unshare after setresuid, before setresgid): the ipc namespace's
            # mqueue root belongs to the container's root user
            plan.clone_flags &= ~NS_FLAGS["ipc"]
            ops.append(Op(O.OP_UNSHARE, "unshare ipc namespace", u1=NS_FLAGS["ipc"]))
        # runc's nsexec: an unprivileged runtime keeps its groups (setgroups is denied, or
        # newgidmap decided), root of the parent namespace drops them
        ops.append(Op(O.OP_USER, "become root in the user namespace", n1=0, n2=0,
                      n3=0 if host.rootless_euid else 1, arr=[]))
    elif "pid" in joins:
        plan.pidns_path = joins["pid"]
    # joins in runc's order; the mount namespace last so the others' paths resolve
    for t in ("ipc", "uts", "network", "cgroup", "time", "mount"):
        if t in joins and not in_userns:
            ops.append(Op(O.OP_SETNS, 'join %s namespace "%s"' % (t, joins[t]), n1=NS_FLAGS[t],
                          fdref=("path", joins[t])))
    # A cgroup namespace rooted at the container's cgroup: unshared after the parent
    # moved the init into it.
    if "cgroup" in new:
        ops.append(Op(O.OP_UNSHARE, "unshare cgroup namespace", u1=CLONE_NEWCGROUP))
    if "time" in new:
        # the init enters time_for_children at execve, after the offsets are written
        time_ops = [Op(O.OP_UNSHARE, "unshare time namespace", u1=CLONE_NEWTIME)]
        offsets = linux.get("timeOffsets") or {}
        if offsets:
            text = "".join("%s %d %d\n" % (k, v.get("secs", 0), v.get("nanosecs", 0))
                           for k, v in sorted(offsets.items()))
            time_ops.append(Op(O.OP_WRITE_FILE, "write time offsets", s1="/proc/self/timens_offsets", s2=text))
        if in_userns:
            # before the init becomes the namespace's root: its /proc files (not dumpable)
            # belong to the runtime's root, which it still is until then
            ops[0:0] = time_ops
        else:
            ops.extend(time_ops)
    ops.append(Op(O.OP_SETSID, "setsid"))
    if not in_userns:
        ops.extend(_oom_ops(proc))
    if not opts.no_new_keyring:
        _keyring_ops(ops, proc, opts)
    if "network" in new:
        ops.append(Op(O.OP_LOOPBACK_UP, "bring up loopback"))

    shared_mnt = "mount" not in new and "mount" not in joins
    rprop = linux.get("rootfsPropagation")
    prop_flags = mnt.PROPAGATION.get(rprop, 0) if rprop else 0
    if shared_mnt:
        # the runtime's own mount namespace: as runc, the mounts are made in it (under the
        # rootfs) and the process is chrooted; its "/" is never touched (runc makes the
        # caller's root rslave) and `delete` unmounts what create mounted
        for key in ("maskedPaths", "readonlyPaths"):
            if linux.get(key):
                raise ConfigError("linux." + key, "unable to restrict sys entries without a private MNT namespace")
        prop_flags = 0
    else:
        # the host must never see the container's mounts: slave unless asked otherwise;
        # a shared root is made shared only after pivot_root, and so is an unbindable one
        # (the rootfs could not be bound out of an unbindable "/": runc fails there, crun
        # and pyrunc make the container's root unbindable)
        late = mnt.MS_SHARED | mnt.MS_UNBINDABLE
        first = prop_flags if prop_flags and not prop_flags & late else mnt.MS_SLAVE | mnt.MS_REC
        ops.append(Op(O.OP_ROOT_PROPAGATION, "set propagation of /", u1=first))
    ops.append(Op(O.OP_BIND_ROOTFS, 'bind rootfs "%s"' % plan.rootfs, s1=plan.rootfs))
    mops, dev_is_bind, dev_readonly, late_ro = _mount_ops(spec, opts, host, new, plan)
    ops.extend(mops)
    if not dev_is_bind:
        # runc: no mknod in a user namespace, the container's or the runtime's own
        ops.extend(_device_ops(linux, bind=in_userns or host.in_userns))
        links = list(DEV_SYMLINKS)
        if host.kcore:
            links.append(("/proc/kcore", "/dev/core"))
        for target, link in links:
            ops.append(Op(O.OP_SYMLINK, 'symlink "%s"' % link, s1=target, s2=link))
        ops.append(Op(O.OP_SYMLINK, 'symlink "/dev/ptmx"', s1="pts/ptmx", s2="/dev/ptmx", n1=1))
    hooks = spec.get("hooks") or {}
    if hooks.get("prestart") or hooks.get("createRuntime"):
        ops.append(Op(O.OP_HOOKS_SYNC, "wait for prestart and createRuntime hooks"))
    if hooks.get("createContainer"):
        from pyrunc.hooks import CREATE_HOOK_STATUS

        ops.extend(_hook_ops(spec, opts, "createContainer", CREATE_HOOK_STATUS))
    # as runc: a missing cwd is created, inside the rootfs, before it can turn read-only
    ops.append(Op(O.OP_MKDIR, 'create cwd "%s"' % proc["cwd"], s1="cwd", s2=mnt.clean_path(proc["cwd"]),
                  n1=0o755))
    if shared_mnt:
        # never MS_MOVE onto the caller's "/" (runc does with --no-pivot): chroot only
        ops.append(Op(O.OP_MOVE_ROOT, "chroot", n1=1))
    elif opts.no_pivot:
        ops.append(Op(O.OP_MOVE_ROOT, "move root"))
    else:
        ops.append(Op(O.OP_PIVOT_ROOT, "pivot_root"))
    ops.append(Op(O.OP_REOPEN_DEVNULL, "reopen /dev/null"))

    plan.terminal = bool(proc.get("terminal"))
    if plan.terminal:
        if not opts.console_socket:
            raise PyruncError("cannot allocate tty if runc will detach without setting console socket")
        size = proc.get("consoleSize") or {}
        plan.console_size = (size.get("height", 0), size.get("width", 0))
        ops.append(Op(O.OP_CONSOLE, "set up console", n1=plan.console_size[0], n2=plan.console_size[1],
                      u1=_CLEAR_ONLCR if opts.console_socket == "auto" else 0, fdref="console"))
    elif opts.console_socket is True:
        raise PyruncError("cannot use console socket if runc will not detach or allocate tty")
    if dev_readonly:
        # as runc: the remount keeps the mount's own flags (nosuid, noexec, ...)
        ops.append(Op(O.OP_REMOUNT_RO, 'remount "/dev" read-only', s2="/dev", u1=dev_readonly))
    for dest, keep in late_ro:
        ops.append(Op(O.OP_REMOUNT_RO, 'remount "%s" read-only' % dest, s2=dest, u1=keep))
    if root.get("readonly"):
        ops.append(Op(O.OP_REMOUNT_RO, 'remount "/" read-only', s2="/"))
    if spec.get("hostname"):
        ops.append(Op(O.OP_HOSTNAME, 'sethostname "%s"' % spec["hostname"], s1=spec["hostname"]))
    if spec.get("domainname"):
        ops.append(Op(O.OP_DOMAINNAME, 'setdomainname "%s"' % spec["domainname"], s1=spec["domainname"]))
    ops.extend(_sysctl_ops(linux, new, joins, host))
    for p in linux.get("readonlyPaths") or ():
        ops.append(Op(O.OP_READONLY_PATH, 'make "%s" read-only' % p, s2=mnt.clean_path(p)))
    mask_data = labels.context_option(linux["mountLabel"]) if linux.get("mountLabel") else None
    for p in linux.get("maskedPaths") or ():
        # a masked directory gets a read-only tmpfs, labelled like the other tmpfs mounts
        ops.append(Op(O.OP_MASK_PATH, 'mask "%s"' % p, s2=mnt.clean_path(p), s4=mask_data))
    if prop_flags & (mnt.MS_SHARED | mnt.MS_UNBINDABLE):
        # last of the mounts: read-only paths are bound from their own mounts, which an
        # runbindable root would refuse
        ops.append(Op(O.OP_ROOT_PROPAGATION, "set propagation of /", u1=prop_flags))
    ops.extend(_personality_ops(linux))
    process_ops, tail = _process_ops(proc, host, plan, warn, opts, rlimits=not in_userns)
    ops.extend(process_ops)
    # fdref "fifo": the container's state dir, where the fifo is (opened relative to it)
    ready = Op(O.OP_READY, "wait for start", n1=1 if opts.exec_fifo else 0, s1="exec.fifo" if opts.exec_fifo else None,
               fdref="fifo" if opts.exec_fifo else None)
    start_hooks = _hook_ops(spec, opts, "startContainer", "created")
    if start_hooks and any(op.kind == O.OP_SECCOMP and op.u1 & SECCOMP_FILTER_FLAG_NEW_LISTENER for op in tail):
        # The listener fd must reach the runtime over the sync socket, which READY closes:
        # the filter is loaded first and the hooks run under it, as runc 1.1.5 runs them
        # (its startContainer hooks always follow the seccomp load).
        ops.extend(tail)
        ops.append(ready)
        ops.extend(start_hooks)
    elif start_hooks:
        # the hooks must not run under the container's filter: it is loaded after them,
        # and its errors then reach `start` through the exec fifo
        ops.append(ready)
        ops.extend(start_hooks)
        ops.extend(tail)
    else:
        ops.extend(tail)
        if opts.exec_fifo:
            # only execve follows: the init unmaps its copy of the runtime before it waits
            # for `start`, whose wait then excludes that teardown (csrc/shed.c)
            ready.u1 = O.READY_SHED
        ops.append(ready)
    plan.preserve_fds = opts.listen_fds + opts.preserve_fds
    ops.append(Op(O.OP_EXEC, 'exec "%s"' % proc["args"][0], n1=3 + plan.preserve_fds))

    plan.argv = list(proc["args"])
    env = dedupe_env(proc.get("env"))
    if opts.listen_fds:
        # crun's rule: a LISTEN_PID the config sets is kept; else the init's own pid
        env = dedupe_env(env + ["LISTEN_FDS=%d" % opts.listen_fds])
        if not any(e.startswith("LISTEN_PID=") for e in env):
            env.append("LISTEN_PID=1")
            ops.insert(len(ops) - 1, Op(O.OP_LISTEN_PID, "set LISTEN_PID", n1=len(env) - 1))
    plan.env = env
    plan.hooks = spec.get("hooks") or {}
    return plan


# /proc/PID/ns entry for each namespace type, in the order exec joins them (the mount
# namespace last: it changes how later paths resolve)
NS_PROC_NAMES = (("ipc", "ipc"), ("uts", "uts"), ("network", "net"), ("cgroup", "cgroup"), ("time", "time"),
                 ("mount", "mnt"))


def has_userns(st):
    """Whether the container recorded in state `st` runs in a user namespace of its own."""
    ns = st.get("namespaces") or {}
    return "user" in (ns.get("new") or ()) or "user" in (ns.get("joins") or {})


def build_exec(proc, st, opts, host, linux=None):
    """exec: join every namespace of the container's init, then set the process up the
    way the init was (same op sequence), with no exec.fifo to wait on. `linux` is the
    container's config section (its personality applies to the process too)."""
    labels.check(proc, host)
    plan = Plan()
    warn = plan.warnings.append
    pid = st["pid"]
    plan.rootfs = st.get("rootfs", "")
    plan.pidns_path = "/proc/%d/ns/pid" % pid
    ops = plan.ops
    in_userns = has_userns(st)
    ns = st.get("namespaces") or {}
    own = set(ns.get("new") or ()) | set(ns.get("joins") or {})
    if in_userns:
        # A two-stage spawn: the first stage, still in the runtime's user namespace, does
        # what needs CAP_SYS_RESOURCE there, then joins the container's user namespace and
        # then its pid namespace, which that user namespace owns (an unprivileged runtime
        # has no right to it before), and clones the process.
        plan.pidns_path = None
        plan.pre_ops = _oom_ops(proc) + _rlimit_ops(proc)
        plan.pre_ops.append(Op(O.OP_SETNS, "join user namespace", n1=NS_FLAGS["user"],
                               fdref=("path", "/proc/%d/ns/user" % pid)))
        if "pid" in own:
            plan.pre_ops.append(Op(O.OP_SETNS, "join pid namespace", n1=NS_FLAGS["pid"],
                                   fdref=("path", "/proc/%d/ns/pid" % pid)))
    if host.in_userns and "pid" not in own:
        plan.pidns_path = None  # the runtime's own, which its user namespace may not join
    shared_mnt = bool(ns) and "mount" not in own
    for t, name in NS_PROC_NAMES:
        if t == "mount" and shared_mnt:
            continue
        if (in_userns or host.in_userns) and t not in own:
            # one the container shares with the runtime: a user namespace other than the
            # initial one (the container's, or the one rootless podman runs us in) does
            # not own it, so joining it would be refused (EPERM) though we are in it
            continue
        ops.append(Op(O.OP_SETNS, "join %s namespace" % t, n1=NS_FLAGS[t],
                      fdref=("path", "/proc/%d/ns/%s" % (pid, name))))
    if shared_mnt:
        # the container shares our mount namespace: joining it would leave the process at
        # the host's "/" (runc's exec does); it goes to the init's root instead
        ops.append(Op(O.OP_MOVE_ROOT, "chroot to the container's root", n1=1, s1="/proc/%d/root" % pid))
    ops.append(Op(O.OP_SETSID, "setsid"))
    if not opts.no_new_keyring:
        _keyring_ops(ops, proc, opts)
    if not in_userns:
        ops.extend(_oom_ops(proc))
    plan.terminal = bool(proc.get("terminal"))
    if plan.terminal:
        if not opts.console_socket:
            raise PyruncError("cannot allocate tty if runc will detach without setting console socket")
        size = proc.get("consoleSize") or {}
        plan.console_size = (size.get("height", 0), size.get("width", 0))
        ops.append(Op(O.OP_CONSOLE, "set up console", n1=plan.console_size[0], n2=plan.console_size[1], n3=1,
                      u1=_CLEAR_ONLCR if opts.console_socket == "auto" else 0, fdref="console"))
    elif opts.console_socket is True:
        raise PyruncError("cannot use console socket if runc will not detach or allocate tty")
    ops.extend(_personality_ops(linux or {}))
    process_ops, tail = _process_ops(proc, host, plan, warn, opts, rlimits=not in_userns)
    ops.extend(process_ops)
    ops.extend(tail)
    ops.append(Op(O.OP_READY, "ready", n1=0))
    plan.preserve_fds = opts.listen_fds + opts.preserve_fds
    ops.append(Op(O.OP_EXEC, 'exec "%s"' % proc["args"][0], n1=3 + plan.preserve_fds))
    plan.argv = list(proc["args"])
    plan.env = dedupe_env(proc.get("env"))
    return plan
