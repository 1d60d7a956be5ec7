"""Bundles made from images: unpack, mount again, release.

    BUNDLE/config.json   generated from the image config (convert.py)
    BUNDLE/rootfs/       overlay: the image's layers from the store (read-only lowers),
                         BUNDLE/upper as the upper and BUNDLE/work as its work dir
    BUNDLE/image.json    what the bundle was made from: store, layout, manifest, config,
                         layers; the id under which the store counts it as a user (gc)
    BUNDLE/volumes/      one dir per Config.Volumes entry, bind-mounted by config.json
"""
import posix

from pyrunc import errors, jsonio
from pyrunc.image import layout, store

META = store.BUNDLE_META
MADE = ("rootfs", "upper", "work", "volumes", META, "config.json")


def read_meta(bundle):
    try:
        meta = store._read_json(bundle + "/" + META)
    except FileNotFoundError:
        raise errors.PyruncError('"%s" is not a bundle made by pyrunc image unpack (no %s)' % (bundle, META)) \
            from None
    except (OSError, ValueError) as e:
        raise errors.PyruncError('%s/%s: %s' % (bundle, META, e)) from None
    for k in ("id", "store", "diffIDs", "layout"):
        if k not in meta:
            raise errors.PyruncError('%s/%s: no "%s"' % (bundle, META, k))
    return meta


def containers_of(root, bundle):
    """[(id, status)] of the containers under the runtime root `root` made from `bundle`."""
    import os.path

    from pyrunc.state import store as state

    real = os.path.realpath(bundle)
    out = []
    try:
        names = posix.listdir(root)
    except OSError:
        return out
    for cid in sorted(names):
        if cid.startswith("."):
            continue
        cdir = root + "/" + cid
        try:
            st = state.read_state(cdir)
            b = st.get("bundle") or ""
            if b and os.path.realpath(b) == real:
                out.append((cid, state.status(cdir, st)))
        except (OSError, errors.PyruncError):
            continue
    return out


def _check_target(bundle):
    """The bundle dir may exist, but hold nothing that unpack makes (an empty rootfs is fine)."""
    try:
        names = posix.listdir(bundle)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        raise errors.PyruncError('bundle "%s" is not a directory' % bundle) from None
    for n in names:
        if n in MADE:
            if n == "rootfs" and not posix.listdir(bundle + "/rootfs"):
                continue
            raise errors.PyruncError('bundle "%s" already holds %s: release --purge it or choose another '
                                     'directory' % (bundle, n))


def _extract_layer(lay, desc, diff_id, root, lowers):
    from pyrunc.image import layer

    label = "layer " + desc["digest"]
    fd = lay.open_blob(desc)
    stream = None
    try:
        stream = layer.Stream(fd, desc["digest"], diff_id, label)
        n = layer.extract(stream, root, lowers, label)
        stream.check()
        return n
    finally:
        if stream is not None:
            stream.close()
        posix.close(fd)


def ensure_layers(st, lay, img):
    """Extract every layer of `img` the store lacks; -> how many were extracted.
    The caller holds the store's shared lock."""
    made = 0
    for i, (desc, diff_id) in enumerate(zip(img.layers, img.diff_ids)):
        posix.close(lay.open_blob(desc))      # present, right size: even when cached
        if st.has(diff_id):
            continue
        lowers = [st.diff_dir(d) for d in reversed(img.diff_ids[:i])]
        st.add(diff_id, lambda root, desc=desc, diff_id=diff_id, lowers=lowers:
               _extract_layer(lay, desc, diff_id, root, lowers),
               {"blob": desc["digest"], "mediaType": desc.get("mediaType")})
        made += 1
    return made


def _copy_root_attrs(src, dst):
    s = posix.lstat(src)
    posix.chown(dst, s.st_uid, s.st_gid)
    posix.chmod(dst, s.st_mode & 0o7777)
    posix.utime(dst, ns=(s.st_atime_ns, s.st_mtime_ns))


def _mount(st, bundle, meta):
    from pyrunc.image import mount

    diff_ids = meta["diffIDs"]
    for d in diff_ids:
        if not st.has(d):
            raise errors.PyruncError('layer %s of bundle "%s" is missing from the store "%s"' % (d, bundle, st.root))
    if diff_ids:
        lowers = [st.rel_diff(d) for d in reversed(diff_ids)]
        base = st.layers
    else:
        lowers = ["empty"]
        base = st.root
    mount.mount_overlay(base, lowers, bundle + "/upper", bundle + "/work", bundle + "/rootfs")


