"""linux.seccomp: the OCI profile as rules (profile.py, pure), compiled to BPF with
pyseccomp (compile.py, only on a cache miss), cached under --root by digest (cache.py)."""
