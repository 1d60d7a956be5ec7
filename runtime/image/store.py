"""The layer store: each layer extracted once, in a directory named by its diff_id.

    STORE/
      lock                           flock: shared by unpack/mount/release, exclusive by gc
      layers/sha256/<hex>/diff/      the layer as an overlayfs lower (whiteouts as 0:0
                                     char devices, opaque dirs by xattr), read-only
      layers/sha256/<hex>/layer.json diff_id, the blob it came from, entries, time
      bundles/<key>.json             one per unpacked bundle: its path, id and layers (gc roots)
      tmp/                           extractions in progress
      empty/                         the lower of an image without layers

A layer is extracted into tmp/ and renamed into layers/ only once complete and verified
(digests), after a syncfs: layers/ never holds a partial layer. Two unpacks racing on one
layer both extract; the first rename wins and the other copy is dropped.
"""
import posix

from pyrunc import errors, jsonio
from pyrunc.image import layout

DEFAULT = "/var/lib/pyrunc/store"
# in a bundle made by unpack (bundle.py): the store and the id it is counted under
BUNDLE_META = "image.json"


class Store:
    def __init__(self, root=None, create=True):
        self.root = layout._abspath(root or DEFAULT)
        self.layers = self.root + "/layers"
        self.tmp = self.root + "/tmp"
        self.bundles = self.root + "/bundles"
        self.empty = self.root + "/empty"
        if create:
            for d in (self.root, self.layers, self.tmp, self.bundles, self.empty):
                try:
                    posix.mkdir(d, 0o700 if d != self.empty else 0o755)
                except FileExistsError:
                    pass
                except FileNotFoundError:
                    layout._mkdirs(d.rpartition("/")[0], 0o700)
                    try:
                        posix.mkdir(d, 0o700)
                    except FileExistsError:
                        pass
                except OSError as e:
                    raise errors.from_oserror("create store " + d, e) from None
        else:
            try:
                posix.stat(self.layers)
            except FileNotFoundError:
                raise errors.PyruncError('"%s" is not a pyrunc image store' % self.root) from None

    # ---- locking ----

    def lock(self, exclusive=False):
        return _Flock(self.root + "/lock", exclusive)

    # ---- layers ----

    def layer_dir(self, diff_id):
        alg, hexpart = layout.split_digest(diff_id)
        return "%s/%s/%s" % (self.layers, alg, hexpart)

    def rel_diff(self, diff_id):
        """The diff dir relative to layers/ (short lowerdir= entries)."""
        alg, hexpart = layout.split_digest(diff_id)
        return "%s/%s/diff" % (alg, hexpart)

    def diff_dir(self, diff_id):
        return self.layer_dir(diff_id) + "/diff"

    def has(self, diff_id):
        try:
            posix.stat(self.layer_dir(diff_id) + "/layer.json")
            return True
        except FileNotFoundError:
            return False

    def add(self, diff_id, fill, meta=None):
        """Make the layer `diff_id` with fill(diff_dir) -> entries; atomic (see module doc)."""
        final = self.layer_dir(diff_id)
        alg = final.rpartition("/")[0]
        try:
            posix.mkdir(alg, 0o700)
        except FileExistsError:
            pass
        tmp = "%s/%s-%d-%s" % (self.tmp, diff_id.replace(":", "-")[:24], posix.getpid(), posix.urandom(4).hex())
        posix.mkdir(tmp, 0o700)
        try:
            posix.mkdir(tmp + "/diff", 0o755)
            entries = fill(tmp + "/diff")
            info = dict(meta or {})
            info.update({"diffID": diff_id, "entries": entries, "created": layout.now_rfc3339()})
            layout.write_file_atomic(tmp + "/layer.json", jsonio.dumps(info).encode(), 0o600, sync=False)
            _syncfs(tmp)
            try:
                posix.rename(tmp, final)
            except OSError as e:
                if e.errno not in (17, 39):   # EEXIST, ENOTEMPTY: another unpack made it first
                    raise
                remove_tree(tmp)
            else:
                layout.sync_dir(alg)
        except BaseException:
            remove_tree(tmp)
            raise

    def all_layers(self):
        out = []
        try:
            algs = posix.listdir(self.layers)
        except FileNotFoundError:
            return out
        for alg in algs:
            try:
                names = posix.listdir(self.layers + "/" + alg)
            except NotADirectoryError:
                continue
            for h in names:
                out.append(alg + ":" + h)
        return sorted(out)

    # ---- bundles using layers (gc roots) ----

    def _ref_path(self, bundle):
        return "%s/%s.json" % (self.bundles, layout.digest_bytes(bundle.encode("utf-8", "surrogateescape"))[7:39])

    def register(self, bundle, bid, diff_ids):
        layout.write_file_atomic(self._ref_path(bundle), jsonio.dumps(
            {"bundle": bundle, "id": bid, "layers": list(diff_ids)}).encode(), 0o600)

    def unregister(self, bundle, bid):
        path = self._ref_path(bundle)
        try:
            ref = _read_json(path)
        except (OSError, ValueError):
            return
        if ref.get("id") == bid:
            try:
                posix.unlink(path)
            except FileNotFoundError:
                pass

    def live_refs(self, prune=False):
        """[(bundle, layers)] of registered bundles whose image.json still names this
        store and id; stale registrations are removed when `prune` (gc holds the lock)."""
        out = []
        try:
            names = posix.listdir(self.bundles)
        except FileNotFoundError:
            return out
        for name in sorted(names):
            path = self.bundles + "/" + name
            try:
                ref = _read_json(path)
                meta = _read_json(ref["bundle"] + "/" + BUNDLE_META)
                live = meta.get("id") == ref.get("id") and meta.get("store") == self.root
            except (OSError, ValueError, KeyError, TypeError):
                live = False
            if live:
                out.append((ref["bundle"], list(ref.get("layers") or [])))
            elif prune:
                try:
                    posix.unlink(path)
                except OSError:
                    pass
        return out

    def gc(self):
        """Remove layers no unpacked bundle uses, and leftovers of interrupted work.
        -> [(diff_id, bytes freed)]."""
        removed = []
        with self.lock(exclusive=True):
            used = set()
            for _, diff_ids in self.live_refs(prune=True):
                used.update(diff_ids)
            for diff_id in self.all_layers():
                if diff_id in used:
                    continue
                src = self.layer_dir(diff_id)
                size = _du(src)
                # out of layers/ in one rename, then removed at leisure
                grave = "%s/gc-%s-%s" % (self.tmp, diff_id.replace(":", "-")[:24], posix.urandom(4).hex())
                try:
                    posix.rename(src, grave)
                except OSError as e:
                    raise errors.from_oserror("gc " + src, e) from None
                remove_tree(grave)
                removed.append((diff_id, size))
            # nothing extracts while gc holds the lock: whatever is in tmp/ is dead
            for name in posix.listdir(self.tmp):
                remove_tree(self.tmp + "/" + name)
        return removed


