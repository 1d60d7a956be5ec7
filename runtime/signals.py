"""Signal names and numbers for Linux (x86_64 and the other generic-ABI arches),
without the `signal` module, whose enum import costs milliseconds."""
from pyrunc.errors import PyruncError

NUMBERS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8,
    "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16,
    "CHLD": 17, "CLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23,
    "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30,
    "SYS": 31, "UNUSED": 31,
}
SIGRTMIN = 34
SIGRTMAX = 64


def parse(raw):
    """`9`, `KILL`, `SIGKILL`, `kill`, `RTMIN+3`: the signal number (runc's rules)."""
    if raw.isdigit():
        return int(raw)
    name = raw.upper()
    if name.startswith("SIG"):
        name = name[3:]
    if name in NUMBERS:
        return NUMBERS[name]
    for base, sign in (("RTMIN", 1), ("RTMAX", -1)):
        if name == base:
            return SIGRTMIN if sign > 0 else SIGRTMAX
        if name.startswith(base + ("+" if sign > 0 else "-")) and name[6:].isdigit():
            n = (SIGRTMIN + int(name[6:])) if sign > 0 else (SIGRTMAX - int(name[6:]))
            if SIGRTMIN <= n <= SIGRTMAX:
                return n
    raise PyruncError('unknown signal "%s"' % raw)
