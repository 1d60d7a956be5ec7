"""The state store. Hot path of state, kill, start, delete and list: imports posix,
marshal and fcntl only.

Layout of `<root>/<id>/`:
  state        what `state` prints plus what later commands need (pid start time,
               cgroup paths, hooks, namespaces), as a marshal document; replaced by
               temp file + rename
  config       the config as loaded at create, for exec (runtime-spec: later edits of
               the bundle's config.json have no effect), and the cgroups create is about
               to make, written before them (so that a broken state still finds them)
  exec.fifo    present from create until start: the init blocks opening it

Only pyrunc reads these files (callers read `pyrunc state`), so the two it reads on
every command are in the format the interpreter reads fastest: `marshal` is built in,
while the JSON scanner is an extension module whose load was a third of a millisecond
of every `start`, `delete` and `kill`.
"""
import marshal
import posix

from pyrunc import errors

STATE = "state"
CONFIG = "config"
FIFO = "exec.fifo"
_FORMAT = 4  # marshal's version: plain containers, numbers and strings only

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+,-.")
MAX_ID = 1024


def validate_id(cid):
    """runc's rule: [A-Za-z0-9_+,.-]+, not "." or "..", and a sane length."""
    if not cid or len(cid) > MAX_ID or cid in (".", "..") or not all(ch in _ID_CHARS for ch in cid):
        raise errors.InvalidIDError()


def container_dir(root, cid):
    validate_id(cid)
    return root + "/" + cid


def ensure_root(root):
    try:
        posix.mkdir(root, 0o700)
    except FileExistsError:
        return
    except FileNotFoundError:
        parent = root.rpartition("/")[0]
        if parent and parent != root:
            ensure_root(parent)
            try:
                posix.mkdir(root, 0o700)
            except FileExistsError:
                pass
        else:
            raise


class Lock:
    """flock on the container dir: serialises create/start/delete/kill of one id."""

    __slots__ = ("fd",)

    def __init__(self, path, nonblock=False):
        import fcntl

        self.fd = posix.open(path, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | (fcntl.LOCK_NB if nonblock else 0))
        except BaseException:
            posix.close(self.fd)
            raise

    def release(self):
        if self.fd >= 0:
            posix.close(self.fd)
            self.fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False


def lock_existing(cdir):
    """The Lock of an existing container's dir; ContainerNotFound when there is none
    (the state is read under the lock: one read, not one before and one after)."""
    try:
        return Lock(cdir)
    except (FileNotFoundError, NotADirectoryError):
        raise errors.ContainerNotFound() from None
    except OSError:
        read_state(cdir)   # runc's words for a root out of reach
        raise


def read_state(cdir):
    """The stored state dict; ContainerNotFound when there is none.

    A missing, unreadable or ill-typed state file in an existing dir (a create that was
    killed half-way, a damaged file) reads as a broken state with pid 0 (status
    "stopped"), so that `delete --force` can still clean it through the config file's
    cgroups record.
    """
    try:
        fd = posix.open(cdir + "/" + STATE, posix.O_RDONLY | posix.O_CLOEXEC)
    except FileNotFoundError:
        try:
            posix.stat(cdir)
        except FileNotFoundError:
            raise errors.ContainerNotFound() from None
        return broken_state(cdir)
    except NotADirectoryError:
        raise errors.ContainerNotFound() from None
    except OSError as e:
        # runc's words where the root itself is out of reach (a non-root caller):
        # `lstat /run/runc/c1: permission denied`
        try:
            posix.lstat(cdir)
        except OSError as e2:
            raise errors.from_oserror("lstat " + cdir, e2) from None
        raise errors.from_oserror("open " + cdir + "/" + STATE, e) from None
    st = _load(_read_and_close(fd))
    return st if st is not None and _well_formed(st) else broken_state(cdir)


def _read_and_close(fd):
    try:
        chunks = []
        while True:
            b = posix.read(fd, 1 << 16)
            if not b:
                return b"".join(chunks)
            chunks.append(b)
    finally:
        posix.close(fd)


def _load(data):
    """The dict in a state document, or None. Only a dict is ever written: any other
    first byte (marshal's type code, with or without its reference flag) is damage, and
    is refused before marshal sizes a container from garbage."""
    if data[:1] not in (b"{", b"\xfb"):
        return None
    try:
        return marshal.loads(data)
    except (ValueError, EOFError, TypeError, MemoryError):
        return None


def _is_int(v):
    return type(v) is int and v >= 0


def _is_str_map(v):
    return type(v) is dict and all(type(x) is str for x in v.values())


