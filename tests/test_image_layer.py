"""Layers: path-escape refusal (no root needed), streams and digests, whiteout conversion
to overlayfs's form and back (root: 0:0 char devices, trusted.* xattrs, owners)."""
import io
import os
import stat
import tarfile

import pytest

from image_helpers import compress, entry, sha, tar_bytes, tree
from pyrunc import errors
from pyrunc.image import layer


@pytest.fixture
def root():
    if os.geteuid() != 0:
        pytest.fail("this test makes 0:0 char devices and trusted.* xattrs: run it as root (never skipped)",
                    pytrace=False)


def extract(raw, dest, lowers=(), same_owner=None):
    os.makedirs(dest, exist_ok=True)
    return layer.extract(io.BytesIO(raw), str(dest), [str(x) for x in lowers], "layer test",
                         same_owner=same_owner)


# ---- names ----

def test_split_name():
    assert layer.split_name("./etc/passwd") == ["etc", "passwd"]
    assert layer.split_name("etc//x/") == ["etc", "x"]
    assert layer.split_name("./") == []
    for bad in ("/etc/passwd", "../x", "a/../../x", "a/.."):
        with pytest.raises(layer.LayerError):
            layer.split_name(bad)


def test_whiteout_target():
    assert layer.whiteout_target(".wh.foo") == "foo"
    assert layer.whiteout_target(".wh..wh..opq") == layer.OPQ
    assert layer.whiteout_target(".wh..wh.plnk") == ""


# ---- escapes: refused, and nothing written outside ----

@pytest.mark.parametrize("entries, why", [
    ([entry("../escaped", data=b"x")], "escapes the root"),
    ([entry("/abs", data=b"x")], "absolute path"),
    ([entry("a/b/../../../escaped", data=b"x")], "escapes the root"),
    ([entry("link", "symlink", target="/"), entry("link/escaped", data=b"x")], 'through the symlink "link"'),
    ([entry("link", "symlink", target="../outside"), entry("link/escaped", data=b"x")],
     'through the symlink "link"'),
    ([entry("d/", "dir"), entry("d/l", "symlink", target="../.."), entry("d/l/escaped", data=b"x")],
     'through the symlink "d/l"'),
    ([entry("hl", "hardlink", target="../outside/secret")], "escapes the root"),
    ([entry("l", "symlink", target="../outside"), entry("hl", "hardlink", target="l/secret")],
     "not in the layer or below"),
])
def test_escape_refused(tmp_path, entries, why):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    with pytest.raises(layer.LayerError, match=why):
        extract(tar_bytes(entries), tmp_path / "root", same_owner=False)
    assert sorted(os.listdir(outside)) == ["secret"]
    assert not (tmp_path / "escaped").exists()


def test_symlinks_themselves_are_fine(tmp_path):
    extract(tar_bytes([entry("bin", "symlink", target="/usr/bin"), entry("usr/bin/", "dir"),
                       entry("usr/bin/sh", data=b"#!")]), tmp_path / "r", same_owner=False)
    assert os.readlink(tmp_path / "r/bin") == "/usr/bin"
    assert (tmp_path / "r/usr/bin/sh").read_bytes() == b"#!"


def test_replacing_entries(tmp_path):
    raw = tar_bytes([entry("x/", "dir"), entry("x/f", data=b"1"), entry("x", data=b"now a file"),
                     entry("y", data=b"old"), entry("y", data=b"new")])
    extract(raw, tmp_path / "r", same_owner=False)
    assert (tmp_path / "r/x").read_bytes() == b"now a file"
    assert (tmp_path / "r/y").read_bytes() == b"new"


def test_not_a_tar(tmp_path):
    with pytest.raises(layer.LayerError, match="not a valid tar"):
        extract(b"\x00garbage" * 100, tmp_path / "r", same_owner=False)


