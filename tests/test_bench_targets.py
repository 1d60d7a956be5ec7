"""bench/run.py's verdicts on issue 18's targets: paired per round, and the settling pause
(pure logic; the bench itself is not run here)."""
import importlib.util
import os
import statistics

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run", os.path.join(HERE, "..", "bench", "run.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_share_is_the_median_of_the_per_round_shares(bench):
    samples = {"start": {"pyrunc": [1.1, 2.4, 1.2], "floor": [1.0, 2.0, 1.0]}}
    # rounds: 1.1/1.15, 2.4/2.3, 1.2/1.15 -> median 1.0435
    share = bench.paired_share(samples, "start", 0, None, 1.15)
    assert share == pytest.approx(1.2 / 1.15)


def test_pairing_survives_a_machine_that_jumps_between_two_levels(bench):
    # pyrunc is always 1.10 x its round's floor, but the rounds fall on a slow and a fast
    # level unevenly for the two: the ratio of the medians (11 / 8) says 1.375, the pairs 1.10
    floor = [8.0, 8.0, 8.0, 10.0, 10.0]
    pyrunc = [8.8, 11.0, 11.0, 11.0, 11.0]
    samples = {"list (1 present)": {"pyrunc": pyrunc, "floor": floor}}
    assert bench.paired_share(samples, "list (1 present)", 0, None, 1.0) == pytest.approx(1.1)


def test_floors_are_subtracted_round_by_round_against_the_other_runtime(bench):
    samples = {"run": {"pyrunc": [30.0, 40.0], "floor": [8.0, 10.0], "crun": [22.0, 25.0]}}
    share = bench.paired_share(samples, "run", 1, "crun", 1.0)
    assert share == pytest.approx(statistics.median([22.0 / 22.0, 30.0 / 25.0]))


def test_unmeasured_or_unaligned_is_none(bench):
    assert bench.paired_share({}, "run", 1, "crun", 1.0) is None
    assert bench.paired_share({"run": {"pyrunc": [1.0, 2.0], "floor": [1.0]}}, "run", 0, None, 1.0) is None


def test_verdict_is_met_by_the_paired_share(bench):
    lat = {"start": {"by": {"pyrunc": {"median": 11.0}, "floor": {"median": 8.0}}}}
    samples = {"start": {"pyrunc": [8.8, 11.0, 11.0, 11.0, 11.0], "floor": [8.0, 8.0, 8.0, 10.0, 10.0]}}
    v = [t for t in bench.verdicts(lat, {}, {}, {}, {}, samples=samples) if t["target"].startswith("start")][0]
    assert v["met"] is True and v["share"] == pytest.approx(1.1 / 1.15)
    samples["start"]["pyrunc"] = [x * 1.1 for x in samples["start"]["pyrunc"]]
    v = [t for t in bench.verdicts(lat, {}, {}, {}, {}, samples=samples) if t["target"].startswith("start")][0]
    assert v["met"] is False and "over by" in v["stops"]


def test_settle_pauses_before_a_timed_command_only(bench, monkeypatch):
    slept = []
    monkeypatch.setattr(bench.time, "sleep", slept.append)
    monkeypatch.setattr(bench, "SETTLE", 0.1)
    bench.settle()
    monkeypatch.setattr(bench, "SETTLE", 0)
    bench.settle()
    assert slept == [0.1]


def test_rss_verdict_says_whether_moving_code_off_the_path_could_meet_it(bench):
    kib = 1024
    rss = {"create": {"by": {"pyrunc": {"median": 10400 * kib}, "runc": {"median": 9800 * kib}}}}
    parts = "interpreter 7500"
    few = {"create": {"modules": 40, "heap": 950 * kib, "called": 460 * kib, "never": 280 * kib,
                      "never_heap": 350 * kib}}
    v = [t for t in bench.verdicts({}, rss, {}, {}, {}, rss_parts=parts, unrun=few)
         if t["target"].startswith("peak RSS of create")][0]
    assert v["met"] is False
    assert "over by 600 KiB" in v["stops"] and parts in v["stops"]
    assert "at most 350 KiB" in v["stops"] and "cannot meet this target" in v["stops"]
    many = {"create": dict(few["create"], never_heap=700 * kib)}
    v = [t for t in bench.verdicts({}, rss, {}, {}, {}, rss_parts=parts, unrun=many)
         if t["target"].startswith("peak RSS of create")][0]
    assert "as much as the excess" in v["stops"] and "cannot" not in v["stops"]
    # met: nothing to explain
    rss["create"]["by"]["pyrunc"]["median"] = 9700 * kib
    v = [t for t in bench.verdicts({}, rss, {}, {}, {}, rss_parts=parts, unrun=few)
         if t["target"].startswith("peak RSS of create")][0]
    assert v["met"] is True and v["stops"] == ""
