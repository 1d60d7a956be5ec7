"""events: `--stats` prints one stats event; otherwise stats every --interval and an
"oom" event whenever the memory cgroup kills, until the container stops (as dicts: the
CLI prints them, the API yields them)."""
import time

from pyrunc import errors
from pyrunc.state import store


def parse_duration(text):
    """Go durations: "5s", "100ms", "1m30s", "2h"."""
    units = (("ms", 0.001), ("us", 1e-6), ("µs", 1e-6), ("ns", 1e-9), ("h", 3600.0), ("m", 60.0), ("s", 1.0))
    s = text.strip()
    total = 0.0
    while s:
        i = 0
        while i < len(s) and (s[i].isdigit() or s[i] == "."):
            i += 1
        if i == 0:
            raise errors.PyruncError('invalid duration "%s"' % text)
        num = float(s[:i])
        s = s[i:]
        for name, factor in units:
            if s.startswith(name):
                total += num * factor
                s = s[len(name):]
                break
        else:
            raise errors.PyruncError('invalid duration "%s"' % text)
    if total <= 0:
        raise errors.PyruncError("duration interval must be greater than 0")
    return total


def _event(kind, cid, data=None):
    ev = {"type": kind, "id": cid}
    if data is not None:
        ev["data"] = data
    return ev


def stream(root, cid, interval, once):
    """The events as dicts: checked now (a stopped container, a bad interval), yielded
    lazily (the API's Container.events)."""
    from pyrunc.cgroups.manager import Manager

    cdir = store.container_dir(root, cid)
    st = store.read_state(cdir)
    if store.status(cdir, st) == "stopped":
        raise errors.StateError("container with id %s is not running" % cid)
    mgr = Manager.from_state(st)
    period = None if once else parse_duration(interval)
    return _stream(cid, st, mgr, period)


def _stream(cid, st, mgr, period):
    from pyrunc.cgroups import stats

    if period is None:
        yield _event("stats", cid, stats.stats(mgr))
        return
    ooms = stats.oom_count(mgr)
    next_stats = time.monotonic()
    while store.init_alive(st):
        now = time.monotonic()
        if now >= next_stats:
            yield _event("stats", cid, stats.stats(mgr))
            next_stats = now + period
        n = stats.oom_count(mgr)
        if n > ooms:
            yield _event("oom", cid)
            ooms = n
        time.sleep(min(0.1, max(0.0, next_stats - time.monotonic())))
    n = stats.oom_count(mgr)
    if n > ooms:
        yield _event("oom", cid)
