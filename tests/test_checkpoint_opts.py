"""checkpoint/restore option handling (runc 1.1.5's checkpoint.go rules) and CRIU's reasons."""
import os

import pytest

from pyrunc import errors
from pyrunc.lifecycle import checkpoint as ck
from pyrunc.lifecycle import criu


@pytest.mark.parametrize("text, want", [("10.0.0.1:27", ("10.0.0.1", 27)), ("host:1", ("host", 1)),
                                        ("[::1]:8080", ("::1", 8080))])
def test_page_server_address_and_port(text, want):
    assert ck.page_server(text) == want


@pytest.mark.parametrize("text, wording", [("nohost", "Use --page-server ADDRESS:PORT"),
                                           (":27", "Use --page-server ADDRESS:PORT"),
                                           ("h:", "Use --page-server ADDRESS:PORT"),
                                           ("::1:27", "Use --page-server ADDRESS:PORT"),
                                           ("h:port", "Invalid port number")])
def test_page_server_refusals(text, wording):
    with pytest.raises(errors.PyruncError, match=wording):
        ck.page_server(text)


def test_empty_ns_always_has_network_and_takes_only_network():
    assert ck.empty_ns_mask(None) == ck.CLONE_NEWNET
    assert ck.empty_ns_mask(["network"]) == ck.CLONE_NEWNET
    with pytest.raises(errors.PyruncError, match='namespace "pid" is not supported'):
        ck.empty_ns_mask(["network", "pid"])


def test_manage_cgroups_mode():
    class Rpc:
        IGNORE, SOFT, FULL, STRICT = 0, 3, 4, 5
    assert ck.cg_mode(Rpc, "") is None
    assert [ck.cg_mode(Rpc, m) for m in ("soft", "full", "strict", "ignore")] == [3, 4, 5, 0]
    with pytest.raises(errors.PyruncError, match="Invalid manage cgroups mode"):
        ck.cg_mode(Rpc, "SOFT")


def test_manage_cgroups_mode_is_criu_s_enum():
    """The names map onto CRIU's own criu_cg_mode values (pycriu's rpc_pb2); ignore is 0,
    which must still be sent (a set optional field), not dropped as "no mode"."""
    try:
        rpc = criu.rpc()
    except errors.PyruncError as e:
        pytest.fail(f"pycriu is part of the criu package pyrunc depends on: {e}")
    for name in ("soft", "full", "strict", "ignore"):
        assert ck.cg_mode(rpc, name) == rpc.criu_cg_mode.Value(name.upper())
    opts = rpc.criu_opts(images_dir_fd=3)
    opts.manage_cgroups_mode = ck.cg_mode(rpc, "ignore")
    assert opts.HasField("manage_cgroups_mode") and opts.manage_cgroups_mode == rpc.IGNORE


def test_cgroup_roots_from_proc_cgroup():
    """restore's cg_root entries: one per controller of CRIU's cgroup, the cgroup2 line
    under "" (runc's parser), joined controllers split, each once."""
    from pyrunc.lifecycle import restore

    v1 = ("12:misc:/\n11:cpu,cpuacct:/c1\n10:memory:/c1\n1:name=systemd:/c1\n0::/c1\n")
    assert restore.cg_roots(v1) == [("misc", "/"), ("cpu", "/c1"), ("cpuacct", "/c1"), ("memory", "/c1"),
                                    ("name=systemd", "/c1"), ("", "/c1")]
    assert restore.cg_roots("0::/a/b:c\n") == [("", "/a/b:c")]
    assert restore.cg_roots("") == []


def test_image_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert ck.image_paths({}) == (str(tmp_path) + "/checkpoint", "")
    assert (tmp_path / "checkpoint").is_dir()
    img = tmp_path / "a" / "b"
    (tmp_path / "a" / "pre").mkdir(parents=True)
    (tmp_path / "a" / "file").write_text("")
    assert ck.image_paths({"image-path": str(img), "parent-path": "../pre"}) == (str(img), "../pre")
    with pytest.raises(errors.PyruncError, match="--parent-path must be relative"):
        ck.image_paths({"image-path": str(img), "parent-path": "/pre"})
    with pytest.raises(errors.PyruncError, match="invalid --parent-path: stat .*: no such file or directory"):
        ck.image_paths({"image-path": str(img), "parent-path": "../nosuch"})
    with pytest.raises(errors.PyruncError, match="invalid --parent-path: stat .*: not a directory"):
        ck.image_paths({"image-path": str(img), "parent-path": "../file"})


def test_mount_destinations_resolve_inside_the_rootfs(tmp_path):
    root = tmp_path / "rootfs"
    (root / "real" / "sub").mkdir(parents=True)
    os.symlink("/real", root / "abs")
    os.symlink("../../real", root / "rel")
    os.symlink("/..", root / "up")
    r = str(root)
    assert ck.in_rootfs(r, "/abs/sub") == "/real/sub"
    assert ck.in_rootfs(r, "rel/sub") == "/real/sub"
    assert ck.in_rootfs(r, "/up/etc") == "/etc"
    assert ck.in_rootfs(r, "/new/./x/../y") == "/new/y"


def test_bind_mounts_are_told_by_type_or_option():
    assert ck.is_bind({"type": "bind"}) and ck.is_bind({"type": "none", "options": ["rbind"]})
    assert not ck.is_bind({"type": "tmpfs", "options": ["nosuid"]})


def test_criu_reason_from_its_log(tmp_path):
    log = tmp_path / "dump.log"
    log.write_text("(00.01) Warn  (x.c:1): no\n(00.050556) Error (criu/vdso.c:381): vdso: Unexpected rt "
                   "vDSO area bounds\n(00.06) Error (criu/kerndat.c:2): later\n")
    assert criu.first_error(str(log)) == "vdso: Unexpected rt vDSO area bounds"
    assert criu.first_error(str(tmp_path / "none")) is None
    assert criu._reason("Error (criu/files-reg.c:1710): Can't lookup mount=35") == "Can't lookup mount=35"
    assert criu._reason("plain") == "plain"
