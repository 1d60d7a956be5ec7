"""`pyrunc features`: the runtime-spec Features document, listing only what this build
really does (containerd reads it to decide on user-namespace pods and idmap mounts)."""
from pyrunc import OCI_VERSION, __version__, jsonio, lsm
from pyrunc.plan import caps, mounts
from pyrunc import seccomp
from pyrunc.seccomp import profile

HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
SYS_SECCOMP = {"x86_64": 317, "aarch64": 277, "i686": 354, "ppc64le": 358, "s390x": 348,
               "riscv64": 277}.get(__import__("posix").uname().machine, 317)


def _seccomp_supported_flags():
    """Flags the running kernel accepts: seccomp(SET_MODE_FILTER, flag, NULL) fails with
    EFAULT for a known flag (the NULL program) and EINVAL for an unknown one."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    out = []
    for name, bit in sorted(profile.FLAGS.items(), key=lambda kv: kv[1]):
        if bit == 32:  # WAIT_KILLABLE_RECV is only valid with NEW_LISTENER
            bit |= profile.FLAG_NEW_LISTENER
        if libc.syscall(SYS_SECCOMP, 1, bit, None) < 0 and ctypes.get_errno() == 14:
            out.append(name)
    return out


SYS_MOUNT_SETATTR = 442  # the same number on every architecture (a syscall added after 5.0)


def idmap_supported():
    """Whether the kernel has mount_setattr (Linux 5.12), which brought MOUNT_ATTR_IDMAP:
    with no attr it fails EINVAL where it exists, ENOSYS where it does not."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return libc.syscall(SYS_MOUNT_SETATTR, -1, b"", 0, None, 0) == 0 or ctypes.get_errno() != 38


def document():
    from pyrunc.seccomp import compile as comp

    idmap = idmap_supported()
    opts = set(mounts.FLAGS) | set(mounts.PROPAGATION) | set(mounts.RECURSIVE) | {"tmpcopyup"}
    if idmap:
        opts |= {"idmap", "ridmap"}
    opts = sorted(opts)
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": list(HOOKS),
        "mountOptions": opts,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": list(caps.NAMES),
            "cgroup": {"v1": True, "v2": True, "systemd": True, "systemdUser": False, "rdma": True},
            "seccomp": {
                "enabled": True,
                "actions": sorted(profile.ACTIONS),
                "operators": sorted(profile.OPERATORS),
                "archs": comp.supported_arches(),
                "knownFlags": sorted(profile.FLAGS),
                "supportedFlags": _seccomp_supported_flags(),
            },
            # what this host can apply (runc says true for what it was built with)
            "apparmor": {"enabled": lsm.apparmor_enabled()},
            "selinux": {"enabled": lsm.selinux_enabled()},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": idmap}},
            "netDevices": {"enabled": False},
        },
        "annotations": {
            "io.github.seccomp.libseccomp.version": seccomp.libseccomp_version(),
            # runc: "true" when built with CRIU support; we ask CRIU whether it works here
            "org.opencontainers.runc.checkpoint.enabled": _checkpoint_enabled(),
            "io.github.pyrunc.version": __version__,
            # the runtime-spec: listenerPath matters only with an SCMP_ACT_NOTIFY rule (runc alike)
            "io.github.pyrunc.seccomp.listenerPath": "used with an SCMP_ACT_NOTIFY rule only, ignored otherwise",
        },
    }


def _checkpoint_enabled():
    from pyrunc.lifecycle import criu

    return "false" if criu.check() else "true"


def render():
    return jsonio.dumps_indent(document(), "    ") + "\n"
