"""Values the type checker reads as Go's decoder reads them, or refuses where C would
get them wrong: null is absent, floats are not integers, NUL bytes and lone surrogates
are refused, numbers out of range are invalid JSON. Each was found by the fuzzer."""
import copy

import pytest

from pyrunc import jsonio
from pyrunc.errors import ConfigError
from pyrunc.spec import default, load


def base():
    return copy.deepcopy(default.spec())


def check(doc):
    return load.check(doc)


def refused(doc):
    with pytest.raises(ConfigError) as e:
        check(doc)
    return str(e.value)


def test_null_in_an_optional_field_is_absent():
    doc = base()
    doc["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE", "valueTwo": None}]}]}
    doc["process"]["user"]["umask"] = None
    out = check(doc)
    assert "valueTwo" not in out["linux"]["seccomp"]["syscalls"][0]["args"][0]
    assert "umask" not in out["process"]["user"]


def test_null_in_a_required_field_is_refused():
    doc = base()
    doc["process"]["cwd"] = None
    assert 'missing required field "cwd"' in refused(doc)


@pytest.mark.parametrize("where, setter", [
    ("process.user.uid", lambda d: d["process"]["user"].__setitem__("uid", 0.0)),
    ("linux.resources.memory.limit",
     lambda d: d["linux"]["resources"].__setitem__("memory", {"limit": 1048576.0})),
])
def test_a_float_is_not_an_integer(where, setter):
    doc = base()
    setter(doc)
    msg = refused(doc)
    assert where in msg and "expected integer, got number" in msg, msg


@pytest.mark.parametrize("field", ["cwd", "hostname"])
def test_nul_byte_refused(field):
    doc = base()
    if field == "cwd":
        doc["process"]["cwd"] = "/tmp\u0000/../etc"
    else:
        doc["hostname"] = "a\u0000b"
    assert "must not contain a NUL byte" in refused(doc)


def test_lone_surrogate_refused_in_values_and_keys():
    doc = jsonio.loads(jsonio.dumps(base()).replace('"runc"', '"r\\ud800"'))
    msg = refused(doc)
    assert "hostname" in msg and "lone surrogate" in msg, msg
    doc = base()
    doc["annotations"] = {"k\ud800": "v"}
    assert "annotations" in refused(doc)


def test_lone_surrogate_written_as_replacement_character():
    assert jsonio.dumps({"x": "a\ud800b"}) == '{"x":"a\ufffdb"}'


def test_number_out_of_range_is_invalid_json():
    with pytest.raises(jsonio.JSONError) as e:
        jsonio.loads('{"x": 1e999}')
    assert "out of range" in str(e.value)
    assert jsonio.loads('{"x": 1.5e3}') == {"x": 1500.0}


# runc decodes config.json into runtime-spec's Go structs: a field the spec requires but
# the struct has no validation for is read as Go's zero value when absent. pyrunc takes
# them the same way (create); `strict` (pyrunc validate) refuses them as the schema does.
GO_ZERO = [
    ("ociVersion", lambda d: d.pop("ociVersion"), lambda d: d["ociVersion"] == ""),
    ("process.user.gid", lambda d: d["process"]["user"].pop("gid"), lambda d: d["process"]["user"]["gid"] == 0),
    ("process.user.uid", lambda d: d["process"]["user"].update(uid=None),
     lambda d: d["process"]["user"]["uid"] == 0),
    ("process.user", lambda d: d["process"].__setitem__("user", {"umask": 18}),
     lambda d: (d["process"]["user"]["uid"], d["process"]["user"]["gid"]) == (0, 0)),
    ("process.consoleSize", lambda d: d["process"].__setitem__("consoleSize", {"width": 80}),
     lambda d: d["process"]["consoleSize"] == {"width": 80, "height": 0}),
    ("process.rlimits[0]", lambda d: d["process"].__setitem__("rlimits", [{"type": "RLIMIT_CORE"}]),
     lambda d: d["process"]["rlimits"][0] == {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}),
    ("linux.resources.devices[0].allow",
     lambda d: d["linux"]["resources"]["devices"][0].pop("allow"),
     lambda d: d["linux"]["resources"]["devices"][0]["allow"] is False),
    ("linux.resources.pids", lambda d: d["linux"]["resources"].__setitem__("pids", {}),
     lambda d: d["linux"]["resources"]["pids"] == {}),
    ("linux.seccomp", lambda d: d["linux"].__setitem__("seccomp", {}), lambda d: "seccomp" not in d["linux"]),
    ("linux.seccomp.syscalls[0].names",
     lambda d: d["linux"].__setitem__("seccomp", {"defaultAction": "SCMP_ACT_ALLOW",
                                                  "syscalls": [{"action": "SCMP_ACT_ERRNO"}]}),
     lambda d: d["linux"]["seccomp"]["syscalls"][0]["names"] == []),
    ("linux.rootfsPropagation", lambda d: d["linux"].__setitem__("rootfsPropagation", ""),
     lambda d: d["linux"]["rootfsPropagation"] == ""),
    ("annotations", lambda d: d.__setitem__("annotations", {"": "x"}), lambda d: d["annotations"] == {"": "x"}),
    ("linux.devices[0]", lambda d: d["linux"].__setitem__("devices", [{"type": "c", "path": "/dev/x"}]),
     lambda d: "major" not in d["linux"]["devices"][0]),
    ("linux.resources.devices[0].type", lambda d: d["linux"]["resources"]["devices"][0].update(type=""),
     lambda d: d["linux"]["resources"]["devices"][0]["type"] == ""),
    ("linux.maskedPaths[0]", lambda d: d["linux"].__setitem__("maskedPaths", ["proc/kcore"]),
     lambda d: d["linux"]["maskedPaths"] == ["proc/kcore"]),
]


@pytest.mark.parametrize("where, mutate, read", GO_ZERO, ids=[c[0] for c in GO_ZERO])
def test_an_absent_field_go_reads_as_zero_is_taken_as_zero(where, mutate, read):
    doc = base()
    doc["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    mutate(doc)
    strict = copy.deepcopy(doc)
    assert read(check(doc))
    with pytest.raises(ConfigError) as e:
        load.check(strict, strict=True)
    assert where.rsplit(".", 1)[-1].split("[")[0] in str(e.value)


def test_rlimits_of_one_type_twice_are_both_set():
    doc = base()
    doc["process"]["rlimits"] = [{"type": "RLIMIT_CORE", "soft": 1, "hard": 1},
                                 {"type": "RLIMIT_CORE", "soft": 0, "hard": 1}]
    assert len(check(doc)["process"]["rlimits"]) == 2


@pytest.mark.parametrize("mutate, where", [
    # no default action but rules: runc cannot convert "" to an action
    (lambda d: d["linux"].__setitem__("seccomp", {"syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]}),
     "linux.seccomp"),
    (lambda d: d["process"]["rlimits"].__setitem__(0, {"type": "RLIMIT_CORE", "soft": 1}),
     "process.rlimits[0]"),
    (lambda d: d["process"]["rlimits"].__setitem__(0, {"soft": 1, "hard": 1}), "process.rlimits[0]"),
    (lambda d: d["process"].pop("cwd"), "process"),
    (lambda d: d["root"].pop("path"), "root"),
])
def test_what_runc_refuses_stays_refused(mutate, where):
    doc = base()
    mutate(doc)
    with pytest.raises(ConfigError) as e:
        check(doc)
    assert e.value.path == where, str(e.value)
