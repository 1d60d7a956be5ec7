#!/usr/bin/python3
"""Run one command inside a small qemu guest whose kernel offers pure cgroup v2.

The host keeps its hybrid cgroups; the guest boots Debian's kernel with
``cgroup_no_v1=all``, sees the host's root filesystem read-only over virtio-9p
with a tmpfs overlay on top (so the host's python, /opt/pyrunc and the checkout
are all there, and nothing the guest writes reaches the host), mounts cgroup2 as
its only cgroup filesystem, runs the command, prints ``GUEST-EXIT: N`` and powers
off.

Library::

    from boot import run_in_guest
    code, output = run_in_guest(["/opt/pyrunc/bin/python", "-m", "pytest", "-q", "x.py"])

CLI::

    python integration/guest/boot.py [--timeout S] [--memory 1G] [--cpus 2] [-v] -- CMD ARGS...

The CLI streams the command's output and exits with its exit code (124 on a
timeout, 125 when the guest could not boot or run the command).
"""
import argparse
import dataclasses
import glob
import gzip
import hashlib
import io
import lzma
import os
import re
import select
import shlex
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE_DIR = Path("/tmp/pyrunc-guest-cache")
QEMU = "qemu-system-x86_64"
BUSYBOX = "/bin/busybox"
APT_PACKAGES = ["qemu-system-x86", "linux-image-amd64"]

EXIT_MARKER = "GUEST-EXIT: "
BEGIN_MARKER = "GUEST-BEGIN"
BOOT_ERROR_MARKER = "GUEST-BOOT-ERROR: "

# Loaded in this order (after their dependencies, which are resolved from
# modules.dep); modules the kernel has built in are skipped.
MODULES = [
    "virtio_pci",           # the PCI transport for every virtio device
    "9pnet_virtio",         # 9p over virtio
    "9p",                   # the 9p filesystem (pulls in netfs, fscache, 9pnet)
    "overlay",              # the writable root, and containers' rootfs in tests
    "virtio_rng",           # entropy, so getrandom() never blocks in the guest
]
OPTIONAL_MODULES = {"virtio_rng"}

DEFAULT_PATH = "/opt/pyrunc/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# /init of the initramfs, run by busybox sh.  It assembles the guest's root:
# the host's / over 9p (read-only) as the lower layer of an overlay whose upper
# layer is a tmpfs, then switch_root's into it and runs guest.sh.
INIT_SCRIPT = r"""#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
fail() {
    echo "GUEST-BOOT-ERROR: $*"
    echo b > /proc/sysrq-trigger
    reboot -f
}
mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
echo 1 > /proc/sys/kernel/sysrq
while read -r m; do
    [ -n "$m" ] || continue
    insmod "/modules/$m" || case "$m" in
        *-optional.ko) ;;
        *) fail "insmod $m failed" ;;
    esac
done < /modules/order
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot /lower \
    || fail "mount of the host root over 9p failed"
mount -t tmpfs -o mode=0755 guestrw /rw || fail "tmpfs for the overlay failed"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot \
    || fail "overlay mount failed"
mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /newroot/run || fail "tmpfs on /run failed"
mkdir -p /newroot/run/pyrunc-guest
cp /bin/busybox /guest.sh /cmd.sh /newroot/run/pyrunc-guest/ || fail "copy of the guest scripts failed"
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
exec switch_root /newroot /run/pyrunc-guest/busybox sh /run/pyrunc-guest/guest.sh
fail "switch_root failed"
"""

