"""linux.resources (and org.systemd.property.* annotations) -> systemd unit properties,
as runc 1.1.5's systemd driver makes them (libcontainer/cgroups/systemd: common.go,
v1.go, v2.go; specconv's initSystemdProps). Pure: no D-Bus here. A property is
(name, (D-Bus signature, value)), the form a(sv) takes in the D-Bus client.

systemd owns what these properties set: the cgroup files it writes from them, and
writes again on a daemon-reload, must agree with what the cgroupfs writes that
follow (manager.apply) put there, so the values are the same conversions.
"""
from pyrunc.cgroups import devices as _devices
from pyrunc.cgroups import resources as _res
from pyrunc.errors import ConfigError

U64_MAX = (1 << 64) - 1      # systemd's "infinity" (and USEC_INFINITY)
DEFAULT_CPU_PERIOD = 100000  # the kernel's default cfs period, in µs


def _prop(name, sig, value):
    return (name, (sig, value))


def _u64(v):
    """Go's uint64(int64): -1 is infinity."""
    return v & U64_MAX


def base_properties(unit, pid, description, version=2):
    """What every unit gets: a scope in its slice with delegation and the init as its
    process, or a slice wanted by its parent; accounting on (the same files as the fs
    driver then exist) and no default dependencies (it must not wait for, or be
    stopped with, anything else). Block I/O accounting is IOAccounting on v2 and
    BlockIOAccounting on v1 (runc's legacy manager), the blkio hierarchy's setting."""
    props = [_prop("Description", "s", description)]
    if unit.is_slice:
        props.append(_prop("Wants", "as", [unit.slice]))
    else:
        props.append(_prop("Slice", "s", unit.slice))
        props.append(_prop("Delegate", "b", True))
    if pid is not None and pid > 0:
        props.append(_prop("PIDs", "au", [pid]))
    io = "IOAccounting" if version == 2 else "BlockIOAccounting"
    for name in ("MemoryAccounting", "CPUAccounting", io, "TasksAccounting"):
        props.append(_prop(name, "b", True))
    props.append(_prop("DefaultDependencies", "b", False))
    return props


