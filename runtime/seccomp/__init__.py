"""linux.seccomp: the OCI profile as rules (profile.py, pure), compiled to BPF with
pyseccomp (compile.py, only on a cache miss), cached under --root by digest (cache.py)."""


def libseccomp_version():
    """The loaded libseccomp's version, by its stable soname: no pyseccomp, and no
    ctypes.util (which imports subprocess and re), so `--version` stays cheap."""
    import ctypes

    lib = ctypes.CDLL("libseccomp.so.2")

    class V(ctypes.Structure):
        _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]

    lib.seccomp_version.restype = ctypes.POINTER(V)
    v = lib.seccomp_version().contents
    return "%d.%d.%d" % (v.major, v.minor, v.micro)
