"""The CRI test client's own logic (integration/engines/cri.py), without a containerd:
the protocol file's field numbers are the CRI API's, the websocket framing of an
attached exec, and the docker-archive the images are imported from."""
import hashlib
import json
import socket
import struct
import sys
import tarfile
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

from engines import cri  # noqa: E402

# (message, field, number) from k8s.io/cri-api pkg/apis/runtime/v1/api.proto: the wire
# format the kubelet and containerd speak, which api.proto must keep
CRI_FIELDS = [
    ("RunPodSandboxRequest", "config", 1), ("RunPodSandboxRequest", "runtime_handler", 2),
    ("PodSandboxConfig", "hostname", 2), ("PodSandboxConfig", "log_directory", 3),
    ("PodSandboxConfig", "labels", 6), ("PodSandboxConfig", "linux", 8),
    ("LinuxPodSandboxConfig", "cgroup_parent", 1), ("LinuxPodSandboxConfig", "security_context", 2),
    ("LinuxSandboxSecurityContext", "namespace_options", 1),
    ("LinuxSandboxSecurityContext", "privileged", 6), ("LinuxSandboxSecurityContext", "seccomp", 9),
    ("NamespaceOption", "pid", 2), ("PodSandboxStatus", "runtime_handler", 9),
    ("PodSandboxStatus", "network", 5), ("ContainerConfig", "envs", 6),
    ("ContainerConfig", "mounts", 7), ("ContainerConfig", "log_path", 11),
    ("ContainerConfig", "tty", 14), ("ContainerConfig", "linux", 15),
    ("Mount", "readonly", 3), ("Mount", "propagation", 5),
    ("Mount", "uidMappings", 6), ("Mount", "gidMappings", 7),
    ("NamespaceOption", "userns_options", 5), ("UserNamespace", "mode", 1),
    ("UserNamespace", "uids", 2), ("UserNamespace", "gids", 3),
    ("IDMapping", "host_id", 1), ("IDMapping", "container_id", 2), ("IDMapping", "length", 3),
    ("StatusResponse", "runtime_handlers", 3), ("RuntimeHandler", "name", 1),
    ("RuntimeHandler", "features", 2), ("RuntimeHandlerFeatures", "recursive_read_only_mounts", 1),
    ("RuntimeHandlerFeatures", "user_namespaces", 2),
    ("LinuxContainerResources", "memory_limit_in_bytes", 4),
    ("LinuxContainerResources", "oom_score_adj", 5),
    ("LinuxContainerResources", "memory_swap_limit_in_bytes", 10),
    ("LinuxContainerSecurityContext", "capabilities", 1),
    ("LinuxContainerSecurityContext", "privileged", 2),
    ("LinuxContainerSecurityContext", "run_as_user", 5),
    ("LinuxContainerSecurityContext", "readonly_rootfs", 7),
    ("LinuxContainerSecurityContext", "supplemental_groups", 8),
    ("LinuxContainerSecurityContext", "no_new_privs", 11),
    ("LinuxContainerSecurityContext", "run_as_group", 12),
    ("LinuxContainerSecurityContext", "seccomp", 15),
    ("CreateContainerRequest", "sandbox_config", 3), ("StopContainerRequest", "timeout", 2),
    ("ContainerStatus", "exit_code", 7), ("ContainerStatus", "resources", 16),
    ("ExecSyncRequest", "timeout", 3), ("ExecSyncResponse", "exit_code", 3),
    ("ExecRequest", "stdin", 4), ("ExecRequest", "stderr", 6),
    ("ContainerStats", "memory", 3), ("LinuxPodSandboxStats", "process", 4),
    ("LinuxPodSandboxStats", "containers", 5), ("UpdateContainerResourcesRequest", "linux", 2),
]


@pytest.fixture(scope="module")
def pb():
    return cri.api()[0]


@pytest.mark.parametrize("message,field,number", CRI_FIELDS)
def test_field_numbers_are_the_cri_apis(pb, message, field, number):
    assert pb.DESCRIPTOR.message_types_by_name[message].fields_by_name[field].number == number


