"""restore: a container made from a bundle (checked and planned as create does), whose
processes CRIU brings back from a checkpoint's images (runc 1.1.5's Restore). The state
is recorded as create records it, when CRIU reports the restored init (post-restore);
detached, we exit then; in the foreground we wait for it, forward signals and delete it.
A failing restore leaves nothing behind."""
import posix

from pyrunc import errors, jsonio, log
from pyrunc.lifecycle import checkpoint as ck
from pyrunc.lifecycle import create as createmod
from pyrunc.state import store

MS_BIND = 0x1000
MS_REC = 0x4000
MNT_DETACH = 2
PR_SET_CHILD_SUBREAPER = 36
# the namespaces CRIU joins by path (join_ns); net and pid go as external, inherited fds
_NS_NAMES = {"ipc": "ipc", "uts": "uts", "mount": "mnt", "user": "user", "time": "time"}


def _libc():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
    return libc, ctypes


def _mount_bind(src, dst):
    libc, ctypes = _libc()
    if libc.mount(src.encode(), dst.encode(), None, MS_BIND | MS_REC, None) != 0:
        raise errors.SyscallError('bind mount "%s" on "%s"' % (src, dst), ctypes.get_errno())


def _umount(path):
    libc, _ = _libc()
    libc.umount2(path.encode(), MNT_DETACH)


def restore(g, cid, o):
    if posix.geteuid() != 0:
        log.warning("runc checkpoint is untested with rootless containers")
    from pyrunc.lifecycle import criu

    rpc = criu.rpc()
    image, _ = ck.image_paths(o)
    empty = ck.empty_ns_mask(o.get("empty-ns"))
    mode = ck.cg_mode(rpc, o.get("manage-cgroups-mode"))
    detach = bool(o.get("detach"))
    console_socket = o.get("console-socket") or ""
    bundle = createmod._abspath(o.get("bundle") or "")
    with errors.context('restore container "%s"' % cid):
        spec, plan, host = createmod.prepare(g, cid, bundle, no_pivot=bool(o.get("no-pivot")),
                                             console_socket=bool(console_socket))
        if plan.terminal and not console_socket:
            raise errors.PyruncError("restoring a container with a terminal needs --console-socket")
        try:
            with open(image.rstrip("/") + "/" + ck.DESCRIPTORS, "rb") as f:
                fds = jsonio.loads(f.read())
        except OSError as e:
            raise errors.from_oserror("open " + image.rstrip("/") + "/" + ck.DESCRIPTORS, e) from None
        except ValueError as e:
            raise errors.PyruncError("%s: %s" % (ck.DESCRIPTORS, e)) from None
        if not detach and not o.get("no-subreaper"):
            import ctypes

            ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        c = _restore(g, cid, bundle, spec, plan, host, criu, rpc, image, fds, empty, mode, o, console_socket)
    if detach:
        return 0
    from pyrunc.lifecycle import run as runmod

    runmod._forward_signals(c.pid)
    while True:
        try:
            _, status = posix.waitpid(c.pid, 0)
            break
        except InterruptedError:
            continue
    status = runmod._exit_status(status)
    runmod._cleanup(g, cid, c)
    return status


