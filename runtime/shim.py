"""The one module that touches pyrunc._shim: a Plan becomes cffi structs, the shim
clones the container init, and C errors become ChildSetupError/SyscallError.

The child inherits the structs' memory through clone, so nothing is serialised; the
cffi objects only have to stay alive until shim_spawn returns.
"""
import fcntl
import posix

from pyrunc import errors
from pyrunc._shim import ffi, lib
from pyrunc.plan import ops as O

if lib.shim_abi_version() != O.SHIM_ABI_VERSION:  # a stale build next to newer plan code
    raise ImportError("pyrunc._shim ABI %d does not match the plan's %d" % (lib.shim_abi_version(), O.SHIM_ABI_VERSION))
ABI = O.SHIM_ABI_VERSION


class Spawned:
    __slots__ = ("pid", "sync_fd", "opened", "in_cgroup")

    def __init__(self, pid, sync_fd, opened, in_cgroup):
        self.pid = pid
        self.sync_fd = sync_fd
        self.opened = opened
        self.in_cgroup = in_cgroup

    def close(self):
        for fd in self.opened:
            try:
                posix.close(fd)
            except OSError:
                pass
        self.opened = []
        if self.sync_fd >= 0:
            posix.close(self.sync_fd)
            self.sync_fd = -1


def _cstr(s, keep):
    if s is None:
        return ffi.NULL
    b = ffi.new("char[]", s.encode("utf-8", "surrogateescape"))
    keep.append(b)
    return b


def _high_fd(fd, floor, opened):
    """Internal fds live above the preserved range so that they are never passed on."""
    if fd >= floor:
        return fd
    nfd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)
    posix.close(fd)
    opened[opened.index(fd)] = nfd
    return nfd


NS_GET_NSTYPE = 0xB703  # ioctl on an nsfs file: its CLONE_NEW* type
NS_NAMES = {v: k for k, v in O.NS_FLAGS.items()}


def _open_ns(path, nstype, opened):
    """Open a namespace file and check it is a namespace of the expected type."""
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError as e:
        raise errors.from_oserror('open namespace "%s"' % path, e) from None
    opened.append(fd)
    try:
        actual = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError:
        raise errors.PyruncError('"%s" is not a namespace file' % path) from None
    if actual != nstype:
        raise errors.PyruncError('namespace "%s" is a %s namespace, not %s'
                                 % (path, NS_NAMES.get(actual, hex(actual)), NS_NAMES.get(nstype, hex(nstype))))
    return fd


def _idmapped_tree(ref, source, usernses, opened):
    """A detached clone of an idmapped mount's source (plan/idmap.py's fdref), idmapped
    with a user namespace made for its maps (one per distinct maps, as runc's cache) or
    the joined one. The user namespace fds in `usernses` are the caller's to close."""
    _, _, rec_tree, rec_attr, uid_map, gid_map, path = ref
    err = ffi.new("struct shim_err *")
    key = path or (uid_map, gid_map)
    if key not in usernses:
        if path is not None:
            fd = _open_ns(path, O.CLONE_NEWUSER, opened)
            opened.remove(fd)
        else:
            fd = lib.shim_userns_fd(uid_map.encode(), gid_map.encode(), err)
            if fd < 0:
                raise errors.SyscallError("%s id-mapping: %s" % (
                    source, ffi.string(err.detail).decode("utf-8", "replace")), err.err)
        usernses[key] = fd
    fd = lib.shim_idmapped_tree(source.encode("utf-8", "surrogateescape"), usernses[key], int(rec_tree),
                                int(rec_attr), err)
    if fd < 0:
        detail = ffi.string(err.detail).decode("utf-8", "replace")
        if err.err == 22 and "MOUNT_ATTR_IDMAP" in detail:  # runc's hint for EINVAL
            raise errors.PyruncError("%s: %s (maybe the filesystem used doesn't support idmap mounts on this "
                                     "kernel?)" % (detail, errors.strerror(err.err)))
        raise errors.SyscallError(detail, err.err)
    opened.append(fd)
    return fd


