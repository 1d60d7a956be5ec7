"""linux.resources -> the cgroup file writes that realise it, for v1 and for v2. Pure:
the host is described by a HostFacts (which files exist), so tests need no cgroupfs;
only facts_from_dirs() reads the real directories.

The rules follow runc (opencontainers/cgroups fs/*.go, fs2/*.go, utils.go, and runc's
specconv.go and configs/validate): the same files, values and order, and the same
refusals, raised here as ConfigError with the JSON path instead of failing mid-way
through the writes. A Write names its v1 controller ("memory", "cpu", ...; "" on v2,
one directory) so the caller picks the hierarchy. Writes are ordered for a new cgroup;
`runc update` needs the current values for two pairs, see order_memory_writes and
order_rt_writes. The caller applies every write before the container joins (v1
cpu.rt_* must be set before a SCHED_RR task can join).

Kept off the import graph: re, dataclasses, json (this runs on the create path).
"""
from pyrunc.cgroups import devices as _devices
from pyrunc.cgroups.fs import Write
from pyrunc.errors import ConfigError


class HostFacts:
    """What the container's cgroup directories hold. `files`: the names found in them
    (None = unknown: every file is assumed present, and choices between alternatives
    become optional writes of both); `controllers`: v2 cgroup.controllers (None =
    unknown); `bfq_device_weight`: io.bfq.weight takes "maj:min weight" lines (kernel 5.4+).
    Made by facts_from_dirs(), they are read from the directories when first asked for:
    a config that sets nothing the facts decide (runc's default: device rules only)
    lists no directory."""

    __slots__ = ("_files", "_controllers", "_bfq", "_dirs")

    def __init__(self, files=None, controllers=None, bfq_device_weight=None):
        self._files = None if files is None else frozenset(files)
        self._controllers = None if controllers is None else frozenset(controllers)
        self._bfq = bfq_device_weight
        self._dirs = None

    def _load(self):
        dirs, self._dirs = self._dirs, None
        self.__init__(*_read_dirs(dirs))

    @property
    def files(self):
        if self._dirs is not None:
            self._load()
        return self._files

    @property
    def controllers(self):
        if self._dirs is not None:
            self._load()
        return self._controllers

    @property
    def bfq_device_weight(self):
        if self._dirs is not None:
            self._load()
        return self._bfq

    def has(self, name):
        """True, False, or None when unknown."""
        files = self.files
        return None if files is None else name in files

    def hugepage_sizes(self):
        """Page sizes with a hugetlb limit file ("2MB", "1GB"), or None when unknown."""
        files = self.files
        if files is None:
            return None
        sizes = set()
        for f in files:
            if f.startswith("hugetlb.") and (f.endswith(".limit_in_bytes") or f.endswith(".max")):
                size = f.split(".")[1]
                if size and f.count(".") == 2:
                    sizes.add(size)
        return sizes


def _facts(host_facts):
    if host_facts is None:
        return HostFacts()
    if isinstance(host_facts, dict):
        return HostFacts(**host_facts)
    return host_facts


def _read(path, limit=4096):
    import posix

    fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        return posix.read(fd, limit).decode(errors="replace")
    finally:
        posix.close(fd)


def facts_from_dirs(paths):
    """HostFacts from the container's cgroup directories (a {key: dir} map such as
    cgroups.paths.resolve() gives, or a list of dirs), once created and, on v2, with
    the controllers enabled in the parent's cgroup.subtree_control: a parent, and
    above all the root cgroup, lacks files its children have. Read on first use."""
    facts = HostFacts()
    facts._dirs = list(paths.values()) if isinstance(paths, dict) else list(paths)
    return facts


