"""linux.seccomp without containers (no root): the OCI object read as runc reads it
(pyrunc.seccomp.profile), the BPF cache under --root (pyrunc.seccomp.cache), the program
pyseccomp compiles (pyrunc.seccomp.compile, loaded here into a throwaway child with
no_new_privs to see that it does what the profile says), and invalid profiles refused by
`pyrunc validate` with their JSON path."""
import copy
import errno
import json
import os
import subprocess
import sys

import pytest

from pyrunc.errors import ConfigError
from pyrunc.seccomp import cache, profile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
INVALID = os.path.join(REPO, "config-samples", "invalid")
VALID = os.path.join(REPO, "config-samples", "valid")
PYRUNC = os.environ.get("PYRUNC", "/opt/pyrunc/bin/pyrunc")


def rules_of(**seccomp):
    seccomp.setdefault("defaultAction", "SCMP_ACT_ALLOW")
    return profile.rules_of(seccomp)


def rule(names, action, **kw):
    return {"names": [names] if isinstance(names, str) else list(names), "action": action, **kw}


def arg(index, op, value, value_two=None):
    a = {"index": index, "value": value, "op": op}
    if value_two is not None:
        a["valueTwo"] = value_two
    return a


def keys(p):
    return [r.key() for r in p.rules]


# ---- profile -> rules ----

def test_kill_is_kill_thread():
    p = rules_of(defaultAction="SCMP_ACT_KILL", syscalls=[rule("read", "SCMP_ACT_ALLOW"),
                                                          rule("mount", "SCMP_ACT_KILL_PROCESS")])
    assert p.default == ("SCMP_ACT_KILL_THREAD", 0)
    p = rules_of(syscalls=[rule("mount", "SCMP_ACT_KILL")])
    assert keys(p) == [("mount", ("SCMP_ACT_KILL_THREAD", 0), ())]


@pytest.mark.parametrize("action", ["SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"])
def test_errno_ret_default_is_eperm(action):
    p = rules_of(syscalls=[rule("mount", action), rule("umount2", action, errnoRet=38),
                           rule("chroot", action, errnoRet=0)])
    assert keys(p) == [("mount", (action, errno.EPERM), ()), ("umount2", (action, 38), ()),
                       ("chroot", (action, 0), ())]


