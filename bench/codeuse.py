"""How much of the code a pyrunc command loads it never runs: the most that moving code
off that command's path could take from its peak RSS (bench/run.py's peak-RSS verdict).

    python3 -I -S bench/codeuse.py run OUT LAUNCHER VERB ARGS...
        runs `LAUNCHER VERB ARGS...` in this interpreter, as `python3 -I -S pyrunc` does,
        with a profile hook that records every code object that is called; when the
        command exits (posix._exit), writes OUT (JSON): for each pyrunc module it loaded,
        the size of the code objects it called and of those it never called. The code is
        the launcher's module bundle's (bin/bundle.py), else the .pyc files'.
    python3 -I -S bench/codeuse.py heap OUT
        prints the heap that unmarshalling the code of OUT's modules takes in a fresh
        interpreter (tracemalloc): what the code objects cost for real, identifiers and all.

A code object's size here is sys.getsizeof of it (3.11 keeps its bytecode inline) and
of its tables and non-code constants; `heap` turns the never-called share into bytes.
Code that runs only in a thread the command starts with _thread (create's cgroup
warm-up) counts as never called: that makes the bound larger, not smaller.
"""
import json
import marshal
import os
import posix
import sys


def _size(co):
    n = sys.getsizeof(co) + sys.getsizeof(co.co_linetable) + sys.getsizeof(co.co_exceptiontable)
    n += sys.getsizeof(co.co_consts) + sys.getsizeof(co.co_names) + sys.getsizeof(co.co_varnames)
    for k in co.co_consts:
        if not hasattr(k, "co_code"):
            n += sys.getsizeof(k)
    return n


def _key(co):
    # by the path inside the package: the launcher's sys.path entry decides whether a
    # loaded module's co_filename is absolute, the .pyc's is always
    name = co.co_filename
    i = name.rfind("pyrunc/")
    return (name[i:] if i >= 0 else name, co.co_firstlineno, co.co_qualname)


def bundle_index(path):
    """{module: (is a package, marshalled code)} of the launcher's module bundle, or None
    when there is none for this interpreter: then the modules came from their .pyc files."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bin"))
    try:
        import bundle
    finally:
        del sys.path[0]
    return bundle.read(path)


def module_code(name, pyc, bundle):
    """The marshalled code the command loaded for module `name`."""
    if bundle is not None and name in bundle:
        return bundle[name][1]
    with open(pyc, "rb") as f:
        return f.read()[16:]


def account(called, modules, bundle):
    """{module: {"called": bytes, "never": bytes, "functions_called": n, "functions_never":
    n, "pyc": path}} for the pyrunc modules in `modules` (sys.modules), by walking the
    code each was loaded from (the bundle's, else the .pyc's)."""
    from importlib.util import cache_from_source

    out = {}
    for name, mod in sorted(modules.items()):
        path = getattr(mod, "__file__", None) or ""
        if not (name == "pyrunc" or name.startswith("pyrunc.")) or not path.endswith(".py"):
            continue
        pyc = cache_from_source(path)
        row = {"called": 0, "never": 0, "functions_called": 0, "functions_never": 0, "pyc": pyc}
        top = marshal.loads(module_code(name, pyc, bundle))
        row["called"] += _size(top)   # the module's body ran when it was imported
        todo = [k for k in top.co_consts if hasattr(k, "co_code")]
        while todo:
            co = todo.pop()
            if _key(co) in called:
                row["called"] += _size(co)
                row["functions_called"] += 1
            else:
                row["never"] += _size(co)
                row["functions_never"] += 1
            todo.extend(k for k in co.co_consts if hasattr(k, "co_code"))
        out[name] = row
    return out


def _bundle_path(modules):
    pkg = modules.get("pyrunc")
    path = getattr(pkg, "__file__", None)
    return path.rpartition("/")[0] + "/_bundle" if path else None


def run(out_path, launcher, argv):
    called = set()

    def hook(frame, event, arg):
        if event == "call":
            called.add(_key(frame.f_code))

    real_exit = posix._exit

    def on_exit(code):
        sys.setprofile(None)
        modules = dict(sys.modules)
        bundle = _bundle_path(modules)
        index = bundle_index(bundle) if bundle else None
        with open(out_path, "w") as f:
            json.dump({"exit": code, "bundle": bundle if index is not None else None,
                       "modules": account(called, modules, index)}, f)
        real_exit(code)

    posix._exit = on_exit
    with open(launcher) as f:
        text = f.read()
    sys.argv = [launcher] + argv
    code = compile(text, launcher, "exec")
    sys.setprofile(hook)
    exec(code, {"__name__": "__main__", "__file__": launcher})
    on_exit(0)


def heap(doc_path):
    """Print the heap that unmarshalling the code of the run's modules takes here."""
    import tracemalloc

    with open(doc_path) as f:
        doc = json.load(f)
    index = bundle_index(doc["bundle"]) if doc.get("bundle") else None
    datas = [module_code(name, m["pyc"], index) for name, m in doc["modules"].items()]
    del index
    tracemalloc.start()
    keep = [marshal.loads(d) for d in datas]
    used = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del keep
    print(used)


# what each function the module made for a code object takes besides it
FUNCTION_SIZE = sys.getsizeof(_size)


def summary(doc, heap_bytes):
    """(called, never, the most moving what never ran off the path could save) in bytes:
    never's share of the measured heap, and a function object for each code object that
    never ran (some are nested and never became one: the bound errs high)."""
    called = sum(m["called"] for m in doc["modules"].values())
    never = sum(m["never"] for m in doc["modules"].values())
    total = called + never
    functions = sum(m["functions_never"] for m in doc["modules"].values())
    return called, never, ((heap_bytes * never // total) if total else 0) + functions * FUNCTION_SIZE


if __name__ == "__main__":
    if sys.argv[1:2] == ["run"] and len(sys.argv) >= 5:
        run(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif sys.argv[1:2] == ["heap"] and len(sys.argv) == 3:
        heap(sys.argv[2])
    else:
        sys.exit("usage: codeuse.py run OUT LAUNCHER VERB ARGS... | heap OUT")
