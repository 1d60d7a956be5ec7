"""schema.json and pyrunc.spec.explain against config-samples/: every real config is
accepted, every invalid one is rejected at the JSON path named in its .expect file."""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SAMPLES = os.path.join(REPO, "config-samples")


from pyrunc.spec import explain


def _samples(kind):
    d = os.path.join(SAMPLES, kind)
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".json"))


def _load(path):
    with open(path) as f:
        return json.load(f)


def _ids(paths):
    return [os.path.basename(p) for p in paths]


VALID = _samples("valid")
INVALID = _samples("invalid")
PROCESS = _samples("process")


def test_sample_counts():
    assert len(VALID) >= 10
    assert len(INVALID) >= 25
    assert PROCESS


def test_schema_is_valid_2020_12():
    from jsonschema import Draft202012Validator

    schema = explain.load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", VALID, ids=_ids(VALID))
def test_valid_sample_has_no_problem(path):
    assert explain.explain(_load(path)) == []


@pytest.mark.parametrize("path", PROCESS, ids=_ids(PROCESS))
def test_process_sample_has_no_problem(path):
    assert explain.explain_process(_load(path)) == []


@pytest.mark.parametrize("path", INVALID, ids=_ids(INVALID))
def test_invalid_sample_is_rejected_at_its_path(path):
    with open(path[: -len(".json")] + ".expect") as f:
        expect = f.read().splitlines()[0]
    with open(path) as f:
        text = f.read()
    if expect == "<json>":
        with pytest.raises(ValueError):
            json.loads(text)
        return
    problems = explain.explain(json.loads(text))
    assert problems, "no problem found"
    # One defect per file: every problem is at the expected path.
    assert {p for p, _ in problems} == {expect}, problems


def test_every_invalid_sample_has_an_expect_file():
    for path in INVALID:
        assert os.path.exists(path[: -len(".json")] + ".expect"), path


def test_format_problem():
    assert explain.format_problem("linux.namespaces[2].type", 'unknown value "pidd"') == \
        'config.json: linux.namespaces[2].type: unknown value "pidd"'
    assert explain.format_problem("", 'missing required field "ociVersion"') == \
        'config.json: missing required field "ociVersion"'
    assert explain.format_problem("cwd", "x", source="process.json") == "process.json: cwd: x"


def test_messages():
    doc = _load(os.path.join(SAMPLES, "valid", "runc-spec.json"))
    del doc["ociVersion"]
    doc["linux"]["namespaces"][2]["type"] = "pidd"
    doc["process"]["user"]["uid"] = -1
    doc["process"]["args"] = ["sh", 1]
    doc["process"]["rlimits"][0]["hard"] = "1024"
    assert explain.explain(doc) == [
        ("", 'missing required field "ociVersion"'),
        ("linux.namespaces[2].type",
         'unknown value "pidd" (expected one of: pid, network, mount, ipc, uts, user, cgroup, time)'),
        ("process.args[1]", "expected string, got integer"),
        ("process.rlimits[0].hard", "expected integer, got string"),
        ("process.user.uid", "must be >= 0"),
    ]
    for _, message in explain.explain(doc):
        assert message == message.strip() and not message.endswith(".")


def test_paths_sort_indexes_as_numbers():
    doc = {"ociVersion": "1.0.0", "linux": {"namespaces": [{"type": "pid"}] * 12}}
    doc["linux"]["namespaces"] = [dict(n) for n in doc["linux"]["namespaces"]]
    doc["linux"]["namespaces"][10]["type"] = 10
    doc["linux"]["namespaces"][2]["type"] = 2
    assert [p for p, _ in explain.explain(doc)] == ["linux.namespaces[2].type", "linux.namespaces[10].type"]


def test_not_an_object():
    assert explain.explain([]) == [("", "expected object, got array")]


def test_null_means_not_set_for_optional_fields_only():
    doc = {"ociVersion": "1.0.0", "hostname": None, "mounts": None, "annotations": None,
           "process": {"cwd": "/", "args": ["sh"], "env": None, "user": {"uid": 0, "gid": 0, "umask": None}},
           "linux": {"resources": {"memory": {"limit": None}}, "rootfsPropagation": None, "seccomp": None}}
    assert explain.explain(doc) == []
    doc["process"]["user"]["uid"] = None
    doc["process"]["cwd"] = None
    assert explain.explain(doc) == [("process.cwd", "expected string, got null"),
                                    ("process.user.uid", "expected integer, got null")]


def test_intel_rdt_schemata_string_and_array():
    # runtime-spec 1.2 has one string, 1.3 an array of lines.
    for schemata in ("L3:0=7f0;1=1f\nMB:0=20;1=70", ["L3:0=7f0;1=1f", "MB:0=20;1=70"]):
        assert explain.explain({"ociVersion": "1.2.0", "linux": {"intelRdt": {"schemata": schemata}}}) == []
    assert explain.explain({"ociVersion": "1.3.0", "linux": {"intelRdt": {"schemata": ["L3:0=ff", 3]}}}) == \
        [("linux.intelRdt.schemata[1]", "expected string, got integer")]


def test_unknown_properties_are_allowed():
    doc = _load(os.path.join(SAMPLES, "valid", "runc-spec.json"))
    doc["vendorExtension"] = {"anything": [1, 2]}
    doc["process"]["x-debug"] = True
    doc["linux"]["resources"]["memory"] = {"limit": 1 << 20, "futureKnob": "on"}
    assert explain.explain(doc) == []


def test_process_file_must_be_an_object():
    assert explain.explain_process(None) == [("", "expected object, got null")]
    assert explain.explain_process({"args": ["true"]}) == [("", 'missing required field "cwd"')]


def _run(code):
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def test_import_does_not_load_jsonschema():
    assert _run("import sys, pyrunc.spec.explain; print('jsonschema' in sys.modules)") == "False"
    # ...but explaining does (so the check above means something).
    assert _run("import sys, pyrunc.spec.explain as e; e.explain({'ociVersion': '1'}); "
                "print('jsonschema' in sys.modules)") == "True"
