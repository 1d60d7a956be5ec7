"""JSON without the `json` package: its import costs ~12 ms through `re` and `enum`,
while the C scanner and encoder in `_json` need neither.

Output follows Go's encoding/json, because callers compare with runc's bytes: HTML
characters escaped as \\u003c, non-ASCII kept as UTF-8, `MarshalIndent` layout.
"""
import _json


class _BadConstant(Exception):
    pass


def _finite_float(text):
    v = float(text)
    if v - v != 0.0:  # inf: Go's decoder refuses a number out of range
        raise _BadConstant(text)
    return v


class _Ctx:
    # the attributes _json.make_scanner reads
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = staticmethod(_finite_float)
    parse_int = int
    memo = None

    @staticmethod
    def parse_constant(name):
        raise _BadConstant(name)


_scan = _json.make_scanner(_Ctx())
_WS = " \t\n\r"


class JSONError(ValueError):
    def __init__(self, msg, doc, pos):
        line = doc.count("\n", 0, pos) + 1
        col = pos - doc.rfind("\n", 0, pos)
        super().__init__("%s at line %d column %d" % (msg, line, col))
        self.pos = pos


def loads(text):
    """Parse one JSON document; JSONError names what is wrong and where."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise JSONError("invalid UTF-8", "", 0) from e
    i = 0
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    if i == n:
        raise JSONError("unexpected end of JSON input", text, i)
    try:
        obj, end = _scan(text, i)
    except RecursionError:
        raise JSONError("nested too deeply", text, i) from None
    except _BadConstant as e:
        bad = e.args[0]
        if bad[:1] in "-0123456789":
            raise JSONError("number %s out of range" % bad, text, text.find(bad, i)) from None
        raise JSONError("invalid character '%s'" % bad[:1], text, text.find(bad, i)) from None
    except (StopIteration, SystemError, ValueError):
        # _json only reports errors once json.decoder is imported: pay for it here only
        import json.decoder

        try:
            obj, end = _scan(text, i)
        except StopIteration as e:
            pos = e.value
            raise JSONError("unexpected end of JSON input" if pos >= n else "invalid character", text, pos) from None
        except json.decoder.JSONDecodeError as e:
            msg = e.msg
            if e.pos >= n or msg.startswith("Unterminated"):
                msg = "unexpected end of JSON input"
            raise JSONError(msg[:1].lower() + msg[1:], text, e.pos) from None
    while end < n and text[end] in _WS:
        end += 1
    if end != n:
        raise JSONError("invalid character after top-level value", text, end)
    return obj


_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
    "\b": "\\u0008",
    "\f": "\\u000c",
}


def go_string(s):
    """A JSON string literal as Go's encoding/json writes it."""
    if not s.isascii():
        # a lone surrogate (from a "\ud800" escape) is not UTF-8: Go writes U+FFFD
        if _has_surrogate(s):
            s = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in s)
    out = _json.encode_basestring(s)
    if "<" in s or ">" in s or "&" in s or "\u2028" in s or "\u2029" in s or "\b" in s or "\f" in s:
        parts = []
        for ch in s:
            esc = _GO_ESCAPES.get(ch)
            parts.append(esc if esc else _json.encode_basestring(ch)[1:-1])
        out = '"' + "".join(parts) + '"'
    return out


def _has_surrogate(s):
    try:
        s.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _compact(obj, out):
    if obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, str):
        out.append(go_string(obj))
    elif isinstance(obj, int):
        out.append(str(int(obj)))
    elif isinstance(obj, float):
        out.append(repr(obj) if obj != int(obj) or abs(obj) >= 1e21 else str(int(obj)))
    elif isinstance(obj, dict):
        out.append("{")
        first = True
        for k, v in obj.items():
            if not first:
                out.append(",")
            first = False
            out.append(go_string(str(k)))
            out.append(":")
            _compact(v, out)
        out.append("}")
    else:
        out.append("[")
        for i, v in enumerate(obj):
            if i:
                out.append(",")
            _compact(v, out)
        out.append("]")


# pyrunc's own file (the config's copy), which only pyrunc reads: _json's C
# encoder, 3-4 times faster than Go's layout below; every non-ASCII character escaped, so
# that a lone surrogate from a "\ud800" escape in config.json reads back as itself
_private = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ":", ",", False, False, False)


def dumps_private(obj):
    """Compact JSON for pyrunc's own files (not Go's bytes: never printed)."""
    return "".join(_private(obj, 0))


def dumps(obj):
    """Compact JSON (json.Marshal)."""
    out = []
    _compact(obj, out)
    return "".join(out)


def _indent(obj, out, pad, step):
    if isinstance(obj, dict) and obj:
        inner = pad + step
        out.append("{\n")
        n = len(obj)
        for i, (k, v) in enumerate(obj.items()):
            out.append(inner)
            out.append(go_string(str(k)))
            out.append(": ")
            _indent(v, out, inner, step)
            out.append(",\n" if i < n - 1 else "\n")
        out.append(pad + "}")
    elif isinstance(obj, (list, tuple)) and obj:
        inner = pad + step
        out.append("[\n")
        n = len(obj)
        for i, v in enumerate(obj):
            out.append(inner)
            _indent(v, out, inner, step)
            out.append(",\n" if i < n - 1 else "\n")
        out.append(pad + "]")
    else:
        _compact(obj, out)


def dumps_indent(obj, step="  "):
    """Indented JSON (json.MarshalIndent(obj, "", step)), no trailing newline."""
    out = []
    _indent(obj, out, "", step)
    return "".join(out)
