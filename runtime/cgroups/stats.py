"""Container statistics in the shape of runc's `events --stats` (types.Stats), read
from the v1 controller files or the v2 unified ones. Fields that Go would omit
(omitempty, zero) are left out so that the JSON matches byte for byte in shape."""
from pyrunc.cgroups import fs

U64_MAX = (1 << 64) - 1
USER_HZ = 100


def _read(path):
    try:
        return fs.read(path)
    except OSError:
        return None


def _int(path, default=0):
    v = _read(path)
    if v is None:
        return default
    if v == "max":
        return U64_MAX
    try:
        return int(v.split()[0])
    except (ValueError, IndexError):
        return default


def _kv(path):
    out = {}
    text = _read(path)
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def _put(d, key, value):
    """Go's omitempty for numbers, slices and maps."""
    if value:
        d[key] = value


def _entry(limit, usage, mx, failcnt):
    e = {"limit": limit}
    _put(e, "usage", usage)
    _put(e, "max", mx)
    e["failcnt"] = failcnt
    return e


def _list(text):
    """"0-3,7" -> [0, 1, 2, 3, 7]"""
    out = []
    for part in (text or "").strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            out.extend(range(int(lo), int(hi or lo) + 1))
        except ValueError:
            pass
    return out


def _blkio_v1(path, name):
    entries = []
    for line in (_read(path + "/" + name) or "").splitlines():
        parts = line.split()
        if len(parts) != 3 or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        e = {}
        _put(e, "major", int(major))
        _put(e, "minor", int(minor))
        _put(e, "op", parts[1])
        _put(e, "value", int(parts[2]))
        entries.append(e)
    return entries


# v1 cpuset files runc reports as they are (sched_relax_domain_level may be -1)
CPUSET_FLAGS = ("cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
                "memory_spread_slab", "memory_pressure", "sched_load_balance", "sched_relax_domain_level")


def _empty():
    return {"cpu": {"usage": {"kernel": 0, "user": 0}, "throttling": {}},
            "cpuset": {"cpu_exclusive": 0, "mem_hardwall": 0, "mem_exclusive": 0, "memory_migrate": 0,
                       "memory_spread_page": 0, "memory_spread_slab": 0, "memory_pressure": 0,
                       "sched_load_balance": 0, "sched_relax_domain_level": 0},
            "memory": {"usage": {"limit": 0, "failcnt": 0}, "swap": {"limit": 0, "failcnt": 0},
                       "kernel": {"limit": 0, "failcnt": 0}, "kernelTCP": {"limit": 0, "failcnt": 0}},
            "pids": {}, "blkio": {}, "hugetlb": {}, "intel_rdt": {}, "network_interfaces": None}