class _Flock:
    __slots__ = ("path", "exclusive", "fd")

    def __init__(self, path, exclusive):
        self.path = path
        self.exclusive = exclusive
        self.fd = -1

    def __enter__(self):
        import fcntl

        self.fd = posix.open(self.path, posix.O_RDWR | posix.O_CREAT | posix.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH)
        except BaseException:
            posix.close(self.fd)
            self.fd = -1
            raise
        return self

    def __exit__(self, *exc):
        if self.fd >= 0:
            posix.close(self.fd)
            self.fd = -1
        return False


def _read_json(path):
    fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        data = layout._read_fd(fd, 16 << 20)
    finally:
        posix.close(fd)
    obj = jsonio.loads(data)
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    return obj


def _syncfs(path):
    """Flush the store's filesystem before a layer becomes visible."""
    import ctypes

    fd = posix.open(path, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(fd) != 0:
            raise errors.SyscallError("syncfs " + path, ctypes.get_errno())
    finally:
        posix.close(fd)


def _du(path):
    total = 0
    stack = [path]
    while stack:
        d = stack.pop()
        try:
            names = posix.listdir(d)
        except OSError:
            continue
        for n in names:
            p = d + "/" + n
            try:
                s = posix.lstat(p)
            except OSError:
                continue
            if s.st_mode & 0o170000 == 0o040000:
                stack.append(p)
            else:
                total += s.st_blocks * 512
    return total


def remove_tree(path):
    """rm -rf that never follows symlinks (and clears the immutable bits it cannot meet)."""
    from pyrunc.image import layer

    parent, _, name = path.rpartition("/")
    try:
        dfd = posix.open(parent or "/", posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        layer.rmtree_at(dfd, name)
    except FileNotFoundError:
        pass
    finally:
        posix.close(dfd)