def _read_dirs(dirs):
    """(files, controllers, bfq_device_weight) as HostFacts takes them."""
    import posix

    files = set()
    controllers = None
    bfq = None
    seen = False
    for d in dirs:
        try:
            names = posix.listdir(d)
        except OSError:
            continue
        seen = True
        files.update(names)
        if "cgroup.controllers" in names:
            try:
                controllers = set(controllers or ()) | set(_read(d + "/cgroup.controllers").split())
            except OSError:
                pass
        if "io.bfq.weight" in names:
            try:
                # "default 100" (and "maj:min w" lines) since 5.4; a bare "100" before
                bfq = not _read(d + "/io.bfq.weight").strip().isdigit()
            except OSError:
                pass
    return (files if seen else None), controllers, bfq


# --- shared checks --------------------------------------------------------------------

P = "linux.resources."
SWAPPINESS_UNSET = (1 << 64) - 1   # runc's "unset": -1 stored in a uint64
FRESH_MEMORY_LIMIT = 9223372036854771712  # memory.limit_in_bytes of a new v1 cgroup
MIN_SHARES, MAX_SHARES = 2, 262144  # kernel MIN_SHARES, MAX_SHARES (1 << 18)


KERNEL_MEMORY_IGNORED = "Kernel memory settings are ignored and will be removed"   # runc's warning


def runc_warnings(resources):
    """What runc 1.1.5 warns about in linux.resources as it converts them (create)."""
    mem = (resources or {}).get("memory") or {}
    return [KERNEL_MEMORY_IGNORED] if mem.get("kernel") is not None or mem.get("kernelTCP") is not None else []


def ignored_settings(resources, version):
    """Settings runc accepts but ignores, as log lines (version 1 or 2)."""
    r = resources or {}
    out = []
    mem = r.get("memory") or {}
    if mem.get("kernel") is not None or mem.get("kernelTCP") is not None:
        out.append(KERNEL_MEMORY_IGNORED)
    if mem.get("useHierarchy") is not None:
        out.append("linux.resources.memory.useHierarchy is ignored")
    if version == 2:
        for name in ("swappiness", "disableOOMKiller"):
            if mem.get(name) is not None:
                out.append("linux.resources.memory.%s is ignored on cgroup v2" % name)
        cpu = r.get("cpu") or {}
        if cpu.get("realtimeRuntime") or cpu.get("realtimePeriod"):
            out.append("linux.resources.cpu realtime settings are ignored on cgroup v2")
        net = r.get("network") or {}
        if net.get("classID") or net.get("priorities"):
            out.append("linux.resources.network is ignored on cgroup v2")
        blk = r.get("blockIO") or {}
        if blk.get("leafWeight") or any(wd.get("leafWeight") for wd in blk.get("weightDevice") or ()):
            out.append("linux.resources.blockIO leaf weights are ignored on cgroup v2")
    return out


def _memory_value(mem, name):
    """limit/reservation/swap: 0 or absent = unset, -1 = unlimited, else bytes."""
    v = mem.get(name) or 0
    if v < -1:
        raise ConfigError(P + "memory." + name, "invalid memory value: %d (expected -1 for no limit, or bytes)" % v)
    return v


def _shares(cpu):
    """v1 cpu.shares: the kernel clamps a value out of [2, 262144], and runc, reading
    it back, fails with these words."""
    shares = cpu.get("shares") or 0
    if shares and shares < MIN_SHARES:
        raise ConfigError(P + "cpu.shares", "the minimum allowed cpu-shares is %d" % MIN_SHARES)
    if shares > MAX_SHARES:
        raise ConfigError(P + "cpu.shares", "the maximum allowed cpu-shares is %d" % MAX_SHARES)
    return shares


def _v2_weight(cpu):
    """cpu.shares as v2 cpu.weight; the kernel takes 1..10000 (runc passes the
    converted value on, and the write fails above that)."""
    weight = shares_to_weight(cpu.get("shares") or 0)
    if weight > 10000:
        raise ConfigError(P + "cpu.shares", "%d is cpu.weight %d on cgroup v2, above its maximum 10000"
                          % (cpu["shares"], weight))
    return weight


