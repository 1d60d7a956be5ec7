"""Fuzz the create path in-process, no root: config.json bytes generated from the
schema and mutated (integration/fuzz_strategies.py) go through everything `create`
decides before it touches the host -- parse, check, cgroupsPath, the plan (for a v1
and a v2 host), the cffi structs the shim gets, the cgroup writes and device rules,
the seccomp profile, its cache digest and its BPF, the state and config copies' JSON --
and through `pyrunc validate`'s explanation. The only exception allowed out is
PyruncError, and its log line must encode; anything else is what a user sees as
"internal error" (a traceback under --debug).

Also checked here, for the integration fuzz: the schema walker's values are schema-valid,
and sanitize() never raises and leaves no host path within reach.

PYRUNC_FUZZ_LOADER_EXAMPLES (default 2000, about 25 s) sets the number of cases, the same
ones every run unless PYRUNC_FUZZ_RANDOM=1 (a suite run must not turn red on a case nobody
changed code for); a long run:
PYRUNC_FUZZ_RANDOM=1 PYRUNC_FUZZ_LOADER_EXAMPLES=50000 /opt/pyrunc/bin/python -m pytest -q -p no:cacheprovider tests/test_fuzz_loader.py
"""
import os
import sys
import traceback

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

import fuzz_strategies as fz  # noqa: E402
import harness  # noqa: E402  (base_config only: harness is pure at import)

from pyrunc import errors, jsonio, log  # noqa: E402
from pyrunc.cgroups import devices as cgdevices  # noqa: E402
from pyrunc.cgroups import paths as cgpaths  # noqa: E402
from pyrunc.cgroups import resources as cgres  # noqa: E402
from pyrunc.cgroups.host import CgroupHost, Hierarchy  # noqa: E402
from pyrunc.plan import build  # noqa: E402
from pyrunc.spec import load, validate  # noqa: E402
from pyrunc.state import store  # noqa: E402

EXAMPLES = int(os.environ.get("PYRUNC_FUZZ_LOADER_EXAMPLES", "2000"))
RANDOM = os.environ.get("PYRUNC_FUZZ_RANDOM", "") not in ("", "0")
BASE = fz.base_config(harness.base_config())
SUBST = {fz.CID: "pyrt-fz-0123abcd", fz.ROOTFS: "/bundle/rootfs", fz.SANDBOX: "/sandbox", fz.BUNDLE: "/bundle"}
CID = SUBST[fz.CID]

V1 = CgroupHost("hybrid", [
    Hierarchy("/sys/fs/cgroup/memory", "/", 1, ("memory",), "memory"),
    Hierarchy("/sys/fs/cgroup/pids", "/", 1, ("pids",), "pids"),
    Hierarchy("/sys/fs/cgroup/cpu,cpuacct", "/", 1, ("cpu", "cpuacct"), "cpu,cpuacct"),
    Hierarchy("/sys/fs/cgroup/systemd", "/", 1, ("name=systemd",), "name=systemd"),
    Hierarchy("/sys/fs/cgroup/unified", "/", 2, (), "")], {"memory": "/user.slice/x"})
V2 = CgroupHost("v2", [Hierarchy("/sys/fs/cgroup", "/", 2, (), "")], {"": "/user.slice/session-1.scope"})


def _marshal(plan):
    """What shim.spawn() does with a plan before clone: every op field into the cffi
    struct, strings encoded as the shim encodes them (this mirrors shim.spawn)."""
    from pyrunc import shim
    from pyrunc.shim import ffi

    keep = []
    cops = ffi.new("struct shim_op[]", max(1, len(plan.ops)))
    for i, op in enumerate(plan.ops):
        c = cops[i]
        c.kind = op.kind
        c.fd = op.fd if op.fdref is None else 3
        c.n1, c.n2, c.n3 = op.n1, op.n2, op.n3
        c.u1, c.u2, c.u3, c.u4, c.u5 = op.u1, op.u2, op.u3, op.u4, op.u5
        if isinstance(op.s1, bytes):
            keep.append(ffi.new("char[]", op.s1))
            c.s1 = keep[-1]
        else:
            c.s1 = shim._cstr(op.s1, keep)
        c.s2, c.s3, c.s4 = shim._cstr(op.s2, keep), shim._cstr(op.s3, keep), shim._cstr(op.s4, keep)
        for name in ("v1", "v2"):
            vec = getattr(op, name)
            if vec is not None:
                ffi.new("char *[]", [shim._cstr(x, keep) for x in vec] + [ffi.NULL])
        if op.arr:
            ffi.new("unsigned int[]", list(op.arr))
    ffi.new("char *[]", [shim._cstr(a, keep) for a in plan.argv] + [ffi.NULL])
    ffi.new("char *[]", [shim._cstr(e, keep) for e in plan.env] + [ffi.NULL])


