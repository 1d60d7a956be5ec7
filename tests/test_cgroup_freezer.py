"""Manager.frozen_for_create on fake cgroup trees (plain directories and files): the
check that makes create fail with runc's "container's cgroup unexpectedly frozen"."""
import pytest

from pyrunc.cgroups.manager import Manager


def tree(tmp_path, files):
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text + "\n")
    return str(tmp_path)


@pytest.mark.parametrize("files,path,frozen", [
    # the container's own cgroup exists
    ({"freezer/ctr/freezer.state": "FROZEN"}, "freezer/ctr", True),
    ({"freezer/ctr/freezer.state": "FREEZING"}, "freezer/ctr", True),
    ({"freezer/ctr/freezer.state": "THAWED"}, "freezer/ctr", False),
    # frozen through its parent: the state reads FROZEN (self_freezing 0)
    ({"freezer/p/freezer.state": "FROZEN", "freezer/p/ctr/freezer.state": "FROZEN"}, "freezer/p/ctr", True),
    # a new cgroup below a frozen parent would be frozen too
    ({"freezer/p/freezer.state": "FROZEN"}, "freezer/p/ctr/sub", True),
    ({"freezer/p/freezer.state": "THAWED"}, "freezer/p/ctr", False),
    # the root of the hierarchy has no freezer.state
    ({"freezer/cgroup.procs": ""}, "freezer/ctr", False),
])
def test_v1(tmp_path, files, path, frozen):
    root = tree(tmp_path, files)
    mgr = Manager("hybrid", {"memory": root + "/memory/x", "freezer": root + "/" + path})
    assert mgr.frozen_for_create() is frozen


@pytest.mark.parametrize("files,path,frozen", [
    ({"u/ctr/cgroup.freeze": "1"}, "u/ctr", True),
    ({"u/ctr/cgroup.freeze": "0"}, "u/ctr", False),
    ({"u/p/cgroup.freeze": "1", "u/p/ctr/cgroup.freeze": "0"}, "u/p/ctr", True),
    ({"u/p/cgroup.freeze": "1"}, "u/p/ctr/new", True),
    ({"u/p/cgroup.freeze": "0", "u/p/ctr/cgroup.freeze": "0"}, "u/p/ctr", False),
    # the root cgroup has no cgroup.freeze: the walk stops there
    ({"u/cgroup.procs": "", "u/ctr/cgroup.freeze": "0"}, "u/ctr", False),
])
def test_v2(tmp_path, files, path, frozen):
    root = tree(tmp_path, files)
    assert Manager("v2", {"": root + "/" + path}).frozen_for_create() is frozen


def test_no_freezer():
    assert Manager("hybrid", {"memory": "/nonexistent/memory/x"}).frozen_for_create() is False
    assert Manager("none", {}).frozen_for_create() is False


@pytest.mark.parametrize("mode,key,name,on,off", [
    ("hybrid", "freezer", "freezer.state", "FROZEN", "THAWED"),
    ("v2", "", "cgroup.freeze", "1", "0"),
])
def test_thaw_sub_cgroups(tmp_path, mode, key, name, on, off):
    """Every frozen cgroup below the container's is thawed (delete --force), the
    container's own is left to its caller; what is not frozen is not written."""
    files = {f"ctr/{name}": on, f"ctr/a/{name}": on, f"ctr/a/b/{name}": on, f"ctr/c/{name}": off}
    if mode != "v2":
        files.update({"ctr/freezer.self_freezing": "1", "ctr/a/freezer.self_freezing": "1",
                      "ctr/a/b/freezer.self_freezing": "1", "ctr/c/freezer.self_freezing": "0"})
    root = tree(tmp_path, files)
    paths = {key: root + "/ctr"} if mode == "v2" else {"memory": root + "/m", key: root + "/ctr"}
    Manager(mode, paths).thaw_sub_cgroups()
    got = {rel: (tmp_path / rel).read_text().strip() for rel in files if rel.endswith(name)}
    assert got == {f"ctr/{name}": on, f"ctr/a/{name}": off, f"ctr/a/b/{name}": off, f"ctr/c/{name}": off}
