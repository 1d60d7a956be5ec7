"""Every verb pays one interpreter start and should pay little else (ARCHITECTURE.md,
"Speed").  Each verb runs here in a fresh interpreter, through the installed launcher,
with ``-X importtime``; the test fails when a verb imports a module outside its budget.

No root and no container: state, kill, start, delete and list run against their error
path (an id that does not exist) and against their success path on a state dir this
test writes itself, whose "init" is a child process of the test (a `sleep` for a
running container; for a created one a shell blocked opening exec.fifo for writing,
which is what `start` releases).  create and run go through the loader, the plan and
the shim import, then fail on a --root that cannot be made, before anything happens.
"""
import json
import marshal
import os
import subprocess
import sys

import pytest

LAUNCHER = os.environ.get("PYRUNC", "/opt/pyrunc/bin/pyrunc")

# the hot verbs: state, kill, start, delete (and list, --version) must import none of these
HOT_FORBIDDEN = {
    "argparse", "json", "re", "logging", "dataclasses", "pathlib", "subprocess",
    "cffi", "jsonschema", "pyseccomp", "seccomp",
    # console scripts that look themselves up cost tens of milliseconds
    "importlib.metadata", "pkg_resources",
    # the shim is for create, run and exec only
    "_cffi_backend", "pyrunc._shim", "pyrunc.shim",
    # D-Bus and the systemd driver: only for a container made with --systemd-cgroup
    "jeepney", "pyrunc.cgroups.systemd", "pyrunc.cgroups.sdprops",
    # the Python API's classes (and the __future__ import its annotations need)
    "pyrunc.api", "__future__",
}
# create, run and spec: no jsonschema (validation backs `pyrunc validate` and errors
# only), no pyseccomp (a bundle without seccomp never compiles BPF), nothing heavy
COLD_FORBIDDEN = {
    "argparse", "logging", "dataclasses", "pathlib", "subprocess", "cffi", "jsonschema",
    "pyseccomp", "seccomp", "typing", "inspect", "tempfile", "shutil",
    "importlib.metadata", "pkg_resources", "pyrunc.api", "__future__",
    # only with --systemd-cgroup (the D-Bus client only once the init exists)
    "jeepney", "pyrunc.cgroups.systemd", "pyrunc.cgroups.sdprops",
}
# a ceiling on creep: how many modules a verb may import in all (interpreter start-up
# included; today 27 to 35 for the hot verbs, which call lifecycle/ and the state store
# without pyrunc.api, 53 for create and 58 for run up to the state root)
# (--version asks libseccomp its version through ctypes, as runc's layout has a libseccomp line)
MAX_MODULES = {"hot": 35, "create": 55, "run": 60, "spec": 40, "--version": 40}
# on success the verbs that print no JSON read the state without the JSON scanner (an
# extension module: a third of a millisecond to load); an error line may quote with it
NO_JSON = {"_json", "pyrunc.jsonio"}
# their flags and handlers are in cli/hotverbs.py and cli/hotcommands.py
HOT_TABLES = {"pyrunc.cli.verbs", "pyrunc.cli.commands"}
BUDGET = {
    "state": HOT_FORBIDDEN | HOT_TABLES, "kill": HOT_FORBIDDEN | HOT_TABLES, "start": HOT_FORBIDDEN | HOT_TABLES,
    "delete": HOT_FORBIDDEN | HOT_TABLES, "list": HOT_FORBIDDEN | HOT_TABLES, "--version": HOT_FORBIDDEN,
    "spec": COLD_FORBIDDEN | {"_cffi_backend", "pyrunc._shim", "pyrunc.shim"},
    "create": COLD_FORBIDDEN, "run": COLD_FORBIDDEN,
}


