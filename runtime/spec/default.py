"""`pyrunc spec`: the same starter config.json as runc's `spec` (tab-indented), with
this runtime's spec version; `--rootless` maps the caller's ids into a user namespace."""
import posix

from pyrunc import OCI_VERSION, jsonio

CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
MASKED = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def unified_host():
    """runc's cgroups.IsCgroup2UnifiedMode: cgroup2 is mounted at /sys/fs/cgroup itself."""
    from pyrunc.cgroups import host

    try:
        with open("/proc/self/mountinfo") as f:
            return host.mode_of(host.parse_mountinfo(f.read())) == "v2"
    except OSError:
        return False


def spec(rootless=False, cgroupns=False):
    """`cgroupns`: runc's `spec` adds a cgroup namespace on a unified host (unified_host())."""
    devpts = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
    if not rootless:
        devpts.append("gid=5")
    sys_mount = ({"destination": "/sys", "type": "none", "source": "/sys",
                  "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]} if rootless else
                 {"destination": "/sys", "type": "sysfs", "source": "sysfs",
                  "options": ["nosuid", "noexec", "nodev", "ro"]})
    linux = {}
    if rootless:
        linux["uidMappings"] = [{"containerID": 0, "hostID": posix.geteuid(), "size": 1}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": posix.getegid(), "size": 1}]
        linux["namespaces"] = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "user")]
    else:
        linux["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
        linux["namespaces"] = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]
    if cgroupns:
        # before "user": runc's ToRootless keeps the others' order, then appends it
        linux["namespaces"].insert(len(linux["namespaces"]) - rootless, {"type": "cgroup"})
    linux["maskedPaths"] = list(MASKED)
    linux["readonlyPaths"] = list(READONLY)
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(CAPS) for k in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": devpts},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            sys_mount,
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": linux,
    }


def render(rootless=False, cgroupns=False):
    return jsonio.dumps_indent(spec(rootless, cgroupns), "\t")
