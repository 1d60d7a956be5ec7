"""create: everything is decided (config checked, plan built) before anything on the
host changes; then state dir, cgroups, fifo, clone, GO, READY. Any failure undoes all
of it: an erroring create leaves the host as if it had never run."""
import posix
import time

from pyrunc import OCI_VERSION, errors, log, phase
from pyrunc.state import store


class Created:
    """What a create leaves for `run`: the init pid (our child) and the state."""

    __slots__ = ("cdir", "state", "pid", "terminal")

    def __init__(self, cdir, state, pid, terminal):
        self.cdir = cdir
        self.state = state
        self.pid = pid
        self.terminal = terminal


def _abspath(p):
    if not p:
        p = posix.getcwd()
    elif not p.startswith("/"):
        p = posix.getcwd() + "/" + p
    from pyrunc.plan.mounts import clean_path

    return clean_path(p)


def _listen_fds():
    """systemd socket activation as runc honours it: fds 3.. when LISTEN_PID is us."""
    env = posix.environ
    try:
        if int(env.get(b"LISTEN_PID", b"0")) != posix.getpid():
            return 0
        return max(0, int(env.get(b"LISTEN_FDS", b"0")))
    except ValueError:
        return 0


def _connect_console(path):
    import _socket

    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise errors.from_oserror('connect to console socket "%s"' % path, e) from None
    return s.detach()


def _systemd_unit(g, spec, cid, rootless=False):
    """--systemd-cgroup: runc's check first (is systemd the init here?), then the unit
    the cgroupsPath names and the annotations' unit properties, all checked before
    anything changes."""
    from pyrunc.cgroups import paths as cgpaths
    from pyrunc.cgroups import sdprops

    if not posix.access("/run/systemd/system", posix.F_OK):
        raise errors.PyruncError("systemd not running on this host, cannot use systemd cgroups manager")
    unit = cgpaths.systemd_unit((spec.get("linux") or {}).get("cgroupsPath") or "", cid, rootless=rootless)
    return unit, sdprops.annotation_properties(spec.get("annotations"))


def _owner_uid():
    from pyrunc.cgroups.userbus import detect_uid

    return detect_uid()


def _user_manager(ch):
    """Rootless --systemd-cgroup (runc's unified manager with Rootless): the unit is the
    user's manager's, over the session bus, below that manager's own cgroup; there is
    no rootless systemd driver on v1 (a user's manager gets no v1 hierarchies).
    (the open bus, the manager's ControlGroup)"""
    if ch.mode != "v2":
        raise errors.PyruncError("cannot use rootless systemd cgroups manager on cgroup v1")
    from pyrunc.cgroups.systemd import Bus

    bus = Bus(user=True)
    try:
        return bus, bus.manager_property("ControlGroup")
    except BaseException:
        bus.close()
        raise


