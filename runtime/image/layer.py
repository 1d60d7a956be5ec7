"""Layers: a tar changeset -> a directory as overlayfs uses it for a lower layer, and
an overlayfs upper directory -> a tar changeset.

Extraction never trusts the archive: every entry is applied entry by entry, openat-style,
from a file descriptor on the layer's root, never following a symlink that is already
on disk (O_NOFOLLOW on every component), and names with `..` or a leading `/` are
refused. Whiteouts become what overlayfs reads: `.wh.NAME` a 0:0 character device
NAME, `.wh..wh..opq` the xattr trusted.overlay.opaque=y on its directory.

The diff reads an upper dir the same way back: 0:0 character devices -> `.wh.NAME`,
opaque dirs -> `.wh..wh..opq`, hard links within the layer, xattrs (overlayfs's own
trusted.overlay.* left out), device nodes, modes, owners and times.
"""
import posix
import stat as st_

from pyrunc import errors

WH = ".wh."
OPQ = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
OVERLAY_PREFIXES = ("trusted.overlay.", "user.overlay.")
XATTR_PAX = "SCHILY.xattr."

O_DIR = posix.O_RDONLY | posix.O_DIRECTORY | posix.O_NOFOLLOW | posix.O_CLOEXEC
O_NEW = posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_NOFOLLOW | posix.O_CLOEXEC
ELOOP = 40
ENOTSUP = 95
FD_CACHE = 64
MAX_DEPTH = 400


class LayerError(errors.PyruncError):
    pass


def split_name(name, what="tar entry"):
    """A tar member name -> its path components. Refuses absolute names and `..`
    (an archive that needs them is trying to write outside the layer)."""
    if name.startswith("/"):
        raise LayerError('%s "%s" is an absolute path: it escapes the root' % (what, name))
    comps = [c for c in name.split("/") if c and c != "."]
    if ".." in comps:
        raise LayerError('%s "%s" escapes the root (..)' % (what, name))
    return comps


def is_whiteout(st):
    return st_.S_ISCHR(st.st_mode) and st.st_rdev == 0


def whiteout_target(name):
    """`.wh.NAME` -> NAME; `.wh..wh..opq` -> OPQ; other `.wh..wh.*` (aufs metadata) -> ''."""
    if name == OPQ:
        return OPQ
    if name.startswith(WH + WH):
        return ""
    return name[len(WH):]


# ---- reading a (compressed) blob as a verified stream ----

