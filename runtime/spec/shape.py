"""A small, fast type checker for JSON documents with JSON-path errors.

The loader checks every config.json with this on the create path, where jsonschema
(a 100+ ms import) cannot go. The shapes mirror schema.json; a test checks that both
accept and reject the same documents.
"""
from pyrunc.errors import ConfigError

INT64 = (-(1 << 63), (1 << 63) - 1)
UINT64 = (0, (1 << 64) - 1)
UINT32 = (0, (1 << 32) - 1)
UINT16 = (0, (1 << 16) - 1)
INT32 = (-(1 << 31), (1 << 31) - 1)


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


def _lone_surrogate(s):
    try:
        s.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _join(path, key):
    return key if not path else path + "." + key


class Shape:
    def check(self, value, path, strict=False):
        raise NotImplementedError


class Str(Shape):
    """`go_empty`: "" is taken outside `enum` (runc reads it as the field's default),
    except in strict mode."""

    def __init__(self, enum=None, nonempty=False, chars=None, go_empty=False):
        self.go_empty = go_empty
        self.enum = enum
        self.nonempty = nonempty
        self.chars = frozenset(chars) if chars else None  # every character must be one of these

    def check(self, v, path, strict=False):
        if not isinstance(v, str):
            raise ConfigError(path, "expected string, got " + _type_name(v))
        if "\0" in v:
            # C would see the string end there: a path or value cut short
            raise ConfigError(path, "must not contain a NUL byte")
        if not v.isascii() and _lone_surrogate(v):
            raise ConfigError(path, "invalid UTF-8: a lone surrogate escape")
        if self.enum is not None and v not in self.enum and (v or strict or not self.go_empty):
            raise ConfigError(path, 'unknown value "%s" (expected one of: %s)' % (v, ", ".join(self.enum)))
        if self.nonempty and not v:
            raise ConfigError(path, "must not be empty")
        if self.chars is not None and not self.chars.issuperset(v):
            raise ConfigError(path, 'invalid value "%s" (allowed characters: %s)' % (v, "".join(sorted(self.chars))))


class Int(Shape):
    def __init__(self, rng=INT64, minimum=None):
        self.lo, self.hi = rng
        if minimum is not None:
            self.lo = minimum

    def check(self, v, path, strict=False):
        # a float is refused even when integral (1.0), as Go's decoder refuses it for
        # an integer field: the value would reach C as a float
        if not isinstance(v, int) or isinstance(v, bool):
            raise ConfigError(path, "expected integer, got " + _type_name(v))
        if v < self.lo:
            raise ConfigError(path, "must be >= %d" % self.lo)
        if v > self.hi:
            raise ConfigError(path, "must be <= %d" % self.hi)


class Bool(Shape):
    def check(self, v, path, strict=False):
        if not isinstance(v, bool):
            raise ConfigError(path, "expected boolean, got " + _type_name(v))


class Any(Shape):
    def check(self, v, path, strict=False):
        pass


class Arr(Shape):
    """`go_empty`: the spec wants items but runc takes an empty array (strict mode refuses it)."""

    def __init__(self, item, nonempty=False, go_empty=False):
        self.item = item
        self.nonempty = nonempty
        self.go_empty = go_empty

    def check(self, v, path, strict=False):
        if v is None:
            return  # Go decodes null as an empty slice
        if not isinstance(v, list):
            raise ConfigError(path, "expected array, got " + _type_name(v))
        if self.nonempty and not v and (strict or not self.go_empty):
            raise ConfigError(path, "must not be empty")
        item = self.item
        for i, x in enumerate(v):
            item.check(x, "%s[%d]" % (path, i), strict)


class Map(Shape):
    """An object with arbitrary keys and values of one shape."""

    def __init__(self, value, key_enum=None, nonempty_keys=False):
        self.value = value
        self.key_enum = key_enum
        self.nonempty_keys = nonempty_keys

    def check(self, v, path, strict=False):
        if v is None:
            return
        if not isinstance(v, dict):
            raise ConfigError(path, "expected object, got " + _type_name(v))
        for k, x in v.items():
            if self.nonempty_keys and not k and strict:  # runc takes an empty key
                raise ConfigError(path, "keys must not be empty")
            if "\0" in k:
                raise ConfigError(path, "keys must not contain a NUL byte")
            if not k.isascii() and _lone_surrogate(k):
                raise ConfigError(path, "keys must be valid UTF-8")
            if self.key_enum is not None and k not in self.key_enum:
                raise ConfigError(_join(path, k), "unknown key (expected one of: %s)" % ", ".join(self.key_enum))
            self.value.check(x, _join(path, k), strict)


class Obj(Shape):
    """An object with known fields; unknown fields are allowed (engines add some).
    `any_of` names fields of which at least one must be present.

    `go_zero`: required fields that runc reads as Go's zero value when they are absent
    (its decoder fills them; no validation refuses them): the value given here is
    filled in, or None to leave the field absent. `strict` (pyrunc validate, the
    schema agreement tests) refuses them as the spec's schema does."""

    def __init__(self, fields, required=(), any_of=(), go_zero=None):
        self.fields = fields
        self.required = required
        self.any_of = any_of
        self.go_zero = go_zero or {}

    def check(self, v, path, strict=False):
        if not isinstance(v, dict):
            raise ConfigError(path, "expected object, got " + _type_name(v))
        for k in self.required:
            if k not in v or v[k] is None:
                if strict or k not in self.go_zero:
                    raise ConfigError(path, 'missing required field "%s"' % k)
                if self.go_zero[k] is None:
                    v.pop(k, None)
                else:
                    v[k] = self.go_zero[k]
        if self.any_of and not any(v.get(k) is not None for k in self.any_of):
            raise ConfigError(path, "needs one of: " + ", ".join('"%s"' % k for k in self.any_of))
        fields = self.fields
        nulls = None
        for k, x in v.items():
            s = fields.get(k)
            if s is None:
                continue
            if x is None:
                nulls = (nulls or []) + [k]
            else:
                s.check(x, _join(path, k), strict)
        if nulls:
            # null is absent, as for Go's decoder (the field keeps its zero value), so
            # that no later `get(key, default)` sees a None
            for k in nulls:
                del v[k]


class OneOf(Shape):
    """The first shape that accepts the value wins; the last one's error is reported."""

    def __init__(self, *shapes):
        self.shapes = shapes

    def check(self, v, path, strict=False):
        for sh in self.shapes[:-1]:
            try:
                sh.check(v, path, strict)
                return
            except ConfigError:
                pass
        self.shapes[-1].check(v, path, strict)


class Nullable(Shape):
    def __init__(self, inner):
        self.inner = inner

    def check(self, v, path, strict=False):
        if v is not None:
            self.inner.check(v, path, strict)