def _idle(cpu, facts):
    idle = cpu.get("idle")
    if idle is None:
        return None
    if idle not in (0, 1):
        raise ConfigError(P + "cpu.idle", "must be 0 or 1, got %d" % idle)
    if facts.has("cpu.idle") is False:
        raise ConfigError(P + "cpu.idle", "not supported by the kernel (no cpu.idle file)")
    return idle


def _weight(value, path):
    if value and not 10 <= value <= 1000:
        raise ConfigError(path, "%d is out of range: block I/O weights go from 10 to 1000" % value)
    return value or 0


def _device(d, path):
    for k in ("major", "minor"):
        if d[k] < 0:
            raise ConfigError(path + "." + k, "must not be negative, got %d" % d[k])
    return "%d:%d" % (d["major"], d["minor"])


def _pagesize(i, h, facts):
    size = h["pageSize"]
    path = P + "hugepageLimits[%d].pageSize" % i
    if not (len(size) > 2 and size[-2:] in ("KB", "MB", "GB") and size[:-2].isdigit() and size.isascii()):
        raise ConfigError(path, 'invalid hugepage size "%s" (expected a number and KB, MB or GB, as in "2MB")' % size)
    known = facts.hugepage_sizes()
    if known is not None and size not in known:
        raise ConfigError(path, 'hugepage size "%s" is not supported by the host (available: %s)'
                          % (size, ", ".join(sorted(known, key=_size_key)) or "none"))
    return size


def _size_key(size):
    return int(size[:-2]) << {"KB": 0, "MB": 10, "GB": 20}.get(size[-2:], 0)


def _token(value, path, what):
    """A name written as the first word of a line (net_prio, rdma): one plain word."""
    if not value or any(c.isspace() or c == "\0" for c in value):
        raise ConfigError(path, 'invalid %s "%s": must be one word' % (what, value))
    return value


def _rdma(r, controller):
    out = []
    rdma = r.get("rdma") or {}
    for dev in sorted(rdma):
        lim = rdma[dev]
        _token(dev, P + "rdma", "rdma device name")
        line = dev
        if lim.get("hcaHandles") is not None:
            line += " hca_handle=%d" % lim["hcaHandles"]
        if lim.get("hcaObjects") is not None:
            line += " hca_object=%d" % lim["hcaObjects"]
        out.append(Write(controller, "rdma.max", line))
    return out


def _hugetlb(r, facts, controller, suffix):
    out = []
    for i, h in enumerate(r.get("hugepageLimits") or ()):
        size = _pagesize(i, h, facts)
        value = str(h["limit"])
        out.append(Write(controller, "hugetlb.%s.%s" % (size, suffix), value))
        # the reservation limit (kernel 5.7+) is set too, so that pages reserved by
        # mmap count against the same limit; skipped where the kernel lacks it
        rsvd = "hugetlb.%s.rsvd.%s" % (size, suffix)
        if facts.has(rsvd) is not False:
            out.append(Write(controller, rsvd, value, optional=True))
    return out


# --- cgroup v1 ------------------------------------------------------------------------

MEMSW = "memory.memsw.limit_in_bytes"


def order_memory_writes(current_limit, limit, swap, swap_accounting=None):
    """memory.limit_in_bytes and memory.memsw.limit_in_bytes in an order the kernel
    accepts (it wants memsw >= limit after each write). As runc: when both are set,
    memsw goes first if it is -1 or above the *current* limit (raising), else the limit
    goes first (lowering). A limit of -1 with no swap also unlimits swap. 0 = unset.
    current_limit None = a new cgroup (no limit yet). swap_accounting False: the memsw
    file is missing, so only its "-1" (harmless) writes are dropped."""
    if limit == -1 and not swap and swap_accounting is not False:
        swap = -1
    mem = Write("memory", "memory.limit_in_bytes", str(limit)) if limit else None
    sw = None
    if swap and not (swap == -1 and swap_accounting is False):
        sw = Write("memory", MEMSW, str(swap), optional=swap == -1)
    if mem and sw:
        current = FRESH_MEMORY_LIMIT if current_limit is None else current_limit
        return [sw, mem] if swap == -1 or current < swap else [mem, sw]
    return [w for w in (mem, sw) if w]


