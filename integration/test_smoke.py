"""The smallest real container: the README's demo, through the installed command."""
import json
import os
import shutil
import subprocess

import pytest

PYRUNC = os.environ.get("PYRUNC", "/opt/pyrunc/bin/pyrunc")


@pytest.fixture
def bundle(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("integration tests need root")
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    for d in ("proc", "sys", "dev", "etc"):
        (rootfs / d).mkdir()
    shutil.copy("/bin/busybox", rootfs / "bin" / "busybox")
    for app in ("sh", "hostname", "cat", "echo"):
        os.symlink("busybox", rootfs / "bin" / app)
    subprocess.run([PYRUNC, "spec"], cwd=tmp_path, check=True)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sh", "-c", "echo host=$(hostname) pid=$$; cat /proc/self/mounts"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return tmp_path


def test_run_prints_from_inside(bundle, tmp_path):
    root = tmp_path / "state"
    r = subprocess.run([PYRUNC, "--root", str(root), "run", "smoke-1"], cwd=bundle, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "host=runc pid=1" in r.stdout
    assert "proc /proc proc" in r.stdout
    assert os.listdir(root) == []


def test_readme_demo_script(tmp_path):
    """`./install.sh --demo` ends in demo.sh: it runs a container that prints from inside
    and leaves neither its bundle nor its state behind."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    before = set(os.listdir("/tmp"))
    state_before = set(os.listdir("/run/pyrunc")) if os.path.isdir("/run/pyrunc") else set()
    r = subprocess.run([os.path.join(repo, "demo.sh")], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYRUNC": PYRUNC})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:3] == ["hostname: runc", "pid: 1", "mounts:"], r.stdout
    assert any(l.startswith("proc /proc proc ") for l in lines), r.stdout
    assert not [n for n in set(os.listdir("/tmp")) - before if n.startswith("pyrunc-demo.")]
    after = set(os.listdir("/run/pyrunc")) if os.path.isdir("/run/pyrunc") else set()
    assert after <= state_before