def _seccomp(obj):
    if not obj:
        return None
    from pyrunc.seccomp import cache
    from pyrunc.seccomp import compile as comp
    from pyrunc.seccomp import profile

    prof = profile.rules_of(obj)
    cache.digest(obj)
    return comp.compile_profile(prof), prof.flags


def create_path(data):
    """Everything create decides from config.json bytes, for both cgroup versions."""
    doc = load.parse(data)
    if not isinstance(doc, dict):
        raise errors.ConfigError("", "expected object")
    load.check(doc)
    linux = doc.get("linux") or {}
    seccomp = _seccomp(linux.get("seccomp"))
    for ch in (V1, V2):
        cg = cgpaths.resolve(ch, linux.get("cgroupsPath") or "", CID)
        host = build.Host(cgroup_host=ch, cgroup_paths=cg, last_cap=40, kcore=True)
        for console in (False, "auto"):
            try:
                plan = build.build(doc, build.Options(CID, "/bundle", console_socket=console, seccomp=seccomp), host)
            except errors.ConfigError:
                continue
            _marshal(plan)
    res = linux.get("resources")
    device_paths = [d["path"] for d in linux.get("devices") or ()]
    for plan_writes in (lambda: cgres.plan_v1(res, None, device_paths), lambda: cgres.plan_v2(res, None)):
        try:
            for w in plan_writes():
                assert isinstance(w.value, str) and isinstance(w.file, str), w
        except errors.ConfigError:
            pass
    rules = cgdevices.effective_rules((res or {}).get("devices"), device_paths)
    cgdevices.v1_writes(rules)
    cgdevices.encode(cgdevices.bpf_program(rules))
    # create's state and config.json copy (store.write_state, _write_config_copy)
    store._plain({"annotations": doc.get("annotations") or {}, "bundle": "/bundle"})
    jsonio.dumps(doc).encode()


def log_line(e):
    """What the CLI does with a PyruncError: one log line, encoded as log._write does."""
    for fmt in ("text", "json"):
        log.fmt = fmt
        try:
            line = log.format_line("error", e.msg)
        finally:
            log.fmt = "text"
        assert line.endswith("\n") and line.count("\n") == 1, line
        line.encode("utf-8", "surrogateescape")


def _describe(cfg, data, how):
    if how[0] == "json" and isinstance(cfg, dict):
        changes = fz.diff(BASE, cfg) or ["(no changes)"]
        return "encoding %r, the base config (fuzz_strategies.base_config) with:\n  %s" % (how, "\n  ".join(changes))
    text = data[:3000].decode("utf-8", "backslashreplace")
    return "encoding %r, config.json (%d bytes): %s" % (how, len(data), text)


@settings(derandomize=not RANDOM, max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                 HealthCheck.large_base_example])
@given(cfg=fz.configs(BASE), how=fz.encodings())
def test_create_path_raises_only_pyrunc_errors(cfg, how):
    data = fz.encode(fz._fill(cfg, SUBST), how)
    try:
        try:
            create_path(data)
        except errors.PyruncError as e:
            log_line(e)
    except Exception:
        pytest.fail("%s\n\n%s" % (traceback.format_exc(), _describe(cfg, data, how)), pytrace=False)


