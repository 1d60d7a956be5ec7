"""linux.resources -> cgroup writes, as data: every field on v1 and v2, the v1->v2
conversions, runc's refusals with their JSON paths, and the unified keys."""
import pytest

from pyrunc.cgroups import resources as R
from pyrunc.cgroups.resources import HostFacts, Write
from pyrunc.errors import ConfigError

G = 1 << 30
M = 1 << 20

V1_FILES = {
    "cgroup.procs", "tasks", "devices.allow", "devices.deny", "devices.list",
    "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.swappiness",
    "memory.oom_control", "cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.cfs_burst_us", "cpu.idle",
    "cpu.rt_period_us", "cpu.rt_runtime_us", "cpuset.cpus", "cpuset.mems", "pids.max", "blkio.weight",
    "blkio.weight_device", "blkio.leaf_weight", "blkio.leaf_weight_device", "blkio.throttle.read_bps_device",
    "blkio.throttle.write_bps_device", "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device",
    "hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.rsvd.limit_in_bytes", "hugetlb.1GB.limit_in_bytes",
    "hugetlb.1GB.rsvd.limit_in_bytes", "hugetlb.2MB.usage_in_bytes", "net_cls.classid", "net_prio.ifpriomap",
    "rdma.max",
}
V2_FILES = {
    "cgroup.procs", "cgroup.controllers", "cgroup.freeze", "memory.max", "memory.low", "memory.high",
    "memory.swap.max", "cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle", "cpuset.cpus", "cpuset.mems",
    "pids.max", "io.weight", "io.bfq.weight", "io.max", "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max",
    "hugetlb.1GB.max", "hugetlb.1GB.rsvd.max", "hugetlb.2MB.current", "rdma.max",
}
V2_CONTROLLERS = {"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"}

V1 = HostFacts(V1_FILES)
V2 = HostFacts(V2_FILES, V2_CONTROLLERS, bfq_device_weight=True)


def v1(resources, facts=V1):
    return [(w.controller, w.file, w.value) for w in R.plan_v1(resources, facts) if w.controller != "devices"]


def v2(resources, facts=V2):
    return [(w.controller, w.file, w.value) for w in R.plan_v2(resources, facts)]


def error(fn, *args):
    with pytest.raises(ConfigError) as e:
        fn(*args)
    return e.value


MEM, CPU, BLK = "memory", "cpu", "blkio"