def prepare(g, cid, bundle, no_pivot=False, no_new_keyring=False, preserve_fds=0, console_socket=None, ch=None):
    """Check and plan, touching nothing: (spec, plan, host). `ch`: the cgroup host, when
    the caller detected it already."""
    from pyrunc.cgroups import host as cghost
    from pyrunc.cgroups import paths as cgpaths
    from pyrunc import lsm
    from pyrunc.plan import build, caps
    from pyrunc.spec import load

    store.validate_id(cid)
    from pyrunc import rootless

    rootless_cgroups = rootless.cgroups(g.rootless, systemd=g.systemd_cgroup, owner_uid=_owner_uid)
    spec = load.load_bundle(bundle)
    phase("config")
    from pyrunc import notify

    if notify.host_socket():
        notify.setup_spec(spec, store.container_dir(g.root, cid))
    ch = ch or cghost.detect()
    linux = spec.get("linux") or {}
    unit = unit_props = mount_paths = user_bus = None
    if g.systemd_cgroup:
        unit, unit_props = _systemd_unit(g, spec, cid, rootless_cgroups)
        if rootless_cgroups:
            user_bus, manager_cgroup = _user_manager(ch)
            cg_paths = cgpaths.resolve_systemd(ch, unit, manager_cgroup)
        else:
            cg_paths = cgpaths.resolve_systemd(ch, unit)
        cgroup2 = cg_paths.get("")
    else:
        cg_paths = cgpaths.resolve(ch, linux.get("cgroupsPath") or "", cid) if ch.mode != "none" else {}
        cgroup2 = cg_paths.get("")
        if rootless_cgroups and not linux.get("cgroupsPath"):
            from pyrunc.cgroups import rootless as cgrootless

            cg_paths, mount_paths = cgrootless.usable(ch, cg_paths)
    try:
        host = build.Host(cgroup_host=ch, cgroup_paths=cg_paths, last_cap=caps.last_cap(),
                          kcore=_exists("/proc/kcore"), selinux=lsm.selinux_enabled(),
                          rootless_euid=rootless.euid(), cgroup_mount_paths=mount_paths)
        host.systemd_unit, host.systemd_props, host.systemd_bus = unit, unit_props, user_bus
        host.rootless_cgroups = rootless_cgroups
        # runc's c.cgroup2Path: the container's cgroup even when the rootless manager left
        # it out (the cgroup2 mount's fallback bind finds it missing then)
        host.cgroup2_path = cgroup2 if ch.mode == "v2" else None
        host.in_userns = rootless.in_userns()
        opts = build.Options(cid, bundle, no_pivot=no_pivot, no_new_keyring=no_new_keyring,
                             preserve_fds=preserve_fds, console_socket=console_socket,
                             listen_fds=_listen_fds(), seccomp=_seccomp(g, linux.get("seccomp")))
        plan = build.build(spec, opts, host)
        phase("plan")
        if host.rootless_euid and plan.id_maps is not None:
            from pyrunc.lifecycle import idmaps

            plan.map_writer = idmaps.writer(linux)
        for w in plan.warnings:
            log.warning(w)
        log.debugf("cgroup mode %s: %s" % (ch.mode, ", ".join(sorted(cg_paths.values()))))
        return spec, plan, host
    except BaseException:
        if user_bus is not None:
            user_bus.close()   # opened for the user's manager's cgroup: the plan failed
        raise


def _seccomp(g, obj):
    """(BPF bytes, seccomp(2) flags) for linux.seccomp, from the cache when we can."""
    if not obj:
        return None
    from pyrunc.errors import ConfigError
    from pyrunc.seccomp import cache, profile

    prof = profile.rules_of(obj)
    flags = prof.flags
    if prof.notify:
        if not prof.listener_path:
            raise ConfigError("linux.seccomp.listenerPath", "required when an action is SCMP_ACT_NOTIFY")
        flags |= profile.FLAG_NEW_LISTENER
    program, hit = cache.load(g.root, obj, prof)
    log.debugf("seccomp: %d instructions (%s)" % (len(program) // 8, "cached" if hit else "compiled"))
    return program, flags


def send_listener(spec, st, listener, pid=None, status="creating"):
    """runtime-spec: the seccomp listener fd goes to listenerPath with the container
    process state (`pid` the process that loaded the filter: the init, or an exec'd
    process, for which runc says "running"); a failure to deliver it fails the verb, in
    runc's words."""
    import _socket

    from pyrunc import hooks, jsonio

    seccomp = spec["linux"]["seccomp"]
    state = jsonio.loads(hooks.state_json(st, status))
    msg = {"ociVersion": st["ociVersion"], "fds": ["seccompFd"], "pid": st["pid"] if pid is None else pid,
           "metadata": seccomp.get("listenerMetadata") or "", "state": state}
    path = seccomp["listenerPath"]
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        try:
            s.connect(path)
        except OSError as e:
            raise errors.PyruncError("failed to connect with seccomp agent specified in the seccomp profile: "
                                     "dial unix %s: connect: %s" % (path, errors.strerror(e.errno or 0))) from None
        data = jsonio.dumps(msg).encode()
        try:
            s.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, listener.to_bytes(4, "little"))])
        except OSError as e:
            raise errors.PyruncError("cannot send seccomp fd to %s: %s" % (path, errors.strerror(e.errno or 0))) \
                from None
    finally:
        s.close()


def _exists(p):
    try:
        posix.stat(p)
        return True
    except OSError:
        return False