def order_rt_writes(current_period, current_runtime, period, runtime):
    """cpu.rt_period_us and cpu.rt_runtime_us (0 = unset) in the order runc picks: the
    kernel checks runtime/period against the parent after each write, so the period
    goes first when the new runtime*period is the larger one. None = a new cgroup
    (period 1000000, runtime 0). A runtime of -1 is no limit."""
    p = Write("cpu", "cpu.rt_period_us", str(period)) if period else None
    rt = Write("cpu", "cpu.rt_runtime_us", str(runtime)) if runtime else None
    if p and rt:
        old_p = 1000000 if current_period is None else current_period
        old_rt = 0 if current_runtime is None else current_runtime
        big = 1 << 63
        old = (big if old_rt < 0 else old_rt) * old_p
        new = (big if runtime < 0 else runtime) * period
        return [p, rt] if old < new else [rt, p]
    return [w for w in (p, rt) if w]


def _v1_memory(r, facts):
    mem = r.get("memory") or {}
    limit = _memory_value(mem, "limit")
    reservation = _memory_value(mem, "reservation")
    swap = _memory_value(mem, "swap")
    # asked only when it decides something: the facts list the cgroup dirs when first read
    accounting = facts.has(MEMSW) if swap or limit == -1 else None
    if swap > 0:
        if accounting is False:
            raise ConfigError(P + "memory.swap", "swap limit is not supported: the kernel has no swap "
                                                 "accounting (no %s)" % MEMSW)
        if limit == 0:
            raise ConfigError(P + "memory.swap", "unable to set swap limit without memory limit")
        if swap < limit or limit == -1:   # -1: the memory limit is "unlimited"
            raise ConfigError(P + "memory.swap", "memory+swap limit should be >= memory limit")
    out = order_memory_writes(None, limit, swap, accounting)
    if reservation:
        out.append(Write("memory", "memory.soft_limit_in_bytes", str(reservation)))
    if mem.get("disableOOMKiller"):
        out.append(Write("memory", "memory.oom_control", "1"))
    swappiness = mem.get("swappiness")
    if swappiness is not None and swappiness not in (-1, SWAPPINESS_UNSET):
        if not 0 <= swappiness <= 100:
            raise ConfigError(P + "memory.swappiness",
                              "invalid memory swappiness value: %d (valid range is 0-100)" % swappiness)
        out.append(Write("memory", "memory.swappiness", str(swappiness)))
    # kernel and kernelTCP: ignored since runc 1.0.0-rc94 (see ignored_settings());
    # useHierarchy is not mapped by runc either
    return out


def _v1_cpu(r, facts):
    cpu = r.get("cpu") or {}
    out = []
    idle = _idle(cpu, facts)
    if idle is not None:
        out.append(Write("cpu", "cpu.idle", str(idle)))
    shares = _shares(cpu)
    if shares and not idle:   # the kernel refuses cpu.shares while cpu.idle is 1
        out.append(Write("cpu", "cpu.shares", str(shares)))
    if cpu.get("period"):
        out.append(Write("cpu", "cpu.cfs_period_us", str(cpu["period"])))
    quota = cpu.get("quota") or 0
    if quota:
        out.append(Write("cpu", "cpu.cfs_quota_us", str(quota)))
    burst = cpu.get("burst")
    if burst is not None:
        if quota > 0 and burst > quota:
            raise ConfigError(P + "cpu.burst", "burst %d is larger than quota %d" % (burst, quota))
        # runc ignores a missing cpu.cfs_burst_us (kernels before 5.14)
        if facts.has("cpu.cfs_burst_us") is not False:
            out.append(Write("cpu", "cpu.cfs_burst_us", str(burst), optional=True))
    out.extend(order_rt_writes(None, None, cpu.get("realtimePeriod") or 0, cpu.get("realtimeRuntime") or 0))
    return out


