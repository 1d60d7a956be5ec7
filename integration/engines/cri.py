"""containerd 1.6 with its CRI plugin, and a small CRI client, for integration/test_cri.py.

The daemon is containerd.Containerd's (private root, state dir, socket) with the CRI
plugin enabled and configured as a Kubernetes node would be, with two runtime handlers
of the runc v2 shim: `runc` and `pyrunc`, each with BinaryName = the runtime behind the
rtlog.sh wrapper and a runtime root (the shim's --root) in the test's dir.  It runs in a
network namespace of the test's own, so the CNI bridge it makes never touches the host.

The client speaks runtime.v1 over the daemon's socket with grpcio, from integration/cri/
api.proto (the part of the CRI the tests use, generated once per version into the test
cache with grpc_tools).  Images: the busybox test image and a pause image (pause.c,
static), each written here as a docker-archive and imported with `ctr -n k8s.io images
import`: the CRI plugin sees images of the k8s.io namespace.

What containerd and the CNI plugins keep outside the test's dirs, and how stop() cleans
it: the shims (found by our socket in their argv), their sockets under /run/containerd/s
(the dir removed if we made it), the pod cgroups (under a cgroup parent of ours, removed
in every hierarchy), libcni's cache of each pod's networks under /var/lib/cni/results
(what is new there is a leak; the dirs are removed if we made them and they are empty).
"""
import hashlib
import io
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import harness

from . import common
from .containerd import RUN_CONTAINERD, Containerd

CRI_DIR = Path(__file__).resolve().parent.parent / "cri"
PROTO = CRI_DIR / "api.proto"
PAUSE_SRC = CRI_DIR / "pause.c"
PAUSE_IMAGE = "localhost/pyrt-pause:3.6"
IMAGE = common.IMAGE
NAMESPACE = "k8s.io"                # the containerd namespace of the CRI plugin
HANDLERS = ("runc", "pyrunc")
CNI_NETWORK = "pyrt-cri"
POD_SUBNET = "10.233.77.0/24"
CNI_CACHE = Path("/var/lib/cni")


# ---- the generated client code ----

_api = None