class Stream:
    """The uncompressed bytes of a layer blob, read from an fd: the blob's digest is
    checked inline (gzip, tar) or before (zstd, decompressed by the zstd command), the
    uncompressed digest (diff_id) as the bytes go by; check() after the tar's end
    drains the rest and compares both."""

    def __init__(self, fd, blob_digest, diff_id, label):
        from pyrunc.image import layout

        self.fd = fd
        self.label = label
        self.blob_digest = blob_digest
        self.diff_id = diff_id
        self.ch = layout.hasher(layout.split_digest(blob_digest)[0]) if blob_digest else None
        self.uh = layout.hasher(layout.split_digest(diff_id)[0])
        self.size = 0
        head = posix.pread(fd, 4, 0)
        self.kind = layout.sniff(head)
        self.buf = b""
        self.eof = False
        self.proc = None
        self.z = None
        if self.kind == "gzip":
            import zlib

            self._zlib = zlib
            self.z = zlib.decompressobj(31)
        elif self.kind == "zstd":
            self._verify_whole_blob()
            import subprocess

            posix.lseek(fd, 0, 0)
            try:
                self.proc = subprocess.Popen(["zstd", "-d", "-c", "-q"], stdin=fd, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE)
            except FileNotFoundError:
                raise LayerError("%s: zstd layers need the zstd command (apt-get install zstd)" % label) from None
            self.ch = None

    def _verify_whole_blob(self):
        while True:
            b = posix.read(self.fd, 1 << 20)
            if not b:
                break
            self.ch.update(b)
        self._check_blob()

    def _check_blob(self):
        if self.ch is None:
            return
        alg = self.blob_digest.partition(":")[0]
        real = alg + ":" + self.ch.hexdigest()
        if real != self.blob_digest:
            raise LayerError("%s: blob digest mismatch (content is %s)" % (self.label, real))
        self.ch = None

    def _raw(self):
        b = posix.read(self.fd, 1 << 20)
        if b and self.ch is not None:
            self.ch.update(b)
        return b

    def _more(self):
        """The next chunk of uncompressed bytes, b'' at the end."""
        if self.kind == "tar":
            return self._raw()
        if self.kind == "zstd":
            return self.proc.stdout.read(1 << 20)
        while True:
            z = self.z
            if z.eof:
                rest = z.unused_data
                if not rest:
                    rest = self._raw()
                    if not rest:
                        return b""
                self.z = z = self._zlib.decompressobj(31)    # a multi-member gzip stream
                out = z.decompress(rest, 1 << 20)
            elif z.unconsumed_tail:
                out = z.decompress(z.unconsumed_tail, 1 << 20)
            else:
                raw = self._raw()
                if not raw:
                    out = z.flush()
                    if not z.eof:
                        raise LayerError("%s: truncated gzip stream" % self.label)
                    if not out:
                        return b""
                else:
                    out = z.decompress(raw, 1 << 20)
            if out:
                return out

    def read(self, n=-1):
        if n is None or n < 0:
            chunks = [self.buf]
            self.buf = b""
            while True:
                b = self._more_hashed()
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks)
        while len(self.buf) < n and not self.eof:
            b = self._more_hashed()
            if not b:
                self.eof = True
                break
            self.buf = self.buf + b if self.buf else b
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _more_hashed(self):
        try:
            b = self._more()
        except self._zerr() as e:
            raise LayerError("%s: invalid gzip data (%s)" % (self.label, e)) from None
        if b:
            self.uh.update(b)
            self.size += len(b)
        return b

    def _zerr(self):
        return self._zlib.error if self.z is not None else ()

    def check(self):
        """Drain the stream (bytes after the tar's end count in the diff_id) and compare."""
        while self._more_hashed():
            pass
        if self.proc is not None:
            err = self.proc.stderr.read()
            if self.proc.wait() != 0:
                raise LayerError("%s: zstd: %s" % (self.label, err.decode(errors="replace").strip() or "failed"))
        self._check_blob()
        alg = self.diff_id.partition(":")[0]
        real = alg + ":" + self.uh.hexdigest()
        if real != self.diff_id:
            raise LayerError("%s: uncompressed content is %s, the config's diff_id is %s"
                             % (self.label, real, self.diff_id))

    def close(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.stdout.close()
            self.proc.stderr.close()
            self.proc.wait()
            self.proc = None


# ---- applying a changeset to an empty directory ----

class Extractor:
    """Apply tar entries to the (new, empty) directory `root`, as an overlay lower.

    `lowers` are the diff dirs of the layers below, top first: a directory that the
    archive only implies (an entry below it, no entry of its own) takes its mode, owner
    and times from the merged lowers, as overlayfs would otherwise show root 0755 over
    them; a hard link to a file of a lower layer becomes a copy.
    """

    def __init__(self, root, lowers=(), label="layer", same_owner=None):
        self.root = root
        self.root_fd = posix.open(root, O_DIR)
        self.lowers = list(lowers)
        self.label = label
        self.same_owner = posix.geteuid() == 0 if same_owner is None else same_owner
        self.fds = {}               # tuple(components) -> fd of that dir
        self.implicit = {(): True}  # dirs made without an entry of their own
        self.dir_times = {}         # tuple(components) -> mtime ns, applied at the end
        self.count = 0
        self.current = ""

    def close(self):
        for fd in self.fds.values():
            posix.close(fd)
        self.fds.clear()
        if self.root_fd >= 0:
            posix.close(self.root_fd)
            self.root_fd = -1

    # -- directories --

    def _err(self, name, why):
        return LayerError('%s: tar entry "%s" %s' % (self.label, name, why))

    def _drop_fds(self, prefix):
        n = len(prefix)
        for key in [k for k in self.fds if k[:n] == prefix]:
            posix.close(self.fds.pop(key))

    def dir_fd(self, comps, entry):
        """fd of the directory `comps`, made (implicit) where missing; never through a symlink."""
        key = tuple(comps)
        if not key:
            return self.root_fd
        fd = self.fds.get(key)
        if fd is not None:
            return fd
        parent = self.dir_fd(comps[:-1], entry)
        name = comps[-1]
        try:
            fd = posix.open(name, O_DIR, dir_fd=parent)
        except FileNotFoundError:
            posix.mkdir(name, 0o755, dir_fd=parent)
            self.implicit[key] = True
            fd = posix.open(name, O_DIR, dir_fd=parent)
        except OSError as e:
            if e.errno not in (ELOOP, 20):
                raise
            st = posix.lstat(name, dir_fd=parent)
            if st_.S_ISLNK(st.st_mode):
                raise self._err(entry, 'goes through the symlink "%s"' % "/".join(comps)) from None
            if not is_whiteout(st):
                raise self._err(entry, 'is below "%s", which is not a directory' % "/".join(comps)) from None
            # deleted below, made again here: overlayfs's opaque directory
            posix.unlink(name, dir_fd=parent)
            posix.mkdir(name, 0o755, dir_fd=parent)
            self.implicit[key] = True
            fd = posix.open(name, O_DIR, dir_fd=parent)
            self._set_opaque(fd)
        self.fds[key] = fd
        return fd

    def _evict(self):
        # called only where no cached fd is in use: the chain is reopened on demand
        if len(self.fds) >= FD_CACHE:
            self._drop_fds(())

    def _set_opaque(self, fd):
        posix.setxattr(fd, OPAQUE_XATTR, b"y")

    # -- entries --

    def add(self, m, tar):
        """Apply one tarfile.TarInfo `m` (its data read from `tar`)."""
        import tarfile

        self.count += 1
        self.current = m.name
        self._evict()
        comps = split_name(m.name)
        if len(comps) > MAX_DEPTH:
            raise self._err(m.name, "is nested too deeply")
        if not comps:
            if not m.isdir():
                raise self._err(m.name, "names the root but is not a directory")
            self._attrs_fd(self.root_fd, m)
            self.implicit.pop((), None)
            self.dir_times[()] = _mtime_ns(m)
            return
        parent_comps, name = comps[:-1], comps[-1]
        if name.startswith(WH):
            self._whiteout(m, parent_comps, whiteout_target(name))
            return
        pfd = self.dir_fd(parent_comps, m.name)
        key = tuple(comps)
        try:
            old = posix.lstat(name, dir_fd=pfd)
        except FileNotFoundError:
            old = None
        if m.isdir():
            reopaque = False
            if old is not None and not st_.S_ISDIR(old.st_mode):
                reopaque = is_whiteout(old)
                posix.unlink(name, dir_fd=pfd)
                old = None
            if old is None:
                posix.mkdir(name, 0o700, dir_fd=pfd)
            fd = self.fds.get(key)
            if fd is None:
                fd = posix.open(name, O_DIR, dir_fd=pfd)
                self.fds[key] = fd
            self._attrs_fd(fd, m)
            if reopaque:
                self._set_opaque(fd)
            self.implicit.pop(key, None)
            self.dir_times[key] = _mtime_ns(m)
            return
        if old is not None:
            if st_.S_ISDIR(old.st_mode):
                self._drop_fds(key)
                rmtree_at(pfd, name)
                self._forget_below(key)
            else:
                posix.unlink(name, dir_fd=pfd)
        if m.isreg() or m.type == tarfile.CONTTYPE:
            fd = posix.open(name, O_NEW, 0o600, dir_fd=pfd)
            try:
                src = tar.extractfile(m)
                if src is not None:
                    while True:
                        b = src.read(1 << 20)
                        if not b:
                            break
                        view = memoryview(b)
                        while view:
                            n = posix.write(fd, view)
                            view = view[n:]
                self._attrs_fd(fd, m)
                posix.utime(fd, ns=(_mtime_ns(m), _mtime_ns(m)))
            finally:
                posix.close(fd)
        elif m.issym():
            posix.symlink(m.linkname, name, dir_fd=pfd)
            self._attrs_path(pfd, name, m, symlink=True)
        elif m.islnk():
            self._hardlink(m, pfd, name)
        elif m.ischr() or m.isblk():
            if m.ischr() and m.devmajor == 0 and m.devminor == 0:
                raise self._err(m.name, "is a 0:0 character device, which overlayfs reads as a whiteout")
            kind = st_.S_IFCHR if m.ischr() else st_.S_IFBLK
            posix.mknod(name, kind | 0o600, posix.makedev(m.devmajor, m.devminor), dir_fd=pfd)
            self._attrs_path(pfd, name, m)
        elif m.isfifo():
            posix.mkfifo(name, 0o600, dir_fd=pfd)
            self._attrs_path(pfd, name, m)
        else:
            raise self._err(m.name, "has an unsupported type %r" % m.type)

    def _forget_below(self, key):
        n = len(key)
        for d in (self.implicit, self.dir_times):
            for k in [k for k in d if k[:n] == key]:
                del d[k]

    def _whiteout(self, m, parent_comps, target):
        if not target:
            return
        if target in (".", "..") or "/" in target:
            raise self._err(m.name, "is a whiteout of an invalid name")
        pfd = self.dir_fd(parent_comps, m.name)
        if target == OPQ:
            self._set_opaque(pfd)
            return
        try:
            old = posix.lstat(target, dir_fd=pfd)
        except FileNotFoundError:
            old = None
        if old is not None:
            # a whiteout hides lower layers only: what this layer made stays
            return
        posix.mknod(target, st_.S_IFCHR | 0o000, 0, dir_fd=pfd)

    def _hardlink(self, m, pfd, name):
        tcomps = split_name(m.linkname, "hard link target")
        if not tcomps:
            raise self._err(m.name, "is a hard link to the root")
        tfd = self._lookup_dir(tcomps[:-1])
        tst = None
        if tfd is not None:
            try:
                tst = posix.lstat(tcomps[-1], dir_fd=tfd)
            except FileNotFoundError:
                tst = None
        if tst is not None and not st_.S_ISDIR(tst.st_mode) and not is_whiteout(tst):
            posix.link(tcomps[-1], name, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
            return
        if tst is not None:
            raise self._err(m.name, 'is a hard link to "%s", which is not a file' % m.linkname)
        src = merged_path(self.lowers, tcomps)
        if src is None or not st_.S_ISREG(posix.lstat(src).st_mode):
            raise self._err(m.name, 'is a hard link to "%s", which is not in the layer or below'
                            % m.linkname)
        copy_file_at(src, pfd, name)

    def _lookup_dir(self, comps):
        """fd of an existing dir of this layer (cached or opened, no creation), or None."""
        key = tuple(comps)
        if not key:
            return self.root_fd
        fd = self.fds.get(key)
        if fd is not None:
            return fd
        parent = self._lookup_dir(comps[:-1])
        if parent is None:
            return None
        try:
            fd = posix.open(comps[-1], O_DIR, dir_fd=parent)
        except OSError as e:
            if e.errno in (2, 20, ELOOP):
                return None
            raise
        self.fds[key] = fd
        return fd

    # -- attributes --

    def _xattrs(self, m):
        out = []
        for k, v in (m.pax_headers or {}).items():
            if k.startswith(XATTR_PAX):
                name = k[len(XATTR_PAX):]
                if name.startswith(OVERLAY_PREFIXES):
                    continue     # overlayfs's own: an archive may not steer the mount
                out.append((name, v.encode("utf-8", "surrogateescape")))
        return out

    def _attrs_fd(self, fd, m):
        if self.same_owner:
            posix.chown(fd, m.uid, m.gid)
        posix.chmod(fd, m.mode & 0o7777)
        for name, value in self._xattrs(m):
            try:
                posix.setxattr(fd, name, value)
            except OSError as e:
                if e.errno != ENOTSUP:
                    raise self._err(m.name, "xattr %s: %s" % (name, errors.strerror(e.errno))) from None

    def _attrs_path(self, pfd, name, m, symlink=False):
        if self.same_owner:
            posix.chown(name, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        if not symlink:
            posix.chmod(name, m.mode & 0o7777, dir_fd=pfd)
        xattrs = self._xattrs(m)
        if xattrs:
            path = "/proc/self/fd/%d/%s" % (pfd, name)
            for xn, value in xattrs:
                try:
                    posix.setxattr(path, xn, value, follow_symlinks=False)
                except OSError as e:
                    if e.errno not in (ENOTSUP, 1):
                        raise self._err(m.name, "xattr %s: %s" % (xn, errors.strerror(e.errno))) from None
        ns = _mtime_ns(m)
        posix.utime(name, ns=(ns, ns), dir_fd=pfd, follow_symlinks=False)

    def finish(self):
        """Implied dirs take the merged lowers' attributes; then every dir's times."""
        for key in sorted(self.implicit, key=len):
            self._evict()
            src = merged_path(self.lowers, list(key))
            if src is None:
                continue
            sst = posix.lstat(src)
            if not st_.S_ISDIR(sst.st_mode):
                continue
            fd = self._lookup_dir(list(key))
            if fd is None:
                continue
            if self.same_owner:
                posix.chown(fd, sst.st_uid, sst.st_gid)
            posix.chmod(fd, st_.S_IMODE(sst.st_mode))
            self.dir_times[key] = sst.st_mtime_ns
        for key in sorted(self.implicit, key=len):
            if key not in self.dir_times:
                self.dir_times[key] = None
        for key in sorted(self.dir_times, key=len, reverse=True):
            ns = self.dir_times[key]
            if ns is None:
                continue
            self._evict()
            fd = self._lookup_dir(list(key))
            if fd is not None:
                posix.utime(fd, ns=(ns, ns))


def _mtime_ns(m):
    return int(m.mtime * 1000000000) if isinstance(m.mtime, float) else int(m.mtime) * 1000000000


def extract(stream, root, lowers=(), label="layer", same_owner=None):
    """Apply the tar read from `stream` (a Stream or any file object) to `root`."""
    import tarfile

    ex = Extractor(root, lowers, label, same_owner)
    try:
        try:
            tar = tarfile.open(fileobj=stream, mode="r|", bufsize=1 << 20)
            for m in tar:
                ex.add(m, tar)
            ex.finish()
        except (tarfile.TarError, EOFError) as e:
            raise LayerError("%s: not a valid tar archive (%s)" % (label, e)) from None
        except OSError as e:
            if isinstance(e, errors.PyruncError):
                raise
            raise LayerError('%s: tar entry "%s": %s' % (label, ex.current, errors.strerror(e.errno or 0))) from None
    finally:
        ex.close()
    return ex.count


# ---- the merged view of lower layers (our own store dirs) ----

def merged_path(lowers, comps):
    """Path of `comps` in the union of `lowers` (top first) as overlayfs would show it,
    or None where it is absent or hidden (whiteout, opaque dir, non-dir on the way)."""
    for lower in lowers:
        path = lower
        stop_below = False
        for i, c in enumerate(comps):
            path = path + "/" + c
            try:
                s = posix.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                s = None
            if s is None:
                break
            if is_whiteout(s):
                return None
            last = i == len(comps) - 1
            if last:
                return path
            if not st_.S_ISDIR(s.st_mode):
                return None
            if _is_opaque_path(path):
                stop_below = True
        else:
            if not comps:
                return lower
        if stop_below:
            return None
    return None


def _is_opaque_path(path):
    try:
        return posix.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def copy_file_at(src, dfd, name):
    s = posix.lstat(src)
    ifd = posix.open(src, posix.O_RDONLY | posix.O_NOFOLLOW | posix.O_CLOEXEC)
    try:
        ofd = posix.open(name, O_NEW, 0o600, dir_fd=dfd)
        try:
            while True:
                b = posix.read(ifd, 1 << 20)
                if not b:
                    break
                posix.write(ofd, b)
            if posix.geteuid() == 0:
                posix.chown(ofd, s.st_uid, s.st_gid)
            posix.chmod(ofd, st_.S_IMODE(s.st_mode))
            posix.utime(ofd, ns=(s.st_atime_ns, s.st_mtime_ns))
        finally:
            posix.close(ofd)
    finally:
        posix.close(ifd)


def rmtree_at(dfd, name):
    """Remove `name` below the dir fd `dfd`, never following symlinks."""
    try:
        fd = posix.open(name, O_DIR, dir_fd=dfd)
    except OSError as e:
        if e.errno in (20, ELOOP):
            posix.unlink(name, dir_fd=dfd)
            return
        if e.errno == 2:
            return
        raise
    try:
        for child in posix.listdir(fd):
            s = posix.lstat(child, dir_fd=fd)
            if st_.S_ISDIR(s.st_mode):
                rmtree_at(fd, child)
            else:
                posix.unlink(child, dir_fd=fd)
    finally:
        posix.close(fd)
    posix.rmdir(name, dir_fd=dfd)


# ---- upper dir -> changeset ----

class _Exact:
    """Exactly `size` bytes of an fd, for tarfile; a file that shrank meanwhile is an error."""

    def __init__(self, fd, size, path):
        self.fd = fd
        self.left = size
        self.path = path

    def read(self, n=-1):
        if n is None or n < 0 or n > self.left:
            n = self.left
        if n == 0:
            return b""
        b = posix.read(self.fd, n)
        if not b:
            raise LayerError('"%s" shrank while it was read: it changed during the commit (see --pause)'
                             % self.path)
        self.left -= len(b)
        return b


class DiffWriter:
    """Walk an overlayfs upper dir and write its changeset as tar entries to `tar`."""

    def __init__(self, tar):
        import tarfile

        self.tarfile = tarfile
        self.tar = tar
        self.links = {}
        self.count = 0

    def _info(self, path, s, kind):
        ti = self.tarfile.TarInfo(path)
        ti.type = kind
        ti.mode = st_.S_IMODE(s.st_mode)
        ti.uid = s.st_uid
        ti.gid = s.st_gid
        ti.uname = ""
        ti.gname = ""
        ti.mtime = s.st_mtime_ns // 1000000000
        return ti

    def _xattrs(self, target, what, follow=True):
        try:
            names = posix.listxattr(target, follow_symlinks=follow)
        except OSError as e:
            if e.errno in (ENOTSUP, 1):
                return {}
            raise
        out = {}
        for n in sorted(names):
            if n.startswith(OVERLAY_PREFIXES):
                if n.endswith((".redirect", ".metacopy")):
                    raise LayerError('"%s" has the overlayfs xattr %s: a bundle mounted with redirect_dir or '
                                     'metacopy can not be committed' % (what, n))
                continue
            try:
                v = posix.getxattr(target, n, follow_symlinks=follow)
            except OSError:
                continue
            out[XATTR_PAX + n] = v.decode("utf-8", "surrogateescape")
        return out

    def _add(self, ti, fileobj=None):
        self.tar.addfile(ti, fileobj)
        self.count += 1

    def walk(self, root):
        fd = posix.open(root, O_DIR)
        try:
            s = posix.fstat(fd)
            ti = self._info("./", s, self.tarfile.DIRTYPE)
            ti.pax_headers = self._xattrs(fd, "/")
            self._add(ti)
            self._dir(fd, "")
        finally:
            posix.close(fd)
        return self.count

    def _dir(self, dfd, prefix):
        names = sorted(posix.listdir(dfd), key=lambda n: n.encode("utf-8", "surrogateescape"))
        stats = []
        for name in names:
            try:
                s = posix.lstat(name, dir_fd=dfd)
            except FileNotFoundError:
                continue       # removed while we walk (a running container)
            if name.startswith(WH):
                raise LayerError('"%s%s": names starting with .wh. can not be stored in an OCI layer'
                                 % (prefix, name))
            stats.append((name, s))
        # whiteouts first (before any sibling), as the image-spec asks
        for name, s in stats:
            if is_whiteout(s):
                ti = self._info(prefix + WH + name, s, self.tarfile.REGTYPE)
                ti.mode = 0
                ti.uid = ti.gid = 0
                self._add(ti)
        for name, s in stats:
            if is_whiteout(s):
                continue
            path = prefix + name
            mode = s.st_mode
            if st_.S_ISDIR(mode):
                try:
                    cfd = posix.open(name, O_DIR, dir_fd=dfd)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                try:
                    ti = self._info(path + "/", s, self.tarfile.DIRTYPE)
                    ti.pax_headers = self._xattrs(cfd, path)
                    self._add(ti)
                    try:
                        opaque = posix.getxattr(cfd, OPAQUE_XATTR) == b"y"
                    except OSError:
                        opaque = False
                    if opaque:
                        wi = self._info(path + "/" + OPQ, s, self.tarfile.REGTYPE)
                        wi.mode = 0
                        wi.uid = wi.gid = 0
                        self._add(wi)
                    self._dir(cfd, path + "/")
                finally:
                    posix.close(cfd)
                continue
            if st_.S_ISSOCK(mode):
                continue       # a tar layer can not hold sockets
            if s.st_nlink > 1:
                first = self.links.get((s.st_dev, s.st_ino))
                if first is not None:
                    ti = self._info(path, s, self.tarfile.LNKTYPE)
                    ti.linkname = first
                    self._add(ti)
                    continue
                self.links[(s.st_dev, s.st_ino)] = path
            if st_.S_ISREG(mode):
                try:
                    ffd = posix.open(name, posix.O_RDONLY | posix.O_NOFOLLOW | posix.O_CLOEXEC, dir_fd=dfd)
                except FileNotFoundError:
                    continue
                try:
                    fs = posix.fstat(ffd)
                    ti = self._info(path, fs, self.tarfile.REGTYPE)
                    ti.size = fs.st_size
                    ti.pax_headers = self._xattrs(ffd, path)
                    self._add(ti, _Exact(ffd, fs.st_size, path))
                finally:
                    posix.close(ffd)
                continue
            proc = "/proc/self/fd/%d/%s" % (dfd, name)
            if st_.S_ISLNK(mode):
                ti = self._info(path, s, self.tarfile.SYMTYPE)
                try:
                    ti.linkname = posix.readlink(name, dir_fd=dfd)
                except FileNotFoundError:
                    continue
            elif st_.S_ISCHR(mode) or st_.S_ISBLK(mode):
                ti = self._info(path, s, self.tarfile.CHRTYPE if st_.S_ISCHR(mode) else self.tarfile.BLKTYPE)
                ti.devmajor = posix.major(s.st_rdev)
                ti.devminor = posix.minor(s.st_rdev)
            elif st_.S_ISFIFO(mode):
                ti = self._info(path, s, self.tarfile.FIFOTYPE)
            else:
                continue
            ti.pax_headers = self._xattrs(proc, path, follow=False)
            self._add(ti)


class GzipSink:
    """tar bytes in -> diff_id hashed, gzip (deterministic header), blob writer out."""

    def __init__(self, out, level=6):
        import hashlib
        import zlib

        self.out = out
        self.dead = False
        self.uh = hashlib.sha256()
        self.usize = 0
        self.z = zlib.compressobj(level, zlib.DEFLATED, 31)

    def write(self, data):
        if self.dead:
            return len(data)     # a failed commit: tarfile's late flushes go nowhere
        self.uh.update(data)
        self.usize += len(data)
        c = self.z.compress(data)
        if c:
            self.out.write(c)
        return len(data)

    def close(self):
        c = self.z.flush()
        if c:
            self.out.write(c)

    def diff_id(self):
        return "sha256:" + self.uh.hexdigest()


def write_layer(upper, out, level=6):
    """Write the changeset of the upper dir `upper` as a gzipped tar to `out` (an object
    with write()); -> (diff_id, uncompressed size, entries)."""
    import tarfile

    sink = GzipSink(out, level)
    tar = tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT, bufsize=1 << 20)
    try:
        try:
            n = DiffWriter(tar).walk(upper)
        except OSError as e:
            if isinstance(e, errors.PyruncError):
                raise
            raise LayerError("read %s: %s" % (getattr(e, "filename", None) or upper,
                                              errors.strerror(e.errno or 0))) from None
    except BaseException:
        sink.dead = True
        raise
    tar.close()
    sink.close()
    return sink.diff_id(), sink.usize, n
