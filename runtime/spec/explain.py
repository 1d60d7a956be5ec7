"""Every problem of a config.json (or an exec --process file) against schema.json, as
(json_path, message) pairs: `pyrunc validate` and the tests use it; `create` does not.

Paths read like `linux.namespaces[2].type` (the root is ""); messages are short lower
case phrases. jsonschema (a 100+ ms import) is imported inside the functions only, so
importing this module costs nothing; the compiled validators are cached.
"""
import os

SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema.json")

_schema = None
_validators = {}

# A message per pattern of schema.json; a value that fails one is shown with it.
_PATTERNS = {
    "^/": 'must be an absolute path, got "%s"',
    "^(/|$)": 'must be an absolute path, got "%s"',
    "^[0-9, -]*$": 'invalid cpu list "%s" (expected numbers, ranges and commas, like "0-3,7")',
    "^[rwm]*$": 'invalid access "%s" (expected a combination of r, w and m)',
}


def load_schema():
    """schema.json as a dict (read once)."""
    global _schema
    if _schema is None:
        import json

        with open(SCHEMA_FILE) as f:
            _schema = json.load(f)
    return _schema


def _validator(kind):
    v = _validators.get(kind)
    if v is None:
        from jsonschema import Draft202012Validator

        schema = load_schema()
        if kind == "process":
            # The same definitions, rooted at the process object (null is no process file).
            schema = {"$schema": schema["$schema"], "type": "object", "$ref": "#/$defs/process",
                      "$defs": schema["$defs"]}
        v = _validators[kind] = Draft202012Validator(schema)
    return v


def explain(doc):
    """Every problem of a parsed config.json: [(json_path, message)], sorted by path."""
    return _explain(_validator("config"), doc)


def explain_process(doc):
    """The same for a parsed process.json (`exec --process`), checked as config's process."""
    return _explain(_validator("process"), doc)


def format_problem(path, message, source="config.json"):
    """`config.json: linux.namespaces[2].type: unknown value ...` (no path at the root)."""
    if path:
        return "%s: %s: %s" % (source, path, message)
    return "%s: %s" % (source, message)


def json_path(parts):
    """("linux", "namespaces", 2, "type") -> "linux.namespaces[2].type"."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += "[%d]" % p
        else:
            out = p if not out else out + "." + p
    return out


def _explain(validator, doc):
    found = []
    for err in validator.iter_errors(doc):
        parts = list(err.absolute_path)
        for extra, message in _describe(err):
            found.append((parts + extra, message))
    # A value of the wrong type is reported once, not again for its enum or pattern.
    wrong_type = {tuple(parts) for parts, m in found if m.startswith("expected ")}
    problems = set()
    for parts, message in found:
        if tuple(parts) in wrong_type and not message.startswith("expected "):
            continue
        problems.add((tuple(_sort_key(p) for p in parts), json_path(parts), message))
    return [(path, message) for _, path, message in sorted(problems)]


def _sort_key(part):
    # Indexes sort as numbers ([2] before [10]); keys by name.
    return (0, part, "") if isinstance(part, int) else (1, 0, part)


def _describe(err):
    """[(extra path parts, message)] for one jsonschema error."""
    kind = err.validator
    value = err.validator_value
    inst = err.instance
    schema_path = list(err.schema_path)
    if len(schema_path) >= 2 and schema_path[-2] == "propertyNames":
        # jsonschema reports a bad key at the object; name the key itself.
        if kind == "enum":
            return [([inst], "unknown key (expected one of: %s)" % _choices(value))]
        if kind == "minLength":
            return [([], "keys must not be empty")]
        return [([inst], "invalid key: " + err.message)]
    if kind == "type":
        expected = [t for t in ([value] if isinstance(value, str) else value) if t != "null"]
        return [([], "expected %s, got %s" % (" or ".join(expected), _type_name(inst)))]
    if kind == "required":
        return [([], 'missing required field "%s"' % name) for name in value
                if isinstance(inst, dict) and name not in inst]
    if kind == "enum":
        shown = '"%s"' % inst if isinstance(inst, str) else _short(inst)
        return [([], "unknown value %s (expected one of: %s)" % (shown, _choices(value)))]
    if kind == "minimum":
        return [([], "must be >= %d" % value)]
    if kind == "maximum":
        return [([], "must be <= %d" % value)]
    if kind in ("minLength", "minItems"):
        return [([], "must not be empty")]
    if kind == "pattern":
        if value in _PATTERNS:
            return [([], _PATTERNS[value] % inst)]
        return [([], '"%s" does not match %s' % (inst, value))]
    if kind == "anyOf" and all(set(s) == {"required"} for s in value):
        names = ", ".join('"%s"' % n for s in value for n in s["required"])
        return [([], "must set at least one of " + names)]
    return [([], _lower_first(err.message))]


def _choices(values):
    return ", ".join(str(v) for v in values if v is not None)


def _type_name(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _short(v):
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _lower_first(text):
    return text[:1].lower() + text[1:]
