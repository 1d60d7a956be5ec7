"""Device rules as data: runc's defaults, the v1 write list, and the v2 eBPF program,
checked against a straight model of the kernel's v1 device cgroup on many accesses."""
import itertools
import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrunc.cgroups import devices as D
from pyrunc.errors import ConfigError

RUNC_SPEC = [{"allow": False, "access": "rwm"}]     # `runc spec`'s linux.resources.devices
DEFAULT_ALLOWS = ["b *:* m", "c *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
                  "c 5:0 rwm", "c 5:2 rwm", "c 10:200 rwm", "c 136:* rwm"]


def writes(oci, device_paths=()):
    return [(w.file, w.value) for w in D.v1_writes(D.effective_rules(oci, device_paths))]


def rule(allow, typ="a", major=None, minor=None, access="rwm"):
    r = {"allow": allow, "type": typ, "access": access}
    if major is not None:
        r["major"] = major
    if minor is not None:
        r["minor"] = minor
    return r


# --- a straight model of security/device_cgroup.c (cgroup v1) -------------------------

class KernelV1:
    """Exceptions as a list, exact-match removal, the kernel's two permission checks."""

    def __init__(self, allow_default):
        self.allow_default = allow_default
        self.exceptions = []           # [type, major, minor, access bits]

    def write(self, allow, typ, major, minor, access):
        bits = D.access_bits(access)
        if typ == "a":
            self.allow_default = allow
            self.exceptions = []
            return
        if allow == self.allow_default:          # remove bits from an identical exception
            for ex in list(self.exceptions):
                if ex[:3] == [typ, major, minor]:
                    ex[3] &= ~bits
                    if not ex[3]:
                        self.exceptions.remove(ex)
            return
        for ex in self.exceptions:
            if ex[:3] == [typ, major, minor]:
                ex[3] |= bits
                return
        self.exceptions.append([typ, major, minor, bits])

    def allowed(self, typ, major, minor, access):
        def match(ex):
            return ex[0] == typ and ex[1] in (-1, major) and ex[2] in (-1, minor)

        if self.allow_default:   # denied by any exception sharing a bit
            return not any(match(ex) and ex[3] & access for ex in self.exceptions)
        return any(match(ex) and not access & ~ex[3] for ex in self.exceptions)


def kernel_after(rules):
    """The meaning of a rule list: its rules written in order into a cgroup that starts
    deny-all (runc's emulator starts there, so a list without "a" is an allow list)."""
    k = KernelV1(allow_default=False)
    for r in rules:
        k.write(*r)
    return k


def kernel_after_writes(ws):
    """A new v1 cgroup under an allow-all parent, after the writes."""
    k = KernelV1(allow_default=True)
    for w in ws:
        f = w.value.replace(":", " ").split()
        k.write(w.file == "devices.allow", f[0], -1 if f[1] == "*" else int(f[1]),
                -1 if f[2] == "*" else int(f[2]), f[3])
    return k


def last_match_wins(rules, typ, major, minor, access):
    for allow, t, ma, mi, acc in reversed(rules):
        if t == "a":
            return allow
        if t == typ and ma in (-1, major) and mi in (-1, minor) and not access & ~D.access_bits(acc):
            return allow
    return False


QUERIES = [(t, ma, mi, acc) for t in "cb" for ma in (0, 1, 5, 7, 136) for mi in (0, 2, 3, 9, 200)
           for acc in range(1, 8)]


# --- the rule list --------------------------------------------------------------------

def test_default_list_is_runcs():
    assert [D.rule_text(r) for r in D.DEFAULT_RULES] == [
        "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 1:5 rwm", "c 1:9 rwm",
        "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"]
    assert all(r[0] for r in D.DEFAULT_RULES)


def test_effective_rules_append_the_defaults():
    rules = D.effective_rules(RUNC_SPEC)
    assert rules[0] == (False, "a", -1, -1, "rwm")
    assert rules[1:] == list(D.DEFAULT_RULES)
    assert D.effective_rules(None) == list(D.DEFAULT_RULES)
    # a device the spec creates at a default's path replaces that default
    paths = [r[1] for r in D.effective_rules(RUNC_SPEC, ["/dev/null", "/dev/tty", "/dev/other"])]
    assert "a" in paths and len(paths) == 1 + len(D.DEFAULT_RULES) - 2
    assert (True, "c", 1, 3, "rwm") not in D.effective_rules([], ["/dev/null"])


