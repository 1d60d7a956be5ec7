"""linux.seccomp through the `pyrunc` command, next to runc (Debian's 1.1.5, the reference).

Each test runs real containers and looks at what the process inside got back from its
syscalls: `/probe` (integration/probe/probe.c) for reports and a few named calls, and
`/sysc` (integration/tools/sysc.c, built here) for any raw syscall by number, several in
one process.  Covered: Debian's podman profile read at test time, every action (ERRNO
with errnoRet and defaultErrnoRet, KILL, KILL_THREAD, KILL_PROCESS, TRAP, TRACE, LOG,
ALLOW), argument filters (EQ, NE, MASKED_EQ, distinct indexes ANDed, a repeated index
ORed), a filter that blocks what the runtime itself needs (getcwd, chdir, set*id), the
filter without no_new_privs and the capability sets it must leave, the NOTIFY listener
(container process state and fd over SCM_RIGHTS, answers from a test agent), flags, the
BPF cache under --root, `features`, and invalid profiles refused at create.  Then, told apart
with the probe's `in-thread`, `trap`, `alarm` and `int80` verbs: KILL_THREAD from KILL_PROCESS
(a second thread makes the call), TRAP from KILL (a SIGSYS handler), the companion ABIs
(i386 through int $0x80, x32) against the architectures list and the bad-arch action,
SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (with and without a listener), and unknown syscall
names skipped with a debug line.
"""
import errno
import fcntl
import hashlib
import json
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

import harness

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SYSC_SRC = HERE / "tools" / "sysc.c"
PODMAN_PROFILE = Path("/usr/share/containers/seccomp.json")
INVALID = REPO / "config-samples" / "invalid"
SIGSYS_EXIT = 128 + 31
LOG_MSG = re.compile(r'^time="[^"]*" level=(\w+) msg="(.*)"$')

# syscall numbers of this machine, from libseccomp (the same table pyrunc compiles with)
import pyseccomp as _sc  # noqa: E402

NR = {name: _sc.resolve_syscall(_sc.Arch.NATIVE, name)
      for name in ("getcwd", "chdir", "mkdir", "close", "sysfs", "personality", "getpriority", "setresuid",
                   "setresgid", "setuid", "setgid", "setgroups", "setfsuid", "setfsgid", "getpid")}

# caps of the probe's default config (runc's spec); the sets the capability tests use
RUNC_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
NO_ADMIN_CAPS = ["CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL",
                 "CAP_NET_BIND_SERVICE", "CAP_SETGID", "CAP_SETUID"]


# ---- the sysc tool ----

_sysc = None


def build_sysc():
    """Compile tools/sysc.c (static) once per source version next to the probe's cache."""
    global _sysc
    if _sysc is not None and _sysc.exists():
        return _sysc
    src = SYSC_SRC.read_bytes()
    key = hashlib.sha256(src + " ".join(harness.CFLAGS).encode()).hexdigest()[:16]
    out = harness.CACHE_DIR / key / "sysc"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f"sysc.tmp.{os.getpid()}")
        r = subprocess.run(["gcc", *harness.CFLAGS, "-o", str(tmp), str(SYSC_SRC)],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise harness.HarnessError(f"compile {SYSC_SRC}: gcc exited {r.returncode}\n{r.stderr}")
        os.replace(tmp, out)
    _sysc = out
    return out


def sysc(*calls):
    """argv for /sysc running each call in turn: sysc(("getcwd", "buf", 4096), ("chdir", "s:/"))."""
    argv = ["/sysc"]
    for i, (name, *args) in enumerate(calls):
        if i:
            argv.append("--")
        argv += [str(NR[name]), *map(str, args)]
    return argv


GETCWD = ("getcwd", "buf", 4096)
SYSFS = ("sysfs", 3)        # the number of filesystem types: harmless, no privilege needed


# ---- fixtures ----

@pytest.fixture(scope="session")
def sysc_bin():
    return build_sysc()


@pytest.fixture(scope="session")
def podman_json():
    """Debian's podman profile (golang-github-containers-common), installed if missing."""
    if not PODMAN_PROFILE.exists():
        r = subprocess.run(["apt-get", "install", "-y", "golang-github-containers-common"],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0 or not PODMAN_PROFILE.exists():
            raise harness.HarnessError(f"need {PODMAN_PROFILE}: apt-get install "
                                       f"golang-github-containers-common: {r.stderr}")
    return json.loads(PODMAN_PROFILE.read_text())


@pytest.fixture
def mk(bundle_factory, sysc_bin):
    """mk(args, seccomp, **edits) -> a bundle factory (dirpath -> bundle) with /sysc in the rootfs."""
    def factory(args, seccomp=None, setup=None, **edits):
        if seccomp is not None:
            edits = harness.merge(edits, {"linux": {"seccomp": seccomp}})

        def make(dirpath=None):
            b = bundle_factory(dirpath, args, **edits)
            shutil.copy(sysc_bin, Path(b) / "rootfs" / "sysc")
            os.chmod(Path(b) / "rootfs" / "sysc", 0o755)
            if setup is not None:
                setup(Path(b) / "rootfs")
            return b
        return make
    return factory


@pytest.fixture(autouse=True)
def seccomp_cache(no_leaks):
    """pyrunc keeps compiled filters in <root>/.seccomp: a cache, not a container. Check that it
    holds only whole <sha256>.bpf programs and their .bpf.notes (the debug lines of the compile,
    replayed on a hit), no temp files; then remove it before the leak check."""
    yield
    bad = []
    for rt in list(harness.Runtime.registry):
        d = rt.root / ".seccomp"
        if not d.is_dir():
            continue
        if rt.name != "pyrunc":
            bad.append(f"{rt.name} has {d}")
        for f in d.iterdir():
            if f.name.endswith(".bpf.notes") and (d / f.name[:-len(".notes")]).is_file():
                continue
            if not re.fullmatch(r"[0-9a-f]{64}\.bpf", f.name) or f.stat().st_size % 8:
                bad.append(f"{f.name} ({f.stat().st_size} bytes)")
        shutil.rmtree(d)
    assert not bad, f"unexpected files in the seccomp cache: {bad}"


@pytest.fixture
def shortdir():
    """A short directory for unix sockets (sun_path is 108 bytes; tmp_path can be longer)."""
    d = tempfile.mkdtemp(prefix="pyrt-sc-", dir="/tmp")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


# ---- helpers ----

def lines(text):
    return [line for line in text.splitlines() if line.strip()]


def kinds(out):
    """sysc/probe result lines with the return value dropped: "ok 31" -> "ok"."""
    return ["ok" if o == "ok" or o.startswith("ok ") else o for o in out]


def one_error(result):
    """The runtime failed with exit 1 and one error line; return the message."""
    errs = lines(result.stderr)
    assert result.returncode == 1, f"exit {result.returncode}, stderr: {result.stderr!r}"
    assert len(errs) == 1, f"want one error line, got {errs!r}"
    m = LOG_MSG.match(errs[0])
    return m.group(2).replace('\\"', '"') if m else errs[0]


def containers(rt):
    """Container state dirs under the runtime's root (pyrunc's .seccomp cache is not one)."""
    return [c for c in rt.containers() if c != ".seccomp"]


def run(rt, make, tag="sc", timeout=harness.DEFAULT_TIMEOUT):
    """Foreground `run` of a fresh bundle; the container is deleted afterwards."""
    cid = harness.new_id(tag)
    bundle = make()
    try:
        return rt.run(cid, bundle, timeout=timeout)
    finally:
        if cid in rt.containers():
            rt.delete(cid, force=True)
        harness.reap()


def run_ok(rt, make, tag="sc"):
    r = run(rt, make, tag)
    assert r.returncode == 0, f"{rt.name} run: exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r


def allow_all(*rules, **extra):
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": list(rules), **extra}


def rule(names, action, **kw):
    return {"names": [names] if isinstance(names, str) else list(names), "action": action, **kw}


def arg(index, op, value, value_two=None):
    a = {"index": index, "value": value, "op": op}
    if value_two is not None:
        a["valueTwo"] = value_two
    return a


_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "s390x": "s390x", "ppc64le": "ppc64le"}
_SCMP_ARCH = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64", "s390x": "SCMP_ARCH_S390X",
              "ppc64le": "SCMP_ARCH_PPC64LE"}


