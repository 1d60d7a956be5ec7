"""The launcher's module bundle: every module of the built package, compiled, in one
file (pyrunc/_bundle) that setup.py writes next to the sources it installs, so that the
two are always of one build.

Importing a module from its .pyc costs about six system calls (the directory's stat,
the source's stat, open, fstat, read, close) and importlib's path search; from the
bundle it costs one pread. The launcher execs the loader's code (bundle_loader.py)
from the bundle's head, which puts a finder first on sys.meta_path; a module not in
the bundle (or a bundle that cannot be read) is imported from its file as before.

Code objects name their file relative to site-packages ("pyrunc/cli/main.py"): the
build does not know where the package will be installed, and linecache finds a
relative name on sys.path, so tracebacks still show the source lines.
"""
import marshal
import os


def magic():
    """What precedes the header length: "pyrb" and the interpreter's bytecode magic (a
    bundle of another Python's code objects is ignored)."""
    import importlib.util

    return b"pyrb" + importlib.util.MAGIC_NUMBER


def modules(package_dir, package="pyrunc"):
    """{module name: (is package, source path)} of every .py under package_dir."""
    found = {}
    for d, dirs, files in os.walk(package_dir):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for f in sorted(files):
            if not f.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(d, f), package_dir)[:-3].replace(os.sep, ".")
            is_pkg = rel == "__init__" or rel.endswith(".__init__")
            name = package + ("." + rel[:-len("__init__")].rstrip(".") if is_pkg else "." + rel)
            found[name.rstrip(".")] = (is_pkg, os.path.join(d, f))
    return found


def code_of(name, is_pkg, path):
    """A module's code object as the bundle holds it (its file named relative to
    site-packages), without docstrings: nothing the launcher runs reads them (the Python
    API imports from the files and keeps them). Compiled under `-X no_debug_ranges`, as
    build() does, it has no column offsets either. Both are memory every command keeps
    (a code object takes about four times its marshalled size) and bytes it unmarshals."""
    import ast

    rel = name.replace(".", "/") + ("/__init__.py" if is_pkg else ".py")
    with open(path, "rb") as f:
        tree = ast.parse(f.read(), rel)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.copy_location(ast.Pass(), body[0])]
    return compile(tree, rel, "exec", dont_inherit=True)


def loader_code():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bundle_loader.py")
    with open(path, "rb") as f:
        return compile(f.read(), "pyrunc-bundle-loader", "exec", dont_inherit=True)


def build(package_dir, out):
    """Write the bundle of the package at package_dir (its .py files) to `out`: magic,
    the loader's and the index's lengths (4 bytes each), the loader's code, the index
    {module: (is package, offset, size)}, each module's code. Runs itself again under
    `-X no_debug_ranges` (the compiler reads that at the interpreter's start only)."""
    import sys

    if "no_debug_ranges" not in sys._xoptions:
        import subprocess

        subprocess.run([sys.executable, "-I", "-X", "no_debug_ranges", os.path.abspath(__file__), package_dir, out],
                       check=True)
        return None
    blobs = [(name, is_pkg, marshal.dumps(code_of(name, is_pkg, path)))
             for name, (is_pkg, path) in modules(package_dir).items()]
    loader = marshal.dumps(loader_code())
    # the offsets depend on the index's length, which depends on the offsets' sizes:
    # iterate until it stops changing
    index_len = 0
    while True:
        offset = len(magic()) + 8 + len(loader) + index_len
        index = {}
        for name, is_pkg, blob in blobs:
            index[name] = (is_pkg, offset, len(blob))
            offset += len(blob)
        packed = marshal.dumps(index)
        if len(packed) == index_len:
            break
        index_len = len(packed)
    with open(out, "wb") as f:
        f.write(magic() + len(loader).to_bytes(4, "little") + len(packed).to_bytes(4, "little") + loader + packed
                + b"".join(b for _, _, b in blobs))
    return index


def read(path):
    """{module: (is a package, its marshalled code)} of the bundle at `path` (build()'s
    layout), or None when there is none or it is of another interpreter's bytecode."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if data[:8] != magic():
        return None
    start = 16 + int.from_bytes(data[8:12], "little")
    index = marshal.loads(data[start:start + int.from_bytes(data[12:16], "little")])
    return {name: (is_pkg, data[off:off + size]) for name, (is_pkg, off, size) in index.items()}


if __name__ == "__main__":
    import sys

    build(sys.argv[1], sys.argv[2])