def test_oci_rule_conversion():
    assert D.from_oci({"allow": True, "type": "c", "major": 4, "access": "mwr"}, "x") == (True, "c", 4, -1, "rwm")
    assert D.from_oci({"allow": False, "access": "wr"}, "x") == (False, "a", -1, -1, "rw")
    for bad, path in [({"allow": True, "access": ""}, "x.access"), ({"allow": True}, "x.access"),
                      ({"allow": True, "type": "u", "access": "r"}, "x.type"),
                      ({"allow": True, "type": "p", "access": "r"}, "x.type"),
                      ({"allow": True, "major": -2, "access": "r"}, "x.major"),
                      ({"allow": True, "minor": 1 << 32, "access": "r"}, "x.minor"),
                      ({"allow": True, "major": (1 << 32) - 1, "access": "r"}, "x.major")]:
        with pytest.raises(ConfigError) as e:
            D.from_oci(bad, "x")
        assert e.value.path == path


# runc 1.1.5's verdicts on a v1 host (integration/test_conformance_cgroups.py runs them
# next to runc): what it takes, and the rule it makes of it
@pytest.mark.parametrize("oci,expected", [
    ({"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rrrr"}, (True, "c", 10, 229, "r")),
    ({"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwmr"}, (True, "c", 10, 229, "rwm")),
    ({"allow": True, "type": "c", "major": 10, "minor": 229, "access": "r w"}, (True, "c", 10, 229, "rw")),
    ({"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rx"}, (True, "c", 10, 229, "r")),
    ({"allow": True, "type": "", "access": "rwm"}, (True, "a", -1, -1, "rwm")),
    ({"type": "c", "major": 1, "minor": 3, "access": "rwm"}, (False, "c", 1, 3, "rwm")),   # allow left out
    ({"allow": True, "type": "c", "minor": 3, "access": "m"}, (True, "c", -1, 3, "m")),
    ({"allow": True, "type": "b", "major": 4095, "minor": 1 << 20, "access": "r"}, (True, "b", 4095, 1 << 20, "r")),
])
def test_oci_rules_runc_takes(oci, expected):
    assert D.from_oci(oci, "x") == expected


def test_an_allow_with_no_access_letter():
    deny_all = {"allow": False, "access": "rwm"}
    for access in ("x", "R", " "):
        rule = {"allow": True, "type": "c", "major": 10, "minor": 229, "access": access}
        with pytest.raises(ConfigError) as e:
            D.effective_rules([deny_all, rule])
        assert e.value.path == "linux.resources.devices[1].access", e.value
        # runc's v2 driver makes a program that matches nothing for it
        assert (True, "c", 10, 229, "") not in D.effective_rules([deny_all, rule], cgroup_v1=False)
        # a deny with no access changes nothing, and an allow that a later rule fills is fine
        assert D.effective_rules([deny_all, dict(rule, allow=False)]) == D.effective_rules([deny_all])
        assert D.effective_rules([deny_all, rule, dict(rule, access="r")]) == \
            D.effective_rules([deny_all, dict(rule, access="r")])
    # under an allow-all default, a deny with no access is nothing
    assert D.effective_rules([{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "access": "x"}]) == \
        D.effective_rules([{"allow": True, "access": "rwm"}])


def test_the_v1_wildcard_number_is_a_number_on_v2():
    rule = {"allow": True, "type": "c", "major": (1 << 32) - 1, "minor": 0, "access": "r"}
    with pytest.raises(ConfigError):
        D.effective_rules([rule])
    assert (True, "c", (1 << 32) - 1, 0, "r") in D.effective_rules([rule], cgroup_v1=False)


# --- v1 writes ------------------------------------------------------------------------

# runc's defaults in the order its specconv lists them (and pyrunc writes them)
DEFAULTS_IN_ORDER = ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 1:5 rwm",
                     "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"]


def test_v1_writes_for_runc_spec():
    # crun's way: deny all, then every rule in order (runc's defaults after the config's)
    assert writes(RUNC_SPEC) == [("devices.deny", "a *:* rwm")] + [("devices.allow", a) for a in DEFAULTS_IN_ORDER]
    assert sorted(DEFAULTS_IN_ORDER) == sorted(DEFAULT_ALLOWS)
    assert all(w.controller == "devices" and not w.optional for w in D.v1_writes(D.effective_rules(RUNC_SPEC)))


def test_v1_writes_for_allow_all():
    # the defaults remove deny exceptions that are not there: the kernel ignores them
    assert writes([rule(True)]) == [("devices.allow", "a *:* rwm")] + \
        [("devices.allow", a) for a in DEFAULTS_IN_ORDER]
    assert kernel_list(D.v1_writes(D.effective_rules([rule(True)]))) == (True, [])
    assert D.bpf_program(D.effective_rules([rule(True)]))[-2:] == [(D.MOV32_K, 0, 0, 0, 1), (D.EXIT, 0, 0, 0, 0)]


