"""The device cgroup rules as data: the OCI list plus runc's default allow list, brought
to the kernel's cgroup v1 meaning, then written out for v1 (devices.allow/devices.deny)
or compiled to a BPF_PROG_TYPE_CGROUP_DEVICE program for v2.

A rule is a tuple (allow, type, major, minor, access): type "a", "c" or "b"; major and
minor -1 for any ("*"); access a non-empty subset of "rwm", written in that order.

Semantics (runc's, from opencontainers/cgroups devices/devices_emulator.go and
devices/ebpf/devicefilter.go): the rules are applied in order to a state that is a
default (allow or deny) plus a set of exceptions, exactly as the v1 kernel applies
writes to devices.allow/devices.deny (security/device_cgroup.c):
  - a type "a" rule resets: deny-all or allow-all, exceptions dropped (major, minor and
    access are ignored, as the kernel ignores them);
  - a rule whose action differs from the default adds an exception (access merged into
    an exception with the same type:major:minor);
  - a rule whose action equals the default removes those access bits from the exception
    with the *same* type:major:minor only. Removing bits that a wider wildcard exception
    still grants would be silently ignored by the kernel, so it is refused (runc refuses
    it too: "cannot punch hole in existing wildcard rule").
With a deny default, an access is allowed when one exception matches type, major, minor
and grants every requested bit; with an allow default, it is denied when one exception
matches and shares any bit with the request. The state starts as deny-all with no
exceptions. When the list has no "a" rule this is the same as "last matching rule
wins"; they differ only where a later, wider rule meets an earlier, narrower exception
(the kernel keeps the narrower one), and v1 and v2 must agree, so the kernel's meaning
is the one used for both.

Imports nothing beyond pyrunc.errors and cgroups.fs (its Write; struct only inside encode()).
"""
from pyrunc.cgroups.fs import Write
from pyrunc.errors import ConfigError

WILDCARD = -1

# access bits, as in struct bpf_cgroup_dev_ctx (BPF_DEVCG_ACC_*)
ACC_MKNOD = 1
ACC_READ = 2
ACC_WRITE = 4
ACC_ALL = 7
# device types, as in struct bpf_cgroup_dev_ctx (BPF_DEVCG_DEV_*)
DEV_BLOCK = 1
DEV_CHAR = 2

_BITS = {"r": ACC_READ, "w": ACC_WRITE, "m": ACC_MKNOD}
_TYPE_CODE = {"b": DEV_BLOCK, "c": DEV_CHAR}
_U32 = 0xFFFFFFFF

# runc's specconv AllowedDevices, in its order: (path in the container or None, rule).
# A default with a path is dropped when linux.devices has a device at that path.
# There is no /dev/console (5:1) entry: runc leaves it out too.
DEFAULT_ALLOWED = (
    (None, (True, "c", -1, -1, "m")),          # mknod of any char device
    (None, (True, "b", -1, -1, "m")),          # mknod of any block device
    ("/dev/null", (True, "c", 1, 3, "rwm")),
    ("/dev/random", (True, "c", 1, 8, "rwm")),
    ("/dev/full", (True, "c", 1, 7, "rwm")),
    ("/dev/tty", (True, "c", 5, 0, "rwm")),
    ("/dev/zero", (True, "c", 1, 5, "rwm")),
    ("/dev/urandom", (True, "c", 1, 9, "rwm")),
    (None, (True, "c", 136, -1, "rwm")),       # /dev/pts/*
    (None, (True, "c", 5, 2, "rwm")),          # /dev/ptmx
    (None, (True, "c", 10, 200, "rwm")),       # /dev/net/tun (restored in runc 1.2.0)
)
DEFAULT_RULES = tuple(rule for _, rule in DEFAULT_ALLOWED)


def access_bits(access):
    """"rwm"-style text (or an int already) -> ACC_* bits."""
    if isinstance(access, int):
        return access
    bits = 0
    for ch in access:
        bits |= _BITS[ch]
    return bits


def access_text(bits):
    return ("r" if bits & ACC_READ else "") + ("w" if bits & ACC_WRITE else "") + ("m" if bits & ACC_MKNOD else "")


def rule_text(rule):
    """The kernel's devices.list form: "c 1:3 rwm", "b *:* m", "a *:* rwm"."""
    _, typ, major, minor, access = rule
    if typ == "a":   # the kernel reads nothing after the "a"
        return "a *:* rwm"
    return "%s %s:%s %s" % (typ, "*" if major == WILDCARD else major, "*" if minor == WILDCARD else minor, access)


