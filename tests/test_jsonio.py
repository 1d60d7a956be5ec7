"""JSON without the json package: parsing errors with positions, Go's output shapes."""
import json

import pytest

from pyrunc import jsonio


def test_roundtrip_matches_json():
    doc = {"a": [1, 2.5, "x", None, True, False], "b": {"c": {}}, "u": "é\u2603"}
    assert jsonio.loads(json.dumps(doc)) == doc
    assert json.loads(jsonio.dumps(doc)) == doc


@pytest.mark.parametrize("text,msg", [
    ("{", "unexpected end of JSON input"),
    ("", "unexpected end of JSON input"),
    ('{"a": }', "invalid character"),
    ("{} x", "invalid character after top-level value"),
    ('{"a": NaN}', "invalid character"),
    ("[" * 100000, "nested too deeply"),
])
def test_errors(text, msg):
    with pytest.raises(jsonio.JSONError, match=msg):
        jsonio.loads(text)


def test_error_position():
    with pytest.raises(jsonio.JSONError, match="line 2 column 6"):
        jsonio.loads('{\n "a" 1}')


def test_go_escaping():
    # encoding/json escapes HTML characters and keeps non-ASCII as UTF-8
    assert jsonio.go_string("<a&b>") == '"\\u003ca\\u0026b\\u003e"'
    assert jsonio.go_string("é") == '"é"'
    assert jsonio.go_string("a\nb\tc\b") == '"a\\nb\\tc\\u0008"'
    assert jsonio.go_string('q"\\') == '"q\\"\\\\"'


def test_indent_is_marshalindent():
    assert jsonio.dumps_indent({"a": [1, {}], "b": [], "c": {"d": None}}) == (
        '{\n  "a": [\n    1,\n    {}\n  ],\n  "b": [],\n  "c": {\n    "d": null\n  }\n}')


def test_compact():
    assert jsonio.dumps({"a": [1, "x"], "b": {}}) == '{"a":[1,"x"],"b":{}}'


@pytest.mark.parametrize("obj", [
    {"a": [1, 2.5, None, True, False], "b": {"c": "d"}, "e": []},
    {"non-ascii": "é ü 中", "html": "<&>", "lone surrogate": "\ud800x", "ctl": "\b\f\n\x00"},
    {"big": 2 ** 70, "neg": -3, "float": 1e21, "small": 1e-7, "tuple": (1, "x")},
])
def test_private_files_read_back_as_written(obj):
    """state.json and the config's copy (dumps_private, _json's C encoder): ASCII only,
    and loads gives back exactly what was written (tuples as lists)."""
    text = jsonio.dumps_private(obj)
    assert text.isascii()
    back = jsonio.loads(text.encode("ascii"))
    assert back == json.loads(json.dumps(obj))