def kernel_list(ws):
    """(allow-all default, devices.list exception lines in the kernel's order) after the writes."""
    k = kernel_after_writes(ws)
    return k.allow_default, ["%s %s:%s %s" % (t, "*" if ma == -1 else ma, "*" if mi == -1 else mi, D.access_text(b))
                             for t, ma, mi, b in k.exceptions]


def test_v1_writes_for_overlapping_rules():
    oci = [rule(False),
           rule(True, "c", 13, 64, "rw"),        # added (first), removed below, added again at the end
           rule(True, "b", 7, None, "rw"),       # loop devices: read and write
           rule(False, "b", 7, None, "w"),       # ... then not write after all
           rule(True, "b", 7, 3, "w"),           # ... except loop3
           rule(True, "c", 4, 1, "r"), rule(True, "c", 4, 1, "w"),   # merged into one exception
           rule(False, "c", 13, 64, "rw"), rule(True, "c", 13, 64, "r")]
    ws = writes(oci)
    assert ws[:9] == [("devices.deny", "a *:* rwm"),
                       ("devices.allow", "c 13:64 rw"), ("devices.allow", "b 7:* rw"), ("devices.deny", "b 7:* w"),
                       ("devices.allow", "b 7:3 w"), ("devices.allow", "c 4:1 r"), ("devices.allow", "c 4:1 w"),
                       ("devices.deny", "c 13:64 rw"), ("devices.allow", "c 13:64 r")]
    # devices.list: the config's exceptions in the order they were made, then runc's defaults
    assert kernel_list(D.v1_writes(D.effective_rules(oci))) == (
        False, ["b 7:* r", "b 7:3 w", "c 4:1 rw", "c 13:64 r"] + DEFAULTS_IN_ORDER)


def test_v1_writes_for_a_deny_list():
    oci = [rule(True), rule(False, "c", 10, 229, "rwm"), rule(False, "b", None, None, "w")]
    assert writes(oci)[:3] == [("devices.allow", "a *:* rwm"),
                               ("devices.deny", "c 10:229 rwm"), ("devices.deny", "b *:* w")]
    assert kernel_list(D.v1_writes(D.effective_rules(oci))) == (True, ["c 10:229 rwm", "b *:* w"])


def test_a_rule_resets_whatever_its_numbers():
    # the kernel reads only the "a": "a 5:* r" to devices.deny is a full deny-all
    oci = [rule(True), rule(False, "a", 5, None, "r"), rule(True, "c", 1, 3, "r")]
    assert writes(oci)[:3] == [("devices.allow", "a *:* rwm"),
                               ("devices.deny", "a *:* rwm"), ("devices.allow", "c 1:3 r")]


def test_holes_in_wildcards_are_refused():
    oci = [rule(False), rule(True, "c", 1, None, "rw"), rule(False, "c", 1, 3, "w")]
    with pytest.raises(ConfigError) as e:
        D.effective_rules(oci)
    assert e.value.path == "linux.resources.devices[2]"
    assert 'cannot deny "c 1:3 w" inside the wider allow rule "c 1:* rw"' in e.value.reason
    # removing bits the wildcard does not grant is fine
    D.effective_rules([rule(False), rule(True, "c", 1, None, "r"), rule(False, "c", 1, 3, "w")])
    # a default rule can trip it too: allow-all, deny c 1:*, then runc's allow c 1:3
    with pytest.raises(ConfigError) as e:
        D.effective_rules([rule(True), rule(False, "c", 1, None, "rwm")])
    assert e.value.path == "linux.resources.devices"
    assert "runc's default rule allow c 1:3 rwm" in e.value.reason


def test_v1_update_writes():
    current = "".join(a + "\n" for a in DEFAULT_ALLOWS if a != "c 10:200 rwm") + "c 4:1 rw\nb 8:0 r\n"
    target = D.effective_rules(RUNC_SPEC + [rule(True, "c", 4, 1, "r")])
    assert [(w.file, w.value) for w in D.v1_update_writes(current, target)] == [
        ("devices.deny", "c 4:1 w"), ("devices.deny", "b 8:0 r"), ("devices.allow", "c 10:200 rwm")]
    # an allow-all cgroup's deny list cannot be read back: reset it
    assert [(w.file, w.value) for w in D.v1_update_writes("a *:* rwm\n", target)][0] == ("devices.deny", "a *:* rwm")
    assert D.v1_update_writes("".join(a + "\n" for a in DEFAULT_ALLOWS), D.effective_rules(RUNC_SPEC)) == []
    with pytest.raises(ValueError):
        D.parse_devices_list("x 1:2 r\n")