def podman_to_oci(prof, bounding):
    """containers/common's profile format -> the OCI linux.seccomp object, for this machine and
    a container with `bounding` capabilities (what podman hands its runtime)."""
    machine = os.uname().machine
    native, goarch = _SCMP_ARCH[machine], _GOARCH[machine]
    kernel = tuple(int(x) for x in re.findall(r"\d+", os.uname().release)[:2])
    arches = [native]
    for m in prof.get("archMap") or ():
        if m["architecture"] == native:
            arches = [native, *m.get("subArchitectures", [])]
    out = {"defaultAction": prof["defaultAction"], "architectures": arches, "syscalls": []}
    if prof.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = prof["defaultErrnoRet"]
    caps = set(bounding)
    for s in prof["syscalls"]:
        inc, exc = s.get("includes") or {}, s.get("excludes") or {}
        if inc.get("arches") and goarch not in inc["arches"]:
            continue
        if inc.get("caps") and not set(inc["caps"]) <= caps:
            continue
        if inc.get("minKernel") and kernel < tuple(int(x) for x in inc["minKernel"].split(".")[:2]):
            continue
        if exc.get("arches") and goarch in exc["arches"]:
            continue
        if exc.get("caps") and set(exc["caps"]) & caps:
            continue
        r = {"names": s.get("names") or [s["name"]], "action": s["action"]}
        if s.get("args"):
            r["args"] = s["args"]
        if s.get("errnoRet") is not None:
            r["errnoRet"] = s["errnoRet"]
        out["syscalls"].append(r)
    return out


def allowlist(podman_json, default_errno=None, drop=(), add=()):
    """A default-deny profile: the names podman's profile allows without conditions on their
    arguments (for this machine, runc's default caps) minus `drop`, plus `add` rules."""
    conv = podman_to_oci(podman_json, RUNC_CAPS)
    names = [n for s in conv["syscalls"] if s["action"] == "SCMP_ACT_ALLOW" and not s.get("args")
             for n in s["names"] if n not in drop]
    prof = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": conv["architectures"],
            "syscalls": [rule(names, "SCMP_ACT_ALLOW"), *add]}
    if default_errno is not None:
        prof["defaultErrnoRet"] = default_errno
    return prof


def probe_caps(stdout):
    rep = harness.parse_report(stdout)
    return {k: rep.get(k) for k in ("CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb", "NoNewPrivs", "Seccomp")}


# ---- Debian's podman profile ----

@pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "no-nnp"])
def test_podman_profile_denies_and_shell_runs(runtime, mk, podman_json, nnp):
    """The podman profile (podman itself passes no_new_privs false): busybox sh runs; what the
    profile denies fails (sysfs: EPERM; a personality value off its list: ENOSYS, its
    defaultErrnoRet); the filter is in (Seccomp: 2).  The profile allows unshare, keyctl and
    mount and leaves them to the capabilities: without CAP_SYS_ADMIN unshare and mount get
    EPERM with or without it."""
    prof = podman_to_oci(podman_json, RUNC_CAPS)
    script = ("echo shell ok; {sysfs}; /probe syscall personality 0x40000; /probe syscall unshare; "
              "/probe syscall mount tmpfs /tmp tmpfs; /probe report caps").format(sysfs=" ".join(sysc(SYSFS)))
    edits = {"process": {"noNewPrivileges": nnp}}
    out = lines(run_ok(runtime, mk(["sh", "-c", script], prof, **edits)).stdout)
    assert out[:5] == ["shell ok", "EPERM", "ENOSYS", "EPERM", "EPERM"], out
    caps = probe_caps("\n".join(out[5:]))
    assert caps["Seccomp"] == "2" and caps["NoNewPrivs"] == ("1" if nnp else "0"), caps
    assert caps["CapEff"] == harness.cap_mask(RUNC_CAPS), caps
    # the same container without the profile: the denials above came from the filter
    out = lines(run_ok(runtime, mk(["sh", "-c", script], **edits)).stdout)
    assert kinds(out[:5]) == ["shell ok", "ok", "ok", "EPERM", "EPERM"], out
    assert probe_caps("\n".join(out[5:]))["Seccomp"] == "0", out


def test_podman_profile_same_as_runc(compare, mk, podman_json):
    """With the podman profile the probe sees the same ids, caps and process as under runc."""
    prof = podman_to_oci(podman_json, RUNC_CAPS)
    sbs = compare(mk(["/probe", "report", "ids", "caps", "proc"], prof))
    assert sbs.runc.returncode == 0, sbs.runc.stderr
    harness.assert_same(sbs)
    assert harness.parse_report(sbs.pyrunc.stdout)["Seccomp"] == "2"


# ---- actions ----

def test_errno_with_errno_ret(runtime, mk):
    """ERRNO returns errnoRet; without errnoRet, EPERM; other calls are untouched."""
    prof = allow_all(rule("getcwd", "SCMP_ACT_ERRNO", errnoRet=errno.ENOTSUP),
                     rule("chdir", "SCMP_ACT_ERRNO"),
                     rule("mkdir", "SCMP_ACT_ERRNO", errnoRet=errno.ENOSYS))
    r = run(runtime, mk(sysc(GETCWD, ("chdir", "s:/"), ("mkdir", "s:/tmp/x", 0o755), SYSFS), prof))
    out = lines(r.stdout)
    assert kinds(out) == ["EOPNOTSUPP", "EPERM", "ENOSYS", "ok"], (out, r.stderr)


@pytest.mark.parametrize("default_errno, expect", [(None, "EPERM"), (errno.ENOTSUP, "EOPNOTSUPP"),
                                                   (errno.ENOSYS, "ENOSYS")],
                         ids=["unset", "ENOTSUP", "ENOSYS"])
def test_default_errno_ret(runtime, mk, podman_json, default_errno, expect):
    """A default ERRNO returns defaultErrnoRet (EPERM without it) for what the allow list leaves out."""
    prof = allowlist(podman_json, default_errno, drop=("getcwd",))
    r = run(runtime, mk(sysc(GETCWD, SYSFS, ("chdir", "s:/")), prof))
    out = lines(r.stdout)
    assert out == [expect, expect, "ok 0"], (out, r.stderr)


def test_allow_rule_over_errno_default(runtime, mk, podman_json):
    """An ALLOW rule lets one call through a default ERRNO."""
    prof = allowlist(podman_json, errno.ENOSYS, drop=("getcwd",), add=[rule("sysfs", "SCMP_ACT_ALLOW")])
    out = lines(run(runtime, mk(sysc(SYSFS, GETCWD), prof)).stdout)
    assert kinds(out) == ["ok", "ENOSYS"], out


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
                                    "SCMP_ACT_TRAP"])
