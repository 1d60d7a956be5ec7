"""Image config -> runtime config.json, as the image-spec's conversion rules say, on
top of the defaults of `pyrunc spec`.

  Entrypoint + Cmd -> process.args     Env -> process.env (PATH added when missing)
  WorkingDir -> process.cwd            User -> process.user (the image's /etc/passwd, /etc/group)
  Labels, StopSignal, ExposedPorts, os, architecture, ... -> annotations (Labels win)
  Volumes -> bind mounts from BUNDLE/volumes/, so their data stays out of commits

The root is writable (the bundle has its own upper layer) and `terminal` is a choice.
Files of the image are read from the mounted rootfs through read_in_root(), which
resolves symlinks inside the rootfs, never on the host.
"""
import posix
import stat as st_

from pyrunc import errors

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ANN = "org.opencontainers.image."
MAX_LINKS = 40


# ---- reading a file of the image, confined to the rootfs ----

def read_in_root(root_fd, path, limit=4 << 20):
    """Content of `path` resolved inside the dir fd `root_fd` (symlinks, absolute or not,
    stay inside it; `..` stops at it), or None if it does not exist."""
    todo = [c for c in path.split("/") if c and c != "."]
    todo.reverse()
    stack = []            # fds of the dirs walked, root first
    cur = root_fd
    links = 0
    try:
        while todo:
            c = todo.pop()
            if c == "..":
                if stack:
                    posix.close(cur)
                    cur = stack.pop()
                continue
            try:
                s = posix.lstat(c, dir_fd=cur)
            except (FileNotFoundError, NotADirectoryError):
                return None
            if st_.S_ISLNK(s.st_mode):
                links += 1
                if links > MAX_LINKS:
                    return None
                target = posix.readlink(c, dir_fd=cur)
                if target.startswith("/"):
                    while stack:
                        posix.close(cur)
                        cur = stack.pop()
                parts = [p for p in target.split("/") if p and p != "."]
                todo.extend(reversed(parts))
                continue
            if todo:
                if not st_.S_ISDIR(s.st_mode):
                    return None
                nfd = posix.open(c, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_NOFOLLOW | posix.O_CLOEXEC,
                                 dir_fd=cur)
                stack.append(cur)
                cur = nfd
                continue
            if not st_.S_ISREG(s.st_mode):
                return None
            fd = posix.open(c, posix.O_RDONLY | posix.O_NOFOLLOW | posix.O_CLOEXEC | posix.O_NONBLOCK, dir_fd=cur)
            try:
                data = b""
                while len(data) <= limit:
                    b = posix.read(fd, 65536)
                    if not b:
                        break
                    data += b
                return data.decode("utf-8", "replace")
            finally:
                posix.close(fd)
        return None
    finally:
        while stack:
            posix.close(cur)
            cur = stack.pop()


# ---- users and groups ----

def parse_passwd(text):
    """-> [(name, uid, gid)]"""
    out = []
    for line in (text or "").splitlines():
        f = line.split(":")
        if len(f) < 4 or not f[0] or line.startswith("#"):
            continue
        try:
            out.append((f[0], int(f[2]), int(f[3])))
        except ValueError:
            continue
    return out


def parse_group(text):
    """-> [(name, gid, [members])]"""
    out = []
    for line in (text or "").splitlines():
        f = line.split(":")
        if len(f) < 3 or not f[0] or line.startswith("#"):
            continue
        try:
            gid = int(f[2])
        except ValueError:
            continue
        members = [m.strip() for m in f[3].split(",") if m.strip()] if len(f) > 3 else []
        out.append((f[0], gid, members))
    return out


def _num(s):
    return s.isdigit() and len(s) < 11 and int(s) < 1 << 32


