"""csrc/shim.h is the contract: the plan's op numbers must be the header's."""
import os
import re
import subprocess
import sys

from pyrunc.plan import ops

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = os.path.join(HERE, "..", "csrc", "shim.h")


def header_defines():
    out = {}
    with open(HEADER) as f:
        for line in f:
            m = re.match(r"#define (\w+)\s+(\d+)", line)
            if m:
                out[m.group(1)] = int(m.group(2))
    return out


def test_op_numbers_match_header():
    defs = header_defines()
    names = [k for k in defs if k.startswith(("OP_", "MNT_TARGET_", "MNT_F_", "LSM_LABEL_")) or k == "SHIM_ABI_VERSION"]
    assert names
    for name in names:
        assert getattr(ops, name) == defs[name], name
    py_ops = {k for k in dir(ops) if k.startswith("OP_")}
    assert py_ops == {k for k in defs if k.startswith("OP_")}


def test_installed_shim_matches_plan_abi():
    from pyrunc._shim import lib

    assert lib.shim_abi_version() == ops.SHIM_ABI_VERSION


def test_c_sources_build_with_werror(tmp_path):
    src = os.path.join(HERE, "..", "csrc")
    for name in ("spawn.c", "ops_mount.c", "ops_ids.c", "ops_misc.c", "ops_lsm.c", "cgroup_bpf.c", "ops_idmap.c"):
        subprocess.run(["gcc", "-Wall", "-Wextra", "-Werror", "-O2", "-std=gnu11", "-c",
                        os.path.join(src, name), "-o", str(tmp_path / (name + ".o"))], check=True)


def test_shim_import_is_only_in_shim_module():
    """No module but pyrunc.shim talks to the C extension."""
    root = os.path.join(HERE, "..", "runtime")
    offenders = []
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith(".py") and f != "shim.py":
                with open(os.path.join(d, f)) as fh:
                    text = fh.read()
                    if "from pyrunc._shim" in text or "import pyrunc._shim" in text:
                        offenders.append(os.path.join(d, f))
    assert offenders == []