def test_killing_actions(runtime, mk, action):
    """KILL (= KILL_THREAD), KILL_PROCESS and TRAP: the process dies of SIGSYS at the call,
    `run` exits 128+SIGSYS; the call before it ran, the one after never did."""
    prof = allow_all(rule("getcwd", action))
    r = run(runtime, mk(sysc(SYSFS, GETCWD, SYSFS), prof))
    assert r.returncode == SIGSYS_EXIT, f"exit {r.returncode}, stdout {r.stdout!r}, stderr {r.stderr!r}"
    out = lines(r.stdout)
    assert kinds(out) == ["ok"], out


def test_trace_without_tracer_is_enosys(runtime, mk):
    """TRACE with no tracer attached: the call fails with ENOSYS (the kernel's rule)."""
    prof = allow_all(rule("getcwd", "SCMP_ACT_TRACE"))
    out = lines(run(runtime, mk(sysc(GETCWD, SYSFS), prof)).stdout)
    assert kinds(out) == ["ENOSYS", "ok"], out


def test_log_lets_the_call_through(runtime, mk):
    """LOG: the call succeeds (and is logged by the kernel)."""
    prof = allow_all(rule("getcwd", "SCMP_ACT_LOG"), rule("chdir", "SCMP_ACT_ERRNO"))
    r = run(runtime, mk(sysc(GETCWD, ("chdir", "s:/")), prof))
    assert (r.returncode, lines(r.stdout)) == (1, ["ok 2", "EPERM"]), r  # getcwd: strlen("/") + 1


# ---- argument filters ----

ONES = 0xffffffff     # personality(0xffffffff) only queries the persona

ARG_CASES = {
    # the rule denies with EPERM when its arguments match
    "NE": ([arg(0, "SCMP_CMP_NE", ONES)], {ONES: "ok 0", 0: "EPERM", 8: "EPERM"}),
    "EQ": ([arg(0, "SCMP_CMP_EQ", 8)], {ONES: "ok 0", 0: "ok 0", 8: "EPERM"}),
    "MASKED_EQ": ([arg(0, "SCMP_CMP_MASKED_EQ", 0xff, 8)],
                  {ONES: "ok 0", 0: "ok 0", 8: "EPERM", 0x20008: "EPERM", 0x20000: "ok 0"}),
    "GT": ([arg(0, "SCMP_CMP_GT", ONES - 1)], {ONES: "EPERM", 0: "ok 0", 8: "ok 0"}),
    "repeated-index-ORed": ([arg(0, "SCMP_CMP_EQ", 8), arg(0, "SCMP_CMP_EQ", 0x20000)],
                            {ONES: "ok 0", 0: "ok 0", 8: "EPERM", 0x20000: "EPERM"}),
}


@pytest.mark.parametrize("case", list(ARG_CASES))
def test_personality_argument_filter(runtime, mk, case):
    """personality with an argument filter: the query (0xffffffff) and the values outside the
    filter work, the matching ones get EPERM."""
    args, expect = ARG_CASES[case]
    prof = allow_all(rule("personality", "SCMP_ACT_ERRNO", args=args))
    out = lines(run(runtime, mk(sysc(*[("personality", v) for v in expect]), prof)).stdout)
    got = {v: "ok" if o.startswith("ok ") else o for v, o in zip(expect, out)}
    assert got == {v: "ok" if e.startswith("ok") else e for v, e in expect.items()}, out


def test_distinct_indexes_are_anded(runtime, mk):
    """Arguments on two indexes: the rule matches only when both do."""
    prof = allow_all(rule("getpriority", "SCMP_ACT_ERRNO", errnoRet=errno.EACCES,
                          args=[arg(0, "SCMP_CMP_EQ", 0), arg(1, "SCMP_CMP_EQ", 0)]))
    # getpriority(PRIO_PROCESS=0 | PRIO_PGRP=1, who): the pid 1 of the container is /sysc itself
    out = lines(run(runtime, mk(sysc(("getpriority", 0, 0), ("getpriority", 1, 0), ("getpriority", 0, 1)),
                                prof)).stdout)
    assert [o if not o.startswith("ok") else "ok" for o in out] == ["EACCES", "ok", "ok"], out


def test_argument_filters_same_as_runc(compare, mk):
    """The argument cases side by side: the same answers under runc and pyrunc."""
    prof = allow_all(rule("personality", "SCMP_ACT_ERRNO", args=[arg(0, "SCMP_CMP_MASKED_EQ", 0xff, 8)]),
                     rule("personality", "SCMP_ACT_ERRNO", errnoRet=errno.ENOSYS,
                          args=[arg(0, "SCMP_CMP_EQ", 0x40000)]),
                     rule("getpriority", "SCMP_ACT_ERRNO",
                          args=[arg(0, "SCMP_CMP_LE", 1), arg(1, "SCMP_CMP_GE", 1)]))
    calls = [("personality", ONES), ("personality", 8), ("personality", 0x20008), ("personality", 0x40000),
             ("personality", 0), ("getpriority", 0, 0), ("getpriority", 0, 1), ("getpriority", 2, 1)]
    sbs = compare(mk(sysc(*calls), prof))
    assert sbs.runc.stdout.strip(), sbs.runc.stderr
    harness.assert_same(sbs)
    assert [o.split()[0] for o in lines(sbs.pyrunc.stdout)] == \
        ["ok", "EPERM", "EPERM", "ENOSYS", "ok", "ok", "EPERM", "ESRCH"], sbs.pyrunc.stdout


# ---- a filter that blocks what the runtime itself needs ----

SETID = ["setuid", "setgid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid"]


@pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "no-nnp"])
@pytest.mark.parametrize("uid", [0, 1000], ids=["root", "user"])
def test_filter_blocking_runtime_setup_still_starts(pyrunc, mk, nnp, uid):
    """getcwd, chdir (and set*id, setgroups for a user) denied: the container still starts in
    its cwd as its user, since the filter is loaded after the runtime's own setup."""
    rules = [rule(["getcwd", "chdir"], "SCMP_ACT_ERRNO")]
    if uid:
        rules.append(rule(SETID, "SCMP_ACT_ERRNO"))
    make = mk(["/probe", "report", "ids", "proc", "caps"], allow_all(*rules),
              process={"noNewPrivileges": nnp, "cwd": "/tmp", "user": {"uid": uid, "gid": uid}})
    rep = harness.parse_report(run_ok(pyrunc, make).stdout)
    assert rep["cwd"] == "EPERM" and rep["Seccomp"] == "2", rep
    assert (rep["uid"], rep["euid"], rep["gid"]) == (str(uid), str(uid), str(uid)), rep
    assert rep["NoNewPrivs"] == ("1" if nnp else "0"), rep
    # the process really is in /tmp: a relative path resolves there
    r = run_ok(pyrunc, mk(["/bin/cat", "marker"], allow_all(*rules),
                          setup=lambda rootfs: (rootfs / "tmp" / "marker").write_text("in tmp\n"),
                          process={"noNewPrivileges": nnp, "cwd": "/tmp", "user": {"uid": uid, "gid": uid}}))
    assert r.stdout == "in tmp\n"