@pytest.mark.parametrize("action", ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRAP", "SCMP_ACT_KILL_PROCESS",
                                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_NOTIFY"])
def test_other_actions_carry_no_errno(action):
    p = rules_of(defaultAction="SCMP_ACT_ERRNO", listenerPath="/x", syscalls=[rule("read", action)])
    assert keys(p) == [("read", (action, 0), ())]


def test_default_errno_ret():
    assert rules_of(defaultAction="SCMP_ACT_ERRNO").default == ("SCMP_ACT_ERRNO", errno.EPERM)
    assert rules_of(defaultAction="SCMP_ACT_ERRNO", defaultErrnoRet=38).default == ("SCMP_ACT_ERRNO", 38)
    assert rules_of(defaultAction="SCMP_ACT_TRACE", defaultErrnoRet=5).default == ("SCMP_ACT_TRACE", 5)
    # errnoRet of a rule is not the default's
    p = rules_of(defaultAction="SCMP_ACT_ERRNO", defaultErrnoRet=38, syscalls=[rule("mount", "SCMP_ACT_ERRNO")])
    assert keys(p) == [("mount", ("SCMP_ACT_ERRNO", errno.EPERM), ())]


def test_rules_equal_to_default_are_dropped():
    p = rules_of(defaultAction="SCMP_ACT_ERRNO", syscalls=[
        rule("a", "SCMP_ACT_ERRNO"),                    # EPERM == default EPERM: dropped
        rule("b", "SCMP_ACT_ERRNO", errnoRet=1),        # same
        rule("c", "SCMP_ACT_ERRNO", errnoRet=38),       # kept
        rule("d", "SCMP_ACT_ALLOW"),                    # kept
    ])
    assert [r.syscall for r in p.rules] == ["c", "d"]
    p = rules_of(defaultAction="SCMP_ACT_ERRNO", defaultErrnoRet=38, syscalls=[
        rule("a", "SCMP_ACT_ERRNO", errnoRet=38), rule("b", "SCMP_ACT_ERRNO")])
    assert [r.syscall for r in p.rules] == ["b"]
    p = rules_of(defaultAction="SCMP_ACT_KILL", syscalls=[rule("a", "SCMP_ACT_KILL_THREAD"),
                                                          rule("b", "SCMP_ACT_KILL")])
    assert p.rules == []
    p = rules_of(syscalls=[rule("a", "SCMP_ACT_ALLOW", args=[arg(0, "SCMP_CMP_EQ", 1)]),
                           rule("b", "SCMP_ACT_LOG")])
    assert [r.syscall for r in p.rules] == ["b"]


def test_args_on_distinct_indexes_are_one_rule():
    a = [arg(0, "SCMP_CMP_LE", 7), arg(1, "SCMP_CMP_GE", 0), arg(2, "SCMP_CMP_MASKED_EQ", 0xff, 8)]
    p = rules_of(syscalls=[rule(["setrlimit", "prlimit64"], "SCMP_ACT_ERRNO", args=a)])
    want_args = ((0, "SCMP_CMP_LE", 7, 0), (1, "SCMP_CMP_GE", 0, 0), (2, "SCMP_CMP_MASKED_EQ", 0xff, 8))
    assert keys(p) == [("setrlimit", ("SCMP_ACT_ERRNO", 1), want_args),
                       ("prlimit64", ("SCMP_ACT_ERRNO", 1), want_args)]


def test_repeated_index_splits_into_rules():
    a = [arg(1, "SCMP_CMP_LT", 128), arg(1, "SCMP_CMP_GT", 0), arg(0, "SCMP_CMP_EQ", 3)]
    p = rules_of(syscalls=[rule(["x", "y"], "SCMP_ACT_ERRNO", errnoRet=22, args=a)])
    act = ("SCMP_ACT_ERRNO", 22)
    assert keys(p) == [(n, act, (one,)) for n in ("x", "y") for one in
                       ((1, "SCMP_CMP_LT", 128, 0), (1, "SCMP_CMP_GT", 0, 0), (0, "SCMP_CMP_EQ", 3, 0))]


def test_rule_order_and_unknown_names_kept():
    p = rules_of(syscalls=[rule(["nosuchcall", "mount"], "SCMP_ACT_ERRNO"), rule("chroot", "SCMP_ACT_LOG")])
    assert [r.syscall for r in p.rules] == ["nosuchcall", "mount", "chroot"]


@pytest.mark.parametrize("flags, bits", [
    ([], 0), (["SECCOMP_FILTER_FLAG_TSYNC"], 1), (["SECCOMP_FILTER_FLAG_LOG"], 2),
    (["SECCOMP_FILTER_FLAG_SPEC_ALLOW"], 4), (["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"], 32),
    (["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"], 7),
])
def test_flags_bits(flags, bits):
    notify = [rule("mount", "SCMP_ACT_NOTIFY")] if bits & 32 else []
    assert rules_of(flags=flags, syscalls=notify).flags == bits


def test_wait_killable_recv_needs_a_notify_rule():
    with pytest.raises(ConfigError) as e:
        rules_of(flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"], syscalls=[rule("mount", "SCMP_ACT_ERRNO")])
    assert e.value.path == "linux.seccomp.flags"


def test_notify_and_listener():
    p = rules_of(syscalls=[rule("mount", "SCMP_ACT_NOTIFY")], listenerPath="/run/agent.sock",
                 listenerMetadata="meta")
    assert p.notify and p.listener_path == "/run/agent.sock" and p.listener_metadata == "meta"
    assert not rules_of(syscalls=[rule("mount", "SCMP_ACT_ERRNO")]).notify


@pytest.mark.parametrize("kw, where, what", [
    (dict(defaultAction="SCMP_ACT_NOTIFY"), "linux.seccomp.defaultAction", "cannot be used as default action"),
    (dict(syscalls=[rule("mount", "SCMP_ACT_ERRNO"), rule("write", "SCMP_ACT_NOTIFY")]),
     "linux.seccomp.syscalls[1]", "cannot be used for the write syscall"),
    (dict(syscalls=[rule("sendmsg", "SCMP_ACT_NOTIFY")]), "linux.seccomp.syscalls[0]",
     "cannot be used for the sendmsg syscall"),
])
def test_notify_where_the_init_would_wait_for_itself(kw, where, what):
    """The init sends the listener after loading the filter: NOTIFY on what it calls then
    (every syscall as the default, write, sendmsg) would hang create; refused as runc does."""
    with pytest.raises(ConfigError) as e:
        rules_of(listenerPath="/run/agent.sock", **kw)
    assert e.value.path == where and what in e.value.reason


def test_architectures_kept():
    p = rules_of(architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    assert p.arches == ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32")


def test_valid_sample_reads():
    with open(os.path.join(VALID, "seccomp-profile.json")) as f:
        obj = json.load(f)["linux"]["seccomp"]
    p = profile.rules_of(obj)
    assert p.default == ("SCMP_ACT_ERRNO", 1)
    assert p.flags == 4 | 2 and p.notify
    pers = [r for r in p.rules if r.syscall == "personality"]
    assert [r.args for r in pers] == [((0, "SCMP_CMP_EQ", 0, 0),), ((0, "SCMP_CMP_EQ", 4294967295, 0),)]
    # ERRNO with errnoRet 1 equals the default ERRNO(EPERM): dropped; 38 is not
    assert "ptrace" not in [r.syscall for r in p.rules]
    assert ("clone3", ("SCMP_ACT_ERRNO", 38), ()) in keys(p)


# ---- compile ----

def compile_obj(obj):
    from pyrunc.seccomp import compile as comp
    return comp.compile_profile(profile.rules_of(obj))


BASE = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule("getcwd", "SCMP_ACT_ERRNO", errnoRet=38)]}


def test_compile_is_sock_filters_and_follows_the_profile():
    a = compile_obj(BASE)
    assert a and len(a) % 8 == 0
    assert compile_obj(copy.deepcopy(BASE)) == a
    other = copy.deepcopy(BASE)
    other["syscalls"][0]["errnoRet"] = 95
    b = compile_obj(other)
    assert len(b) % 8 == 0 and b != a
    c = compile_obj({**BASE, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]})
    assert len(c) % 8 == 0 and c != a
    d = compile_obj({**BASE, "syscalls": BASE["syscalls"] + [rule("personality", "SCMP_ACT_ERRNO",
                                                                 args=[arg(0, "SCMP_CMP_NE", 0xffffffff)])]})
    assert len(d) % 8 == 0 and len(d) > len(a)


