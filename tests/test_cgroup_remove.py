"""fs.remove and fs.tree_pids on plain directories: a container's own cgroup goes with
every sub-cgroup below it (runc's RemovePath), a parent pyrunc made only when empty."""
import os

import pytest

from pyrunc.cgroups import fs
from pyrunc.errors import CgroupError


def test_a_leaf_goes_with_its_sub_cgroups(tmp_path):
    leaf = tmp_path / "parent" / "ctr"
    for sub in ("wl/inner", "exec/deeper", "empty"):
        (leaf / sub).mkdir(parents=True)
    made = [str(tmp_path / "parent"), str(leaf)]
    fs.remove(made, leaves=[str(leaf)])
    assert not (tmp_path / "parent").exists()


def test_a_parent_keeps_what_is_not_ours(tmp_path):
    parent = tmp_path / "parent"
    (parent / "ctr" / "sub").mkdir(parents=True)
    (parent / "other-container").mkdir()
    # the leaf goes with what is below it; the parent we made stays, without an error,
    # while another container's cgroup is in it (runc never removes a parent)
    fs.remove([str(parent), str(parent / "ctr")], leaves=[str(parent / "ctr")])
    assert sorted(os.listdir(parent)) == ["other-container"]


def test_without_leaves_a_busy_dir_is_an_error(tmp_path):
    (tmp_path / "ctr" / "sub").mkdir(parents=True)
    with pytest.raises(CgroupError):
        fs.remove([str(tmp_path / "ctr")])
    assert (tmp_path / "ctr" / "sub").is_dir()


def test_tree_pids_reads_every_sub_cgroup(tmp_path):
    files = {"cgroup.procs": "1\n2\n", "a/cgroup.procs": "3\n", "a/b/cgroup.procs": "4\n5\n", "c/cgroup.procs": ""}
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert sorted(fs.tree_pids(str(tmp_path))) == [1, 2, 3, 4, 5]
    assert fs.tree_pids(str(tmp_path / "gone")) == []
