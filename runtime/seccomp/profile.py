"""The OCI seccomp profile as plain rules, with runc's reading of it:
- the action of a rule equal to the default action adds nothing;
- ERRNO and TRACE take errnoRet (default EPERM), the default action defaultErrnoRet;
- arguments on distinct indexes are ANDed in one rule; when an index repeats, each
  argument becomes a rule of its own (ORed), as libseccomp cannot AND on one index;
- unknown syscall names are skipped (logged at debug), unknown actions and operators
  were already refused by the loader with their JSON path.
"""
from pyrunc.errors import ConfigError

EPERM = 1

ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
           "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY")
OPERATORS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
             "SCMP_CMP_MASKED_EQ")
ARCHES = ("SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
          "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
          "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
          "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64")
# seccomp(2) flags
FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2, "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
         "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32}
FLAG_NEW_LISTENER = 8


def action(name, errno_ret):
    """(action name, errno) in a canonical form."""
    if name == "SCMP_ACT_KILL":
        name = "SCMP_ACT_KILL_THREAD"
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        return (name, EPERM if errno_ret is None else errno_ret)
    return (name, 0)


class Rule:
    __slots__ = ("syscall", "action", "args")

    def __init__(self, syscall, act, args):
        self.syscall = syscall
        self.action = act          # (name, errno)
        self.args = args           # ((index, op, value, valueTwo), ...)

    def key(self):
        return (self.syscall, self.action, self.args)

    def __eq__(self, other):
        return isinstance(other, Rule) and self.key() == other.key()

    def __repr__(self):
        return "Rule(%r, %r, %r)" % self.key()


# what the init calls between loading the filter and execve (sending the listener,
# reporting an error): a notifying one would wait for a listener it has not sent yet
_USED_AFTER_LOAD = ("write", "sendmsg")


def _check_errno(value, path):
    # the kernel keeps 16 bits of SECCOMP_RET_DATA, and libseccomp takes errnos below
    # MAX_ERRNO (4095) only: anything above could never reach the process
    if value is not None and value >= 4095:
        raise ConfigError(path, "must be < 4095 (MAX_ERRNO), got %d" % value)


class Profile:
    __slots__ = ("default", "arches", "flags", "rules", "notify", "listener_path", "listener_metadata")


def rules_of(seccomp):
    """Profile from the OCI object (already type-checked)."""
    p = Profile()
    p.default = action(seccomp["defaultAction"], seccomp.get("defaultErrnoRet"))
    _check_errno(seccomp.get("defaultErrnoRet"), "linux.seccomp.defaultErrnoRet")
    p.arches = tuple(seccomp.get("architectures") or ())
    p.flags = 0
    for f in seccomp.get("flags") or ():
        p.flags |= FLAGS[f]
    if p.default[0] == "SCMP_ACT_NOTIFY":
        # the init sends the listener to the runtime after the filter is loaded: with
        # every syscall notifying, nobody would ever answer (runc refuses it too)
        raise ConfigError("linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY cannot be used as default action")
    p.rules = []
    for i, sc in enumerate(seccomp.get("syscalls") or ()):
        act = action(sc["action"], sc.get("errnoRet"))
        _check_errno(sc.get("errnoRet"), "linux.seccomp.syscalls[%d].errnoRet" % i)
        if act[0] == "SCMP_ACT_NOTIFY":
            for name in sc["names"]:
                if name in _USED_AFTER_LOAD:
                    raise ConfigError("linux.seccomp.syscalls[%d]" % i,
                                      "SCMP_ACT_NOTIFY cannot be used for the %s syscall" % name)
        if act == p.default:
            continue
        args = [(a["index"], a["op"], a["value"], a.get("valueTwo", 0)) for a in sc.get("args") or ()]
        indexes = [a[0] for a in args]
        groups = [tuple(args)] if len(set(indexes)) == len(indexes) else [(a,) for a in args]
        for name in sc["names"]:
            for g in groups:
                p.rules.append(Rule(name, act, g))
    p.notify = p.default[0] == "SCMP_ACT_NOTIFY" or any(r.action[0] == "SCMP_ACT_NOTIFY" for r in p.rules)
    if p.flags & FLAGS["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"] and not p.notify:
        # the kernel takes it only with a listener (EINVAL at load otherwise)
        raise ConfigError("linux.seccomp.flags", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule with "
                          "SCMP_ACT_NOTIFY")
    p.listener_path = seccomp.get("listenerPath") or ""
    p.listener_metadata = seccomp.get("listenerMetadata") or ""
    return p
