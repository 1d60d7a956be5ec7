"""bench/codeuse.py: the code a pyrunc command loads and never runs, the bound the bench's
peak-RSS verdict gives for moving code off a path. Runs the installed launcher on a
command that needs no root and no container (state of a container that is not there)."""
import importlib.util
import json
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "bench", "codeuse.py")
LAUNCHER = os.environ.get("PYRUNC", "/opt/pyrunc/bin/pyrunc")


def codeuse():
    spec = importlib.util.spec_from_file_location("bench_codeuse", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def interpreter():
    with open(LAUNCHER) as f:
        return f.readline()[2:].split()[0]


@pytest.fixture(scope="module")
def state_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("codeuse")
    out = tmp / "out.json"
    p = subprocess.run([interpreter(), "-I", "-S", SCRIPT, "run", str(out), LAUNCHER, "--root", str(tmp / "root"),
                        "state", "nothere"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p.stderr
    # the command itself ran: its error line, and its exit status recorded
    assert "container does not exist" in p.stderr
    with open(out) as f:
        return json.load(f)


def test_the_profiled_command_is_accounted_module_by_module(state_run):
    mods = state_run["modules"]
    assert state_run["exit"] == 1
    assert "pyrunc.cli.main" in mods and "pyrunc.state.store" in mods
    # state's path runs main() and the store's loader, and leaves most of the store unrun
    assert mods["pyrunc.cli.main"]["called"] > 0
    # functions, not only module bodies, are matched to what ran (main(), at least)
    assert mods["pyrunc.cli.main"]["functions_called"] >= 1
    assert mods["pyrunc.state.store"]["functions_called"] >= 1
    assert mods["pyrunc.state.store"]["called"] > 0 and mods["pyrunc.state.store"]["never"] > 0
    # a module the command never imports is not counted
    assert "pyrunc.lifecycle.create" not in mods


def heap_of(doc, tmp_path, name):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return int(subprocess.run([interpreter(), "-I", "-S", SCRIPT, "heap", str(path)], capture_output=True,
                              text=True, check=True, timeout=60).stdout)


def test_heap_and_the_never_run_share(state_run, tmp_path):
    heap = heap_of(state_run, tmp_path, "all.json")
    called, never, never_heap = codeuse().summary(state_run, heap)
    assert heap > 0 and called > 0 and never > 0
    functions = sum(m["functions_never"] for m in state_run["modules"].values())
    assert functions > 0
    assert never_heap == heap * never // (called + never) + functions * codeuse().FUNCTION_SIZE
    # unmarshalling fewer modules takes less heap
    one = dict(state_run, modules=dict([next(iter(state_run["modules"].items()))]))
    assert 0 < heap_of(one, tmp_path, "one.json") < heap


def test_the_code_is_the_bundle_the_launcher_loaded(state_run):
    cu = codeuse()
    site = os.path.dirname(os.path.dirname(os.path.realpath(LAUNCHER)))
    bundles = [p for p in [state_run["bundle"]] if p]
    # the installed launcher loads pyrunc from its bundle (bin/bundle.py)
    assert bundles and bundles[0].startswith(site) and bundles[0].endswith("/pyrunc/_bundle")
    index = cu.bundle_index(bundles[0])
    assert set(state_run["modules"]) <= set(index)
    assert cu.bundle_index("/nonexistent") is None


def test_key_ignores_where_the_package_was_found():
    cu = codeuse()

    def f():
        pass

    co = f.__code__
    a = co.replace(co_filename="/opt/x/lib/python3.11/site-packages/pyrunc/cli/main.py")
    b = co.replace(co_filename="pyrunc/cli/main.py")
    assert cu._key(a) == cu._key(b) == ("pyrunc/cli/main.py", co.co_firstlineno, co.co_qualname)
    assert cu._key(co) != cu._key(a)