def test_v1_writes_realise_the_rules_in_the_kernel_model():
    rnd = random.Random(7)
    for _ in range(200):
        oci = random_oci(rnd)
        try:
            rules = D.effective_rules(oci)
        except ConfigError:
            continue
        want, got = kernel_after(rules), kernel_after_writes(D.v1_writes(rules))
        for t, ma, mi, acc in QUERIES:
            assert got.allowed(t, ma, mi, acc) == want.allowed(t, ma, mi, acc), (oci, t, ma, mi, acc)


# --- eBPF -----------------------------------------------------------------------------

def random_oci(rnd, n=None):
    out = []
    for _ in range(rnd.randint(0, 7) if n is None else n):
        typ = rnd.choice("acbcb")
        access = "".join(c for c in "rwm" if rnd.random() < 0.5) or "r"
        out.append(rule(rnd.random() < 0.6, typ, rnd.choice([None, 1, 5, 7]), rnd.choice([None, 0, 3, 9]), access))
    return out


def check_program(rules):
    prog = D.bpf_program(rules)
    assert prog[-1] == (D.EXIT, 0, 0, 0, 0)
    for i, (code, _, _, off, _) in enumerate(prog):
        if code in (D.JEQ_K, D.JNE_K, D.JNE_X):
            assert 0 <= off and i + 1 + off < len(prog)     # forward, inside the program
    k = kernel_after(rules)
    for t, ma, mi, acc in QUERIES:
        assert D.evaluate(prog, t, ma, mi, acc) == k.allowed(t, ma, mi, acc), (rules, t, ma, mi, acc)
    return prog


def test_program_for_runc_spec():
    rules = D.effective_rules(RUNC_SPEC)
    prog = check_program(rules)
    assert D.evaluate(prog, "c", 1, 3, "rw") and D.evaluate(prog, "c", 136, 4, "rwm")
    assert D.evaluate(prog, "b", 8, 0, "m") and not D.evaluate(prog, "b", 8, 0, "r")
    assert not D.evaluate(prog, "c", 1, 4, "r") and not D.evaluate(prog, "c", 10, 229, "w")
    assert D.evaluate(prog, "c", 10, 200, "rw")


@pytest.mark.parametrize("seed", range(40))
def test_program_agrees_with_the_kernel_model(seed):
    rnd = random.Random(seed)
    checked = 0
    while checked < 5:
        try:
            rules = D.effective_rules(random_oci(rnd))
        except ConfigError:
            continue
        check_program(rules)
        checked += 1


RULE = st.builds(lambda allow, typ, major, minor, access: rule(allow, typ, major, minor, access or "m"),
                 st.booleans(), st.sampled_from("acb"), st.sampled_from([None, 0, 1, 5, 7, 136]),
                 st.sampled_from([None, 0, 2, 3, 200]),
                 st.sampled_from(["r", "w", "m", "rw", "rm", "wm", "rwm", ""]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RULE, max_size=8), st.booleans())
def test_program_agrees_with_the_kernel_model_hypothesis(oci, with_spec_prefix):
    try:
        rules = D.effective_rules((RUNC_SPEC if with_spec_prefix else []) + oci)
    except ConfigError:
        return
    check_program(rules)


def test_same_as_last_match_wins_without_shadowed_exceptions():
    # deny-all then allows (what runc, podman and containerd generate): for one access
    # at a time, the kernel's meaning and "the last matching rule wins" agree. (For
    # several bits at once the kernel wants one exception granting them all, where
    # exceptions with the same type:major:minor are merged.)
    rnd = random.Random(3)
    for _ in range(100):
        oci = [rule(False)] + [r for r in random_oci(rnd) if r["type"] != "a" and r["allow"]]
        rules = D.effective_rules(oci)
        prog = D.bpf_program(rules)
        for t, ma, mi, acc in QUERIES:
            if acc not in (D.ACC_READ, D.ACC_WRITE, D.ACC_MKNOD):
                continue
            assert D.evaluate(prog, t, ma, mi, acc) == last_match_wins(rules, t, ma, mi, acc)