def test_compile_skips_unknown_syscall_names():
    with_unknown = {**BASE, "syscalls": BASE["syscalls"] + [rule("no_such_syscall_xyz", "SCMP_ACT_KILL")]}
    assert compile_obj(with_unknown) == compile_obj(BASE)


# A child that loads the program (no_new_privs: no privilege needed) and reports what a few
# syscalls return: [getcwd, personality(0xffffffff), personality(0), chdir("/")], errno or "ok".
LOADER = r"""
import ctypes, json, os, sys
data = open(sys.argv[1], "rb").read()
libc = ctypes.CDLL(None, use_errno=True)
class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
buf = ctypes.create_string_buffer(data, len(data))
prog = Prog(len(data) // 8, ctypes.cast(buf, ctypes.c_void_p))
if libc.prctl(38, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
    sys.exit("PR_SET_NO_NEW_PRIVS failed")
if libc.prctl(22, ctypes.c_ulong(2), ctypes.byref(prog), ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
    sys.exit("PR_SET_SECCOMP failed: %d" % ctypes.get_errno())
out = []
def call(nr, *a):
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_ulong(x) for x in a])
    out.append("ok" if r >= 0 else ctypes.get_errno())
b = ctypes.create_string_buffer(4096)
r = libc.syscall(ctypes.c_long(int(sys.argv[2])), b, ctypes.c_ulong(4096))
out.append("ok" if r >= 0 else ctypes.get_errno())
call(int(sys.argv[3]), 0xffffffff)
call(int(sys.argv[3]), 0)
r = libc.syscall(ctypes.c_long(int(sys.argv[4])), ctypes.c_char_p(b"/"))
out.append("ok" if r >= 0 else ctypes.get_errno())
print(json.dumps(out))
"""


def run_loaded(tmp_path, obj):
    import pyseccomp as sc
    nr = {n: sc.resolve_syscall(sc.Arch.NATIVE, n) for n in ("getcwd", "personality", "chdir")}
    prog = tmp_path / "prog.bpf"
    prog.write_bytes(compile_obj(obj))
    r = subprocess.run([sys.executable, "-c", LOADER, str(prog), str(nr["getcwd"]), str(nr["personality"]),
                        str(nr["chdir"])], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_compiled_program_does_what_the_profile_says(tmp_path):
    obj = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        rule("getcwd", "SCMP_ACT_ERRNO", errnoRet=errno.ENOSYS),
        rule("personality", "SCMP_ACT_ERRNO", args=[arg(0, "SCMP_CMP_NE", 0xffffffff)]),
        rule("chdir", "SCMP_ACT_ERRNO", errnoRet=errno.ENOTBLK),
    ]}
    assert run_loaded(tmp_path, obj) == [errno.ENOSYS, "ok", errno.EPERM, errno.ENOTBLK]


