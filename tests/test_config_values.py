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
