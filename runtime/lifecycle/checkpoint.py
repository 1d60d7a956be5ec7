"""checkpoint: dump a running container with CRIU (runc 1.1.5's Checkpoint). CRIU freezes
the container's cgroup, writes its images, then kills it, and the container is deleted,
unless --leave-running or --pre-dump (memory only, for a later dump with --parent-path).
A failing dump leaves the container as it was."""
import posix

from pyrunc import errors, log
from pyrunc.state import store

DESCRIPTORS = "descriptors.json"  # stdio of the init, read back by restore (runc's name)
CLONE_NEWNET = 0x40000000
# runc 1.1.5 takes soft, full and strict; later runc also "ignore" (CRIU leaves cgroups
# alone: the restored tasks stay where CRIU runs, the new container's cgroup)
CG_MODES = ("soft", "full", "strict", "ignore")


def image_paths(o):
    """runc's prepareImagePaths: the image dir (default ./checkpoint), made; a relative
    --parent-path that must name a directory under it."""
    image = o.get("image-path") or posix.getcwd() + "/checkpoint"
    _makedirs(image, 0o600)  # runc's mode; root reads it anyway
    parent = o.get("parent-path") or ""
    if parent:
        if parent.startswith("/"):
            raise errors.PyruncError("--parent-path must be relative")
        real = image.rstrip("/") + "/" + parent
        try:
            if not posix.stat(real).st_mode & 0o040000:
                raise errors.PyruncError("invalid --parent-path: stat %s: not a directory" % real)
        except OSError as e:
            raise errors.PyruncError("invalid --parent-path: stat %s: %s" % (real, errors.strerror(e.errno))) from None
    return image, parent


def _makedirs(path, mode):
    try:
        posix.mkdir(path, mode)
    except FileExistsError:
        return
    except FileNotFoundError:
        head = path.rstrip("/").rpartition("/")[0]
        if not head or head == path:
            raise
        _makedirs(head, mode)
        posix.mkdir(path, mode)
    except OSError as e:
        raise errors.from_oserror("mkdir " + path, e) from None


def empty_ns_mask(names):
    """runc manages no network devices: the network namespace is always restored empty."""
    mask = CLONE_NEWNET
    for ns in names or ():
        if ns != "network":
            raise errors.PyruncError('namespace "%s" is not supported' % ns)
    return mask


def cg_mode(rpc, text):
    if not text:
        return None
    if text not in CG_MODES:
        raise errors.PyruncError("Invalid manage cgroups mode")
    return getattr(rpc, text.upper())