def test_compiled_masked_eq_and_trace(tmp_path):
    obj = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        rule("personality", "SCMP_ACT_ERRNO", errnoRet=errno.EACCES,
             args=[arg(0, "SCMP_CMP_MASKED_EQ", 0xffff0000, 0)]),
        rule(["getcwd", "chdir"], "SCMP_ACT_TRACE"),      # no tracer: ENOSYS
    ]}
    assert run_loaded(tmp_path, obj) == [errno.ENOSYS, "ok", errno.EACCES, errno.ENOSYS]


# ---- cache ----

OBJ = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
       "architectures": ["SCMP_ARCH_X86_64"],
       "syscalls": [rule(["read", "write", "exit_group"], "SCMP_ACT_ALLOW"),
                    rule("personality", "SCMP_ACT_ALLOW", args=[arg(0, "SCMP_CMP_EQ", 0xffffffff)])]}


def reversed_keys(v):
    if isinstance(v, dict):
        return {k: reversed_keys(v[k]) for k in reversed(list(v))}
    if isinstance(v, list):
        return [reversed_keys(x) for x in v]
    return v


def test_digest_stable_and_distinct():
    d = cache.digest(OBJ)
    assert len(d) == 64 and int(d, 16) >= 0
    assert cache.digest(copy.deepcopy(OBJ)) == d
    rev = reversed_keys(OBJ)
    assert list(rev) != list(OBJ)
    assert cache.digest(rev) == d
    assert cache.digest(json.loads(json.dumps(OBJ, indent=3))) == d
    changed = []
    for edit in (lambda o: o.update(defaultErrnoRet=1),
                 lambda o: o["syscalls"][1]["args"][0].update(value=0),
                 lambda o: o["syscalls"][0]["names"].reverse(),       # order of names matters
                 lambda o: o.update(listenerMetadata="x"),
                 lambda o: o.update(architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])):
        o = copy.deepcopy(OBJ)
        edit(o)
        changed.append(cache.digest(o))
    assert d not in changed and len(set(changed)) == len(changed)


def test_miss_then_hit(tmp_path):
    root = str(tmp_path / "root")
    os.mkdir(root)
    prof = profile.rules_of(OBJ)
    data, hit = cache.load(root, OBJ, prof)
    assert not hit and data and len(data) % 8 == 0
    path = os.path.join(root, ".seccomp", cache.digest(OBJ) + ".bpf")
    assert os.listdir(os.path.join(root, ".seccomp")) == [os.path.basename(path)]
    assert open(path, "rb").read() == data
    assert os.stat(os.path.join(root, ".seccomp")).st_mode & 0o777 == 0o700
    again, hit = cache.load(root, reversed_keys(OBJ), profile.rules_of(OBJ))
    assert hit and again == data
    other = {**OBJ, "defaultErrnoRet": 1}
    data2, hit = cache.load(root, other, profile.rules_of(other))
    assert not hit and data2 != data
    assert sorted(os.listdir(os.path.join(root, ".seccomp"))) == \
        sorted([cache.digest(OBJ) + ".bpf", cache.digest(other) + ".bpf"])


@pytest.mark.parametrize("content", [b"", b"1234567"], ids=["empty", "torn"])
def test_bad_cache_file_recompiled(tmp_path, content):
    root = str(tmp_path)
    good, _ = cache.load(root, OBJ, profile.rules_of(OBJ))
    path = os.path.join(root, ".seccomp", cache.digest(OBJ) + ".bpf")
    with open(path, "wb") as f:
        f.write(content)
    data, hit = cache.load(root, OBJ, profile.rules_of(OBJ))
    assert not hit and data == good
    assert open(path, "rb").read() == good
    assert os.listdir(os.path.join(root, ".seccomp")) == [os.path.basename(path)]


def test_unwritable_root_still_compiles(tmp_path):
    root = str(tmp_path / "file-not-dir")
    open(root, "w").close()
    data, hit = cache.load(root, OBJ, profile.rules_of(OBJ))
    assert not hit and data and len(data) % 8 == 0


