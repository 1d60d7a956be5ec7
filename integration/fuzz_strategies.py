"""Hypothesis strategies for fuzzing config.json, driven by runtime/spec/schema.json.

Pure: nothing here touches the host except read-only existence checks in sanitize().
Used by integration/test_fuzz.py (real containers) and tests/test_fuzz_loader.py (the
loader and the plan builder in-process).

A case is drawn in three steps:

1. ``configs(base)``: the base config (runc's default spec running ``/probe exit 0``)
   with 0-6 mutations.  Most mutations are schema-valid (a value generated from the
   schema set at a random schema path, parents created as needed, or an existing
   subtree regenerated), so that most cases get past the loader into the plan and the
   shim; the rest break it: wrong types, null, deleted (required) keys, unknown keys,
   extreme integers and integral floats, odd strings (empty, long, NUL, lone
   surrogates, "../", absolute paths, format strings), huge and deeply nested arrays,
   duplicated list items.  Domain hints (HINTS) mix realistic values into the schema's
   (mount types and options, capability names, sysctls, ...) so that the kernel is
   reached with values it can accept.
2. ``encodings()``: how the document becomes bytes: plain JSON, raw UTF-8 with lone
   surrogates written as CESU-style bytes, or a byte-level mutation (truncated, a byte
   flipped, trailing garbage, NaN, 1e400, a non-object document, 100k-deep nesting).
3. ``sanitize(cfg, ctx)`` (for real containers only): placeholders (@CID@, @ROOTFS@,
   @SANDBOX@, @BUNDLE@) are filled in, and everything that could reach the host outside
   the test's sandbox is made harmless -- host paths for binds, the root and namespace
   joins, hook binaries, process argv (busybox applets!), cgroupsPath, remounts of
   shared superblocks, host sysctls, netDevices.  See the function for the list.
"""
import json
import os
import posixpath
import re

from hypothesis import strategies as st

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_PATH = os.path.join(HERE, "..", "runtime", "spec", "schema.json")


def load_schema(path=None):
    path = path or SCHEMA_PATH
    if not os.path.exists(path):
        import pyrunc.spec

        path = os.path.join(os.path.dirname(pyrunc.spec.__file__), "schema.json")
    with open(path) as f:
        return json.load(f)


SCHEMA = load_schema()
DEFS = SCHEMA.get("$defs", {})

# ---- placeholders, filled in per case by sanitize() ----
CID = "@CID@"
ROOTFS = "@ROOTFS@"
SANDBOX = "@SANDBOX@"
BUNDLE = "@BUNDLE@"

# ---- odd values ----

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
EXTREME_INTS = [-1, 0, 1, 2, 7, 8, 255, 256, 1000, 1001, 65535, 65536, (1 << 31) - 1, 1 << 31, (1 << 32) - 1,
                1 << 32, (1 << 53) + 1, INT64_MAX, 1 << 63, (1 << 64) - 1, 1 << 64, INT64_MIN, INT64_MIN - 1,
                -(1 << 31), -(1 << 31) - 1, 10 ** 30, -10 ** 30]
# integral floats pass an integer check that accepts 1.0; the others must be refused
ODD_NUMBERS = [0.0, 1.0, -0.0, 4096.0, 1e3, 1.5, -1.5, 1e19, 1e300, 2.0 ** 63, 2.0 ** 64, 5e-324]
ODD_STRINGS = [
    "", " ", "\t", "\n", "a\nb", "\r\n", "x" * 255, "x" * 256, "x" * 4097, "/" + "d/" * 2100, "a" * 70000,
    "\x00", "a\x00b", "/a\x00b", "\x01\x7f", "\ud800", "\udc80", "/x\udcff", "\udfff\ud800", "\ufffd", "\ufeff",
    "\u202e", "é", "日本", "\U0001f600", "../", "../../..", "/..", "/../../../..", "./", ".", "..", "/", "//",
    "/./.", "relative", "relative/path", "/tmp", "/nonexistent", "/nonexistent/deeper", "/dev/null",
    "/etc/passwd", "/proc/self", "%s%s%s%n", "%x" * 20, "$(id)", "`id`", "*", "?", "-", "--help", "-1", "0",
    "1e309", "true", "null", "=", "==", "a=b", "A=", "=b", '"', "\\", "\\u0000", "{}", "[]", ",", ":",
]
WRONG_TYPES = [None, True, False, 0, -1, 1.5, "", "x", [], [None], [1], {}, {"": None}, {"a": 1}]


def clone(v):
    """A deep copy of a JSON-like value (dicts and lists; leaves are shared), much
    faster than copy.deepcopy."""
    if type(v) is dict:
        return {k: clone(x) for k, x in v.items()}
    if type(v) is list:
        return [clone(x) for x in v]
    return v


def weighted(*pairs):
    """one_of with integer weights: weighted((3, a), (1, b))."""
    pairs = [(w, s) for w, s in pairs if w > 0]
    if len(pairs) == 1:
        return pairs[0][1]
    idx = []
    for i, (w, _) in enumerate(pairs):
        idx += [i] * w
    strategies = [s for _, s in pairs]
    return st.sampled_from(idx).flatmap(lambda i: strategies[i])


# what most often breaks C strings, encoders and path handling
NASTY = ["\x00", "\ud800", "\udc80", "\udfff", "\n", "%s%n", "/..", "x" * 4097, "\udcff\x00", "\\", '"']


def odd_string():
    return weighted((3, st.sampled_from(ODD_STRINGS)), (2, st.sampled_from(NASTY)),
                    (1, st.text(max_size=30)),
                    (1, st.text(alphabet=st.characters(codec=None, categories=None, exclude_categories=()),
                                max_size=8)))


def extreme_int():
    return weighted((4, st.sampled_from(EXTREME_INTS)), (1, st.sampled_from(ODD_NUMBERS)),
                    (1, st.integers()))


# ---- the schema walker ----

def resolve(node):
    """A schema node with its $ref merged in (the node's own keys win, as "type" beside
    "$ref": "#/$defs/uint32" means)."""
    while isinstance(node, dict) and "$ref" in node:
        target = DEFS[node["$ref"].rsplit("/", 1)[1]]
        merged = dict(target)
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        node = merged
    return node


def types_of(node):
    t = node.get("type")
    if t is None:
        if "properties" in node or "additionalProperties" in node:
            return ["object"]
        if "items" in node:
            return ["array"]
        return []
    return [t] if isinstance(t, str) else list(t)