def page_server(text):
    """ADDRESS:PORT (runc: net.SplitHostPort, [v6]:port allowed)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, sep, port = text.rpartition(":")
        if not sep or ":" in host:
            host = port = ""
    if not host or not port:
        raise errors.PyruncError("Use --page-server ADDRESS:PORT to specify page server")
    try:
        return host, int(port)
    except ValueError:
        raise errors.PyruncError("Invalid port number") from None


def open_dir(path, what):
    try:
        return posix.open(path, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
    except OSError as e:
        raise errors.from_oserror("open %s %s" % (what, path), e) from None


def work_dir(path):
    _makedirs(path, 0o700)
    return open_dir(path, "work directory")


def config_file(spec):
    """runc's: annotation org.criu.config names a CRIU config file ("" for none), else
    /etc/criu/runc.conf (used by callers that tune CRIU for runc; we are its stand-in)."""
    ann = spec.get("annotations") or {}
    if "org.criu.config" in ann:
        return ann["org.criu.config"] or None
    return "/etc/criu/runc.conf"


def in_rootfs(rootfs, dest):
    """A mount destination as CRIU sees it, relative to the container's root: symlinks
    resolved inside the rootfs (runc: SecureJoin), never leaving it."""
    from pyrunc.plan.mounts import clean_path

    todo = [p for p in dest.split("/") if p]
    done = []
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        try:
            target = posix.readlink(rootfs + "/" + "/".join(done + [part]))
        except OSError:
            done.append(part)
            continue
        hops += 1
        if hops > 255:
            return clean_path(dest)
        if target.startswith("/"):
            done = []
        todo = [p for p in target.split("/") if p] + todo
    return "/" + "/".join(done)


def is_bind(m):
    opts = m.get("options") or ()
    return m.get("type") == "bind" or "bind" in opts or "rbind" in opts


def cgroup_mounts(pid, dest):
    """Without a cgroup namespace pyrunc binds the container's own cgroup directories (v2:
    one at dest; v1: one per hierarchy under a tmpfs): their mount points in the container,
    which CRIU must take as external (it cannot mount a cgroup subdirectory itself)."""
    out = []
    try:
        with open("/proc/%d/mountinfo" % pid) as f:
            for line in f:
                left, _, right = line.partition(" - ")
                f1, f2 = left.split(), right.split()
                if f2 and f2[0] in ("cgroup", "cgroup2") and (f1[4] + "/").startswith(dest.rstrip("/") + "/"):
                    out.append(f1[4])
    except OSError as e:
        raise errors.from_oserror("read the mounts of pid %d" % pid, e) from None
    return out


def descriptors(pid):
    """What fds 0-2 of the init are (runc's externalDescriptors): restore hands pipes back."""
    out = []
    for fd in range(3):
        try:
            out.append(posix.readlink("/proc/%d/fd/%d" % (pid, fd)))
        except OSError:
            out.append("/dev/null")
    return out


def feature_check(criu, rpc, **feat):
    """runc's checkCriuFeatures: ask CRIU (a swrk of its own: one request each, its output
    to /dev/null) whether it can do what a flag needs."""
    null = posix.open("/dev/null", posix.O_RDWR | posix.O_CLOEXEC)
    try:
        sw = criu.Swrk(stdio=(null, null, null))
    finally:
        posix.close(null)
    try:
        resp = sw.call(rpc.criu_req(type=rpc.FEATURE_CHECK, features=rpc.criu_features(**feat)))
    except errors.PyruncError as e:
        raise errors.PyruncError("CRIU feature check failed: %s" % (criu.check() or e)) from None
    finally:
        sw.close()
    for name in feat:
        if not getattr(resp.features, name):
            raise errors.PyruncError("CRIU feature check failed: %s is not supported by CRIU on this host"
                                     % name.replace("_", "-"))


def checkpoint(g, cid, o):
    from pyrunc.lifecycle import criu

    if posix.geteuid() != 0:
        log.warning("runc checkpoint is untested with rootless containers")
    cdir = store.container_dir(g.root, cid)
    st = store.read_state(cdir)
    status = store.reported_status(cdir, st)
    if status in ("created", "stopped", "creating"):
        raise errors.PyruncError("Container cannot be checkpointed in %s state" % status)
    rpc = criu.rpc()
    image, parent = image_paths(o)
    ps = page_server(o["page-server"]) if o.get("page-server") else None
    mode = cg_mode(rpc, o.get("manage-cgroups-mode"))
    empty = empty_ns_mask(o.get("empty-ns"))
    leave = bool(o.get("leave-running"))
    pre = bool(o.get("pre-dump"))
    with store.Lock(cdir):
        st = store.read_state(cdir)
        _dump(criu, rpc, cdir, st, image, parent, ps, mode, empty, o)
    if not (leave or pre):
        # runc: the container is destroyed once CRIU has dumped (and killed) it
        from pyrunc.lifecycle import delete

        delete.delete(g.root, cid)


def _dump(criu, rpc, cdir, st, image, parent, ps, mode, empty, o):
    from pyrunc.cgroups.manager import Manager

    spec = store.read_config(cdir)
    pid = st["pid"]
    fds = []
    try:
        img_fd = open_dir(image, "image directory")
        fds.append(img_fd)
        opts = rpc.criu_opts(images_dir_fd=img_fd, log_level=4, log_file="dump.log", root=st["rootfs"],
                             manage_cgroups=True, notify_scripts=True, pid=pid,
                             shell_job=bool(o.get("shell-job")), leave_running=bool(o.get("leave-running")),
                             tcp_established=bool(o.get("tcp-established")),
                             ext_unix_sk=bool(o.get("ext-unix-sk")), file_locks=bool(o.get("file-locks")),
                             empty_ns=empty, orphan_pts_master=True, auto_dedup=bool(o.get("auto-dedup")),
                             lazy_pages=bool(o.get("lazy-pages")))
        log_dir = image
        if o.get("work-path"):
            wfd = work_dir(o["work-path"])
            fds.append(wfd)
            opts.work_dir_fd = wfd
            log_dir = o["work-path"]
        conf = config_file(spec)
        if conf:
            opts.config_file = conf
        joins = (st.get("namespaces") or {}).get("joins") or {}
        for t, key in (("network", "net"), ("pid", "pid")):
            # a namespace joined by path stays outside the image: restore joins it again
            if joins.get(t):
                try:
                    ino = posix.stat(joins[t]).st_ino
                except OSError as e:
                    raise errors.from_oserror("stat " + joins[t], e) from None
                opts.external.append("%s[%d]:extRoot%sNS" % (key, ino, t.capitalize() if t == "pid" else "Net"))
        mgr = Manager.from_state(st)
        freezer = mgr.paths.get("") if mgr.unified else mgr.dir_for("freezer")
        if freezer:
            opts.freeze_cgroup = freezer
        if ps:
            opts.ps.address, opts.ps.port = ps
        if parent:
            opts.parent_img = parent
            opts.track_mem = True
        if mode is not None:
            opts.manage_cgroups_mode = mode
        if not o.get("pre-dump"):
            _external_mounts(opts, st, spec, pid)
            from pyrunc import jsonio

            store.write_atomic(image.rstrip("/") + "/" + DESCRIPTORS, jsonio.dumps(descriptors(pid)).encode())
        log_path = log_dir.rstrip("/") + "/dump.log"
        if o.get("pre-dump"):
            feature_check(criu, rpc, mem_track=True)
        if o.get("lazy-pages"):
            feature_check(criu, rpc, lazy_pages=True)
            sfd = o.get("status-fd")
            if sfd not in (None, "", "-1"):
                opts.status_fd = _status_fd(sfd)
        sw = criu.Swrk()
        try:
            req = rpc.criu_req(type=rpc.PRE_DUMP if o.get("pre-dump") else rpc.DUMP, opts=opts)

            def notify(script, npid, nfds):
                if script == "post-dump":
                    # runc's marker: checkpointed, not yet restored
                    store.write_atomic(cdir + "/checkpoint", b"")
            try:
                sw.call(req, notify, log_path)
                status = sw.wait()
                if status and not o.get("pre-dump"):
                    raise errors.PyruncError("criu failed: %s (log file: %s)" % (sw.describe(), log_path))
            except BaseException:
                try:
                    posix.unlink(cdir + "/checkpoint")   # the container is as it was
                except OSError:
                    pass
                raise
        finally:
            sw.close()
    finally:
        for fd in fds:
            posix.close(fd)


def _status_fd(text):
    import fcntl

    try:
        fd = int(text)
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    except (ValueError, OSError) as e:
        raise errors.PyruncError("invalid --status-fd argument %s: %s" % (text, getattr(e, "strerror", e))) \
            from None
    if not flags & (posix.O_WRONLY | posix.O_RDWR):
        raise errors.PyruncError("invalid --status-fd argument %d: not writable" % fd)
    return fd


def _external_mounts(opts, st, spec, pid):
    """runc's addCriuDumpMount: bind mounts, v1 cgroup binds, masked files (/dev/null),
    device nodes: mounts whose source is outside the container, named by destination."""
    rootfs = st["rootfs"]
    ns = st.get("namespaces") or {}
    cgroupns = "cgroup" in (ns.get("new") or ()) or "cgroup" in (ns.get("joins") or {})
    for m in spec.get("mounts") or ():
        if is_bind(m):
            d = in_rootfs(rootfs, m["destination"])
            opts.ext_mnt.add(key=d, val=d)
        elif m.get("type") == "cgroup" and not cgroupns:
            for d in cgroup_mounts(pid, in_rootfs(rootfs, m["destination"])):
                opts.ext_mnt.add(key=d, val=d)
    for p in (spec.get("linux") or {}).get("maskedPaths") or ():
        try:
            info = posix.stat("/proc/%d/root/%s" % (pid, p))
        except FileNotFoundError:
            continue
        except OSError as e:
            raise errors.from_oserror("stat " + p, e) from None
        if not info.st_mode & 0o040000:
            opts.ext_mnt.add(key=p, val="/dev/null")
    for dev in (spec.get("linux") or {}).get("devices") or ():
        d = in_rootfs(rootfs, dev["path"])
        opts.ext_mnt.add(key=d, val=d)