def cpu_quota(quota, period, systemd_version):
    """CPUQuotaPeriodUSec (systemd 242+) and CPUQuotaPerSecUSec, rounded up to whole
    percents of a CPU (systemd keeps a percentage: 10 ms steps) so that the quota a
    child writes below is not above what systemd set. quota <= 0 with a period is no
    limit (infinity)."""
    props = []
    if period and systemd_version >= 242:
        props.append(_prop("CPUQuotaPeriodUSec", "t", period))
    if quota or period:
        per_sec = U64_MAX
        if quota > 0:
            per_sec = quota * 1000000 // (period or DEFAULT_CPU_PERIOD)
            if per_sec % 10000:
                per_sec = (per_sec // 10000 + 1) * 10000
        props.append(_prop("CPUQuotaPerSecUSec", "t", per_sec))
    return props


def range_to_bits(text):
    """A cpuset list ("0-3,7") -> the little-endian byte mask systemd's AllowedCPUs and
    AllowedMemoryNodes take (runc's RangeToBits)."""
    bits = 0
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        lo, dash, hi = part.partition("-")
        try:
            start = int(lo)
            end = int(hi) if dash else start
        except ValueError:
            raise ValueError('invalid cpuset range "%s"' % part) from None
        if start < 0 or end < start:
            raise ValueError('invalid cpuset range "%s"' % part)
        for i in range(start, end + 1):
            bits |= 1 << i
    if not bits:
        return b"\0"
    return bits.to_bytes((bits.bit_length() + 7) // 8, "little")


def cpuset(cpus, mems, systemd_version):
    """AllowedCPUs/AllowedMemoryNodes need systemd 244; older ones get the files only."""
    if systemd_version < 244:
        return []
    props = []
    for name, value, path in (("AllowedCPUs", cpus, "cpu.cpus"), ("AllowedMemoryNodes", mems, "cpu.mems")):
        if value:
            try:
                props.append(_prop(name, "ay", range_to_bits(value)))
            except ValueError as e:
                raise ConfigError(_res.P + path, str(e)) from None
    return props


def find_device_group(proc_devices, typ, major):
    """The /proc/devices group name of a major ("char-pts" for c 136): systemd's
    DeviceAllow takes such a name for "every minor of this major"."""
    section = {"c": "Character devices:", "b": "Block devices:"}[typ]
    prefix = {"c": "char-", "b": "block-"}[typ]
    inside = False
    for line in proc_devices.splitlines():
        line = line.strip()
        if not line:
            inside = False
            continue
        if line.endswith(":"):
            inside = line == section
            continue
        if inside:
            num, _, name = line.partition(" ")
            if num.isdigit() and int(num) == major:
                return prefix + name.strip()
    return None


def device_properties(rules, proc_devices="", warn=None, exists=None, note=None):
    """DevicePolicy and DeviceAllow for the effective device rules (runc's
    generateDeviceProperties): strict policy with an allow list; a deny list systemd
    cannot express becomes deny-all unless it is allow-all. Concrete devices are named
    /dev/char/M:m or /dev/block/M:m, every minor of a major by its /proc/devices group,
    every device of a type by "char-*" / "block-*"; "*:n" rules have no systemd form
    and are skipped (the cgroupfs device filter applied after still has them).
    `exists(path)`: whether a path is there; a concrete device whose /dev/char (or
    /dev/block) link is missing, and /sys/dev's too, is left out as runc leaves it
    (systemd resolves the path to a number itself and would only complain), with
    runc's words given to `note` (runc warns: on a host without the device every
    create would print it, and a refusal would be more than its one line; the
    cgroupfs rules written after still allow the device); None keeps every one."""
    warn = warn or (lambda msg: None)
    note = note or warn
    default_allow, exceptions = _devices.normalize(rules)
    props = [_prop("DevicePolicy", "s", "strict"), _prop("DeviceAllow", "a(ss)", [])]
    if default_allow:
        if not exceptions:
            return [_prop("DevicePolicy", "s", "auto"), _prop("DeviceAllow", "a(ss)", [])]
        warn("systemd doesn't support blacklist device rules -- applying temporary deny-all rule")
        return props
    allow = []
    for (typ, major, minor), bits in exceptions:
        perms = _devices.access_text(bits)
        if major == _devices.WILDCARD:
            if minor != _devices.WILDCARD:
                warn("systemd doesn't support '*:n' device rules -- temporarily ignoring rule: %s *:%d %s"
                     % (typ, minor, perms))
                continue
            path = ("char-" if typ == "c" else "block-") + "*"
        elif minor == _devices.WILDCARD:
            path = find_device_group(proc_devices, typ, major)
            if path is None:
                warn("could not find device group for '%s %d:*' in /proc/devices -- temporarily ignoring rule"
                     % (typ, major))
                continue
        else:
            path = "/dev/%s/%d:%d" % ("char" if typ == "c" else "block", major, minor)
            if exists is not None and not exists(path) and not exists("/sys" + path):
                note("skipping device %s for systemd: stat /sys%s: no such file or directory" % (path, path))
                continue
        allow.append((path, perms))
    props.append(_prop("DeviceAllow", "a(ss)", allow))
    return props


def _unified_properties(unified, systemd_version):
    """The linux.resources.unified keys systemd has properties for; the others are left
    to the cgroupfs writes (runc's unifiedResToSystemdProps)."""
    props = []
    names = {"memory.high": "MemoryHigh", "memory.low": "MemoryLow", "memory.min": "MemoryMin",
             "memory.max": "MemoryMax", "memory.swap.max": "MemorySwapMax", "pids.max": "TasksMax"}
    for key, value in unified.items():
        path = _res.P + "unified." + key
        v = value.strip()
        try:
            if key == "cpu.max":
                f = v.split()
                if not 1 <= len(f) <= 2:
                    raise ValueError
                quota = 0 if f[0] == "max" else int(f[0])
                period = int(f[1]) if len(f) == 2 else DEFAULT_CPU_PERIOD
                props.extend(cpu_quota(quota, period, systemd_version))
            elif key == "cpu.weight":
                props.append(_prop("CPUWeight", "t", int(v)))
            elif key in ("cpuset.cpus", "cpuset.mems") and systemd_version >= 244:
                name = "AllowedCPUs" if key == "cpuset.cpus" else "AllowedMemoryNodes"
                props.append(_prop(name, "ay", range_to_bits(v)))
            elif key in names:
                props.append(_prop(names[key], "t", U64_MAX if v == "max" else int(v)))
        except ValueError:
            raise ConfigError(path, 'value "%s" cannot be converted to a systemd property' % value) from None
    return props


def resource_properties(resources, version, systemd_version=252, devices=None, proc_devices="", warn=None,
                        exists=None, note=None):
    """The unit properties for linux.resources on cgroup `version` (1 or 2), in runc's
    order: on v1 runc's genV1ResourcesProperties (MemoryLimit, CPUShares, BlockIOWeight;
    no reservation or swap property, systemd has none for v1's files). `devices`: the
    effective device rules, or None to leave devices alone (as `update` does)."""
    r = resources or {}
    mem = r.get("memory") or {}
    cpu = r.get("cpu") or {}
    pids = r.get("pids") or {}
    props = []
    if devices is not None:
        props.extend(device_properties(devices, proc_devices, warn, exists, note))
    limit = mem.get("limit") or 0
    quota, period = cpu.get("quota") or 0, cpu.get("period") or 0
    pids_limit = pids.get("limit")
    if version == 2:
        if limit:
            props.append(_prop("MemoryMax", "t", _u64(limit)))
        if mem.get("reservation"):
            props.append(_prop("MemoryLow", "t", _u64(mem["reservation"])))
        swap = _res.swap_to_v2(mem.get("swap") or 0, limit)
        if swap:
            props.append(_prop("MemorySwapMax", "t", _u64(swap)))
        weight = _res.shares_to_weight(cpu.get("shares") or 0)
        if weight:
            props.append(_prop("CPUWeight", "t", weight))
    else:
        if limit:
            props.append(_prop("MemoryLimit", "t", _u64(limit)))
        if cpu.get("shares"):
            props.append(_prop("CPUShares", "t", cpu["shares"]))
    props.extend(cpu_quota(quota, period, systemd_version))
    if version == 1:
        weight = (r.get("blockIO") or {}).get("weight")
        if weight:
            props.append(_prop("BlockIOWeight", "t", weight))
    if pids_limit is not None and (pids_limit > 0 or pids_limit == -1):
        props.append(_prop("TasksMax", "t", _u64(pids_limit)))
    props.extend(cpuset(cpu.get("cpus"), cpu.get("mems"), systemd_version))
    if version == 2 and r.get("unified"):
        props.extend(_unified_properties(r["unified"], systemd_version))
    return props


# --- org.systemd.property.* annotations ----------------------------------------------

ANNOTATION_PREFIX = "org.systemd.property."
_TYPED = {"boolean": "b", "byte": "y", "int16": "n", "uint16": "q", "int32": "i", "uint32": "u",
          "int64": "x", "uint64": "t", "double": "d", "string": "s", "objectpath": "o"}
_INT_RANGES = {"y": (0, 255), "n": (-(1 << 15), (1 << 15) - 1), "q": (0, (1 << 16) - 1),
               "i": (-(1 << 31), (1 << 31) - 1), "u": (0, (1 << 32) - 1),
               "x": (-(1 << 63), (1 << 63) - 1), "t": (0, U64_MAX)}


def parse_variant(text):
    """A GVariant text value as runc reads annotation values (godbus's ParseVariant),
    for the forms a unit property takes: true/false, numbers (int32 unless typed, a
    dot or exponent makes a double), 'string' or "string", a type keyword prefix
    ("uint64 100", "@t 100") and arrays of those ("['a', 'b']", "@as []")."""
    text = text.strip()
    sig = None
    if text.startswith("@"):
        sig, _, text = text[1:].partition(" ")
        text = text.strip()
    else:
        word, sp, rest = text.partition(" ")
        if sp and word in _TYPED:
            sig, text = _TYPED[word], rest.strip()
    return _value(text, sig)


def _value(text, sig):
    if text.startswith("["):
        if not text.endswith("]"):
            raise ValueError("unterminated array")
        if sig is not None and not sig.startswith("a"):
            raise ValueError("an array is not of type %s" % sig)
        inner = sig[1:] if sig else None
        items = [_value(t, inner) for t in _split_items(text[1:-1])]
        if inner is None:
            kinds = {s for s, _ in items}
            if len(kinds) > 1:
                raise ValueError("array items of different types")
            inner = kinds.pop() if kinds else None
            if inner is None:
                raise ValueError("an empty array needs a type (@as [])")
        return "a" + inner, [v for _, v in items]
    if text[:1] in ("'", '"'):
        if len(text) < 2 or text[-1] != text[0]:
            raise ValueError("unterminated string")
        value = text[1:-1].replace("\\" + text[0], text[0]).replace("\\\\", "\\")
        if sig not in (None, "s", "o"):
            raise ValueError("a string is not of type %s" % sig)
        return sig or "s", value
    if text in ("true", "false"):
        if sig not in (None, "b"):
            raise ValueError("a boolean is not of type %s" % sig)
        return "b", text == "true"
    if sig == "d" or (sig is None and any(c in text for c in ".eE") and not text.startswith("0x")):
        return "d", float(text)
    try:
        n = int(text, 0)
    except ValueError:
        raise ValueError("cannot parse %r" % text) from None
    sig = sig or "i"
    lo, hi = _INT_RANGES.get(sig, (None, None))
    if lo is None:
        raise ValueError("a number is not of type %s" % sig)
    if not lo <= n <= hi:
        raise ValueError("%d is out of range for type %s" % (n, sig))
    return sig, n


def _split_items(text):
    items, depth, quote, cur = [], 0, None, ""
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if cur.strip():
        items.append(cur.strip())
    return items


def annotation_properties(annotations):
    """org.systemd.property.NAME=VALUE annotations -> properties, refused as runc refuses
    them; a NAME ending in a lower-case letter and "Sec" is the USec property, its value
    turned from seconds to microseconds (TimeoutStopSec=5 -> TimeoutStopUSec 5000000)."""
    props = []
    for key in sorted(annotations or {}):
        if not key.startswith(ANNOTATION_PREFIX):
            continue
        name = key[len(ANNOTATION_PREFIX):]
        value = annotations[key]
        where = "annotations." + key
        if len(name) < 3:
            raise ConfigError(where, "annotation %s name incorrect: too short" % key)
        if not (name.isascii() and name.isalpha()):
            raise ConfigError(where, "annotation %s name incorrect: contains non-alphabetic character" % key)
        try:
            sig, v = parse_variant(value)
        except ValueError as e:
            raise ConfigError(where, "annotation %s=%s value parse error: %s" % (key, value, e)) from None
        if name.endswith("Sec") and "a" <= name[-4] <= "z":
            if sig not in ("y", "n", "q", "i", "u", "x", "t", "d"):
                raise ConfigError(where, "annotation %s=%s value parse error: not a number" % (key, value))
            name = name[:-3] + "USec"
            sig, v = "t", _u64(int(v * 1000000))
        props.append(_prop(name, sig, v))
    return props
