"""Build pyrunc: the `pyrunc` package from runtime/, the cffi shim from csrc/, and the launcher.

The launcher is not a setuptools console script: pip's generated script imports `re`
and runs the interpreter with `site`, both of which cost milliseconds on every runtime
command. Ours runs the interpreter that builds the package, by absolute path, with -I -S,
and finds the package next to itself; its code comes compiled (bin/launcher.py).
"""
import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
LAUNCHER_SRC = os.path.join(HERE, "bin", "pyrunc.in")
LAUNCHER_OUT = os.path.join("build", "launcher", "pyrunc")


def write_launcher():
    interpreter = os.path.realpath(sys.executable)
    with open(LAUNCHER_SRC) as f:
        text = _load_bin_module("launcher").render(f.read(), interpreter)
    os.makedirs(os.path.dirname(LAUNCHER_OUT), exist_ok=True)
    with open(LAUNCHER_OUT, "w") as f:
        f.write(text)
    os.chmod(LAUNCHER_OUT, 0o755)


def git_commit():
    """The checkout's commit for `pyrunc --version` (runc prints its git commit too);
    None outside a git checkout (an sdist) or without git."""
    import subprocess

    try:
        r = subprocess.run(["git", "-C", HERE, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = r.stdout.strip()
    return sha if r.returncode == 0 and len(sha) == 40 else None


class BuildPy(build_py):
    def run(self):
        write_launcher()
        super().run()
        commit = git_commit()
        if commit and not self.dry_run:
            with open(os.path.join(self.build_lib, "pyrunc", "_build.py"), "w") as f:
                f.write('"""Written by setup.py at build time."""\nCOMMIT = %r\n' % commit)
        if not self.dry_run:
            # last: the bundle holds every module just written, _build.py included
            bundle = _load_bin_module("bundle")
            pkg = os.path.join(self.build_lib, "pyrunc")
            bundle.build(pkg, os.path.join(pkg, "_bundle"))


def _load_bin_module(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location("_pyrunc_" + name, os.path.join(HERE, "bin", name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _packages():
    """pyrunc and every sub-package under runtime/ (package_dir maps the name)."""
    found = []
    for d, _, files in os.walk(os.path.join(HERE, "runtime")):
        if "__init__.py" in files and "__pycache__" not in d:
            rel = os.path.relpath(d, os.path.join(HERE, "runtime"))
            found.append("pyrunc" if rel == "." else "pyrunc." + rel.replace(os.sep, "."))
    return sorted(found)


write_launcher()

setup(
    packages=_packages(),
    package_dir={"pyrunc": "runtime"},
    package_data={"pyrunc.spec": ["schema.json"]},
    cffi_modules=["csrc/build_shim.py:ffi"],
    data_files=[("bin", [LAUNCHER_OUT])],
    cmdclass={"build_py": BuildPy},
    zip_safe=False,
)