@pytest.mark.parametrize("uid", [0, 1000], ids=["root", "user"])
def test_filter_blocking_runtime_setup_same_as_runc_with_nnp(compare, mk, uid):
    """With no_new_privs runc loads the filter late too: the same report under both."""
    rules = [rule(["getcwd", "chdir"], "SCMP_ACT_ERRNO")]
    if uid:
        rules.append(rule(SETID, "SCMP_ACT_ERRNO"))
    sbs = compare(mk(["/probe", "report", "ids", "proc", "caps"], allow_all(*rules),
                     process={"noNewPrivileges": True, "cwd": "/tmp", "user": {"uid": uid, "gid": uid}}))
    assert sbs.runc.returncode == 0, sbs.runc.stderr
    harness.assert_same(sbs)


# ---- capabilities, no_new_privs ----

@pytest.mark.parametrize("uid", [0, 1000], ids=["root", "user"])
@pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "no-nnp"])
@pytest.mark.parametrize("with_seccomp", [True, False], ids=["seccomp", "no-seccomp"])
def test_capabilities_with_and_without_filter(compare, mk, uid, nnp, with_seccomp):
    """Capability sets without CAP_SYS_ADMIN: the filter loads even without no_new_privs (the
    runtime holds CAP_SYS_ADMIN only until it is in), and the five sets the process gets are
    exactly the config's, as under runc; NoNewPrivs follows the config."""
    caps = {k: NO_ADMIN_CAPS for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}
    # a filter the probe can show and runc survives without no_new_privs (runc itself calls
    # getcwd and chdir after loading the filter then): personality's query fails
    prof = allow_all(rule("personality", "SCMP_ACT_ERRNO", errnoRet=errno.ENOSYS,
                          args=[arg(0, "SCMP_CMP_EQ", ONES)])) if with_seccomp else None
    sbs = compare(mk(["/probe", "report", "caps", "ids", "proc"], prof,
                     process={"noNewPrivileges": nnp, "capabilities": caps, "user": {"uid": uid, "gid": uid}}))
    assert sbs.runc.returncode == 0, sbs.runc.stderr
    assert sbs.pyrunc.returncode == 0, sbs.pyrunc.stderr
    got = probe_caps(sbs.pyrunc.stdout)
    want = harness.cap_mask(NO_ADMIN_CAPS)
    assert {k: got[k] for k in ("CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb")} == \
        {k: want for k in ("CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb")}, \
        {k: sorted(harness.cap_names(v)) for k, v in got.items() if k.startswith("Cap")}
    assert got["NoNewPrivs"] == ("1" if nnp else "0")
    assert got["Seccomp"] == ("2" if with_seccomp else "0")
    rep = harness.parse_report(sbs.pyrunc.stdout)
    assert rep["personality"] == ("0xffffffff" if with_seccomp else "0x0"), rep["personality"]
    assert probe_caps(sbs.runc.stdout) == got, (probe_caps(sbs.runc.stdout), got)
    harness.assert_same(sbs)


# ---- NOTIFY: the listener ----

SECCOMP_IOCTL_NOTIF_RECV = 0xc0502100       # _IOWR('!', 0, struct seccomp_notif)
SECCOMP_IOCTL_NOTIF_SEND = 0xc0182101       # _IOWR('!', 1, struct seccomp_notif_resp)
NOTIF = struct.Struct("=QIIiIQ6Q")          # id, pid, flags, {nr, arch, ip, args[6]}
NOTIF_RESP = struct.Struct("=QqiI")         # id, val, error, flags
USER_NOTIF_FLAG_CONTINUE = 1


class Agent:
    """A seccomp agent on a unix socket: takes the container process state and the listener fd
    (SCM_RIGHTS), then answers notifications by syscall number from `answers`:
    {nr: (val, error, flags)} (error is a negative errno), `delay` seconds after receiving each."""

    def __init__(self, path, answers, delay=0.0):
        self.path = str(path)
        self.answers = answers
        self.delay = delay
        self.messages, self.notifs, self.errors = [], [], []
        self.stop = threading.Event()
        self.got_fd = threading.Event()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self._serve, name="seccomp-agent", daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            while not self.stop.is_set():
                try:
                    conn, _ = self.sock.accept()
                except socket.timeout:
                    continue
                fd = self._receive(conn)
                if fd is not None:
                    try:
                        self._answer(fd)
                    finally:
                        os.close(fd)
        except Exception as e:      # reported by close()
            self.errors.append(repr(e))

    def _receive(self, conn):
        fds = []
        with conn:
            conn.settimeout(5)
            data, anc, _, _ = conn.recvmsg(1 << 16, socket.CMSG_SPACE(4 * 8))
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds += struct.unpack(f"{len(payload) // 4}i", payload[:len(payload) // 4 * 4])
            while True:
                more = conn.recv(1 << 16)
                if not more:
                    break
                data += more
        self.messages.append({"raw": data.decode(errors="replace"), "nfds": len(fds)})
        for extra in fds[1:]:
            os.close(extra)
        if fds:
            self.got_fd.set()
            return fds[0]
        return None

    def _answer(self, fd):
        p = select.poll()
        p.register(fd, select.POLLIN)
        while not self.stop.is_set():
            ev = p.poll(100)
            if not ev:
                continue
            if ev[0][1] & select.POLLIN:
                buf = bytearray(NOTIF.size)
                try:
                    fcntl.ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, buf, True)
                except OSError as e:
                    if e.errno in (errno.ENOENT, errno.EINTR):
                        continue
                    raise
                nid, pid, _flags, nr, _arch, _ip, *args = NOTIF.unpack(buf)
                self.notifs.append({"pid": pid, "nr": nr, "args": args})
                if self.delay:
                    self.stop.wait(self.delay)
                val, error, flags = self.answers.get(nr, (0, -errno.EPERM, 0))
                resp = bytearray(NOTIF_RESP.pack(nid, val, error, flags))
                try:
                    fcntl.ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, resp, True)
                except OSError as e:
                    if e.errno != errno.ENOENT:     # the caller died meanwhile
                        raise
            elif ev[0][1] & (select.POLLHUP | select.POLLERR):
                return      # every process under the filter is gone

    def close(self):
        self.stop.set()
        self.thread.join(10)
        self.sock.close()
        assert not self.thread.is_alive(), "the seccomp agent thread did not stop"
        assert not self.errors, f"seccomp agent: {self.errors}"


@pytest.fixture
def agent(shortdir):
    made = []

    def start(answers, delay=0.0):
        a = Agent(shortdir / f"agent{len(made)}.sock", answers, delay)
        made.append(a)
        return a
    yield start
    for a in made:
        a.close()