def create(g, cid, bundle, pid_file=None, console_socket=None, no_pivot=False, no_new_keyring=False,
           preserve_fds=0, console_pair=None, stdio=None):
    """Create the container; returns Created. `console_pair` is (our end, their end)
    of a socketpair when `run` in the foreground handles the terminal itself."""
    from pyrunc.cgroups import host as cghost
    from pyrunc.cgroups.warmup import Warmup

    bundle = _abspath(bundle)
    # before the warm-up: reading /proc/self/cgroup takes the cgroup_mutex, which the
    # warm-up's first write holds through the whole grace period
    ch = cghost.detect()
    warmup = Warmup()
    try:
        with errors.context('create container "%s"' % cid):
            if preserve_fds < 0:
                raise errors.PyruncError("--preserve-fds must not be negative")
            console = True if console_socket else ("auto" if console_pair else False)
            spec, plan, host = prepare(g, cid, bundle, no_pivot, no_new_keyring, preserve_fds, console, ch)
            if not plan.terminal:
                console_pair = None
            try:
                return _create(g, cid, bundle, spec, plan, host, pid_file, console_socket, console_pair, stdio,
                               warmup)
            finally:
                if host.systemd_bus is not None:
                    host.systemd_bus.close()   # the manager closed it, unless create failed before one
    finally:
        warmup.stop()