# Runs as pid 1 in the assembled root.  Mounts what a unified (cgroup v2 only)
# host has, enables every controller at the root, runs /run/pyrunc-guest/cmd.sh
# and powers off.
GUEST_SCRIPT = r"""
G=/run/pyrunc-guest
bb() { "$G/busybox" "$@"; }
mounted() { bb grep -q " $1 " /proc/self/mounts 2>/dev/null; }
mnt() {  # type source options target [mode]
    [ -d "$4" ] || bb mkdir -p "$4"
    mounted "$4" || bb mount -t "$1" -o "$3" "$2" "$4" || echo "guest: mount $1 on $4 failed"
}
mnt proc proc nosuid,nodev,noexec /proc
mnt sysfs sysfs nosuid,nodev,noexec /sys
mnt devtmpfs devtmpfs nosuid,mode=0755 /dev
mnt devpts devpts nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5 /dev/pts
mnt tmpfs tmpfs nosuid,nodev,mode=1777 /dev/shm
mnt mqueue mqueue nosuid,nodev,noexec /dev/mqueue
cgroups=$(bb sed -n 's/^# cgroups: //p' "$G/cmd.sh")
if bb grep -q '^# systemd: 1$' "$G/cmd.sh" && [ "$cgroups" != hybrid ]; then
    :   # systemd mounts its cgroup2 itself
elif [ "$cgroups" = hybrid ]; then
    # (systemd, when it boots on this, follows the layout it finds mounted)
    # as a hybrid systemd host: each v1 controller on its own hierarchy (cpu and
    # cpuacct, net_cls and net_prio together), an empty cgroup2 at unified
    mnt tmpfs tmpfs nosuid,nodev,noexec,mode=0755 /sys/fs/cgroup
    for c in $(bb awk 'NR > 1 && $4 == 1 { print $1 }' /proc/cgroups); do
        case "$c" in
            cpu|cpuacct) d=cpu,cpuacct ;;
            net_cls|net_prio) d=net_cls,net_prio ;;
            *) d=$c ;;
        esac
        mnt cgroup cgroup "nosuid,nodev,noexec,relatime,$d" "/sys/fs/cgroup/$d"
    done
    for l in cpu cpuacct net_cls net_prio; do
        [ -d "/sys/fs/cgroup/$l" ] || bb ln -s "$( [ "$l" = cpu ] || [ "$l" = cpuacct ] && echo cpu,cpuacct || echo net_cls,net_prio)" "/sys/fs/cgroup/$l"
    done
    mnt cgroup2 cgroup2 nosuid,nodev,noexec,relatime,nsdelegate /sys/fs/cgroup/unified
    bb grep -q '^# systemd: 1$' "$G/cmd.sh" || bb mount -o remount,ro /sys/fs/cgroup
else
    mnt cgroup2 cgroup2 nosuid,nodev,noexec,relatime,nsdelegate,memory_recursiveprot /sys/fs/cgroup
fi
# the guest gets a /tmp of its own; a working directory in the host's /tmp (a CI
# checkout, say) is carried over to the same path
keep=$(bb sed -n 's/^# keep: //p' "$G/cmd.sh")
if [ -n "$keep" ] && [ -d "$keep" ]; then
    bb mkdir -p "$G/keep" && bb mount --bind "$keep" "$G/keep" || keep=
else
    keep=
fi
mnt tmpfs tmpfs nosuid,nodev,mode=1777 /tmp
if [ -n "$keep" ]; then
    bb mkdir -p "$keep" && bb mount --move "$G/keep" "$keep" || echo "guest: could not keep $keep"
fi
[ -e /dev/fd ] || bb ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || bb ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || bb ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || bb ln -s /proc/self/fd/2 /dev/stderr
bb hostname pyrunc-guest
bb ip link set lo up 2>/dev/null
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    for c in $(bb cat /sys/fs/cgroup/cgroup.controllers); do
        echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || echo "guest: could not enable controller $c"
    done
fi
export PATH="__PATH__" HOME=/root LANG=C.UTF-8 TERM=dumb PYRUNC_IN_GUEST=1
if bb grep -q '^# systemd: 1$' "$G/cmd.sh"; then
    # systemd mode: the host's systemd becomes pid 1 on this root and runs the command
    # as a oneshot unit, which powers the guest off; systemd mounts its own cgroup2
    bb cat > "$G/sd.sh" <<'SDEOF'
echo
echo "GUEST-BEGIN"
/bin/sh /run/pyrunc-guest/cmd.sh < /dev/null 2>&1
rc=$?
echo
echo "GUEST-EXIT: $rc"
/bin/systemctl poweroff --no-block
SDEOF
    bb mkdir -p /etc/systemd/system
    bb cat > /etc/systemd/system/pyrunc-guest.service <<SDEOF
[Unit]
Description=pyrunc guest command
Wants=dbus.socket
After=dbus.socket basic.target
[Service]
Type=oneshot
StandardInput=null
StandardOutput=file:/dev/ttyS0
StandardError=inherit
Environment=PATH=$PATH HOME=/root LANG=C.UTF-8 TERM=dumb PYRUNC_IN_GUEST=1
ExecStart=/bin/sh $G/sd.sh
SDEOF
    : > /etc/machine-id
    exec /lib/systemd/systemd --unit=pyrunc-guest.service --log-target=console --log-level=warning \
        --show-status=false
    echo "GUEST-BOOT-ERROR: exec of systemd failed"
fi
echo
echo "GUEST-BEGIN"
/bin/sh "$G/cmd.sh" < /dev/null 2>&1
rc=$?
echo
echo "GUEST-EXIT: $rc"
bb sync
bb poweroff -f
bb sleep 3
echo b > /proc/sysrq-trigger
bb reboot -f
""".replace("__PATH__", DEFAULT_PATH)

