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
    pids = Manager.from_state(st).pids() if store.status(cdir, st) != "stopped" else []
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
