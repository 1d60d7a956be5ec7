"""BPF cached under <root>/.seccomp/<digest>: the common case (one profile for every
container) pays neither the pyseccomp import nor the compile. The digest covers the
profile's rules and the machine's architecture; files are written by temp + rename."""
import posix

from pyrunc import jsonio

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
            return data, True
    except OSError:
        pass
    from pyrunc.seccomp import compile as comp

    data = comp.compile_profile(profile)
    try:
        try:
            posix.mkdir(d, 0o700)
        except FileExistsError:
            pass
        tmp = "%s.%d.tmp" % (path, posix.getpid())
        with open(tmp, "wb") as f:
            f.write(data)
        posix.rename(tmp, path)
    except OSError:
        pass  # a read-only or full state root only costs the compile next time
    return data, False