BUILDER_VERSION = "1"


class GuestError(Exception):
    """The guest did not run the command to its end; .output holds the console log."""

    def __init__(self, message, output=""):
        super().__init__(message)
        self.output = output


class GuestTimeout(GuestError):
    pass


@dataclasses.dataclass
class GuestResult:
    exit_code: int
    output: str          # what the command printed (stdout and stderr, in order)
    console: str         # the whole serial console, boot messages included
    seconds: float       # wall time from starting qemu to its exit


# ---------------------------------------------------------------- host setup

def ensure_packages():
    """apt-get install qemu and Debian's kernel if either is missing."""
    if shutil.which(QEMU) and _kernel_candidates():
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", *APT_PACKAGES]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, text=True)
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0 or not shutil.which(QEMU) or not _kernel_candidates():
        raise GuestError(f"could not install {' '.join(APT_PACKAGES)}: apt-get exited "
                         f"{r.returncode}\n{r.stdout[-2000:]}{r.stderr[-2000:]}")


def _version_key(version):
    return [int(p) if p.isdigit() else p for p in re.split(r"[.\-+~]", version)]


def _kernel_candidates():
    """Versions with both /boot/vmlinuz-V and /lib/modules/V/modules.dep."""
    out = []
    for path in glob.glob("/boot/vmlinuz-*"):
        version = path[len("/boot/vmlinuz-"):]
        if os.path.exists(f"/lib/modules/{version}/modules.dep"):
            out.append(version)
    return sorted(out, key=_version_key)


def find_kernel():
    """(vmlinuz path, version): $PYRUNC_GUEST_KERNEL_VERSION or the newest installed."""
    versions = _kernel_candidates()
    wanted = os.environ.get("PYRUNC_GUEST_KERNEL_VERSION")
    if wanted:
        if wanted not in versions:
            raise GuestError(f"kernel {wanted} is not installed (have: {versions})")
        version = wanted
    elif versions:
        version = versions[-1]
    else:
        raise GuestError("no kernel with modules under /boot and /lib/modules")
    return f"/boot/vmlinuz-{version}", version


# ---------------------------------------------------------------- initramfs

def _modname(path):
    name = os.path.basename(path)
    for suffix in (".ko.xz", ".ko.zst", ".ko.gz", ".ko"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name.replace("-", "_")


def resolve_modules(version, names=None):
    """Module files (relative to /lib/modules/V) to insmod, dependencies first.

    Built-in modules are skipped; a missing module that is not optional raises.
    """
    names = MODULES if names is None else names
    base = Path("/lib/modules") / version
    deps, path_of = {}, {}
    for line in (base / "modules.dep").read_text().splitlines():
        mod, _, rest = line.partition(":")
        path_of[_modname(mod)] = mod
        deps[mod] = rest.split()
    builtin = set()
    if (base / "modules.builtin").exists():
        builtin = {_modname(p) for p in (base / "modules.builtin").read_text().split()}
    order, seen = [], set()

    def visit(mod):
        if mod in seen:
            return
        seen.add(mod)
        for dep in deps.get(mod, []):
            visit(dep)
        order.append(mod)

    for name in names:
        key = name.replace("-", "_")
        if key in builtin:
            continue
        if key not in path_of:
            if name in OPTIONAL_MODULES:
                continue
            raise GuestError(f"kernel {version} has no module {name}")
        visit(path_of[key])
    optional = {path_of[n.replace("-", "_")] for n in OPTIONAL_MODULES
                if n.replace("-", "_") in path_of}
    return [(m, m in optional) for m in order]


def _read_module(path):
    data = Path(path).read_bytes()
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".gz"):
        return gzip.decompress(data)
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    return data


