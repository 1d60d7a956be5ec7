"""Hooks that run in the runtime's namespaces (prestart, createRuntime, poststart,
poststop), with the state JSON on stdin, the hook's env (or ours when it has none, as
runc) and its timeout. createContainer and startContainer run inside the container:
they are plan ops (OP_HOOK), executed by the init."""
from pyrunc import OCI_VERSION, errors, jsonio, log


POLL_MAX_S = (2 ** 31 - 1) // 1000
# The status prestart, createRuntime and createContainer hooks read on stdin. The spec
# says "the state of the container"; crun sends "created", which the runtime-tools
# validation suite expects; runc 1.1.5 sends "creating".
CREATE_HOOK_STATUS = "created"


def state_json(st, status, pid=None):
    """The state a hook reads: ociVersion, id, status, pid (left out when 0, as runc's
    omitempty), bundle, annotations."""
    pid = st.get("pid", 0) if pid is None else pid
    out = {"ociVersion": OCI_VERSION, "id": st["id"], "status": status}
    if pid:
        out["pid"] = pid
    out["bundle"] = st["bundle"]
    ann = st.get("annotations")
    if ann:
        out["annotations"] = {k: ann[k] for k in sorted(ann)}
    return jsonio.dumps(out)


def exec_env(env):
    """Go's os/exec rule, which runc's hooks get: a repeated name keeps its last value at its
    last place; an entry without "=" is its own name."""
    seen = set()
    out = []
    for e in reversed(env):
        eq = e.find("=")
        name = e if eq < 0 else e[:eq + 1]
        if name not in seen:
            seen.add(name)
            out.append(e)
    out.reverse()
    return out


def go_signal(sig):
    """Go's name of a signal, as runc reports a hook killed by one ("killed")."""
    import signal

    try:
        d = signal.strsignal(sig) if 1 <= sig <= 31 else None
    except ValueError:
        d = None
    return d[:1].lower() + d[1:] if d else "signal %d" % sig


def run_one(kind, i, hook, state, cwd=None):
    import subprocess

    path = hook["path"]
    args = list(hook.get("args") or [path])
    env = hook.get("env")
    # subprocess takes a mapping: an entry without "=" reaches the hook as NAME=
    env = None if env is None else dict(e.partition("=")[::2] for e in exec_env(env))
    timeout = hook.get("timeout")
    if timeout is not None and timeout > POLL_MAX_S:
        # poll(2) takes an int of milliseconds: a longer timeout cannot be waited for
        # and is no limit in practice (runc's time.Duration wraps silently beyond it)
        timeout = None
    try:
        p = subprocess.Popen(args, executable=path, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, close_fds=True, cwd=cwd)
    except OSError as e:
        raise errors.HookError("error running hook #%d: fork/exec %s: %s" % (i, path, errors.strerror(e.errno)))
    try:
        out, err = p.communicate(state.encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise errors.HookError("error running hook #%d: hook ran past specified timeout of %.1fs" % (i, timeout))
    if p.returncode != 0:
        why = ("exit status %d" % p.returncode) if p.returncode > 0 else ("signal: " + go_signal(-p.returncode))
        raise errors.HookError("error running hook #%d: error running hook: %s, stdout: %s, stderr: %s"
                               % (i, why, out.decode(errors="replace"), err.decode(errors="replace")))


def run(kind, hooks, state, warn_only=False, cwd=None):
    """Run hooks[kind] in order; the first failure raises, or with `warn_only` (poststart,
    poststop) is logged as a warning and the rest run."""
    for i, hook in enumerate((hooks or {}).get(kind) or ()):
        try:
            run_one(kind, i, hook, state, cwd)
        except errors.HookError as e:
            if not warn_only:
                raise
            log.warning(str(e))