def unpack(ref, bundle, store_root=None, terminal=True):
    from pyrunc.image import convert, mount

    lpath, tag = layout.parse_ref(ref)
    lay = layout.Layout(lpath)
    img = lay.image(tag)
    bundle = layout._abspath(bundle)
    _check_target(bundle)
    mount.mount_data(["-"], bundle + "/upper", bundle + "/work")     # a path overlayfs can take
    st = store.Store(store_root)
    made = []
    with st.lock():
        extracted = ensure_layers(st, lay, img)
        bid = posix.urandom(16).hex()
        try:
            layout._mkdirs(bundle.rpartition("/")[0] or "/")
            try:
                posix.mkdir(bundle, 0o711)
                made.append(bundle)
            except FileExistsError:
                pass
            for d in ("rootfs", "upper", "work"):
                try:
                    posix.mkdir(bundle + "/" + d, 0o755)
                except FileExistsError:
                    if d != "rootfs":
                        raise
                    continue
                made.append(bundle + "/" + d)
            top = st.diff_dir(img.diff_ids[-1]) if img.diff_ids else st.empty
            _copy_root_attrs(top, bundle + "/upper")
            meta = {
                "version": 1, "id": bid, "store": st.root, "layout": lay.path, "tag": tag,
                "manifest": _desc(img.manifest_desc), "config": _desc(img.config_desc),
                "layers": [_desc(d) for d in img.layers], "diffIDs": img.diff_ids,
                "manifestRaw": img.manifest_raw.decode("utf-8", "surrogateescape"),
                "configRaw": img.config_raw.decode("utf-8", "surrogateescape"),
                "created": layout.now_rfc3339(),
            }
            st.register(bundle, bid, img.diff_ids)
            made.append(None)      # marks: registered
            layout.write_file_atomic(bundle + "/" + META, jsonio.dumps_indent(meta).encode(), 0o644, sync=False)
            made.append(bundle + "/" + META)
            _mount(st, bundle, meta)
            made.append("mounted")
            rfd = posix.open(bundle + "/rootfs", posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
            try:
                passwd = convert.read_in_root(rfd, "/etc/passwd")
                group = convert.read_in_root(rfd, "/etc/group")
            finally:
                posix.close(rfd)
            spec, vols = convert.generate(img.config, bundle, passwd, group, terminal)
            if vols:
                posix.mkdir(bundle + "/volumes", 0o700)
                made.append(bundle + "/volumes")
                for v in vols:
                    posix.mkdir(bundle + "/volumes/" + v, 0o755)
            meta["volumes"] = vols
            layout.write_file_atomic(bundle + "/" + META, jsonio.dumps_indent(meta).encode(), 0o644, sync=False)
            layout.write_file_atomic(bundle + "/config.json", jsonio.dumps_indent(spec, "\t").encode(), 0o644,
                                     sync=False)
        except BaseException:
            _undo(st, bundle, bid, made, mount)
            raise
    return extracted


def _undo(st, bundle, bid, made, mount):
    for item in reversed(made):
        try:
            if item == "mounted":
                mount.unmount(bundle + "/rootfs")
            elif item is None:
                st.unregister(bundle, bid)
            elif item == bundle + "/rootfs" or item == bundle:
                try:
                    posix.rmdir(item)
                except OSError:
                    pass
            else:
                store.remove_tree(item)
        except (OSError, errors.PyruncError):
            pass


def _desc(d):
    return {k: d[k] for k in ("mediaType", "digest", "size", "annotations", "urls") if k in d}


def mount_again(bundle, store_root=None):
    """Mount the rootfs of a released bundle again (its upper as it was left)."""
    from pyrunc.image import mount

    bundle = layout._abspath(bundle)
    meta = read_meta(bundle)
    if mount.mounted_at(bundle + "/rootfs"):
        raise errors.PyruncError('"%s/rootfs" is already mounted' % bundle)
    st = store.Store(meta["store"], create=False)
    with st.lock():
        _mount(st, bundle, meta)


def release(bundle, root, purge=False):
    """Unmount the rootfs; with `purge` also drop the upper (the container's changes),
    the volumes and the bundle's claim on the store's layers."""
    from pyrunc.image import mount

    bundle = layout._abspath(bundle)
    meta = read_meta(bundle)
    live = [(c, s) for c, s in containers_of(root, bundle) if s != "stopped"]
    if live:
        raise errors.PyruncError('container "%s" (%s) still uses bundle "%s": delete it first'
                                 % (live[0][0], live[0][1], bundle))
    mount.unmount(bundle + "/rootfs")
    if not purge:
        return
    try:
        st = store.Store(meta["store"], create=False)
    except errors.PyruncError:
        st = None
    for name in ("upper", "work", "volumes"):
        store.remove_tree(bundle + "/" + name)
    if st is not None:
        with st.lock():
            st.unregister(bundle, meta["id"])
    for name in (META, "config.json"):
        try:
            posix.unlink(bundle + "/" + name)
        except FileNotFoundError:
            pass
    for d in (bundle + "/rootfs", bundle):
        try:
            posix.rmdir(d)
        except OSError:
            break
