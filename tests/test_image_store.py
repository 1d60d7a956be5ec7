"""The layer store (atomic adds, registrations, gc) and the `image` command line."""
import json
import os
import subprocess
import sys

import pytest

from image_helpers import entry, make_layout, tar_bytes
from pyrunc import errors
from pyrunc.cli import main as cli_main
from pyrunc.cli import verbs
from pyrunc.image import bundle, store

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def fill_ok(root):
    with open(root + "/f", "w") as f:
        f.write("x")
    return 1


def test_add_is_atomic(tmp_path):
    st = store.Store(str(tmp_path / "s"))

    def fill_fails(root):
        fill_ok(root)
        raise errors.PyruncError("boom")

    with pytest.raises(errors.PyruncError, match="boom"):
        st.add(D1, fill_fails)
    assert not st.has(D1) and os.listdir(st.tmp) == [] and st.all_layers() == []
    st.add(D1, fill_ok)
    assert st.has(D1) and open(st.diff_dir(D1) + "/f").read() == "x"
    meta = json.load(open(st.layer_dir(D1) + "/layer.json"))
    assert meta["diffID"] == D1 and meta["entries"] == 1
    st.add(D1, fill_ok)            # a racing second extraction is dropped, not an error
    assert st.all_layers() == [D1] and os.listdir(st.tmp) == []


def fake_bundle(path, st, bid, layers):
    os.makedirs(path)
    with open(os.path.join(path, bundle.META), "w") as f:
        json.dump({"id": bid, "store": st.root, "diffIDs": layers, "layout": "/x"}, f)
    st.register(str(path), bid, layers)


def test_gc_keeps_what_bundles_use(tmp_path):
    st = store.Store(str(tmp_path / "s"))
    st.add(D1, fill_ok)
    st.add(D2, fill_ok)
    os.mkdir(st.tmp + "/leftover-of-a-crash")
    fake_bundle(tmp_path / "b1", st, "id1", [D1])
    fake_bundle(tmp_path / "b2", st, "id2", [D2])
    assert st.gc() == []
    assert st.all_layers() == [D1, D2] and os.listdir(st.tmp) == []
    # b2 is gone (rm -rf): its layer goes, its registration too
    os.unlink(tmp_path / "b2" / bundle.META)
    removed = st.gc()
    assert [d for d, _ in removed] == [D2] and st.all_layers() == [D1]
    assert len(os.listdir(st.bundles)) == 1
    # a bundle re-made at the same path by someone else does not keep the old claim
    with open(tmp_path / "b1" / bundle.META, "w") as f:
        json.dump({"id": "other", "store": st.root, "diffIDs": [D1], "layout": "/x"}, f)
    assert [d for d, _ in st.gc()] == [D1]
    st.unregister(str(tmp_path / "b1"), "id1")


def test_store_must_exist_for_gc(tmp_path):
    with pytest.raises(errors.PyruncError, match="not a pyrunc image store"):
        store.Store(str(tmp_path / "none"), create=False)


# ---- the command line ----

def run(argv, capsys):
    try:
        code = cli_main.run(argv)
    except errors.PyruncError as e:
        return 1, "", e.msg
    out = capsys.readouterr().out
    return code, out, ""


def test_image_is_a_verb_with_raw_args():
    assert "image" in verbs.VERBS
    assert verbs.VERBS["image"][2] == []
    import inspect

    assert '"image"' in inspect.getsource(cli_main.run)


def test_ls_and_history(tmp_path, capsys):
    lay = tmp_path / "lay"
    make_layout(str(lay), [tar_bytes([entry("a", data=b"1")]), tar_bytes([entry("b", data=b"2")])],
                tag="v1", extra_tags=("v2",))
    code, out, _ = run(["image", "ls", str(lay)], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["TAG", "MANIFEST", "CREATED", "LAYERS", "SIZE"]
    assert [line.split()[0] for line in lines[1:]] == ["v1", "v2"]
    code, out, _ = run(["image", "ls", "--format", "json", str(lay)], capsys)
    rows = json.loads(out)
    assert [r["layers"] for r in rows] == [2, 2] and rows[0]["digest"].startswith("sha256:")
    code, out, _ = run(["image", "history", str(lay) + ":v1", "-f", "json"], capsys)
    rows = json.loads(out)
    assert [r["createdBy"] for r in rows] == ["test layer 1", "test layer 0"]
    code, out, _ = run(["image", "history", str(lay) + ":v1"], capsys)
    assert "test layer 1" in out.splitlines()[1]


def test_usage_errors(tmp_path, capsys):
    for argv, msg in ((["image", "frob"], "unknown subcommand"),
                      (["image", "unpack", "x"], "requires exactly 2 argument"),
                      (["image", "commit", "--nope", "a", "b"], "flag provided but not defined: -nope")):
        with pytest.raises(errors.UsageError, match=msg):
            cli_main.run(argv)
        assert "Incorrect Usage" in capsys.readouterr().out
    assert cli_main.run(["image"]) == 0
    assert "unpack" in capsys.readouterr().out
    assert cli_main.run(["image", "commit", "--help"]) == 0
    assert "--pause" in capsys.readouterr().out


def test_unpack_of_a_missing_tag_writes_nothing(tmp_path, capsys):
    lay = tmp_path / "lay"
    make_layout(str(lay), [tar_bytes([entry("a")])])
    before = sorted(os.listdir(lay))
    with pytest.raises(errors.PyruncError, match='tag "nope" not found'):
        cli_main.run(["image", "unpack", "--store", str(tmp_path / "s"), str(lay) + ":nope", str(tmp_path / "b")])
    assert not (tmp_path / "s").exists() and not (tmp_path / "b").exists()
    assert sorted(os.listdir(lay)) == before


def test_unpack_refuses_a_used_bundle(tmp_path):
    b = tmp_path / "b"
    (b / "rootfs").mkdir(parents=True)
    bundle._check_target(str(b))           # an empty rootfs is fine
    (b / "rootfs/x").write_text("")
    with pytest.raises(errors.PyruncError, match="already holds rootfs"):
        bundle._check_target(str(b))
    (b / "config.json").write_text("{}")
    with pytest.raises(errors.PyruncError, match="already holds"):
        bundle._check_target(str(b))


def test_cached_unpack_path_imports_no_tarfile():
    """A second unpack of a cached image must not pay for tarfile, zlib or subprocess."""
    code = ("import sys; sys.path[:0] = %r; from pyrunc.image import bundle, convert, mount, store, layout; "
            "print(' '.join(m for m in ('tarfile', 'zlib', 'subprocess', 'json') if m in sys.modules))"
            % [p for p in sys.path if p])
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""
