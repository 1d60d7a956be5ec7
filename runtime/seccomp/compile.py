"""Profile -> BPF bytes with pyseccomp (libseccomp). Imported only on a cache miss."""
import os

import pyseccomp as sc

from pyrunc import log
from pyrunc.errors import ConfigError

OPS = {"SCMP_CMP_NE": sc.NE, "SCMP_CMP_LT": sc.LT, "SCMP_CMP_LE": sc.LE, "SCMP_CMP_EQ": sc.EQ,
       "SCMP_CMP_GE": sc.GE, "SCMP_CMP_GT": sc.GT, "SCMP_CMP_MASKED_EQ": sc.MASKED_EQ}
ARCH = {"SCMP_ARCH_" + k: getattr(sc.Arch, k) for k in dir(sc.Arch) if k.isupper() and k != "NATIVE"}


def _action(act):
    name, err = act
    return {
        "SCMP_ACT_KILL_THREAD": lambda: sc.KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS": lambda: sc.KILL_PROCESS,
        "SCMP_ACT_TRAP": lambda: sc.TRAP,
        "SCMP_ACT_ERRNO": lambda: sc.ERRNO(err),
        "SCMP_ACT_TRACE": lambda: sc.TRACE(err),
        "SCMP_ACT_ALLOW": lambda: sc.ALLOW,
        "SCMP_ACT_LOG": lambda: sc.LOG,
        "SCMP_ACT_NOTIFY": lambda: sc.NOTIFY,
    }[name]()


def supported_arches():
    return sorted(ARCH)


def compile_profile(profile, notes=None):
    """BPF program bytes (struct sock_filter[]) for the profile; the debug lines about
    what was skipped are also appended to `notes` (the cache replays them on a hit)."""
    def note(msg):
        log.debugf(msg)
        if notes is not None:
            notes.append(msg)

    try:
        f = sc.SyscallFilter(_action(profile.default))
    except (OSError, RuntimeError) as e:
        raise ConfigError("linux.seccomp.defaultAction", "libseccomp refuses it: %s" % getattr(e, "strerror", e)) \
            from None
    native = sc.system_arch()
    for name in profile.arches:
        arch = ARCH.get(name)
        if arch is None:
            note('seccomp architecture "%s" not supported by this libseccomp, ignored' % name)
            continue
        if arch != native:
            try:
                f.add_arch(arch)
            except OSError:  # already present
                pass
    for r in profile.rules:
        if sc.resolve_syscall(sc.Arch.NATIVE, r.syscall) == -1:  # __NR_SCMP_ERROR; other negatives are pseudo-syscalls
            note('unknown seccomp syscall "%s" ignored' % r.syscall)
            continue
        args = [sc.Arg(i, OPS[op], v, v2) for i, op, v, v2 in r.args]
        try:
            f.add_rule(_action(r.action), r.syscall, *args)
        except OSError as e:
            raise ConfigError("linux.seccomp.syscalls", 'rule for "%s": %s' % (r.syscall, e.strerror)) from None
    fd = os.memfd_create("pyrunc-seccomp", os.MFD_CLOEXEC)
    try:
        f.export_bpf(_Fd(fd))
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while True:
            b = os.read(fd, 65536)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(fd)
    return b"".join(chunks)


class _Fd:
    def __init__(self, fd):
        self._fd = fd

    def fileno(self):
        return self._fd