class Cpio:
    """A minimal writer of the "newc" cpio format the kernel unpacks."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        name_b = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data),
                  0, 0, rdev[0], rdev[1], len(name_b), 0]
        self.ino += 1
        self.buf.write(b"070701" + b"".join(b"%08X" % f for f in fields))
        self.buf.write(name_b)
        self._pad()
        self.buf.write(data)
        self._pad()

    def _pad(self):
        self.buf.write(b"\0" * (-self.buf.tell() % 4))

    def dir(self, name, perm=0o755):
        self._entry(name, stat.S_IFDIR | perm)

    def file(self, name, data, perm=0o644):
        self._entry(name, stat.S_IFREG | perm, data)

    def symlink(self, name, target):
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor, perm=0o600):
        self._entry(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def finish(self):
        self._entry("TRAILER!!!", 0)
        self.buf.write(b"\0" * (-self.buf.tell() % 512))
        return self.buf.getvalue()


def build_initramfs(version):
    """Path of the cached base initramfs for kernel `version` (built if missing)."""
    modules = resolve_modules(version)
    busybox = Path(BUSYBOX).read_bytes()
    h = hashlib.sha256()
    for part in (BUILDER_VERSION, version, INIT_SCRIPT, GUEST_SCRIPT,
                 repr(modules), str(os.stat(f"/boot/vmlinuz-{version}").st_mtime_ns)):
        h.update(part.encode() + b"\0")
    h.update(hashlib.sha256(busybox).digest())
    out = CACHE_DIR / f"initramfs-{version}-{h.hexdigest()[:16]}.cpio.gz"
    if out.exists():
        return out
    c = Cpio()
    for d in ("bin", "dev", "proc", "sys", "lower", "rw", "newroot", "modules"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3, 0o666)
    c.file("bin/busybox", busybox, 0o755)
    c.symlink("bin/sh", "busybox")
    c.file("init", INIT_SCRIPT.encode(), 0o755)
    c.file("guest.sh", GUEST_SCRIPT.encode(), 0o644)
    order = []
    for i, (rel, optional) in enumerate(modules):
        name = f"{i:02d}-{_modname(rel)}{'-optional' if optional else ''}.ko"
        c.file(f"modules/{name}", _read_module(f"/lib/modules/{version}/{rel}"))
        order.append(name)
    c.file("modules/order", ("\n".join(order) + "\n").encode())
    data = gzip.compress(c.finish(), compresslevel=6, mtime=0)
    data += b"\0" * (-len(data) % 512)          # the next archive starts aligned
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp.{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    _prune(f"initramfs-{version}-*.cpio.gz", keep=out)
    return out


def _prune(pattern, keep):
    """Remove cache entries superseded by `keep` (a booting guest holds its own copies)."""
    for path in CACHE_DIR.glob(pattern):
        if path != keep and ".tmp." not in path.name:
            path.unlink(missing_ok=True)


def command_script(argv, cwd, env, systemd=False, cgroups="v2"):
    """cmd.sh: cd, export, exec argv (every word quoted for sh); `# systemd: 1` asks
    guest.sh to boot systemd and run it as a unit, `# cgroups: hybrid` for v1
    controllers beside an empty cgroup2."""
    lines = [f"cd {shlex.quote(str(cwd))} || exit 125"]
    if cgroups != "v2":
        lines.insert(0, f"# cgroups: {cgroups}")
    if systemd:
        lines.insert(0, "# systemd: 1")
    if str(cwd).startswith("/tmp/"):
        # guest.sh mounts a tmpfs on /tmp and carries this directory over
        lines.insert(0, "# keep: " + str(cwd))
    for key, value in (env or {}).items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"bad environment variable name {key!r}")
        lines.append(f"export {key}={shlex.quote(str(value))}")
    lines.append("exec " + " ".join(shlex.quote(str(a)) for a in argv))
    return "\n".join(lines) + "\n"


def _run_initrd(base, argv, cwd, env, systemd=False, cgroups="v2"):
    """The cached base archive followed by a small archive holding /cmd.sh."""
    c = Cpio()
    c.file("cmd.sh", command_script(argv, cwd, env, systemd, cgroups).encode())
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    for old in CACHE_DIR.glob("run-*.initrd"):      # left by a killed caller
        if time.time() - old.stat().st_mtime > 86400:
            old.unlink(missing_ok=True)
    fd, path = tempfile.mkstemp(prefix="run-", suffix=".initrd", dir=CACHE_DIR)
    with os.fdopen(fd, "wb") as f:
        f.write(base.read_bytes())
        f.write(c.finish())
    return path


# ---------------------------------------------------------------- kernel image

def _has_pvh_note(elf):
    """True if the ELF image carries XEN_ELFNOTE_PHYS32_ENTRY (qemu boots it directly)."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2:          # 64-bit ELF only
        return False
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        ptype, _, offset, _, _, filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if ptype != 4:                                 # PT_NOTE
            continue
        pos, end = offset, offset + filesz
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12: pos + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and ntype == 18:
                return True
            pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def boot_image(vmlinuz, version):
    """The image to give qemu's -kernel.

    Debian's bzImage is xz-compressed, and decompressing 65 MB under TCG takes
    about 4 s of every boot.  The kernel is built with CONFIG_PVH, so qemu can
    load the uncompressed ELF directly: extract it once (python's lzma) into the
    cache and boot that.  Falls back to the bzImage when that is not possible.
    """
    st = os.stat(vmlinuz)
    out = CACHE_DIR / f"vmlinux-{version}-{st.st_size}-{st.st_mtime_ns}"
    if out.exists():
        return str(out)
    data = Path(vmlinuz).read_bytes()
    start = data.find(b"\xfd7zXZ\x00")
    if start < 0:
        return vmlinuz
    try:
        elf = lzma.LZMADecompressor().decompress(data[start:])
    except lzma.LZMAError:
        return vmlinuz
    if not _has_pvh_note(elf):
        return vmlinuz
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp.{os.getpid()}")
    tmp.write_bytes(elf)
    os.replace(tmp, out)
    _prune(f"vmlinux-{version}-*", keep=out)
    return str(out)


