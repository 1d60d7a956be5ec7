"""Kubernetes' path to pyrunc: pods through containerd 1.6's CRI plugin, handler `pyrunc`
next to handler `runc`.

One containerd serves the module (engines/cri.py): the CRI plugin enabled, private root,
state and socket, in a network namespace of the test's own with CNI's bridge, host-local
and loopback plugins (Debian's containernetworking-plugins); runtime handlers `runc` and
`pyrunc` of the runc v2 shim, BinaryName = the runtime behind the rtlog.sh wrapper (each
call the shim makes is recorded, and shown when a test fails with the CRI calls, their
replies and the daemon's log).  The sandbox image is a static pause (cri/pause.c) and
the workload image the tests' busybox with /probe, both imported with `ctr -n k8s.io
images import`.  The client is the project's own: grpcio with integration/cri/api.proto.

Each test removes its pods; `_settle` fails a test that left a pod, a runtime state
dir, a mount under the daemon's dirs, a pod netns or a pod cgroup, and the module
fixture fails if containerd, a shim, a cgroup or a mount survives the module.
"""
import json
import os
import time
from pathlib import Path

import pytest

import harness
from engines import common, cri

pytestmark = pytest.mark.integration

HANDLERS = cri.HANDLERS
IMAGE = cri.IMAGE
MiB = 1 << 20


# ---- fixtures ----

