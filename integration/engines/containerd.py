"""A containerd 1.6 daemon of the test's own, driven with ctr.

The daemon gets a private root, state dir and socket (under the test module's tmp dir),
a config that disables the CRI plugin, and a namespace of its own (pyrt-<random>).  It
is started in the background and stopped by its pid.

What containerd 1.6 keeps outside its root and state whatever they are set to, and how
the tests clean it:
  /run/containerd/runc/<namespace>   the shim's --root for the runtime: our namespace's dir
                                     is removed at the end
  /run/containerd/s/, /run/containerd/fifo/   shim sockets and ctr's stdio fifos, removed by
                                     their owners; the dirs are removed if we made them
  cgroups /<namespace>/<id>           ctr's default cgroupsPath: our namespace's tree is removed
"""
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

import harness

from . import common

RUN_CONTAINERD = Path("/run/containerd")


class Containerd:
    def __init__(self, workdir, commands=None):
        self.workdir = Path(workdir)
        self.root = self.workdir / "root"
        self.state = self.workdir / "state"
        self.socket = self.workdir / "containerd.sock"
        self.config = self.workdir / "config.toml"
        self.daemon_log = self.workdir / "containerd.log"
        self.namespace = f"{harness.ID_PREFIX}{secrets.token_hex(4)}"
        self.commands = commands or common.Commands()
        self.proc = None
        self.launcher = []          # argv put before `containerd` (nsenter into a netns)
        self.binary, self.ctr_binary = "containerd", "ctr"     # another build: its paths
        self.env = None             # the daemon's environment (None: ours)
        # what existed under /run/containerd before us: only what we made is removed
        self._preexisting = {p for p in (RUN_CONTAINERD, *(RUN_CONTAINERD / d for d in ("runc", "s", "fifo")))
                             if p.exists()}

    @property
    def runtime_root(self):
        """The --root the runc v2 shim gives the runtime for our namespace."""
        return RUN_CONTAINERD / "runc" / self.namespace

    def task_dir(self, cid):
        """The task's bundle (and the runtime's --log dir)."""
        return self.state / "io.containerd.runtime.v2.task" / self.namespace / cid

    def write_config(self):
        self.config.write_text(self.base_config())

    def base_config(self, cri=False):
        """The daemon's own root, state, sockets and opt dir (version 2); the CRI plugin
        disabled unless `cri`."""
        disabled = "" if cri else '\n  "io.containerd.grpc.v1.cri",'
        return f"""\
version = 2
root = "{self.root}"
state = "{self.state}"
disabled_plugins = [{disabled}
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "{self.socket}"

[ttrpc]
  address = "{self.socket}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{self.workdir / 'opt'}"
"""

    def start(self, timeout=30):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.write_config()
        log = open(self.daemon_log, "ab")
        try:
            self.proc = subprocess.Popen([*self.launcher, self.binary, "--config", str(self.config)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True, env=self.env)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise common.EngineError(f"containerd exited {self.proc.returncode} while starting:\n"
                                         f"{self.log_tail()}")
            if self.socket.exists():
                r = self.ctr("version", timeout=10)
                if r.returncode == 0:
                    return self
            if time.monotonic() > deadline:
                raise common.EngineError(f"containerd did not answer on {self.socket} in {timeout}s:\n"
                                         f"{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, lines=25):
        try:
            text = self.daemon_log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no containerd log)"
        return "containerd log (last lines):\n" + "\n".join(text[-lines:])

    def ctr_argv(self, *args):
        return [self.ctr_binary, "--address", self.socket, "--namespace", self.namespace, *args]

    def ctr(self, *args, **kw):
        """Run `ctr --address <ours> --namespace <ours> args...`; return a common.Result."""
        return self.commands.run(self.ctr_argv(*args), **kw)

    def import_image(self, archive):
        r = self.ctr("image", "import", archive, timeout=300)
        if r.returncode != 0:
            raise common.EngineError(f"ctr image import failed:\n{self.commands.describe(1)}\n"
                                     f"{self.log_tail()}")
        return common.IMAGE

    def tasks(self):
        """{id: (pid, status)} from `ctr task ls`."""
        r = self.ctr("task", "ls")
        out = {}
        for line in r.stdout.splitlines()[1:]:
            f = line.split()
            if len(f) >= 3:
                out[f[0]] = (int(f[1]), f[2])
        return out

    def container_ids(self):
        r = self.ctr("container", "ls", "-q")
        return r.stdout.split()

    def remove(self, cid):
        """Kill the task, delete it and the container, whatever state they are in."""
        if cid in self.tasks():
            self.ctr("task", "kill", "--signal", "KILL", cid)
            self.ctr("task", "delete", "--force", cid)
        if cid in self.container_ids():
            self.ctr("container", "delete", cid)

    def shim_pids(self):
        """Running containerd-shim-runc-v2 processes serving our namespace."""
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            argv = common.cmdline(pid)
            if argv and argv[0].endswith(b"containerd-shim-runc-v2") and \
                    b"-namespace" in argv and self.namespace.encode() in argv:
                pids.append(int(pid))
        return pids

    def stop(self):
        """Remove what is left in our namespace, stop the daemon by its pid, then clean what
        containerd 1.6 keeps outside its root; return a description of anything left."""
        problems = []
        if self.proc is not None and self.proc.poll() is None:
            for cid in self.container_ids():
                self.remove(cid)
            for ref in self.ctr("image", "ls", "-q").stdout.split():
                self.ctr("image", "rm", ref)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        left = common.kill_pids(self.shim_pids())
        if left:
            problems.append(f"shims still alive: {left}")
        stuck = common.unmount_under(self.workdir)
        if stuck:
            problems.append(f"mounts left under {self.workdir}: {stuck}")
        shutil.rmtree(self.runtime_root, ignore_errors=True)
        cg = common.remove_cgroup_tree(self.namespace)
        if cg:
            problems.append(f"cgroups left: {cg}")
        for d in (RUN_CONTAINERD / "runc", RUN_CONTAINERD / "s", RUN_CONTAINERD / "fifo", RUN_CONTAINERD):
            if d not in self._preexisting:
                try:
                    d.rmdir()           # only if empty: someone else may be using it by now
                except OSError:
                    pass
        if not stuck:
            for d in (self.root, self.state):
                shutil.rmtree(d, ignore_errors=True)
        return problems
