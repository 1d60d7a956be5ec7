"""OCI image layout: `LAYOUT:TAG` references, index.json, blobs addressed by digest,
media types; every file written through a temp file and a rename.

Blobs read here are verified: size against the descriptor and digest against the name.
"""
import posix

from pyrunc import errors, jsonio

LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
REF_NAME = "org.opencontainers.image.ref.name"
BASE_DIGEST = "org.opencontainers.image.base.digest"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
CONFIG_TYPES = (OCI_CONFIG, DOCKER_CONFIG)

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = OCI_LAYER + "+gzip"
OCI_LAYER_ZSTD = OCI_LAYER + "+zstd"
_ND = "application/vnd.oci.image.layer.nondistributable.v1.tar"
# layer media type -> (compression it announces, the OCI type a commit writes for it)
LAYER_TYPES = {
    OCI_LAYER: ("tar", OCI_LAYER),
    OCI_LAYER_GZIP: ("gzip", OCI_LAYER_GZIP),
    OCI_LAYER_ZSTD: ("zstd", OCI_LAYER_ZSTD),
    _ND: ("tar", _ND),
    _ND + "+gzip": ("gzip", _ND + "+gzip"),
    _ND + "+zstd": ("zstd", _ND + "+zstd"),
    # docker-archive types as skopeo leaves them (`--preserve-digests` keeps the
    # archive's uncompressed tars under the tar.gzip type): the content decides
    "application/vnd.docker.image.rootfs.diff.tar.gzip": ("gzip", None),
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": ("gzip", None),
    "application/vnd.docker.image.rootfs.diff.tar": ("tar", None),
}
OCI_TYPE_FOR = {"tar": OCI_LAYER, "gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}

_HEX = frozenset("0123456789abcdef")
_ALGS = {"sha256": 64, "sha512": 128}
MAX_JSON_BLOB = 32 << 20


def hasher(algorithm):
    import hashlib

    return hashlib.new(algorithm)


def split_digest(digest):
    """`sha256:<hex>` -> (algorithm, hex); PyruncError for anything else (no path tricks
    can hide in a digest that passes)."""
    if not isinstance(digest, str):
        raise errors.PyruncError("invalid digest %r" % (digest,))
    alg, sep, hexpart = digest.partition(":")
    if not sep or alg not in _ALGS:
        raise errors.PyruncError('invalid digest "%s": unsupported algorithm' % digest)
    if len(hexpart) != _ALGS[alg] or not set(hexpart) <= _HEX:
        raise errors.PyruncError('invalid digest "%s"' % digest)
    return alg, hexpart


def digest_bytes(data, algorithm="sha256"):
    h = hasher(algorithm)
    h.update(data)
    return algorithm + ":" + h.hexdigest()


def sniff(head):
    """Compression of a blob from its first bytes: gzip, zstd or tar (anything else)."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    return "tar"


def parse_ref(ref):
    """`LAYOUT:TAG` -> (layout path, tag or None). The tag is what follows the last ':'
    when that part has no '/', so layout paths may hold colons."""
    path, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag or not path:
        return ref, None
    if not tag:
        raise errors.PyruncError('invalid image reference "%s": empty tag' % ref)
    return path, tag


def now_rfc3339():
    import time

    ns = time.time_ns()
    sec, frac = divmod(ns, 1000000000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%09dZ" % frac


def _read_fd(fd, limit):
    chunks = []
    total = 0
    while True:
        b = posix.read(fd, 1 << 20)
        if not b:
            break
        total += len(b)
        if total > limit:
            raise ValueError("too large")
        chunks.append(b)
    return b"".join(chunks)


def write_file_atomic(path, data, mode=0o644, sync=True):
    """Write `data` to a temp file beside `path`, fsync it, rename it over `path`."""
    d, _, name = path.rpartition("/")
    tmp = "%s/.%s.tmp-%d-%s" % (d or ".", name, posix.getpid(), posix.urandom(4).hex())
    fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            n = posix.write(fd, view)
            view = view[n:]
        if sync:
            posix.fsync(fd)
        posix.close(fd)
        fd = -1
        posix.rename(tmp, path)
    except BaseException:
        if fd >= 0:
            posix.close(fd)
        try:
            posix.unlink(tmp)
        except OSError:
            pass
        raise
    if sync:
        sync_dir(d or ".")


def sync_dir(path):
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
    except OSError:
        return
    try:
        posix.fsync(fd)
    except OSError:
        pass
    finally:
        posix.close(fd)


class Image:
    """A resolved image: its manifest and config (parsed and raw) and layer descriptors."""

    __slots__ = ("layout", "tag", "manifest_desc", "manifest_raw", "manifest", "config_desc", "config_raw",
                 "config", "layers", "diff_ids")

    def __init__(self, **kw):
        for k, v in kw.items():
            setattr(self, k, v)


class Layout:
    def __init__(self, path, create=False):
        self.path = _abspath(path)
        try:
            posix.stat(self.path + "/" + LAYOUT_FILE)
        except FileNotFoundError:
            if not create:
                raise errors.PyruncError('"%s" is not an OCI image layout (no %s file)'
                                         % (path, LAYOUT_FILE)) from None
            self._create()
        except OSError as e:
            raise errors.from_oserror("stat " + self.path, e) from None

    def _create(self):
        """A new, empty layout: built in a temp dir and renamed into place."""
        try:
            posix.stat(self.path)
            raise errors.PyruncError('"%s" exists and is not an OCI image layout' % self.path)
        except FileNotFoundError:
            pass
        parent = self.path.rpartition("/")[0] or "/"
        tmp = "%s/.%s.tmp-%s" % (parent, self.path.rpartition("/")[2], posix.urandom(4).hex())
        try:
            posix.mkdir(tmp, 0o755)
            posix.mkdir(tmp + "/blobs", 0o755)
            posix.mkdir(tmp + "/blobs/sha256", 0o755)
            write_file_atomic(tmp + "/" + LAYOUT_FILE, b'{"imageLayoutVersion":"1.0.0"}', sync=False)
            write_file_atomic(tmp + "/" + INDEX_FILE, b'{"schemaVersion":2,"manifests":[]}', sync=False)
            posix.rename(tmp, self.path)
        except OSError as e:
            _rmtree(tmp)
            if e.errno in (17, 39):   # made by someone else meanwhile
                return
            raise errors.from_oserror("create layout " + self.path, e) from None

    # ---- blobs ----

    def blob_path(self, digest):
        alg, hexpart = split_digest(digest)
        return "%s/blobs/%s/%s" % (self.path, alg, hexpart)

    def has_blob(self, digest, size=None):
        try:
            st = posix.stat(self.blob_path(digest))
        except FileNotFoundError:
            return False
        return size is None or st.st_size == size

    def open_blob(self, desc):
        """An fd on the blob of `desc`, after checking it exists and has the descriptor's size."""
        digest = desc.get("digest") if isinstance(desc, dict) else None
        path = self.blob_path(digest)
        try:
            fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
        except FileNotFoundError:
            raise errors.PyruncError('blob %s is missing from layout "%s"' % (digest, self.path)) from None
        except OSError as e:
            raise errors.from_oserror("open blob " + digest, e) from None
        size = desc.get("size")
        if isinstance(size, int) and posix.fstat(fd).st_size != size:
            real = posix.fstat(fd).st_size
            posix.close(fd)
            raise errors.PyruncError('blob %s in layout "%s" has %d bytes, its descriptor says %d'
                                     % (digest, self.path, real, size))
        return fd

    def read_blob(self, desc):
        """The verified bytes of a (small, JSON) blob."""
        digest = desc.get("digest")
        fd = self.open_blob(desc)
        try:
            data = _read_fd(fd, MAX_JSON_BLOB)
        except ValueError:
            raise errors.PyruncError("blob %s is too large" % digest) from None
        finally:
            posix.close(fd)
        alg = split_digest(digest)[0]
        real = digest_bytes(data, alg)
        if real != digest:
            raise errors.PyruncError('blob %s in layout "%s": digest mismatch (content is %s)'
                                     % (digest, self.path, real))
        return data

    def read_json_blob(self, desc, what):
        data = self.read_blob(desc)
        try:
            obj = jsonio.loads(data)
        except ValueError as e:
            raise errors.PyruncError("%s %s: invalid JSON: %s" % (what, desc.get("digest"), e)) from None
        if not isinstance(obj, dict):
            raise errors.PyruncError("%s %s: not a JSON object" % (what, desc.get("digest")))
        return data, obj

    def writer(self):
        return BlobWriter(self)

    def put_blob(self, data, algorithm="sha256"):
        w = BlobWriter(self, algorithm)
        try:
            w.write(data)
            return w.commit()
        except BaseException:
            w.abort()
            raise

    def copy_blob_from(self, other, desc):
        """Bring `desc`'s blob from layout `other` into this one (a hard link when both
        are on one filesystem, else a verified copy)."""
        digest = desc["digest"]
        if self.has_blob(digest, desc.get("size")):
            return
        src = other.blob_path(digest)
        dst = self.blob_path(digest)
        _mkdirs(dst.rpartition("/")[0])
        tmp = "%s/.blob.tmp-%s" % (self.path, posix.urandom(6).hex())
        try:
            posix.link(src, tmp)
        except OSError:
            fd = other.open_blob(desc)
            w = BlobWriter(self, split_digest(digest)[0])
            try:
                while True:
                    b = posix.read(fd, 1 << 20)
                    if not b:
                        break
                    w.write(b)
                if w.digest() != digest:
                    raise errors.PyruncError('blob %s in layout "%s": digest mismatch' % (digest, other.path))
                w.commit()
            except BaseException:
                w.abort()
                raise
            finally:
                posix.close(fd)
            return
        try:
            posix.rename(tmp, dst)
        except BaseException:
            posix.unlink(tmp)
            raise

    # ---- index and images ----

    def index(self):
        try:
            fd = posix.open(self.path + "/" + INDEX_FILE, posix.O_RDONLY | posix.O_CLOEXEC)
        except FileNotFoundError:
            raise errors.PyruncError('layout "%s" has no %s' % (self.path, INDEX_FILE)) from None
        try:
            data = _read_fd(fd, MAX_JSON_BLOB)
        finally:
            posix.close(fd)
        try:
            idx = jsonio.loads(data)
        except ValueError as e:
            raise errors.PyruncError('layout "%s": %s: %s' % (self.path, INDEX_FILE, e)) from None
        if not isinstance(idx, dict) or not isinstance(idx.get("manifests", []), list):
            raise errors.PyruncError('layout "%s": %s is not an image index' % (self.path, INDEX_FILE))
        return idx

    def tags(self):
        """[(tag or None, descriptor)] in index order."""
        out = []
        for d in self.index().get("manifests") or []:
            if isinstance(d, dict):
                ann = d.get("annotations") or {}
                out.append((ann.get(REF_NAME) if isinstance(ann, dict) else None, d))
        return out

    def resolve(self, tag):
        """The manifest descriptor for `tag` (None: the layout's only image)."""
        entries = self.tags()
        if tag is None:
            if len(entries) != 1:
                raise errors.PyruncError('layout "%s" holds %d images: name one as LAYOUT:TAG'
                                         % (self.path, len(entries)))
            return entries[0][1]
        found = [d for t, d in entries if t == tag]
        if not found:
            raise errors.PyruncError('tag "%s" not found in layout "%s"' % (tag, self.path))
        if len(found) > 1:
            plat = [d for d in found if _platform_ok(d.get("platform"))]
            found = plat or found
        return found[-1]

    def image(self, tag):
        """Resolve `tag` through indexes to one manifest; read and check manifest and config."""
        desc = self.resolve(tag)
        for _ in range(8):
            mt = desc.get("mediaType")
            raw, doc = self.read_json_blob(desc, "manifest")
            mt = mt or doc.get("mediaType") or ("index" if "manifests" in doc else OCI_MANIFEST)
            if mt in INDEX_TYPES or mt == "index":
                desc = _pick_platform(doc, desc["digest"])
                continue
            if mt not in MANIFEST_TYPES:
                raise errors.PyruncError('unknown manifest media type "%s" (%s)' % (mt, desc.get("digest")))
            break
        else:
            raise errors.PyruncError("image indexes nested too deeply")
        cdesc = doc.get("config")
        if not isinstance(cdesc, dict):
            raise errors.PyruncError("manifest %s has no config" % desc["digest"])
        if cdesc.get("mediaType") not in CONFIG_TYPES:
            raise errors.PyruncError('unknown config media type "%s" (%s)' % (cdesc.get("mediaType"),
                                                                           cdesc.get("digest")))
        craw, config = self.read_json_blob(cdesc, "config")
        layers = doc.get("layers") or []
        if not isinstance(layers, list):
            raise errors.PyruncError("manifest %s: layers is not a list" % desc["digest"])
        for ld in layers:
            if not isinstance(ld, dict):
                raise errors.PyruncError("manifest %s: a layer descriptor is not an object" % desc["digest"])
            if ld.get("mediaType") not in LAYER_TYPES:
                raise errors.PyruncError('unknown layer media type "%s" (%s)' % (ld.get("mediaType"),
                                                                              ld.get("digest")))
            split_digest(ld.get("digest"))
        rootfs = config.get("rootfs") or {}
        diff_ids = (rootfs.get("diff_ids") or []) if isinstance(rootfs, dict) else []
        if not isinstance(diff_ids, list) or len(diff_ids) != len(layers):
            raise errors.PyruncError("config %s lists %d diff_ids for %d layers"
                                     % (cdesc["digest"], len(diff_ids) if isinstance(diff_ids, list) else 0,
                                        len(layers)))
        for d in diff_ids:
            split_digest(d)
        return Image(layout=self, tag=tag, manifest_desc=desc, manifest_raw=raw, manifest=doc, config_desc=cdesc,
                     config_raw=craw, config=config, layers=layers, diff_ids=list(diff_ids))

    def set_tag(self, tag, desc):
        """Point `tag` at `desc` in index.json (other entries kept), under a lock on the layout."""
        import fcntl

        lfd = posix.open(self.path, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        try:
            fcntl.flock(lfd, fcntl.LOCK_EX)
            idx = self.index()
            kept = []
            for d in idx.get("manifests") or []:
                ann = d.get("annotations") if isinstance(d, dict) else None
                if isinstance(ann, dict) and ann.get(REF_NAME) == tag:
                    continue
                kept.append(d)
            entry = dict(desc)
            entry["annotations"] = dict(entry.get("annotations") or {}, **{REF_NAME: tag})
            kept.append(entry)
            idx["schemaVersion"] = idx.get("schemaVersion", 2)
            idx["manifests"] = kept
            write_file_atomic(self.path + "/" + INDEX_FILE, jsonio.dumps(idx).encode())
        finally:
            posix.close(lfd)


class BlobWriter:
    """Stream a blob into the layout: a temp file in the layout root, hashed as it is
    written, fsynced and renamed to blobs/<alg>/<hex> by commit()."""

    def __init__(self, layout, algorithm="sha256"):
        self.layout = layout
        self.algorithm = algorithm
        self.h = hasher(algorithm)
        self.size = 0
        self.tmp = "%s/.blob.tmp-%d-%s" % (layout.path, posix.getpid(), posix.urandom(6).hex())
        self.fd = posix.open(self.tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_CLOEXEC, 0o644)

    def write(self, data):
        self.h.update(data)
        self.size += len(data)
        view = memoryview(data)
        while view:
            n = posix.write(self.fd, view)
            view = view[n:]
        return len(data)

    def digest(self):
        return self.algorithm + ":" + self.h.hexdigest()

    def commit(self):
        digest = self.digest()
        posix.fsync(self.fd)
        posix.close(self.fd)
        self.fd = -1
        dst = self.layout.blob_path(digest)
        _mkdirs(dst.rpartition("/")[0])
        posix.rename(self.tmp, dst)
        self.tmp = None
        sync_dir(dst.rpartition("/")[0])
        return digest

    def abort(self):
        if self.fd >= 0:
            posix.close(self.fd)
            self.fd = -1
        if self.tmp:
            try:
                posix.unlink(self.tmp)
            except OSError:
                pass
            self.tmp = None


def host_platform():
    machine = posix.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "i386": "386",
            "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}.get(machine, machine)


def _platform_ok(p):
    if not isinstance(p, dict):
        return False
    return p.get("os") == "linux" and p.get("architecture") == host_platform()


def _pick_platform(index, digest):
    manifests = [d for d in index.get("manifests") or [] if isinstance(d, dict)]
    for d in manifests:
        if _platform_ok(d.get("platform")):
            return d
    for d in manifests:
        if "platform" not in d:
            return d
    raise errors.PyruncError("image index %s has no manifest for linux/%s" % (digest, host_platform()))


def _abspath(path):
    if not path:
        raise errors.PyruncError("empty path")
    if path[0] != "/":
        path = posix.getcwd() + "/" + path
    parts = []
    for c in path.split("/"):
        if c in ("", "."):
            continue
        if c == "..":
            if parts:
                parts.pop()
            continue
        parts.append(c)
    return "/" + "/".join(parts)


def _mkdirs(path, mode=0o755):
    try:
        posix.mkdir(path, mode)
    except FileExistsError:
        return
    except FileNotFoundError:
        _mkdirs(path.rpartition("/")[0] or "/", mode)
        try:
            posix.mkdir(path, mode)
        except FileExistsError:
            pass


def _rmtree(path):
    import shutil

    shutil.rmtree(path, ignore_errors=True)
