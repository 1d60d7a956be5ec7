"""config.json at the spec's edges, next to runc: the same verdict for the same config.

runc decodes config.json into runtime-spec's Go structs: a field the spec calls
required but the struct reads as Go's zero value when absent (process.user.gid,
an rlimit's soft, ociVersion, ...) is taken as that zero; then runc's own checks
(utils_linux.go validateProcessSpec, libcontainer/specconv, configs/validate) and the
kernel refuse what they refuse. pyrunc takes and refuses the same configs; a refusal
is one line naming the field, exit 1, and nothing left behind.

Every case runs `create` then `delete --force` under both runtimes; a table of known
edges, then a generated set (a fixed seed: the same cases every run) of combinations.

Where pyrunc deliberately differs from runc 1.1.5 (fields that runc 1.1.5 does not
know and newer runc checks), DIFFERENT asserts both sides as they are, so that a
change of either is caught; README.md "Deliberate differences" lists them.
"""
import copy
import random

import pytest

import harness

pytestmark = pytest.mark.integration


def _drop(*path):
    def edit(cfg):
        obj = cfg
        for k in path[:-1]:
            obj = obj[k]
        del obj[path[-1]]
    return edit


def _set(value, *path):
    def edit(cfg):
        obj = cfg
        for k in path[:-1]:
            obj = obj.setdefault(k, {}) if isinstance(obj, dict) else obj[k]
        obj[path[-1]] = copy.deepcopy(value)
    return edit


def _without_ns(*types):
    def edit(cfg):
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] not in types]
        if "uts" in types:
            cfg.pop("hostname", None)
    return edit


def _add_ns(entry):
    def edit(cfg):
        cfg["linux"]["namespaces"].append(dict(entry))
    return edit


def _both(*edits):
    def edit(cfg):
        for e in edits:
            e(cfg)
    return edit


SECCOMP_ERRNO_GETPID = {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}