def schema_child(node, key):
    """The schema of node's child `key` ("[]" an array item, "*" a map value), or None."""
    node = resolve(node or {})
    if key == "[]":
        return resolve(node.get("items", {})) if "items" in node else None
    props = node.get("properties", {})
    if key in props:
        return resolve(props[key])
    add = node.get("additionalProperties")
    if key == "*" or (isinstance(add, dict) and key not in props):
        return resolve(add) if isinstance(add, dict) else None
    return None


def schema_at(path):
    node = SCHEMA
    for key in path:
        node = schema_child(node, key)
        if node is None:
            return None
    return node


def all_schema_paths():
    """Every property, array item and map value the schema describes."""
    out = []

    def walk(node, path):
        node = resolve(node)
        for k, sub in node.get("properties", {}).items():
            out.append(path + (k,))
            walk(sub, path + (k,))
        if isinstance(node.get("items"), dict):
            out.append(path + ("[]",))
            walk(node["items"], path + ("[]",))
        if isinstance(node.get("additionalProperties"), dict):
            out.append(path + ("*",))
            walk(node["additionalProperties"], path + ("*",))

    walk(SCHEMA, ())
    return out


SCHEMA_PATHS = all_schema_paths()

PATHISH = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_./", min_size=0, max_size=16)
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.", max_size=12)
TEXT = weighted((3, WORD), (1, st.text(max_size=12)))


def _char_class(spec):
    """The characters of a regex class body: "0-9, -" -> 0123456789, space and "-"."""
    out, i = [], 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            out += [chr(c) for c in range(ord(spec[i]), ord(spec[i + 2]) + 1)]
            i += 3
        else:
            out.append(spec[i])
            i += 1
    return "".join(sorted(set(out)))


def _string_strategy(node):
    pattern = node.get("pattern")
    min_len = node.get("minLength", 0)
    if pattern == "^/":
        s = PATHISH.map(lambda p: "/" + p)
    elif pattern == "^(/|$)":
        s = weighted((1, st.just("")), (3, PATHISH.map(lambda p: "/" + p)))
    elif pattern and re.fullmatch(r"\^\[([^\]]+)\]\*\$", pattern):
        s = st.text(alphabet=_char_class(re.fullmatch(r"\^\[([^\]]+)\]\*\$", pattern).group(1)), max_size=8)
    else:
        s = TEXT
    if min_len:
        s = s.filter(lambda v: len(v) >= min_len) if min_len > 1 else s.map(lambda v: v or "x")
    return s


def _int_strategy(node):
    lo = node.get("minimum", INT64_MIN)
    hi = node.get("maximum", INT64_MAX)
    edges = sorted({v for v in (lo, hi, lo + 1, hi - 1, 0, 1, 2, 10, 100, 1000, 1024, 4096, 65536, 1 << 20,
                                1 << 30, -1) if lo <= v <= hi})
    return weighted((3, st.integers(lo, hi)), (2, st.sampled_from(edges)))


_cache = {}


def strategy_for(path, hints=True):
    """A strategy for values at schema path `path`: the schema's (always valid), with
    HINTS (realistic, some deliberately invalid) mixed in unless hints=False."""
    key = (path, hints)
    if key not in _cache:
        s = _schema_strategy(path, resolve(schema_at(path) or {}), hints)
        hint = hint_for(path) if hints else None
        if hint is not None:
            s = weighted((3, hint), (1, s))
        # sampled_from hands out shared objects: callers change theirs in place
        _cache[key] = s.map(clone)
    return _cache[key]


def _schema_strategy(path, node, hints=True):
    if "enum" in node:
        return st.sampled_from(node["enum"])
    types = types_of(node)
    strategies = []
    for t in types:
        if t == "null":
            continue
        if t == "string":
            strategies.append(_string_strategy(node))
        elif t == "integer":
            strategies.append(_int_strategy(node))
        elif t == "number":
            strategies.append(st.floats(allow_nan=False, allow_infinity=False))
        elif t == "boolean":
            strategies.append(st.booleans())
        elif t == "array":
            strategies.append(_array_strategy(path, node, hints))
        elif t == "object":
            strategies.append(_object_strategy(path, node, hints))
    if not strategies:
        return st.sampled_from(WRONG_TYPES).map(clone)
    s = st.one_of(strategies) if len(strategies) > 1 else strategies[0]
    if "null" in types:
        s = weighted((8, s), (1, st.none()))
    return s


def _array_strategy(path, node, hints):
    item_path = path + ("[]",)
    return st.deferred(lambda: st.lists(strategy_for(item_path, hints), min_size=node.get("minItems", 0),
                                        max_size=3))


def _object_strategy(path, node, hints):
    props = node.get("properties", {})
    required = list(node.get("required", []))
    optional = [k for k in props if k not in required]
    add = node.get("additionalProperties")
    names = node.get("propertyNames", {})
    any_of = [a["required"] for a in node.get("anyOf", []) if "required" in a]
    if_then = None
    if "if" in node and "then" in node:
        if_then = (node["if"], node["then"])

    @st.composite
    def build(draw):
        d = {}
        for k in required:
            d[k] = draw(strategy_for(path + (k,), hints))
        if optional:
            for k in draw(st.lists(st.sampled_from(optional), max_size=min(3, len(optional)), unique=True)):
                d[k] = draw(strategy_for(path + (k,), hints))
        if isinstance(add, dict):
            if "enum" in names:
                keys = st.sampled_from(names["enum"])
            else:
                keys = hint_for(path + ("*key",)) if hints else None
                if keys is None:
                    keys = WORD.filter(lambda k: len(k) >= names.get("minLength", 0))
            for k in draw(st.lists(keys, max_size=3, unique=True)):
                d[k] = draw(strategy_for(path + ("*",), hints))
        if any_of and not any(all(d.get(k) is not None for k in req) for req in any_of):
            for k in draw(st.sampled_from(any_of)):
                d[k] = draw(strategy_for(path + (k,), hints))
        if if_then is not None:
            cond, then = if_then
            ok = all(k in d for k in cond.get("required", [])) and all(
                d.get(k) in sub.get("enum", [d.get(k)]) for k, sub in cond.get("properties", {}).items())
            if ok:
                for k in then.get("required", []):
                    if d.get(k) is None:
                        d[k] = draw(strategy_for(path + (k,), hints))
        return d

    return build()


# ---- domain hints: realistic values mixed into the schema's ----

CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_NET_ADMIN", "CAP_SYS_CHROOT", "CAP_SYS_ADMIN", "CAP_MKNOD",
        "CAP_AUDIT_WRITE", "CAP_SETFCAP", "CAP_SYS_PTRACE", "CAP_BPF", "CAP_PERFMON", "CAP_CHECKPOINT_RESTORE",
        "CAP_NOT_A_CAP", "cap_chown", "CHOWN", "CAP_", ""]
