"""What the host's cgroups look like, read from /proc/self/mountinfo and
/proc/self/cgroup. Pure parsing functions take the file text, for tests."""


class Hierarchy:
    """One mounted hierarchy: v1 (controllers or a name=) or the v2 unified one."""

    __slots__ = ("mountpoint", "root", "version", "controllers", "options")

    def __init__(self, mountpoint, root, version, controllers, options):
        self.mountpoint = mountpoint
        self.root = root              # the cgroup path the mount shows as its root
        self.version = version        # 1 or 2
        self.controllers = controllers  # e.g. ("cpu", "cpuacct") or ("name=systemd",)
        self.options = options        # the subsystem option string for mount(2)

    @property
    def key(self):
        """The name /proc/PID/cgroup uses for it: "memory", "name=systemd", "" for v2."""
        return ",".join(self.controllers) if self.version == 1 else ""

    def __repr__(self):
        return "Hierarchy(%r, v%d, %r)" % (self.mountpoint, self.version, self.controllers)


class CgroupHost:
    """mode: "v2" (unified), "hybrid" (v1 controllers plus cgroup2), "legacy" (v1 only),
    or "none". `own` maps a hierarchy key to this process's cgroup path in it."""

    __slots__ = ("mode", "hierarchies", "own")

    def __init__(self, mode, hierarchies, own):
        self.mode = mode
        self.hierarchies = hierarchies
        self.own = own

    @property
    def v1(self):
        return [h for h in self.hierarchies if h.version == 1]

    @property
    def unified(self):
        for h in self.hierarchies:
            if h.version == 2:
                return h
        return None


def _unescape(s):
    return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def parse_mountinfo(text):
    hs = []
    seen = set()
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        f = left.split()
        r = right.split()
        if len(f) < 5 or len(r) < 3:
            continue
        fstype, super_opts = r[0], r[2]
        if fstype not in ("cgroup", "cgroup2"):
            continue
        mnt = _unescape(f[4])
        root = _unescape(f[3])
        if fstype == "cgroup2":
            key = "v2"
            ctrls = ()
            opts = ""
            version = 2
        else:
            ctrls = []
            for o in super_opts.split(","):
                if o in ("rw", "ro") or o.startswith(("release_agent=", "xattr", "clone_children", "noprefix",
                                                      "cpuset_v2_mode", "nofavordynmods", "favordynmods")):
                    continue
                ctrls.append(o)
            ctrls = tuple(ctrls)
            key = ",".join(ctrls)
            opts = key
            version = 1
        if key in seen:  # the same hierarchy mounted twice: keep the first
            continue
        seen.add(key)
        hs.append(Hierarchy(mnt, root, version, ctrls, opts))
    return hs


def parse_proc_cgroup(text):
    own = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            own[parts[1]] = parts[2]
    return own


def mode_of(hierarchies):
    # cgroup2 at /sys/fs/cgroup itself is a unified host whatever else is mounted (runc
    # looks at that directory's filesystem type): a stray v1 mount beside it, as some VPN
    # clients make for net_cls, must not send memory or cpu writes to v1 directories
    if any(h.version == 2 and h.mountpoint == "/sys/fs/cgroup" for h in hierarchies):
        return "v2"
    v1 = any(h.version == 1 and not h.controllers[0].startswith("name=") for h in hierarchies)
    v2 = any(h.version == 2 for h in hierarchies)
    if v1 and v2:
        return "hybrid"
    if v1:
        return "legacy"
    if v2:
        return "v2"
    return "none"


def detect(proc="/proc"):
    with open(proc + "/self/mountinfo") as f:
        hs = parse_mountinfo(f.read())
    with open(proc + "/self/cgroup") as f:
        own = parse_proc_cgroup(f.read())
    return CgroupHost(mode_of(hs), hs, own)
