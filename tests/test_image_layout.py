"""OCI image layout: digests, references, resolution and the refusals of bad layouts."""
import json
import os

import pytest

from image_helpers import make_layout, put_blob, sha, tar_bytes, entry
from pyrunc import errors
from pyrunc.image import layout


def test_split_digest():
    h = "a" * 64
    assert layout.split_digest("sha256:" + h) == ("sha256", h)
    assert layout.split_digest("sha512:" + "b" * 128) == ("sha512", "b" * 128)
    for bad in ("sha256:" + "A" * 64, "sha256:" + h[:-1], "md5:" + h, "sha256:../../etc/passwd", h, "",
                "sha256:" + h + "/x", None):
        with pytest.raises(errors.PyruncError):
            layout.split_digest(bad)


def test_digest_bytes():
    assert layout.digest_bytes(b"") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_parse_ref():
    assert layout.parse_ref("img:latest") == ("img", "latest")
    assert layout.parse_ref("/a/b:c/img:v1") == ("/a/b:c/img", "v1")
    assert layout.parse_ref("/a/b:c/img") == ("/a/b:c/img", None)
    assert layout.parse_ref("img") == ("img", None)
    with pytest.raises(errors.PyruncError):
        layout.parse_ref("img:")


def test_sniff():
    assert layout.sniff(b"\x1f\x8b\x08\x00") == "gzip"
    assert layout.sniff(b"\x28\xb5\x2f\xfd") == "zstd"
    assert layout.sniff(b"etc/") == "tar"


@pytest.fixture
def image(tmp_path):
    raw = tar_bytes([entry("etc/", "dir"), entry("etc/hello", data=b"hi\n")])
    info = make_layout(str(tmp_path / "lay"), [raw], {"Cmd": ["/bin/true"]}, tag="v1")
    return tmp_path / "lay", info


def test_image_resolves(image):
    path, info = image
    img = layout.Layout(str(path)).image("v1")
    assert img.manifest_desc["digest"] == info["manifest"]["digest"]
    assert img.diff_ids == info["diff_ids"]
    assert img.config["config"]["Cmd"] == ["/bin/true"]
    # the only image is found without a tag
    assert layout.Layout(str(path)).image(None).manifest_desc["digest"] == info["manifest"]["digest"]


def test_missing_tag(image):
    path, _ = image
    with pytest.raises(errors.PyruncError, match='tag "nope" not found in layout'):
        layout.Layout(str(path)).image("nope")


def test_not_a_layout(tmp_path):
    with pytest.raises(errors.PyruncError, match="not an OCI image layout"):
        layout.Layout(str(tmp_path))


def test_missing_blob(image):
    path, info = image
    os.unlink(path / "blobs/sha256" / info["config"]["digest"][7:])
    with pytest.raises(errors.PyruncError, match="blob sha256:[0-9a-f]{64} is missing from layout"):
        layout.Layout(str(path)).image("v1")


def test_digest_mismatch(image):
    path, info = image
    p = path / "blobs/sha256" / info["config"]["digest"][7:]
    data = bytearray(p.read_bytes())
    data[5] ^= 1          # same size, other content
    p.write_bytes(bytes(data))
    with pytest.raises(errors.PyruncError, match="digest mismatch"):
        layout.Layout(str(path)).image("v1")


def test_size_mismatch(image):
    path, info = image
    p = path / "blobs/sha256" / info["config"]["digest"][7:]
    p.write_bytes(p.read_bytes() + b" ")
    with pytest.raises(errors.PyruncError, match="bytes, its descriptor says"):
        layout.Layout(str(path)).image("v1")


def _rewrite_manifest(path, edit):
    idx = json.loads((path / "index.json").read_text())
    mdesc = idx["manifests"][0]
    doc = json.loads((path / "blobs/sha256" / mdesc["digest"][7:]).read_text())
    edit(doc)
    new = put_blob(str(path), json.dumps(doc).encode())
    mdesc.update(new)
    (path / "index.json").write_text(json.dumps(idx))


def test_unknown_layer_media_type(image):
    path, _ = image
    _rewrite_manifest(path, lambda m: m["layers"][0].update(mediaType="application/x-frobnicated"))
    with pytest.raises(errors.PyruncError, match='unknown layer media type "application/x-frobnicated"'):
        layout.Layout(str(path)).image("v1")


def test_unknown_config_media_type(image):
    path, _ = image
    _rewrite_manifest(path, lambda m: m["config"].update(mediaType="text/plain"))
    with pytest.raises(errors.PyruncError, match='unknown config media type "text/plain"'):
        layout.Layout(str(path)).image("v1")


def test_diff_ids_must_match_layers(tmp_path):
    raw = tar_bytes([entry("a")])
    info = make_layout(str(tmp_path / "lay"), [raw, raw])
    path = tmp_path / "lay"
    _rewrite_manifest(path, lambda m: m["layers"].pop())
    with pytest.raises(errors.PyruncError, match="lists 2 diff_ids for 1 layers"):
        layout.Layout(str(path)).image("latest")
    assert info


def test_index_picks_the_host_platform(tmp_path):
    path = tmp_path / "lay"
    info = make_layout(str(path), [tar_bytes([entry("a")])])
    other = dict(info["manifest"], platform={"os": "linux", "architecture": "s390x-not-this"})
    mine = dict(info["manifest"], platform={"os": "linux", "architecture": layout.host_platform()})
    index = {"schemaVersion": 2, "mediaType": layout.OCI_INDEX, "manifests": [other, mine]}
    idesc = put_blob(str(path), json.dumps(index).encode())
    idesc["mediaType"] = layout.OCI_INDEX
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        dict(idesc, annotations={layout.REF_NAME: "multi"})]}))
    img = layout.Layout(str(path)).image("multi")
    assert img.manifest_desc["digest"] == info["manifest"]["digest"]
    assert img.manifest_desc.get("platform", {}).get("architecture") == layout.host_platform()


def test_set_tag_keeps_others_and_leaves_no_temp(image):
    path, info = image
    lay = layout.Layout(str(path))
    desc = {"mediaType": layout.OCI_MANIFEST, "digest": info["manifest"]["digest"], "size": info["manifest"]["size"]}
    lay.set_tag("v2", desc)
    lay.set_tag("v2", desc)
    tags = [t for t, _ in lay.tags()]
    assert tags == ["v1", "v2"]
    assert sorted(os.listdir(path)) == ["blobs", "index.json", "oci-layout"]


def test_blob_writer_commit_and_abort(image):
    path, _ = image
    lay = layout.Layout(str(path))
    w = lay.writer()
    w.write(b"hello")
    d = w.commit()
    assert d == sha(b"hello") and (path / "blobs/sha256" / d[7:]).read_bytes() == b"hello"
    w = lay.writer()
    w.write(b"half")
    w.abort()
    assert sorted(os.listdir(path)) == ["blobs", "index.json", "oci-layout"]
    assert not lay.has_blob(sha(b"half"))


def test_new_layout_is_created_whole(tmp_path):
    lay = layout.Layout(str(tmp_path / "new"), create=True)
    assert json.loads((tmp_path / "new/oci-layout").read_text())["imageLayoutVersion"] == "1.0.0"
    assert lay.tags() == []
    assert sorted(os.listdir(tmp_path)) == ["new"]


def test_write_file_atomic(tmp_path):
    p = str(tmp_path / "f")
    layout.write_file_atomic(p, b"one")
    layout.write_file_atomic(p, b"two")
    assert open(p, "rb").read() == b"two"
    assert os.listdir(tmp_path) == ["f"]