def _number(value, path, what, cgroup_v1):
    # the v1 kernel reads ~0 (4294967295) as "*": a rule for that number would cover
    # every device (runc fails on it, when the list read back differs); on v2 it is
    # only a number the BPF program compares
    if value is None:
        return WILDCARD
    top = _U32 - 1 if cgroup_v1 else _U32
    if not isinstance(value, int) or isinstance(value, bool) or value < WILDCARD or value > top:
        raise ConfigError(path, "%s must be -1 (any) or a number up to %d, got %r" % (what, top, value))
    return value


def from_oci(rule, path, cgroup_v1=True):
    """One linux.resources.devices entry -> a rule tuple, taking what runc 1.1.5 takes:
    type "" or absent is "a", allow absent is false, major and minor absent are any;
    an empty access is refused, and in a non-empty one the letters other than r, w
    and m are dropped (runc's Permissions set ignores them). What is left may be no
    access at all: see effective_rules."""
    typ = rule.get("type") or "a"
    if typ not in ("a", "c", "b"):
        raise ConfigError(path + ".type", 'invalid cgroup device type "%s" (expected "a", "c" or "b")' % typ)
    access = rule.get("access") or ""
    if not access:
        raise ConfigError(path + ".access", "must not be empty")
    bits = 0
    for ch in access:
        bits |= _BITS.get(ch, 0)
    return (bool(rule.get("allow")), typ, _number(rule.get("major"), path + ".major", "major", cgroup_v1),
            _number(rule.get("minor"), path + ".minor", "minor", cgroup_v1), access_text(bits))


def effective_rules(oci_rules, device_paths=(), cgroup_v1=True):
    """The OCI list followed by runc's default allow list, checked: a rule cgroup v1
    cannot express (a hole in a wildcard exception) is refused with its JSON path, on
    v2 too (runc runs the same emulator for both). cgroup_v1 False: the checks only
    the v1 kernel makes (a number it reads as "*", an allow with no access) are left
    out, as runc's v2 driver leaves them."""
    rules = [from_oci(r, "linux.resources.devices[%d]" % i, cgroup_v1) for i, r in enumerate(oci_rules or ())]
    skip = set(device_paths or ())
    user = len(rules)
    rules.extend(rule for p, rule in DEFAULT_ALLOWED if p is None or p not in skip)
    state = _State()
    empty = {}   # exception key -> the user rule that left it with no access
    for i, rule in enumerate(rules):
        if rule[0] != state.default_allow and not rule[4]:
            empty[rule[1:4]] = i
        problem = state.apply(rule)
        if problem:
            if i < user:
                raise ConfigError("linux.resources.devices[%d]" % i, problem)
            raise ConfigError("linux.resources.devices", "runc's default rule %s%s: %s"
                              % ("allow " if rule[0] else "deny ", rule_text(rule), problem))
    # an allow exception with no access cannot be written to cgroup v1 (runc writes it,
    # then fails: the list read back "doesn't precisely match target"); a deny one
    # under an allow-all default changes nothing and is dropped, as the kernel does
    if cgroup_v1 and not state.default_allow:
        for key, bits in state.exceptions.items():
            if not bits and key in empty:
                i = empty[key]
                raise ConfigError("linux.resources.devices[%d].access" % i, 'no access to allow in "%s": '
                                  'expected some of the letters r, w and m' % oci_rules[i].get("access"))
    return [r for r in rules if r[1] == "a" or r[4]]


class _State:
    """The v1 kernel's view of a devices cgroup: a default and exact-match exceptions
    {(type, major, minor): access bits}."""

    __slots__ = ("default_allow", "exceptions")

    def __init__(self, default_allow=False, exceptions=None):
        self.default_allow = default_allow
        self.exceptions = dict(exceptions or {})

    def apply(self, rule):
        """Apply one rule; returns a reason text when cgroup v1 could not honour it."""
        allow, typ, major, minor, access = rule
        if typ == "a":
            self.default_allow = allow
            self.exceptions = {}
            return None
        key = (typ, major, minor)
        bits = access_bits(access)
        ex = self.exceptions
        if allow != self.default_allow:
            ex[key] = ex.get(key, 0) | bits
            return None
        for wider in ((typ, WILDCARD, minor), (typ, major, WILDCARD), (typ, WILDCARD, WILDCARD)):
            if wider != key and ex.get(wider, 0) & bits:
                return ('cannot %s "%s" inside the wider %s rule "%s": cgroup v1 cannot punch a hole in a '
                        "wildcard rule" % ("allow" if allow else "deny", rule_text(rule),
                                           "deny" if allow else "allow",
                                           rule_text((not allow,) + wider + (access_text(ex[wider]),))))
        left = ex.get(key, 0) & ~bits
        if left:
            ex[key] = left
        else:
            ex.pop(key, None)
        return None

    def ordered(self):
        """Exceptions sorted by (major, minor, type), wildcards first, as runc writes them."""
        return sorted(self.exceptions.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0]))


