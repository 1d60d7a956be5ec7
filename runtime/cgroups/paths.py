"""cgroupsPath -> the container's directory in every hierarchy (runc's cgroupfs rules):
absolute paths are taken from each hierarchy's root, relative ones (and the default,
which is the container id) from this process's own cgroup."""
from pyrunc.errors import ConfigError
from pyrunc.plan.mounts import clean_path


def parse_systemd(path):
    """`slice:prefix:name` as the --systemd-cgroup form writes it."""
    parts = path.split(":")
    if len(parts) != 3:
        raise ConfigError("linux.cgroupsPath", 'expected "slice:prefix:name" with --systemd-cgroup, got "%s"' % path)
    return parts


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
    """{hierarchy key: absolute directory} for every mounted hierarchy."""
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
            base = own.rstrip("/")
        out[h.key] = h.mountpoint + clean_path(base + inner)
    return out