def test_notify_listener_gets_state_and_answers(runtime, mk, agent):
    """NOTIFY with listenerPath/listenerMetadata: the agent receives the container process state
    (ociVersion, fds ["seccompFd"], the init's pid, metadata, state) with the fd; the container
    then sees the agent's answers: a value, an error, and CONTINUE (the real call runs)."""
    ag = agent({NR["getcwd"]: (42, 0, 0), NR["chdir"]: (0, -errno.ENOTBLK, 0),
                NR["mkdir"]: (0, 0, USER_NOTIF_FLAG_CONTINUE)})
    prof = allow_all(rule(["getcwd", "chdir", "mkdir"], "SCMP_ACT_NOTIFY"),
                     listenerPath=ag.path, listenerMetadata="agent=test;x=1")
    bundle = mk(sysc(GETCWD, ("chdir", "s:/tmp"), ("mkdir", "s:/dev/shm/agent", 0o755),
                     ("mkdir", "s:/dev/shm/agent", 0o755), SYSFS), prof)()
    cid = harness.new_id("notify")
    r = runtime.create(cid, bundle)
    try:
        assert r.returncode == 0, f"{runtime.name} create: exit {r.returncode}: {r.stderr}"
        st = runtime.state(cid)
        assert ag.got_fd.wait(5), f"no listener fd reached the agent: {ag.messages}"
        assert len(ag.messages) == 1, ag.messages
        assert ag.messages[0]["nfds"] == 1, ag.messages
        msg = json.loads(ag.messages[0]["raw"])
        assert msg["ociVersion"] == st["ociVersion"], msg
        assert msg["fds"] == ["seccompFd"], msg
        assert msg["pid"] == st["pid"] and msg["pid"] > 0, (msg, st)
        assert msg["metadata"] == "agent=test;x=1", msg
        s = msg["state"]
        assert (s["id"], s["status"], s["bundle"], s["pid"]) == (cid, "creating", str(bundle), st["pid"]), s
        r = runtime.start(cid)
        assert r.returncode == 0, f"{runtime.name} start: exit {r.returncode}: {r.stderr}"
        runtime.wait_status(cid, "stopped")
    finally:
        runtime.delete(cid, force=True)
        harness.reap()
    out, err = runtime.output(cid)
    got = lines(out)
    assert got[:4] == ["ok 42", "ENOTBLK", "ok 0", "EEXIST"] and kinds(got[4:]) == ["ok"], (got, err)
    assert [n["nr"] for n in ag.notifs] == [NR["getcwd"], NR["chdir"], NR["mkdir"], NR["mkdir"]], ag.notifs
    assert {n["pid"] for n in ag.notifs} == {st["pid"]}, ag.notifs


def test_notify_on_a_syscall_the_init_makes_before_execve(pyrunc, mk, agent):
    """NOTIFY on close, which the init itself calls between loading the filter and execve:
    the agent has the listener by then (the runtime forwards it the moment the init sends
    it), answers with CONTINUE, and create and the container go on. pyrunc only: runc
    1.1.5 hangs in this run (its init waits on a notification nobody can answer yet)."""
    runtime = pyrunc
    ag = agent({NR["close"]: (0, 0, USER_NOTIF_FLAG_CONTINUE)})
    prof = allow_all(rule("close", "SCMP_ACT_NOTIFY"), listenerPath=ag.path)
    cid = harness.new_id("notify-close")
    r = runtime.run(cid, mk(sysc(GETCWD), prof)(), timeout=20)
    harness.reap()
    assert r.returncode == 0, f"{runtime.name} run: exit {r.returncode}: {r.stderr}"
    assert kinds(lines(r.stdout)) == ["ok"], r.stdout
    assert ag.got_fd.is_set() and ag.notifs, ag.messages


def test_notify_message_same_fields_as_runc(runc, pyrunc, mk, agent):
    """The container process state pyrunc sends has the fields runc sends (top level and state)."""
    keys = {}
    for rt in (runc, pyrunc):
        ag = agent({NR["getcwd"]: (7, 0, 0)})
        prof = allow_all(rule("getcwd", "SCMP_ACT_NOTIFY"), listenerPath=ag.path, listenerMetadata="m")
        cid = harness.new_id("notify")
        r = rt.create(cid, mk(sysc(GETCWD), prof)())
        try:
            assert r.returncode == 0, f"{rt.name} create: exit {r.returncode}: {r.stderr}"
            assert ag.got_fd.wait(5), ag.messages
            msg = json.loads(ag.messages[0]["raw"])
            keys[rt.name] = (sorted(msg), sorted(msg["state"]))
        finally:
            rt.delete(cid, force=True)
            harness.reap()
    assert keys["pyrunc"] == keys["runc"], keys


def test_notify_without_listener_fails_create(runtime, mk, shortdir):
    """NOTIFY whose listenerPath nobody listens on: create fails with one line naming the
    socket and leaves nothing behind."""
    path = shortdir / "nobody.sock"
    prof = allow_all(rule("getcwd", "SCMP_ACT_NOTIFY"), listenerPath=str(path))
    cid = harness.new_id("nolisten")
    r = runtime.create(cid, mk(sysc(GETCWD), prof)())
    harness.reap()
    msg = one_error(r)
    assert str(path) in msg, msg
    assert containers(runtime) == []
    assert runtime.cmd("state", cid).returncode != 0


def test_notify_without_listener_path_refused(pyrunc, mk):
    """NOTIFY without listenerPath is refused before anything runs, naming the field."""
    cid = harness.new_id("nopath")
    r = pyrunc.create(cid, mk(sysc(GETCWD), allow_all(rule("getcwd", "SCMP_ACT_NOTIFY")))())
    msg = one_error(r)
    assert "linux.seccomp.listenerPath" in msg, msg
    assert containers(pyrunc) == []


# ---- flags ----