def normalize(rules):
    """Rules -> (default_allow, [((type, major, minor), access bits)] in runc's order)."""
    state = _State()
    for rule in rules:
        problem = state.apply(rule)
        if problem:
            raise ConfigError("linux.resources.devices", problem)
    return state.default_allow, state.ordered()


def parse_devices_list(text):
    """A v1 devices.list -> _State. "a *:* rwm" means allow-all: the deny exceptions of
    an allow-all cgroup cannot be read back, so such a cgroup is always reset."""
    state = _State()
    for line in text.splitlines():
        f = line.replace(":", " ").split()
        if not f:
            continue
        if len(f) != 4 or f[0] not in ("a", "b", "c"):
            raise ValueError("malformed devices.list line %r" % line)
        if f[0] == "a":
            state.apply((True, "a", WILDCARD, WILDCARD, "rwm"))
            continue
        major = WILDCARD if f[1] == "*" else int(f[1])
        minor = WILDCARD if f[2] == "*" else int(f[2])
        state.apply((True, f[0], major, minor, f[3]))
    return state


def _transition(source, rules):
    """The writes that take a cgroup in `source` state to the state of `rules`, like
    runc's emulator Transition: a reset first when the default changes or the source
    is allow-all, then the dropped bits, then the gained bits."""
    allow, target = normalize(rules)
    target = dict(target)
    out = []
    old = source.exceptions
    if source.default_allow or source.default_allow != allow:
        out.append(Write("devices", "devices.allow" if allow else "devices.deny", "a *:* rwm"))
        old = {}
    undo = "devices.allow" if allow else "devices.deny"
    do = "devices.deny" if allow else "devices.allow"
    for key, bits in _State(exceptions=old).ordered():
        dropped = bits & ~target.get(key, 0)
        if dropped:
            out.append(Write("devices", undo, rule_text((allow,) + key + (access_text(dropped),))))
    for key, bits in _State(exceptions=target).ordered():
        gained = bits & ~old.get(key, 0)
        if gained:
            out.append(Write("devices", do, rule_text((not allow,) + key + (access_text(gained),))))
    return out


def v1_writes(rules):
    """devices.deny/devices.allow writes for a new v1 cgroup, as crun makes them: deny
    all (a new cgroup inherits its parent's list), then every rule as written, in
    order. The kernel applies each write as _State does, so the result is the rules'
    meaning, and devices.list keeps the config's order (runc 1.1.5 writes the final
    exceptions sorted by number instead: same access, other order; README, deliberate
    differences)."""
    out = [] if rules and rules[0][1] == "a" else [Write("devices", "devices.deny", "a *:* rwm")]
    for rule in rules:
        out.append(Write("devices", "devices.allow" if rule[0] else "devices.deny", rule_text(rule)))
    return out


def v1_update_writes(devices_list, rules):
    """The writes that move a v1 cgroup whose devices.list reads `devices_list` to
    `rules` without a disruptive reset when the default is unchanged (runc update)."""
    return _transition(parse_devices_list(devices_list), rules)


# --- eBPF -----------------------------------------------------------------------------
# Instruction tuples (code, dst_reg, src_reg, off, imm), struct bpf_insn's fields.
# Opcodes (include/uapi/linux/bpf.h, bpf_common.h):
LDXW = 0x61      # BPF_LDX | BPF_MEM | BPF_W:    dst = *(u32 *)(src + off)
AND32_K = 0x54   # BPF_ALU | BPF_AND | BPF_K:    dst = (u32)dst & imm
RSH32_K = 0x74   # BPF_ALU | BPF_RSH | BPF_K:    dst = (u32)dst >> imm
MOV32_K = 0xB4   # BPF_ALU | BPF_MOV | BPF_K:    dst = (u32)imm
MOV32_X = 0xBC   # BPF_ALU | BPF_MOV | BPF_X:    dst = (u32)src
JEQ_K = 0x15     # BPF_JMP | BPF_JEQ | BPF_K:    if dst == imm goto pc+off
JNE_K = 0x55     # BPF_JMP | BPF_JNE | BPF_K
JNE_X = 0x5D     # BPF_JMP | BPF_JNE | BPF_X:    if dst != src goto pc+off
EXIT = 0x95      # BPF_JMP | BPF_EXIT:           return r0
LICENSE = "Apache-2.0"  # the program calls no GPL-only helper

_NEXT = object()  # placeholder for "the start of the next block"