# the fields the runtime reads back, and their types: anything else (a file edited or
# damaged by hand) would otherwise fail deep inside a verb instead of reading as broken
_FIELDS = (
    ("id", lambda v: type(v) is str),
    ("pid", _is_int),
    ("pidStart", _is_int),
    ("bundle", lambda v: type(v) is str),
    ("rootfs", lambda v: type(v) is str),
    ("created", lambda v: type(v) is str),
    ("annotations", lambda v: _is_str_map(v)),
    ("cgroupPaths", _is_str_map),
    ("cgroupsCreated", lambda v: type(v) is list and all(type(x) is str for x in v)),
    ("cgroupMode", lambda v: type(v) is str),
    ("freezer", lambda v: v is None or type(v) is str),
    ("namespaces", lambda v: type(v) is dict),
    ("newPidns", lambda v: type(v) is bool),
    ("hooks", lambda v: v is None or type(v) is dict),
    ("status", lambda v: type(v) is str),
)


def _well_formed(st):
    if type(st) is not dict or type(st.get("id")) is not str or "pid" not in st:
        return False
    for key, ok in _FIELDS:
        if key in st and not ok(st[key]):
            return False
    return True


def broken_state(cdir):
    """What is known of a container whose state file is missing or corrupt: its cgroups
    (from the config file), so that delete --force can kill what runs there and remove them."""
    cid = cdir.rpartition("/")[2]
    st = {"ociVersion": "", "id": cid, "pid": 0, "pidStart": 0, "bundle": "", "rootfs": "",
          "created": "0001-01-01T00:00:00Z", "owner": "", "broken": True, "newPidns": False}
    try:
        cg = _config_part(cdir, "cgroups")
        st["cgroupMode"] = cg["mode"]
        st["cgroupPaths"] = cg["paths"]
        st["cgroupsCreated"] = cg["created"]
        for key in ("cgroupDriver", "systemdUnit", "systemdSlice"):
            if type(cg.get(key)) is str:
                st[key] = cg[key]
    except (OSError, ValueError, EOFError, KeyError, TypeError):
        pass
    return st


def write_state(cdir, st):
    """Atomic replace: temp file in the same dir, fsync-free (tmpfs), rename. A full or
    read-only state root is a PyruncError naming the file; no temp file stays."""
    _write_doc(cdir + "/" + STATE, st)


def _write_doc(path, doc):
    write_atomic(path, marshal.dumps(_plain(doc), _FORMAT))


def _plain(v):
    """What a JSON round trip would give: lists for tuples (marshal keeps a tuple, and
    the readers check for lists), string keys; anything else is refused, as a document
    that could not be read back must not be written."""
    t = type(v)
    if t is dict:
        return {k if type(k) is str else str(k): _plain(x) for k, x in v.items()}
    if t is list or t is tuple:
        return [_plain(x) for x in v]
    if t is str or t is int or t is bool or v is None or t is float:
        return v
    raise TypeError("state: %s is not plain data" % t.__name__)


def write_atomic(path, data, mode=0o600):
    head, _, name = path.rpartition("/")
    tmp = head + "/." + name + ".tmp"
    try:
        fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC, mode)
        try:
            while data:
                data = data[posix.write(fd, data):]
        finally:
            posix.close(fd)
        posix.rename(tmp, path)
    except OSError as e:
        try:
            posix.unlink(tmp)
        except OSError:
            pass
        raise errors.from_oserror('write "%s"' % path, e) from None


def write_config(cdir, spec, cgroups):
    """The config create loaded and the cgroups it is about to make, in one file written
    before them (a marshal document, as the state)."""
    _write_doc(cdir + "/" + CONFIG, {"spec": spec, "cgroups": cgroups})


def _config_part(cdir, key):
    """The config file's "spec" or "cgroups"; None when the file is missing or damaged."""
    try:
        doc = _load(_read_and_close(posix.open(cdir + "/" + CONFIG, posix.O_RDONLY | posix.O_CLOEXEC)))
    except OSError:
        return None
    return doc.get(key) if doc is not None else None


def read_config(cdir):
    """The config that create kept ({} when missing or damaged)."""
    spec = _config_part(cdir, "spec")
    return spec if type(spec) is dict else {}


def replace_config(cdir, spec):
    """A new config (update changed its resources), the cgroups record kept."""
    write_config(cdir, spec, _config_part(cdir, "cgroups") or {})


def write_pid_file(path, pid):
    """Decimal pid, no newline, via `.name` next to it and rename (go-runc parses strictly)."""
    head, _, name = path.rpartition("/")
    if not _:
        head, name = ".", path
    tmp = (head or "") + "/." + name
    fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC, 0o644)
    try:
        posix.write(fd, str(pid).encode())
    finally:
        posix.close(fd)
    posix.rename(tmp, path)