def test_where_the_kernel_differs_from_last_match_wins():
    # a wider deny after a narrower allow leaves the narrower exception in v1, so
    # v2 keeps it too: v1 and v2 must agree
    rules = D.effective_rules([rule(False), rule(True, "c", 4, 1, "w"), rule(False, "c", 4, None, "w")])
    prog = D.bpf_program(rules)
    assert D.evaluate(prog, "c", 4, 1, "w") and kernel_after(rules).allowed("c", 4, 1, D.ACC_WRITE)
    assert not last_match_wins(rules, "c", 4, 1, D.ACC_WRITE)


def test_partial_access_rules():
    # allow lists need one rule granting every requested bit; deny lists deny on any bit
    allow = D.bpf_program(D.effective_rules([rule(False), rule(True, "b", 8, 0, "r"), rule(True, "b", 8, None, "w")]))
    assert D.evaluate(allow, "b", 8, 0, "r") and D.evaluate(allow, "b", 8, 0, "w")
    assert not D.evaluate(allow, "b", 8, 0, "rw")
    deny = D.bpf_program(D.effective_rules([rule(True), rule(False, "b", 8, 0, "w")]))
    assert not D.evaluate(deny, "b", 8, 0, "rw") and D.evaluate(deny, "b", 8, 0, "r")
    assert D.evaluate(deny, "b", 8, 1, "rw") and D.evaluate(deny, "c", 8, 0, "w")


def test_device_numbers_above_int32():
    big = 0xFFFFFFF0
    prog = D.bpf_program(D.effective_rules([rule(False), rule(True, "c", big, big + 1, "r")]))
    assert D.evaluate(prog, "c", big, big + 1, "r")
    assert not D.evaluate(prog, "c", big, big, "r") and not D.evaluate(prog, "c", big - (1 << 31), big + 1, "r")
    assert (D.MOV32_K, 1, 0, 0, big - (1 << 32)) in prog


def test_encode_is_struct_bpf_insn():
    prog = D.bpf_program(D.effective_rules(RUNC_SPEC))
    raw = D.encode(prog)
    assert len(raw) == 8 * len(prog)
    assert raw[:8] == bytes([0x61, 0x12, 0, 0, 0, 0, 0, 0])          # ldxw r2, [r1+0]
    assert raw[8:16] == bytes([0x54, 0x02, 0, 0, 0xFF, 0xFF, 0, 0])  # and32 r2, 0xffff
    assert raw[-8:] == bytes([0x95, 0, 0, 0, 0, 0, 0, 0])            # exit
    decoded = [(c, r & 0xF, r >> 4, off, imm) for c, r, off, imm in struct.iter_unpack("<BBhi", raw)]
    assert decoded == prog
    assert D.encode([(D.MOV32_K, 1, 0, 0, -16)])[4:] == struct.pack("<i", -16)


def test_interpreter_refuses_what_the_verifier_would():
    with pytest.raises(ValueError):
        D.evaluate([(D.MOV32_X, 0, 7, 0, 0), (D.EXIT, 0, 0, 0, 0)], "c", 1, 3, "r")   # r7 unset
    with pytest.raises(ValueError):
        D.evaluate([(D.LDXW, 2, 1, 12, 0), (D.EXIT, 0, 0, 0, 0)], "c", 1, 3, "r")      # past the ctx
    with pytest.raises(ValueError):
        D.evaluate([(D.MOV32_K, 0, 0, 0, 1)], "c", 1, 3, "r")                          # falls off
    with pytest.raises(ValueError):
        D.evaluate([(0x07, 0, 0, 0, 1), (D.EXIT, 0, 0, 0, 0)], "c", 1, 3, "r")         # not emitted


def test_program_size_for_many_rules():
    oci = [rule(False)] + [rule(True, "c", 200 + i, i, "rw") for i in range(300)]
    prog = check_program(D.effective_rules(oci))
    assert len(prog) < 4096       # BPF_MAXINSNS for unprivileged loaders
    assert D.evaluate(prog, "c", 299, 99, "r") and not D.evaluate(prog, "c", 299, 98, "r")


def test_every_access_combination_for_the_default_rules():
    prog = D.bpf_program(D.effective_rules(RUNC_SPEC))
    cases = itertools.product("cb", (1, 5, 10, 136), (0, 2, 3, 200), range(1, 8))
    allowed = {(t, ma, mi, acc) for t, ma, mi, acc in cases if D.evaluate(prog, t, ma, mi, acc)}
    assert ("b", 1, 3, D.ACC_MKNOD) in allowed and ("c", 136, 200, 7) in allowed
    assert ("c", 5, 3, D.ACC_READ) not in allowed and ("c", 1, 3, 7) in allowed
    assert all(acc == D.ACC_MKNOD for t, ma, mi, acc in allowed if t == "b")