def _cpuset(r, controller):
    cpu = r.get("cpu") or {}
    return [Write(controller, "cpuset." + k, cpu[k]) for k in ("cpus", "mems") if cpu.get(k)]


def _pids(r, controller):
    pids = r.get("pids")
    if not pids or pids.get("limit") is None:
        return []
    limit = pids["limit"]
    # runtime-spec 1.3: 0 is a real limit; runc writes it as "1" (systemd's TasksMax
    # cannot be 0, and the fs and systemd drivers must agree); negative = no limit
    value = str(limit) if limit > 0 else "1" if limit == 0 else "max"
    return [Write(controller, "pids.max", value)]


def _v1_blkio(r, facts):
    blk = r.get("blockIO") or {}
    out = []
    # runc: blkio.weight where it exists (CFQ), else BFQ's blkio.bfq.weight
    plain = facts.has("blkio.weight") if blk.get("weight") or blk.get("weightDevice") else None
    if plain is None:
        choices = (("blkio.weight", "blkio.weight_device", True), ("blkio.bfq.weight", "blkio.bfq.weight_device", True))
    elif plain:
        choices = (("blkio.weight", "blkio.weight_device", False),)
    else:
        choices = (("blkio.bfq.weight", "blkio.bfq.weight_device", False),)
    weight = _weight(blk.get("weight"), P + "blockIO.weight")
    if weight:
        out.extend(Write("blkio", f, str(weight), opt) for f, _, opt in choices)
    leaf = _weight(blk.get("leafWeight"), P + "blockIO.leafWeight")
    if leaf:
        if facts.has("blkio.leaf_weight") is False:
            raise ConfigError(P + "blockIO.leafWeight", "not supported by the kernel's I/O scheduler "
                                                        "(no blkio.leaf_weight)")
        out.append(Write("blkio", "blkio.leaf_weight", str(leaf)))
    for i, wd in enumerate(blk.get("weightDevice") or ()):
        path = P + "blockIO.weightDevice[%d]" % i
        dev = _device(wd, path)
        w = _weight(wd.get("weight"), path + ".weight")
        lw = _weight(wd.get("leafWeight"), path + ".leafWeight")
        if w:
            out.extend(Write("blkio", f, "%s %d" % (dev, w), opt) for _, f, opt in choices)
        if lw:
            if facts.has("blkio.leaf_weight_device") is False:
                raise ConfigError(path + ".leafWeight", "not supported by the kernel's I/O scheduler "
                                                        "(no blkio.leaf_weight_device)")
            out.append(Write("blkio", "blkio.leaf_weight_device", "%s %d" % (dev, lw)))
    for key, f in (("throttleReadBpsDevice", "read_bps_device"), ("throttleWriteBpsDevice", "write_bps_device"),
                   ("throttleReadIOPSDevice", "read_iops_device"), ("throttleWriteIOPSDevice", "write_iops_device")):
        for i, td in enumerate(blk.get(key) or ()):
            dev = _device(td, P + "blockIO.%s[%d]" % (key, i))
            out.append(Write("blkio", "blkio.throttle." + f, "%s %d" % (dev, td["rate"])))
    return out


def _v1_net(r):
    net = r.get("network") or {}
    out = []
    if net.get("classID"):
        out.append(Write("net_cls", "net_cls.classid", str(net["classID"])))
    for i, p in enumerate(net.get("priorities") or ()):
        name = _token(p["name"], P + "network.priorities[%d].name" % i, "interface name")
        out.append(Write("net_prio", "net_prio.ifpriomap", "%s %d" % (name, p["priority"])))
    return out