def test_flags_accepted(pyrunc, mk):
    """TSYNC, LOG and SPEC_ALLOW are passed to seccomp(2): the filter loads and works.
    (runc 1.1.5 refuses any flag: "seccomp flags are not yet supported by runc".)"""
    prof = allow_all(rule("getcwd", "SCMP_ACT_ERRNO", errnoRet=errno.ENOSYS),
                     flags=["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                            "SECCOMP_FILTER_FLAG_SPEC_ALLOW"])
    r = run(pyrunc, mk(sysc(GETCWD, SYSFS), prof))
    out = lines(r.stdout)
    assert (r.returncode, kinds(out)) == (1, ["ENOSYS", "ok"]), r


# ---- the BPF cache under --root ----

def test_cache_compiles_once(pyrunc, mk, tmp_path):
    """The first container compiles the profile into <root>/.seccomp/<digest>.bpf, the next
    one with the same profile reads it; a changed profile compiles again."""
    log = tmp_path / "pyrunc-debug.log"

    def debug_run(prof):
        cid = harness.new_id("cache")
        r = pyrunc.cmd("--debug", "--log", log, "run", "--bundle", mk(sysc(GETCWD), prof)(), cid,
                       io=pyrunc._io(cid))
        harness.reap()
        assert r.returncode == 1, r.stderr      # /sysc: its one call failed
        return pyrunc.output(cid)[0]

    def seccomp_lines():
        return re.findall(r"seccomp: (\d+) instructions \((\w+)\)", log.read_text() if log.exists() else "")

    p1 = allow_all(rule("getcwd", "SCMP_ACT_ERRNO", errnoRet=errno.ENOSYS))
    p2 = allow_all(rule("getcwd", "SCMP_ACT_ERRNO", errnoRet=errno.ENOTBLK))
    assert lines(debug_run(p1)) == ["ENOSYS"]
    files = sorted((pyrunc.root / ".seccomp").glob("*.bpf"))
    assert len(files) == 1, files
    assert lines(debug_run(p1)) == ["ENOSYS"]
    assert lines(debug_run(p2)) == ["ENOTBLK"]
    assert len(list((pyrunc.root / ".seccomp").glob("*.bpf"))) == 2
    got = seccomp_lines()
    assert [kind for _, kind in got] == ["compiled", "cached", "compiled"], log.read_text()
    assert int(got[0][0]) * 8 == files[0].stat().st_size, got


def test_cache_digest_matches_module(pyrunc, mk):
    """The cache file is named by pyrunc.seccomp.cache.digest of linux.seccomp as written."""
    prof = allow_all(rule("chdir", "SCMP_ACT_ERRNO"), rule("getcwd", "SCMP_ACT_ERRNO", errnoRet=5))
    r = run(pyrunc, mk(sysc(GETCWD), prof))
    assert (r.returncode, r.stdout) == (1, "EIO\n"), r
    code = ("import json, sys; from pyrunc.seccomp import cache; "
            "print(cache.digest(json.loads(sys.argv[1])))")
    r = subprocess.run([str(Path(pyrunc.binary).parent / "python"), "-c", code, json.dumps(prof)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert [f.name for f in (pyrunc.root / ".seccomp").iterdir()] == [r.stdout.strip() + ".bpf"]


# ---- features ----

def test_features_seccomp(pyrunc, runc):
    """`features`: seccomp enabled with runc's actions and operators, the archs this libseccomp
    knows (runc's among them), and the flags."""
    mine = json.loads(pyrunc.cmd("features", check=True).stdout)["linux"]["seccomp"]
    ref = json.loads(runc.cmd("features", check=True).stdout)["linux"]["seccomp"]
    assert mine["enabled"] is True
    assert mine["actions"] == ref["actions"], (mine["actions"], ref["actions"])
    assert mine["operators"] == ref["operators"], (mine["operators"], ref["operators"])
    assert mine["archs"] == sorted(mine["archs"])
    assert set(ref["archs"]) <= set(mine["archs"]), set(ref["archs"]) - set(mine["archs"])
    assert {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"} <= set(mine["archs"])
    known = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
             "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}
    assert set(mine["knownFlags"]) == known, mine["knownFlags"]
    assert set(mine["supportedFlags"]) <= known
    # this kernel (>= 6.0) has them all
    assert {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW"} <= set(mine["supportedFlags"]), mine["supportedFlags"]


# ---- invalid profiles ----

INVALID_SECCOMP = sorted(p.stem for p in INVALID.glob("seccomp-*.json"))
RUNC_REFUSES = {"seccomp-arch-unknown", "seccomp-op-unknown", "seccomp-default-action-unknown",
                "seccomp-arg-value-negative", "seccomp-flag-unknown"}


# invalid for the spec's schema (pyrunc validate says so), but runc's Go structs read the
# missing field as zero and runc creates the container: no default action and no rules is
# no filter; a rule naming no syscall adds nothing
RUNC_ACCEPTS = {"seccomp-default-action-missing", "seccomp-syscall-names-empty"}


@pytest.mark.parametrize("name", sorted(RUNC_ACCEPTS))
def test_schema_invalid_profile_runc_takes_is_taken(pyrunc, runc, mk, name):
    seccomp = json.loads((INVALID / f"{name}.json").read_text())["linux"]["seccomp"]
    make = mk(["/probe", "report", "caps"], seccomp)
    for rt in (runc, pyrunc):
        cid = harness.new_id("inv")
        r = rt.create(cid, make())
        if cid in rt.containers():
            rt.delete(cid, force=True)
        harness.reap()
        assert r.returncode == 0, f"{rt.name}: exit {r.returncode}: {r.stderr}"


@pytest.mark.parametrize("name", sorted(set(INVALID_SECCOMP) - RUNC_ACCEPTS))
def test_invalid_profile_refused_at_create(pyrunc, runc, mk, name):
    """config-samples/invalid/seccomp-*: create fails with one line naming the JSON path and
    leaves nothing; runc refuses the unknown action, operator and arch too."""
    expect = (INVALID / f"{name}.expect").read_text().strip()
    seccomp = json.loads((INVALID / f"{name}.json").read_text())["linux"]["seccomp"]
    make = mk(["/probe", "report", "caps"], seccomp)
    cid = harness.new_id("inv")
    msg = one_error(pyrunc.create(cid, make()))
    harness.reap()
    assert f"{expect}: " in msg, msg
    assert containers(pyrunc) == []
    assert pyrunc.cmd("state", cid).returncode != 0
    if name in RUNC_REFUSES:
        cid = harness.new_id("inv")
        r = runc.create(cid, make())
        if cid in runc.containers():
            runc.delete(cid, force=True)
        harness.reap()
        assert r.returncode != 0, f"runc accepted {name}"


@pytest.mark.parametrize("where, prof", [
    ("linux.seccomp.defaultAction", {"defaultAction": "SCMP_ACT_NOTIFY"}),
    ("linux.seccomp.syscalls[0]", allow_all(rule("write", "SCMP_ACT_NOTIFY"))),
])
def test_notify_the_init_would_wait_on_is_refused_as_runc(pyrunc, runc, mk, tmp_path, where, prof):
    """NOTIFY as the default action, or on write: the init would notify on its own way to
    execve, before the listener is sent, and create would hang. Refused with one line
    naming the field, nothing left; runc refuses both too."""
    prof = dict(prof, listenerPath=str(tmp_path / "nobody.sock"))
    cid = harness.new_id("notify")
    msg = one_error(pyrunc.create(cid, mk(sysc(GETCWD), prof)(), timeout=20))
    assert where in msg and "SCMP_ACT_NOTIFY cannot be used" in msg, msg
    assert containers(pyrunc) == []
    cid = harness.new_id("notify-runc")
    r = runc.create(cid, mk(sysc(GETCWD), prof)(), timeout=20)
    if cid in runc.containers():
        runc.delete(cid, force=True)
    harness.reap()
    assert r.returncode != 0 and "SCMP_ACT_NOTIFY cannot be used" in r.stderr, r.stderr


# ---- actions told apart: KILL_THREAD / KILL_PROCESS, TRAP / KILL ----

NATIVE_AUDIT_ARCH = _sc.system_arch()      # libseccomp's arch tokens are the AUDIT_ARCH values
IN_THREAD_GETCWD = ["/probe", "in-thread", "syscall", "getcwd"]

# getcwd's action, made by a second thread: (exit status, stdout lines)
THREAD_CASES = {
    "SCMP_ACT_ERRNO": (0, ["EPERM", "thread: exit 1", "main: alive"]),
    "SCMP_ACT_KILL": (0, ["main: alive"]),
    "SCMP_ACT_KILL_THREAD": (0, ["main: alive"]),
    "SCMP_ACT_KILL_PROCESS": (SIGSYS_EXIT, []),
    "SCMP_ACT_TRAP": (SIGSYS_EXIT, []),
}


@pytest.mark.parametrize("action", list(THREAD_CASES))
def test_kill_thread_vs_kill_process_same_as_runc(compare, mk, action):
    """getcwd denied in a second thread (`probe in-thread syscall getcwd`): KILL and KILL_THREAD
    end that thread only (no `thread: exit` line), the main thread joins it, prints `main:
    alive` and exits 0; KILL_PROCESS ends the whole process at the call (exit 128+SIGSYS,
    nothing printed), and so does TRAP without a handler (SIGSYS's default).  ERRNO shows the
    lines of a thread that lives.  The same exit and output under runc."""
    want = THREAD_CASES[action]
    sbs = compare(mk(IN_THREAD_GETCWD, allow_all(rule("getcwd", action))))
    got = (sbs.pyrunc.returncode, lines(sbs.pyrunc.stdout))
    assert got == want, f"pyrunc {got}, want {want}; stderr {sbs.pyrunc.stderr!r}"
    harness.assert_same(sbs)


def _sigsys_line(nr):
    return f"sigsys: 1 syscall={nr} arch=0x{NATIVE_AUDIT_ARCH:x} code=1"     # code 1: SYS_SECCOMP


# `probe trap ...` (a SIGSYS handler installed; it makes a trapped call return ENOSYS)
TRAP_CASES = {
    ("main", "SCMP_ACT_TRAP"): (1, ["ENOSYS", _sigsys_line(NR["getcwd"])]),
    ("main", "SCMP_ACT_KILL"): (SIGSYS_EXIT, []),
    ("main", "SCMP_ACT_KILL_PROCESS"): (SIGSYS_EXIT, []),
    ("main", "SCMP_ACT_ERRNO"): (1, ["EPERM", "sigsys: none"]),
    ("thread", "SCMP_ACT_TRAP"): (0, ["ENOSYS", "thread: exit 1", "main: alive", _sigsys_line(NR["getcwd"])]),
    ("thread", "SCMP_ACT_KILL"): (0, ["main: alive", "sigsys: none"]),
    ("thread", "SCMP_ACT_KILL_PROCESS"): (SIGSYS_EXIT, []),
}


@pytest.mark.parametrize("where, action", list(TRAP_CASES), ids=[f"{w}-{a}" for w, a in TRAP_CASES])
def test_trap_vs_kill_with_a_sigsys_handler_same_as_runc(compare, mk, where, action):
    """With a SIGSYS handler installed (`probe trap`): TRAP delivers SIGSYS to the handler
    (si_code SYS_SECCOMP, si_syscall getcwd's number, si_arch this machine's) and the process
    goes on, in the main thread or a second one; KILL and KILL_PROCESS never reach the handler
    (KILL ends the calling thread only).  The same exit and output under runc."""
    argv = ["/probe", "trap", "syscall", "getcwd"] if where == "main" else ["/probe", "trap", *IN_THREAD_GETCWD[1:]]
    want = TRAP_CASES[where, action]
    sbs = compare(mk(argv, allow_all(rule("getcwd", action))))
    got = (sbs.pyrunc.returncode, lines(sbs.pyrunc.stdout))
    assert got == want, f"pyrunc {got}, want {want}; stderr {sbs.pyrunc.stderr!r}"
    harness.assert_same(sbs)


# ---- companion ABIs: i386 (int $0x80) and x32 next to x86_64 ----

X86_64, X86, X32 = "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"
I386_GETPID = ["/probe", "int80", "20"]                 # getpid is 20 in syscall_32.tbl
X32_GETPID = ["/sysc", str(0x40000000 | 39)]            # __X32_SYSCALL_BIT | getpid
DENY_GETPID = rule("getpid", "SCMP_ACT_ERRNO")


def _x32_abi():
    """(exit, lines) /sysc prints for an x32 getpid with no filter: the kernel's own answer
    (ENOSYS without CONFIG_X86_X32_ABI; the container's pid 1 with it)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    r = libc.syscall(ctypes.c_long(0x40000000 | 39))
    if r < 0:
        assert ctypes.get_errno() == errno.ENOSYS, os.strerror(ctypes.get_errno())
        return (1, ["ENOSYS"])
    return (0, ["ok 1"])


def _arch_cases():
    x32 = _x32_abi()
    return {
        # int $0x80 from the 64-bit probe: the kernel's IA32 emulation answers getpid
        "i386-no-filter": (None, I386_GETPID, (0, ["ok 1"])),
        # an arch the filter does not list hits libseccomp's bad-arch action, KILL (the thread)
        "i386-unlisted": (allow_all(architectures=[X86_64]), I386_GETPID, (SIGSYS_EXIT, [])),
        "i386-no-architectures": (allow_all(), I386_GETPID, (SIGSYS_EXIT, [])),
        "i386-unlisted-in-thread": (allow_all(architectures=[X86_64]), ["/probe", "in-thread", *I386_GETPID[1:]],
                                    (0, ["main: alive"])),
        "i386-unlisted-rule-for-native": (allow_all(DENY_GETPID, architectures=[X86_64]), I386_GETPID,
                                          (SIGSYS_EXIT, [])),
        "i386-listed": (allow_all(architectures=[X86_64, X86]), I386_GETPID, (0, ["ok 1"])),
        "i386-listed-getpid-denied": (allow_all(DENY_GETPID, architectures=[X86_64, X86]), I386_GETPID,
                                      (1, ["EPERM"])),
        "native-getpid-denied": (allow_all(DENY_GETPID, architectures=[X86_64, X86]), sysc(("getpid",)),
                                 (1, ["EPERM"])),
        "x32-no-filter": (None, X32_GETPID, x32),
        "x32-unlisted": (allow_all(architectures=[X86_64]), X32_GETPID, (SIGSYS_EXIT, [])),
        "x32-listed": (allow_all(architectures=[X86_64, X32]), X32_GETPID, x32),
        "x32-listed-getpid-denied": (allow_all(DENY_GETPID, architectures=[X86_64, X32]), X32_GETPID,
                                     (1, ["EPERM"])),
    }


ARCH_CASE_IDS = ["i386-no-filter", "i386-unlisted", "i386-no-architectures", "i386-unlisted-in-thread",
                 "i386-unlisted-rule-for-native", "i386-listed", "i386-listed-getpid-denied",
                 "native-getpid-denied", "x32-no-filter", "x32-unlisted", "x32-listed", "x32-listed-getpid-denied"]


@pytest.mark.parametrize("case", ARCH_CASE_IDS)
def test_companion_architectures_same_as_runc(compare, mk, case):
    """x86_64 with its companion ABIs: getpid through int $0x80 (i386) and with the x32 bit.
    Without a filter the kernel answers (this one has IA32 emulation); a filter whose
    architectures leave the ABI out (or name none: native only) kills the caller with SIGSYS,
    the thread only (libseccomp's default bad-arch action, runc sets no other), even when a
    rule names the call; listing X86 / X32 lets the call through and applies the rules to it
    (getpid denied: EPERM through int $0x80 as natively).  The same exit and output under runc."""
    assert os.uname().machine == "x86_64", "int $0x80 and x32 are x86_64 ABIs"
    cases = _arch_cases()
    assert set(cases) == set(ARCH_CASE_IDS)
    prof, argv, want = cases[case]
    sbs = compare(mk(argv, prof))
    got = (sbs.pyrunc.returncode, lines(sbs.pyrunc.stdout))
    assert got == want, f"pyrunc {got}, want {want}; stderr {sbs.pyrunc.stderr!r}"
    harness.assert_same(sbs)


# ---- SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ----

WAIT_KILLABLE_RECV = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
FLAG_NEW_LISTENER, FLAG_WAIT_KILLABLE_RECV = 8, 32          # linux/seccomp.h
SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}
# getcwd notified, answered ENOTBLK 2.5 s after the agent took it; SIGALRM at 1 s
ALARM_GETCWD = ["/probe", "alarm", "1", "syscall", "getcwd"]


def create_start_notified(rt, bundle, ag):
    """create (the agent has the listener once it returns), start, wait for the exit; the
    container's stdout lines.  Not `run`: runc 1.1.5's run sends the listener at once but
    keeps the connection open until the container exits, and the agent reads to EOF first."""
    cid = harness.new_id("wkr")
    try:
        r = rt.create(cid, bundle, timeout=20)
        assert r.returncode == 0, f"{rt.name} create: exit {r.returncode}: {r.stderr}"
        assert ag.got_fd.wait(5), f"no listener fd reached the agent: {ag.messages}"
        r = rt.start(cid)
        assert r.returncode == 0, f"{rt.name} start: exit {r.returncode}: {r.stderr}"
        rt.wait_status(cid, "stopped")
    finally:
        rt.delete(cid, force=True)
        harness.reap()
    return lines(rt.output(cid)[0])


def test_features_reports_wait_killable_recv(pyrunc):
    """`features` lists WAIT_KILLABLE_RECV in supportedFlags exactly when the kernel takes it
    (with NEW_LISTENER, which it requires): seccomp(SET_MODE_FILTER, flags, NULL) fails with
    EFAULT for flags it knows, EINVAL otherwise.  It came in Linux 5.19."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    r = libc.syscall(ctypes.c_long(SYS_SECCOMP[os.uname().machine]), 1,
                     ctypes.c_uint(FLAG_WAIT_KILLABLE_RECV | FLAG_NEW_LISTENER), None)
    err = ctypes.get_errno()
    assert r == -1 and err in (errno.EFAULT, errno.EINVAL), (r, err)
    kernel_has_it = err == errno.EFAULT
    release = tuple(int(x) for x in re.findall(r"\d+", os.uname().release)[:2])
    assert kernel_has_it == (release >= (5, 19)), (release, os.strerror(err))
    mine = json.loads(pyrunc.cmd("features", check=True).stdout)["linux"]["seccomp"]
    assert WAIT_KILLABLE_RECV in mine["knownFlags"], mine["knownFlags"]
    assert (WAIT_KILLABLE_RECV in mine["supportedFlags"]) == kernel_has_it, (kernel_has_it, mine["supportedFlags"])


def test_wait_killable_recv_with_listener(pyrunc, runc, mk, agent):
    """flags [WAIT_KILLABLE_RECV] with a NOTIFY rule and a listener: the filter loads, the agent
    gets the fd and answers, and the flag is in force: once the agent has received the
    notification, a handled SIGALRM (no SA_RESTART) no longer interrupts the call, which
    returns the agent's late answer (without the flag: EINTR, the next test); one
    notification, not restarted.  runc 1.1.5 refuses every seccomp flag."""
    ag = agent({NR["getcwd"]: (0, -errno.ENOTBLK, 0)}, delay=2.5)
    prof = allow_all(rule("getcwd", "SCMP_ACT_NOTIFY"), listenerPath=ag.path, flags=[WAIT_KILLABLE_RECV])
    assert create_start_notified(pyrunc, mk(ALARM_GETCWD, prof)(), ag) == ["ENOTBLK", "alarm: fired"]
    assert [n["nr"] for n in ag.notifs] == [NR["getcwd"]], ag.notifs
    r = run(runc, mk(ALARM_GETCWD, prof), timeout=20)
    assert r.returncode != 0 and "seccomp flags are not yet supported by runc" in r.stderr, r


def test_notified_call_interrupted_without_wait_killable_recv(runtime, mk, agent):
    """The same NOTIFY rule and late agent without the flag: the SIGALRM interrupts the waiting
    call, which fails with EINTR (the agent's answer then finds no notification)."""
    ag = agent({NR["getcwd"]: (0, -errno.ENOTBLK, 0)}, delay=2.5)
    prof = allow_all(rule("getcwd", "SCMP_ACT_NOTIFY"), listenerPath=ag.path)
    assert create_start_notified(runtime, mk(ALARM_GETCWD, prof)(), ag) == ["EINTR", "alarm: fired"]
    assert [n["nr"] for n in ag.notifs] == [NR["getcwd"]], ag.notifs


def test_wait_killable_recv_without_notify_refused(pyrunc, runc, mk):
    """WAIT_KILLABLE_RECV with no NOTIFY action (so no listener): the kernel refuses the flag
    without NEW_LISTENER (EINVAL).  pyrunc refuses it before touching anything, naming the
    config field, and leaves nothing; runc 1.1.5 fails too (it refuses every flag)."""
    prof = allow_all(rule("getcwd", "SCMP_ACT_ERRNO"), flags=[WAIT_KILLABLE_RECV])
    make = mk(sysc(GETCWD), prof)
    cid = harness.new_id("wkr")
    msg = one_error(pyrunc.create(cid, make()))
    harness.reap()
    assert msg.endswith("config.json: linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule "
                        "with SCMP_ACT_NOTIFY"), msg
    assert containers(pyrunc) == []
    assert pyrunc.cmd("state", cid).returncode != 0
    cid = harness.new_id("wkr-runc")
    r = runc.create(cid, make())
    if cid in runc.containers():
        runc.delete(cid, force=True)
    harness.reap()
    assert r.returncode != 0 and "seccomp flags are not yet supported by runc" in r.stderr, r.stderr


# ---- unknown syscall names ----

UNKNOWN_SYSCALL = "no_such_syscall_xyz"
SKIPPED = f'unknown seccomp syscall "{UNKNOWN_SYSCALL}" ignored'
# the unknown name next to a known one, and in a rule of its own: both rules name it once
UNKNOWN_PROFILE = allow_all(rule([UNKNOWN_SYSCALL, "getcwd"], "SCMP_ACT_ERRNO", errnoRet=errno.ENOTBLK),
                            rule(UNKNOWN_SYSCALL, "SCMP_ACT_KILL_PROCESS"))


def debug_create_run(rt, bundle, log):
    """`--debug --log LOG create`, start, wait for the exit; (create result, stdout, debug messages)."""
    cid = harness.new_id("dbg")
    try:
        r = rt.cmd("--debug", "--log", log, "create", "--bundle", bundle, cid, io=rt._io(cid))
        if r.returncode == 0:
            assert rt.start(cid).returncode == 0
            rt.wait_status(cid, "stopped")
    finally:
        if cid in rt.containers():
            rt.delete(cid, force=True)
        harness.reap()
    debug = [m.group(2).replace('\\"', '"') for m in map(LOG_MSG.match, Path(log).read_text().splitlines())
             if m and m.group(1) == "debug"] if Path(log).exists() else []
    return r, rt.output(cid)[0], debug


def test_unknown_syscall_name_skipped_with_debug_line(runc, pyrunc, mk, tmp_path):
    """A syscall name libseccomp does not know: create succeeds, the rest of its rule applies
    (getcwd: ENOTBLK), and `--debug --log FILE` logs `unknown seccomp syscall "NAME" ignored`
    at debug level once per rule naming it -- the line runc 1.1.5 writes."""
    make = mk(sysc(GETCWD, SYSFS), UNKNOWN_PROFILE)
    for rt in (runc, pyrunc):
        r, out, debug = debug_create_run(rt, make(), tmp_path / f"{rt.name}-debug.log")
        assert r.returncode == 0, f"{rt.name} create: exit {r.returncode}: {r.stderr}"
        assert kinds(lines(out)) == ["ENOTBLK", "ok"], (rt.name, out)
        assert debug.count(SKIPPED) == 2, (rt.name, debug)


def test_unknown_syscall_debug_line_with_a_cached_profile(runc, pyrunc, mk, tmp_path):
    """The second container with the same profile (pyrunc: its BPF from the cache under --root)
    is told about the skipped name at --debug too, as runc tells it on every create."""
    got = {}
    for rt in (runc, pyrunc):
        counts = []
        for i in range(2):
            r, out, debug = debug_create_run(rt, mk(sysc(GETCWD), UNKNOWN_PROFILE)(),
                                             tmp_path / f"{rt.name}-debug-{i}.log")
            assert r.returncode == 0, f"{rt.name} create: exit {r.returncode}: {r.stderr}"
            assert lines(out) == ["ENOTBLK"], (rt.name, out)
            counts.append(debug.count(SKIPPED))
        got[rt.name] = counts
    assert got == {"runc": [2, 2], "pyrunc": [2, 2]}, got
