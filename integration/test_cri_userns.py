"""Kubernetes pods with `hostUsers: false` through containerd 2's CRI, handler `pyrunc` next
to handler `runc` (runc 1.1.5).

Debian 12's containerd 1.6 silently ignores a pod's user namespace, so this module runs
containerd 2 from Debian's archive (engines/cri2.py: fetched with apt-get into a cache of
its own, the host's containerd untouched), one daemon for the module, with the CNI, images,
handlers and rtlog.sh wrappers of test_cri.py.  The pods are what kubelet asks for a pod with
hostUsers: false: NamespaceOption.userns_options mode POD with one 65536-id range for uids
and gids, the same maps on each hostPath mount.  containerd gives the sandbox a new user
namespace with those maps, each container joins it by path, and every bind mount (the
volumes, /etc/hosts, /etc/hostname, resolv.conf) gets the maps as an idmapped mount: a file
of host uid 0 is uid 0 inside, what the container's root writes is host uid 0's.

The reference for the idmap part is the runtime spec (mounts[].uidMappings) and runc 1.2's
behaviour; runc 1.1.5 has no idmapped mounts, and the module shows what containerd does with
it: its `features` lack mountExtensions.idmap, so the CRI plugin reports no user-namespace
support for the handler (kubelet then refuses hostUsers: false pods) and the task service
refuses the container's task.  Its sandbox, which has no bind mounts, runs, and is compared
with pyrunc's.
"""
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from engines import common, cri, cri2
from test_cri import Pod, _settle, init_pid  # noqa: F401  (_settle: the leak check, autouse)

pytestmark = pytest.mark.integration

HANDLERS = cri.HANDLERS
SLEEPER = ["/bin/sh", "-c", 'trap "exit 0" TERM; sleep 600 & wait']


def pod_maps(k):
    """kubelet's maps for a pod (one 65536-id range, the k-th above the host's own)."""
    return [{"host_id": 65536 * k, "container_id": 0, "length": 65536}]


HOST_IDS = {"pyrunc": 65536 * 5, "runc": 65536 * 6}


# ---- fixtures ----

@pytest.fixture(scope="module")
def node(probe):
    common.ensure_packages({"/usr/lib/cni/bridge": "containernetworking-plugins",
                            "/usr/lib/cni/host-local": "containernetworking-plugins",
                            "/usr/lib/cni/loopback": "containernetworking-plugins",
                            "runc": "runc", "nsenter": "util-linux", "unshare": "util-linux"})
    tree = cri2.fetch()
    # the containers' root is a mapped host id: every dir on the way to a rootfs or a
    # volume must be searchable by others (pytest's tmp dirs are 0700 root's)
    workdir = Path(tempfile.mkdtemp(prefix="pyrt-cri2-", dir="/tmp"))
    os.chmod(workdir, 0o711)
    daemon = cri2.Cri2Containerd(workdir, common.wrappers(workdir / "runtimes"), tree)
    try:
        daemon.start()
        daemon.import_images(workdir)
        yield daemon
    finally:
        problems = daemon.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        if problems:
            pytest.fail("CRI (containerd 2) module cleanup: " + "; ".join(problems), pytrace=False)


def userns_pod(node, handler, tag="userns"):
    pod = Pod(node, handler, tag=tag)
    maps = pod_maps(HOST_IDS[handler] // 65536)
    pod.maps = maps
    userns = {"mode": "POD", "uids": maps, "gids": maps}
    pod.config["linux"]["security_context"]["namespace_options"]["userns_options"] = userns
    # kubelet repeats the pod's user namespace in each container's security context
    pod.linux = {"security_context": {"namespace_options": {"pid": "POD", "userns_options": userns}}}
    return pod


def volume(node, name):
    """A hostPath volume dir with a file of host root's and one of host uid/gid 1000's."""
    d = node.workdir / "volumes" / name
    d.mkdir(parents=True)
    (d / "root-file").write_text("host root's\n")
    (d / "user-file").write_text("host 1000's\n")
    os.chown(d / "user-file", 1000, 1000)
    return d


def userns_inode(pid):
    return os.stat(f"/proc/{pid}/ns/user").st_ino


def procs_in_userns(ino):
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}/ns/user").st_ino == ino:
                pids.append(int(pid))
        except OSError:
            pass
    return pids