def api():
    """(api_pb2, api_pb2_grpc) from integration/cri/api.proto, generated once per version."""
    global _api
    if _api is not None:
        return _api
    import grpc_tools
    from grpc_tools import protoc
    src = PROTO.read_bytes()
    key = hashlib.sha256(src + getattr(grpc_tools, "__version__", "").encode()).hexdigest()[:16]
    out = harness.CACHE_DIR / f"cri-{key}"
    if not (out / "api_pb2_grpc.py").exists():
        tmp = out.with_name(f"{out.name}.tmp.{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        include = Path(grpc_tools.__file__).parent / "_proto"
        rc = protoc.main(["protoc", f"-I{CRI_DIR}", f"-I{include}", f"--python_out={tmp}",
                          f"--grpc_python_out={tmp}", str(PROTO)])
        if rc != 0:
            raise common.EngineError(f"grpc_tools.protoc {PROTO}: exit {rc}")
        try:
            os.replace(tmp, out)
        except OSError:         # another run made it first
            shutil.rmtree(tmp, ignore_errors=True)
    sys.path.insert(0, str(out))
    try:
        import api_pb2
        import api_pb2_grpc
    finally:
        sys.path.remove(str(out))
    _api = (api_pb2, api_pb2_grpc)
    return _api


class CriError(common.EngineError):
    def __init__(self, method, code, details):
        super().__init__(f"CRI {method}: {code}: {details}")
        self.method, self.code, self.details = method, code, details


class CriClient:
    """runtime.v1 calls: client("RunPodSandbox", config={...}, runtime_handler="pyrunc").

    Requests are given as dicts (protobuf JSON mapping, field names as in api.proto);
    each call is kept in `commands` for the failure report; an error raises CriError."""

    IMAGE_METHODS = {"ImageStatus"}

    def __init__(self, socket, commands):
        import grpc
        self.grpc = grpc
        self.pb, pb_grpc = api()
        self.channel = grpc.insecure_channel(f"unix://{socket}")
        self.runtime = pb_grpc.RuntimeServiceStub(self.channel)
        self.images = pb_grpc.ImageServiceStub(self.channel)
        self.commands = commands

    def close(self):
        self.channel.close()

    def __call__(self, method, deadline=60, **fields):
        from google.protobuf import json_format, text_format
        req = json_format.ParseDict(fields, getattr(self.pb, f"{method}Request")())
        stub = self.images if method in self.IMAGE_METHODS else self.runtime
        argv = ["CRI", method, text_format.MessageToString(req, as_one_line=True)]
        t0 = time.monotonic()
        try:
            resp = getattr(stub, method)(req, timeout=deadline)
        except self.grpc.RpcError as e:
            self.commands.history.append(common.Result(argv, e.code().name, "", e.details() or "",
                                                       time.monotonic() - t0))
            raise CriError(method, e.code().name, e.details()) from None
        self.commands.history.append(common.Result(
            argv, 0, text_format.MessageToString(resp, as_one_line=True)[:2000], "",
            time.monotonic() - t0))
        return resp


def has_cap_sys_resource():
    """Whether we may lower an oom_score_adj: without CAP_SYS_RESOURCE (a container host),
    the CRI plugin is told to clamp the pods' values (-998 for a sandbox) to its own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> 24 & 1)
    return False


# ---- images ----

def _goarch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64"}.get(m, m)


def docker_archive(out, ref, layer_tar, config):
    """Write a docker-archive (what `ctr images import` and `docker load` take) of one layer
    (an uncompressed tar) tagged `ref`, with the image config `config` (Entrypoint, Cmd...)."""
    layer = Path(layer_tar).read_bytes()
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    image_config = json.dumps({
        "architecture": _goarch(), "os": "linux", "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "pyrunc integration tests"}],
    }, sort_keys=True).encode()
    config_name = hashlib.sha256(image_config).hexdigest() + ".json"
    layer_name = diff_id[len("sha256:"):] + "/layer.tar"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [ref], "Layers": [layer_name]}]).encode()
    with tarfile.open(out, "w") as tar:
        for name, data in ((config_name, image_config), (layer_name, layer), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return Path(out)


def pause_binary():
    """integration/cri/pause.c compiled static, once per source version."""
    src = PAUSE_SRC.read_bytes()
    key = hashlib.sha256(src + " ".join(harness.CFLAGS).encode()).hexdigest()[:16]
    out = harness.CACHE_DIR / key / "pause"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f"pause.tmp.{os.getpid()}")
        r = subprocess.run(["gcc", *harness.CFLAGS, "-o", str(tmp), str(PAUSE_SRC)],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise common.EngineError(f"compile {PAUSE_SRC}: gcc exited {r.returncode}\n{r.stderr}")
        os.replace(tmp, out)
    return out


def pause_archive(workdir):
    """The sandbox image: /pause alone, its entrypoint (as Kubernetes' pause image)."""
    workdir = Path(workdir)
    layer = workdir / "pause-root.tar"
    with tarfile.open(layer, "w") as tar:
        tar.add(pause_binary(), arcname="pause", filter=lambda i: _root_owned(i, 0o755))
    return docker_archive(workdir / "pause-archive.tar", PAUSE_IMAGE, layer,
                          {"Entrypoint": ["/pause"], "WorkingDir": "/"})


def busybox_archive(workdir):
    """The workload image: the tests' busybox root (common.rootfs_tar) with a shell as Cmd."""
    workdir = Path(workdir)
    return docker_archive(workdir / "busybox-archive.tar", IMAGE, common.rootfs_tar(workdir),
                          {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:"
                                                       "/usr/sbin:/usr/bin:/sbin:/bin"],
                           "WorkingDir": "/"})


def _root_owned(info, mode):
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = mode
    info.mtime = 0
    return info


# ---- the daemon ----

class CriContainerd(Containerd):
    """containerd with the CRI plugin, runtime handlers runc and pyrunc, CNI in a netns."""

    def __init__(self, workdir, wrapped, commands=None):
        super().__init__(workdir, commands)
        self.namespace = NAMESPACE
        self.wrapped = wrapped                  # {handler: common.Wrapped}
        self.netns = self.workdir / "netns"
        self.cni_conf = self.workdir / "cni-conf"
        self.log_dir = self.workdir / "pod-logs"
        # every pod's cgroup_parent is below this cgroup of ours
        self.cgroup_root = harness.new_id("cri")
        harness.TEST_IDS.discard(self.cgroup_root)      # the module's, not a test's
        self.client = None
        self._made_cni_cache = not CNI_CACHE.exists()
        self._cni_results = self._cni_cache_entries()

    @staticmethod
    def _cni_cache_entries():
        d = CNI_CACHE / "results"
        return set(d.iterdir()) if d.is_dir() else set()

    def handler_root(self, handler):
        """The runtime's --root for a handler (the shim's Root option)."""
        return self.workdir / f"runtime-root-{handler}"

    @property
    def runtime_root(self):
        raise AttributeError("one runtime root per handler: use handler_root()")

    def write_config(self):
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        runtimes = "".join(f"""
    [{cri}.containerd.runtimes.{name}]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.{name}.options]
        BinaryName = "{self.wrapped[name].path}"
        Root = "{self.handler_root(name)}"
""" for name in HANDLERS)
        self.config.write_text(self.base_config(cri=True) + f"""
[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  restrict_oom_score_adj = {str(not has_cap_sys_resource()).lower()}
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [{cri}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{self.cni_conf}"
    max_conf_num = 1
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
{runtimes}""")
        self.write_cni()
        for name in HANDLERS:
            self.handler_root(name).mkdir(parents=True, exist_ok=True)

    def write_cni(self):
        """The CNI network of the pods: a bridge in our netns, addresses from POD_SUBNET."""
        self.cni_conf.mkdir(parents=True, exist_ok=True)
        (self.cni_conf / "10-pyrt.conflist").write_text(json.dumps({
            "cniVersion": "0.4.0", "name": CNI_NETWORK,
            "plugins": [{
                "type": "bridge", "bridge": "pyrtcri0", "isGateway": True, "ipMasq": False,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_SUBNET}]],
                         "routes": [{"dst": "0.0.0.0/0"}],
                         "dataDir": str(self.workdir / "cni-ipam")},
            }],
        }, indent=2))

    def make_netns(self):
        """A network namespace of our own, kept by a bind mount on a file in workdir."""
        self.netns.touch()
        r = self.commands.run(["unshare", f"--net={self.netns}", "true"])
        if r.returncode != 0:
            raise common.EngineError(f"unshare --net={self.netns}: {r.stderr}")
        r = self.commands.run(["nsenter", f"--net={self.netns}", "ip", "link", "set", "lo", "up"])
        if r.returncode != 0:
            raise common.EngineError(f"ip link set lo up in {self.netns}: {r.stderr}")

    def start(self, timeout=30):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.make_netns()
        self.launcher = ["nsenter", f"--net={self.netns}"]
        super().start(timeout)
        self.client = CriClient(self.socket, self.commands)
        deadline = time.monotonic() + timeout
        while True:             # the CRI plugin answers once it has loaded its state
            try:
                self.client("Version", version="v1")
                return self
            except CriError as e:
                if time.monotonic() > deadline:
                    raise common.EngineError(f"the CRI plugin does not answer: {e}\n{self.log_tail()}")
            time.sleep(0.1)

    def import_images(self, workdir):
        for archive in (pause_archive(workdir), busybox_archive(workdir)):
            r = self.ctr("images", "import", archive, timeout=300)
            if r.returncode != 0:
                raise common.EngineError(f"ctr images import failed:\n{self.commands.describe(1)}\n"
                                         f"{self.log_tail()}")
        for ref in (PAUSE_IMAGE, IMAGE):        # the CRI plugin sees them
            deadline = time.monotonic() + 10
            while not self.client("ImageStatus", image={"image": ref}).image.id:
                if time.monotonic() > deadline:
                    raise common.EngineError(f"the CRI plugin does not see image {ref}\n{self.log_tail()}")
                time.sleep(0.1)

    def shim_pids(self):
        """containerd-shim-runc-v2 processes of this daemon (our socket in their argv)."""
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            argv = common.cmdline(pid)
            if argv and argv[0].endswith(b"containerd-shim-runc-v2") and str(self.socket).encode() in argv:
                pids.append(int(pid))
        return pids

    def remove_pods(self):
        """Stop and remove every pod (their containers with them); return the CRI errors."""
        errors = []
        for pod in self.client("ListPodSandbox").items:
            for method in ("StopPodSandbox", "RemovePodSandbox"):
                try:
                    self.client(method, pod_sandbox_id=pod.id)
                except CriError as e:
                    errors.append(str(e))
        return errors

    def cgroup_procs(self):
        """Pids in our cgroup tree, in any hierarchy."""
        pids = set()
        for top in common.cgroup_dirs(self.cgroup_root):
            for dirpath, _dirs, files in os.walk(top):
                if "cgroup.procs" in files:
                    try:
                        pids |= {int(x) for x in Path(dirpath, "cgroup.procs").read_text().split()}
                    except OSError:
                        pass
        return pids

    def stop(self):
        """Remove the pods, stop the daemon by its pid, then everything it left; return a
        description of what had to be removed by force or could not be."""
        problems = []
        if self.proc is not None and self.proc.poll() is None and self.client is not None:
            try:
                errors = self.remove_pods()
            except CriError as e:
                errors = [str(e)]
            if errors:
                problems.append("removing the pods: " + "; ".join(errors))
        if self.client is not None:
            self.client.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        left = common.kill_pids(self.shim_pids())
        if left:
            problems.append(f"shims still alive: {left}")
        procs = self.cgroup_procs()
        if procs:
            problems.append(f"processes left in the pod cgroups: {sorted(procs)}")
            common.kill_pids(sorted(procs))
        stuck = common.unmount_under(self.workdir)
        if stuck:
            problems.append(f"mounts left under {self.workdir}: {stuck}")
        cg = common.remove_cgroup_tree(self.cgroup_root)
        if cg:
            problems.append(f"cgroups left: {cg}")
        # libcni's cache of each pod's ADD (<network>-<pod id>-<if>), ours and loopback's
        cache = CNI_CACHE / "results"
        ours = sorted(e for e in self._cni_cache_entries() - self._cni_results
                      if e.name.startswith((CNI_NETWORK + "-", "cni-loopback-")))
        if ours:
            problems.append(f"CNI results left: {[str(e) for e in ours]}")
            for entry in ours:
                entry.unlink()
        if self._made_cni_cache:           # only empty dirs: another engine may use them now
            for d in (cache, CNI_CACHE):
                try:
                    d.rmdir()
                except OSError:
                    pass
        for d in (RUN_CONTAINERD / "s", RUN_CONTAINERD / "fifo", RUN_CONTAINERD):
            if d not in self._preexisting:
                try:
                    d.rmdir()
                except OSError:
                    pass
        if not stuck:
            for d in (self.root, self.state, *(self.handler_root(h) for h in HANDLERS)):
                shutil.rmtree(d, ignore_errors=True)
        return problems