def test_many_dirs_do_not_exhaust_fds(tmp_path):
    entries = []
    for i in range(300):
        entries += [entry("d%d/" % i, "dir"), entry("d%d/s/" % i, "dir"), entry("d%d/s/f" % i, data=b"x")]
    entries += [entry("d0/s/late", data=b"y"), entry("hl", "hardlink", target="d5/s/f")]
    extract(tar_bytes(entries), tmp_path / "r", same_owner=False)
    assert (tmp_path / "r/d0/s/late").read_bytes() == b"y"
    assert os.stat(tmp_path / "r/hl").st_ino == os.stat(tmp_path / "r/d5/s/f").st_ino


# ---- streams: compression and digests ----

RAW = tar_bytes([entry("etc/", "dir"), entry("etc/hello", data=b"hello\n" * 1000)])


@pytest.mark.parametrize("how", ["gzip", "zstd", "tar"])
def test_stream_verifies(tmp_path, how):
    blob = compress(RAW, how)
    p = tmp_path / "blob"
    p.write_bytes(blob)
    fd = os.open(p, os.O_RDONLY)
    s = layer.Stream(fd, sha(blob), sha(RAW), "layer x")
    try:
        assert s.kind == how
        extract_from(s, tmp_path / "r")
        s.check()
    finally:
        s.close()
        os.close(fd)
    assert (tmp_path / "r/etc/hello").read_bytes() == b"hello\n" * 1000


def extract_from(stream, dest):
    os.makedirs(dest)
    return layer.extract(stream, str(dest), (), "layer x", same_owner=False)


def test_stream_multimember_gzip(tmp_path):
    blob = compress(RAW[:5000], "gzip") + compress(RAW[5000:], "gzip")
    p = tmp_path / "blob"
    p.write_bytes(blob)
    fd = os.open(p, os.O_RDONLY)
    s = layer.Stream(fd, sha(blob), sha(RAW), "layer x")
    assert s.read() == RAW
    s.check()
    os.close(fd)


@pytest.mark.parametrize("how", ["gzip", "zstd", "tar"])
def test_stream_blob_digest_mismatch(tmp_path, how):
    blob = compress(RAW, how)
    p = tmp_path / "blob"
    p.write_bytes(blob)
    fd = os.open(p, os.O_RDONLY)
    s = layer.Stream(fd, sha(b"other"), sha(RAW), "layer x") if how != "zstd" else None
    if how == "zstd":
        with pytest.raises(layer.LayerError, match="blob digest mismatch"):
            layer.Stream(fd, sha(b"other"), sha(RAW), "layer x")
    else:
        s.read()
        with pytest.raises(layer.LayerError, match="blob digest mismatch"):
            s.check()
    os.close(fd)


def test_stream_diff_id_mismatch(tmp_path):
    blob = compress(RAW, "gzip")
    p = tmp_path / "blob"
    p.write_bytes(blob)
    fd = os.open(p, os.O_RDONLY)
    s = layer.Stream(fd, sha(blob), sha(b"not it"), "layer x")
    s.read()
    with pytest.raises(layer.LayerError, match="the config's diff_id is"):
        s.check()
    os.close(fd)


def test_stream_truncated_gzip(tmp_path):
    blob = compress(RAW, "gzip")[:-20]
    p = tmp_path / "blob"
    p.write_bytes(blob)
    fd = os.open(p, os.O_RDONLY)
    s = layer.Stream(fd, sha(blob), sha(RAW), "layer x")
    with pytest.raises(layer.LayerError, match="truncated gzip"):
        s.read()
    os.close(fd)


# ---- whiteouts, owners, xattrs (root) ----

def test_whiteouts_become_overlay_form(tmp_path, root):
    raw = tar_bytes([
        entry("etc/.wh.gone"),                       # implicit parent etc/
        entry("data/", "dir"), entry("data/.wh..wh..opq"), entry("data/kept", data=b"k"),
        entry(".wh.tmp"),
        entry("same", data=b"here"), entry(".wh.same"),   # a whiteout never hides its own layer
        entry(".wh..wh.plnk"),                       # aufs metadata: ignored
    ])
    extract(raw, tmp_path / "r")
    r = tmp_path / "r"
    for wh in (r / "etc/gone", r / "tmp"):
        s = os.lstat(wh)
        assert stat.S_ISCHR(s.st_mode) and s.st_rdev == 0
    assert os.getxattr(r / "data", "trusted.overlay.opaque") == b"y"
    assert (r / "data/kept").read_bytes() == b"k"
    assert (r / "same").read_bytes() == b"here"
    assert sorted(os.listdir(r)) == ["data", "etc", "same", "tmp"]


