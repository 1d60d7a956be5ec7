"""The Python API's pure parts: what `import pyrunc` costs, the exported names, Spec
(built and checked by create's loader), State, and the overlay mount's working
directory kept to its own thread. Containers: integration/test_api.py."""
import ctypes
import dataclasses
import inspect
import os
import subprocess
import sys
import threading

import pytest

import pyrunc
from pyrunc import api, api_image, errors
from pyrunc.spec import default, load

HEAVY = {"json", "cffi", "_cffi_backend", "jsonschema", "pyseccomp", "seccomp", "dataclasses", "typing", "re",
         "argparse", "logging", "pathlib", "subprocess", "importlib.metadata", "pyrunc._shim", "pyrunc.shim"}


def imports_of(code):
    """Modules a fresh interpreter imports for `code` beyond its own start-up."""
    def run(src):
        p = subprocess.run([sys.executable, "-X", "importtime", "-c", src], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        return {line.rsplit("|", 1)[1].strip() for line in p.stderr.splitlines()
                if line.startswith("import time:") and "|" in line}
    return run(code) - run("pass")


def test_import_pyrunc_imports_nothing_heavy():
    mods = imports_of("import pyrunc")
    assert "pyrunc" in mods
    assert not mods & HEAVY, mods & HEAVY
    assert not {m for m in mods if m.startswith("pyrunc.")}, mods


def test_the_runtime_and_its_errors_import_nothing_heavy():
    mods = imports_of("import pyrunc; pyrunc.Runtime; pyrunc.Container; pyrunc.ContainerNotFound")
    assert "pyrunc.api" in mods
    assert not mods & HEAVY, mods & HEAVY


def test_state_and_spec_pay_for_dataclasses_only_when_asked():
    mods = imports_of("import pyrunc; pyrunc.State; pyrunc.Spec")
    assert "dataclasses" in mods and "pyrunc.api_types" in mods
    assert not mods & (HEAVY - {"dataclasses", "typing", "re"})


def test_exported_names():
    for name in pyrunc.__all__:
        assert getattr(pyrunc, name) is not None
    for name in ("PyruncError", "ContainerNotFound", "ContainerExists", "ConfigError", "StateError",
                 "InvalidIDError", "SyscallError"):
        assert getattr(pyrunc, name) is getattr(errors, name)
        assert issubclass(getattr(pyrunc, name), pyrunc.PyruncError)
    assert pyrunc.Runtime is api.Runtime and pyrunc.unpack is api_image.unpack
    with pytest.raises(AttributeError):
        pyrunc.NoSuchThing
    assert "Runtime" in dir(pyrunc)


def test_every_public_api_callable_is_documented_and_typed():
    objs = [api.Runtime, api.Container, api.Process, pyrunc.Spec, pyrunc.State,
            api_image.unpack, api_image.commit, api_image.release, api_image.mount, api_image.ls,
            api_image.history, api_image.gc]
    for obj in objs:
        assert inspect.getdoc(obj), obj
        members = [obj] if inspect.isfunction(obj) else [
            m for n, m in vars(obj).items() if not n.startswith("_") and (inspect.isfunction(m) or
                                                                      isinstance(m, (classmethod, property)))]
        for m in members:
            f = m.fget if isinstance(m, property) else getattr(m, "__func__", m)
            assert inspect.getdoc(f), f
            assert "return" in f.__annotations__, f


def test_default_root_is_the_commands():
    from pyrunc import rootless

    # what `pyrunc` without --root uses: /run/pyrunc, or $XDG_RUNTIME_DIR/pyrunc as runc
    assert pyrunc.Runtime().root == rootless.default_root()[0]
    if os.geteuid() == 0 and not rootless.in_userns():
        assert pyrunc.Runtime().root == pyrunc.DEFAULT_ROOT
    assert pyrunc.Runtime("/x/y/").root == "/x/y"
    assert pyrunc.Runtime("rel").root == os.getcwd() + "/rel"


def test_invalid_ids_are_refused_before_anything(tmp_path):
    rt = pyrunc.Runtime(str(tmp_path / "root"))
    for bad in ("", "a/b", "..", "x" * 1025):
        with pytest.raises(pyrunc.InvalidIDError):
            rt.get(bad)
    with pytest.raises(pyrunc.ContainerNotFound):
        rt.get("absent")
    assert rt.list() == []
    assert not (tmp_path / "root").exists()


def test_exec_takes_a_list_or_a_dict_not_a_string(tmp_path):
    c = pyrunc.Container(pyrunc.Runtime(str(tmp_path)), "c1")
    with pytest.raises(TypeError):
        c.exec("ls -l")


# ---- State ----

RUNC_FIELDS = ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner", "annotations"]


def test_state_is_a_dataclass_with_runcs_fields():
    assert dataclasses.is_dataclass(pyrunc.State)
    assert [f.name for f in dataclasses.fields(pyrunc.State)] == RUNC_FIELDS


def test_state_from_and_to_the_state_json():
    d = {"ociVersion": "1.2.0", "id": "c1", "pid": 42, "status": "running", "bundle": "/b", "rootfs": "/b/rootfs",
         "created": "2026-01-01T00:00:00Z", "annotations": {"a": "1"}, "owner": ""}
    st = pyrunc.State.from_dict(d)
    assert (st.id, st.pid, st.status, st.annotations) == ("c1", 42, "running", {"a": "1"})
    assert st.to_dict() == d
    del d["annotations"]
    assert pyrunc.State.from_dict(d).to_dict() == d   # no annotations key when there are none, as runc
    with pytest.raises(dataclasses.FrozenInstanceError):
        st.pid = 1


# ---- Spec ----

def test_spec_default_is_pyrunc_spec():
    assert pyrunc.Spec.default().to_json() == default.render()
    assert pyrunc.Spec.rootless().to_json() == default.render(rootless=True)
    assert pyrunc.Spec.default().validate().config == default.spec()


def test_spec_helpers():
    s = pyrunc.Spec.default(["echo", "hi"], terminal=False)
    assert s.args == ["echo", "hi"] and s.terminal is False
    s.env.append("A=1")
    s.hostname, s.cwd, s.rootfs, s.readonly = "h", "/tmp", "/abs/rootfs", False
    s.resources["pids"] = {"limit": 10}
    c = s.validate().config
    assert c["process"]["env"][-1] == "A=1" and c["hostname"] == "h" and c["process"]["cwd"] == "/tmp"
    assert c["root"] == {"path": "/abs/rootfs", "readonly": False}
    assert c["linux"]["resources"]["pids"] == {"limit": 10}
    with pytest.raises(TypeError):
        s.args = "echo hi"
    assert s.rootless().config["linux"]["uidMappings"][0]["hostID"] == os.geteuid()


@pytest.mark.parametrize("edit, path", [
    (lambda c: c["process"].update(args=[]), "process.args"),
    (lambda c: c["process"].update(cwd="tmp"), "process.cwd"),
    (lambda c: c["process"].update(env=["NOEQUALS"]), "process.env[0]"),
    (lambda c: c["linux"]["resources"].update(pids={"limit": "x"}), "linux.resources.pids.limit"),
])
def test_spec_is_checked_by_creates_loader(edit, path):
    s = pyrunc.Spec.default()
    edit(s.config)
    with pytest.raises(pyrunc.ConfigError) as e:
        s.validate()
    assert e.value.path == path
    with pytest.raises(pyrunc.ConfigError) as e2:   # the very same verdict as load.check
        load.check(s.config)
    assert str(e.value) == str(e2.value)


def test_spec_validate_leaves_the_config_as_it_was():
    s = pyrunc.Spec.default()
    s.config["linux"]["seccomp"] = {}     # the loader drops an empty seccomp (runc: no filter)
    s.validate()
    assert s.config["linux"]["seccomp"] == {}


def test_spec_write_and_load(tmp_path):
    s = pyrunc.Spec.default(["true"], terminal=False)
    assert s.write(str(tmp_path)) == str(tmp_path / "config.json")
    assert s.write(tmp_path) == str(tmp_path / "config.json")              # a Path as well
    assert pyrunc.Spec.load(tmp_path).config == s.config
    assert pyrunc.Spec.load(str(tmp_path)).config == s.config
    bad = pyrunc.Spec.default([])
    with pytest.raises(pyrunc.ConfigError):
        bad.write(str(tmp_path))
    assert pyrunc.Spec.load(str(tmp_path)).args == ["true"]   # not replaced by the bad one


# ---- no process-wide state changed ----

def test_the_overlay_mount_changes_only_its_own_threads_cwd(tmp_path, monkeypatch):
    """The lowers are relative to the store's dir, the mount runs there: in a thread of its
    own (unshare CLONE_FS), so that the process's working directory never moves, not even
    for the duration of the mount (other threads of an API program keep theirs)."""
    from pyrunc.image import mount

    libc = ctypes.CDLL(None, use_errno=True)
    seen = {}

    class FakeLib:
        unshare = libc.unshare
        def mount(self, src, target, fstype, flags, data):
            seen["thread"] = os.getcwd()
            seen["process"] = os.readlink("/proc/self/cwd")   # the main thread's
            seen["target"] = target
            return 0

    monkeypatch.setattr(mount, "_lib", lambda: FakeLib())
    base = tmp_path / "layers"
    base.mkdir()
    before = os.getcwd()
    mount.mount_overlay(str(base), ["a/diff"], "/u", "/w", "/target")
    assert seen == {"thread": str(base), "process": before, "target": b"/target"}
    assert os.getcwd() == before
    with pytest.raises(FileNotFoundError):
        mount.mount_overlay(str(tmp_path / "absent"), ["a/diff"], "/u", "/w", "/target")
    assert os.getcwd() == before


def test_api_source_changes_no_process_wide_state():
    """The API's own modules call no chdir, umask, signal handler, prctl or exit."""
    for mod in ("api", "api_types", "api_image"):
        src = inspect.getsource(sys.modules["pyrunc." + mod] if "pyrunc." + mod in sys.modules
                                else __import__("pyrunc." + mod, fromlist=["x"]))
        for word in ("chdir(", "umask(", "signal(", "_signal", "prctl", "_exit(", "exit(", "setsid("):
            assert word not in src, (mod, word)


def test_staging_dirs_of_concurrent_creates_differ_per_thread(tmp_path, monkeypatch):
    """create makes its state dir under a private name: one per thread, or two threads of
    one process creating at once would share (and remove) one."""
    from pyrunc.lifecycle import create

    names = []
    together = threading.Barrier(4, timeout=10)   # all four hold their staging dir at once

    class Shim:
        @staticmethod
        def rename_noreplace(src, dst):
            names.append(src.rpartition("/")[2])
            together.wait()
            os.rename(src, dst)

    def make(cid):
        create._make_locked_dir(str(tmp_path), str(tmp_path / cid), Shim).release()

    threads = [threading.Thread(target=make, args=("c%d" % i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == 4
    assert sorted(os.listdir(tmp_path)) == ["c0", "c1", "c2", "c3"]