def _restore(g, cid, bundle, spec, plan, host, criu, rpc, image, fds, empty, mode, o, console_socket):
    from pyrunc import shim
    from pyrunc.cgroups import fs as cgfs
    from pyrunc.cgroups.manager import Manager

    try:
        store.ensure_root(g.root)
    except OSError as e:
        raise errors.from_oserror('create state root "%s"' % g.root, e) from None
    cdir = store.container_dir(g.root, cid)
    lock = createmod._make_locked_dir(g.root, cdir, shim)
    mgr = None
    root = None
    pid = [0]
    opened = []
    sw = None
    try:
        mgr = Manager(host.cgroup_host.mode, host.cgroup_paths)
        store.write_config(cdir, spec, {"mode": mgr.mode, "paths": mgr.paths, "created": cgfs.missing(mgr.paths)})
        mgr.create()
        linux = spec.get("linux") or {}
        mgr.apply(linux.get("resources"), device_paths=[d["path"] for d in linux.get("devices") or ()])
        img_fd = ck.open_dir(image, "image directory")
        opened.append(img_fd)
        # CRIU wants a root that is a mount point whose parent is not overmounted
        root = cdir + "/criu-root"
        posix.mkdir(root, 0o755)
        _mount_bind(plan.rootfs, root)
        opts = rpc.criu_opts(images_dir_fd=img_fd, evasive_devices=True, log_level=4, log_file="restore.log",
                             rst_sibling=True, root=root, manage_cgroups=True, notify_scripts=True,
                             shell_job=bool(o.get("shell-job")), ext_unix_sk=bool(o.get("ext-unix-sk")),
                             tcp_established=bool(o.get("tcp-established")), file_locks=bool(o.get("file-locks")),
                             empty_ns=empty, orphan_pts_master=True, auto_dedup=bool(o.get("auto-dedup")),
                             lazy_pages=bool(o.get("lazy-pages")))
        if o.get("lsm-profile"):
            opts.lsm_profile = o["lsm-profile"]
        if o.get("lsm-mount-context"):
            opts.lsm_mount_context = o["lsm-mount-context"]
        log_path = image.rstrip("/") + "/restore.log"
        if o.get("work-path"):
            wfd = ck.work_dir(o["work-path"])
            opened.append(wfd)
            opts.work_dir_fd = wfd
            log_path = o["work-path"].rstrip("/") + "/restore.log"
        conf = ck.config_file(spec)
        if conf:
            opts.config_file = conf
        extra = _namespaces(opts, plan.namespaces, opened)
        _mountpoints(plan.rootfs, spec)
        _external_mounts(opts, spec, plan, host, bundle)
        if mode is not None:
            opts.manage_cgroups_mode = mode
        for i, s in enumerate(fds):
            if "pipe:" in s:
                # the init's stdio pipes: ours (CRIU's 0-2) take their place
                opts.inherit_fd.add(key=s, fd=i)
        sw = criu.Swrk(extra=extra)
        mgr.join(sw.pid)
        # CRIU moves each task into the cgroup its image names (the dumped container's)
        # under the root given here per controller: the new container's, where CRIU now
        # runs. runc 1.1.5 gives it on v1 only, and on v2 restores a container under a new
        # id into the cgroup of the dumped one (recreated, or shared with it while a lazy
        # migration runs); later runc gives it everywhere, as we do.
        for ctrl, path in _proc_cgroups(sw.pid):
            opts.cg_root.add(ctrl=ctrl, path=path)
        st = {
            "ociVersion": createmod.OCI_VERSION, "id": cid, "pid": 0, "pidStart": 0,
            "bundle": bundle, "rootfs": plan.rootfs, "created": createmod._now(), "owner": "",
            "annotations": spec.get("annotations") or {}, "cgroupPaths": mgr.paths,
            "cgroupsCreated": mgr.created, "cgroupMode": mgr.mode, "freezer": mgr.freezer_file(),
            "namespaces": plan.namespaces, "newPidns": "pid" in plan.namespaces["new"], "hooks": plan.hooks,
        }

        def notify(script, npid, nfds):
            if script == "setup-namespaces" and plan.hooks:
                from pyrunc import hooks

                state = hooks.state_json(dict(st, pid=npid), hooks.CREATE_HOOK_STATUS)
                hooks.run("prestart", plan.hooks, state, cwd=bundle)
                hooks.run("createRuntime", plan.hooks, state, cwd=bundle)
            elif script == "post-restore":
                pid[0] = npid
                ps = store.proc_stat(npid)
                st["pid"] = npid
                st["pidStart"] = ps[1] if ps else 0
                st["created"] = createmod._now()
                store.write_state(cdir, st)
            elif script == "orphan-pts-master" and nfds:
                _send_console(console_socket, nfds[0])

        sw.call(rpc.criu_req(type=rpc.RESTORE, opts=opts), notify, log_path)
        status = sw.wait()
        if status:
            raise errors.PyruncError("criu failed: %s (log file: %s)" % (sw.describe(), log_path))
        if not pid[0]:
            raise errors.PyruncError("criu restored no process (log file: %s)" % log_path)
        if o.get("pid-file"):
            try:
                store.write_pid_file(createmod._abspath(o["pid-file"]), pid[0])
            except OSError as e:
                raise errors.from_oserror('write pid file "%s"' % o["pid-file"], e) from None
        store.replace_config(cdir, spec)
    except BaseException:
        if sw is not None:
            sw.close()
        _undo_root(root)
        spawned = _Pid(pid[0]) if pid[0] else None
        createmod._undo(cdir, spawned, mgr, plan.rootfs, None)
        raise
    finally:
        for fd in opened:
            posix.close(fd)
        lock.release()
    sw.close()
    _undo_root(root)
    return createmod.Created(cdir, st, pid[0], False)


class _Pid:
    __slots__ = ("pid",)

    def __init__(self, pid):
        self.pid = pid


def _undo_root(root):
    if root is None:
        return
    _umount(root)
    try:
        posix.rmdir(root)
    except OSError:
        pass