MOUNT_TYPES = ["proc", "tmpfs", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2", "bind", "none", "", "rbind",
               "nosuchfs", "ramfs"]
MOUNT_OPTIONS = ["ro", "rw", "nosuid", "nodev", "noexec", "suid", "dev", "exec", "bind", "rbind", "remount",
                 "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable",
                 "relatime", "strictatime", "noatime", "nodiratime", "sync", "async", "dirsync", "mand", "nomand",
                 "lazytime", "silent", "loud", "iversion", "nosymfollow", "symfollow", "defaults",
                 "rro", "rrw", "rnosuid", "rnodev", "rnoexec", "rnoatime", "rrelatime", "rstrictatime",
                 "rnosymfollow", "rsymfollow", "ratime", "tmpcopyup", "idmap", "ridmap",
                 "mode=755", "mode=1777", "mode=0", "mode=99999", "size=65536k", "size=1", "size=0",
                 "size=10%", "nr_inodes=4", "uid=0", "gid=5", "uid=4294967296", "newinstance", "ptmxmode=0666",
                 "mode=0620", "x-custom=1", "", ","]
MOUNT_DESTS = ["/mnt", "/mnt/a/b", "/tmp", "/tmp/x", "/run", "/var/lib/fuzz", "/proc", "/sys", "/dev",
               "/dev/shm", "/dev/pts", "/dev/mqueue", "/sys/fs/cgroup", "/etc/hosts", "/etc/passwd",
               "/dev/null", "/probe", "/home/probe", "relative/dest", "mnt", "/proc/sys", "/proc/kcore",
               "/dev/fuzzfile", "/bin/sh", "/bin", "/a/../../mnt", "/./mnt//x/"]
MOUNT_SOURCES = ["proc", "tmpfs", "sysfs", "devpts", "mqueue", "cgroup", "shm", "none", "",
                 SANDBOX + "/dir", SANDBOX + "/file", SANDBOX + "/missing", SANDBOX + "/link-dir",
                 "srcdir", "srcfile", "missing", ROOTFS, ROOTFS + "/tmp", "/dev/null"]


@st.composite
def _mount(draw):
    m = {"destination": draw(st.sampled_from(MOUNT_DESTS) | PATHISH.map(lambda p: "/" + p))}
    kind = draw(st.sampled_from(["tmpfs", "bind", "proc", "other"]))
    if kind == "tmpfs":
        m.update(type="tmpfs", source="tmpfs")
    elif kind == "bind":
        m.update(type=draw(st.sampled_from(["bind", "none", ""])), source=draw(st.sampled_from(MOUNT_SOURCES)))
        m["options"] = [draw(st.sampled_from(["bind", "rbind"]))]
    elif kind == "proc":
        m.update(type="proc", source="proc")
    else:
        m.update(type=draw(st.sampled_from(MOUNT_TYPES)), source=draw(st.sampled_from(MOUNT_SOURCES)))
    extra = draw(st.lists(st.sampled_from(MOUNT_OPTIONS), max_size=4))
    if extra or draw(st.booleans()):
        m["options"] = m.get("options", []) + extra
    return m


PROBE_ARGS = [["/probe", "exit", "0"], ["/probe", "exit", "3"], ["/probe", "sleep", "0"],
              ["/probe", "sleep", "100"], ["/probe", "report"], ["/probe"], ["/probe", "nosuchverb"],
              ["/bin/true"], ["true"], ["probe"], ["/nonexistent"], [""], ["/"], ["/bin"], ["/etc/passwd"],
              ["./probe", "exit", "0"], ["/dev/null"]]
SYSCTLS = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
           "kernel.shmmni", "kernel.shm_rmid_forced", "fs.mqueue.msg_max", "fs.mqueue.queues_max",
           "net.ipv4.ip_forward", "net.ipv4.ping_group_range", "net.core.somaxconn", "net.ipv4.fuzz_nonexistent",
           "net.ipv6.conf.all.disable_ipv6", "kernel.hostname", "kernel.domainname", "kernel.fuzz_nonexistent",
           "vm.fuzz_nonexistent", "kernel.pid_max", "", ".", "net..x", "net/ipv4/ip_forward",
           "net.ipv4.../x", "fs.mqueue"]
SYSCTL_VALUES = ["1", "0", "0 2147483647", "1024", "", "abc", "-1", "99999999999999999999", "1\n2", "32000 1024000000 500 32000"]
SYSCALLS = ["getpid", "mkdir", "chmod", "personality", "socket", "clone", "clone3", "execve", "exit_group",
            "openat", "nosuchsyscall", "", "read", "write", "ptrace", "keyctl", "unshare", "setns", "mount"]
HOOKS = [{"path": "/bin/true"}, {"path": "/bin/false"}, {"path": "/bin/true", "args": ["true", "--x"]},
         {"path": "/bin/true", "env": ["A=b"], "timeout": 5}, {"path": "/nonexistent/hook"},
         {"path": "/bin/sleep", "args": ["sleep", "3"], "timeout": 1}, {"path": "/tmp"},
         {"path": "/dev/null"}, {"path": "relative/hook"}]
NS_TYPES = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"]
NS_PATHS = ["", "/nonexistent/ns", "/", "/dev/null", "relative/ns", "/tmp", None]
CGROUP_PATHS = [CID, "/" + CID, "/" + CID + "/sub", CID + "/a/b/c", "/" + CID + "-slice/" + CID,
                "system.slice:pyrt:" + CID, "/" + CID + "/", "//" + CID, "./" + CID, "/" + CID + "/../x",
                "../" + CID, "", "/", ".", "/.", "..", "/" + CID + "/" + "x" * 300, "/" + CID + "\x00x",
                "/" + CID + "/\udc80", "/" + CID + "/\ud800", "/" + CID + "/a b", CID + "/\n"]


@st.composite
def _namespaces(draw):
    types = draw(st.lists(st.sampled_from(NS_TYPES), max_size=8, unique=True))
    out = [{"type": t} for t in types]
    if out and draw(st.integers(0, 4)) == 0:
        out[draw(st.integers(0, len(out) - 1))]["path"] = draw(st.sampled_from(NS_PATHS))
    return out