def _bind_tree(ref, source, opened):
    """A detached clone of a bind's source, made as the runtime (plan/idmap.py's
    for_userns_bind): the init, in the container's user namespace, attaches it."""
    err = ffi.new("struct shim_err *")
    fd = lib.shim_idmapped_tree(source.encode("utf-8", "surrogateescape"), -1, int(ref[2]), 0, err)
    if fd < 0:
        raise errors.SyscallError(ffi.string(err.detail).decode("utf-8", "replace"), err.err)
    opened.append(fd)
    return fd


def _child_error(plan, err):
    i = err.op_index
    detail = ffi.string(err.detail).decode("utf-8", "replace")
    if not detail and 0 <= i < len(plan.ops):
        detail = plan.ops[i].what
    return errors.ChildSetupError(detail, err.err)


def _c_ops(ops, resolved, keep):
    cops = ffi.new("struct shim_op[]", len(ops))
    keep.append(cops)
    for i, op in enumerate(ops):
        c = cops[i]
        c.kind = op.kind
        c.fd = resolved[op.fdref] if op.fdref is not None else op.fd
        c.n1, c.n2, c.n3 = op.n1, op.n2, op.n3
        c.u1, c.u2, c.u3, c.u4, c.u5 = op.u1, op.u2, op.u3, op.u4, op.u5
        if isinstance(op.s1, bytes):
            b = ffi.new("char[]", op.s1)
            keep.append(b)
            c.s1 = b
        else:
            c.s1 = _cstr(op.s1, keep)
        c.s2 = _cstr(op.s2, keep)
        c.s3 = _cstr(op.s3, keep)
        c.s4 = _cstr(op.s4, keep)
        for name in ("v1", "v2"):
            vec = getattr(op, name)
            if vec is not None:
                cv = ffi.new("char *[]", [_cstr(x, keep) for x in vec] + [ffi.NULL])
                keep.append(cv)
                setattr(c, name, cv)
        if op.arr:
            arr = ffi.new("unsigned int[]", list(op.arr))
            keep.append(arr)
            c.arr = arr
            c.n_arr = len(op.arr)
    return cops


def spawn(plan, fds, stdio=None, cgroup_fd=-1):
    """Clone the init for `plan`. `fds` maps fdrefs ("fifo", "console") to open fds the
    caller owns; namespace paths are opened here; `stdio` are three fds to become the
    init's 0, 1, 2 (ours when None). Returns Spawned (init waiting for GO)."""
    keep = []
    opened = []
    floor = 3 + plan.preserve_fds
    resolved = {}
    pre_ops = plan.pre_ops or []
    usernses = {}
    try:
        for op in pre_ops + plan.ops:
            ref = op.fdref
            if ref is None or ref in resolved:
                continue
            if isinstance(ref, tuple) and ref[0] == "idmap":
                fd = _idmapped_tree(ref, op.s1, usernses, opened)
                resolved[ref] = _high_fd(fd, floor, opened)
            elif isinstance(ref, tuple) and ref[0] == "bind":
                fd = _bind_tree(ref, op.s1, opened)
                resolved[ref] = _high_fd(fd, floor, opened)
            elif isinstance(ref, tuple):
                fd = _open_ns(ref[1], op.n1, opened)
                resolved[ref] = _high_fd(fd, floor, opened)
            else:
                resolved[ref] = fds[ref]
        pidns_fd = -1
        if plan.pidns_path:
            pidns_fd = _open_ns(plan.pidns_path, O.CLONE_NEWPID, opened)

        n = len(plan.ops)
        cops = _c_ops(plan.ops, resolved, keep)
        c_pre = _c_ops(pre_ops, resolved, keep) if pre_ops else ffi.NULL
        argv = [_cstr(a, keep) for a in plan.argv] + [ffi.NULL]
        # the spare slot after the terminator is where the child adds HOME (shim.h)
        envp = [_cstr(e, keep) for e in plan.env] + [ffi.NULL, ffi.NULL]
        c_argv = ffi.new("char *[]", argv)
        c_envp = ffi.new("char *[]", envp)
        keep_fds = sorted(set(list(range(floor)) + list(resolved.values())))
        c_keep = ffi.new("int[]", keep_fds)
        keep.extend((c_argv, c_envp, c_keep))

        cplan = ffi.new("struct shim_plan *")
        cplan.abi = ABI
        cplan.clone_flags = plan.clone_flags
        cplan.two_stage = 1 if plan.pre_ops is not None else 0
        cplan.pre_ops = c_pre
        cplan.n_pre_ops = len(pre_ops)
        cplan.pidns_fd = pidns_fd
        cplan.cgroup_fd = cgroup_fd
        cplan.ops = cops
        cplan.n_ops = n
        cplan.argv = c_argv
        cplan.envp = c_envp
        cplan.keep_fds = c_keep
        cplan.n_keep_fds = len(keep_fds)
        for i in range(3):
            fd = -1
            if stdio is not None:
                fd = stdio[i]
                if fd < floor:  # keep it clear of the fds the child dup2s over
                    fd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)
                    opened.append(fd)
            cplan.stdio[i] = fd
        child = ffi.new("struct shim_child *")
        err = ffi.new("struct shim_err *")
        if lib.shim_spawn(cplan, child, err) < 0:
            detail = ffi.string(err.detail).decode("utf-8", "replace") or "clone"
            if err.op_index <= -2:  # a pre-op of the first stage: its own words have the path
                detail = pre_ops[-2 - err.op_index].what
            raise errors.SyscallError(detail, err.err)
    except BaseException:
        for fd in opened:
            posix.close(fd)
        raise
    finally:
        for fd in usernses.values():
            posix.close(fd)
    return Spawned(child.pid, child.sync_fd, opened, bool(child.in_cgroup))