def stats_v1(mgr):
    s = _empty()
    acct = mgr.dir_for("cpuacct")
    if acct:
        u = s["cpu"]["usage"]
        st = _kv(acct + "/cpuacct.stat")
        u["kernel"] = st.get("system", 0) * (10 ** 9 // USER_HZ)
        u["user"] = st.get("user", 0) * (10 ** 9 // USER_HZ)
        _put(u, "total", _int(acct + "/cpuacct.usage"))
        _put(u, "percpu", [int(x) for x in (_read(acct + "/cpuacct.usage_percpu") or "").split()])
        _put(u, "percpu_kernel", [int(x) for x in (_read(acct + "/cpuacct.usage_percpu_sys") or "").split()])
        _put(u, "percpu_user", [int(x) for x in (_read(acct + "/cpuacct.usage_percpu_user") or "").split()])
    cpu = mgr.dir_for("cpu")
    if cpu:
        st = _kv(cpu + "/cpu.stat")
        t = s["cpu"]["throttling"]
        _put(t, "periods", st.get("nr_periods", 0))
        _put(t, "throttledPeriods", st.get("nr_throttled", 0))
        _put(t, "throttledTime", st.get("throttled_time", 0))
    cs = mgr.dir_for("cpuset")
    if cs:
        _put(s["cpuset"], "cpus", _list(_read(cs + "/cpuset.cpus")))
        _put(s["cpuset"], "mems", _list(_read(cs + "/cpuset.mems")))
        for key in CPUSET_FLAGS:
            v = _read(cs + "/cpuset." + key)
            if v is not None and v.strip().lstrip("-").isdigit():
                s["cpuset"][key] = int(v)
    mem = mgr.dir_for("memory")
    if mem:
        m = s["memory"]
        for key, prefix in (("usage", "memory"), ("swap", "memory.memsw"), ("kernel", "memory.kmem"),
                            ("kernelTCP", "memory.kmem.tcp")):
            m[key] = _entry(_int(mem + "/%s.limit_in_bytes" % prefix), _int(mem + "/%s.usage_in_bytes" % prefix),
                            _int(mem + "/%s.max_usage_in_bytes" % prefix), _int(mem + "/%s.failcnt" % prefix))
        raw = _kv(mem + "/memory.stat")
        _put(m, "cache", raw.get("cache", 0))
        _put(m, "raw", raw)
    pids = mgr.dir_for("pids")
    if pids:
        _put(s["pids"], "current", _int(pids + "/pids.current"))
        limit = _int(pids + "/pids.max")
        _put(s["pids"], "limit", 0 if limit == U64_MAX else limit)
    blk = mgr.dir_for("blkio")
    if blk:
        b = s["blkio"]
        for key, names in (("ioServiceBytesRecursive", ("blkio.io_service_bytes_recursive",
                                                        "blkio.throttle.io_service_bytes_recursive")),
                           ("ioServicedRecursive", ("blkio.io_serviced_recursive",
                                                    "blkio.throttle.io_serviced_recursive")),
                           ("ioQueueRecursive", ("blkio.io_queued_recursive",)),
                           ("ioServiceTimeRecursive", ("blkio.io_service_time_recursive",)),
                           ("ioWaitTimeRecursive", ("blkio.io_wait_time_recursive",)),
                           ("ioMergedRecursive", ("blkio.io_merged_recursive",)),
                           ("ioTimeRecursive", ("blkio.time_recursive",)),
                           ("sectorsRecursive", ("blkio.sectors_recursive",))):
            for n in names:
                entries = _blkio_v1(blk, n)
                if entries:
                    b[key] = entries
                    break
    huge = mgr.dir_for("hugetlb")
    if huge:
        import posix

        for name in sorted(posix.listdir(huge)):
            if name.startswith("hugetlb.") and name.endswith(".limit_in_bytes") and ".rsvd." not in name:
                size = name[len("hugetlb."):-len(".limit_in_bytes")]
                h = {}
                _put(h, "usage", _int(huge + "/hugetlb.%s.usage_in_bytes" % size))
                _put(h, "max", _int(huge + "/hugetlb.%s.max_usage_in_bytes" % size))
                h["failcnt"] = _int(huge + "/hugetlb.%s.failcnt" % size)
                s["hugetlb"][size] = h
    return s


def stats_v2(mgr):
    import posix

    s = _empty()
    d = mgr.paths[""]
    st = _kv(d + "/cpu.stat")
    u = s["cpu"]["usage"]
    u["kernel"] = st.get("system_usec", 0) * 1000
    u["user"] = st.get("user_usec", 0) * 1000
    _put(u, "total", st.get("usage_usec", 0) * 1000)
    t = s["cpu"]["throttling"]
    _put(t, "periods", st.get("nr_periods", 0))
    _put(t, "throttledPeriods", st.get("nr_throttled", 0))
    _put(t, "throttledTime", st.get("throttled_usec", 0) * 1000)
    _put(s["cpuset"], "cpus", _list(_read(d + "/cpuset.cpus.effective")))
    _put(s["cpuset"], "mems", _list(_read(d + "/cpuset.mems.effective")))
    m = s["memory"]
    events = _kv(d + "/memory.events")
    m["usage"] = _entry(_int(d + "/memory.max", U64_MAX), _int(d + "/memory.current"), _int(d + "/memory.peak"),
                        events.get("max", 0))
    swap_limit = _int(d + "/memory.swap.max", U64_MAX)
    m["swap"] = _entry(swap_limit, _int(d + "/memory.swap.current"), _int(d + "/memory.swap.peak"), 0)
    raw = _kv(d + "/memory.stat")
    _put(m, "cache", raw.get("file", 0))
    _put(m, "raw", raw)
    _put(s["pids"], "current", _int(d + "/pids.current"))
    limit = _int(d + "/pids.max")
    _put(s["pids"], "limit", 0 if limit == U64_MAX else limit)
    b = s["blkio"]
    svc_bytes, svc = [], []
    for line in (_read(d + "/io.stat") or "").splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        vals = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        for op, key, dest in (("Read", "rbytes", svc_bytes), ("Write", "wbytes", svc_bytes),
                              ("Read", "rios", svc), ("Write", "wios", svc)):
            e = {}
            _put(e, "major", int(major))
            _put(e, "minor", int(minor))
            e["op"] = op
            _put(e, "value", int(vals.get(key, 0)))
            dest.append(e)
    _put(b, "ioServiceBytesRecursive", svc_bytes)
    _put(b, "ioServicedRecursive", svc)
    try:
        names = sorted(posix.listdir(d))
    except OSError:
        names = []
    for name in names:
        if name.startswith("hugetlb.") and name.endswith(".max") and ".rsvd." not in name:
            size = name[len("hugetlb."):-len(".max")]
            h = {}
            _put(h, "usage", _int(d + "/hugetlb.%s.current" % size))
            h["failcnt"] = _kv(d + "/hugetlb.%s.events" % size).get("max", 0)
            s["hugetlb"][size] = h
    return s


def stats(mgr):
    if mgr.unified and "" not in mgr.paths:
        return _empty()  # rootless without a cgroup of its own: nothing to count, as runc
    return stats_v2(mgr) if mgr.unified else stats_v1(mgr)


def oom_count(mgr):
    """How many OOM kills the container's memory cgroup has seen."""
    if mgr.unified:
        return _kv(mgr.paths[""] + "/memory.events").get("oom_kill", 0) if "" in mgr.paths else 0
    mem = mgr.dir_for("memory")
    if not mem:
        return 0
    return _kv(mem + "/memory.oom_control").get("oom_kill", 0)
