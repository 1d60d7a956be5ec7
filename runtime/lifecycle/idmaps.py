"""The maps of a new user namespace: written directly by a runtime that is root (ROOT),
and when the runtime is unprivileged (euid != 0) as the kernel lets it (writer()).

The kernel lets such a writer map only its own id, one range of size 1, and the gid
only once /proc/PID/setgroups says "deny" (user_namespaces(7)). Anything else goes
through the setuid helpers newuidmap/newgidmap (shadow's `uidmap` package), which map
the ranges /etc/subuid and /etc/subgid give the user. As runc: setgroups is denied only
for the rootless default map (0 -> our gid, size 1); helpers are found on $PATH. Both
are checked before anything runs, so that a map that cannot be written is named then."""
import posix

from pyrunc import errors
from pyrunc.errors import ConfigError


def _self_map(ranges, own):
    return len(ranges) == 1 and ranges[0]["hostID"] == own and ranges[0]["size"] == 1


def _which(name):
    for d in (posix.environ.get(b"PATH") or b"").decode().split(":"):
        p = (d or ".") + "/" + name
        if posix.access(p, posix.X_OK):
            return p
    return None


def _user_names(uid):
    """The names /etc/subuid may use for us: our login name and our uid."""
    names = {str(uid)}
    try:
        import pwd

        names.add(pwd.getpwuid(uid).pw_name)
    except (ImportError, KeyError):
        pass
    return names


def subordinate(path, names):
    """[(start, count)] that `path` (/etc/subuid or /etc/subgid) gives any of `names`."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[0] in names and parts[1].isdigit() and parts[2].isdigit():
            out.append((int(parts[1]), int(parts[2])))
    return out


def check_ranges(ranges, where, own, allowed, subfile, who):
    """shadow's rule for newuidmap: each range is our own id (size 1) or lies in one of
    our subordinate ranges."""
    for i, r in enumerate(ranges):
        lo, n = r["hostID"], r["size"]
        if lo == own and n == 1:
            continue
        if not any(s <= lo and lo + n <= s + c for s, c in allowed):
            raise ConfigError("%s[%d]" % (where, i), "host ids %d-%d are not subordinate ids of %s in %s"
                              % (lo, lo + n - 1, who, subfile))


class Writer:
    """How this unprivileged runtime writes the maps: directly or through a helper."""

    __slots__ = ("tools", "deny_setgroups")

    def __init__(self, tools, deny_setgroups):
        self.tools = tools  # (newuidmap path or None, newgidmap path or None)
        self.deny_setgroups = deny_setgroups

    def write(self, pid, maps):
        if self.deny_setgroups:
            _write("/proc/%d/setgroups" % pid, "deny", "setgroups")
        for name, text, tool in zip(("uid_map", "gid_map"), maps, self.tools):
            if tool is None:
                _write("/proc/%d/%s" % (pid, name), text, name)
            else:
                _run_tool(tool, pid, text)


# the runtime as root of the parent user namespace: any ranges, written directly, and
# setgroups left "allow" as runc leaves it for root
ROOT = Writer((None, None), deny_setgroups=False)


def writer(linux):
    """The Writer for linux.uidMappings/gidMappings (already checked by plan.userns),
    or a one-line error naming the map that cannot be written, and why."""
    uid, gid = posix.geteuid(), posix.getegid()
    uids, gids = linux["uidMappings"], linux["gidMappings"]
    names = _user_names(posix.getuid())
    who = "user %s (uid %d)" % (max(names, key=lambda n: not n.isdigit()), posix.getuid())
    tools = []
    for where, ranges, own, helper, subfile in (
            ("linux.uidMappings", uids, uid, "newuidmap", "/etc/subuid"),
            ("linux.gidMappings", gids, gid, "newgidmap", "/etc/subgid")):
        direct = _self_map(ranges, own) if helper == "newuidmap" else \
            (_self_map(ranges, own) and ranges[0]["containerID"] == 0)
        if direct:
            tools.append(None)
            continue
        tool = _which(helper)
        if tool is None:
            raise ConfigError(where, "an unprivileged user needs %s to map ids other than its own, and it is not "
                              "in $PATH (Debian: apt-get install uidmap)" % helper)
        check_ranges(ranges, where, own, subordinate(subfile, names), subfile, who)
        tools.append(tool)
    return Writer(tuple(tools), deny_setgroups=tools[1] is None)


def _write(path, text, name):
    try:
        fd = posix.open(path, posix.O_WRONLY | posix.O_CLOEXEC)
        try:
            posix.write(fd, text.encode())
        finally:
            posix.close(fd)
    except OSError as e:
        raise errors.from_oserror('write %s "%s"' % (name, text.strip().replace("\n", ", ")), e) from None


def _run_tool(tool, pid, text):
    """`newuidmap PID ID HOSTID SIZE...`, with an empty environment as runc runs it;
    its own complaint (one line) is the error."""
    argv = [tool, str(pid)]
    for line in text.splitlines():
        argv.extend(line.split())
    r, w = posix.pipe()
    try:
        try:
            child = posix.posix_spawn(tool, argv, {}, file_actions=[
                (posix.POSIX_SPAWN_OPEN, 0, "/dev/null", posix.O_RDONLY, 0),
                (posix.POSIX_SPAWN_DUP2, w, 1), (posix.POSIX_SPAWN_DUP2, w, 2)])
        except OSError as e:
            raise errors.from_oserror("run " + tool, e) from None
        posix.close(w)
        w = -1
        out = b""
        while True:
            chunk = posix.read(r, 4096)
            if not chunk:
                break
            out += chunk
        _, status = posix.waitpid(child, 0)
    finally:
        posix.close(r)
        if w >= 0:
            posix.close(w)
    if status != 0:
        msg = " ".join(out.decode(errors="replace").split()) or "exit status %d" % posix.waitstatus_to_exitcode(status)
        raise errors.PyruncError("%s %s: %s" % (tool.rpartition("/")[2], text.strip().replace("\n", ", "), msg))