@settings(derandomize=not RANDOM, max_examples=max(50, EXAMPLES // 40), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(cfg=fz.configs(BASE), how=fz.encodings())
def test_validate_gives_lines_never_raises(cfg, how):
    """`pyrunc validate`: the JSON Schema's findings and the loader's, one string each."""
    data = fz.encode(fz._fill(cfg, SUBST), how)
    try:
        doc = load.parse(data)
    except errors.ConfigError:
        return
    if not isinstance(doc, dict):
        return
    try:
        lines = validate.validate_doc(doc)
    except Exception:
        pytest.fail("%s\n\n%s" % (traceback.format_exc(), _describe(cfg, data, how)), pytrace=False)
    assert all(isinstance(line, str) and line for line in lines), lines


@given(st.data())
@settings(derandomize=not RANDOM, max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_schema_walker_generates_schema_valid_values(data):
    """The generator's own check: without the hints, a value drawn for any schema path
    is valid for the schema there (jsonschema decides), so that "schema-valid"
    mutations really are."""
    import jsonschema

    path = data.draw(st.sampled_from(fz.SCHEMA_PATHS))
    value = data.draw(fz.strategy_for(path, hints=False))
    schema = dict(fz.schema_at(path))
    schema["$defs"] = fz.DEFS
    errs = list(jsonschema.Draft202012Validator(schema).iter_errors(value))
    assert not errs, (path, value, [e.message for e in errs])


def test_base_config_is_valid():
    data = fz.encode(fz._fill(BASE, SUBST), ("json",))
    create_path(data)


# ---- the integration fuzz's safety net: sanitize() must hold for any generated case ----

SANDBOX_CTX = fz.Context("pyrt-fz-0123abcd", "/nonexistent-fuzz/sandbox/rootfs", "/nonexistent-fuzz/sandbox",
                         "/nonexistent-fuzz/sandbox/bundle")


def _unsafe_paths(doc, ctx):
    """What in a sanitized document could still reach the host outside the sandbox."""
    bad = []

    def host_path(p, what, allowed=()):
        if isinstance(p, str) and not fz._safe_host_path(p, ctx, allowed):
            bad.append("%s %r" % (what, p))

    if not isinstance(doc, dict):
        return bad
    root = doc.get("root")
    if isinstance(root, dict):
        host_path(root.get("path"), "root.path")
    args = (doc.get("process") or {}).get("args") if isinstance(doc.get("process"), dict) else None
    if isinstance(args, list) and args and isinstance(args[0], str):
        a0 = args[0]
        if a0 not in fz.SAFE_ARGV0 and not a0.startswith("/\u2603nonexec/"):
            bad.append("argv0 %r" % a0)
    for kind, hooks in fz._dict(doc.get("hooks")).items():
        for h in fz._list(hooks):
            if isinstance(h, dict) and isinstance(h.get("path"), str) and h["path"].startswith("/") and \
                    h["path"] not in fz.SAFE_HOOK_PATHS and not h["path"].startswith("/\u2603nonexec/"):
                bad.append("hook %r" % h["path"])
    for m in fz._list(doc.get("mounts")):
        if isinstance(m, dict):
            host_path(m.get("source"), "mount source", ("/dev/null",))
            opts = m.get("options")
            bind = m.get("type") == "bind" or (isinstance(opts, list) and ("bind" in opts or "rbind" in opts))
            if isinstance(opts, list) and "remount" in opts and not bind:
                bad.append("remount without bind")
    linux = fz._dict(doc.get("linux"))
    for n in fz._list(linux.get("namespaces")):
        if isinstance(n, dict) and isinstance(n.get("path"), str) and n["path"] not in fz.SAFE_NS_PATHS:
            host_path(n["path"], "namespace path")
    if not fz._safe_cgroups_path(linux.get("cgroupsPath"), ctx.cid):
        bad.append("cgroupsPath %r" % linux.get("cgroupsPath"))
    return bad


@settings(derandomize=not RANDOM, max_examples=max(100, EXAMPLES // 20), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(cfg=fz.configs(BASE), how=fz.encodings())
def test_sanitize_never_raises_and_leaves_nothing_unsafe(cfg, how):
    doc = fz.sanitize(cfg, SANDBOX_CTX)
    fz.encode(doc, how)
    assert not _unsafe_paths(doc, SANDBOX_CTX), _unsafe_paths(doc, SANDBOX_CTX)
