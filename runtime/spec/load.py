"""config.json -> a checked document (plain dicts and lists), or one ConfigError that
names the JSON path. Type and range checks come from the shapes below; the checks
that need more than types (duplicate namespaces, relative cwd, ...) follow them.
"""
import posix

from pyrunc import errors, jsonio
from pyrunc.errors import ConfigError
from pyrunc.spec.shape import INT32, INT64, UINT16, UINT32, UINT64, Arr, Bool, Int, Map, Obj, OneOf, Str

NAMESPACES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
PROPAGATION = ("private", "shared", "slave", "unbindable", "rprivate", "rshared", "rslave", "runbindable")
SECCOMP_ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
                   "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY")
SECCOMP_OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
               "SCMP_CMP_MASKED_EQ")
SECCOMP_ARCHES = ("SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
                  "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
                  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
                  "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
                  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
                  "SCMP_ARCH_SH", "SCMP_ARCH_SHEB")
SECCOMP_FLAGS = ("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                 "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")
RLIMITS = ("RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
           "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
           "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME")
DEVICE_TYPES = ("c", "b", "u", "p")
HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")

U32 = Int(UINT32)
U64 = Int(UINT64)
I64 = Int(INT64)
STR = Str()
STRS = Arr(STR)
IDMAP = Arr(Obj({"containerID": U32, "hostID": U32, "size": U32}, ("containerID", "hostID", "size")))

HOOK = Obj({"path": Str(nonempty=True), "args": STRS, "env": STRS, "timeout": Int(INT64, minimum=1)}, ("path",))

PROCESS = Obj({
    "terminal": Bool(),
    "consoleSize": Obj({"height": U32, "width": U32}, ("height", "width"), go_zero={"height": 0, "width": 0}),
    "user": Obj({"uid": U32, "gid": U32, "umask": U32, "additionalGids": Arr(U32), "username": STR}, ("uid", "gid"),
                go_zero={"uid": 0, "gid": 0}),
    "args": STRS,
    "commandLine": STR,
    "env": STRS,
    "cwd": STR,
    "capabilities": Obj({k: STRS for k in ("bounding", "effective", "inheritable", "permitted", "ambient")}),
    "rlimits": Arr(Obj({"type": Str(RLIMITS), "hard": U64, "soft": U64}, ("type", "hard", "soft"),
                       go_zero={"hard": 0, "soft": 0})),
    "noNewPrivileges": Bool(),
    "apparmorProfile": STR,
    "oomScoreAdj": Int((-1000, 1000)),
    "selinuxLabel": STR,
    "scheduler": Obj({"policy": Str(("SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO",
                                     "SCHED_IDLE", "SCHED_DEADLINE")),
                      "nice": Int(INT32), "priority": Int(INT32),
                      "flags": Arr(Str(("SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN",
                                        "SCHED_FLAG_KEEP_POLICY", "SCHED_FLAG_KEEP_PARAMS",
                                        "SCHED_FLAG_UTIL_CLAMP_MIN", "SCHED_FLAG_UTIL_CLAMP_MAX"))),
                      "runtime": U64, "deadline": U64, "period": U64}, ("policy",)),
    "ioPriority": Obj({"class": Str(("IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE")),
                       "priority": Int((0, 7))}, ("class",)),
    "execCPUAffinity": Obj({"initial": Str(chars="0123456789, -"), "final": Str(chars="0123456789, -")}),
}, ("cwd",))

WEIGHT_DEVICE = Obj({"major": I64, "minor": I64, "weight": Int(UINT16), "leafWeight": Int(UINT16)},
                    ("major", "minor"), any_of=("weight", "leafWeight"))
THROTTLE_DEVICE = Obj({"major": I64, "minor": I64, "rate": U64}, ("major", "minor", "rate"))

RESOURCES = Obj({
    # runc 1.1.5's set: allow may be left out (false), type "" is "a", access letters
    # other than r, w, m are dropped (see cgroups.devices.from_oci)
    "devices": Arr(Obj({"allow": Bool(), "type": Str(("a", "c", "b"), go_empty=True), "major": I64, "minor": I64,
                        "access": STR}, ("allow",), go_zero={"allow": False})),
    "memory": Obj({"limit": I64, "reservation": I64, "swap": I64, "kernel": I64, "kernelTCP": I64,
                   "swappiness": U64, "disableOOMKiller": Bool(), "useHierarchy": Bool(),
                   "checkBeforeUpdate": Bool()}),
    "cpu": Obj({"shares": U64, "quota": I64, "burst": U64, "period": U64, "realtimeRuntime": I64,
                "realtimePeriod": U64, "cpus": STR, "mems": STR, "idle": I64}),
    "pids": Obj({"limit": I64}, ("limit",), go_zero={"limit": None}),  # no limit, as runc
    "blockIO": Obj({"weight": Int(UINT16), "leafWeight": Int(UINT16), "weightDevice": Arr(WEIGHT_DEVICE),
                    "throttleReadBpsDevice": Arr(THROTTLE_DEVICE), "throttleWriteBpsDevice": Arr(THROTTLE_DEVICE),
                    "throttleReadIOPSDevice": Arr(THROTTLE_DEVICE),
                    "throttleWriteIOPSDevice": Arr(THROTTLE_DEVICE)}),
    "hugepageLimits": Arr(Obj({"pageSize": STR, "limit": U64}, ("pageSize", "limit"))),
    "network": Obj({"classID": U32, "priorities": Arr(Obj({"name": STR, "priority": U32}, ("name", "priority")))}),
    "rdma": Map(Obj({"hcaHandles": U32, "hcaObjects": U32}, any_of=("hcaHandles", "hcaObjects"))),
    "unified": Map(STR),
})

SECCOMP = Obj({
    "defaultAction": Str(SECCOMP_ACTIONS),
    "defaultErrnoRet": U32,
    "architectures": Arr(Str(SECCOMP_ARCHES)),
    "flags": Arr(Str(SECCOMP_FLAGS)),
    "listenerPath": STR,
    "listenerMetadata": STR,
    "syscalls": Arr(Obj({
        "names": Arr(STR, nonempty=True, go_empty=True),  # a rule for no syscall: nothing
        "action": Str(SECCOMP_ACTIONS),
        "errnoRet": U32,
        "args": Arr(Obj({"index": Int(UINT32), "value": U64, "valueTwo": U64, "op": Str(SECCOMP_OPS)},
                        ("index", "value", "op"))),
    }, ("names", "action"), go_zero={"names": []})),
}, ("defaultAction",), go_zero={"defaultAction": None})  # see check_rules

LINUX = Obj({
    "namespaces": Arr(Obj({"type": Str(NAMESPACES), "path": STR}, ("type",))),
    "uidMappings": IDMAP,
    "gidMappings": IDMAP,
    "timeOffsets": Map(Obj({"secs": I64, "nanosecs": U32}), key_enum=("monotonic", "boottime")),
    "devices": Arr(Obj({"type": Str(DEVICE_TYPES), "path": Str(nonempty=True), "major": I64, "minor": I64,
                        "fileMode": U32, "uid": U32, "gid": U32}, ("type", "path"))),
    "netDevices": Map(Obj({"name": STR})),
    "cgroupsPath": STR,
    "resources": RESOURCES,
    "intelRdt": Obj({"closID": STR, "l3CacheSchema": STR, "memBwSchema": STR, "schemata": OneOf(STR, STRS),
                     "enableMonitoring": Bool(), "enableCMT": Bool(), "enableMBM": Bool()}),
    "memoryPolicy": Obj({"mode": Str(("MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE",
                                      "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL")),
                         "nodes": STR,
                         "flags": Arr(Str(("MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES")))},
                        ("mode",)),
    "sysctl": Map(STR),
    "seccomp": SECCOMP,
    "rootfsPropagation": Str(PROPAGATION, go_empty=True),
    "maskedPaths": STRS,
    "readonlyPaths": STRS,
    "mountLabel": STR,
    "personality": Obj({"domain": Str(("LINUX", "LINUX32")), "flags": STRS}, ("domain",)),
})

CONFIG = Obj({
    "ociVersion": STR,
    "root": Obj({"path": Str(nonempty=True), "readonly": Bool()}, ("path",)),
    "mounts": Arr(Obj({"destination": STR, "type": STR, "source": STR, "options": STRS,
                       "uidMappings": IDMAP, "gidMappings": IDMAP}, ("destination",))),
    "process": PROCESS,
    "hostname": STR,
    "domainname": STR,
    "hooks": Obj({k: Arr(HOOK) for k in HOOK_KINDS}),
    "annotations": Map(STR, nonempty_keys=True),
    "linux": LINUX,
}, ("ociVersion",), go_zero={"ociVersion": ""})  # runc never reads it


def read_bundle_config(bundle):
    """Bytes of <bundle>/config.json, with runc's wording for a missing bundle."""
    path = bundle + "/config.json"
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except FileNotFoundError:
        try:
            posix.stat(bundle)
        except FileNotFoundError:
            raise errors.SyscallError("chdir " + bundle, 2) from None
        raise errors.PyruncError("JSON specification file config.json not found") from None
    except OSError as e:
        raise errors.from_oserror("open " + path, e) from None
    try:
        chunks = []
        total = 0
        while True:
            b = posix.read(fd, 1 << 20)
            if not b:
                break
            total += len(b)
            if total > MAX_CONFIG_BYTES:
                raise ConfigError("", "file larger than %d bytes" % MAX_CONFIG_BYTES)
            chunks.append(b)
    finally:
        posix.close(fd)
    return b"".join(chunks)


MAX_CONFIG_BYTES = 64 << 20


def parse(data, source="config.json"):
    """JSON text -> document, ConfigError on invalid JSON."""
    try:
        return jsonio.loads(data)
    except jsonio.JSONError as e:
        raise ConfigError("", "invalid JSON: " + str(e), source) from None


def check(doc, strict=False):
    """Types first (shapes), then the rules types cannot say. Returns doc.

    Where runc's decoder reads an absent field as Go's zero value and nothing of runc
    refuses it, so does this (user without gid, rlimit without soft, ...); `strict`
    refuses those as the spec's schema does (pyrunc validate, the agreement tests)."""
    CONFIG.check(doc, "", strict)
    check_rules(doc, strict)
    return doc


def check_rules(doc, strict=False):
    proc = doc.get("process")
    if proc is not None:
        cwd = proc.get("cwd", "")
        if not cwd.startswith("/"):
            raise ConfigError("process.cwd", 'must be an absolute path, got "%s"' % cwd)
        args = proc.get("args") or []
        if not args:
            raise ConfigError("process.args", "must not be empty")
        for i, e in enumerate(proc.get("env") or []):
            name, eq, _ = e.partition("=")
            if not eq:
                raise ConfigError("process.env[%d]" % i, "invalid environment variable: missing '='")
            if not name:
                raise ConfigError("process.env[%d]" % i, "invalid environment variable: name cannot be empty")
            if "\0" in e:
                raise ConfigError("process.env[%d]" % i, "invalid environment variable: contains a NUL byte")
        # a type given twice is set twice, in order, as runc does
        for i, rl in enumerate(proc.get("rlimits") or []):
            if rl["soft"] > rl["hard"]:
                raise ConfigError("process.rlimits[%d]" % i, "soft limit must not exceed the hard limit")
    for i, m in enumerate(doc.get("mounts") or []):
        if not m.get("destination"):
            raise ConfigError("mounts[%d].destination" % i, "must not be empty")
    linux = doc.get("linux") or {}
    seen = {}
    for i, ns in enumerate(linux.get("namespaces") or []):
        t = ns["type"]
        if t in seen:
            raise ConfigError("linux.namespaces[%d].type" % i, 'duplicate namespace "%s" (also at [%d])' % (t, seen[t]))
        seen[t] = i
        path = ns.get("path")
        if path is not None and path != "" and not path.startswith("/"):
            raise ConfigError("linux.namespaces[%d].path" % i, 'must be an absolute path, got "%s"' % path)
    for kind in HOOK_KINDS:
        for i, h in enumerate((doc.get("hooks") or {}).get(kind) or []):
            if not h["path"].startswith("/"):
                raise ConfigError("hooks.%s[%d].path" % (kind, i), 'must be an absolute path, got "%s"' % h["path"])
    for key in ("maskedPaths", "readonlyPaths"):
        for i, p in enumerate(linux.get(key) or []):
            # runc takes a relative one as relative to the container's / (its cwd then)
            if strict and not p.startswith("/"):
                raise ConfigError("linux.%s[%d]" % (key, i), 'must be an absolute path, got "%s"' % p)
    seccomp = linux.get("seccomp")
    if seccomp is not None and "defaultAction" not in seccomp:
        if strict or seccomp.get("syscalls"):
            raise ConfigError("linux.seccomp", 'missing required field "defaultAction"')
        del linux["seccomp"]  # runc: no default action and no rules is no filter
    for i, d in enumerate(linux.get("devices") or []):
        # runc makes a missing major or minor 0
        if strict and d["type"] != "p" and ("major" not in d or "minor" not in d):
            raise ConfigError("linux.devices[%d]" % i, "major and minor are required for type \"%s\"" % d["type"])
    return doc


def load_bundle(bundle):
    """Read, parse and check <bundle>/config.json."""
    doc = parse(read_bundle_config(bundle))
    if not isinstance(doc, dict):
        raise ConfigError("", "expected object, got " + type(doc).__name__)
    return check(doc)