def test_package_and_enums_are_runtime_v1(pb):
    assert pb.DESCRIPTOR.package == "runtime.v1"
    assert pb.DESCRIPTOR.services_by_name["RuntimeService"].full_name == "runtime.v1.RuntimeService"
    assert [pb.CONTAINER_CREATED, pb.CONTAINER_RUNNING, pb.CONTAINER_EXITED] == [0, 1, 2]
    assert [pb.POD, pb.CONTAINER, pb.NODE] == [0, 1, 2]


def _frame(opcode, payload, mask=None):
    n = len(payload)
    head = bytes([0x80 | opcode])
    m = 0x80 if mask else 0
    head += bytes([m | n]) if n < 126 else bytes([m | 126]) + struct.pack(">H", n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def _unmask(frame):
    """A client frame back to (opcode, payload): the client must mask."""
    assert frame[1] & 0x80, "client frame not masked"
    n, off = frame[1] & 0x7f, 2
    if n == 126:
        n, off = struct.unpack(">H", frame[2:4])[0], 4
    mask = frame[off:off + 4]
    data = frame[off + 4:off + 4 + n]
    return frame[0] & 0x0f, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def test_websocket_handshake_messages_ping_and_close():
    client, server = socket.socketpair()
    client.settimeout(10)
    server.settimeout(10)
    got = {}

    def serve():
        request = b""
        while b"\r\n\r\n" not in request:
            request += server.recv(4096)
        got["request"] = request.decode()
        big = bytes([1]) + b"x" * 300                   # a 16-bit length
        server.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
                       + _frame(2, b"\x01hi") + _frame(9, b"pp") + _frame(2, big)
                       + _frame(2, b"\x03{}", mask=b"abcd"))
        frames = b""
        while len(frames) < 8 + 13:             # the pong (2+4+2) and the stdin (2+4+7) frames
            frames += server.recv(4096)
        got["pong"], got["stdin"] = frames[:8], frames[8:]
        server.sendall(_frame(8, b""))

    t = threading.Thread(target=serve)
    t.start()
    try:
        ws = cri.WebSocket(client, "127.0.0.1:1", "/exec/tok")
        messages = ws.messages()
        assert next(messages) == (2, b"\x01hi")
        assert next(messages) == (2, bytes([1]) + b"x" * 300)     # the ping answered on the way
        assert next(messages) == (2, b"\x03{}")
        ws.write(0, b"hello\n")
        assert list(messages) == []                     # close ends the messages
    finally:
        t.join(5)
        client.close()
        server.close()
    assert got["request"].startswith("GET /exec/tok HTTP/1.1\r\n")
    assert "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n" in got["request"]
    assert _unmask(got["pong"]) == (10, b"pp")
    assert _unmask(got["stdin"]) == (2, b"\x00hello\n")


def test_websocket_refused_handshake():
    client, server = socket.socketpair()
    server.sendall(b"HTTP/1.1 404 Not Found\r\n\r\n")
    try:
        with pytest.raises(cri.common.EngineError, match="404"):
            cri.WebSocket(client, "h", "/x")
    finally:
        client.close()
        server.close()


def test_docker_archive(tmp_path):
    layer = tmp_path / "layer.tar"
    with tarfile.open(layer, "w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 0
        tar.addfile(info)
    out = cri.docker_archive(tmp_path / "img.tar", "localhost/x:1", layer, {"Cmd": ["/hello"]})
    with tarfile.open(out) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        assert manifest[0]["RepoTags"] == ["localhost/x:1"]
        config_bytes = tar.extractfile(manifest[0]["Config"]).read()
        layer_bytes = tar.extractfile(manifest[0]["Layers"][0]).read()
    config = json.loads(config_bytes)
    assert manifest[0]["Config"] == hashlib.sha256(config_bytes).hexdigest() + ".json"
    assert layer_bytes == layer.read_bytes()
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer_bytes).hexdigest()]
    assert config["os"] == "linux" and config["config"] == {"Cmd": ["/hello"]}