# ---------------------------------------------------------------- qemu

KERNEL_ARGS = [
    "console=ttyS0",
    "panic=-1",               # a panic reboots, and -no-reboot turns that into qemu's exit
    "quiet", "loglevel=3",    # keep the console for the command's output
    "random.trust_cpu=on",    # -cpu max has RDRAND: the crng is ready at once
    "cryptomgr.notests",      # crypto self-tests cost ~0.5 s under TCG
    "no_timer_check",
    "i8042.noaux", "i8042.nokbd",
]


# What the kernel and systemd are told for each cgroup layout.
CGROUP_KERNEL_ARGS = {
    "v2": ["cgroup_no_v1=all"],       # every controller on the unified hierarchy only
    # v1 controllers with an empty cgroup2 beside them, as this test host has
    # (systemd 252 mounts that layout when told not to use the unified hierarchy)
    "hybrid": ["systemd.unified_cgroup_hierarchy=0"],
}


def qemu_argv(kernel, initrd, memory, cpus, append_extra="", cgroups="v2"):
    base = KERNEL_ARGS + CGROUP_KERNEL_ARGS[cgroups]
    append = " ".join(base + ([append_extra] if append_extra else []))
    return [
        QEMU, "-nodefaults", "-no-user-config", "-nographic",
        "-serial", "stdio", "-monitor", "none",
        "-accel", "tcg", "-cpu", "max", "-m", str(memory), "-smp", str(cpus),
        "-no-reboot",
        "-kernel", kernel, "-initrd", initrd, "-append", append,
        "-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
        "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
        "-device", "virtio-rng-pci",
    ]


# Terminal control sequences SeaBIOS writes to the serial line.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_`-~])")
_EXIT_RE = re.compile(r"\nGUEST-EXIT: (\d+)\n")


def _clean(raw):
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "")
    return _ESCAPES.sub("", text)


def parse_console(console):
    """(exit code, command output) from a cleaned console log, or None without markers.

    The guest prints "\\nGUEST-BEGIN\\n" before the command and "\\nGUEST-EXIT: N\\n"
    after it; the output is exactly what lies between (the first begin marker,
    the last exit marker).
    """
    begin = console.find("\n" + BEGIN_MARKER + "\n")
    exits = list(_EXIT_RE.finditer(console))
    if begin < 0 or not exits or exits[-1].start() < begin:
        return None
    last = exits[-1]
    return int(last.group(1)), console[begin + len(BEGIN_MARKER) + 2: last.start()]


