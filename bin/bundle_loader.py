"""Run by the launcher from pyrunc/_bundle (bin/bundle.py), with `fd` (the bundle, open),
`head` (its first bytes) and `site` (where the package is) in its globals: puts the
bundle's finder first on sys.meta_path. Compiled into the bundle at install, so that
the launcher, which the interpreter compiles on every run, stays a few lines."""
import marshal
import posix
import sys

_n = 16 + int.from_bytes(head[8:12], "little")
_end = _n + int.from_bytes(head[12:16], "little")
if len(head) < _end:
    head += posix.pread(fd, _end - len(head), len(head))
index = marshal.loads(head[_n:_end])
Spec = sys.modules["_frozen_importlib"].ModuleSpec
verbose = sys.flags.verbose


_ext = sys.modules["_frozen_importlib_external"]
# Extension modules the commands import (_json by every one, _cffi_backend by create,
# run and exec), found with one stat: importlib's path search lists the standard
# library's directory and lib-dynload first, a third of the import's cost.
EXTENSIONS = ("_json", "_cffi_backend")
_ext_dirs = [p for p in sys.path if p.endswith("/lib-dynload")] + [site]


def _extension_spec(name):
    for d in _ext_dirs:
        path = d + "/" + name + _ext.EXTENSION_SUFFIXES[0]
        try:
            posix.stat(path)
        except OSError:
            continue
        spec = Spec(name, _ext.ExtensionFileLoader(name, path), origin=path)
        spec.has_location = True
        return spec
    return None


class BundleFinder:
    @staticmethod
    def find_spec(name, path=None, target=None):
        entry = index.get(name)
        if entry is None:
            return _extension_spec(name) if name in EXTENSIONS else None
        rel = name.replace(".", "/")
        spec = Spec(name, BundleFinder, origin=site + "/" + rel + ("/__init__.py" if entry[0] else ".py"),
                    is_package=entry[0])
        spec.has_location = True
        if entry[0]:
            spec.submodule_search_locations = [site + "/" + rel]
        return spec

    @staticmethod
    def create_module(spec):
        return None

    @staticmethod
    def exec_module(module):
        _, offset, size = index[module.__name__]
        code = marshal.loads(posix.pread(fd, size, offset))
        if verbose:
            sys.stderr.write("# code object from bundle %s/pyrunc/_bundle: %s\n" % (site, module.__name__))
        exec(code, module.__dict__)


sys.meta_path.insert(0, BundleFinder)
