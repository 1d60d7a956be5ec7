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
import re
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
        # dot-entries are the runtime's own (pyrunc's .seccomp cache), not containers
        state = sorted(n for n in os.listdir(root) if not n.startswith(".")) if root.is_dir() else []
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

    def __init__(self, node, handler, *, pid="POD", privileged=False, tag="pod", sysctls=None):
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
                                           "privileged": privileged},
                      "sysctls": sysctls or {}},
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


def _procs_below(top):
    pids = set()
    for dirpath, _dirs, files in os.walk(top):
        if "cgroup.procs" in files:
            pids |= {int(x) for x in Path(dirpath, "cgroup.procs").read_text().split()}
    return pids


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
        create = ctx.runtime_called(pod.id, "create")[0]
        ctx.runtime_called(pod.id, "start")
        # the handler's options: BinaryName ran the runtime, Root is its --root
        ctx.check(create.argv[1:3] == ["--root", str(node.handler_root(handler) / cri.NAMESPACE)],
                  f"the shim's runtime argv: {create.argv}")
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
        # the process count: the runtime's `ps` of each container (the sandbox not counted)
        in_ctrs = set().union(*(_procs_below(d) for cid in (a, b)
                                for d in common.cgroup_dirs(f"{pod.cgroup_parent}/{cid}")))
        ctx.check(pstats.linux.process.process_count.value == len(in_ctrs) == 4,
                  f"PodSandboxStats process_count {pstats.linux.process.process_count.value}, "
                  f"the containers' cgroups hold {sorted(in_ctrs)} (2 in each)")
        ctx.runtime_called(a, "ps")
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
        ctx.check(st.exit_code == 42 and time.monotonic() - t0 < 10, f"stopped: {st}")
        kills = ctx.runtime_called(a, "kill")
        ctx.check(kills[0].argv[-1] in ("15", "SIGTERM", "TERM"), f"first kill: {kills[0].argv}")
        log = (pod.log_dir / "a.log").read_text()
        ctx.check("stdout F started" in log and "stdout F got-term" in log, f"container log: {log!r}")
        # ... and a container that ignores SIGTERM is killed when the grace period ends
        t0 = time.monotonic()
        node.client("StopContainer", container_id=b, timeout=2)
        st = wait_state(pod, b, "CONTAINER_EXITED")
        took = time.monotonic() - t0
        ctx.check(st.exit_code == 137 and 2 <= took < 10, f"stopped after {took:.1f}s: {st}")
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




# ---- what the container saw, handler pyrunc next to handler runc ----

REPORT = ["/probe", "report", "ids", "caps", "proc", "mounts", "env", "ns", "fds"]
CGROUP_FILES = ["memory/memory.limit_in_bytes", "cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us",
                "cpu/cpu.shares", "pids/pids.max", "memory.max", "cpu.max", "cpu.weight", "pids.max"]
VIEW = ("for f in " + " ".join(CGROUP_FILES) + "; do "
        "[ -e /sys/fs/cgroup/$f ] && echo \"cgroup $f: $(cat /sys/fs/cgroup/$f)\"; done; "
        "echo \"hostname: $(hostname)\"; echo \"pid1: $(cat /proc/1/cmdline)\"; "
        "grep -E '^(Seccomp|NoNewPrivs|Cap[A-Z][a-z]+):' /proc/self/status; "
        "touch /rootfs-write 2>&1; echo \"root write: $?\"; "
        "echo x > /data/from-$POD_HANDLER 2>&1; echo \"data write: $?\"; "
        "touch /ro/x 2>&1; echo \"ro write: $?\"; cat /ro/hello; "
        "echo \"dev: $(ls /dev | wc -l)\"; "
        "echo \"sysctl port_start: $(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)\"; "
        "echo \"sysctl shm_rmid_forced: $(cat /proc/sys/kernel/shm_rmid_forced)\"; "
        "echo \"unshare user: $(/probe syscall unshare user 2>&1)\"; "
        "echo \"keyctl: $(/probe syscall keyctl 2>&1)\"; id")
# what differs between two pods whatever the runtime: pids of exec'd processes, and the
# number of the host's devices a privileged container gets (other tests add loop devices)
VARIABLE = ("pid: ", "ppid: ", "dev: ")