@pytest.fixture(scope="module")
def node(tmp_path_factory, probe):
    common.ensure_packages({"containerd": "containerd", "ctr": "containerd",
                            "containerd-shim-runc-v2": "containerd",
                            "/usr/lib/cni/bridge": "containernetworking-plugins",
                            "/usr/lib/cni/host-local": "containernetworking-plugins",
                            "/usr/lib/cni/loopback": "containernetworking-plugins",
                            "nsenter": "util-linux", "unshare": "util-linux"})
    workdir = tmp_path_factory.mktemp("cri-node")
    daemon = cri.CriContainerd(workdir, common.wrappers(workdir / "runtimes"))
    try:
        daemon.start()
        daemon.import_images(workdir)
        yield daemon
    finally:
        problems = daemon.stop()
        if problems:
            pytest.fail("CRI module cleanup: " + "; ".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def _settle(no_leaks, node):
    """Before the conftest leak check: fail if the test left a pod, runtime state, a
    mount under the daemon's dirs or a pod netns; wait for the shims to exit."""
    before = {common.proc_key(p) for p in harness.descendants()}
    mounts_before = set(common.mounts_under(node.workdir))
    yield
    problems = []
    left = [p.id for p in node.client("ListPodSandbox").items]
    if left:
        problems.append(f"pods left: {left}")
        problems += node.remove_pods()
    stray = common.settle(before)
    if stray:
        problems.append(f"processes left: {[(p.pid, p.comm) for p in stray]}")
    new_mounts = set(common.mounts_under(node.workdir)) - mounts_before
    if new_mounts:
        problems.append(f"mounts left: {sorted(new_mounts)}")
    for h in HANDLERS:
        root = node.handler_root(h) / cri.NAMESPACE
        state = sorted(os.listdir(root)) if root.is_dir() else []
        if state:
            problems.append(f"{h} state left in {root}: {state}")
    netns = node.state / "io.containerd.grpc.v1.cri" / "netns"
    if netns.is_dir() and os.listdir(netns):
        problems.append(f"pod netns left: {os.listdir(netns)}")
    if problems:
        pytest.fail("the test left behind: " + "; ".join(problems), pytrace=False)


# ---- a pod ----

class Pod:
    """A pod sandbox run through CRI with one handler; a context manager that stops and
    removes it (and its cgroup parent, a cgroup of ours) on the way out."""

    def __init__(self, node, handler, *, pid="POD", privileged=False, tag="pod"):
        self.node, self.handler, self.cri = node, handler, node.client
        self.ctx = common.Context(node.wrapped[handler], node.commands, extra=node.log_tail)
        self.cgroup_parent = f"{node.cgroup_root}/{harness.new_id(tag)}"
        self.name = f"{tag}-{handler}"
        self.log_dir = node.log_dir / self.cgroup_parent.rsplit("/", 1)[1]
        self.config = {
            "metadata": {"name": self.name, "uid": self.cgroup_parent.rsplit("/", 1)[1],
                         "namespace": "pyrt"},
            "hostname": f"{tag}-{handler}-host",
            "log_directory": str(self.log_dir),
            "labels": {"pyrt": handler},
            "linux": {"cgroup_parent": "/" + self.cgroup_parent,
                      "security_context": {"namespace_options": {"pid": pid},
                                           "privileged": privileged}},
        }
        self.id = None

    def __enter__(self):
        self.id = self.cri("RunPodSandbox", config=self.config, runtime_handler=self.handler).pod_sandbox_id
        return self

    def __exit__(self, *exc):
        problems = []
        for method in ("StopPodSandbox", "RemovePodSandbox"):
            try:
                self.cri(method, pod_sandbox_id=self.id)
            except cri.CriError as e:
                problems.append(str(e))
        left = common.remove_cgroup_tree(self.cgroup_parent)
        if left:
            problems.append(f"cgroups left under the pod's parent: {left}")
        if problems and exc[0] is None:
            self.ctx.fail("removing the pod: " + "; ".join(problems))

    def status(self):
        r = self.cri("PodSandboxStatus", pod_sandbox_id=self.id, verbose=True)
        return r.status, json.loads(r.info.get("info", "{}"))

    def container(self, name, command, start=True, **config):
        """CreateContainer (and StartContainer); returns its id."""
        config = {"metadata": {"name": name}, "image": {"image": IMAGE}, "command": command,
                  "log_path": f"{name}.log", **config}
        cid = self.cri("CreateContainer", pod_sandbox_id=self.id, config=config,
                       sandbox_config=self.config).container_id
        if start:
            self.cri("StartContainer", container_id=cid)
        return cid

    def exec(self, cid, *cmd, timeout=30):
        """ExecSync: (exit code, stdout, stderr)."""
        r = self.cri("ExecSync", container_id=cid, cmd=list(cmd), timeout=timeout, deadline=timeout + 30)
        return r.exit_code, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

    def ok(self, cid, *cmd):
        rc, out, err = self.exec(cid, *cmd)
        self.ctx.check(rc == 0, f"ExecSync {list(cmd)} in {self.handler}: exit {rc}: {err!r}")
        return out

    def cstatus(self, cid):
        return self.cri("ContainerStatus", container_id=cid).status

    def config_json(self, cid):
        """The config.json the shim gave the runtime for `cid` (kept by the wrapper)."""
        return json.loads((self.ctx.rt.files / f"config-{cid}.json").read_text())


SLEEPER = ["/bin/sh", "-c", 'trap "echo got-term; exit 42" TERM; echo started; sleep 300 & wait']
STUBBORN = ["/bin/sh", "-c", 'trap "" TERM; sleep 300 & while :; do wait; done']


def wait_state(pod, cid, state, timeout=10):
    deadline = time.monotonic() + timeout
    while (st := pod.cstatus(cid)).state != pod.cri.pb.ContainerState.Value(state):
        if time.monotonic() > deadline:
            pod.ctx.fail(f"container {cid} is {st.state}, expected {state} after {timeout}s")
        time.sleep(0.1)
    return st


def init_pid(node, cid):
    """The host pid of a container's init: the shim's init.pid in the task dir."""
    return int((node.state / "io.containerd.runtime.v2.task" / cri.NAMESPACE / cid / "init.pid").read_text())


def memory_limit(cg):
    """The memory limit of a cgroup dir (v1 memory.limit_in_bytes or v2 memory.max)."""
    f = cg / "memory.limit_in_bytes"
    text = (f if f.exists() else cg / "memory.max").read_text().strip()
    return None if text == "max" else int(text)


# ---- the lifecycle, per handler ----

@pytest.mark.parametrize("handler", HANDLERS)
def test_pod_lifecycle(node, handler):
    """RunPodSandbox .. RemovePodSandbox with one handler: the sandbox's runtime calls and
    namespaces, two containers, ListContainers, ContainerStatus, logs, ExecSync, stats,
    UpdateContainerResources, StopContainer with a grace period (honoured, then
    overrun: SIGKILL), RemoveContainer; nothing of the pod is left."""
    pb = node.client.pb
    with Pod(node, handler) as pod:
        ctx = pod.ctx
        status, info = pod.status()
        ctx.check(status.state == pb.SANDBOX_READY and status.runtime_handler == handler,
                  f"sandbox status: {status}")
        ctx.check(status.network.ip.startswith(cri.POD_SUBNET.rsplit(".", 1)[0] + "."),
                  f"pod IP {status.network.ip!r} not from the CNI range {cri.POD_SUBNET}")
        pause_pid = info["pid"]
        ctx.runtime_called(pod.id, "create")
        ctx.runtime_called(pod.id, "start")
        ctx.check(common.cmdline(pause_pid)[0] == b"/pause", f"sandbox pid {pause_pid} is not /pause")
        sandbox_ns = {n["type"]: n.get("path") for n in pod.config_json(pod.id)["linux"]["namespaces"]}
        ctx.check(sandbox_ns["network"] and "/netns/" in sandbox_ns["network"],
                  f"the sandbox does not join the CNI netns: {sandbox_ns}")

        a = pod.container("a", SLEEPER, envs=[{"key": "POD_HANDLER", "value": handler}])
        b = pod.container("b", STUBBORN)
        for cid in (a, b):
            ctx.runtime_called(cid, "create")
            ctx.runtime_called(cid, "start")
        listed = {c.id: c for c in node.client("ListContainers",
                                                 filter={"pod_sandbox_id": pod.id}).containers}
        ctx.check(set(listed) == {a, b} and all(c.state == pb.CONTAINER_RUNNING for c in listed.values()),
                  f"ListContainers: {listed}")
        st = pod.cstatus(a)
        ctx.check(st.state == pb.CONTAINER_RUNNING and st.started_at > 0 and st.metadata.name == "a",
                  f"ContainerStatus: {st}")

        # ExecSync: output, exit status, the pod's namespaces (the container joined them by path)
        out = pod.ok(a, "/bin/sh", "-c", "echo $POD_HANDLER; hostname; cat /proc/1/cmdline")
        ctx.check(out.split("\n")[:2] == [handler, pod.config["hostname"]] and "/pause" in out,
                  f"ExecSync output: {out!r}")
        rc, out, err = pod.exec(a, "/bin/sh", "-c", "echo out; echo err >&2; exit 3")
        ctx.check((rc, out, err) == (3, "out\n", "err\n"), f"ExecSync exit 3: {(rc, out, err)}")
        execs = ctx.runtime_called(a, "exec")
        ctx.check(all("--process" in c.argv and "--detach" in c.argv for c in execs),
                  f"runtime exec argv: {[c.argv for c in execs]}")
        cfg = pod.config_json(a)
        joined = {n["type"]: n.get("path") for n in cfg["linux"]["namespaces"]}
        for ns, link in (("network", "net"), ("ipc", "ipc"), ("uts", "uts"), ("pid", "pid")):
            ctx.check(joined.get(ns), f"the container does not join the pod's {ns} namespace: {joined}")
            inside = pod.ok(a, "readlink", f"/proc/self/ns/{link}").strip()
            ctx.check(inside == os.readlink(f"/proc/{pause_pid}/ns/{link}"),
                      f"{ns}: the container's {inside} is not the sandbox's")
        ctx.check(not joined.get("mount"), "the container shares the sandbox's mount namespace")

        # stats: from the container's cgroup, which the runtime made under the pod's parent
        stats = node.client("ContainerStats", container_id=a).stats
        ctx.check(stats.attributes.id == a and stats.cpu.usage_core_nano_seconds.value > 0
                  and stats.memory.working_set_bytes.value > 0, f"ContainerStats: {stats}")
        pstats = node.client("PodSandboxStats", pod_sandbox_id=pod.id).stats
        ctx.check(pstats.attributes.id == pod.id and pstats.linux.cpu.usage_core_nano_seconds.value > 0
                  and {c.attributes.id for c in pstats.linux.containers} == {a, b},
                  f"PodSandboxStats: {pstats}")
        cg = common.cgroup_of(init_pid(node, a), "memory")
        ctx.check(cg is not None and str(cg).endswith(f"/{pod.cgroup_parent}/{a}"),
                  f"container {a} is in cgroup {cg}, not under the pod's parent {pod.cgroup_parent}")

        # UpdateContainerResources: the runtime's `update`, seen inside and in the status
        node.client("UpdateContainerResources", container_id=a,
                    linux={"memory_limit_in_bytes": 80 * MiB, "cpu_shares": 300})
        ctx.runtime_called(a, "update")
        limit = memory_limit(cg)
        ctx.check(limit == 80 * MiB, f"memory.limit_in_bytes after update: {limit}")
        res = pod.cstatus(a).resources.linux
        ctx.check(res.memory_limit_in_bytes == 80 * MiB and res.cpu_shares == 300,
                  f"ContainerStatus resources after update: {res}")

        # StopContainer: SIGTERM, the trap exits 42 within the grace period
        t0 = time.monotonic()
        node.client("StopContainer", container_id=a, timeout=10)
        st = wait_state(pod, a, "CONTAINER_EXITED")
        ctx.check(st.exit_code == 42 and time.monotonic() - t0 < 8, f"stopped: {st}")
        kills = ctx.runtime_called(a, "kill")
        ctx.check(kills[0].argv[-1] in ("15", "SIGTERM", "TERM"), f"first kill: {kills[0].argv}")
        log = (pod.log_dir / "a.log").read_text()
        ctx.check("stdout F started" in log and "stdout F got-term" in log, f"container log: {log!r}")
        # ... and a container that ignores SIGTERM is killed when the grace period ends
        t0 = time.monotonic()
        node.client("StopContainer", container_id=b, timeout=2)
        st = wait_state(pod, b, "CONTAINER_EXITED")
        took = time.monotonic() - t0
        ctx.check(st.exit_code == 137 and 2 <= took < 8, f"stopped after {took:.1f}s: {st}")
        sigs = [c.argv[-1] for c in ctx.runtime_called(b, "kill")]
        ctx.check(sigs[0] in ("15", "SIGTERM") and sigs[-1] in ("9", "SIGKILL"), f"kills: {sigs}")

        for cid in (a, b):
            node.client("RemoveContainer", container_id=cid)
            ctx.runtime_called(cid, "delete")
            ctx.check(not (node.handler_root(handler) / cri.NAMESPACE / cid).exists(),
                      f"runtime state of {cid} left")
        ctx.check(not node.client("ListContainers", filter={"pod_sandbox_id": pod.id}).containers,
                  "containers listed after RemoveContainer")

        node.client("StopPodSandbox", pod_sandbox_id=pod.id)
        status, _ = pod.status()
        ctx.check(status.state == pb.SANDBOX_NOTREADY and not common.alive(pause_pid),
                  f"after StopPodSandbox: {status.state}, pause alive: {common.alive(pause_pid)}")
    ctx.check(not node.client("ListPodSandbox").items, "pod listed after RemovePodSandbox")
    ctx.check(not common.cgroup_dirs(pod.cgroup_parent), f"pod cgroup {pod.cgroup_parent} left")