PROBE_IMPORTS = r"""
import json, sys
from pyrunc.errors import ConfigError
from pyrunc.seccomp import cache, profile
obj = json.loads(sys.argv[2])
data, hit = cache.load(sys.argv[1], obj, profile.rules_of(obj))
print(json.dumps({"hit": hit, "len": len(data), "pyseccomp": "pyseccomp" in sys.modules,
                  "compile": "pyrunc.seccomp.compile" in sys.modules}))
"""


def load_in_child(root):
    r = subprocess.run([sys.executable, "-c", PROBE_IMPORTS, root, json.dumps(OBJ)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_hit_does_not_import_pyseccomp(tmp_path):
    root = str(tmp_path)
    miss = load_in_child(root)
    assert miss["hit"] is False and miss["pyseccomp"] and miss["compile"], miss
    hit = load_in_child(root)
    assert hit == {"hit": True, "len": miss["len"], "pyseccomp": False, "compile": False}, hit


# ---- invalid profiles: `pyrunc validate` ----

INVALID_SECCOMP = sorted(f[:-5] for f in os.listdir(INVALID) if f.startswith("seccomp-") and f.endswith(".json"))


def test_invalid_samples_present():
    assert {"seccomp-arch-unknown", "seccomp-op-unknown", "seccomp-default-action-unknown"} <= set(INVALID_SECCOMP)


def validate(tmp_path, cfg):
    b = tmp_path / "bundle"
    b.mkdir(exist_ok=True)
    (b / "config.json").write_text(json.dumps(cfg))
    return subprocess.run([PYRUNC, "validate", "-b", str(b)], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", INVALID_SECCOMP)
def test_validate_refuses_invalid_sample(tmp_path, name):
    with open(os.path.join(INVALID, name + ".json")) as f:
        cfg = json.load(f)
    with open(os.path.join(INVALID, name + ".expect")) as f:
        expect = f.read().strip()
    r = validate(tmp_path, cfg)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "config.json: %s: " % expect in r.stdout, (r.stdout, r.stderr)


@pytest.mark.parametrize("where, bad, path", [
    ("defaultAction", "SCMP_ACT_KILL_ALL", "linux.seccomp.defaultAction"),
    ("action", "SCMP_ACT_ALOW", "linux.seccomp.syscalls[1].action"),
    ("op", "SCMP_CMP_NEQ", "linux.seccomp.syscalls[1].args[1].op"),
    ("arch", "SCMP_ARCH_VAX", "linux.seccomp.architectures[2]"),
])
def test_validate_refuses_unknown_names(tmp_path, where, bad, path):
    with open(os.path.join(VALID, "runc-spec.json")) as f:
        cfg = json.load(f)
    sec = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
           "syscalls": [rule("read", "SCMP_ACT_ALLOW"),
                        rule("personality", "SCMP_ACT_ERRNO", args=[arg(0, "SCMP_CMP_EQ", 8),
                                                                    arg(0, "SCMP_CMP_EQ", 9)])]}
    cfg["linux"]["seccomp"] = sec
    assert validate(tmp_path, cfg).returncode == 0
    if where == "defaultAction":
        sec["defaultAction"] = bad
    elif where == "action":
        sec["syscalls"][1]["action"] = bad
    elif where == "op":
        sec["syscalls"][1]["args"][1]["op"] = bad
    else:
        sec["architectures"][2] = bad
    r = validate(tmp_path, cfg)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert 'config.json: %s: unknown value "%s"' % (path, bad) in r.stdout, r.stdout


def test_validate_accepts_valid_seccomp_sample(tmp_path):
    with open(os.path.join(VALID, "seccomp-profile.json")) as f:
        cfg = json.load(f)
    r = validate(tmp_path, cfg)
    assert r.returncode == 0, (r.stdout, r.stderr)


@pytest.mark.parametrize("kw, where", [
    (dict(defaultAction="SCMP_ACT_ERRNO", defaultErrnoRet=4096), "linux.seccomp.defaultErrnoRet"),
    (dict(syscalls=[rule("mount", "SCMP_ACT_ERRNO", errnoRet=65536)]), "linux.seccomp.syscalls[0].errnoRet"),
])
def test_errno_at_or_above_max_errno_refused(kw, where):
    """SECCOMP_RET_DATA keeps 16 bits and libseccomp takes errnos below 4095 only: a larger
    errnoRet is refused with its path (it was an internal error from libseccomp)."""
    with pytest.raises(ConfigError) as e:
        rules_of(**kw)
    assert e.value.path == where and "4095" in e.value.reason
    rules_of(defaultAction="SCMP_ACT_ERRNO", defaultErrnoRet=4094)
