"""Podman with its default systemd cgroup manager and pyrunc as the runtime, inside the
qemu guest booted with systemd as pid 1; run by integration/test_systemd_podman.py
(one boot), printing `CHECK <name>: ok|FAIL <reason>` lines as cgroups_v2_checks.py.

    python3 -S systemd_podman_checks.py IMAGE_TARBALL DOCKER_ARCHIVE

One container: `podman run -d --sdnotify=container` (podman itself given a
NOTIFY_SOCKET this script listens on) whose process sends READY=1 after a second;
its scope, exec, stop and rm.  Then containerd (a private daemon) and `ctr run
--runc-systemd-cgroup` with a slice:prefix:name cgroup.
"""
import json
import os
import socket
import sys
import time

import cgroups_v2_checks as base  # noqa: E402  (same directory)
from cgroups_v2_checks import Results, rd

PYRUNC = os.environ.get("PYRUNC", "/opt/pyrunc/bin/pyrunc")
WORK = "/tmp/pyrunc-sd-podman"
IMAGE = "localhost/pyrt-busybox:latest"
PODMAN = ["podman", "--root", WORK + "/storage", "--runroot", WORK + "/run", "--cgroup-manager", "systemd",
          "--events-backend", "file", "--runtime", PYRUNC]
CHECKS = [
    "podman_sdnotify",      # run -d returns after READY=1; podman's socket gets READY=1 and MAINPID
    "podman_scope",         # the container's init in machine.slice/libpod-<id>.scope, made by pyrunc
    "podman_exec",          # podman exec runs in the container's namespaces
    "podman_stop_rm",       # stop and rm: the scope and pyrunc's state are gone
    "containerd_systemd",   # ctr run --runc-systemd-cgroup: the init in system.slice/ctr-c1.scope
    "containerd_rm",        # ... and after --rm no unit is left
]


def podman(*args, **kw):
    return base.cmd(PODMAN + list(args), timeout=120, **kw)


def scenario(res, tarball):
    podman("import", tarball, IMAGE)
    notify_path = WORK + "/host-notify.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(notify_path)
    s.settimeout(0.5)
    os.environ["NOTIFY_SOCKET"] = notify_path
    t0 = time.monotonic()
    try:
        _, out, _ = podman("run", "-d", "--name", "c1", "--sdnotify=container", IMAGE,
                           "/bin/sh", "-c", "sleep 1; /probe sdnotify READY=1; exec sleep 600")
    finally:
        del os.environ["NOTIFY_SOCKET"]
    took = time.monotonic() - t0
    cid = out.strip().splitlines()[-1]
    _, out, _ = podman("inspect", "c1")
    pid = json.loads(out)[0]["State"]["Pid"]
    got = []
    for _ in range(4):
        try:
            got.append(s.recv(4096).decode())
        except socket.timeout:
            pass
    s.close()
    # podman passes READY=1 on with a MAINPID of its choosing (conmon's, which outlives the
    # runtime's call); pyrunc sent it the init's pid, as runc does
    res.check("podman_sdnotify", "READY=1" in got and len([g for g in got if g.startswith("MAINPID=")]) == 1,
              "podman's notify socket got %r" % got)
    res.check("podman_sdnotify", took >= 1, "run -d returned after %.2fs, before READY=1" % took)
    res.complete("podman_sdnotify")
    unit = "libpod-%s.scope" % cid
    rc, out, _ = base.cmd(["systemctl", "show", unit, "-p", "ActiveState,Delegate,Slice"], check=False)
    props = dict(ln.split("=", 1) for ln in out.splitlines() if "=" in ln)
    res.eq("podman_scope", props, {"ActiveState": "active", "Delegate": "yes", "Slice": "machine.slice"}, unit)
    path = "/sys/fs/cgroup/machine.slice/" + unit
    res.check("podman_scope", str(pid) in (rd(path + "/cgroup.procs") or "").split(),
              "init %d not in %s/cgroup.procs" % (pid, path))
    res.check("podman_scope", cid in os.listdir("/run/pyrunc"), "pyrunc has no state for %s" % cid)
    res.complete("podman_scope")
    # in the container's pid namespace, pid 1 is the init (now `sleep 600`)
    _, out, _ = podman("exec", "c1", "/bin/cat", "/proc/1/cmdline")
    res.eq("podman_exec", out.split("\0")[:2], ["sleep", "600"], "/proc/1/cmdline seen by exec")
    res.complete("podman_exec")
    podman("stop", "-t", "1", "c1")
    podman("rm", "c1")
    rc, out, _ = base.cmd(["systemctl", "show", unit, "-p", "LoadState"], check=False)
    res.eq("podman_stop_rm", (out.strip(), os.path.exists(path), cid in os.listdir("/run/pyrunc")),
           ("LoadState=not-found", False, False), "unit, cgroup and pyrunc state after rm")
    res.complete("podman_stop_rm")


CTRD_CONFIG = """version = 2
root = "{w}/root"
state = "{w}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "{w}/containerd.sock"
[ttrpc]
  address = "{w}/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{w}/opt"
"""


def scenario_containerd(res, archive):
    """containerd 1.6 told to use the systemd cgroup driver for the runtime (what
    `SystemdCgroup = true` does for CRI), through ctr."""
    import subprocess

    w = WORK + "/ctrd"
    os.makedirs(w, exist_ok=True)
    with open(w + "/config.toml", "w") as f:
        f.write(CTRD_CONFIG.format(w=w))
    log = open(w + "/containerd.log", "ab")
    daemon = subprocess.Popen(["containerd", "--config", w + "/config.toml"], stdin=subprocess.DEVNULL,
                              stdout=log, stderr=log, start_new_session=True)
    ctr = ["ctr", "--address", w + "/containerd.sock", "--namespace", "pyrt"]
    try:
        base.wait_for(lambda: os.path.exists(w + "/containerd.sock") and
                      base.cmd(ctr + ["version"], check=False)[0] == 0, 60, "containerd to answer")
        base.cmd(ctr + ["image", "import", archive], timeout=120)
        _, out, _ = base.cmd(ctr + ["run", "--rm", "--runc-binary", PYRUNC, "--runc-systemd-cgroup",
                                    "--cgroup", "system.slice:ctr:c1", IMAGE, "c1", "/bin/cat", "/proc/self/cgroup"],
                             timeout=120)
        res.eq("containerd_systemd", out.strip(), "0::/system.slice/ctr-c1.scope", "the container's cgroup")
        res.complete("containerd_systemd")
        _, out, _ = base.cmd(["systemctl", "show", "ctr-c1.scope", "-p", "LoadState"], check=False)
        res.eq("containerd_rm", out.strip(), "LoadState=not-found", "the unit after ctr run --rm")
        res.complete("containerd_rm")
    finally:
        daemon.kill()
        daemon.wait(timeout=10)
        log.close()


def main(argv):
    t0 = time.monotonic()
    base.WORK = WORK
    os.makedirs(WORK, exist_ok=True)
    res = Results(CHECKS)
    if len(argv) != 2 or rd("/proc/1/comm") != "systemd":
        print("usage: systemd_podman_checks.py IMAGE_TARBALL DOCKER_ARCHIVE, in a guest whose pid 1 is systemd")
        res.report()
        return 1
    base._budget_end[0] = time.monotonic() + base.BUDGET
    res.scenario("podman", CHECKS[:4], lambda: scenario(res, argv[0]))
    res.scenario("containerd", CHECKS[4:], lambda: scenario_containerd(res, argv[1]))
    print("TIMING checks-total %.1f" % (time.monotonic() - t0), flush=True)
    return 0 if res.report() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