def test_dir_over_whiteout_is_opaque(tmp_path, root):
    extract(tar_bytes([entry(".wh.d"), entry("d/", "dir"), entry("d/new", data=b"n")]), tmp_path / "r")
    assert os.getxattr(tmp_path / "r/d", "trusted.overlay.opaque") == b"y"


def test_implicit_dirs_take_lower_attributes(tmp_path, root):
    extract(tar_bytes([entry("./", "dir", mode=0o755), entry("home/", "dir", mode=0o750, uid=1000, gid=1001,
                                                             mtime=1600000000)]), tmp_path / "l0")
    extract(tar_bytes([entry("home/.wh.old"), entry("home/new", data=b"n")]), tmp_path / "l1",
            lowers=[tmp_path / "l0"])
    s = os.lstat(tmp_path / "l1/home")
    assert (stat.S_IMODE(s.st_mode), s.st_uid, s.st_gid, int(s.st_mtime)) == (0o750, 1000, 1001, 1600000000)


def test_hardlink_to_lower_is_copied(tmp_path, root):
    extract(tar_bytes([entry("f", data=b"lower", mode=0o600, uid=7)]), tmp_path / "l0")
    extract(tar_bytes([entry("g", "hardlink", target="f")]), tmp_path / "l1", lowers=[tmp_path / "l0"])
    s = os.lstat(tmp_path / "l1/g")
    assert (tmp_path / "l1/g").read_bytes() == b"lower" and s.st_uid == 7 and s.st_nlink == 1


def test_attributes_devices_and_xattrs(tmp_path, root):
    raw = tar_bytes([
        entry("f", data=b"x", mode=0o4751, uid=1234, gid=5678, mtime=1500000000, xattrs={"user.k": b"v\xff"}),
        entry("null", "chr", dev=(1, 3), mode=0o666), entry("blk", "blk", dev=(7, 0), mode=0o660),
        entry("fifo", "fifo", mode=0o620), entry("l", "symlink", target="f", uid=3, gid=4),
        entry("h", "hardlink", target="f"),
        entry("d/", "dir", mode=0o1777, mtime=1400000000),
        entry("d/x", data=b"", xattrs={"trusted.overlay.redirect": b"/etc", "user.ok": b"1"}),
    ])
    extract(raw, tmp_path / "r")
    r = tmp_path / "r"
    s = os.lstat(r / "f")
    assert (stat.S_IMODE(s.st_mode), s.st_uid, s.st_gid, int(s.st_mtime)) == (0o4751, 1234, 5678, 1500000000)
    assert os.getxattr(r / "f", "user.k") == b"v\xff"
    assert os.lstat(r / "null").st_rdev == os.makedev(1, 3) and stat.S_ISCHR(os.lstat(r / "null").st_mode)
    assert stat.S_ISBLK(os.lstat(r / "blk").st_mode)
    assert stat.S_ISFIFO(os.lstat(r / "fifo").st_mode) and stat.S_IMODE(os.lstat(r / "fifo").st_mode) == 0o620
    assert os.lstat(r / "l").st_uid == 3
    assert os.lstat(r / "h").st_ino == s.st_ino
    assert stat.S_IMODE(os.lstat(r / "d").st_mode) == 0o1777 and int(os.lstat(r / "d").st_mtime) == 1400000000
    # overlayfs's own xattrs never come from an archive
    assert os.listxattr(r / "d/x") == ["user.ok"]


def test_zero_zero_char_device_refused(tmp_path, root):
    with pytest.raises(layer.LayerError, match="0:0 character device"):
        extract(tar_bytes([entry("c", "chr", dev=(0, 0))]), tmp_path / "r")


# ---- upper dir -> layer ----

