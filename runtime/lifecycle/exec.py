"""exec: a new process in a created or running container. It joins every namespace of
the init and its cgroup before it runs any of its own code, and gets the container's
seccomp filter, capabilities, rlimits and user as the process spec says (runc's rules
for building that spec from the flags)."""
import posix

from pyrunc import errors, log
from pyrunc.state import store


def _atoi(text, what):
    """Go's strconv.Atoi, with runc's message for a --user part."""
    t = text[1:] if text[:1] in "+-" else text
    if not t.isdigit() or not t.isascii():
        raise errors.PyruncError('parsing %s as int for %s failed: strconv.Atoi: parsing "%s": invalid syntax'
                                 % (text, what, text))
    n = int(text)
    if not -2**63 <= n < 2**63:
        raise errors.PyruncError('parsing %s as int for %s failed: strconv.Atoi: parsing "%s": value out of range'
                                 % (text, what, text))
    return n & 0xFFFFFFFF   # runc stores it as a uint32


def _additional_gids(values):
    """-g: runc's Int64Slice flag; a bad value is a usage error, before anything else."""
    gids = []
    for g in values or ():
        try:
            n = int(g, 0) if g.strip() == g else int("x")
        except ValueError:
            raise errors.UsageError('invalid value "%s" for flag -g: strconv.ParseInt: parsing "%s": invalid syntax'
                                    % (g, g), "exec") from None
        if n < 0:
            raise errors.PyruncError("additional-gids must be a positive number %d" % n)
        gids.append(n)
    return gids


def _process_from_flags(config_proc, o, cmd, gids):
    """runc: the container's process with args replaced and the flags applied."""
    p = {k: v for k, v in (config_proc or {}).items() if k not in ("args", "terminal", "consoleSize")}
    p.setdefault("cwd", "/")
    p["args"] = list(cmd)
    p["terminal"] = bool(o["tty"])
    if o["cwd"]:
        p["cwd"] = o["cwd"]
    if not p["cwd"].startswith("/"):
        raise errors.PyruncError("Cwd must be an absolute path")
    for e in o["env"] or ():
        if "=" not in e:
            # runc's init refuses it when it sets the environment up
            raise errors.PyruncError('unable to start container process: invalid environment variable: "%s"' % e)
    p["env"] = list(p.get("env") or []) + list(o["env"] or ())
    user = dict(p.get("user") or {"uid": 0, "gid": 0})
    if o["user"]:
        # runc: only what is given changes; the gid part is parsed first
        uid, sep, gid = o["user"].partition(":")
        if sep:
            user["gid"] = _atoi(gid, "gid")
        user["uid"] = _atoi(uid, "uid")
    if gids:
        user["additionalGids"] = list(user.get("additionalGids") or ()) + gids
    p["user"] = user
    caps = {k: list(v or ()) for k, v in (p.get("capabilities") or {}).items()}
    for c in o["cap"] or ():
        for k in ("bounding", "effective", "permitted"):
            caps.setdefault(k, []).append(c)
        # ambient needs inheritable, which --cap does not give: only with some already set
        if caps.get("inheritable"):
            caps.setdefault("ambient", []).append(c)
    if caps:
        p["capabilities"] = caps
    if o["no-new-privs"]:
        p["noNewPrivileges"] = True
    if o["apparmor"]:
        p["apparmorProfile"] = o["apparmor"]
    if o["process-label"]:
        p["selinuxLabel"] = o["process-label"]
    return p


def _with_container_defaults(proc, config_proc):
    """runc's exec of a process.json: capabilities, rlimits and labels the file leaves out
    are the container's (noNewPrivileges is the file's, absent: off). The AppArmor
    profile too, where runc 1.1.5 runs the process unconfined (its container config
    keeps no profile): an exec must not escape the container's confinement."""
    config_proc = config_proc or {}
    for key in ("capabilities", "rlimits", "apparmorProfile", "selinuxLabel"):
        if not proc.get(key) and config_proc.get(key) is not None:
            proc[key] = config_proc[key]
    return proc


def _process_from_file(path):
    from pyrunc.spec import load

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise errors.from_oserror("open " + path, e) from None
    return _checked_process(load.parse(data, source="process.json"))