V1_CASES = [
    ({}, []),
    ({"memory": {"limit": G}}, [(MEM, "memory.limit_in_bytes", str(G))]),
    ({"memory": {"limit": G, "swap": 2 * G}},
     [(MEM, "memory.limit_in_bytes", str(G)), (MEM, "memory.memsw.limit_in_bytes", str(2 * G))]),
    # -1 and no swap: swap is unlimited too, written first
    ({"memory": {"limit": -1}}, [(MEM, "memory.memsw.limit_in_bytes", "-1"), (MEM, "memory.limit_in_bytes", "-1")]),
    ({"memory": {"limit": G, "swap": -1}},
     [(MEM, "memory.memsw.limit_in_bytes", "-1"), (MEM, "memory.limit_in_bytes", str(G))]),
    ({"memory": {"reservation": 512 * M}}, [(MEM, "memory.soft_limit_in_bytes", str(512 * M))]),
    ({"memory": {"disableOOMKiller": True}}, [(MEM, "memory.oom_control", "1")]),
    ({"memory": {"disableOOMKiller": False}}, []),
    ({"memory": {"swappiness": 0}}, [(MEM, "memory.swappiness", "0")]),
    ({"memory": {"swappiness": 100}}, [(MEM, "memory.swappiness", "100")]),
    ({"memory": {"swappiness": (1 << 64) - 1}}, []),           # runc's "unset" (-1 as uint64)
    ({"memory": {"kernel": G, "kernelTCP": M, "useHierarchy": True}}, []),   # ignored, as runc
    ({"cpu": {"shares": 1024}}, [(CPU, "cpu.shares", "1024")]),
    ({"cpu": {"quota": 50000, "period": 100000}},
     [(CPU, "cpu.cfs_period_us", "100000"), (CPU, "cpu.cfs_quota_us", "50000")]),
    ({"cpu": {"quota": -1}}, [(CPU, "cpu.cfs_quota_us", "-1")]),
    ({"cpu": {"quota": 50000, "burst": 10000}},
     [(CPU, "cpu.cfs_quota_us", "50000"), (CPU, "cpu.cfs_burst_us", "10000")]),
    ({"cpu": {"burst": 0}}, [(CPU, "cpu.cfs_burst_us", "0")]),
    ({"cpu": {"idle": 1}}, [(CPU, "cpu.idle", "1")]),
    ({"cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 950000}},
     [(CPU, "cpu.rt_period_us", "1000000"), (CPU, "cpu.rt_runtime_us", "950000")]),
    ({"cpu": {"realtimeRuntime": -1}}, [(CPU, "cpu.rt_runtime_us", "-1")]),
    ({"cpu": {"cpus": "0-3", "mems": "0"}}, [("cpuset", "cpuset.cpus", "0-3"), ("cpuset", "cpuset.mems", "0")]),
    ({"cpu": {"cpus": "", "mems": ""}}, []),
    ({"pids": {"limit": 100}}, [("pids", "pids.max", "100")]),
    ({"pids": {"limit": 0}}, [("pids", "pids.max", "1")]),      # a real limit; runc writes 1
    ({"pids": {"limit": -1}}, [("pids", "pids.max", "max")]),
    ({"blockIO": {"weight": 500}}, [(BLK, "blkio.weight", "500")]),
    ({"blockIO": {"leafWeight": 300}}, [(BLK, "blkio.leaf_weight", "300")]),
    ({"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 400, "leafWeight": 200},
                                   {"major": 8, "minor": 16, "leafWeight": 100}]}},
     [(BLK, "blkio.weight_device", "8:0 400"), (BLK, "blkio.leaf_weight_device", "8:0 200"),
      (BLK, "blkio.leaf_weight_device", "8:16 100")]),
    ({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": M}],
                  "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2 * M}],
                  "throttleReadIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}],
                  "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 0}]}},
     [(BLK, "blkio.throttle.read_bps_device", "8:0 %d" % M),
      (BLK, "blkio.throttle.write_bps_device", "8:0 %d" % (2 * M)),
      (BLK, "blkio.throttle.read_iops_device", "8:16 100"), (BLK, "blkio.throttle.write_iops_device", "8:16 0")]),
    ({"hugepageLimits": [{"pageSize": "2MB", "limit": G}, {"pageSize": "1GB", "limit": 2 * G}]},
     [("hugetlb", "hugetlb.2MB.limit_in_bytes", str(G)), ("hugetlb", "hugetlb.2MB.rsvd.limit_in_bytes", str(G)),
      ("hugetlb", "hugetlb.1GB.limit_in_bytes", str(2 * G)),
      ("hugetlb", "hugetlb.1GB.rsvd.limit_in_bytes", str(2 * G))]),
    ({"network": {"classID": 0x100001, "priorities": [{"name": "eth0", "priority": 5}, {"name": "lo", "priority": 2}]}},
     [("net_cls", "net_cls.classid", "1048577"), ("net_prio", "net_prio.ifpriomap", "eth0 5"),
      ("net_prio", "net_prio.ifpriomap", "lo 2")]),
    ({"rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}, "mlx4_0": {"hcaObjects": 7}}},
     [("rdma", "rdma.max", "mlx4_0 hca_object=7"), ("rdma", "rdma.max", "mlx5_1 hca_handle=3 hca_object=10000")]),
    ({"unified": {}}, []),
]


@pytest.mark.parametrize("resources,expected", V1_CASES)
def test_v1_fields(resources, expected):
    assert v1(resources) == expected


def test_v1_controller_order_is_runcs():
    r = {"rdma": {"m": {"hcaHandles": 1}}, "network": {"classID": 1},
         "hugepageLimits": [{"pageSize": "2MB", "limit": 1}],
         "blockIO": {"weight": 10}, "pids": {"limit": 1}, "cpu": {"shares": 2, "cpus": "0"}, "memory": {"limit": 1}}
    order = []
    for w in R.plan_v1(r, V1):
        if w.controller not in order:
            order.append(w.controller)
    assert order == ["cpuset", "devices", "memory", "cpu", "pids", "blkio", "hugetlb", "net_cls", "rdma"]


def test_v1_device_writes():
    plan = [w for w in R.plan_v1({"devices": [{"allow": False, "access": "rwm"}]}, V1, ["/dev/null"])
            if w.controller == "devices"]
    assert plan[0] == Write("devices", "devices.deny", "a *:* rwm")
    assert Write("devices", "devices.allow", "c 1:5 rwm") in plan
    assert Write("devices", "devices.allow", "c 1:3 rwm") not in plan    # linux.devices has /dev/null
    # no OCI rules at all: runc still starts from deny-all and adds its defaults
    assert [w.value for w in R.plan_v1({}, V1)][:2] == ["a *:* rwm", "c *:* m"]


def test_v1_optional_writes():
    r = {"memory": {"limit": -1}, "cpu": {"burst": 5}, "hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}
    plan = R.plan_v1(r, V1)
    optional = {w.file for w in plan if w.optional}
    assert optional == {"memory.memsw.limit_in_bytes", "cpu.cfs_burst_us", "hugetlb.2MB.rsvd.limit_in_bytes"}
    # a real swap limit is not optional: without swap accounting it must fail, not vanish
    plan = R.plan_v1({"memory": {"limit": G, "swap": 2 * G}}, V1)
    assert [w.optional for w in plan if w.controller == "memory"] == [False, False]


def test_v1_facts_pick_files():
    bfq = HostFacts(V1_FILES - {"blkio.weight", "blkio.weight_device", "hugetlb.2MB.rsvd.limit_in_bytes",
                                "memory.memsw.limit_in_bytes", "cpu.cfs_burst_us"}
                    | {"blkio.bfq.weight", "blkio.bfq.weight_device"})
    r = {"blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 400}]},
         "hugepageLimits": [{"pageSize": "2MB", "limit": 1}], "memory": {"limit": -1}, "cpu": {"burst": 1}}
    assert v1(r, bfq) == [(MEM, "memory.limit_in_bytes", "-1"), (BLK, "blkio.bfq.weight", "500"),
                          (BLK, "blkio.bfq.weight_device", "8:0 400"), ("hugetlb", "hugetlb.2MB.limit_in_bytes", "1")]
    # unknown host: both weight files, each optional
    plan = [w for w in R.plan_v1({"blockIO": {"weight": 500}}, None) if w.controller == BLK]
    assert plan == [Write(BLK, "blkio.weight", "500", True), Write(BLK, "blkio.bfq.weight", "500", True)]


V2_CASES = [
    ({}, []),
    ({"memory": {"limit": G}}, [("", "memory.max", str(G))]),
    # OCI swap is memory+swap; v2 wants swap alone
    ({"memory": {"limit": G, "swap": 3 * G}}, [("", "memory.swap.max", str(2 * G)), ("", "memory.max", str(G))]),
    ({"memory": {"limit": G, "swap": G}}, [("", "memory.swap.max", "0"), ("", "memory.max", str(G))]),
    ({"memory": {"limit": G, "swap": -1}}, [("", "memory.swap.max", "max"), ("", "memory.max", str(G))]),
    ({"memory": {"limit": -1}}, [("", "memory.swap.max", "max"), ("", "memory.max", "max")]),
    ({"memory": {"reservation": 512 * M}}, [("", "memory.low", str(512 * M))]),
    ({"memory": {"reservation": -1}}, [("", "memory.low", "max")]),
    ({"memory": {"swappiness": 10, "disableOOMKiller": True, "kernel": 1}}, []),   # no v2 equivalent
    ({"cpu": {"shares": 2}}, [("", "cpu.weight", "1")]),
    ({"cpu": {"shares": 1024}}, [("", "cpu.weight", "39")]),
    ({"cpu": {"shares": 262144}}, [("", "cpu.weight", "10000")]),
    ({"cpu": {"shares": 0}}, []),
    ({"cpu": {"quota": 50000}}, [("", "cpu.max", "50000 100000")]),
    ({"cpu": {"quota": 50000, "period": 200000}}, [("", "cpu.max", "50000 200000")]),
    ({"cpu": {"quota": -1, "period": 200000}}, [("", "cpu.max", "max 200000")]),
    ({"cpu": {"period": 50000}}, [("", "cpu.max", "max 50000")]),
    ({"cpu": {"quota": 50000, "burst": 20000}}, [("", "cpu.max", "50000 100000"), ("", "cpu.max.burst", "20000")]),
    ({"cpu": {"idle": 1, "shares": 1024}}, [("", "cpu.idle", "1")]),      # no cpu.weight while idle
    ({"cpu": {"idle": 0, "shares": 1024}}, [("", "cpu.idle", "0"), ("", "cpu.weight", "39")]),
    ({"cpu": {"cpus": "0-3", "mems": "0-1"}}, [("", "cpuset.cpus", "0-3"), ("", "cpuset.mems", "0-1")]),
    ({"cpu": {"realtimeRuntime": 0, "realtimePeriod": 0}}, []),
    ({"pids": {"limit": 100}}, [("", "pids.max", "100")]),
    ({"pids": {"limit": 0}}, [("", "pids.max", "1")]),
    ({"pids": {"limit": -1}}, [("", "pids.max", "max")]),
    ({"blockIO": {"weight": 500}}, [("", "io.bfq.weight", "500")]),
    ({"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 400}, {"major": 8, "minor": 16}]}},
     [("", "io.bfq.weight", "8:0 400")]),
    ({"blockIO": {"leafWeight": 300}}, []),
    ({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000},
                                            {"major": 8, "minor": 16, "rate": 5}],
                  "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 20}],
                  "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 0}],
                  "throttleReadIOPSDevice": [{"major": 259, "minor": 1, "rate": 7}]}},
     [("", "io.max", "8:0 rbps=1000 wiops=20"), ("", "io.max", "8:16 rbps=5"), ("", "io.max", "259:1 riops=7")]),
    ({"hugepageLimits": [{"pageSize": "2MB", "limit": G}]},
     [("", "hugetlb.2MB.max", str(G)), ("", "hugetlb.2MB.rsvd.max", str(G))]),
    ({"rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}}},
     [("", "rdma.max", "mlx5_1 hca_handle=3 hca_object=10000")]),
    ({"network": {"classID": 1, "priorities": [{"name": "eth0", "priority": 1}]}}, []),
    ({"unified": {"memory.high": "500M", "cgroup.freeze": "0"}},
     [("", "memory.high", "500M"), ("", "cgroup.freeze", "0")]),
    ({"unified": {"io.max": "8:0 rbps=1\n8:16 wbps=2\n"}},
     [("", "io.max", "8:0 rbps=1"), ("", "io.max", "8:16 wbps=2")]),
    # the same file as a typed field: unified is written last, so it wins
    ({"memory": {"limit": G}, "unified": {"memory.max": "max"}},
     [("", "memory.max", str(G)), ("", "memory.max", "max")]),
]


@pytest.mark.parametrize("resources,expected", V2_CASES)
def test_v2_fields(resources, expected):
    assert v2(resources) == expected


def test_v2_order_is_runcs():
    r = {"unified": {"memory.high": "1"}, "rdma": {"m": {"hcaHandles": 1}},
         "hugepageLimits": [{"pageSize": "2MB", "limit": 1}],
         "cpu": {"shares": 2, "cpus": "0"}, "blockIO": {"weight": 10}, "memory": {"limit": 1}, "pids": {"limit": 1}}
    assert [f for _, f, _ in v2(r)] == ["pids.max", "memory.max", "io.bfq.weight", "cpu.weight", "cpuset.cpus",
                                        "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "rdma.max", "memory.high"]


def test_v2_optional_writes():
    plan = R.plan_v2({"memory": {"limit": -1}, "hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}, V2)
    assert [(w.file, w.optional) for w in plan] == [("memory.swap.max", True), ("memory.max", False),
                                                     ("hugetlb.2MB.max", False), ("hugetlb.2MB.rsvd.max", True)]
    plan = R.plan_v2({"memory": {"limit": G, "swap": 2 * G}}, V2)
    assert plan[0] == Write("", "memory.swap.max", str(G), False)


def test_v2_io_weight_without_bfq():
    facts = HostFacts(V2_FILES - {"io.bfq.weight"}, V2_CONTROLLERS)
    r = {"blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 400}]}}
    assert v2(r, facts) == [("", "io.weight", "4950")]
    old_bfq = HostFacts(V2_FILES, V2_CONTROLLERS, bfq_device_weight=False)
    assert v2(r, old_bfq) == [("", "io.bfq.weight", "500")]
    # unknown host: both, optional
    assert R.plan_v2({"blockIO": {"weight": 500}}, None) == [Write("", "io.bfq.weight", "500", True),
                                                            Write("", "io.weight", "4950", True)]


def test_v2_no_swap_accounting():
    facts = HostFacts(V2_FILES - {"memory.swap.max"}, V2_CONTROLLERS)
    assert v2({"memory": {"limit": -1}}, facts) == [("", "memory.max", "max")]
    assert v2({"memory": {"limit": G, "swap": G}}, facts) == [("", "memory.max", str(G))]
    e = error(R.plan_v2, {"memory": {"limit": G, "swap": 2 * G}}, facts)
    assert e.path == "linux.resources.memory.swap"


@pytest.mark.parametrize("shares,weight", [(0, 0), (1, 1), (2, 1), (3, 1), (1024, 39), (262144, 10000),
                                           (262170, 10000), (262171, 10001)])
def test_shares_to_weight(shares, weight):
    assert R.shares_to_weight(shares) == weight


@pytest.mark.parametrize("blkio,io", [(0, 0), (10, 1), (100, 910), (500, 4950), (1000, 10000)])
def test_blkio_to_io_weight(blkio, io):
    assert R.blkio_to_io_weight(blkio) == io


@pytest.mark.parametrize("swap,limit,expected", [
    (0, 0, 0), (0, G, 0), (0, -1, -1), (-1, G, -1), (-1, 0, -1), (-1, -1, -1),
    (3 * G, G, 2 * G), (G, G, 0),
])
def test_swap_to_v2(swap, limit, expected):
    assert R.swap_to_v2(swap, limit) == expected


@pytest.mark.parametrize("swap,limit,path,reason", [
    (G, 0, "linux.resources.memory.swap", "unable to set swap limit without memory limit"),
    # runc's ConvertMemorySwapToCgroupV2Value: "unlimited" memory with a swap limit
    (2 * G, -1, "linux.resources.memory.swap", "unable to set swap limit without memory limit"),
    (G, 2 * G, "linux.resources.memory.swap", "memory+swap limit should be >= memory limit"),
    (G, -5, "linux.resources.memory.limit", "invalid memory value: -5"),
])
def test_swap_to_v2_errors(swap, limit, path, reason):
    e = error(R.swap_to_v2, swap, limit)
    assert (e.path, e.reason) == (path, reason)


ERRORS = [
    # (version, resources, json path, words in the reason)
    (1, {"memory": {"swappiness": 101}}, "linux.resources.memory.swappiness", "valid range is 0-100"),
    (1, {"memory": {"limit": G, "swap": G // 2}}, "linux.resources.memory.swap", ">= memory limit"),
    (2, {"memory": {"limit": G, "swap": G // 2}}, "linux.resources.memory.swap", ">= memory limit"),
    (1, {"memory": {"swap": G}}, "linux.resources.memory.swap", "without memory limit"),
    (2, {"memory": {"swap": G}}, "linux.resources.memory.swap", "without memory limit"),
    (1, {"memory": {"limit": -1, "swap": G}}, "linux.resources.memory.swap", ">= memory limit"),
    (2, {"memory": {"limit": -1, "swap": G}}, "linux.resources.memory.swap", "without memory limit"),
    (1, {"memory": {"limit": -2}}, "linux.resources.memory.limit", "invalid memory value"),
    (2, {"memory": {"limit": -2}}, "linux.resources.memory.limit", "invalid memory value"),
    (2, {"memory": {"reservation": -7}}, "linux.resources.memory.reservation", "invalid memory value"),
    (2, {"memory": {"limit": G, "swap": -3}}, "linux.resources.memory.swap", "invalid memory value"),
    # runc's words after the v1 kernel clamped the value it wrote
    (1, {"cpu": {"shares": 1}}, "linux.resources.cpu.shares", "the minimum allowed cpu-shares is 2"),
    (1, {"cpu": {"shares": 262145}}, "linux.resources.cpu.shares", "the maximum allowed cpu-shares is 262144"),
    # v2: the converted cpu.weight is what the kernel bounds (shares 1 is weight 1)
    (2, {"cpu": {"shares": 262171}}, "linux.resources.cpu.shares", "above its maximum 10000"),
    (1, {"cpu": {"idle": 2}}, "linux.resources.cpu.idle", "0 or 1"),
    (2, {"cpu": {"idle": -1}}, "linux.resources.cpu.idle", "0 or 1"),
    (1, {"cpu": {"quota": 1000, "burst": 2000}}, "linux.resources.cpu.burst", "larger than quota"),
    (2, {"cpu": {"quota": 1000, "burst": 2000}}, "linux.resources.cpu.burst", "larger than quota"),
    (1, {"blockIO": {"weight": 5}}, "linux.resources.blockIO.weight", "from 10 to 1000"),
    (2, {"blockIO": {"weight": 1001}}, "linux.resources.blockIO.weight", "from 10 to 1000"),
    (1, {"blockIO": {"leafWeight": 9}}, "linux.resources.blockIO.leafWeight", "from 10 to 1000"),
    (1, {"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 2000}]}},
     "linux.resources.blockIO.weightDevice[0].weight", "from 10 to 1000"),
    (2, {"blockIO": {"throttleReadBpsDevice": [{"major": -1, "minor": 0, "rate": 1}]}},
     "linux.resources.blockIO.throttleReadBpsDevice[0].major", "negative"),
    (1, {"hugepageLimits": [{"pageSize": "2M", "limit": 1}]}, "linux.resources.hugepageLimits[0].pageSize",
     "invalid hugepage size"),
    (2, {"hugepageLimits": [{"pageSize": "../../memory.max", "limit": 1}]},
     "linux.resources.hugepageLimits[0].pageSize", "invalid hugepage size"),
    (2, {"hugepageLimits": [{"pageSize": "16GB", "limit": 1}]}, "linux.resources.hugepageLimits[0].pageSize",
     "available: 2MB, 1GB"),
    (1, {"network": {"priorities": [{"name": "eth0 9\nlo", "priority": 1}]}},
     "linux.resources.network.priorities[0].name", "one word"),
    (2, {"rdma": {"mlx5 0": {"hcaHandles": 1}}}, "linux.resources.rdma", "one word"),
    (1, {"unified": {"memory.max": "1"}}, "linux.resources.unified",
     "invalid configuration: cannot use unified on cgroup v1"),
    (1, {"devices": [{"allow": True}]}, "linux.resources.devices[0].access", "must not be empty"),
]


@pytest.mark.parametrize("version,resources,path,words", ERRORS)
def test_errors_name_the_json_path(version, resources, path, words):
    e = error(R.plan_v1 if version == 1 else R.plan_v2, resources, V1 if version == 1 else V2)
    assert e.path == path
    assert words in e.reason
    assert str(e) == "config.json: %s: %s" % (path, e.reason)


def test_facts_turn_write_failures_into_config_errors():
    bare1 = HostFacts({"memory.limit_in_bytes", "cpu.shares", "blkio.bfq.weight"})
    for r, path in [({"memory": {"limit": G, "swap": 2 * G}}, "linux.resources.memory.swap"),
                    ({"cpu": {"idle": 1}}, "linux.resources.cpu.idle"),
                    ({"blockIO": {"leafWeight": 100}}, "linux.resources.blockIO.leafWeight"),
                    ({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]},
                     "linux.resources.hugepageLimits[0].pageSize")]:
        assert error(R.plan_v1, r, bare1).path == path
    bare2 = HostFacts({"memory.max", "cpu.weight", "cpu.max"}, {"memory", "cpu"})
    assert error(R.plan_v2, {"cpu": {"burst": 1}}, bare2).path == "linux.resources.cpu.burst"
    assert error(R.plan_v2, {"cpu": {"idle": 1}}, bare2).path == "linux.resources.cpu.idle"


@pytest.mark.parametrize("key,words", [
    ("", "file name"), (".", "file name"), ("..", "file name"), ("../memory.max", "file name"),
    ("memory/../../x.max", "file name"), ("/etc/passwd", "file name"), ("memory.max\0", "file name"),
    ("memorymax", "CONTROLLER.PARAMETER"), (".max", "CONTROLLER.PARAMETER"), ("memory.", "CONTROLLER.PARAMETER"),
    ("freezer.state", 'unified resource "freezer.state" can\'t be set: controller "freezer" not available'),
    ("memory.nonexistent", "no such file"),
])
def test_unified_keys_are_validated(key, words):
    e = error(R.plan_v2, {"unified": {key: "1"}}, V2)
    assert e.path == "linux.resources.unified." + key
    assert words in e.reason


def test_unified_without_facts_accepts_any_plain_name():
    assert v2({"unified": {"misc.max": "res_a 1", "cgroup.subtree_control": "+memory"}}, None) == [
        ("", "misc.max", "res_a 1"), ("", "cgroup.subtree_control", "+memory")]
    assert error(R.plan_v2, {"unified": {"memory.max": "1\0"}}, None).path == "linux.resources.unified.memory.max"


@pytest.mark.parametrize("current,limit,swap,expected", [
    (None, G, 2 * G, ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]),     # new cgroup
    (G, 2 * G, 3 * G, ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]),    # raising
    (4 * G, G, 2 * G, ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]),    # lowering
    (G, G, -1, ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]),
    (G, -1, 0, ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]),
    (G, G, 0, ["memory.limit_in_bytes"]),
    (G, 0, 2 * G, ["memory.memsw.limit_in_bytes"]),
    (G, 0, 0, []),
])
def test_order_memory_writes(current, limit, swap, expected):
    assert [w.file for w in R.order_memory_writes(current, limit, swap)] == expected


def test_order_memory_writes_without_swap_accounting():
    assert R.order_memory_writes(None, -1, 0, swap_accounting=False) == [Write(MEM, "memory.limit_in_bytes", "-1")]
    assert R.order_memory_writes(None, G, -1, swap_accounting=False) == [Write(MEM, "memory.limit_in_bytes", str(G))]


@pytest.mark.parametrize("cur_period,cur_runtime,period,runtime,expected", [
    (None, None, 1000000, 950000, ["cpu.rt_period_us", "cpu.rt_runtime_us"]),
    (1000000, 950000, 500000, 100000, ["cpu.rt_runtime_us", "cpu.rt_period_us"]),
    (1000000, 100000, 1000000, 500000, ["cpu.rt_period_us", "cpu.rt_runtime_us"]),
    (1000000, 100000, 0, 500000, ["cpu.rt_runtime_us"]),
    (None, None, 500000, 0, ["cpu.rt_period_us"]),
])
def test_order_rt_writes(cur_period, cur_runtime, period, runtime, expected):
    assert [w.file for w in R.order_rt_writes(cur_period, cur_runtime, period, runtime)] == expected


def test_host_facts_from_dirs(tmp_path):
    d2 = tmp_path / "v2"
    d2.mkdir()
    for name, text in [("cgroup.controllers", "cpu io memory pids\n"), ("io.bfq.weight", "default 100\n"),
                       ("memory.max", "max\n"), ("hugetlb.2MB.max", "max\n"), ("hugetlb.2MB.rsvd.max", "max\n"),
                       ("hugetlb.1GB.max", "max\n"), ("hugetlb.1GB.events", "max 0\n")]:
        (d2 / name).write_text(text)
    f = R.facts_from_dirs([str(d2)])
    assert f.has("memory.max") and f.has("memory.swap.max") is False
    assert f.controllers == {"cpu", "io", "memory", "pids"}
    assert f.bfq_device_weight is True
    assert f.hugepage_sizes() == {"2MB", "1GB"}

    mem, blk = tmp_path / "memory", tmp_path / "blkio"
    mem.mkdir()
    blk.mkdir()
    (mem / "memory.limit_in_bytes").write_text("")
    (blk / "io.bfq.weight").write_text("100\n")   # a v1-style bare default: no per-device weights
    f = R.facts_from_dirs({"memory": str(mem), "blkio": str(blk), "cpu": str(tmp_path / "missing")})
    assert f.has("memory.limit_in_bytes") and f.has("io.bfq.weight") and f.controllers is None
    assert f.bfq_device_weight is False
    assert R.facts_from_dirs([str(tmp_path / "missing")]).files is None
    assert HostFacts().has("anything") is None and HostFacts().hugepage_sizes() is None


def test_facts_may_be_a_dict():
    assert v2({"blockIO": {"weight": 500}}, {"files": {"io.weight"}}) == [("", "io.weight", "4950")]


def test_write_is_plain_data():
    w = Write("memory", "memory.max", "1")
    assert w == Write("memory", "memory.max", "1", False) and w != Write("memory", "memory.max", "1", True)
    assert repr(Write("", "io.max", "8:0 rbps=1", True)) == "Write('', 'io.max', '8:0 rbps=1', optional=True)"
    assert not hasattr(w, "__dict__")


def test_realtime_is_ignored_on_v2_as_runc():
    # runc's fs2 driver has no cpu.rt_* (v2 has none): it takes and ignores them
    res = {"cpu": {"realtimeRuntime": 950000, "realtimePeriod": 1000000, "shares": 1024}}
    assert [w.file for w in R.plan_v2(res, None)] == ["cpu.weight"]
    assert R.ignored_settings(res, 2) == ["linux.resources.cpu realtime settings are ignored on cgroup v2"]


def test_ignored_settings():
    r = {"memory": {"kernel": 1, "swappiness": 1, "disableOOMKiller": True}, "network": {"classID": 1},
         "blockIO": {"leafWeight": 100}}
    assert R.ignored_settings(r, 1) == ["Kernel memory settings are ignored and will be removed"]
    w2 = R.ignored_settings(r, 2)
    assert len(w2) == 5 and any("swappiness" in w for w in w2) and any("network" in w for w in w2)
    assert R.ignored_settings(None, 2) == []


def test_no_heavy_imports():
    import subprocess
    import sys

    code = ("import sys; import pyrunc.cgroups.resources, pyrunc.cgroups.devices; "
            "print(sorted(m for m in ('re', 'dataclasses', 'json', 'struct', 'pathlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": ":".join(p for p in sys.path if p)}, check=True).stdout
    assert out.strip() == "[]"
