"""Flags as Go's flag package and urfave/cli read them: `--flag v`, `--flag=v`,
`-flag v`, `-flag=v`, bool flags with an optional `=true|false`, and (except for exec)
flags after positional arguments moved in front of them.
"""
from pyrunc import errors

BOOL = "bool"
STR = "str"
INT = "int"
LIST = "list"     # repeatable string flag
OPTSTR = "optstr"  # string that may also appear bare (crun's `-t`): not used by runc verbs


class Flag:
    __slots__ = ("name", "kind", "aliases", "default", "help", "placeholder", "hidden")

    def __init__(self, name, kind, aliases=(), default=None, help="", placeholder="value", hidden=False):
        self.name = name
        self.kind = kind
        self.aliases = aliases
        self.default = default
        self.help = help
        self.placeholder = placeholder
        self.hidden = hidden


def _table(flags):
    t = {}
    for f in flags:
        t[f.name] = f
        for a in f.aliases:
            t[a] = f
    return t


def _is_flag(arg):
    return len(arg) > 1 and arg[0] == "-" and arg != "--"


def parse(argv, flags, verb, interspersed=True):
    """-> (dict of flag name -> value, positional args). Raises UsageError with Go's
    wording ("flag provided but not defined: -x", "flag needs an argument: -x")."""
    table = _table(flags)
    values = {}
    for f in flags:
        if f.kind == LIST:
            values[f.name] = list(f.default or ())
        elif f.kind == BOOL:
            values[f.name] = bool(f.default)
        else:
            values[f.name] = f.default
    pos = []
    i = 0
    n = len(argv)
    while i < n:
        arg = argv[i]
        i += 1
        if arg == "--":
            pos.extend(argv[i:])
            break
        if not _is_flag(arg):
            pos.append(arg)
            if not interspersed:
                pos.extend(argv[i:])
                break
            continue
        body = arg[2:] if arg.startswith("--") else arg[1:]
        name, eq, val = body.partition("=")
        f = table.get(name)
        if f is None or name == "":
            raise errors.UsageError("flag provided but not defined: -%s" % name, verb)
        if f.kind == BOOL:
            if eq:
                low = val.lower()
                if low in ("1", "t", "true"):
                    values[f.name] = True
                elif low in ("0", "f", "false"):
                    values[f.name] = False
                else:
                    raise errors.UsageError('invalid boolean value "%s" for -%s' % (val, name), verb)
            else:
                values[f.name] = True
            continue
        if not eq:
            if i >= n:
                raise errors.UsageError("flag needs an argument: -%s" % name, verb)
            val = argv[i]
            i += 1
        if f.kind == INT:
            try:
                v = int(val, 0)
            except ValueError:
                raise errors.UsageError('invalid value "%s" for flag -%s: parse error' % (val, name), verb) from None
            values[f.name] = v
        elif f.kind == LIST:
            values[f.name].append(val)
        else:
            values[f.name] = val
    return values, pos