def _checked_process(proc):
    """A process.json document (or the API's process dict) checked as runc's."""
    from pyrunc.spec import load

    if not isinstance(proc, dict):
        raise errors.ConfigError("", "expected object", "process.json")
    try:
        load.PROCESS.check(proc, "")
        load.check_rules({"process": proc})
    except errors.ConfigError as e:
        raise errors.ConfigError(e.path.replace("process.", "", 1) if e.path.startswith("process.") else e.path,
                                 e.reason, "process.json") from None
    return proc


def exec_(g, cid, o, cmd, stdio=None):
    """`pyrunc exec`: returns the exit status (0 when detached). With `stdio` (the API:
    three fds for the process's 0, 1, 2, a process dict as o["process-dict"]) nothing of
    ours is proxied, no signal is forwarded and nothing waits: the process's pid is
    returned, our child."""
    from pyrunc.cgroups.warmup import Warmup

    warmup = Warmup()
    try:
        return _exec(g, cid, o, cmd, warmup, stdio)
    finally:
        warmup.stop()


def _exec(g, cid, o, cmd, warmup, api_stdio=None):
    from pyrunc import lsm, shim
    from pyrunc.cgroups.manager import Manager
    from pyrunc.lifecycle import create as createmod
    from pyrunc.plan import build, caps

    # a bad -g is a usage error, before anything else
    gids = None if o["process"] else _additional_gids(o["additional-gids"])
    cdir = store.container_dir(g.root, cid)
    st = store.read_state(cdir)
    status = store.status(cdir, st)
    if status == "stopped":
        raise errors.StateError("cannot exec in a stopped container")
    if status == "paused" and not o["ignore-paused"]:
        raise errors.StateError("cannot exec in a paused container (use --ignore-paused to override)")
    if status not in ("created", "running", "paused"):
        raise errors.StateError("cannot exec in a container in the %s state" % status)
    spec = store.read_config(cdir)
    if o.get("process-dict") is not None:
        from pyrunc import jsonio

        # a copy, ours to fill in: the caller's dict stays as it was
        proc = jsonio.loads(jsonio.dumps(o["process-dict"]))
        proc = _with_container_defaults(_checked_process(proc), spec.get("process"))
    elif o["process"]:
        proc = _with_container_defaults(_process_from_file(o["process"]), spec.get("process"))
    else:
        if not cmd:
            raise errors.PyruncError("process args cannot be empty")
        proc = _process_from_flags(spec.get("process"), o, cmd, gids)
        from pyrunc.spec import load

        load.PROCESS.check(proc, "process")
        load.check_rules({"process": proc})
    linux = spec.get("linux") or {}
    detach = o["detach"]
    console_socket = o["console-socket"]
    if console_socket and not detach and api_stdio is None:   # without a terminal the plan refuses it
        raise errors.PyruncError("cannot use console socket if runc will not detach or allocate tty")
    pair = child_stdio = ours = None
    if api_stdio is not None:
        if o["tty"] and not console_socket:
            raise errors.PyruncError("a terminal needs a console socket to receive its master")
    elif not detach:
        import _socket

        if not console_socket:
            a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
            pair = (a.detach(), b.detach())
        from pyrunc.lifecycle import stdio

        child_stdio, ours = stdio.pipes()
    console = True if console_socket else ("auto" if pair else False)
    opts = build.Options(cid, st.get("bundle", ""), preserve_fds=o["preserve-fds"], console_socket=console,
                         no_new_keyring=st.get("noNewKeyring") is True,
                         listen_fds=0,  # socket activation is the init's (runc's exec passes none)
                         seccomp=createmod._seccomp(g, linux.get("seccomp")), joining=True)
    from pyrunc import rootless

    host = build.Host(cgroup_host=None, last_cap=caps.last_cap(), selinux=lsm.selinux_enabled(),
                      rootless_euid=rootless.euid())
    host.in_userns = rootless.in_userns()
    plan = build.build_exec(proc, st, opts, host, linux)
    for w in plan.warnings:
        log.warning(w)
    log.debugf('exec: joining container "%s" (init pid %d): %s' % (cid, st["pid"], " ".join(plan.argv)))
    if not plan.terminal and pair:
        _close(pair)
        pair = None
    mgr = Manager.from_state(st)
    paths = _sub_cgroups(mgr, o["cgroup"])
    console_fd = cgroup_fd = -1
    spawned = None
    master = -1
    try:
        if pair:
            console_fd = pair[1]
        elif console_socket:
            console_fd = createmod._connect_console(console_socket)
        if mgr.unified and paths.get(""):
            cgroup_fd = posix.open(paths[""], posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        with errors.context("unable to start container process"):
            # cloned while the warm-up's write may still wait out the grace period (see
            # cgroups/warmup.py); the join below follows it
            spawned = shim.spawn(plan, {"console": console_fd}, api_stdio or child_stdio, cgroup_fd=cgroup_fd)
            warmup.stop()
            from pyrunc import faults

            faults.point("exec-after-spawn")
            if not spawned.in_cgroup and paths:
                from pyrunc.cgroups import fs

                with errors.context("error adding pid %d to cgroups" % spawned.pid):
                    fs.join(paths, spawned.pid)
            # runc sends an exec'd process's seccomp listener to the agent as the init's
            shim.go_and_wait(plan, spawned, on_listener=lambda fd: createmod.send_listener(
                spec, st, fd, pid=spawned.pid, status="running"))
        log.debugf("exec: process %d started" % spawned.pid)
        if o["pid-file"]:
            try:
                store.write_pid_file(createmod._abspath(o["pid-file"]), spawned.pid)
            except OSError as e:
                raise errors.from_oserror('write pid file "%s"' % o["pid-file"], e) from None
        if pair:
            posix.close(pair[1])
            pair = (pair[0],)
            master = shim.recv_fd(pair[0])
    except BaseException:
        if spawned is not None:
            try:
                posix.kill(spawned.pid, 9)
                posix.waitpid(spawned.pid, 0)
            except OSError:
                pass
        _close(ours, pair)
        if master >= 0:
            posix.close(master)
        raise
    finally:
        _close(child_stdio)
        if cgroup_fd >= 0:
            posix.close(cgroup_fd)
        if console_fd >= 0 and not pair and console_socket:
            posix.close(console_fd)
        if spawned is not None:
            spawned.close()
    _close(pair)
    if api_stdio is not None:
        return spawned.pid
    if detach:
        return 0
    from pyrunc.lifecycle import run as runmod
    from pyrunc.lifecycle import stdio

    runmod._forward_signals(spawned.pid)
    try:
        if master >= 0:
            _close(ours)
            status = stdio.terminal(spawned.pid, master, runmod._exit_status)
        else:
            in_w, out_r, err_r = ours
            status = stdio.pump(spawned.pid, in_w, [(out_r, 1), (err_r, 2)], runmod._exit_status)
            _close((out_r, err_r))
    finally:
        if master >= 0:
            posix.close(master)
    log.debugf("process exited: pid=%d status=%d" % (spawned.pid, status))
    return status


def _sub_cgroups(mgr, specs):
    """--cgroup [controller[,controller]:]path: run in an existing sub-cgroup of the
    container's (runc's rules: a bare path is for every controller, a named controller
    must be one the container has)."""
    paths = dict(mgr.paths)
    for spec in specs or ():
        ctrl, sep, sub = spec.rpartition(":")
        clean = "/" + sub.strip("/")
        if ".." in sub.split("/"):
            raise errors.PyruncError("unable to create new parent process: %s is not a sub cgroup path" % sub)
        if not sep:
            targets = list(paths)
        else:
            targets = []
            for name in ctrl.split(","):
                keys = [k for k in paths if k and name in k.split(",")] or ([""] if mgr.unified and "" in paths else [])
                if not keys:
                    raise errors.PyruncError("unable to create new parent process: unknown controller %s in "
                                             "SubCgroupPaths" % name)
                targets.extend(keys)
        for key in dict.fromkeys(targets):
            paths[key] = mgr.paths[key].rstrip("/") + clean
    return paths


def _close(*groups):
    for g in groups:
        for fd in g or ():
            try:
                posix.close(fd)
            except OSError:
                pass
