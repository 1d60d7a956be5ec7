"""cgroupsPath -> the container's directory in every hierarchy (runc's cgroupfs rules):
absolute paths are taken from each hierarchy's root, relative ones (and the default,
which is the container id) from this process's own cgroup."""
from pyrunc.errors import ConfigError
from pyrunc.plan.mounts import clean_path


def parse_systemd(path):
    """`slice:prefix:name` as the --systemd-cgroup form writes it (runc's split: exactly
    three fields, any of them may be empty)."""
    parts = path.split(":")
    if len(parts) != 3:
        raise ConfigError("linux.cgroupsPath", 'expected cgroupsPath to be of format "slice:prefix:name" '
                                               'for systemd cgroups, got "%s" instead' % path)
    return parts


def expand_slice(name):
    """A slice unit name -> its cgroup path, as systemd nests slices: "a-b.slice" lives
    in "/a.slice/a-b.slice"; "-.slice" is the root."""
    suffix = ".slice"
    if len(name) < len(suffix) or not name.endswith(suffix) or "/" in name:
        raise ConfigError("linux.cgroupsPath", "invalid slice name: %s" % name)
    stem = name[:-len(suffix)]
    if stem == "-":
        return "/"
    path, prefix = "", ""
    for part in stem.split("-"):
        if not part:   # "a--b.slice" and "-a.slice" name no slice
            raise ConfigError("linux.cgroupsPath", "invalid slice name: %s" % name)
        path += "/" + prefix + part + suffix
        prefix += part + "-"
    return path


class SystemdUnit:
    """Where the systemd driver puts a container: the unit (a scope, or a slice when
    the name ends in .slice, as runc), its parent slice and the cgroup path below a
    hierarchy's root."""

    __slots__ = ("name", "slice", "path", "label")

    def __init__(self, name, slice_, path, label=""):
        self.name = name
        self.slice = slice_
        self.path = path
        self.label = label   # the name field of slice:prefix:name (runc's Description)

    @property
    def is_slice(self):
        return self.name.endswith(".slice")


def systemd_unit(cgroups_path, cid, rootless=False):
    """runc's rules: an empty cgroupsPath is "<default slice>:runc:<id>"; the default
    slice is system.slice (user.slice rootless); the unit is <prefix>-<name>.scope."""
    if cgroups_path:
        slice_, prefix, name = parse_systemd(cgroups_path)
    else:
        slice_, prefix, name = "", "runc", cid
    if not slice_:
        slice_ = "user.slice" if rootless else "system.slice"
    if not name:
        raise ConfigError("linux.cgroupsPath", 'the name in "slice:prefix:name" must not be empty')
    unit = name if name.endswith(".slice") else "%s-%s.scope" % (prefix, name)
    if "/" in unit or "\0" in unit:
        raise ConfigError("linux.cgroupsPath", 'invalid unit name "%s"' % unit)
    base = expand_slice(slice_).rstrip("/")
    if unit.endswith(".slice"):
        # a slice unit sits where its own name puts it (and must nest below the parent)
        path = expand_slice(unit)
    else:
        path = base + "/" + unit
    return SystemdUnit(unit, slice_, path, name)


def resolve_systemd(host, unit, manager_cgroup=""):
    """{hierarchy key: absolute directory} of the unit in every mounted hierarchy. A
    user's manager (rootless) puts its slices below its own cgroup, `manager_cgroup`
    (its ControlGroup, e.g. /user.slice/user-1000.slice/user@1000.service)."""
    base = clean_path("/" + manager_cgroup).rstrip("/") if manager_cgroup else ""
    return {h.key: h.mountpoint + base + unit.path for h in host.hierarchies}


def inner_path(cgroups_path, cid):
    """The cleaned path inside a hierarchy, and whether it is relative to our own."""
    p = cgroups_path if cgroups_path else cid
    for part in p.split("/"):
        if part == "..":
            raise ConfigError("linux.cgroupsPath", 'must not contain "..": "%s"' % p)
    if p.startswith("/"):
        return clean_path(p), False
    return clean_path("/" + p), True


def resolve(host, cgroups_path, cid):
    """{hierarchy key: absolute directory} for every mounted hierarchy. A relative path
    is below our own cgroup on v1; on a unified host (runc's fs2) below its parent: our
    own cgroup (a login's session scope, a service) has processes in it, so no child
    of it could get controllers (cgroup v2's no-internal-processes rule)."""
    inner, relative = inner_path(cgroups_path, cid)
    if inner == "/":
        raise ConfigError("linux.cgroupsPath", "must not be the root cgroup")
    out = {}
    for h in host.hierarchies:
        base = ""
        if relative:
            own = host.own.get(h.key, "/")
            # our own path as the mount shows it (the mount root may be a sub-cgroup)
            if h.root != "/" and own.startswith(h.root):
                own = own[len(h.root):] or "/"
            if host.mode == "v2":
                own = own.rstrip("/").rpartition("/")[0]
            base = own.rstrip("/")
        out[h.key] = h.mountpoint + clean_path(base + inner)
    return out
