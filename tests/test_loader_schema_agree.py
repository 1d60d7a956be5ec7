"""The fast loader and the JSON Schema must accept and reject the same documents, and
name the same place: jsonschema is the oracle for the loader on every sample."""
import glob
import json
import os

import pytest

from pyrunc.errors import ConfigError
from pyrunc.spec import explain, load

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(HERE, "..", "config-samples")


def _load(path):
    with open(path, "rb") as f:
        return f.read()


VALID = sorted(glob.glob(os.path.join(SAMPLES, "valid", "*.json")))
INVALID = sorted(glob.glob(os.path.join(SAMPLES, "invalid", "*.json")))


@pytest.mark.parametrize("path", VALID, ids=os.path.basename)
def test_valid_samples_pass_both(path):
    doc = load.parse(_load(path))
    assert explain.explain(doc) == []
    load.check(doc, strict=True)


@pytest.mark.parametrize("path", INVALID, ids=os.path.basename)
def test_invalid_samples_fail_both_at_the_same_path(path):
    with open(path[:-5] + ".expect") as f:
        expected = f.readline().strip()
    if expected == "<json>":
        with pytest.raises(ConfigError) as e:
            load.parse(_load(path))
        assert "invalid JSON" in str(e.value)
        return
    doc = json.loads(_load(path))
    schema_paths = {p for p, _ in explain.explain(doc)}
    assert expected in schema_paths
    with pytest.raises(ConfigError) as e:
        if not isinstance(doc, dict):
            raise ConfigError("", "expected object")
        load.check(doc, strict=True)
    assert e.value.path == expected, str(e.value)


def test_every_invalid_sample_has_an_expectation():
    for path in INVALID:
        assert os.path.exists(path[:-5] + ".expect"), path
    assert len(INVALID) >= 25
