"""Hooks that run in the runtime's namespaces (prestart, createRuntime, poststart,
poststop), with the state JSON on stdin, the hook's env (or ours when it has none, as
runc) and its timeout. createContainer and startContainer run inside the container:
they are plan ops (OP_HOOK), executed by the init."""
from pyrunc import OCI_VERSION, errors, jsonio, log


POLL_MAX_S = (2 ** 31 - 1) // 1000


def state_json(st, status, pid=None):
    """The state a hook reads: ociVersion, id, status, pid, bundle, annotations."""
    out = {"ociVersion": OCI_VERSION, "id": st["id"], "status": status,
           "pid": st.get("pid", 0) if pid is None else pid, "bundle": st["bundle"]}
    ann = st.get("annotations")
    if ann:
        out["annotations"] = {k: ann[k] for k in sorted(ann)}
    return jsonio.dumps(out)


def run_one(kind, i, hook, state):
    import subprocess

    path = hook["path"]
    args = list(hook.get("args") or [path])
    env = hook.get("env")
    env = None if env is None else dict(e.partition("=")[::2] for e in env)
    timeout = hook.get("timeout")
    if timeout is not None and timeout > POLL_MAX_S:
        # poll(2) takes an int of milliseconds: a longer timeout cannot be waited for
        # and is no limit in practice (runc's time.Duration wraps silently beyond it)
        timeout = None
    try:
        p = subprocess.Popen(args, executable=path, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, close_fds=True)
    except OSError as e:
        raise errors.HookError("error running %s hook #%d: %s: %s" % (kind, i, path, errors.strerror(e.errno)))
    try:
        out, err = p.communicate(state.encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise errors.HookError("error running %s hook #%d: %s ran past its timeout of %ds" % (kind, i, path, timeout))
    if p.returncode != 0:
        why = ("exit status %d" % p.returncode) if p.returncode > 0 else ("signal: %d" % -p.returncode)
        raise errors.HookError("error running %s hook #%d: %s: %s, stdout: %s, stderr: %s"
                               % (kind, i, path, why, out.decode(errors="replace").strip(),
                                  err.decode(errors="replace").strip()))


def run(kind, hooks, state, warn_only=False):
    """Run hooks[kind] in order; the first failure raises (or only warns, for poststop)."""
    for i, hook in enumerate((hooks or {}).get(kind) or ()):
        try:
            run_one(kind, i, hook, state)
        except errors.HookError as e:
            if not warn_only:
                raise
            log.warning(str(e))