def plan_v1(resources, host_facts=None, device_paths=()):
    """The writes for a v1 (legacy or hybrid) host, in runc's controller order: cpuset,
    devices, memory, cpu, pids, blkio, hugetlb, net_cls, net_prio, rdma. The device
    rules are the OCI list plus runc's defaults (device_paths: linux.devices[].path,
    which drop the default rule of the same path)."""
    r = resources or {}
    facts = _facts(host_facts)
    if r.get("unified"):
        raise ConfigError(P + "unified", "invalid configuration: cannot use unified on cgroup v1")
    out = _cpuset(r, "cpuset")
    out.extend(_devices.v1_writes(_devices.effective_rules(r.get("devices"), device_paths)))
    out.extend(_v1_memory(r, facts))
    out.extend(_v1_cpu(r, facts))
    out.extend(_pids(r, "pids"))
    out.extend(_v1_blkio(r, facts))
    out.extend(_hugetlb(r, facts, "hugetlb", "limit_in_bytes"))
    out.extend(_v1_net(r))
    out.extend(_rdma(r, "rdma"))
    return out


# --- cgroup v2 ------------------------------------------------------------------------

def shares_to_weight(shares):
    """cpu.shares [2, 262144] -> cpu.weight [1, 10000], linearly; 0 = unset (runc's
    ConvertCPUSharesToCgroupV2Value, with Go's division, which rounds toward zero:
    shares 1 is weight 1)."""
    if not shares:
        return 0
    n = (shares - 2) * 9999
    return 1 + (n // 262142 if n >= 0 else -(-n // 262142))


def blkio_to_io_weight(weight):
    """blkio.weight [10, 1000] -> io.weight [1, 10000], linearly; 0 = unset
    (runc's ConvertBlkIOToIOWeightValue)."""
    if not weight:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def swap_to_v2(swap, limit):
    """OCI swap (memory+swap) -> memory.swap.max (swap alone); -1 = max, 0 = unset
    (runc's ConvertMemorySwapToCgroupV2Value). Raises ConfigError."""
    if limit == -1 and swap == 0:
        return -1   # "unlimited memory" also unlimits swap, as on v1
    if swap in (-1, 0):
        return swap
    if limit in (0, -1):
        raise ConfigError(P + "memory.swap", "unable to set swap limit without memory limit")
    if limit < 0:
        raise ConfigError(P + "memory.limit", "invalid memory value: %d" % limit)
    if swap < limit:
        raise ConfigError(P + "memory.swap", "memory+swap limit should be >= memory limit")
    return swap - limit


def _v2_number(v):
    return "max" if v == -1 else str(v)


def _v2_memory(r, facts):
    mem = r.get("memory") or {}
    limit = _memory_value(mem, "limit")
    reservation = _memory_value(mem, "reservation")
    swap = _memory_value(mem, "swap")
    if not (limit or reservation or swap):
        return []
    out = []
    v2swap = swap_to_v2(swap, limit)
    value = "max" if v2swap == -1 else str(v2swap) if v2swap else "0" if swap > 0 else ""
    if value:
        # "max" and "0" are what a kernel without swap accounting has anyway
        harmless = value in ("max", "0")
        present = facts.has("memory.swap.max")
        if present is False and not harmless:
            raise ConfigError(P + "memory.swap", "swap limit is not supported: the kernel has no swap "
                                                 "accounting (no memory.swap.max)")
        if present is not False:
            out.append(Write("", "memory.swap.max", value, optional=harmless))
    if limit:
        out.append(Write("", "memory.max", _v2_number(limit)))
    if reservation:
        out.append(Write("", "memory.low", _v2_number(reservation)))
    return out


def _v2_io(r, facts):
    blk = r.get("blockIO") or {}
    out = []
    weight = _weight(blk.get("weight"), P + "blockIO.weight")
    bfq = facts.has("io.bfq.weight")
    if weight:
        # BFQ takes the blkio value as is; without BFQ, io.weight on its own scale
        if bfq is not False:
            out.append(Write("", "io.bfq.weight", str(weight), optional=bfq is None))
        if bfq is not True:
            out.append(Write("", "io.weight", str(blkio_to_io_weight(weight)), optional=bfq is None))
    # per-device weights: only BFQ has them on v2 (5.4+); runc skips them otherwise
    per_device = bfq is not False and facts.bfq_device_weight is not False
    for i, wd in enumerate(blk.get("weightDevice") or ()):
        path = P + "blockIO.weightDevice[%d]" % i
        dev = _device(wd, path)
        w = _weight(wd.get("weight"), path + ".weight")
        if w and per_device:
            out.append(Write("", "io.bfq.weight", "%s %d" % (dev, w),
                             optional=bfq is None or facts.bfq_device_weight is None))
    limits = {}
    for key, name in (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
                      ("throttleReadIOPSDevice", "riops"), ("throttleWriteIOPSDevice", "wiops")):
        for i, td in enumerate(blk.get(key) or ()):
            dev = _device(td, P + "blockIO.%s[%d]" % (key, i))
            if td["rate"]:   # runc skips a rate of 0
                limits.setdefault(dev, {})[name] = td["rate"]
    for dev, kv in limits.items():
        out.append(Write("", "io.max", dev + "".join(" %s=%d" % item for item in kv.items())))
    return out


def _v2_cpu(r, facts):
    cpu = r.get("cpu") or {}
    # realtimeRuntime and realtimePeriod: v2 has no cpu.rt_* files; runc's v2 driver
    # ignores them (see ignored_settings())
    out = []
    idle = _idle(cpu, facts)
    if idle is not None:
        out.append(Write("", "cpu.idle", str(idle)))
    weight = _v2_weight(cpu)
    if weight and not idle:   # the kernel refuses cpu.weight while cpu.idle is 1
        out.append(Write("", "cpu.weight", str(weight)))
    quota = cpu.get("quota") or 0
    period = cpu.get("period") or 0
    if quota or period:
        out.append(Write("", "cpu.max", "%s %d" % (quota if quota > 0 else "max", period or 100000)))
    burst = cpu.get("burst")
    if burst is not None:
        if quota > 0 and burst > quota:
            raise ConfigError(P + "cpu.burst", "burst %d is larger than quota %d" % (burst, quota))
        if facts.has("cpu.max.burst") is False:
            raise ConfigError(P + "cpu.burst", "not supported by the kernel (no cpu.max.burst)")
        # after cpu.max: the kernel refuses a burst above the quota in force
        out.append(Write("", "cpu.max.burst", str(burst)))
    return out


def _unified(r, facts):
    out = []
    for key, value in (r.get("unified") or {}).items():
        path = P + "unified." + key
        # runc's words (fs2 setUnified), which callers match on
        if not key or "/" in key or "\0" in key or key in (".", ".."):
            raise ConfigError(path, 'unified resource "%s" must be a file name (no slashes)' % key.replace("\0", "\\0"))
        controller, dot, param = key.partition(".")
        if not controller or not dot or not param:
            raise ConfigError(path, 'unified resource "%s" must be in the form CONTROLLER.PARAMETER' % key)
        if facts.controllers is not None and controller != "cgroup" and controller not in facts.controllers:
            raise ConfigError(path, 'unified resource "%s" can\'t be set: controller "%s" not available'
                              % (key, controller))
        if facts.has(key) is False:
            raise ConfigError(path, "no such file in the container's cgroup")
        if "\0" in value:
            raise ConfigError(path, "value must not contain a NUL byte")
        # runc writes a multi-line value line by line (WriteFileByLine)
        lines = value.split("\n") if "\n" in value else [value]
        out.extend(Write("", key, line) for line in lines if line or len(lines) == 1)
    return out


def plan_v2(resources, host_facts=None):
    """The writes for the unified hierarchy, in runc's order: pids, memory, io, cpu,
    cpuset, hugetlb, rdma, then `unified`, last so that it wins over a typed field that
    sets the same file. Device rules are not writes on v2: see devices.bpf_program()."""
    r = resources or {}
    facts = _facts(host_facts)
    out = _pids(r, "")
    out.extend(_v2_memory(r, facts))
    out.extend(_v2_io(r, facts))
    out.extend(_v2_cpu(r, facts))
    out.extend(_cpuset(r, ""))
    out.extend(_hugetlb(r, facts, "", "max"))
    out.extend(_rdma(r, ""))
    out.extend(_unified(r, facts))
    return out
