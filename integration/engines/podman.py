"""Podman 4.3 (with conmon) in a private store, on a machine without systemd.

Every podman command gets:
  --root/--runroot/--tmpdir/--network-config-dir  under /tmp/pyrt-podman-<random> (a pytest
                                                   tmp dir can be too long for a runroot)
  --cgroup-manager cgroupfs --events-backend file  (no systemd, no journald)
and every container (`run_opts()`):
  --network none
  --ulimit nofile=1024:1024 --ulimit nproc=4096:4096   (root here lacks CAP_SYS_RESOURCE, so
                                                       podman's default rlimits would fail)
  --cgroup-parent /pyrt-podman-<random>              (our own cgroup tree, removed at the end)
"""
import json
import secrets
import shutil
import tempfile
from pathlib import Path

import harness

from . import common


class Podman:
    def __init__(self, commands=None):
        # podman refuses a runroot longer than 50 characters, which a pytest tmp dir can
        # reach: the store gets a short dir of its own, removed by teardown()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{harness.ID_PREFIX}podman-", dir="/tmp"))
        self.storage = self.workdir / "storage"
        self.runroot = self.workdir / "run"
        self.tmpdir = self.workdir / "libpod-tmp"
        self.netdir = self.workdir / "networks"
        for d in (self.storage, self.runroot, self.tmpdir, self.netdir):
            d.mkdir(parents=True, exist_ok=True)
        self.cgroup_parent = f"/{harness.ID_PREFIX}podman-{secrets.token_hex(4)}"
        self.commands = commands or common.Commands(cwd=self.workdir)

    def global_flags(self):
        return ["--root", self.storage, "--runroot", self.runroot, "--tmpdir", self.tmpdir,
                "--network-config-dir", self.netdir,
                "--cgroup-manager", "cgroupfs", "--events-backend", "file"]

    def argv(self, *args, runtime=None):
        rt = ["--runtime", runtime] if runtime is not None else []
        return ["podman", *self.global_flags(), *rt, *args]

    def __call__(self, *args, runtime=None, **kw):
        """Run `podman <private-store flags> [--runtime R] args...`; return a common.Result."""
        return self.commands.run(self.argv(*args, runtime=runtime), **kw)

    def run_opts(self):
        return ["--network", "none",
                "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096",
                "--cgroup-parent", self.cgroup_parent]

    def inspect(self, cid):
        """`podman inspect` of a container as a dict, or None if podman does not know it."""
        r = self("container", "inspect", cid)
        if r.returncode != 0:
            return None
        data = json.loads(r.stdout)
        return data[0] if data else None

    def containers(self):
        r = self("ps", "-a", "-q", "--no-trunc")
        return r.stdout.split() if r.returncode == 0 else []

    def remove(self, cid):
        """`podman rm -f -t 0`: kill (no grace period) and remove."""
        return self("rm", "-f", "-t", "0", cid)

    def import_image(self, tarball, ref=common.IMAGE):
        r = self("import", tarball, ref, timeout=300)
        if r.returncode != 0:
            raise common.EngineError(f"podman import failed:\n{self.commands.describe(1)}")
        return ref

    def teardown(self):
        """Remove every container and image of this private store, unmount what podman left
        under our dir, remove our cgroup tree; return a description of anything left."""
        problems = []
        for cid in self.containers():
            self.remove(cid)
        left = self.containers()
        if left:
            problems.append(f"containers podman could not remove: {left}")
        self("rmi", "-a", "-f", timeout=120)
        stuck = common.unmount_under(self.workdir)
        if stuck:
            problems.append(f"mounts left under {self.workdir}: {stuck}")
        cg = common.remove_cgroup_tree(self.cgroup_parent)
        if cg:
            problems.append(f"cgroups left: {cg}")
        if not stuck:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return problems


def docker_archive(workdir, rootfs_tar):
    """`podman import` the root tarball into a throwaway store and `podman save` it as a
    docker-archive (what `ctr image import` takes); the store is removed again."""
    out = Path(workdir) / "image-docker-archive.tar"
    p = Podman()
    try:
        p.import_image(rootfs_tar)
        r = p("save", "--format", "docker-archive", "-o", out, common.IMAGE, timeout=300)
        if r.returncode != 0:
            raise common.EngineError(f"podman save failed:\n{p.commands.describe(2)}")
    finally:
        problems = p.teardown()
    if problems:
        raise common.EngineError("podman save store: " + "; ".join(problems))
    return out
