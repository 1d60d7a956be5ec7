"""Status is derived at every read: the process, its start time, the fifo, the freezer."""
import marshal
import os
import time

import pytest

from pyrunc import errors
from pyrunc.state import store


def own_state(tmp_path, **kw):
    pid = os.getpid()
    st = {"id": "c1", "pid": pid, "pidStart": store.proc_stat(pid)[1]}
    st.update(kw)
    return st


def test_running_created_stopped(tmp_path):
    st = own_state(tmp_path)
    assert store.status(str(tmp_path), st) == "running"
    (tmp_path / store.FIFO).write_text("")
    assert store.status(str(tmp_path), st) == "created"
    st["pidStart"] += 1  # a recycled pid: another process now
    assert store.status(str(tmp_path), st) == "stopped"
    assert store.status(str(tmp_path), {"pid": 0}) == "stopped"


def test_zombie_is_stopped(tmp_path):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        for _ in range(200):
            if store.proc_stat(pid)[0] == "Z":
                break
            time.sleep(0.01)
        st = {"id": "z", "pid": pid, "pidStart": store.proc_stat(pid)[1]}
        assert store.status(str(tmp_path), st) == "stopped"
    finally:
        os.waitpid(pid, 0)


def test_paused_from_freezer(tmp_path):
    f = tmp_path / "freezer.state"
    f.write_text("FROZEN\n")
    assert store.status(str(tmp_path), own_state(tmp_path, freezer=str(f))) == "paused"
    f.write_text("THAWED\n")
    assert store.status(str(tmp_path), own_state(tmp_path, freezer=str(f))) == "running"


def test_creating_until_ready(tmp_path):
    assert store.status(str(tmp_path), own_state(tmp_path, status="creating")) == "creating"


def test_public_state_shape():
    st = {"ociVersion": "1.2.0", "id": "c", "pid": 7, "bundle": "/b", "rootfs": "/b/r",
          "created": "2026-01-01T00:00:00Z", "annotations": {}, "cgroupPaths": {}}
    out = store.public_state(st, "stopped")
    assert list(out) == ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"]
    assert out["pid"] == 0
    st["annotations"] = {"a": "b"}
    assert list(store.public_state(st, "running")) == ["ociVersion", "id", "pid", "status", "bundle", "rootfs",
                                                         "created", "annotations", "owner"]


def test_read_state_missing_and_broken(tmp_path):
    with pytest.raises(errors.ContainerNotFound):
        store.read_state(str(tmp_path / "nope"))
    d = tmp_path / "half"
    d.mkdir()
    assert store.read_state(str(d))["broken"] is True
    full = marshal.dumps({"id": "half", "pid": 1}, 4)
    for bad in (full[:len(full) // 2], b"", b'{"id": "half", "pid": 1}', marshal.dumps(["id"], 4),
                b"[\xff\xff\xff\x7f"):
        (d / "state").write_bytes(bad)
        assert store.read_state(str(d))["broken"] is True, bad


def test_write_state_is_atomic_rename(tmp_path):
    store.write_state(str(tmp_path), {"id": "a", "pid": 1})
    assert store.read_state(str(tmp_path))["pid"] == 1
    assert sorted(os.listdir(tmp_path)) == ["state"]


def test_pid_file_has_no_newline(tmp_path):
    p = tmp_path / "pid"
    store.write_pid_file(str(p), 1234)
    assert p.read_bytes() == b"1234"


@pytest.mark.parametrize("cid", ["", ".", "..", "a/b", "a b", "x" * 1025, "a\0b", "ü"])
def test_invalid_ids(cid):
    with pytest.raises(errors.InvalidIDError):
        store.validate_id(cid)


@pytest.mark.parametrize("cid", ["a", "A_b-c.d+e,f", "0" * 255])
def test_valid_ids(cid):
    store.validate_id(cid)


def test_unwritten_state_is_creating_while_its_creator_holds_the_lock(tmp_path):
    """A dir without a state file: being created while locked (create locks it before it is
    visible), a create that died otherwise."""
    cdir = tmp_path / "c1"
    cdir.mkdir()
    st = store.read_state(str(cdir))
    assert st.get("broken")
    assert store.reported_status(str(cdir), st) == "stopped"
    with store.Lock(str(cdir)):
        pid = os.fork()
        if pid == 0:  # another process: flock locks are per open file, as between commands
            seen = (store.reported_status(str(cdir), store.read_state(str(cdir))),
                    store.status(str(cdir), store.read_state(str(cdir))))
            os._exit(0 if seen == ("creating", "stopped") else 1)
        _, code = os.waitpid(pid, 0)
        assert code == 0
    assert store.reported_status(str(cdir), st) == "stopped"


def test_config_file_keeps_the_config_and_the_cgroups_record(tmp_path):
    """One file holds the config that exec reads and the cgroups a broken state falls
    back on; update replaces the config and keeps the record."""
    d = str(tmp_path)
    rec = {"mode": "legacy", "paths": {"memory": "/sys/fs/cgroup/memory/c1"},
           "created": ["/sys/fs/cgroup/memory/c1"], "cgroupDriver": "cgroupfs"}
    spec = {"ociVersion": "1.2.0", "process": {"args": ("sh",)}}
    store.write_config(d, spec, rec)
    assert sorted(os.listdir(tmp_path)) == ["config"]
    assert store.read_config(d) == {"ociVersion": "1.2.0", "process": {"args": ["sh"]}}
    st = store.read_state(d)      # no state file: broken, with the record's cgroups
    assert st["broken"] and st["cgroupPaths"] == rec["paths"] and st["cgroupsCreated"] == rec["created"]
    store.replace_config(d, {"ociVersion": "1.2.0", "linux": {}})
    assert store.read_config(d) == {"ociVersion": "1.2.0", "linux": {}}
    assert store.read_state(d)["cgroupPaths"] == rec["paths"]
    for bad in (b"", b"\x00\xff", marshal.dumps({"spec": [], "cgroups": 1}, 4)):
        (tmp_path / "config").write_bytes(bad)
        assert store.read_config(d) == {}
        assert "cgroupPaths" not in store.read_state(d)
    with pytest.raises(TypeError):
        store.write_config(d, {"x": object()}, rec)   # what could not be read back is not written
