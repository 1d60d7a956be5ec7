"""BPF cached under <root>/.seccomp/<digest>: the common case (one profile for every
container) pays neither the pyseccomp import nor the compile. The digest covers the
profile's rules and the machine's architecture; files are written by temp + rename."""
import _thread
import posix

from pyrunc import jsonio, log

CACHE_VERSION = "1"


def digest(seccomp_obj):
    import hashlib

    canonical = jsonio.dumps(_canonical(seccomp_obj))
    h = hashlib.sha256()
    h.update(("%s|%s|" % (CACHE_VERSION, posix.uname().machine)).encode())
    h.update(canonical.encode())
    return h.hexdigest()


def _canonical(v):
    if isinstance(v, dict):
        return {k: _canonical(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_canonical(x) for x in v]
    return v


def load(root, seccomp_obj, profile):
    """(BPF bytes, hit?)"""
    d = root + "/.seccomp"
    key = digest(seccomp_obj)
    path = d + "/" + key + ".bpf"
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data and len(data) % 8 == 0:
            if log.debug:
                _replay_notes(path)
            return data, True
    except OSError:
        pass
    from pyrunc.seccomp import compile as comp

    notes = []
    data = comp.compile_profile(profile, notes)
    try:
        try:
            posix.mkdir(d, 0o700)
        except FileExistsError:
            pass
        if notes:  # written before the program: a hit always finds its notes
            tmp = "%s.notes.%d.%d.tmp" % (path, posix.getpid(), _thread.get_ident())
            with open(tmp, "w") as f:
                f.write("\n".join(notes) + "\n")
            posix.rename(tmp, path + ".notes")
        # per thread: API callers create containers from several threads at once
        tmp = "%s.%d.%d.tmp" % (path, posix.getpid(), _thread.get_ident())
        with open(tmp, "wb") as f:
            f.write(data)
        posix.rename(tmp, path)
    except OSError:
        pass  # a read-only or full state root only costs the compile next time
    return data, False


def _replay_notes(path):
    """The debug lines the compile wrote (skipped syscalls and architectures), as runc
    logs them on every create."""
    try:
        with open(path + ".notes") as f:
            for line in f.read().splitlines():
                log.debugf(line)
    except OSError:
        pass
