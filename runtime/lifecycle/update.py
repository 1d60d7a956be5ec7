"""update: new resource limits for a live container, from runc's flags or a
LinuxResources JSON (--resources FILE or -), applied on top of the current ones."""
import sys

from pyrunc import errors
from pyrunc.state import store

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(text, flag="memory"):
    """`64m`, `1G`, `512KiB`, `100`: binary multiples, as runc's go-units (v0.4.0)
    RAMInBytes takes them: digits with an optional fraction, one optional space, an
    optional unit letter, then optional "i" and "b"; nothing before or after."""
    s = text
    i = 0
    while i < len(s) and s[i] in "0123456789.":
        i += 1
    number, rest = s[:i], s[i:]
    if rest.startswith(" "):
        rest = rest[1:]
    unit = ""
    if rest[:1].lower() in ("k", "m", "g", "t", "p"):
        unit, rest = rest[0].lower(), rest[1:]
    if rest[:1] in ("i", "I"):
        rest = rest[1:]
    if rest[:1] in ("b", "B"):
        rest = rest[1:]
    parts = number.split(".")
    if rest or not all(p.isdigit() and p.isascii() for p in parts[:1]) or \
            not all(p.isdigit() for p in parts[1:]):
        raise errors.PyruncError("invalid value for %s: invalid size: '%s'" % (flag, text))
    if len(parts) > 2:
        raise errors.PyruncError('invalid value for %s: strconv.ParseFloat: parsing "%s": invalid syntax'
                                 % (flag, number))
    return int(float(number) * _UNITS[unit])


def _int(name, text):
    try:
        return int(text, 10)
    except ValueError:
        raise errors.PyruncError('invalid value for %s: "%s"' % (name, text)) from None


# flag -> (section, field, parser)
FLAGS = {
    "blkio-weight": ("blockIO", "weight", _int),
    "cpu-period": ("cpu", "period", _int),
    "cpu-quota": ("cpu", "quota", _int),
    "cpu-burst": ("cpu", "burst", _int),
    "cpu-share": ("cpu", "shares", _int),
    "cpu-rt-period": ("cpu", "realtimePeriod", _int),
    "cpu-rt-runtime": ("cpu", "realtimeRuntime", _int),
    "cpuset-cpus": ("cpu", "cpus", lambda n, v: v),
    "cpuset-mems": ("cpu", "mems", lambda n, v: v),
    "cpu-idle": ("cpu", "idle", _int),
    # runc: exactly "-1" is no limit; anything else goes to RAMInBytes
    "memory": ("memory", "limit", lambda n, v: -1 if v == "-1" else ram_in_bytes(v, n[2:])),
    "memory-reservation": ("memory", "reservation", lambda n, v: -1 if v == "-1" else ram_in_bytes(v, n[2:])),
    "memory-swap": ("memory", "swap", lambda n, v: -1 if v == "-1" else ram_in_bytes(v, n[2:])),
    "kernel-memory": ("memory", "kernel", lambda n, v: -1 if v == "-1" else ram_in_bytes(v, n[2:])),
    "kernel-memory-tcp": ("memory", "kernelTCP", lambda n, v: -1 if v == "-1" else ram_in_bytes(v, n[2:])),
    "pids-limit": ("pids", "limit", _int),
}


def resources_from_flags(o):
    """The LinuxResources that the flags ask for (only the fields given)."""
    if o.get("resources"):
        src = o["resources"]
        if src == "-":
            data = sys.stdin.buffer.read()
        else:
            try:
                with open(src, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise errors.from_oserror("open " + src, e) from None
        from pyrunc.spec import load

        res = load.parse(data, source="resources")
        load.RESOURCES.check(res, "linux.resources")
        return res
    if o.get("l3-cache-schema") or o.get("mem-bw-schema"):
        raise errors.PyruncError("Intel RDT is not supported by pyrunc")
    res = {}
    for flag, (section, field, parse) in FLAGS.items():
        v = o.get(flag)
        if v:
            value = parse("--" + flag, v)
            if flag == "pids-limit" and value == 0:
                # runc 1.1.5 cannot tell --pids-limit 0 from no flag: nothing changes (a
                # limit of 0 in a --resources file is a limit, as at create)
                continue
            res.setdefault(section, {})[field] = value
    return res


def unlimited_swap_too(new):
    """`--memory -1` without a swap value lifts the memory+swap limit as well (runc:
    an unset swap is 0, and its v1 and v2 drivers read limit -1 with swap 0 as
    "both unlimited"); merged with the current swap limit it would be refused as
    swap below the limit instead."""
    mem = new.get("memory")
    if mem and mem.get("limit") == -1 and not mem.get("swap"):
        mem["swap"] = -1
    return new


def merge(current, new):
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in (current or {}).items()}
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k].update(v)
        else:
            out[k] = v
    return out


def checked_resources(res):
    """A LinuxResources dict from the API, checked as config.json's (a copy: ours to merge)."""
    from pyrunc import jsonio
    from pyrunc.spec import load

    res = jsonio.loads(jsonio.dumps(res))
    if not isinstance(res, dict):
        raise errors.ConfigError("", "expected object", "resources")
    try:
        load.RESOURCES.check(res, "linux.resources")
    except errors.ConfigError as e:
        raise errors.ConfigError(e.path, e.reason, "resources") from None
    return res


def update(root, cid, o, resources=None):
    """`o`: runc's flags (the CLI); or `resources`, a LinuxResources dict (the API)."""
    from pyrunc.cgroups.manager import Manager

    cdir = store.container_dir(root, cid)
    st = store.read_state(cdir)
    with store.Lock(cdir):
        if store.status(cdir, st) == "stopped":
            raise errors.StateError("container not running")
        new = resources_from_flags(o) if resources is None else checked_resources(resources)
        new = unlimited_swap_too(new)
        mem = new.get("memory") or {}
        if mem.get("kernel") or mem.get("kernelTCP"):   # runc: a value of 0 is no value
            from pyrunc import log

            log.warning("Kernel memory settings are ignored and will be removed")
        spec = store.read_config(cdir)
        linux = spec.setdefault("linux", {})
        merged = merge(linux.get("resources"), new)
        # only the sections asked for are written (whole, so that pairs such as quota and
        # period, or swap and limit, stay consistent): as runc, a value changed in the
        # cgroup by other means survives an update of something else
        try:
            Manager.from_state(st).apply({k: merged[k] for k in new}, update=True, devices=False)
        except errors.ConfigError as e:
            raise (e if resources is not None else _from_the_command_line(e, o)) from None
        linux["resources"] = merged
        store.replace_config(cdir, spec)


def _from_the_command_line(e, o):
    """A refused value named as the caller gave it: the flag, or the resources file."""
    if o.get("resources"):
        return errors.ConfigError(e.path, e.reason, "resources" if o["resources"] == "-" else o["resources"])
    for flag, (section, field, _) in FLAGS.items():
        if e.path == "linux.resources.%s.%s" % (section, field) and o.get(flag):
            return errors.PyruncError("--%s: %s" % (flag, e.reason))
    return e