# (name, edit): configs both runtimes must judge alike
CASES = [
    ("base", lambda cfg: None),
    # absent fields Go reads as zero
    ("user without gid", _drop("process", "user", "gid")),
    ("user without uid", _drop("process", "user", "uid")),
    ("user {}", _set({}, "process", "user")),
    ("user only umask", _set({"umask": 18}, "process", "user")),
    ("user only additionalGids", _set({"additionalGids": [5]}, "process", "user")),
    ("no user", _drop("process", "user")),
    ("no ociVersion", _drop("ociVersion")),
    ("ociVersion empty", _set("", "ociVersion")),
    ("ociVersion not a version", _set("junk", "ociVersion")),
    ("ociVersion 0.1.0", _set("0.1.0", "ociVersion")),
    ("rlimit without soft and hard", _set([{"type": "RLIMIT_CORE"}], "process", "rlimits")),
    ("rlimit without soft", _set([{"type": "RLIMIT_CORE", "hard": 0}], "process", "rlimits")),
    ("rlimit without hard", _drop("process", "rlimits", 0, "hard")),
    ("rlimit NOFILE soft 0", _set([{"type": "RLIMIT_NOFILE", "soft": 0, "hard": 1024}], "process", "rlimits")),
    ("rlimit type twice", _set([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}] * 2, "process", "rlimits")),
    ("rlimit type twice, hard raised", _set([{"type": "RLIMIT_CORE", "soft": 1, "hard": 1},
                                             {"type": "RLIMIT_CORE", "soft": 2, "hard": 2}], "process", "rlimits")),
    ("consoleSize {}", _set({}, "process", "consoleSize")),
    ("device rule without allow", _set([{"access": "rwm"}], "linux", "resources", "devices")),
    ("pids {}", _set({}, "linux", "resources", "pids")),
    ("seccomp {}", _set({}, "linux", "seccomp")),
    ("seccomp rule without names", _set({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]},
                                        "linux", "seccomp")),
    ("seccomp rule with names []", _set({"defaultAction": "SCMP_ACT_ALLOW",
                                         "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}, "linux", "seccomp")),
    ("seccomp without defaultAction, with a rule", _set({"syscalls": [SECCOMP_ERRNO_GETPID]}, "linux", "seccomp")),
    ("seccomp rule without action", _set({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"]}]},
                                         "linux", "seccomp")),
    ("device without major and minor", _set([{"type": "c", "path": "/dev/foo"}], "linux", "devices")),
    ("device without type", _set([{"path": "/dev/foo", "major": 1, "minor": 3}], "linux", "devices")),
    ("annotation with an empty key", _set({"": "x"}, "annotations")),
    ("rootfsPropagation empty", _set("", "linux", "rootfsPropagation")),
    ("rootfsPropagation unknown", _set("bogus", "linux", "rootfsPropagation")),
    ("device rule with type \"\"", _set([{"allow": False, "type": "", "access": "rwm"}],
                                        "linux", "resources", "devices")),
    ("device rule without access", _set([{"allow": False}], "linux", "resources", "devices")),
    ("maskedPaths relative", _set(["proc/kcore"], "linux", "maskedPaths")),
    ("readonlyPaths relative", _set(["proc/sys"], "linux", "readonlyPaths")),
    ("uidMappings without a user namespace", _set([{"containerID": 0, "hostID": 0, "size": 1}],
                                                  "linux", "uidMappings")),
    # what runc refuses
    ("no process", _drop("process")),
    ("no root", _drop("root")),
    ("no cwd", _drop("process", "cwd")),
    ("cwd empty", _set("", "process", "cwd")),
    ("cwd relative", _set("tmp", "process", "cwd")),
    ("no args", _drop("process", "args")),
    ("args []", _set([], "process", "args")),
    ("args ['']", _set([""], "process", "args")),
    ("env entry without =", _set(["FOO"], "process", "env")),
    ("env entry without a name", _set(["=x"], "process", "env")),
    ("rlimit type unknown", _set("RLIMIT_FOO", "process", "rlimits", 0, "type")),
    ("rlimit without type", _drop("process", "rlimits", 0, "type")),
    ("rlimit soft above hard", _set([{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}], "process", "rlimits")),
    ("oomScoreAdj 1001", _set(1001, "process", "oomScoreAdj")),
    ("oomScoreAdj -1001", _set(-1001, "process", "oomScoreAdj")),
    ("oomScoreAdj 500", _set(500, "process", "oomScoreAdj")),
    ("ociVersion a number", _set(1, "ociVersion")),
    ("hostname without a UTS namespace", _both(_without_ns("uts"), _set("h", "hostname"))),
    ("no hostname, no UTS namespace", _without_ns("uts")),
    ("hostname empty", _set("", "hostname")),
    ("no namespaces", _drop("linux", "namespaces")),
    ("namespace unknown", _set([{"type": "foo"}], "linux", "namespaces")),
    ("namespace twice", _add_ns({"type": "pid"})),
    ("namespace without type", _add_ns({})),
    ("no mount namespace", _without_ns("mount")),
    ("hook timeout 0", _set({"prestart": [{"path": "/bin/true", "timeout": 0}]}, "hooks")),
    ("hook without path", _set({"prestart": [{}]}, "hooks")),
    ("capability unknown", _set(["CAP_FOO"], "process", "capabilities", "bounding")),
    ("no capabilities", _drop("process", "capabilities")),
    ("no env", _drop("process", "env")),
    ("env entry twice", _set(["A=1", "A=2"], "process", "env")),
    ("terminal without a console socket", _set(True, "process", "terminal")),
    # sysctl: runc's validator (libcontainer/configs/validate)
    ("sysctl ipc", _set({"kernel.shmmax": "1000000"}, "linux", "sysctl")),
    ("sysctl mqueue", _set({"fs.mqueue.msg_max": "11"}, "linux", "sysctl")),
    ("sysctl ipc without an ipc namespace", _both(_without_ns("ipc"),
                                                  _set({"kernel.msgmax": "8192"}, "linux", "sysctl"))),
    ("sysctl net", _set({"net.ipv4.ip_forward": "1"}, "linux", "sysctl")),
    ("sysctl net, slash form", _set({"net/ipv4/ip_forward": "1"}, "linux", "sysctl")),
    ("sysctl net without a network namespace", _both(_without_ns("network"),
                                                     _set({"net.ipv4.ip_forward": "1"}, "linux", "sysctl"))),
    ("sysctl net in the host's network namespace by path",
     _both(_without_ns("network"), _add_ns({"type": "network", "path": "/proc/self/ns/net"}),
           _set({"net.ipv4.ip_forward": "0"}, "linux", "sysctl"))),
    ("sysctl net, netns path missing", _both(_without_ns("network"),
                                             _add_ns({"type": "network", "path": "/nonexistent"}),
                                             _set({"net.ipv4.ip_forward": "1"}, "linux", "sysctl"))),
    ("sysctl kernel.hostname", _set({"kernel.hostname": "h"}, "linux", "sysctl")),
    ("sysctl kernel.hostname, same as hostname", _both(_set("h", "hostname"),
                                                       _set({"kernel.hostname": "h"}, "linux", "sysctl"))),
    ("sysctl kernel.domainname", _set({"kernel.domainname": "d"}, "linux", "sysctl")),
    ("sysctl kernel.domainname without a UTS namespace", _both(_without_ns("uts"),
                                                               _set({"kernel.domainname": "d"}, "linux", "sysctl"))),
    ("sysctl not namespaced", _set({"kernel.pid_max": "32768"}, "linux", "sysctl")),
    ("sysctl vm", _set({"vm.swappiness": "10"}, "linux", "sysctl")),
]

# runc 1.1.5 does not know these fields or namespaces (it ignores the fields); pyrunc
# checks them as runc 1.2 does, with its words; and the other deliberate differences of
# README.md: (name, edit, runc exits 0, pyrunc exits 0)
DIFFERENT = [
    ("time namespace", _add_ns({"type": "time"}), False, True),
    ("timeOffsets without a time namespace", _set({"monotonic": {"secs": 1}}, "linux", "timeOffsets"), True, False),
    ("domainname without a UTS namespace", _both(_without_ns("uts"), _set("d", "domainname")), True, False),
    ("personality without domain", _set({}, "linux", "personality"), True, False),
    # runc 1.1.5 refuses every seccomp flag ("not yet supported"); pyrunc applies them
    ("seccomp flags", _set({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"]},
                           "linux", "seccomp"), False, True),
    # runc 1.1.5 makes a node over the rootfs, ignores the failure and allows the device
    # in the cgroup: pyrunc names the missing path
    ("device without path", _set([{"type": "c", "major": 1, "minor": 3}], "linux", "devices"), True, False),
    # the spec: a hook's path is absolute; runc 1.1.5 runs a relative one from its working
    # directory of the moment (the bundle's for create's hooks)
    ("hook with a relative path", _set({"prestart": [{"path": "rootfs/bin/true"}]}, "hooks"), True, False),
]


def _config(edit):
    cfg = harness.base_config()
    cfg["process"]["args"] = ["/bin/true"]
    out = edit(cfg)
    return cfg if out is None else out


class Verdicts:
    """create + delete --force of one config under one runtime: (exit code, stderr lines)."""

    def __init__(self, rt, bundle):
        self.rt = rt
        self.bundle = bundle

    def __call__(self, cfg):
        harness.write_config(self.bundle, cfg)
        cid = harness.new_id("conf")
        r = self.rt.create(cid, self.bundle)
        if cid in self.rt.containers():
            self.rt.delete(cid, force=True, check=True)
        harness.reap()
        if r.returncode != 0:
            assert cid not in self.rt.containers(), f"{self.rt.name}: a refused create left its state dir"
        return r.returncode, [line for line in r.stderr.splitlines() if line.strip()]


@pytest.fixture
def verdicts(runc, pyrunc, tmp_path, probe):
    out = {}
    for rt in (runc, pyrunc):
        bundle = tmp_path / f"bundle-{rt.name}"
        harness.make_bundle(bundle)
        out[rt.name] = Verdicts(rt, bundle)
    return out


def _same(verdicts, name, cfg):
    rc_runc, err_runc = verdicts["runc"](cfg)
    rc_py, err_py = verdicts["pyrunc"](copy.deepcopy(cfg))
    assert (rc_runc == 0) == (rc_py == 0), (f"{name}: runc exit {rc_runc}, pyrunc exit {rc_py}\n"
                                            f"runc: {err_runc}\npyrunc: {err_py}")
    if rc_py != 0:
        assert rc_py == 1 and len(err_py) == 1, f"{name}: pyrunc refused with {err_py!r}"
    return err_runc, err_py


def test_same_verdict_as_runc(verdicts):
    for name, edit in CASES:
        _same(verdicts, name, _config(edit))


# runc's words, where pyrunc uses them (a line of runc's after "runc create failed: ")
HOSTNAME_SYSCTL = 'sysctl \\"kernel.hostname\\" is not allowed as it conflicts with the OCI \\"hostname\\" field'
RUNC_WORDS = {
    "hostname without a UTS namespace": "unable to set hostname without a private UTS namespace",
    "sysctl kernel.hostname": HOSTNAME_SYSCTL,
    "sysctl kernel.hostname, same as hostname": HOSTNAME_SYSCTL,
    "sysctl ipc without an ipc namespace": 'sysctl \\"kernel.msgmax\\" is not allowed in the hosts ipc namespace',
    "sysctl net without a network namespace": 'sysctl \\"net.ipv4.ip_forward\\" not allowed in host network namespace',
    "sysctl net in the host's network namespace by path":
        'sysctl \\"net.ipv4.ip_forward\\" not allowed in host network namespace',
    "sysctl net, netns path missing": "invalid netns path: stat /nonexistent: no such file or directory",
    "sysctl kernel.domainname without a UTS namespace":
        'sysctl \\"kernel.domainname\\" is not in a separate kernel namespace',
    "sysctl not namespaced": 'sysctl \\"kernel.pid_max\\" is not in a separate kernel namespace',
    "sysctl vm": 'sysctl \\"vm.swappiness\\" is not in a separate kernel namespace',
}


def test_refusals_in_runcs_words(verdicts):
    table = dict(CASES)
    for name, words in RUNC_WORDS.items():
        err_runc, err_py = _same(verdicts, name, _config(table[name]))
        assert words in err_runc[-1], f"runc itself: {err_runc}"
        assert words in err_py[-1], f"{name}: {err_py}"


def test_deliberate_differences(verdicts):
    for name, edit, runc_ok, pyrunc_ok in DIFFERENT:
        cfg = _config(edit)
        rc_runc, err_runc = verdicts["runc"](cfg)
        rc_py, err_py = verdicts["pyrunc"](copy.deepcopy(cfg))
        assert (rc_runc == 0) == runc_ok, f"{name}: runc itself, exit {rc_runc}: {err_runc}"
        assert (rc_py == 0) == pyrunc_ok, f"{name}: pyrunc exit {rc_py}: {err_py}"
        if not pyrunc_ok:
            assert rc_py == 1 and len(err_py) == 1, f"{name}: {err_py!r}"


# the generated set: each case combines 1 to 3 of these edits
MUTATIONS = [
    ("drop gid", _drop("process", "user", "gid")),
    ("drop uid", _drop("process", "user", "uid")),
    ("user {}", _set({}, "process", "user")),
    ("drop ociVersion", _drop("ociVersion")),
    ("rlimits core bare", _set([{"type": "RLIMIT_CORE"}], "process", "rlimits")),
    ("rlimits nofile twice", _set([{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
                                   {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}], "process", "rlimits")),
    ("rlimits soft>hard", _set([{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}], "process", "rlimits")),
    ("rlimit unknown", _set([{"type": "RLIMIT_X", "soft": 1, "hard": 1}], "process", "rlimits")),
    ("consoleSize {}", _set({}, "process", "consoleSize")),
    ("pids {}", _set({}, "linux", "resources", "pids")),
    ("devices allow missing", _set([{"access": "rwm"}], "linux", "resources", "devices")),
    ("seccomp {}", _set({}, "linux", "seccomp")),
    ("seccomp no names", _set({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]},
                              "linux", "seccomp")),
    ("seccomp no default", _set({"syscalls": [SECCOMP_ERRNO_GETPID]}, "linux", "seccomp")),
    ("annotations empty key", _set({"": ""}, "annotations")),
    ("propagation empty", _set("", "linux", "rootfsPropagation")),
    ("drop cwd", _drop("process", "cwd")),
    ("cwd relative", _set("x", "process", "cwd")),
    ("args []", _set([], "process", "args")),
    ("env no =", _set(["X"], "process", "env")),
    ("drop hostname", _drop("hostname")),
    ("no uts", _without_ns("uts")),
    ("no ipc", _without_ns("ipc")),
    ("no net", _without_ns("network")),
    ("no mnt", _without_ns("mount")),
    ("hostname h", _set("h", "hostname")),
    ("sysctl shm", _set({"kernel.shmmni": "4096"}, "linux", "sysctl")),
    ("sysctl net", _set({"net.ipv4.ping_group_range": "0 0"}, "linux", "sysctl")),
    ("sysctl hostname", _set({"kernel.hostname": "x"}, "linux", "sysctl")),
    ("sysctl domainname", _set({"kernel.domainname": "x"}, "linux", "sysctl")),
    ("oom 1000", _set(1000, "process", "oomScoreAdj")),
    ("oom 2000", _set(2000, "process", "oomScoreAdj")),
    ("caps unknown", _set(["CAP_NOPE", "CAP_KILL"], "process", "capabilities", "effective")),
    ("no caps", _drop("process", "capabilities")),
    ("uidMappings", _set([{"containerID": 0, "hostID": 1000, "size": 1}], "linux", "uidMappings")),
    ("device c bare", _set([{"type": "c", "path": "/dev/x0"}], "linux", "devices")),
]
GENERATED = 60
SEED = 12


def generated_cases(n=GENERATED, seed=SEED):
    rng = random.Random(seed)
    for _ in range(n):
        picked = rng.sample(MUTATIONS, rng.randint(1, 3))
        yield " + ".join(name for name, _ in picked), _both(*(edit for _, edit in picked))


def test_generated_configs_same_verdict_as_runc(verdicts):
    for name, edit in generated_cases():
        _same(verdicts, name, _config(edit))


@pytest.mark.parametrize("sysctl, path", [
    ({"net.ipv4.ip_forward": "1"}, "/proc/sys/net/ipv4/ip_forward"),
    ({"net/ipv4/ip_forward": "1"}, "/proc/sys/net/ipv4/ip_forward"),
    ({"kernel.shmmni": "1234"}, "/proc/sys/kernel/shmmni"),
    ({"kernel.domainname": "dom.example"}, "/proc/sys/kernel/domainname"),
])
def test_allowed_sysctls_are_what_the_process_reads(compare, bundle_factory, sysctl, path):
    sbs = compare(lambda d: bundle_factory(d, ["/bin/cat", path], linux={"sysctl": sysctl}))
    harness.assert_same(sbs)
    assert sbs.pyrunc.stdout.strip() == next(iter(sysctl.values()))
