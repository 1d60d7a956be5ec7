"""containerd 2 for the hostUsers: false tests (integration/engines/cri2.py), without the
network or a daemon: apt-get kept to a private cache, the candidate's checksum taken from
apt-cache's answer, the version 3 config the daemon is given."""
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

from engines import cri2  # noqa: E402

SHOW = """\
Package: containerd
Version: 2.1.9+ds1-5
Depends: runc (>= 0.1.0~), libc6 (>= 2.34)
Description: daemon to control runC
 Version: 9.9.9 (a continuation line, not a field)
Filename: pool/main/c/containerd/containerd_2.1.9+ds1-5_amd64.deb
SHA256: 2dda86ce7033fd612fc50e136679d8174ccad680eb29cd4611e0d2a1b84cf591

Package: containerd
Version: 2.1.8~ds1-1
Filename: pool/main/c/containerd/containerd_2.1.8~ds1-1_amd64.deb
SHA256: 00ff
"""

POLICY = """\
containerd:
  Installed: (none)
  Candidate: 2.1.9+ds1-5
  Version table:
     2.1.9+ds1-5 500
        500 http://deb.debian.org/debian forky/main amd64 Packages
"""


def test_apt_is_kept_to_the_cache(tmp_path):
    opts = cri2.apt_options(tmp_path)
    values = dict(o.split("=", 1) for o in opts[1::2])
    assert opts[0::2] == ["-o"] * len(values)
    assert values["Dir::Etc::SourceList"] == str(tmp_path / "sources.list")
    assert values["Dir::Etc::SourceParts"] == "/dev/null"       # not the host's sources.list.d
    assert values["Dir::State::Lists"] == str(tmp_path / "lists")
    assert values["Dir::Cache::Archives"] == str(tmp_path / "archives")
    assert values["Dir::State::status"] == "/dev/null"          # nothing installed is read or written
    assert all(v.startswith((str(tmp_path), "/dev/null")) or v in ("", "root") for v in values.values())


def test_sources_list():
    assert cri2.sources_list("http://m/debian", ("forky", "sid")) == \
        "deb http://m/debian forky main\ndeb http://m/debian sid main\n"


def test_candidate_and_its_checksum():
    assert cri2.policy_candidate(POLICY) == "2.1.9+ds1-5"
    assert cri2.policy_candidate(POLICY.replace("2.1.9+ds1-5 500", "x").replace(
        "Candidate: 2.1.9+ds1-5", "Candidate: (none)")) is None
    assert cri2.candidate(SHOW, "2.1.9+ds1-5") == (
        "pool/main/c/containerd/containerd_2.1.9+ds1-5_amd64.deb",
        "2dda86ce7033fd612fc50e136679d8174ccad680eb29cd4611e0d2a1b84cf591")
    assert cri2.candidate(SHOW, "2.1.8~ds1-1")[1] == "00ff"
    with pytest.raises(cri2.common.EngineError):
        cri2.candidate(SHOW, "1.6.20~ds1-1")


@pytest.mark.parametrize("version, major", [("2.1.9+ds1-5", 2), ("1.7.24~ds1-1", 1), ("1:2.0.0-1", 2),
                                            ("weird", 0)])
def test_major(version, major):
    assert cri2.major(version) == major


def test_config_v3(tmp_path, monkeypatch):
    monkeypatch.setattr(cri2, "has_cap_sys_resource", lambda: True)
    d = SimpleNamespace(root=tmp_path / "root", state=tmp_path / "state", temp=tmp_path / "tmp",
                        socket=tmp_path / "c.sock", workdir=tmp_path, cni_conf=tmp_path / "cni",
                        shim=Path("/x/usr/bin/containerd-shim-runc-v2"),
                        wrapped={h: SimpleNamespace(path=tmp_path / "rt" / h) for h in cri2.HANDLERS},
                        handler_root=lambda h: tmp_path / f"root-{h}")
    cfg = tomllib.loads(cri2.config_v3(d))
    assert cfg["version"] == 3 and cfg["root"] == str(tmp_path / "root") and cfg["temp"] == str(tmp_path / "tmp")
    assert "io.containerd.nri.v1.nri" in cfg["disabled_plugins"]   # no /var/run/nri/nri.sock
    rt = cfg["plugins"]["io.containerd.cri.v1.runtime"]
    assert rt["restrict_oom_score_adj"] is False and rt["cni"]["conf_dir"] == str(tmp_path / "cni")
    for h in cri2.HANDLERS:
        r = rt["containerd"]["runtimes"][h]
        # the 2.x shim by path: the host's 1.6 shim is the one on PATH
        assert r["runtime_path"] == "/x/usr/bin/containerd-shim-runc-v2"
        assert r["options"] == {"BinaryName": str(tmp_path / "rt" / h), "Root": str(tmp_path / f"root-{h}")}
    assert cfg["plugins"]["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"] == cri2.PAUSE_IMAGE
