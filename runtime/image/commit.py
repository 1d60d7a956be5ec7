"""`image commit`: a bundle's upper dir -> a new gzip layer on top of the bundle's image,
with a new config (the parent's, diff_ids and history appended) and manifest, tagged in
the target layout's index.json. Blobs go first, each through a temp file and a rename;
index.json is replaced last, in one rename: an interrupted commit leaves the layout as it
was (at most whole, unreferenced blobs). The parent image is never modified.

A running container may be committed: without --pause the upper dir is read while the
container writes, so a file written meanwhile may be caught half-way (one that shrinks
while it is read fails the commit); --pause freezes the containers that run from the
bundle (the cgroup freezer, as `pyrunc pause`) while the upper dir is read, and thaws
them afterwards, so the layer is one consistent moment.
"""
import posix

from pyrunc import errors, jsonio, log
from pyrunc.image import layout


def _pause_all(root, bundle):
    from pyrunc.image import bundle as bundle_mod
    from pyrunc.lifecycle import pause

    paused = []
    try:
        for cid, status in bundle_mod.containers_of(root, bundle):
            if status in ("running", "created"):
                pause.pause(root, cid)
                paused.append(cid)
                log.debugf("image commit: paused container %s" % cid)
    except BaseException:
        _resume_all(root, paused)
        raise
    return paused


def _resume_all(root, paused):
    from pyrunc.lifecycle import pause

    err = None
    for cid in paused:
        try:
            pause.resume(root, cid)
            log.debugf("image commit: resumed container %s" % cid)
        except errors.PyruncError as e:
            err = e
    if err is not None:
        raise err


def _layer_type(lay, desc):
    """The OCI media type a layer keeps in the new manifest (docker types by content)."""
    mt = desc.get("mediaType")
    oci = layout.LAYER_TYPES.get(mt, (None, None))[1]
    if oci:
        return oci
    fd = lay.open_blob(desc)
    try:
        head = posix.pread(fd, 4, 0)
    finally:
        posix.close(fd)
    return layout.OCI_TYPE_FOR[layout.sniff(head)]


def commit(root, bundle, ref, message="", author="", pause=False):
    """-> the new manifest's digest."""
    from pyrunc.image import bundle as bundle_mod
    from pyrunc.image import layer

    bundle = layout._abspath(bundle)
    meta = bundle_mod.read_meta(bundle)
    lpath, tag = layout.parse_ref(ref)
    if tag is None:
        raise errors.PyruncError('commit needs a tag: LAYOUT:TAG (got "%s")' % ref)
    try:
        parent_config = jsonio.loads(meta["configRaw"])
        parent_manifest_desc = meta["manifest"]
        parent_layers = meta["layers"]
    except (KeyError, ValueError) as e:
        raise errors.PyruncError("%s/%s: %s" % (bundle, bundle_mod.META, e)) from None
    upper = bundle + "/upper"
    try:
        posix.stat(upper)
    except FileNotFoundError:
        raise errors.PyruncError('bundle "%s" has no upper dir (released with --purge?)' % bundle) from None
    target = layout.Layout(lpath, create=True)
    source = target
    if target.path != meta["layout"]:
        try:
            source = layout.Layout(meta["layout"])
        except errors.PyruncError:
            source = None
    for desc in parent_layers:
        if target.has_blob(desc["digest"], desc.get("size")):
            continue
        if source is None or source is target:
            raise errors.PyruncError('blob %s of the parent image is missing from layout "%s"'
                                     % (desc["digest"], target.path))
        target.copy_blob_from(source, desc)

    w = target.writer()
    try:
        paused = _pause_all(root, bundle) if pause else []
        try:
            diff_id, _, _ = layer.write_layer(upper, w)
        finally:
            _resume_all(root, paused)
        blob = w.commit()
    except BaseException:
        w.abort()
        raise
    now = layout.now_rfc3339()
    config = dict(parent_config)
    rootfs = dict(config.get("rootfs") or {"type": "layers"})
    diff_ids = list(rootfs.get("diff_ids") or [])
    history = list(config.get("history") or [])
    have = sum(1 for h in history if isinstance(h, dict) and not h.get("empty_layer"))
    for _ in range(have, len(diff_ids)):
        history.append({"created_by": "(a layer without history)"})
    diff_ids.append(diff_id)
    rootfs["type"] = "layers"
    rootfs["diff_ids"] = diff_ids
    config["rootfs"] = rootfs
    config["created"] = now
    if author:
        config["author"] = author
    entry = {"created": now, "created_by": "pyrunc image commit"}
    if author:
        entry["author"] = author
    if message:
        entry["comment"] = message
    history.append(entry)
    config["history"] = history
    cbytes = jsonio.dumps(config).encode()
    cdigest = target.put_blob(cbytes)
    layers = []
    for desc in parent_layers:
        d = {"mediaType": _layer_type(target, desc), "digest": desc["digest"], "size": desc["size"]}
        if desc.get("annotations"):
            d["annotations"] = desc["annotations"]
        layers.append(d)
    layers.append({"mediaType": layout.OCI_LAYER_GZIP, "digest": blob, "size": w.size})
    manifest = {
        "schemaVersion": 2,
        "mediaType": layout.OCI_MANIFEST,
        "config": {"mediaType": layout.OCI_CONFIG, "digest": cdigest, "size": len(cbytes)},
        "layers": layers,
        "annotations": {layout.BASE_DIGEST: parent_manifest_desc["digest"], "org.opencontainers.image.created": now},
    }
    mbytes = jsonio.dumps(manifest).encode()
    mdigest = target.put_blob(mbytes)
    target.set_tag(tag, {"mediaType": layout.OCI_MANIFEST, "digest": mdigest, "size": len(mbytes)})
    return mdigest