def proc_stat(pid):
    """(state char, start time) of a pid from /proc, or None when it is gone."""
    if pid <= 0:
        return None
    try:
        fd = posix.open("/proc/%d/stat" % pid, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = posix.read(fd, 4096)
    except OSError:
        return None
    finally:
        posix.close(fd)
    # comm may hold spaces and parentheses: the fields start after the last ')'
    fields = data[data.rfind(b")") + 2:].split()
    if len(fields) < 20:
        return None
    return fields[0].decode(), int(fields[19])


def init_alive(st):
    """The init runs (not a zombie) and is the same process that create started."""
    pid = st.get("pid") or 0
    ps = proc_stat(pid)
    if ps is None or ps[0] in ("Z", "X", "x"):
        return False
    return ps[1] == st.get("pidStart")


def being_created(cdir):
    """Someone holds the container dir's lock: a create that has not written its state
    yet (it takes the lock right after mkdir), or a command cleaning up what such a
    create left. Without this, `state` or `list` polling during a create read the
    unwritten state as "stopped" (pid 0), and a caller would treat a container coming
    up as dead."""
    import fcntl

    try:
        fd = posix.open(cdir, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        posix.close(fd)


def reported_status(cdir, st):
    """The status `state` and `list` print: a dir without a (readable) state is being
    created while its creator holds the lock, else a create that died half-way (stopped:
    delete --force cleans it). The verbs that act on a container use status(): for them
    such a dir is nothing to signal, exec into or update."""
    if st.get("broken") and being_created(cdir):
        return "creating"
    return status(cdir, st)


def status(cdir, st):
    """creating, created, running, paused or stopped, from the process and the files."""
    if st.get("broken"):
        return "stopped"
    if not init_alive(st):
        return "stopped"
    if st.get("status") == "creating":
        return "creating"
    freezer = st.get("freezer")
    if freezer and _frozen(freezer):
        return "paused"
    try:
        posix.stat(cdir + "/" + FIFO)
        return "created"
    except OSError:
        return "running"


def _frozen(path):
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return False
    try:
        data = posix.read(fd, 64).strip()
    finally:
        posix.close(fd)
    return data in (b"FROZEN", b"FREEZING", b"1")


def public_state(st, stat):
    """The state JSON as runc prints it: fields, order, pid 0 when stopped."""
    out = {
        "ociVersion": st.get("ociVersion", ""),
        "id": st.get("id", ""),
        "pid": 0 if stat == "stopped" else st.get("pid", 0),
        "status": stat,
        "bundle": st.get("bundle", ""),
        "rootfs": st.get("rootfs", ""),
        "created": st.get("created", ""),
    }
    ann = st.get("annotations")
    if ann:
        out["annotations"] = {k: ann[k] for k in sorted(ann)}  # a Go map: keys sorted
    out["owner"] = ""
    return out


def remove_state_dir(cdir):
    """Remove a container's state dir and the files in it; what is already gone is fine.

    The dir is first renamed to a dot-name in the root (which `list` skips): a `state`
    or `list` running meanwhile takes no lock, and must see the whole state or none,
    never a dir whose state is already gone."""
    root, _, cid = cdir.rpartition("/")
    hidden = "%s/.rm-%d-%s" % (root, posix.getpid(), cid[:200])
    try:
        posix.rename(cdir, hidden)
        cdir = hidden
    except FileNotFoundError:
        return
    except OSError:
        pass
    try:
        names = posix.listdir(cdir)
    except FileNotFoundError:
        return
    for name in names:
        try:
            posix.unlink(cdir + "/" + name)
        except OSError:
            pass
    try:
        posix.rmdir(cdir)
    except OSError:
        pass


def public_state_of(root, cid):
    """The state of `cid` as `state` prints it (runc's fields and order)."""
    cdir = container_dir(root, cid)
    st = read_state(cdir)
    return public_state(st, reported_status(cdir, st))


def list_public(root):
    """Every container's state as `list --format json` prints it (the owner a name)."""
    try:
        names = sorted(posix.listdir(root))
    except FileNotFoundError:
        return []
    except OSError as e:
        raise errors.from_oserror("open " + root, e) from None
    rows = []
    for name in names:
        if name.startswith("."):  # the runtime's own files (.seccomp cache), not containers
            continue
        cdir = root + "/" + name
        try:
            info = posix.stat(cdir)
            st = read_state(cdir)
        except (OSError, errors.PyruncError):
            continue
        if not (info.st_mode & 0o040000):
            continue
        out = public_state(st, reported_status(cdir, st))
        out["owner"] = _owner(info.st_uid)
        rows.append(out)
    return rows


def _owner(uid, cache={}):
    if uid not in cache:
        import pwd

        try:
            cache[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            cache[uid] = "#%d" % uid
    return cache[uid]
