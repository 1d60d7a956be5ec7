"""`podman container checkpoint/restore` with pyrunc and with runc (Podman 4.3, conmon).

Podman offers checkpointing only when `RUNTIME checkpoint --help` exits 0. Where CRIU
works (the qemu guest, guest/test_guest_criu.py), a container is checkpointed (it stops)
and restored (it runs again, through the runtime's `restore`); where it does not (the
6.18 host), podman's checkpoint fails for both runtimes and the container runs on.
"""
import pytest

from test_checkpoint import criu  # noqa: F401  (fixture)
from test_podman import _settle, ctx, podman, run_detached, rt, state, wait_state, workdir, wrapped  # noqa: F401

pytestmark = pytest.mark.integration

SLEEPER = ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); sleep 0.2; done"]


def test_podman_checkpoint_and_restore(ctx, podman, criu):  # noqa: F811
    cid = run_detached(ctx, podman, *SLEEPER)
    pid = state(ctx, podman, cid)["Pid"]
    r = podman("container", "checkpoint", cid, runtime=ctx.rt.path, timeout=180)
    if criu is not None:
        ctx.check(r.returncode != 0, "podman checkpoint succeeded where CRIU does not work")
        st = state(ctx, podman, cid)
        ctx.check(st["Status"] == "running" and st["Pid"] == pid, f"the container did not run on: {st}")
    else:
        ctx.ok(r)
        ctx.runtime_called(cid, "checkpoint")
        wait_state(ctx, podman, cid, "exited")
        ctx.ok(podman("container", "restore", cid, runtime=ctx.rt.path, timeout=180))
        ctx.runtime_called(cid, "restore")
        wait_state(ctx, podman, cid, "running")
    ctx.ok(podman("rm", "-f", "-t", "0", cid, runtime=ctx.rt.path, timeout=60))
