"""A pyrunc command must never compile source: every module of the installed package
has an up-to-date __pycache__/<name>.<cache tag>.pyc for the interpreter the launcher
runs, and a real run loads every pyrunc module from it.

Compiling a module costs far more than unmarshalling it, and a root-owned install
that lacks a .pyc pays that on every command (or, worse, writes one as root).
"""
import os
import subprocess
import sys

import pytest

LAUNCHER = os.environ.get("PYRUNC", "/opt/pyrunc/bin/pyrunc")


def interpreter():
    assert os.path.isfile(LAUNCHER), f"pyrunc is not installed at {LAUNCHER} (./install.sh)"
    with open(LAUNCHER, "rb") as f:
        first = f.readline().decode()
    assert first.startswith("#!"), f"{LAUNCHER} has no #! line"
    return first[2:].split()[0]


_facts = None


def facts():
    """(package dir, cache tag, magic number, source hash of b'x') as the launcher's
    interpreter sees them, found the way the launcher finds the package."""
    global _facts
    if _facts is None:
        code = (
            "import sys\n"
            "p = sys.argv[1]\n"
            "prefix = p.rpartition('/')[0].rpartition('/')[0]\n"
            "sys.path[:0] = [prefix + '/lib/python%d.%d/site-packages' % sys.version_info[:2],"
            " prefix + '/lib/python3/dist-packages']\n"
            "import importlib.util, pyrunc\n"
            "print(pyrunc.__path__[0]); print(sys.implementation.cache_tag)\n"
            "print(importlib.util.MAGIC_NUMBER.hex())\n"
        )
        real = os.path.realpath(LAUNCHER)
        out = subprocess.run([interpreter(), "-I", "-S", "-B", "-c", code, real], capture_output=True,
                             text=True, timeout=60, check=True).stdout.split()
        _facts = (out[0], out[1], bytes.fromhex(out[2]))
    return _facts


def sources():
    pkg = facts()[0]
    found = []
    for d, dirs, files in os.walk(pkg):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        found += [os.path.join(d, f) for f in files if f.endswith(".py")]
    return sorted(found)


def source_hash(data):
    """importlib.util.source_hash of the launcher's interpreter (hash-based pycs)."""
    code = "import sys, importlib.util; sys.stdout.write(importlib.util.source_hash(sys.stdin.buffer.read()).hex())"
    return bytes.fromhex(subprocess.run([interpreter(), "-I", "-S", "-B", "-c", code], input=data,
                                        capture_output=True, timeout=60, check=True).stdout.decode())


def stale_reason(src):
    """Why the interpreter would not use the .pyc of `src` (None: it would)."""
    _, tag, magic = facts()
    d, name = os.path.split(src)
    pyc = os.path.join(d, "__pycache__", "%s.%s.pyc" % (name[:-3], tag))
    try:
        with open(pyc, "rb") as f:
            head = f.read(16)
    except FileNotFoundError:
        return "no %s" % os.path.relpath(pyc, d)
    if len(head) < 16:
        return "%s is truncated" % pyc
    if head[:4] != magic:
        return "%s has magic %s, the interpreter wants %s" % (pyc, head[:4].hex(), magic.hex())
    flags = int.from_bytes(head[4:8], "little")
    if flags & 1:                      # hash-based: checked or not
        if flags & 2:
            with open(src, "rb") as f:
                if head[8:16] != source_hash(f.read()):
                    return "%s: source hash differs" % pyc
        return None
    st = os.stat(src)
    mtime = int.from_bytes(head[8:12], "little")
    size = int.from_bytes(head[12:16], "little")
    if mtime != int(st.st_mtime) & 0xFFFFFFFF or size != st.st_size & 0xFFFFFFFF:
        return "%s is older than its source (mtime %d/%d, size %d/%d)" % (
            pyc, mtime, int(st.st_mtime), size, st.st_size)
    return None


def test_the_package_has_sources():
    names = {os.path.relpath(p, facts()[0]) for p in sources()}
    assert {"__init__.py", "cli/main.py", "state/store.py", "shim.py"} <= names, sorted(names)


def test_every_module_has_an_up_to_date_pyc():
    stale = [(os.path.relpath(s, facts()[0]), why) for s in sources() if (why := stale_reason(s))]
    assert not stale, "modules the interpreter would compile on every run:\n" + "\n".join(
        "  %s: %s" % s for s in stale)


@pytest.mark.parametrize("argv", [
    ["--version"],
    ["state", "nosuch"],
    ["list"],
    ["create", "--bundle", "/nonexistent-bundle", "c1"],
])
def test_a_run_never_compiles_source(tmp_path, argv):
    """python -v says, per module, whether the .pyc matched; a module compiled from
    source shows up as a code object read from the .py (-B: nothing is written)."""
    cmd = [interpreter(), "-I", "-S", "-B", "-v", LAUNCHER, "--root", str(tmp_path / "root"), *argv]
    err = subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL).stderr
    pkg = facts()[0] + "/"
    used = [line for line in err.splitlines() if line.startswith("# code object from") and pkg in line]
    assert used, f"no pyrunc module loaded?\n{err}"
    from_source = [line for line in used if not line.rstrip("'").endswith(".pyc") and BUNDLE_LINE not in line]
    assert not from_source, "compiled from source:\n" + "\n".join(from_source)
    # and every one of them came from the bundle (bin/bundle.py), none from its own .pyc
    from_files = [line for line in used if BUNDLE_LINE not in line]
    assert not from_files, "not from the bundle:\n" + "\n".join(from_files)


BUNDLE_LINE = "/pyrunc/_bundle: "


def test_the_bundle_holds_the_installed_sources():
    """pyrunc/_bundle (written by setup.py with the package) holds every module of the
    install, compiled from the very source installed beside it: never out of step."""
    code = (
        "import marshal, sys\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "import bundle\n"
        "pkg = sys.argv[1]\n"
        "index = bundle.read(pkg + '/_bundle')\n"
        "assert index is not None, 'no bundle of this interpreter'\n"
        "mods = bundle.modules(pkg)\n"
        "assert sorted(index) == sorted(mods), (sorted(set(index) ^ set(mods)))\n"
        "bad = [name for name, (is_pkg, path) in mods.items() if index[name][0] != is_pkg or\n"
        "       marshal.loads(index[name][1]) != bundle.code_of(name, is_pkg, path)]\n"
        "print(len(index), ' '.join(bad))\n"
    )
    repo_bin = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bin")
    # compiled as setup.py's build compiles it (bin/bundle.py's build)
    p = subprocess.run([interpreter(), "-I", "-S", "-B", "-X", "no_debug_ranges", "-c", code, facts()[0], repo_bin],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    count, *stale = p.stdout.split()
    assert int(count) == len(sources())
    assert not stale, "the bundle's code differs from the installed source of: %s" % stale


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