def _create(g, cid, bundle, spec, plan, host, pid_file, console_socket, console_pair, stdio, warmup):
    from pyrunc import faults, shim
    from pyrunc.cgroups import fs as cgfs

    phase("shim import")

    try:
        store.ensure_root(g.root)
    except OSError as e:
        raise errors.from_oserror('create state root "%s"' % g.root, e) from None
    cdir = store.container_dir(g.root, cid)
    lock = _make_locked_dir(g.root, cdir, shim)
    try:
        _check_an_existing_cgroup(host)
    except BaseException:
        lock.release()
        posix.rmdir(cdir)
        raise
    from pyrunc import notify

    if notify.host_socket():
        notify.make_dir(cdir)
    phase("state dir")
    faults.point("create-after-mkdir")
    mgr = None
    spawned = None
    shared_below = None
    fifo_fd = console_fd = cgroup_fd = -1
    try:
        from pyrunc.cgroups import manager

        mgr = manager.new(host.cgroup_host.mode, host.cgroup_paths, host.systemd_unit, host.systemd_props,
                          user=host.rootless_cgroups, bus=host.systemd_bus)
        rec = mgr.record()
        rec.update({"mode": mgr.mode, "paths": mgr.paths, "created": cgfs.missing(mgr.paths)})
        store.write_config(cdir, spec, rec)
        linux = spec.get("linux") or {}

        # imported before the cgroups are made: on v1 that waits out a grace period (see
        # clone_first below), and what is done before it costs nothing
        from pyrunc.cgroups.resources import runc_warnings

        def make_cgroups():
            faults.point("create-before-cgroups")
            mgr.create()
            phase("cgroups")
            faults.point("create-after-cgroups")

        def apply_limits():
            for line in runc_warnings(linux.get("resources")):
                log.warning(line)
            mgr.apply(linux.get("resources"), device_paths=[d["path"] for d in linux.get("devices") or ()],
                      rootless=host.rootless_cgroups, devices=not host.in_userns)
            phase("cgroup limits")

        def join():
            mgr.join(pid)
            st.update(mgr.record())   # what the join made (the systemd driver's v1 hierarchies)
            phase("cgroup join")

        spawn_dir = mgr.spawn_dir()
        # An init that joins its cgroups by pid after the clone (v1, systemd) is cloned
        # first: on v1 the warm-up's first cgroup.procs write holds the cgroup_mutex through
        # a whole RCU grace period, and a mkdir of a cgroup waits for that mutex, while
        # the clone and the first state do not. The init waits for GO, so it joins before
        # it runs anything.
        clone_first = spawn_dir is None
        if not clone_first:
            make_cgroups()
            apply_limits()
        fifo = cdir + "/" + store.FIFO
        posix.mkfifo(fifo, 0o622)
        posix.chmod(fifo, 0o622)  # whatever our umask: a non-root init must open it for writing
        # the init opens the fifo relative to its dir: no /proc needed in the container
        fifo_fd = posix.open(cdir, posix.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
        if console_pair is not None:
            console_fd = console_pair[1]
        elif console_socket:
            console_fd = _connect_console(console_socket)
        if spawn_dir:
            # the init starts life in its cgroup (CLONE_INTO_CGROUP)
            cgroup_fd = posix.open(spawn_dir, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        if "mount" not in plan.namespaces["new"] and "mount" not in plan.namespaces["joins"]:
            from pyrunc.lifecycle import sharedmnt

            shared_below = sharedmnt.mount_id(plan.rootfs)
        faults.point("create-before-spawn")
        phase("fifo")
        spawned = shim.spawn(plan, {"fifo": fifo_fd, "console": console_fd}, stdio, cgroup_fd=cgroup_fd)
        phase("clone")
        faults.point("create-after-spawn")
        pid = spawned.pid
        ps = store.proc_stat(pid)
        st = {
            "ociVersion": OCI_VERSION,
            "id": cid,
            "pid": pid,
            "pidStart": ps[1] if ps else 0,
            "bundle": bundle,
            "rootfs": plan.rootfs,
            "created": _now(),
            "owner": "",
            "annotations": spec.get("annotations") or {},
            "freezer": mgr.freezer_file(),
            "namespaces": plan.namespaces,
            "newPidns": "pid" in plan.namespaces["new"],
            "hooks": plan.hooks,
            "status": "creating",
        }
        if shared_below is not None:
            st["sharedMountBelow"] = shared_below  # delete unmounts what is stacked on it
        st.update(mgr.record())
        if clone_first:
            # the cgroups are not made yet: what the config file says we will make, so that a
            # create killed from here on still has them removed by `delete --force`
            st["cgroupsCreated"] = rec["created"]
        if plan.no_new_keyring:
            st["noNewKeyring"] = True  # an exec keeps its caller's keyring then, as runc
        # written before the init runs anything: a create killed from here on can
        # still be cleaned by `delete --force`
        store.write_state(cdir, st)
        phase("state (first)")
        faults.point("create-after-first-state")
        if clone_first:
            make_cgroups()
            if host.systemd_unit:
                apply_limits()   # the unit starts at the join, with the properties given here
                join()
            else:
                # runc's order (Apply, then Set); the warm-up's writes kept the join's
                # fast, and it ends before the limits, whose Python it would interrupt
                # for the GIL
                join()
                warmup.stop()
                apply_limits()
        elif not spawned.in_cgroup:
            join()
        else:
            st.update(mgr.record())
        warmup.stop()
        faults.point("create-after-join")
        if plan.id_maps is not None:
            # each map one write(2), while the init waits for GO
            from pyrunc.lifecycle import idmaps

            (plan.map_writer or idmaps.ROOT).write(pid, plan.id_maps)
        def runtime_hooks():
            from pyrunc import hooks

            # status "created", as crun and the runtime-tools validation suite (runc 1.1.5:
            # "creating"); `state` itself says "creating" until create returns
            state = hooks.state_json(st, hooks.CREATE_HOOK_STATUS)
            # runc runs create's hooks in the bundle directory
            hooks.run("prestart", plan.hooks, state, cwd=bundle)
            hooks.run("createRuntime", plan.hooks, state, cwd=bundle)

        shim.go_and_wait(plan, spawned, runtime_hooks, lambda fd: send_listener(spec, st, fd))
        phase("init until READY")
        faults.point("create-after-ready")
        del st["status"]
        store.write_state(cdir, st)
        faults.point("create-after-state")
        if pid_file:
            try:
                store.write_pid_file(_abspath(pid_file), pid)
            except OSError as e:
                raise errors.from_oserror('write pid file "%s"' % pid_file, e) from None
        phase("state (final)")
    except BaseException:
        _undo(cdir, spawned, mgr, plan.rootfs, shared_below)
        _poststop_after_failure(cid, bundle, spec, plan)
        raise
    finally:
        if cgroup_fd >= 0:
            posix.close(cgroup_fd)
        if fifo_fd >= 0:
            posix.close(fifo_fd)
        if console_fd >= 0 and console_pair is None:
            posix.close(console_fd)
        if spawned is not None:
            spawned.close()
        if mgr is not None:
            mgr.close()
        lock.release()
    return Created(cdir, st, pid, plan.terminal)


def _make_locked_dir(root, cdir, shim):
    """The container dir, locked before anyone can see it: made and locked under a private
    name, then renamed into place unless the id exists. A dir seen without its state is
    then either locked (being created: `state` says "creating") or left by a create that
    died (stopped), never both (a plain mkdir then flock had a window where `state` read
    a container being created as stopped)."""
    import _thread

    # "." hides it from `list`; ":" is in no id; the thread too: API callers create
    # containers from several threads of one process
    staging = "%s/.:creating:%d:%d" % (root, posix.getpid(), _thread.get_ident())
    try:
        try:
            posix.mkdir(staging, 0o711)
        except FileExistsError:  # left by a killed create with our (recycled) pid: empty
            posix.rmdir(staging)
            posix.mkdir(staging, 0o711)
    except OSError as e:
        raise errors.from_oserror('create state dir "%s"' % cdir, e) from None
    lock = store.Lock(staging)
    try:
        shim.rename_noreplace(staging, cdir)
        return lock
    except FileExistsError:
        lock.release()
        posix.rmdir(staging)
        raise errors.ContainerExists() from None
    except OSError as e:
        lock.release()
        posix.rmdir(staging)
        if e.errno not in (22, 38):  # EINVAL, ENOSYS: renameat2 flags not supported there
            raise errors.from_oserror('create state dir "%s"' % cdir, e) from None
    # a state root whose filesystem has no RENAME_NOREPLACE: mkdir, then lock
    try:
        posix.mkdir(cdir, 0o711)
    except FileExistsError:
        raise errors.ContainerExists() from None
    except OSError as e:
        raise errors.from_oserror('create state dir "%s"' % cdir, e) from None
    return store.Lock(cdir)


def _check_an_existing_cgroup(host):
    """runc 1.1.5's checks of a cgroup that is already there: processes in it are
    only warned about; a frozen one fails at once, since an init put into it stops
    before it can report (in D state on v1)."""
    from pyrunc.cgroups.manager import Manager

    if not host.cgroup_paths or host.systemd_unit:
        return  # the systemd driver refuses a unit that exists, in one line, at its start
    mgr = Manager(host.cgroup_host.mode, host.cgroup_paths)
    pids = mgr.pids()
    if pids:
        log.warning("container's cgroup is not empty: %d process(es) found" % len(pids))
        log.warning("DEPRECATED: running container in a non-empty cgroup won't be supported in runc 1.2; "
                    "https://github.com/opencontainers/runc/issues/3132")
    if mgr.frozen_for_create():
        raise errors.PyruncError("container's cgroup unexpectedly frozen")


def _now():
    return log.rfc3339nano_utc(time.time_ns())


def _poststop_after_failure(cid, bundle, spec, plan):
    """runtime-spec lifecycle (and runc): a create that fails once the container exists
    destroys it and then runs the poststop hooks, whose failures only warn."""
    if not (plan.hooks or {}).get("poststop"):
        return
    from pyrunc import hooks

    st = {"id": cid, "bundle": bundle, "annotations": spec.get("annotations")}
    try:
        hooks.run("poststop", plan.hooks, hooks.state_json(st, "stopped", pid=0), warn_only=True)
    except Exception as e:  # the create error is the one to report
        log.warning("poststop hooks: %s" % e)


def _undo(cdir, spawned, mgr, rootfs, shared_below):
    if spawned is not None:
        try:
            posix.kill(spawned.pid, 9)
        except OSError:
            pass
        try:
            posix.waitpid(spawned.pid, 0)
        except OSError:
            pass
    if shared_below is not None:
        from pyrunc.lifecycle import sharedmnt

        try:
            sharedmnt.release(rootfs, shared_below)
        except errors.PyruncError as e:
            log.warning(str(e))
    if mgr is not None:
        try:
            mgr.destroy()
        except errors.PyruncError as e:
            log.warning(str(e))
    store.remove_state_dir(cdir)
