"""cffi builder for pyrunc._shim (out-of-line API mode).

The cdef is the CDEF section of shim.h, so the header stays the one contract.
Our own C is built with -Wall -Wextra -Werror.
"""
import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = ["spawn.c", "ops_mount.c", "ops_ids.c", "ops_misc.c", "ops_lsm.c", "cgroup_bpf.c", "ops_idmap.c", "shed.c"]


def _cdef():
    with open(os.path.join(HERE, "shim.h")) as f:
        text = f.read()
    return text.split("/* CDEF BEGIN */", 1)[1].split("/* CDEF END */", 1)[0]


ffi = FFI()
ffi.cdef(_cdef())
ffi.set_source(
    "pyrunc._shim",
    '#include "internal.h"',
    sources=[os.path.relpath(os.path.join(HERE, s)) for s in SOURCES],
    include_dirs=[os.path.relpath(HERE)],
    extra_compile_args=["-Wall", "-Wextra", "-Werror", "-O2", "-std=gnu11"],
    # every symbol bound at load: the init calls libc after it unmapped the runtime's
    # heap (shed.c), where a lazy binding would look
    extra_link_args=["-Wl,-z,now"],
)

if __name__ == "__main__":
    ffi.compile(verbose=True)