def container_view(node, handler, tmp_path, *, privileged=False):
    """Run a pod and a container with a security context through `handler`; return what
    the container saw (ExecSync outputs, the pod's ids and paths replaced) and the
    runtime calls' checks done on the way."""
    data, ro = tmp_path / f"data-{handler}", tmp_path / f"ro-{handler}"
    data.mkdir()
    os.chmod(data, 0o777)
    ro.mkdir()
    (ro / "hello").write_text("hello from the host\n")
    if privileged:
        sc = {"privileged": True}
    else:
        sc = {"run_as_user": {"value": 1000}, "run_as_group": {"value": 1000},
              "supplemental_groups": [2000], "readonly_rootfs": True, "no_new_privs": True,
              "capabilities": {"drop_capabilities": ["ALL"],
                               "add_capabilities": ["NET_BIND_SERVICE", "CHOWN"]},
              "seccomp": {"profile_type": "RuntimeDefault"}}
    # the pod's sysctls (Kubernetes' safe ones) go to the sandbox and to each container
    sysctls = {"net.ipv4.ip_unprivileged_port_start": "80", "kernel.shm_rmid_forced": "1"}
    with Pod(node, handler, privileged=privileged, tag="view", sysctls=sysctls) as pod:
        ctx = pod.ctx
        cid = pod.container(
            "view", ["/bin/sleep", "300"],
            envs=[{"key": "POD_HANDLER", "value": handler}, {"key": "GREETING", "value": "a b=c"}],
            mounts=[{"container_path": "/data", "host_path": str(data)},
                    {"container_path": "/ro", "host_path": str(ro), "readonly": True}],
            linux={"resources": {"memory_limit_in_bytes": 96 * MiB, "cpu_period": 100000,
                                 "cpu_quota": 50000, "cpu_shares": 512, "oom_score_adj": 500},
                   "security_context": sc})
        view = {"report": pod.ok(cid, *REPORT), "shell": pod.ok(cid, "/bin/sh", "-c", VIEW)}
        ctx.check((data / f"from-{handler}").read_text() == "x\n", "the write to /data missed the host dir")
        cfg = pod.config_json(cid)
        joined = {n["type"]: n.get("path") for n in cfg["linux"]["namespaces"]}
        ctx.check(all(joined.get(t) for t in ("network", "ipc", "uts", "pid")),
                  f"the container does not join the pod's namespaces by path: {joined}")
        ctx.check(privileged or cfg["linux"].get("seccomp", {}).get("defaultAction") == "SCMP_ACT_ERRNO",
                  "RuntimeDefault gave no seccomp filter")
        node.client("StopContainer", container_id=cid, timeout=1)
        node.client("RemoveContainer", container_id=cid)
        replace = {pod.id: "<pod>", cid: "<ctr>", str(pod.log_dir): "<logs>", handler: "<handler>"}
    out = {}
    for key, text in view.items():
        for old, new in replace.items():
            text = text.replace(old, new)
        text = re.sub(r"/snapshots/\d+/", "/snapshots/N/", text)     # the pod's rootfs layer
        out[key] = [line for line in text.splitlines() if not line.startswith(VARIABLE)]
    out["dev"] = [line for line in view["shell"].splitlines() if line.startswith("dev: ")]
    return out


def _same(views):
    a, b = (views[h] for h in HANDLERS)
    return all(a[k] == b[k] for k in ("report", "shell"))


def _diff(views):
    a, b = (views[h] for h in HANDLERS)
    lines = []
    for key in ("report", "shell"):
        only_runc = [x for x in a[key] if x not in b[key]]
        only_pyrunc = [x for x in b[key] if x not in a[key]]
        if only_runc or only_pyrunc:
            lines.append(f"{key}: runc only {only_runc}; pyrunc only {only_pyrunc}")
    return "\n".join(lines)