def resolve_user(spec, passwd, group):
    """Config.User (`user`, `uid`, `user:group`, `uid:gid`, ...) -> process.user dict.
    `passwd` and `group` are the image's files (text or None)."""
    user, sep, grp = (spec or "").partition(":")
    if not user and not sep:
        return {"uid": 0, "gid": 0}
    users = parse_passwd(passwd)
    groups = parse_group(group)
    out = {}
    name = None
    if _num(user):
        out["uid"] = int(user)
        match = [u for u in users if u[1] == out["uid"]]
        out["gid"] = match[0][2] if match else 0
    elif user:
        match = [u for u in users if u[0] == user]
        if not match:
            raise errors.PyruncError('image config: user "%s" not found in the image\'s /etc/passwd' % user)
        name, out["uid"], out["gid"] = match[0]
    else:
        raise errors.PyruncError('image config: invalid User "%s"' % spec)
    if sep:
        if not grp:
            raise errors.PyruncError('image config: invalid User "%s"' % spec)
        if _num(grp):
            out["gid"] = int(grp)
        else:
            gm = [g for g in groups if g[0] == grp]
            if not gm:
                raise errors.PyruncError('image config: group "%s" not found in the image\'s /etc/group' % grp)
            out["gid"] = gm[0][1]
    elif name is not None:
        extra = []
        for gname, gid, members in groups:
            if name in members and gid != out["gid"] and gid not in extra:
                extra.append(gid)
        if extra:
            out["additionalGids"] = extra
    return out


# ---- the conversion ----

def _strings(v, what):
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise errors.PyruncError("image config: %s is not a list of strings" % what)
    return list(v)


def annotations(config):
    c = config.get("config") or {}
    ann = {}
    for key, field in (("os", "os"), ("architecture", "architecture"), ("variant", "variant"),
                       ("os.version", "os.version"), ("author", "author"), ("created", "created")):
        v = config.get(field)
        if isinstance(v, str) and v:
            ann[ANN + key] = v
    feats = config.get("os.features")
    if isinstance(feats, list) and feats:
        ann[ANN + "os.features"] = ",".join(str(x) for x in feats)
    if isinstance(c.get("StopSignal"), str) and c["StopSignal"]:
        ann[ANN + "stopSignal"] = c["StopSignal"]
    ports = c.get("ExposedPorts")
    if isinstance(ports, dict) and ports:
        ann[ANN + "exposedPorts"] = ",".join(sorted(ports))
    labels = c.get("Labels")
    if isinstance(labels, dict):
        for k, v in labels.items():
            if isinstance(v, str):
                ann[k] = v
    return ann


def volume_dir(dest):
    """BUNDLE/volumes/<name> for the volume at `dest`: readable and unique."""
    from pyrunc.image import layout

    clean = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in dest.strip("/")) or "root"
    return "%s-%s" % (clean[:48], layout.digest_bytes(dest.encode())[7:15])


def generate(config, bundle, passwd=None, group=None, terminal=True):
    """The runtime config for image config `config` (a dict) in `bundle`.
    -> (spec dict, [volume dir names])"""
    from pyrunc.spec import default

    c = config.get("config") or {}
    if not isinstance(c, dict):
        raise errors.PyruncError("image config: config is not an object")
    spec = default.spec(rootless=False)
    proc = spec["process"]
    proc["terminal"] = bool(terminal)
    args = _strings(c.get("Entrypoint"), "Entrypoint") + _strings(c.get("Cmd"), "Cmd")
    if args:
        proc["args"] = args
    env = _strings(c.get("Env"), "Env")
    names = {e.partition("=")[0] for e in env}
    if "PATH" not in names:
        env.insert(0, DEFAULT_PATH)
    if terminal and "TERM" not in names:
        env.append("TERM=xterm")
    proc["env"] = env
    wd = c.get("WorkingDir") or "/"
    if not isinstance(wd, str):
        raise errors.PyruncError("image config: WorkingDir is not a string")
    proc["cwd"] = wd if wd.startswith("/") else "/" + wd
    user = c.get("User") or ""
    if not isinstance(user, str):
        raise errors.PyruncError("image config: User is not a string")
    proc["user"] = resolve_user(user, passwd, group)
    spec["root"] = {"path": "rootfs", "readonly": False}
    ann = annotations(config)
    if ann:
        spec["annotations"] = ann
    vols = []
    volumes = c.get("Volumes")
    if isinstance(volumes, dict):
        for dest in sorted(volumes):
            if not isinstance(dest, str) or not dest.startswith("/"):
                continue
            name = volume_dir(dest)
            vols.append(name)
            spec["mounts"].append({"destination": dest, "type": "bind",
                                   "source": bundle + "/volumes/" + name, "options": ["rbind", "rw"]})
    return spec, vols
