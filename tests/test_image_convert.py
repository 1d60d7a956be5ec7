"""Image config -> runtime config, as the image-spec's conversion.md says."""
import os

import pytest

from pyrunc import errors
from pyrunc.image import convert
from pyrunc.spec import default

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n# comment\nbad line\n"
GROUP = "root:x:0:\napp:x:1001:\nwheel:x:10:app,other\naudio:x:29:app\nnot:x:30:other\n"


def gen(c=None, terminal=False, **top):
    cfg = dict(top)
    cfg["config"] = c or {}
    spec, vols = convert.generate(cfg, "/b", PASSWD, GROUP, terminal)
    return spec, vols


def test_defaults_are_pyrunc_spec():
    spec, vols = gen(terminal=True)
    base = default.spec()
    assert spec["process"]["args"] == base["process"]["args"]
    assert spec["process"]["env"] == base["process"]["env"]
    assert spec["mounts"] == base["mounts"] and spec["linux"] == base["linux"]
    assert spec["process"]["capabilities"] == base["process"]["capabilities"]
    assert spec["root"] == {"path": "rootfs", "readonly": False}
    assert vols == [] and "annotations" not in spec


def test_args_entrypoint_then_cmd():
    assert gen({"Entrypoint": ["/bin/app", "-v"], "Cmd": ["run"]})[0]["process"]["args"] == ["/bin/app", "-v", "run"]
    assert gen({"Cmd": ["sh", "-c", "x"]})[0]["process"]["args"] == ["sh", "-c", "x"]
    assert gen({"Entrypoint": ["/e"], "Cmd": None})[0]["process"]["args"] == ["/e"]
    with pytest.raises(errors.PyruncError, match="Cmd is not a list of strings"):
        gen({"Cmd": "sh"})


def test_env():
    env = gen({"Env": ["A=1", "PATH=/only"]}, terminal=True)[0]["process"]["env"]
    assert env == ["A=1", "PATH=/only", "TERM=xterm"]
    env = gen({"Env": ["A=1", "TERM=vt100"]}, terminal=True)[0]["process"]["env"]
    assert env == [convert.DEFAULT_PATH, "A=1", "TERM=vt100"]
    assert gen({"Env": ["A=1"]})[0]["process"]["env"] == [convert.DEFAULT_PATH, "A=1"]


def test_cwd_and_terminal():
    spec = gen({"WorkingDir": "srv/app"}, terminal=True)[0]
    assert spec["process"]["cwd"] == "/srv/app" and spec["process"]["terminal"] is True
    assert gen({"WorkingDir": "/w"})[0]["process"]["cwd"] == "/w"
    assert gen({})[0]["process"]["terminal"] is False


@pytest.mark.parametrize("user, want", [
    ("", {"uid": 0, "gid": 0}),
    ("app", {"uid": 1000, "gid": 1001, "additionalGids": [10, 29]}),
    ("1000", {"uid": 1000, "gid": 1001}),
    ("4242", {"uid": 4242, "gid": 0}),
    ("app:wheel", {"uid": 1000, "gid": 10}),
    ("app:77", {"uid": 1000, "gid": 77}),
    ("1000:audio", {"uid": 1000, "gid": 29}),
    ("0:0", {"uid": 0, "gid": 0}),
])
def test_user(user, want):
    assert convert.resolve_user(user, PASSWD, GROUP) == want


@pytest.mark.parametrize("user, msg", [
    ("nobody", 'user "nobody" not found'),
    ("app:nogroup", 'group "nogroup" not found'),
    (":10", "invalid User"),
    ("app:", "invalid User"),
])
def test_user_errors(user, msg):
    with pytest.raises(errors.PyruncError, match=msg):
        convert.resolve_user(user, PASSWD, GROUP)


def test_user_without_passwd_file():
    assert convert.resolve_user("33", None, None) == {"uid": 33, "gid": 0}
    with pytest.raises(errors.PyruncError):
        convert.resolve_user("www", None, None)


def test_annotations():
    spec = gen({"Labels": {"a": "b", "org.opencontainers.image.os": "label-wins"}, "StopSignal": "SIGINT",
                "ExposedPorts": {"80/tcp": {}, "53/udp": {}}},
               os="linux", architecture="amd64", variant="v8", author="me", created="2024-01-01T00:00:00Z",
               **{"os.version": "10", "os.features": ["f1", "f2"]})[0]
    a = spec["annotations"]
    assert a["org.opencontainers.image.os"] == "label-wins"
    assert a["org.opencontainers.image.architecture"] == "amd64"
    assert a["org.opencontainers.image.variant"] == "v8"
    assert a["org.opencontainers.image.os.version"] == "10"
    assert a["org.opencontainers.image.os.features"] == "f1,f2"
    assert a["org.opencontainers.image.author"] == "me"
    assert a["org.opencontainers.image.created"] == "2024-01-01T00:00:00Z"
    assert a["org.opencontainers.image.stopSignal"] == "SIGINT"
    assert a["org.opencontainers.image.exposedPorts"] == "53/udp,80/tcp"
    assert a["a"] == "b"


def test_volumes_are_bind_mounts_from_the_bundle():
    spec, vols = gen({"Volumes": {"/var/lib/data": {}, "/cache": {}}})
    mounts = spec["mounts"][len(default.spec()["mounts"]):]
    assert [m["destination"] for m in mounts] == ["/cache", "/var/lib/data"]
    assert all(m["type"] == "bind" and m["source"] == "/b/volumes/" + v for m, v in zip(mounts, vols))
    assert len(set(vols)) == 2 and all("/" not in v for v in vols)


# ---- reading the image's files without leaving its rootfs ----

@pytest.fixture
def rootfs(tmp_path):
    r = tmp_path / "rootfs"
    (r / "etc").mkdir(parents=True)
    (r / "etc/passwd").write_text("inside\n")
    (tmp_path / "host-secret").write_text("host\n")
    os.symlink("/etc/passwd", r / "abs")               # absolute: resolved in the rootfs
    os.symlink("../../../../host-secret", r / "up")    # .. stops at the rootfs
    os.symlink("loop2", r / "loop1")
    os.symlink("loop1", r / "loop2")
    os.symlink("etc", r / "etclink")
    fd = os.open(r, os.O_RDONLY | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def test_read_in_root(rootfs):
    assert convert.read_in_root(rootfs, "/etc/passwd") == "inside\n"
    assert convert.read_in_root(rootfs, "/abs") == "inside\n"
    assert convert.read_in_root(rootfs, "/etclink/passwd") == "inside\n"
    assert convert.read_in_root(rootfs, "/etclink/../etc/passwd") == "inside\n"
    assert convert.read_in_root(rootfs, "/up") is None
    assert convert.read_in_root(rootfs, "/../../host-secret") is None
    assert convert.read_in_root(rootfs, "/loop1") is None
    assert convert.read_in_root(rootfs, "/etc") is None
    assert convert.read_in_root(rootfs, "/missing/x") is None