# ---- an attached exec: the CRI streaming server's websocket protocol ----

CLONE_NEWNET = 0x40000000


def connect_in_netns(netns, host, port, timeout=30):
    """A TCP connection made from inside the network namespace `netns` (a file): the
    streaming server listens on 127.0.0.1 of the daemon's netns.  setns() moves only
    the calling thread, so a short-lived thread makes the socket; the socket stays in
    the namespace it was created in."""
    import ctypes
    import socket
    import threading
    libc = ctypes.CDLL(None, use_errno=True)
    result = {}

    def work():
        try:
            with open(netns) as f:
                if libc.setns(f.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {netns}")
            result["sock"] = socket.create_connection((host, port), timeout=timeout)
        except Exception as e:      # handed to the caller
            result["error"] = e

    t = threading.Thread(target=work)
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]
    return result["sock"]


class WebSocket:
    """Just enough of RFC 6455 for the v4.channel.k8s.io protocol of the CRI streaming
    server: binary messages whose first byte is the channel (0 stdin, 1 stdout, 2 stderr,
    3 the exit status as a JSON Status)."""

    PROTOCOL = "v4.channel.k8s.io"

    def __init__(self, sock, host, path):
        import base64
        self.sock = sock
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      f"Sec-WebSocket-Version: 13\r\n"
                      f"Sec-WebSocket-Protocol: {self.PROTOCOL}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise common.EngineError(f"streaming server closed during the handshake: {head!r}")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise common.EngineError(f"websocket handshake refused: {head.decode(errors='replace')}")

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def send(self, opcode, payload):
        import struct
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)            # a client masks every frame
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def write(self, channel, data):
        self.send(2, bytes([channel]) + data)

    def messages(self):
        """(opcode, payload) of each message until the server closes."""
        import struct
        while True:
            try:
                b0, b1 = self._read(2)
            except EOFError:
                return
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = b0 & 0x0f
            if opcode == 8:
                return
            if opcode == 9:
                self.send(10, payload)
                continue
            yield opcode, payload


def attached_exec(url, netns, stdin=b"", timeout=30):
    """Run the exec behind a CRI Exec URL: send `stdin` on channel 0, collect the output
    channels until the server closes; returns {channel: bytes} (3: the exit status)."""
    from urllib.parse import urlsplit
    u = urlsplit(url)
    sock = connect_in_netns(netns, u.hostname, u.port, timeout)
    try:
        ws = WebSocket(sock, u.netloc, u.path + (f"?{u.query}" if u.query else ""))
        if stdin:
            ws.write(0, stdin)
        out = {}
        for _opcode, payload in ws.messages():
            if payload:
                out[payload[0]] = out.get(payload[0], b"") + payload[1:]
        return out
    finally:
        sock.close()