def interpreter():
    """The interpreter the launcher runs (its #! line): the one whose start-up and
    imports every command pays."""
    assert os.path.isfile(LAUNCHER), f"pyrunc is not installed at {LAUNCHER} (./install.sh)"
    with open(LAUNCHER, "rb") as f:
        first = f.readline().decode()
    assert first.startswith("#!"), f"{LAUNCHER} has no #! line"
    return first[2:].split()[0]


def imports_of(*argv, cwd=None, ok=True):
    """Run `pyrunc argv...` in a fresh interpreter as the launcher does (-I -S), with
    -X importtime (and -B: never write bytecode into the install); return
    (module names in import order, CompletedProcess)."""
    cmd = [interpreter(), "-I", "-S", "-B", "-X", "importtime", LAUNCHER, *argv]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=cwd, stdin=subprocess.DEVNULL)
    modules = []
    for line in p.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name and name != "imported package":
                modules.append(name)
    assert "pyrunc.cli.main" in modules, f"no import trace from {cmd}:\n{p.stderr}"
    if ok is not None:
        assert (p.returncode == 0) == ok, f"{cmd}: exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return modules, p


def over_budget(verb, modules, ok=False):
    forbidden = BUDGET[verb] | (NO_JSON if ok and verb in ("kill", "start", "delete", "list") else set())
    return sorted({m for m in modules for f in forbidden if m == f or m.startswith(f + ".")})


def check(verb, modules, ok=False):
    bad = over_budget(verb, modules, ok)
    assert not bad, f"`pyrunc {verb}` imports {bad}, outside its budget; it imported: {modules}"
    kind = verb if verb in MAX_MODULES else "hot"
    assert len(modules) <= MAX_MODULES[kind], (
        f"`pyrunc {verb}` imports {len(modules)} modules, over the ceiling of {MAX_MODULES[kind]}: {modules}")


# ---- fake containers: a state dir written by the test, its init a child of the test

def start_time(pid):
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    return int(data[data.rindex(")") + 2:].split()[19])


def write_state(root, cid, proc):
    """<root>/<cid>/state as create writes it, for a process of ours."""
    st = {"ociVersion": "1.2.0", "id": cid, "pid": proc.pid, "pidStart": start_time(proc.pid),
          "bundle": str(root), "rootfs": str(root / "rootfs"), "created": "2026-01-01T00:00:00.000000000Z",
          "owner": "", "annotations": {}, "cgroupPaths": {}, "cgroupsCreated": [], "cgroupMode": "none",
          "freezer": None, "namespaces": {"new": ["pid"], "join": {}}, "newPidns": True, "hooks": {}}
    (root / cid / "state").write_bytes(marshal.dumps(st, 4))


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir(mode=0o700)
    return r


@pytest.fixture
def children():
    procs = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)


def running(root, children, cid="fake-running"):
    (root / cid).mkdir(mode=0o711)
    proc = subprocess.Popen(["/bin/sleep", "60"], stdin=subprocess.DEVNULL)
    children.append(proc)
    write_state(root, cid, proc)
    return cid, proc


def created(root, children, cid="fake-created"):
    """A created container: exec.fifo exists and the init blocks opening it for
    writing; `start` opens it, reads the "0" the init writes, then EOF (the exec)."""
    (root / cid).mkdir(mode=0o711)
    fifo = root / cid / "exec.fifo"
    os.mkfifo(fifo, 0o622)
    proc = subprocess.Popen(["/bin/sh", "-c", 'printf 0 > "$1"', "sh", str(fifo)], stdin=subprocess.DEVNULL)
    children.append(proc)
    write_state(root, cid, proc)
    return cid, proc


# ---- the error paths: an id that does not exist

@pytest.mark.parametrize("verb,extra", [
    ("state", []), ("kill", ["KILL"]), ("start", []), ("delete", []),
])
def test_hot_verb_error_path(root, verb, extra):
    modules, p = imports_of("--root", str(root), verb, "nosuch", *extra, ok=False)
    assert "does not exist" in p.stderr, p.stderr
    check(verb, modules)