class _Echo:
    """Copies the command's part of the console to a text stream, line by line."""

    def __init__(self, stream, verbose):
        self.stream, self.verbose = stream, verbose
        self.pending, self.phase, self.blank = b"", "boot", False

    def feed(self, data):
        self.pending += data
        *lines, self.pending = self.pending.split(b"\n")
        for raw in lines:
            self._line(_clean(raw))

    def _line(self, text):
        if self.verbose:
            self._write(text)
            return
        if self.phase == "boot":
            if text == BEGIN_MARKER:
                self.phase = "cmd"
            return
        if self.phase == "cmd":
            if text.startswith(EXIT_MARKER):    # the blank line held back was the guest's
                self.phase, self.blank = "done", False
                return
            if self.blank:
                self._write("")
                self.blank = False
            if text == "":
                self.blank = True
            else:
                self._write(text)

    def _write(self, text):
        self.stream.write(text + "\n")
        self.stream.flush()


def boot(argv, timeout=600, memory="1G", cpus=2, cwd=None, env=None, stream=None,
         verbose=False, kernel_args=(), systemd=False, cgroups="v2", retries=1):
    """Boot the guest, run argv in it, return a GuestResult; a guest that does not
    finish in time is booted again, up to `retries` times.

    Why the retry: TCG guests have been seen to stall, both vCPUs busy and nothing more
    on the console, for the whole timeout (3 of about 15 boots of the CRIU and systemd
    guests in one session, in v2 and in hybrid boots alike); the same boots then passed
    5 times in a row, and the cause was not found. A guest that fails (exit code,
    GuestError) is never booted again, and one that stalls twice raises GuestTimeout.
    """
    for attempt in range(retries + 1):
        try:
            return _boot_once(argv, timeout, memory, cpus, cwd, env, stream, verbose, kernel_args, systemd,
                              cgroups)
        except GuestTimeout as e:
            path, tail = _keep_stall(e.output, argv, systemd, cgroups)
            if attempt == retries:
                raise
            sys.stderr.write("boot: %s; its console is in %s, ending with:\n%s\nbooting it again (%d of %d)\n"
                             % (e, path, tail, attempt + 1, retries))


# every stalled boot of this process: (console file, the argv, the console's last lines);
# integration/conftest.py lists them at the end of a test run, retried or not
STALLS = []


def _keep_stall(console, argv, systemd, cgroups):
    """Write a stalled guest's whole console to a file (the next stall should show where
    it hangs) and remember it in STALLS."""
    fd, path = tempfile.mkstemp(prefix="pyrunc-guest-stall-", suffix=".log")
    with os.fdopen(fd, "w") as f:
        f.write("argv: %s\nsystemd: %s, cgroups: %s\n\n%s" % (shlex.join(argv), systemd, cgroups, console))
    tail = "\n".join(console.rstrip().splitlines()[-15:])
    STALLS.append((path, shlex.join(argv), tail))
    return path, tail


# A guest kernel that reports a CPU stuck this long is killed and booted again like one
# that timed out: the stalls seen under TCG were soft lockups of both vCPUs (podman and
# conmon in the kernel, 26 s after the command began, then for the whole timeout), and
# shorter reports can be a busy emulator's.
LOCKUP_GIVE_UP = 60
_LOCKUP_RE = re.compile(rb"soft lockup - CPU#\d+ stuck for (\d+)s")


def lockup_seconds(console_tail):
    """The longest soft lockup the kernel reported in these console bytes, 0 without any."""
    return max((int(m.group(1)) for m in _LOCKUP_RE.finditer(console_tail)), default=0)