def make_upper(u):
    os.makedirs(u / "etc")
    (u / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.mknod(u / "etc/gone", stat.S_IFCHR | 0o000, 0)        # whiteout
    os.makedirs(u / "opaque/sub")
    os.setxattr(u / "opaque", "trusted.overlay.opaque", b"y")
    os.setxattr(u / "etc", "trusted.overlay.origin", b"\x00junk")
    (u / "opaque/sub/new").write_text("n")
    (u / "a").write_text("hard")
    os.link(u / "a", u / "b")
    os.symlink("/etc/passwd", u / "sym")
    os.mknod(u / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mkfifo(u / "fifo", 0o640)
    os.chown(u / "a", 1000, 1000)
    os.chmod(u / "a", 0o4755)
    os.setxattr(u / "a", "user.note", b"hello")
    os.utime(u / "a", (1500000000, 1500000000))


def write_layer(upper):
    out = io.BytesIO()
    diff_id, size, n = layer.write_layer(str(upper), out)
    return out.getvalue(), diff_id


def test_diff_round_trip(tmp_path, root):
    u = tmp_path / "upper"
    u.mkdir()
    make_upper(u)
    blob, diff_id = write_layer(u)
    import gzip

    raw = gzip.decompress(blob)
    assert sha(raw) == diff_id
    names = [m.name for m in tarfile.open(fileobj=io.BytesIO(raw))]
    assert "etc/.wh.gone" in names and "opaque/.wh..wh..opq" in names
    # whiteouts come before their siblings, the opaque marker right after its dir
    assert names.index("etc/.wh.gone") < names.index("etc/passwd")
    assert names.index("opaque/.wh..wh..opq") == names.index("opaque") + 1
    members = {m.name: m for m in tarfile.open(fileobj=io.BytesIO(raw))}
    assert members["b"].islnk() and members["b"].linkname == "a"
    assert "SCHILY.xattr.user.note" in members["a"].pax_headers
    assert not any("overlay" in k for m in members.values() for k in m.pax_headers)
    # and back: the same tree as the upper
    extract(raw, tmp_path / "again")
    assert tree(tmp_path / "again") == tree(u)
    assert os.getxattr(tmp_path / "again/opaque", "trusted.overlay.opaque") == b"y"
    assert "trusted.overlay.opaque" not in os.listxattr(tmp_path / "again/etc")
    assert os.lstat(tmp_path / "again/a").st_ino == os.lstat(tmp_path / "again/b").st_ino


def test_diff_is_deterministic(tmp_path, root):
    u = tmp_path / "upper"
    u.mkdir()
    make_upper(u)
    assert write_layer(u) == write_layer(u)


def test_diff_refuses_wh_names_and_redirects(tmp_path, root):
    u = tmp_path / "u1"
    u.mkdir()
    (u / ".wh.sneaky").write_text("")
    with pytest.raises(layer.LayerError, match="names starting with .wh."):
        write_layer(u)
    u = tmp_path / "u2"
    (u / "d").mkdir(parents=True)
    os.setxattr(u / "d", "trusted.overlay.redirect", b"/x")
    with pytest.raises(layer.LayerError, match="redirect_dir or metacopy"):
        write_layer(u)


def test_file_shrinking_during_read(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"12345")
    fd = os.open(p, os.O_RDONLY)
    ex = layer._Exact(fd, 10, "f")
    assert ex.read(5) == b"12345"
    with pytest.raises(errors.PyruncError, match="shrank"):
        ex.read(5)
    os.close(fd)


def test_merged_path(tmp_path, root):
    l0, l1 = tmp_path / "l0", tmp_path / "l1"
    extract(tar_bytes([entry("a/", "dir"), entry("a/b/", "dir"), entry("a/b/c", data=b"0"),
                       entry("x/", "dir"), entry("x/y", data=b"0")]), l0)
    extract(tar_bytes([entry("a/", "dir"), entry("a/.wh..wh..opq"), entry(".wh.x")]), l1, lowers=[l0])
    lowers = [str(l1), str(l0)]
    assert layer.merged_path(lowers, ["a", "b", "c"]) is None       # opaque above
    assert layer.merged_path(lowers, ["x", "y"]) is None            # whited out
    assert layer.merged_path(lowers, ["a"]) == str(l1) + "/a"
    assert layer.merged_path([str(l0)], ["a", "b", "c"]) == str(l0) + "/a/b/c"