# ---- the success paths, on containers the test fakes

def test_state_and_list_of_a_running_container(root, children):
    cid, _ = running(root, children)
    modules, p = imports_of("--root", str(root), "state", cid)
    assert json.loads(p.stdout)["status"] == "running"
    check("state", modules)
    modules, p = imports_of("--root", str(root), "list")
    assert cid in p.stdout and "running" in p.stdout
    check("list", modules, ok=True)    # the table: no JSON at all
    modules, p = imports_of("--root", str(root), "list", "--format", "json")
    assert json.loads(p.stdout)[0]["id"] == cid
    check("list", modules)


def test_list_of_an_empty_root(root):
    check("list", imports_of("--root", str(root), "list")[0], ok=True)


def test_kill_then_delete(root, children):
    cid, proc = running(root, children)
    modules, _ = imports_of("--root", str(root), "kill", cid, "TERM")
    check("kill", modules, ok=True)
    proc.wait(timeout=10)
    modules, _ = imports_of("--root", str(root), "delete", cid)
    check("delete", modules, ok=True)
    assert not (root / cid).exists()


def test_delete_force_of_a_running_container(root, children):
    cid, proc = running(root, children)
    # the init is our child: it stays a zombie (= stopped) until we reap it
    modules, _ = imports_of("--root", str(root), "delete", "--force", cid)
    check("delete", modules, ok=True)
    assert proc.wait(timeout=10) != 0
    assert not (root / cid).exists()


def test_start_of_a_created_container(root, children):
    cid, proc = created(root, children)
    modules, p = imports_of("--root", str(root), "start", cid)
    check("start", modules, ok=True)
    assert proc.wait(timeout=10) == 0
    assert not (root / cid / "exec.fifo").exists()


# ---- the other verbs

def test_version():
    modules, p = imports_of("--version")
    assert p.stdout.startswith("pyrunc version ")
    check("--version", modules)


def test_spec(tmp_path):
    modules, _ = imports_of("spec", cwd=tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["ociVersion"]
    check("spec", modules)


@pytest.fixture
def bundle(tmp_path):
    """`pyrunc spec`'s config without a terminal, over an empty rootfs."""
    b = tmp_path / "bundle"
    (b / "rootfs" / "bin").mkdir(parents=True)
    subprocess.run([LAUNCHER, "spec"], cwd=b, check=True, timeout=30)
    cfg = json.loads((b / "config.json").read_text())
    cfg["process"]["terminal"] = False
    (b / "config.json").write_text(json.dumps(cfg))
    return b


@pytest.mark.parametrize("verb", ["create", "run"])
def test_create_and_run_up_to_the_state_root(tmp_path, bundle, verb):
    """Loader, plan, cgroup host detection and the shim are all imported before the
    state root is made; a --root under a regular file fails right there (as root too),
    so no container is ever made.  --rootless false: the check for a non-root user
    comes first otherwise."""
    (tmp_path / "file").write_text("")
    modules, p = imports_of("--rootless", "false", "--root", str(tmp_path / "file" / "root"),
                            verb, "--bundle", str(bundle), "budget-c1", ok=False)
    assert "create state root" in p.stderr, p.stderr
    assert "pyrunc.spec.load" in modules and "pyrunc.plan.build" in modules, modules
    assert "pyrunc._shim" in modules, "the shim is imported before the state root is made"
    assert "pyrunc.hooks" not in modules, "a config without hooks imports the hooks module"
    check(verb, modules)


def test_budgets_catch_a_forbidden_module():
    """The check itself: a module or submodule on the list fails, a lookalike does not."""
    assert over_budget("state", ["pyrunc.cli.main", "json.decoder", "_json", "re", "_sre", "reprlib"]) == [
        "json.decoder", "re"]
    assert over_budget("create", ["pyrunc._shim", "_cffi_backend", "json"]) == []


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
