"""The rmdirs of `delete`'s common case, without the cgroup manager: a stopped
container whose cgroups are all its own goes with one rmdir each. Importing the manager
and fs.py only for that was a third of a millisecond of every `delete`."""
import posix


def try_remove(made):
    """One rmdir of each, deepest first; False at the first that is still busy (or
    otherwise refused), leaving the rest to fs.remove()."""
    for d in sorted(made, key=lambda p: p.count("/"), reverse=True):
        try:
            posix.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError:
            return False
    return True


def remove_own(st):
    """Remove the cgroups a cgroupfs container's state names when every one of them is
    its own and empty (an rmdir fails on a cgroup that has tasks or children, so this
    needs no cgroup.procs read). False leaves the work to the manager: a systemd unit,
    a cgroup that was there before, one still busy, or no cgroups at all."""
    if st.get("cgroupDriver") == "systemd":
        return False
    paths = st.get("cgroupPaths") or {}
    made = st.get("cgroupsCreated") or []
    return bool(paths) and set(paths.values()) <= set(made) and try_remove(made)