def _boot_once(argv, timeout, memory, cpus, cwd, env, stream, verbose, kernel_args, systemd, cgroups):
    """One boot, as boot() describes it.

    cwd defaults to this checkout (seen in the guest at the same path); env adds
    variables to the guest's PATH, HOME, LANG and TERM.  stream: a text file to
    copy the command's output to as it arrives (the whole console if verbose).
    kernel_args: more kernel arguments (e.g. "security=selinux").
    Raises GuestTimeout after `timeout` seconds (qemu is killed by its pid) and
    GuestError when the guest ends without the exit marker.  systemd=True boots the
    host's systemd as pid 1 (cgroup v2, the system D-Bus on demand) and runs argv
    as a oneshot unit (see README.md).  cgroups="hybrid" boots with the v1
    controllers, each on its own hierarchy, and an empty cgroup2 at
    /sys/fs/cgroup/unified (as this test host), with or without systemd.
    """
    if not argv:
        raise ValueError("argv is empty")
    if cgroups not in CGROUP_KERNEL_ARGS:
        raise ValueError(f"cgroups must be one of {sorted(CGROUP_KERNEL_ARGS)}, not {cgroups!r}")
    ensure_packages()
    vmlinuz, version = find_kernel()
    kernel = boot_image(vmlinuz, version)
    base = build_initramfs(version)
    initrd = _run_initrd(base, argv, cwd or REPO, env, systemd, cgroups)
    echo = _Echo(stream, verbose) if stream is not None else None
    chunks, timed_out, proc, locked, tail = [], False, None, 0, b""
    started = time.monotonic()
    deadline = started + timeout
    try:
        proc = subprocess.Popen(qemu_argv(kernel, initrd, memory, cpus, " ".join(kernel_args), cgroups),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        fd = proc.stdout.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            data = os.read(fd, 65536)
            if not data:
                break
            chunks.append(data)
            if echo is not None:
                echo.feed(data)
            tail = (tail + data)[-4096:]
            if b"soft lockup" in tail and lockup_seconds(tail) >= LOCKUP_GIVE_UP:
                locked = lockup_seconds(tail)
                break
    finally:
        if proc is not None:
            if proc.poll() is None and not timed_out and not locked:
                try:
                    proc.wait(timeout=10)       # stdout closed: qemu is on its way out
                except subprocess.TimeoutExpired:
                    pass
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
            proc.stdout.close()
        os.unlink(initrd)
    seconds = time.monotonic() - started
    console = _clean(b"".join(chunks))
    if timed_out:
        raise GuestTimeout(f"guest did not finish within {timeout}s (killed qemu, pid {proc.pid})",
                           console)
    if locked:
        raise GuestTimeout(f"guest kernel reported a soft lockup of {locked}s (killed qemu, pid {proc.pid})",
                           console)
    parsed = parse_console(console)
    if parsed is None:
        errors = re.findall(BOOT_ERROR_MARKER + r"(.*)", console)
        why = errors[0] if errors else "no exit marker on the console"
        raise GuestError(f"guest failed (qemu exited {proc.returncode}): {why}", console)
    code, output = parsed
    return GuestResult(code, output, console, seconds)


def run_in_guest(argv, timeout=600, memory="1G", cpus=2, **kwargs):
    """Run argv in a fresh cgroup-v2 guest: (exit code, output).

    Other keywords go to boot(): cwd, env, stream, verbose, kernel_args.
    """
    r = boot(argv, timeout=timeout, memory=memory, cpus=cpus, **kwargs)
    return r.exit_code, r.output


def main(args=None):
    p = argparse.ArgumentParser(
        usage="%(prog)s [--timeout S] [--memory 1G] [--cpus 2] [--cwd DIR] [--append ARG] [-v] -- CMD ARGS...",
        description="Run CMD in a qemu guest with pure cgroup v2; exit with its code "
                    "(124: timeout, 125: the guest failed).")
    p.add_argument("--timeout", type=float, default=1800, help="seconds (default 1800)")
    p.add_argument("--memory", default="1G")
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--cwd", default=str(REPO), help="working directory in the guest")
    p.add_argument("-v", "--verbose", action="store_true", help="show the whole console")
    p.add_argument("--append", action="append", default=[], metavar="ARG",
                   help="one more kernel argument (repeatable), e.g. security=selinux")
    p.add_argument("--systemd", action="store_true", help="boot systemd as pid 1, run CMD as a unit")
    p.add_argument("--cgroups", choices=sorted(CGROUP_KERNEL_ARGS), default="v2",
                   help="v2 (default): cgroup2 only; hybrid: v1 controllers and an empty cgroup2")
    p.add_argument("argv", nargs="+", help=argparse.SUPPRESS)
    ns = p.parse_args(args)
    try:
        r = boot(ns.argv, timeout=ns.timeout, memory=ns.memory, cpus=ns.cpus, cwd=ns.cwd,
                 stream=sys.stdout, verbose=ns.verbose, kernel_args=ns.append, systemd=ns.systemd,
                 cgroups=ns.cgroups)
    except GuestError as e:
        if not ns.verbose:
            sys.stdout.write(e.output[-4000:])
        print(f"\nguest: {e}", file=sys.stderr)
        return 124 if isinstance(e, GuestTimeout) else 125
    print(f"guest: exit {r.exit_code} after {r.seconds:.1f}s", file=sys.stderr)
    return r.exit_code


if __name__ == "__main__":
    sys.exit(main())
