"""ps: the container's processes, as `ps` shows them (table) or their pids (json, which
containerd reads)."""
import sys

from pyrunc import errors, jsonio
from pyrunc.state import store


def ps(root, cid, fmt, ps_args):
    from pyrunc.cgroups.manager import Manager

    cdir = store.container_dir(root, cid)
    st = store.read_state(cdir)
    # runc lists what the cgroup holds, nothing for a stopped container
    mgr = Manager.from_state(st)
    running = store.status(cdir, st) != "stopped"
    if running and not mgr.paths:
        # a rootless runtime that could not make any cgroup: runc fails too (an empty path)
        raise errors.PyruncError("unable to get all container pids: the container has no cgroup of its own "
                                 "(rootless, without cgroups the user may write)")
    pids = mgr.pids() if running else []
    if fmt == "json":
        sys.stdout.write((jsonio.dumps(pids) if pids else "null") + "\n")
        return
    if fmt != "table":
        raise errors.PyruncError("invalid format option")
    import subprocess

    args = ps_args or ["-ef"]
    try:
        out = subprocess.run(["ps"] + args, capture_output=True, check=True).stdout.decode()
    except (OSError, subprocess.CalledProcessError) as e:
        raise errors.PyruncError("ps: %s" % e) from None
    lines = out.splitlines()
    if not lines:
        return
    header = lines[0]
    try:
        col = header.split().index("PID")
    except ValueError:
        raise errors.PyruncError("couldn't find PID field in ps output") from None
    keep = set(pids)
    sys.stdout.write(header + "\n")
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in keep:
            sys.stdout.write(line + "\n")