def host_ids(pid):
    """(real uid, real gid) of a host pid, from /proc/PID/status."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])


def map_line(maps):
    m = maps[0]
    return [str(m["container_id"]), str(m["host_id"]), str(m["length"])]


# ---- the handlers' features ----

def test_handlers_user_namespace_support(node):
    """What the CRI plugin learnt from each handler's `features` (and reports to kubelet in
    Status.runtime_handlers, which kubelet reads before it runs a hostUsers: false pod):
    user namespaces need `user` in linux.namespaces and mountExtensions.idmap.enabled.
    pyrunc reports both; runc 1.1.5 has no mountExtensions."""
    handlers = {h.name: h.features for h in node.client("Status", verbose=True).runtime_handlers}
    feats = {name: json.loads(common.Commands().run([rt.real, "features"]).stdout)
             for name, rt in node.wrapped.items()}
    for name in HANDLERS:
        idmap = feats[name]["linux"].get("mountExtensions", {}).get("idmap", {}).get("enabled", False)
        want = "user" in feats[name]["linux"]["namespaces"] and idmap
        assert handlers[name].user_namespaces == want, (name, handlers[name], feats[name]["linux"])
        assert handlers[name].recursive_read_only_mounts == ("rro" in feats[name]["mountOptions"]), \
            (name, handlers[name])
    assert handlers["pyrunc"].user_namespaces, handlers
    assert not handlers["runc"].user_namespaces, "runc 1.1.5 has no idmapped mounts"


# ---- a hostUsers: false pod ----

VIEW = ("echo \"uid_map: $(cat /proc/self/uid_map)\"; echo \"gid_map: $(cat /proc/self/gid_map)\"; "
        "echo \"id: $(id -u):$(id -g)\"; "
        "echo \"vol root-file: $(stat -c %u:%g /vol/root-file)\"; "
        "echo \"vol user-file: $(stat -c %u:%g /vol/user-file)\"; "
        "echo \"vol dir: $(stat -c %u:%g /vol)\"; "
        "echo written > /vol/from-ctr && echo \"vol write: $?\"; "
        "mkdir /vol/dir1000 && chown 1000:1000 /vol/dir1000 && echo \"vol chown: $?\"; "
        "echo \"busybox: $(stat -c %u:%g /bin/busybox)\"; "
        "touch /rootfs-write && echo \"rootfs write: $?\"; "
        "echo \"hosts: $(stat -c %u:%g /etc/hosts)\"; "
        "echo \"vol mount: $(grep ' /vol ' /proc/self/mountinfo)\"")


def test_userns_pod_pyrunc(node):
    """A hostUsers: false pod through handler pyrunc: the sandbox gets a user namespace with
    the pod's maps, the container joins it (by path) and its hostPath volume is an idmapped
    mount of the same maps, as the runtime spec and runc 1.2 do: host uid 0's file is 0's
    inside, the container's writes are host uid 0's, ids 1000 are 1000 on both sides; the
    container's root is the mapped host id, the image's files are root's inside and the
    rootfs is writable; ExecSync works; stop and remove leave nothing (no process in the
    user namespace, no pinned namespace, no state)."""
    vol = volume(node, "pyrunc")
    with userns_pod(node, "pyrunc") as pod:
        ctx = pod.ctx
        hid = HOST_IDS["pyrunc"]
        status, info = pod.status()
        pause = info["pid"]
        ctx.check(host_ids(pause) == (hid, hid), f"pause runs as host {host_ids(pause)}, not {hid}")
        ctx.check(userns_inode(pause) != userns_inode(os.getpid()), "the sandbox is in the host's userns")
        # containerd makes the pod's user namespace itself and pins it (a bind mount in
        # the sandbox's dir), with the network namespace inside it; the sandbox joins both
        sandbox_ns = {n["type"]: n.get("path") for n in pod.config_json(pod.id)["linux"]["namespaces"]}
        pinned = sandbox_ns.get("user") or ""
        ctx.check(pinned.endswith("/pinned-namespaces/user") and os.stat(pinned).st_ino == userns_inode(pause),
                  f"the sandbox's namespaces: {sandbox_ns}")
        cid = pod.container("c", SLEEPER, mounts=[{
            "container_path": "/vol", "host_path": str(vol),
            "uidMappings": pod.maps, "gidMappings": pod.maps}], linux=pod.linux)
        cfg = pod.config_json(cid)
        joined = {n["type"]: n.get("path") for n in cfg["linux"]["namespaces"]}
        ctx.check(joined.get("user") == f"/proc/{pause}/ns/user", f"the container's namespaces: {joined}")
        vol_mount = next(m for m in cfg["mounts"] if m["destination"] == "/vol")
        want = [{"containerID": 0, "hostID": hid, "size": 65536}]
        ctx.check(vol_mount.get("uidMappings") == want and vol_mount.get("gidMappings") == want,
                  f"the volume's mount in config.json: {vol_mount}")

        pid = init_pid(node, cid)
        ctx.check(host_ids(pid) == (hid, hid), f"the container's init runs as host {host_ids(pid)}")
        ctx.check(userns_inode(pid) == userns_inode(pause), "the container is not in the pod's userns")
        out = pod.ok(cid, "/bin/sh", "-c", VIEW)
        seen = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        expect = {"uid_map": map_line(pod.maps), "gid_map": map_line(pod.maps)}
        for key, fields in expect.items():
            ctx.check(seen.get(key, "").split() == fields, f"{key}: {seen.get(key)!r}, want {fields}")
        for key, value in {"id": "0:0", "vol root-file": "0:0", "vol user-file": "1000:1000",
                           "vol dir": "0:0", "vol write": "0", "vol chown": "0", "busybox": "0:0",
                           "rootfs write": "0", "hosts": "0:0"}.items():
            ctx.check(seen.get(key) == value, f"{key}: {seen.get(key)!r}, want {value!r}\n{out}")
        ctx.check("idmapped" in seen.get("vol mount", ""), f"/vol is not idmapped: {seen.get('vol mount')}")
        # the other way: what the container's root made is host root's on the host
        for name, ids in (("from-ctr", (0, 0)), ("dir1000", (1000, 1000))):
            st = os.stat(vol / name)
            ctx.check((st.st_uid, st.st_gid) == ids, f"{name} on the host: {st.st_uid}:{st.st_gid}, want {ids}")
        ctx.check((vol / "from-ctr").read_text() == "written\n", "the write missed the host dir")

        ino = userns_inode(pause)
        try:
            node.client("StopContainer", container_id=cid, timeout=5)
            node.client("RemoveContainer", container_id=cid)
            node.client("StopPodSandbox", pod_sandbox_id=pod.id)
        except cri.CriError as e:
            ctx.fail(f"stopping the pod: {e}")
    left = procs_in_userns(ino)
    assert not left, f"processes left in the pod's user namespace: {left}"
    assert not os.path.exists(pinned), f"the pinned user namespace is left: {pinned}"



# ---- handler runc (runc 1.1.5): the sandbox runs, the containers are refused ----

def sandbox_view(node, pod):
    """What the pod's sandbox is: its maps, setgroups, ids on the host (as offsets from
    the pod's host range), its user namespace, the runtime's config for it."""
    _, info = pod.status()
    pause = info["pid"]
    base = pod.maps[0]["host_id"]
    uid, gid = host_ids(pause)
    ns = [n["type"] for n in pod.config_json(pod.id)["linux"]["namespaces"]]
    return {"uid_map": Path(f"/proc/{pause}/uid_map").read_text().split(),
            "gid_map": Path(f"/proc/{pause}/gid_map").read_text().split(),
            "setgroups": Path(f"/proc/{pause}/setgroups").read_text().strip(),
            "host ids": (uid - base, gid - base),
            "own userns": userns_inode(pause) != userns_inode(os.getpid()),
            "namespaces": sorted(ns)}


def test_userns_sandbox_same_as_runc_container_refused_for_runc(node):
    """The sandbox of a hostUsers: false pod (pause, no bind mount) under each handler: the
    same maps (each pod's own range), setgroups, namespaces, pause running as the range's
    first id.  A container of such a pod under handler runc: containerd gives its bind mounts
    the pod's maps, and its task service refuses them for a runtime whose `features` has no
    mountExtensions.idmap (runc 1.1.5): StartContainer fails and runc never sees the
    container; under pyrunc it runs (test_userns_pod_pyrunc)."""
    views = {}
    for handler in HANDLERS:
        with userns_pod(node, handler, tag="sandbox") as pod:
            views[handler] = sandbox_view(node, pod)
            for key in ("uid_map", "gid_map"):
                pod.ctx.check(views[handler][key] == map_line(pod.maps),
                              f"{handler} sandbox {key}: {views[handler][key]}")
            if handler == "runc":
                cid = pod.container("c", SLEEPER, start=False, linux=pod.linux)
                with pytest.raises(cri.CriError) as e:
                    node.client("StartContainer", container_id=cid)
                pod.ctx.check("idmap mounts not supported" in e.value.details
                              and "mountExtensions.idmap" in e.value.details,
                              f"StartContainer under runc 1.1.5: {e.value.details}")
                pod.ctx.check(not pod.ctx.rt.calls_for(cid, "create"), "runc was asked to create it")
                node.client("RemoveContainer", container_id=cid)
    for key in ("uid_map", "gid_map"):      # each pod has its own range: compare the rest
        for v in views.values():
            v[key] = [v[key][0], v[key][2]]
    assert views["pyrunc"] == views["runc"], views
    assert views["pyrunc"]["host ids"] == (0, 0) and views["pyrunc"]["own userns"], views
