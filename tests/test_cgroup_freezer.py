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