def test_security_context_same_as_runc(node, tmp_path):
    """A container with user 1000:1000 (+2000), capabilities ALL dropped but two, read-only
    root, seccomp RuntimeDefault, no_new_privs, env, a rw and a ro host mount, memory/cpu
    limits and oom_score_adj, in a pod with sysctls: what it sees (ids, caps, proc, mounts,
    env, namespaces, fds, cgroup limits, sysctls, writes) is the same under pyrunc as under
    runc, and is what was asked."""
    views = {h: container_view(node, h, tmp_path) for h in HANDLERS}
    assert _same(views), "pyrunc's container saw otherwise:\n" + _diff(views)
    assert views["runc"]["dev"] == views["pyrunc"]["dev"], views
    shell = views["pyrunc"]["shell"]
    report = views["pyrunc"]["report"]
    expected = ["hostname: view-<handler>-host", "pid1: /pause", "Seccomp:\t2", "NoNewPrivs:\t1",
                # a non-root user keeps the two in its bounding set only (no ambient caps)
                "CapEff:\t0000000000000000", "CapBnd:\t0000000000000401", "root write: 1",
                "data write: 0", "ro write: 1", "hello from the host",
                # containerd's default profile: no user namespace, no keyring
                "unshare user: EPERM", "keyctl: EPERM",
                "sysctl port_start: 80", "sysctl shm_rmid_forced: 1",
                # the image's /etc/group adds `users` (100) to the groups asked for
                "uid=1000(probe) gid=1000(probe) groups=100(users),1000(probe),2000"]
    if Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists():
        expected += [f"cgroup memory/memory.limit_in_bytes: {96 * MiB}",
                     "cgroup cpu/cpu.cfs_quota_us: 50000", "cgroup cpu/cpu.shares: 512"]
    missing = [e for e in expected if not any(line.startswith(e) for line in shell)]
    assert not missing, f"not seen in the container: {missing}\n{shell}"
    for want in ("uid: 1000", "gid: 1000", "oom_score_adj: 500", "env: GREETING=a b=c"):
        assert want in report, f"{want!r} not in the probe's report:\n" + "\n".join(report)


def test_privileged_same_as_runc(node, tmp_path):
    """A privileged container in a privileged pod: every capability, no seccomp filter,
    the host's devices; the same under pyrunc as under runc."""
    views = {h: container_view(node, h, tmp_path, privileged=True) for h in HANDLERS}
    assert _same(views), "pyrunc's container saw otherwise:\n" + _diff(views)
    shell = views["pyrunc"]["shell"]
    host_caps = next(line for line in Path("/proc/self/status").read_text().splitlines()
                     if line.startswith("CapBnd:"))
    expected = ["Seccomp:\t0", host_caps.replace("CapBnd", "CapEff"), "root write: 0",
                "uid=0(root) gid=0(root)"]
    missing = [e for e in expected if not any(line.startswith(e) for line in shell)]
    assert not missing, f"not seen in the privileged container: {missing}\n{shell}"
    ndev = int(views["pyrunc"]["dev"][0].split()[1])
    assert ndev > 20, f"a privileged container sees only {ndev} entries in /dev"


@pytest.mark.parametrize("handler", HANDLERS)
def test_attached_exec(node, handler):
    """CRI Exec (what `kubectl exec` reaches): the URL of containerd's streaming server,
    spoken to over its websocket protocol.  With stdin, stdout and stderr: the line sent
    comes back, stderr apart, and the exit status; with a tty: the runtime's exec got a
    console socket and the process a terminal (its output with "\r\n")."""
    with Pod(node, handler) as pod:
        ctx = pod.ctx
        cid = pod.container("sh", SLEEPER)
        url = node.client("Exec", container_id=cid, stdin=True, stdout=True, stderr=True,
                          cmd=["/bin/sh", "-c", "read line; echo \"got $line\"; echo err >&2; exit 3"]).url
        out = cri.attached_exec(url, node.netns, stdin=b"hello\n")
        ctx.check(out.get(1) == b"got hello\n" and out.get(2) == b"err\n",
                  f"attached exec output: {out}")
        status = json.loads(out.get(3, b"{}") or b"{}")
        causes = status.get("details", {}).get("causes", [])
        ctx.check(status.get("status") == "Failure" and {"reason": "ExitCode", "message": "3"} in causes,
                  f"exit status on the error channel: {status}")
        # containerd 1.6 drops what an exec writes before the client is attached: the
        # process reads a line from the client first, so its output comes after
        url = node.client("Exec", container_id=cid, tty=True, stdin=True, stdout=True,
                          cmd=["/bin/sh", "-c", "read line; tty; test -t 1 && echo \"tty $line\""]).url
        out = cri.attached_exec(url, node.netns, stdin=b"hello\n")
        text = out.get(1, b"").decode(errors="replace")
        ctx.check("/dev/pts/" in text and "tty hello\r\n" in text, f"tty exec output: {out}")
        ctx.check(json.loads(out.get(3, b"{}") or b"{}").get("status") == "Success",
                  f"tty exec status: {out.get(3)}")
        execs = ctx.runtime_called(cid, "exec")
        ctx.check(any("--console-socket" in c.argv for c in execs) and
                  any("--console-socket" not in c.argv for c in execs),
                  f"runtime execs: {[c.argv for c in execs]}")
        node.client("StopContainer", container_id=cid, timeout=5)
        node.client("RemoveContainer", container_id=cid)
