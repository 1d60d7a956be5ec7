"""`events --stats` fields read from cgroup files (cgroups.stats) under runc 1.1.5's
names (types/events.go): throttling's throttledPeriods/throttledTime, v1 cpuset's
flags as the files say them."""
from pyrunc.cgroups import stats
from pyrunc.cgroups.manager import Manager


def test_v1_throttling_and_cpuset_flags(tmp_path):
    cpu, cs = tmp_path / "cpu,cpuacct", tmp_path / "cpuset"
    cpu.mkdir()
    cs.mkdir()
    (cpu / "cpu.stat").write_text("nr_periods 38\nnr_throttled 17\nthrottled_time 1120823209\n")
    (cs / "cpuset.cpus").write_text("0-1\n")
    (cs / "cpuset.mems").write_text("0\n")
    flags = {"cpu_exclusive": 0, "mem_hardwall": 0, "mem_exclusive": 1, "memory_migrate": 0,
             "memory_spread_page": 0, "memory_spread_slab": 0, "memory_pressure": 0, "sched_load_balance": 1,
             "sched_relax_domain_level": -1}
    for k, v in flags.items():
        (cs / ("cpuset." + k)).write_text("%d\n" % v)
    s = stats.stats(Manager("hybrid", {"cpu,cpuacct": str(cpu), "cpuset": str(cs)}))
    assert s["cpu"]["throttling"] == {"periods": 38, "throttledPeriods": 17, "throttledTime": 1120823209}
    assert s["cpuset"] == dict(flags, cpus=[0, 1], mems=[0])


def test_v2_throttling_names(tmp_path):
    (tmp_path / "cpu.stat").write_text("usage_usec 10\nnr_periods 4\nnr_throttled 2\nthrottled_usec 5\n")
    s = stats.stats(Manager("v2", {"": str(tmp_path)}))
    assert s["cpu"]["throttling"] == {"periods": 4, "throttledPeriods": 2, "throttledTime": 5000}