@st.composite
def _seccomp(draw):
    default = draw(st.sampled_from(["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_LOG", "SCMP_ACT_KILL",
                                    "SCMP_ACT_TRAP", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_NOTIFY"]))
    s = {"defaultAction": default}
    if draw(st.booleans()):
        s["architectures"] = draw(st.lists(st.sampled_from(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                                                            "SCMP_ARCH_AARCH64", "SCMP_ARCH_M68K"]), max_size=3))
    rules = []
    for _ in range(draw(st.integers(0, 3))):
        r = {"names": draw(st.lists(st.sampled_from(SYSCALLS), min_size=1, max_size=3)),
             "action": draw(st.sampled_from(["SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW", "SCMP_ACT_KILL", "SCMP_ACT_LOG",
                                             "SCMP_ACT_TRACE", "SCMP_ACT_NOTIFY"]))}
        if draw(st.booleans()):
            r["args"] = [{"index": draw(st.integers(0, 6)), "value": draw(st.sampled_from([0, 1, 2 ** 64 - 1, 1 << 32])),
                          "op": draw(st.sampled_from(["SCMP_CMP_EQ", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE",
                                                      "SCMP_CMP_GT"]))}
                         for _ in range(draw(st.integers(1, 3)))]
        if draw(st.booleans()):
            r["errnoRet"] = draw(st.sampled_from([0, 1, 38, 4095, 4096, 2 ** 32 - 1]))
        rules.append(r)
    if rules:
        s["syscalls"] = rules
    if draw(st.integers(0, 3)) == 0:
        s["listenerPath"] = draw(st.sampled_from(["/nonexistent/seccomp.sock", SANDBOX + "/file", "rel.sock", ""]))
    if draw(st.integers(0, 3)) == 0:
        s["flags"] = draw(st.lists(st.sampled_from(["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                                    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                                    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]), max_size=2))
    return s


MEM_VALUES = [-1, 0, 1, 4096, 1 << 20, 6 << 20, 64 << 20, 1 << 30, INT64_MAX, -2]
HINTS = {
    ("ociVersion",): st.sampled_from(["1.0.2-dev", "1.0.0", "1.2.0", "1.3.0", "0.1", "2.0.0", "", "1.0.2-dev+x"]),
    ("root",): st.fixed_dictionaries({"path": st.just(ROOTFS)}, optional={"readonly": st.booleans()}),
    ("root", "path"): st.sampled_from([ROOTFS, ROOTFS, ROOTFS + "/", ROOTFS + "/.", "rootfs", "", SANDBOX + "/dir",
                                       SANDBOX + "/file", SANDBOX + "/missing", "/nonexistent/rootfs",
                                       ROOTFS + "/../rootfs", SANDBOX + "/link-dir"]),
    ("mounts",): st.lists(_mount(), max_size=4),
    ("mounts", "[]"): _mount(),
    ("mounts", "[]", "destination"): st.sampled_from(MOUNT_DESTS),
    ("mounts", "[]", "type"): st.sampled_from(MOUNT_TYPES),
    ("mounts", "[]", "source"): st.sampled_from(MOUNT_SOURCES),
    ("mounts", "[]", "options", "[]"): st.sampled_from(MOUNT_OPTIONS),
    ("process", "args"): st.sampled_from(PROBE_ARGS),
    ("process", "args", "[]"): st.sampled_from(["/probe", "exit", "0", "1", "sleep"]),
    ("process", "cwd"): st.sampled_from(["/", "/tmp", "/home/probe", "/new/dir", "/probe", "/proc", "/dev",
                                         "/proc/self", "/a/../..", "/tmp/" + "x" * 300]),
    ("process", "env", "[]"): st.sampled_from(["A=b", "PATH=/bin", "=x", "novalue", "A==", "HOME=/x", "A=\x00",
                                               "LANG=C.UTF-8", "X=" + "y" * 5000]),
    ("process", "user", "uid"): st.sampled_from([0, 1000, 65534, 2 ** 32 - 1, 12345]),
    ("process", "user", "gid"): st.sampled_from([0, 5, 100, 1000, 65534, 2 ** 32 - 1]),
    ("process", "user", "umask"): st.sampled_from([0, 0o22, 0o77, 0o777, 0o7777, 2 ** 32 - 1]),
    ("process", "capabilities", "bounding", "[]"): st.sampled_from(CAPS),
    ("process", "capabilities", "effective", "[]"): st.sampled_from(CAPS),
    ("process", "capabilities", "permitted", "[]"): st.sampled_from(CAPS),
    ("process", "capabilities", "inheritable", "[]"): st.sampled_from(CAPS),
    ("process", "capabilities", "ambient", "[]"): st.sampled_from(CAPS),
    ("process", "rlimits", "[]", "hard"): st.sampled_from([0, 1, 1024, 4096, 1048576, 1048577, 2 ** 64 - 1, 2 ** 63]),
    ("process", "rlimits", "[]", "soft"): st.sampled_from([0, 1, 1024, 4096, 1048576, 2 ** 64 - 1]),
    ("process", "oomScoreAdj"): st.sampled_from([-1000, -1, 0, 1, 500, 1000]),
    ("hostname",): st.sampled_from(["fuzz", "", "x" * 64, "x" * 65, "a.b", "\x00", "-"]),
    ("domainname",): st.sampled_from(["fuzz.local", "", "x" * 64, "x" * 65]),
    ("hooks", "prestart", "[]"): st.sampled_from(HOOKS),
    ("hooks", "createRuntime", "[]"): st.sampled_from(HOOKS),
    ("hooks", "createContainer", "[]"): st.sampled_from(HOOKS),
    ("hooks", "startContainer", "[]"): st.sampled_from(HOOKS),
    ("hooks", "poststart", "[]"): st.sampled_from(HOOKS),
    ("hooks", "poststop", "[]"): st.sampled_from(HOOKS),
    ("linux", "namespaces"): _namespaces(),
    ("linux", "namespaces", "[]", "path"): st.sampled_from(NS_PATHS),
    ("linux", "cgroupsPath"): st.sampled_from(CGROUP_PATHS),
    ("linux", "sysctl", "*key"): st.sampled_from(SYSCTLS),
    ("linux", "sysctl", "*"): st.sampled_from(SYSCTL_VALUES),
    ("linux", "seccomp"): _seccomp(),
    ("linux", "seccomp", "listenerPath"): st.sampled_from(["/nonexistent/seccomp.sock", "", "rel.sock"]),
    ("linux", "seccomp", "syscalls", "[]", "names", "[]"): st.sampled_from(SYSCALLS),
    ("linux", "maskedPaths", "[]"): st.sampled_from(["/proc/kcore", "/sys/firmware", "/nonexistent", "/probe",
                                                     "/proc/sys", "/", "/dev/null", "/etc"]),
    ("linux", "readonlyPaths", "[]"): st.sampled_from(["/proc/sys", "/proc/bus", "/nonexistent", "/probe", "/",
                                                       "/tmp", "/dev"]),
    ("linux", "devices", "[]"): st.sampled_from([
        {"type": "c", "path": "/dev/fuzz0", "major": 1, "minor": 3},
        {"type": "c", "path": "/dev/fuzz1", "major": 1, "minor": 5, "fileMode": 0o600, "uid": 1000, "gid": 1000},
        {"type": "p", "path": "/dev/fifo0"}, {"type": "b", "path": "/dev/loopx", "major": 7, "minor": 200},
        {"type": "u", "path": "/dev/fuzz2", "major": 1, "minor": 7},
        {"type": "c", "path": "/dev/null", "major": 1, "minor": 3},
        {"type": "c", "path": "/probe", "major": 1, "minor": 3},
        {"type": "c", "path": "/new/dir/dev", "major": 1, "minor": 3},
        {"type": "c", "path": "/dev/fuzz3", "major": 2 ** 32, "minor": -1},
        {"type": "c", "path": "/dev/fuzz4", "major": 4095, "minor": 1048575, "fileMode": 0o177777}]),
    ("linux", "resources", "memory", "limit"): st.sampled_from(MEM_VALUES),
    ("linux", "resources", "memory", "reservation"): st.sampled_from(MEM_VALUES),
    ("linux", "resources", "memory", "swap"): st.sampled_from(MEM_VALUES),
    ("linux", "resources", "memory", "kernel"): st.sampled_from(MEM_VALUES),
    ("linux", "resources", "memory", "kernelTCP"): st.sampled_from(MEM_VALUES),
    ("linux", "resources", "memory", "swappiness"): st.sampled_from([0, 60, 100, 101, 2 ** 64 - 1]),
    ("linux", "resources", "cpu", "shares"): st.sampled_from([0, 1, 2, 1024, 262144, 262145, 2 ** 64 - 1]),
    ("linux", "resources", "cpu", "quota"): st.sampled_from([-1, 0, 999, 1000, 50000, 100000, INT64_MAX]),
    ("linux", "resources", "cpu", "period"): st.sampled_from([0, 999, 1000, 100000, 1000000, 1000001]),
    ("linux", "resources", "cpu", "burst"): st.sampled_from([0, 1000, 50000, 2 ** 64 - 1]),
    ("linux", "resources", "cpu", "cpus"): st.sampled_from(["0", "0-1", "1", "5", "0-", "abc", "", "0,1", "1-0"]),
    ("linux", "resources", "cpu", "mems"): st.sampled_from(["0", "1", "", "0-3", "x"]),
    ("linux", "resources", "cpu", "idle"): st.sampled_from([0, 1, 2, -1]),
    ("linux", "resources", "pids", "limit"): st.sampled_from([-1, 0, 1, 10, 1000, INT64_MAX]),
    ("linux", "resources", "blockIO", "weight"): st.sampled_from([0, 1, 9, 10, 500, 1000, 1001, 65535]),
    ("linux", "resources", "hugepageLimits", "[]", "pageSize"): st.sampled_from(["2MB", "1GB", "64KB", "x", "MB",
                                                                                 "2mb", "../2MB"]),
    ("linux", "resources", "unified", "*key"): st.sampled_from(["memory.max", "pids.max", "cpu.weight", "io.max",
                                                                "nosuch.file", "memory", "cgroup.freeze",
                                                                "../x", "a/b", ""]),
    ("linux", "rootfsPropagation"): st.sampled_from(["private", "rprivate", "slave", "rslave", "shared",
                                                     "rshared", "unbindable", "runbindable"]),
    ("linux", "timeOffsets", "*", "secs"): st.sampled_from([0, 1, -1, 10 ** 9, INT64_MAX, INT64_MIN]),
    ("linux", "timeOffsets", "*", "nanosecs"): st.sampled_from([0, 1, 999999999, 1000000000, 2 ** 32 - 1]),
    ("linux", "personality", "domain"): st.sampled_from(["LINUX", "LINUX32"]),
}


def hint_for(path):
    return HINTS.get(path)


# ---- the base config and its mutations ----

def base_config(runc_default):
    """runc's default spec (as the harness builds it) running `/probe exit 0` in @ROOTFS@."""
    cfg = clone(runc_default)
    cfg["process"]["args"] = ["/probe", "exit", "0"]
    cfg["root"] = {"path": ROOTFS, "readonly": True}
    return cfg


LOCATIONS_PER_LIST = 40   # huge arrays: their first items are enough to mutate


def locations(cfg):
    """[(loc, schema path)] for every node below the root: loc is the key/index tuple,
    the schema path uses "[]" and "*" (None: a key the schema does not know)."""
    out = []

    def walk(value, loc, spath, node):
        if isinstance(value, dict):
            for k, v in value.items():
                if node is not None and spath is not None:
                    props = node.get("properties", {})
                    if k in props:
                        cp, cn = spath + (k,), resolve(props[k])
                    elif isinstance(node.get("additionalProperties"), dict):
                        cp, cn = spath + ("*",), resolve(node["additionalProperties"])
                    else:
                        cp, cn = None, None
                else:
                    cp, cn = None, None
                out.append((loc + (k,), cp))
                walk(v, loc + (k,), cp, cn)
        elif isinstance(value, list):
            cn = schema_child(node, "[]") if node is not None else None
            cp = spath + ("[]",) if spath is not None and cn is not None else None
            for i, v in enumerate(value[:LOCATIONS_PER_LIST]):
                out.append((loc + (i,), cp))
                walk(v, loc + (i,), cp, cn)

    walk(cfg, (), (), resolve(SCHEMA))
    return out


def get_at(cfg, loc):
    for k in loc:
        cfg = cfg[k]
    return cfg


def _parent(cfg, loc):
    return get_at(cfg, loc[:-1]), loc[-1]


def set_at(cfg, loc, value):
    if not loc:
        return value
    parent, key = _parent(cfg, loc)
    parent[key] = value
    return cfg


def delete_at(cfg, loc):
    parent, key = _parent(cfg, loc)
    del parent[key]


class Deep:
    """A marker for an array nested `depth` deep, written by encode() as text (json.dumps
    would recurse)."""

    def __init__(self, depth):
        self.depth = depth

    def __repr__(self):
        return "Deep(%d)" % self.depth


def _deep_marker(depth):
    return "@@DEEP:%d@@" % depth


def _paths_of_type(t):
    return [p for p in SCHEMA_PATHS if t in types_of(resolve(schema_at(p)))]


INT_PATHS = _paths_of_type("integer")
STR_PATHS = _paths_of_type("string")
NULLABLE_PATHS = _paths_of_type("null")


@st.composite
def _set_schema_path(draw, cfg, paths=SCHEMA_PATHS, value=None):
    """Generate a (mostly valid) value for a random schema path and put it there,
    making the parents exist (generated from the schema when missing). `value`: a
    strategy for the value itself instead of the schema's."""
    path = draw(st.sampled_from(paths))
    node = cfg
    for i, key in enumerate(path):
        last = i == len(path) - 1
        prefix = path[:i + 1]
        if key == "[]":
            if not isinstance(node, list):
                return cfg
            if not node or last or draw(st.integers(0, 3)) == 0:
                item = draw(value if last and value is not None else strategy_for(prefix))
                if node and draw(st.booleans()):
                    idx = draw(st.integers(0, len(node) - 1))
                    node[idx] = item
                else:
                    node.append(item)
                    idx = len(node) - 1
            else:
                idx = draw(st.integers(0, len(node) - 1))
            if last:
                return cfg
            nxt = node[idx]
            if not isinstance(nxt, (dict, list)):
                node[idx] = nxt = draw(strategy_for(prefix))
            node = nxt
            continue
        if not isinstance(node, dict):
            return cfg
        if key == "*":
            existing = list(node)
            if existing and draw(st.booleans()):
                k = draw(st.sampled_from(existing))
            else:
                names = schema_at(path[:i]).get("propertyNames", {}) if schema_at(path[:i]) else {}
                keys = hint_for(path[:i] + ("*key",))
                if "enum" in names:
                    keys = st.sampled_from(names["enum"])
                elif keys is None:
                    keys = WORD.map(lambda s: s or "k")
                k = draw(keys)
        else:
            k = key
        if last and value is not None:
            node[k] = draw(value)
            return cfg
        if last or not isinstance(node.get(k), (dict, list)):
            node[k] = draw(strategy_for(prefix))
            if last:
                return cfg
        node = node[k]
    return cfg


MUTATIONS = ["set_path"] * 10 + ["regen"] * 5 + ["wrong_type"] * 3 + ["null"] * 3 + ["delete"] * 3 + \
    ["delete_required"] * 2 + ["unknown_key"] * 2 + ["extreme_int"] * 4 + ["odd_string"] * 5 + \
    ["huge_array"] * 1 + ["deep"] * 1 + ["duplicate"] * 2 + ["shuffle"] * 1


VALID_MUTATIONS = ["set_path"] * 3 + ["regen"]


@st.composite
def mutate(draw, cfg, valid_only=False):
    cfg = clone(cfg)   # values drawn from sampled_from are shared: never change them in place
    kind = draw(st.sampled_from(VALID_MUTATIONS if valid_only else MUTATIONS))
    if kind == "set_path" or not isinstance(cfg, dict):
        return draw(_set_schema_path(cfg)) if isinstance(cfg, dict) else cfg
    locs = locations(cfg)
    if not locs:
        return cfg
    if kind == "delete_required":
        cands = []
        for loc, sp in [((), ())] + locs:
            v = get_at(cfg, loc)
            node = schema_at(sp) if sp is not None else None
            if isinstance(v, dict) and node:
                cands += [loc + (k,) for k in node.get("required", []) if k in v]
        if cands:
            delete_at(cfg, draw(st.sampled_from(cands)))
        return cfg
    if kind == "unknown_key":
        dicts = [loc for loc, _ in [((), ())] + locs if isinstance(get_at(cfg, loc), dict)]
        loc = draw(st.sampled_from(dicts))
        key = draw(st.sampled_from(["x-fuzz", "", "\x00", "linux", "process", "Process", "OCIVERSION", "type",
                                    "\ud800", "k" * 300]) | WORD)
        get_at(cfg, loc)[key] = draw(st.sampled_from(WRONG_TYPES).map(clone) | odd_string() | extreme_int())
        return cfg
    if kind in ("huge_array", "duplicate", "shuffle"):
        lists = [loc for loc, _ in locs if isinstance(get_at(cfg, loc), list)]
        if not lists:
            return cfg
        loc = draw(st.sampled_from(lists))
        lst = get_at(cfg, loc)
        if kind == "shuffle":
            if len(lst) > 1:
                perm = draw(st.permutations(range(len(lst))))
                set_at(cfg, loc, [lst[i] for i in perm])
        elif kind == "duplicate":
            if lst:
                lst.append(clone(lst[draw(st.integers(0, len(lst) - 1))]))
        else:
            n = draw(st.sampled_from([100, 1000, 5000]))
            item = lst[0] if lst else draw(st.sampled_from(["x", "/x", 1, {}]))
            set_at(cfg, loc, [clone(item) for _ in range(n)] if isinstance(item, (dict, list))
                   else [item] * n)
        return cfg
    # the value-changing mutations: half at a schema path of the right type (parents made),
    # half at an existing node (of the right type when there is one)
    targeted = {"extreme_int": (INT_PATHS, extreme_int(), lambda v: isinstance(v, int) and not isinstance(v, bool)),
                "odd_string": (STR_PATHS, odd_string(), lambda v: isinstance(v, str)),
                "null": (NULLABLE_PATHS, st.none(), lambda v: True),
                "wrong_type": (SCHEMA_PATHS, st.sampled_from(WRONG_TYPES).map(clone), lambda v: True)}
    if kind in targeted:
        paths, value, fits = targeted[kind]
        if draw(st.booleans()):
            return draw(_set_schema_path(cfg, paths, value))
        fitting = [x for x in locs if fits(get_at(cfg, x[0]))]
        if fitting:
            locs = fitting
    loc, spath = draw(st.sampled_from(locs))
    cur = get_at(cfg, loc)
    if kind == "delete":
        delete_at(cfg, loc)
    elif kind == "regen":
        set_at(cfg, loc, draw(strategy_for(spath)) if spath is not None else draw(odd_string()))
    elif kind == "null":
        set_at(cfg, loc, None)
    elif kind == "wrong_type":
        choices = [w for w in WRONG_TYPES if type(w) is not type(cur)]
        set_at(cfg, loc, clone(draw(st.sampled_from(choices))))
    elif kind == "extreme_int":
        set_at(cfg, loc, draw(extreme_int()))
    elif kind == "odd_string":
        if isinstance(cur, str) and draw(st.booleans()):
            # a plausible value with something nasty spliced in: it passes more checks
            i = draw(st.integers(0, len(cur)))
            set_at(cfg, loc, cur[:i] + draw(st.sampled_from(NASTY)) + cur[i:])
        else:
            set_at(cfg, loc, draw(odd_string()))
    elif kind == "deep":
        set_at(cfg, loc, Deep(draw(st.sampled_from([50, 500, 5000, 100000]))))
    return cfg


@st.composite
def configs(draw, base, valid_only=False):
    """The base config with 0-6 mutations (biased towards few); `valid_only`: only
    schema-generated values (with the hints), 1-8 of them, to dig into the shim."""
    cfg = clone(base)
    n = draw(st.integers(1, 8) if valid_only else st.integers(0, 6))
    for _ in range(n):
        cfg = draw(mutate(cfg, valid_only))
    return cfg


# ---- reporting ----

def diff(base, doc, path=""):
    """The changes from the base config, one line each (values cut at 300 characters)."""
    out = []
    if isinstance(base, dict) and isinstance(doc, dict):
        for k in list(base) + [k for k in doc if k not in base]:
            p = "%s.%s" % (path, k) if path else k
            if k not in doc:
                out.append("- %s" % p)
            elif k not in base:
                out.append("+ %s = %s" % (p, short(doc[k])))
            else:
                out += diff(base[k], doc[k], p)
    elif isinstance(base, list) and isinstance(doc, list) and len(base) == len(doc):
        for i, (a, b) in enumerate(zip(base, doc)):
            out += diff(a, b, "%s[%d]" % (path, i))
    elif base != doc or type(base) is not type(doc):
        out.append("~ %s = %s" % (path or "(document)", short(doc)))
    return out


def short(v):
    """A value as JSON, cut at 300 characters."""
    text = json.dumps(v, default=repr) if not isinstance(v, Deep) else repr(v)
    return text if len(text) <= 300 else text[:300] + "... (%d characters)" % len(text)


# ---- bytes ----

BYTE_MUTATIONS = ["truncate", "flip", "insert", "trailing", "nan", "bigexp", "bom", "not_object", "dupkey",
                  "leading_ws", "invalid_utf8"]


@st.composite
def encodings(draw, plain_only=False):
    """How to write the document: ("json",), ("utf8",) or ("bytes", mutation, pos, byte)."""
    if plain_only:
        return ("json",)
    kind = draw(weighted((14, st.just("json")), (3, st.just("utf8")), (3, st.just("bytes"))))
    if kind != "bytes":
        return (kind,)
    return ("bytes", draw(st.sampled_from(BYTE_MUTATIONS)), draw(st.integers(0, 1 << 30)),
            draw(st.integers(0, 255)))


def _replace_deep(value):
    if isinstance(value, Deep):
        return _deep_marker(value.depth)
    if isinstance(value, dict):
        return {k: _replace_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_deep(v) for v in value]
    return value


def _fill_deep(text):
    return re.sub(r'"@@DEEP:(\d+)@@"', lambda m: "[" * int(m.group(1)) + "]" * int(m.group(1)), text)


def encode(cfg, how):
    """The document as config.json bytes."""
    plain = _replace_deep(cfg)
    if how[0] == "utf8":
        text = json.dumps(plain, ensure_ascii=False)
        return _fill_deep(text).encode("utf-8", "surrogatepass")
    data = _fill_deep(json.dumps(plain)).encode()
    if how[0] == "json":
        return data
    _, mut, pos, byte = how
    pos = pos % (len(data) + 1)
    if mut == "truncate":
        return data[:pos]
    if mut == "flip":
        return data[:pos] + bytes([byte]) + data[pos + 1:]
    if mut == "insert":
        return data[:pos] + bytes([byte]) + data[pos:]
    if mut == "trailing":
        return data + b" " + bytes([byte])
    if mut == "nan":
        return data.replace(b"1024", b"NaN", 1) if b"1024" in data else data[:-1] + b',"n":NaN}'
    if mut == "bigexp":
        return data.replace(b"1024", b"1e400", 1) if b"1024" in data else data[:-1] + b',"n":-1e400}'
    if mut == "bom":
        return b"\xef\xbb\xbf" + data
    if mut == "not_object":
        return [b"[]", b"null", b'"x"', b"1", b"true", b"[" + data + b"]", b"", b" \n\t"][byte % 8]
    if mut == "dupkey":
        return b'{"ociVersion":1,' + data[1:] if data.startswith(b"{") else data
    if mut == "leading_ws":
        return b" \r\n\t" + data + b"\n\n"
    if mut == "invalid_utf8":
        return data[:pos] + [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf"][byte % 5] + \
            data[pos:]
    return data


# ---- making a case safe for this host ----

# file systems whose mount would reach the host's disks or other shared state
_SAFE_FS = {"proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "ramfs", "bind", "none", ""}
_CGROUP2_FLAGS = {"nsdelegate", "memory_localevents", "memory_recursiveprot", "memory_hugetlb_accounting",
                  "favordynmods"}
_IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
                "kernel.shmmni", "kernel.shm_rmid_forced"}
SAFE_ARGV0 = {"/probe", "/bin/true", "/bin/false", "true", "false", "probe", "/nonexistent", "", "/", "/bin",
              "/etc/passwd", "./probe", "/dev/null"}
SAFE_PROBE_VERBS = {"exit", "sleep", "report", "read", "nosuchverb"}
SAFE_HOOK_PATHS = {"/bin/true", "/bin/false", "/nonexistent/hook", "/tmp", "/dev/null", "/bin/sleep"}
SAFE_HOOK_ARGV0 = {"true", "false", "/bin/true", "/bin/false"}
SAFE_NS_PATHS = {"/", "/dev/null", "/tmp"}


def _host_filesystems():
    try:
        with open("/proc/filesystems") as f:
            return {line.split()[-1] for line in f if line.strip()}
    except OSError:
        return set()


HOST_FS = _host_filesystems()


def _exists(path):
    try:
        return os.path.lexists(path)
    except (ValueError, TypeError):
        return False


def _within(path, top):
    try:
        real = os.path.realpath(path)
    except (ValueError, TypeError, OSError):
        return False
    top = top.rstrip("/")
    return real == top or real.startswith(top + "/")


def _fill(value, subst):
    if isinstance(value, str):
        for k, v in subst.items():
            if k in value:
                value = value.replace(k, v)
        return value
    if isinstance(value, dict):
        return {_fill(k, subst): _fill(v, subst) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, subst) for v in value]
    return value


class Context:
    """Where a case runs: the cid, the shared rootfs, the sandbox (the only host tree a
    case may bind or use as root) and the bundle (inside the sandbox)."""

    def __init__(self, cid, rootfs, sandbox, bundle):
        self.cid = cid
        self.rootfs = str(rootfs)
        self.sandbox = str(sandbox)
        self.bundle = str(bundle)

    def subst(self):
        return {CID: self.cid, ROOTFS: self.rootfs, SANDBOX: self.sandbox, BUNDLE: self.bundle}


def _safe_host_path(p, ctx, allowed=()):
    """A path the runtime may open on the host: inside the sandbox, missing, or allowed."""
    if not isinstance(p, str):
        return True
    if p in allowed:
        return True
    full = p if p.startswith("/") else ctx.bundle + "/" + p
    if "\x00" in full:
        return True  # cannot be opened at all
    if not _exists(full) and ".." not in full.split("/"):
        return True
    return _within(full, ctx.sandbox)


def _dict(v):
    return v if isinstance(v, dict) else {}


def _list(v):
    return v if isinstance(v, list) else []


def _safe_argv0(a, allowed):
    if not isinstance(a, str) or a in allowed:
        return a
    return "/\u2603nonexec/" + "/".join(p for p in a.split("/") if p not in ("..", "."))


def _safe_cgroups_path(p, cid):
    if not isinstance(p, str) or p == "":
        return True
    parts = p.split("/")
    if ".." in parts:
        return True                      # refused by the runtime
    real = [x for x in parts if x not in ("", ".")]
    if not real:
        return True                      # the root: refused
    return cid in real[0]


def sanitize(cfg, ctx):
    """Fill placeholders and keep the case from touching the host outside the sandbox.

    - root.path and bind sources: inside the sandbox, or missing (else the shared rootfs /
      the sandbox's dir): a case must never make a host directory its rootfs or bind it
      somewhere the runtime then creates mount points, devices or a cwd;
    - mount types: only in-memory file systems (or names the host does not know), no
      "remount" without bind (MS_REMOUNT on a sysfs, cgroup or host-bind mount point
      reconfigures the host's superblock), no cgroup2 root flags;
    - namespace paths, hook binaries, seccomp listenerPath: missing or harmless (no
      joining the host's namespaces, no host binaries with arbitrary arguments);
    - process.args and hook args[0]: /probe with harmless verbs, or names that cannot
      resolve (busybox picks the applet by argv[0]: "rm" must never run);
    - cgroupsPath: the first component holds the cid, or the runtime must refuse it;
    - sysctls that would be written in a host namespace only under names the host lacks;
    - netDevices: never a host interface.
    """
    cfg = _fill(cfg, ctx.subst())
    if not isinstance(cfg, dict):
        return cfg
    root = cfg.get("root")
    if isinstance(root, dict) and not _safe_host_path(root.get("path"), ctx):
        root["path"] = ctx.rootfs
    proc = cfg.get("process")
    if isinstance(proc, dict):
        args = proc.get("args")
        if isinstance(args, list) and args:
            args[0] = _safe_argv0(args[0], SAFE_ARGV0)
            if args[0] in ("/probe", "./probe", "probe") and len(args) > 1 and \
                    not (isinstance(args[1], str) and args[1] in SAFE_PROBE_VERBS):
                args[1] = "nosuchverb"
    for kind, hooks in _dict(cfg.get("hooks")).items():
        for h in _list(hooks):
            if not isinstance(h, dict):
                continue
            p = h.get("path")
            if isinstance(p, str) and p not in SAFE_HOOK_PATHS:
                h["path"] = _safe_argv0(p, ()) if p.startswith("/") else p
            if h.get("path") == "/bin/sleep":
                h["args"], h["timeout"] = ["sleep", "3"], 1
            args = h.get("args")
            if isinstance(args, list) and args:
                if isinstance(args[0], str) and args[0] not in SAFE_HOOK_ARGV0:
                    args[0] = "x-nonapplet-" + args[0].replace("/", "_")
    linux = _dict(cfg.get("linux"))
    new_ns = {n.get("type") for n in _list(linux.get("namespaces"))
              if isinstance(n, dict) and isinstance(n.get("type"), str) and not n.get("path")}
    for m in _list(cfg.get("mounts")):
        if not isinstance(m, dict):
            continue
        mtype = m.get("type")
        if isinstance(mtype, str) and mtype in HOST_FS and mtype not in _SAFE_FS and \
                not (mtype == "cgroup2" and "cgroup" in new_ns):
            m["type"] = "tmpfs"
        opts = m.get("options")
        is_bind = m.get("type") == "bind" or (isinstance(opts, list) and any(o in ("bind", "rbind") for o in opts))
        if isinstance(opts, list):
            m["options"] = [o for o in opts if not (o == "remount" and not is_bind) and
                            not (isinstance(o, str) and o.split("=")[0] in _CGROUP2_FLAGS)]
        if not _safe_host_path(m.get("source"), ctx, allowed=("/dev/null",)):
            m["source"] = ctx.sandbox + "/dir"
    for n in _list(linux.get("namespaces")):
        if isinstance(n, dict) and isinstance(n.get("path"), str) and n["path"] not in SAFE_NS_PATHS and \
                not _safe_host_path(n["path"], ctx):
            n["path"] = "/nonexistent/ns"
    if "cgroupsPath" in linux and not _safe_cgroups_path(linux["cgroupsPath"], ctx.cid):
        linux["cgroupsPath"] = ctx.cid + "-x"
    seccomp = linux.get("seccomp")
    if isinstance(seccomp, dict) and not _safe_host_path(seccomp.get("listenerPath"), ctx):
        seccomp["listenerPath"] = "/nonexistent/seccomp.sock"
    sysctl = linux.get("sysctl")
    if isinstance(sysctl, dict):
        for k in list(sysctl):
            if not isinstance(k, str):
                continue
            if k in _IPC_SYSCTLS or k.startswith("fs.mqueue."):
                ns = "ipc"
            elif k.startswith("net."):
                ns = "network"
            elif k in ("kernel.hostname", "kernel.domainname"):
                ns = "uts"
            else:
                ns = None
            path = posixpath.normpath("/proc/sys/" + k.replace(".", "/").replace("\x00", ""))
            risky = ns not in new_ns or "/" in k or ".." in k.split(".")
            if risky and (_exists(path) or not path.startswith("/proc/sys/")):
                del sysctl[k]
    unified = _dict(_dict(linux.get("resources")).get("unified"))
    for k in list(unified):
        if isinstance(k, str) and k.strip() in ("cgroup.procs", "cgroup.threads", "cgroup.subtree_control",
                                                "cgroup.type"):
            del unified[k]
    devs = linux.get("netDevices")
    if isinstance(devs, dict):
        for k in list(devs):
            if isinstance(k, str) and (not k or "/" in k or _exists("/sys/class/net/" + k.replace("\x00", ""))):
                del devs[k]
    return cfg
