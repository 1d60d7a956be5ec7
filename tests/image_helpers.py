"""Build tar layers and OCI image layouts in tests, byte by byte, without any tool."""
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile


def entry(name, kind="file", data=b"", mode=None, uid=0, gid=0, mtime=1700000000, target="", dev=(0, 0),
          xattrs=None):
    return dict(name=name, kind=kind, data=data, mode=mode, uid=uid, gid=gid, mtime=mtime, target=target, dev=dev,
                xattrs=xattrs or {})


def tar_bytes(entries):
    """entries: dicts from entry(); kinds file, dir, symlink, hardlink, chr, blk, fifo."""
    buf = io.BytesIO()
    types = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
             "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.type = types[e["kind"]]
            ti.mode = e["mode"] if e["mode"] is not None else (0o755 if e["kind"] == "dir" else 0o644)
            ti.uid, ti.gid, ti.mtime = e["uid"], e["gid"], e["mtime"]
            if e["kind"] in ("symlink", "hardlink"):
                ti.linkname = e["target"]
            if e["kind"] in ("chr", "blk"):
                ti.devmajor, ti.devminor = e["dev"]
            if e["xattrs"]:
                ti.pax_headers = {"SCHILY.xattr." + k: v.decode("utf-8", "surrogateescape")
                                  for k, v in e["xattrs"].items()}
            data = e["data"] if e["kind"] == "file" else b""
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data) if data else None)
    return buf.getvalue()


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compress(data, how):
    if how == "gzip":
        return gzip.compress(data, mtime=0)
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout
    return data


MEDIA = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip", "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
         "tar": "application/vnd.oci.image.layer.v1.tar"}


def put_blob(layout, data):
    d = sha(data)
    path = os.path.join(layout, "blobs", "sha256", d[7:])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return {"digest": d, "size": len(data)}


def make_layout(layout, layers, config=None, tag="latest", how="gzip", media=None, extra_tags=()):
    """An OCI layout at `layout` with one image of `layers` (raw tars). -> info dict."""
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    descs = []
    for raw in layers:
        blob = compress(raw, how)
        d = put_blob(layout, blob)
        d["mediaType"] = media or MEDIA[how]
        descs.append(d)
    cfg = {"architecture": "amd64", "os": "linux", "config": {},
           "rootfs": {"type": "layers", "diff_ids": [sha(raw) for raw in layers]},
           "history": [{"created_by": "test layer %d" % i} for i in range(len(layers))]}
    if config:
        cfg["config"].update(config)
    cbytes = json.dumps(cfg).encode()
    cdesc = put_blob(layout, cbytes)
    cdesc["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": cdesc, "layers": descs}
    mbytes = json.dumps(manifest).encode()
    mdesc = put_blob(layout, mbytes)
    mdesc["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    index = {"schemaVersion": 2, "manifests": []}
    for t in (tag,) + tuple(extra_tags):
        index["manifests"].append(dict(mdesc, annotations={"org.opencontainers.image.ref.name": t}))
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    return {"manifest": mdesc, "config": cdesc, "layers": descs, "diff_ids": cfg["rootfs"]["diff_ids"],
            "config_doc": cfg, "manifest_doc": manifest}


def tree(root):
    """{relative path: (type, mode, uid, gid, size, data or link target, rdev, xattrs)} of a directory."""
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            s = os.lstat(p)
            rel = os.path.relpath(p, root)
            kind = s.st_mode & 0o170000
            if os.path.islink(p):
                content = os.readlink(p)
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    content = f.read()
            else:
                content = None
            try:
                xa = {k: os.getxattr(p, k, follow_symlinks=False)
                      for k in os.listxattr(p, follow_symlinks=False) if not k.startswith("trusted.overlay.")}
            except OSError:
                xa = {}
            out[rel] = (kind, s.st_mode & 0o7777, s.st_uid, s.st_gid, content, s.st_rdev, tuple(sorted(xa.items())))
    return out