def _namespaces(opts, ns, opened):
    """runc's handleRestoringNamespaces: net and pid joined by path go to CRIU as inherited
    fds (4, 5, ...) under the keys the dump used; the others it joins by path itself."""
    extra = []
    joins = ns.get("joins") or {}
    for t in sorted(joins):
        path = joins[t]
        if t in ("network", "pid"):
            try:
                fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
            except OSError:
                raise errors.PyruncError("Requested %s namespace %s does not exist" % (t, path)) from None
            opened.append(fd)
            opts.inherit_fd.add(key="extRootNetNS" if t == "network" else "extRootPidNS", fd=4 + len(extra))
            extra.append(fd)
        elif t == "cgroup":
            raise errors.PyruncError("Do not know how to handle namespace cgroup")
        else:
            opts.join_ns.add(ns=_NS_NAMES.get(t, t), ns_file=path)
    return extra


def _mountpoints(rootfs, spec):
    """The mount points CRIU mounts on must exist in the rootfs (runc: prepareCriuRestoreMounts);
    none under a tmpfs, which CRIU fills from its image."""
    mounts = spec.get("mounts") or ()
    tmpfs = [m["destination"].rstrip("/") + "/" for m in mounts if m.get("type") == "tmpfs"]
    for m in mounts:
        d = ck.in_rootfs(rootfs, m["destination"])
        if any((d + "/").startswith(t) for t in tmpfs):
            continue
        path = rootfs + d
        try:
            posix.lstat(path)
            continue
        except FileNotFoundError:
            pass
        src_is_file = False
        if ck.is_bind(m):
            try:
                src_is_file = not posix.stat(m.get("source") or "").st_mode & 0o040000
            except OSError:
                pass
        head = path.rpartition("/")[0]
        ck._makedirs(head, 0o755)
        try:
            if src_is_file:
                posix.close(posix.open(path, posix.O_WRONLY | posix.O_CREAT | posix.O_CLOEXEC, 0o644))
            else:
                posix.mkdir(path, 0o755)
        except FileExistsError:
            pass
        except OSError as e:
            raise errors.from_oserror("create mount point " + path, e) from None


def _external_mounts(opts, spec, plan, host, bundle):
    """runc's addCriuRestoreMount: each external mount of the dump back to its source."""
    from pyrunc.plan.mounts import clean_path

    rootfs = plan.rootfs
    ns = plan.namespaces
    cgroupns = "cgroup" in (ns.get("new") or ()) or "cgroup" in (ns.get("joins") or {})
    for m in spec.get("mounts") or ():
        if ck.is_bind(m):
            src = m.get("source") or ""
            if not src.startswith("/"):
                src = clean_path(bundle + "/" + src)
            opts.ext_mnt.add(key=ck.in_rootfs(rootfs, m["destination"]), val=src)
        elif m.get("type") == "cgroup" and not cgroupns:
            # the binds of the container's cgroup directories: the new container's
            dest = ck.in_rootfs(rootfs, m["destination"])
            ch = host.cgroup_host
            if ch.mode == "v2":
                opts.ext_mnt.add(key=dest, val=host.cgroup_paths[""])
            else:
                for h in ch.v1:
                    if h.key in host.cgroup_paths:
                        opts.ext_mnt.add(key=dest + "/" + h.mountpoint.rpartition("/")[2],
                                         val=host.cgroup_paths[h.key])
    if (spec.get("linux") or {}).get("maskedPaths"):
        opts.ext_mnt.add(key="/dev/null", val="/dev/null")
    for dev in (spec.get("linux") or {}).get("devices") or ():
        opts.ext_mnt.add(key=ck.in_rootfs(rootfs, dev["path"]), val=dev["path"])


def _proc_cgroups(pid):
    """runc's cg_root entries: every controller of CRIU's own cgroup (/proc/PID/cgroup),
    the cgroup2 line ("0::/path") under the controller name "" as runc's parser gives it."""
    with open("/proc/%d/cgroup" % pid) as f:
        return cg_roots(f.read())


def cg_roots(text):
    out = []
    for line in text.splitlines():
        if line.count(":") < 2:
            continue
        _, ctrls, path = line.split(":", 2)
        for c in ctrls.split(","):
            if (c, path) not in out:
                out.append((c, path))
    return out


def _send_console(path, fd):
    """The restored terminal's master to the console socket, as create sends its own."""
    import _socket
    import array

    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
        s.sendmsg([b"orphan-pts-master"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", [fd]))])
    except OSError as e:
        raise errors.from_oserror('send the terminal to console socket "%s"' % path, e) from None
    finally:
        s.close()