def _jne_value(reg, value):
    """if reg != value goto next. An imm is sign-extended to 64 bits and the ctx fields
    are u32, so values above INT32_MAX go through r1 (mov32 zero-extends)."""
    if value <= 0x7FFFFFFF:
        return [(JNE_K, reg, 0, _NEXT, value)]
    return [(MOV32_K, 1, 0, 0, value - (1 << 32)), (JNE_X, reg, 1, _NEXT, 0)]


def bpf_program(rules):
    """A BPF_PROG_TYPE_CGROUP_DEVICE program equivalent to `rules` (returns 1 = allow,
    0 = deny). Registers: r2 type, r3 requested access, r4 major, r5 minor."""
    default_allow, exceptions = normalize(rules)
    insns = [
        (LDXW, 2, 1, 0, 0), (AND32_K, 2, 0, 0, 0xFFFF),   # r2 = access_type & 0xffff: type
        (LDXW, 3, 1, 0, 0), (RSH32_K, 3, 0, 0, 16),       # r3 = access_type >> 16: access
        (LDXW, 4, 1, 4, 0),                               # r4 = major
        (LDXW, 5, 1, 8, 0),                               # r5 = minor
    ]
    verdict = 0 if default_allow else 1
    for (typ, major, minor), bits in exceptions:
        block = [(JNE_K, 2, 0, _NEXT, _TYPE_CODE[typ])]
        if bits != ACC_ALL:
            block.append((MOV32_X, 1, 3, 0, 0))
            block.append((AND32_K, 1, 0, 0, bits))
            if default_allow:   # a deny exception matches on any shared bit
                block.append((JEQ_K, 1, 0, _NEXT, 0))
            else:               # an allow exception must grant every requested bit
                block.append((JNE_X, 1, 3, _NEXT, 0))
        if major != WILDCARD:
            block.extend(_jne_value(4, major))
        if minor != WILDCARD:
            block.extend(_jne_value(5, minor))
        block.append((MOV32_K, 0, 0, 0, verdict))
        block.append((EXIT, 0, 0, 0, 0))
        n = len(block)
        for i, (code, dst, src, off, imm) in enumerate(block):
            if off is _NEXT:
                block[i] = (code, dst, src, n - i - 1, imm)
        insns.extend(block)
    insns.append((MOV32_K, 0, 0, 0, 1 if default_allow else 0))
    insns.append((EXIT, 0, 0, 0, 0))
    return insns


def encode(insns):
    """struct bpf_insn {u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm;}, little endian."""
    import struct

    pack = struct.Struct("<BBhi").pack
    return b"".join(pack(code, (src << 4) | dst, off, imm) for code, dst, src, off, imm in insns)


def evaluate(insns, dev_type, major, minor, access):
    """Run the program on one bpf_cgroup_dev_ctx, for tests: True when it allows.
    dev_type "c"/"b" (or DEV_*), access "rwm"-style text (or ACC_* bits). Interprets
    only the instructions bpf_program emits, and refuses what the verifier would:
    reading an unset register, a jump out of the program, falling off its end."""
    if isinstance(dev_type, str):
        dev_type = _TYPE_CODE[dev_type]
    ctx = ((access_bits(access) << 16) | dev_type, major & _U32, minor & _U32)
    ctx_ptr = 1 << 40
    regs = {1: ctx_ptr, 10: 1 << 41}
    mask64 = (1 << 64) - 1

    def get(r):
        if r not in regs:
            raise ValueError("read of unset register r%d" % r)
        return regs[r]

    def sext(imm):
        return imm & mask64

    pc = 0
    for _ in range(1 << 16):
        if not 0 <= pc < len(insns):
            raise ValueError("pc %d out of the program" % pc)
        code, dst, src, off, imm = insns[pc]
        pc += 1
        if code == LDXW:
            o = get(src) - ctx_ptr + off
            if o not in (0, 4, 8):
                raise ValueError("load outside bpf_cgroup_dev_ctx at offset %d" % o)
            regs[dst] = ctx[o // 4]
        elif code == AND32_K:
            regs[dst] = get(dst) & imm & _U32
        elif code == RSH32_K:
            regs[dst] = (get(dst) & _U32) >> imm
        elif code == MOV32_K:
            regs[dst] = imm & _U32
        elif code == MOV32_X:
            regs[dst] = get(src) & _U32
        elif code in (JEQ_K, JNE_K, JNE_X):
            a = get(dst)
            b = get(src) if code == JNE_X else sext(imm)
            if (a == b) == (code == JEQ_K):
                pc += off
        elif code == EXIT:
            return get(0) != 0
        else:
            raise ValueError("unsupported instruction 0x%02x at %d" % (code, pc - 1))
    raise ValueError("program does not terminate")