def go_and_wait(plan, spawned, on_hooks=None, on_listener=None):
    """Release the init and wait until it is parked before execve (READY) or failed.
    When the init pauses for the runtime's hooks, `on_hooks()` runs and the init goes on.
    The seccomp listener fd the init sends on the way goes to `on_listener(fd)` at once
    (closed afterwards; an exception from it stops the wait)."""
    err = ffi.new("struct shim_err *")
    passed = ffi.new("int *")
    go = True
    while True:
        if go and lib.shim_send_go(spawned.sync_fd, spawned.pid, err) < 0:
            raise errors.SyscallError(ffi.string(err.detail).decode(), err.err)
        go = True
        rc = lib.shim_wait_ready(spawned.sync_fd, err, passed)
        if rc == lib.SHIM_FD:
            try:
                if on_listener is not None:
                    on_listener(passed[0])
            finally:
                posix.close(passed[0])
            go = False
            continue
        if rc == lib.SHIM_HOOKS:
            if on_hooks is not None:
                on_hooks()
            continue
        if rc < 0:
            if err.op_index < 0:
                raise errors.ChildSetupError(ffi.string(err.detail).decode(), 0)
            raise _child_error(plan, err)
        return


def rename_noreplace(src, dst):
    """rename(2) that fails with FileExistsError instead of replacing `dst` (an empty
    directory would otherwise be replaced silently)."""
    rc = lib.shim_rename_noreplace(src.encode(), dst.encode())
    if rc < 0:
        raise OSError(-rc, posix.strerror(-rc), dst)


def recv_fd(sock_fd):
    """Receive one fd sent with SCM_RIGHTS (the pty master from a console socket)."""
    name = ffi.new("char[]", 256)
    fd = lib.shim_recv_fd(sock_fd, name, 256)
    if fd < 0:
        raise errors.SyscallError("receive fd from console socket", -fd)
    return fd


def attach_device_filter(cgroup_fd, program, replace=False):
    """Load a BPF_PROG_TYPE_CGROUP_DEVICE program (bytes of struct bpf_insn) and attach
    it to a cgroup v2 directory, replacing the ones attached before when asked."""
    buf = ffi.from_buffer(program)
    log = ffi.new("char[]", 65536)
    rc = lib.shim_attach_device_filter(cgroup_fd, buf, len(program) // 8, 1 if replace else 0, log, 65536)
    if rc < 0:
        detail = ffi.string(log).decode("utf-8", "replace").strip().splitlines()
        raise errors.CgroupError("load the device cgroup program: %s%s"
                                 % (errors.strerror(-rc), (" (" + detail[-1] + ")") if detail else ""))
