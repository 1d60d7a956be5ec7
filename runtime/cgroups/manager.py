"""A container's cgroups: create, apply resources, join, freeze, list pids, remove.

One class for both versions: on v1 every hierarchy has its own directory (the
`paths` map is keyed by hierarchy, as /proc/PID/cgroup names them: "memory",
"cpu,cpuacct", "name=systemd", "" for the unified one on hybrid hosts); on v2 there
is the one directory under key "".
"""
import posix
import time

from pyrunc.cgroups import fs
from pyrunc.errors import CgroupError, strerror


def new(mode, paths, systemd_unit=None, annotations=None, user=False, bus=None):
    """The manager for a new container: cgroupfs, or the systemd driver when the plan
    named a unit (--systemd-cgroup; `user`: the user's manager, rootless)."""
    if systemd_unit is not None:
        from pyrunc.cgroups import systemd

        return systemd.new(mode, paths, systemd_unit, annotations, user=user, bus=bus)
    return Manager(mode, paths)


class Manager:
    __slots__ = ("mode", "paths", "created")

    def __init__(self, mode, paths, created=()):
        self.mode = mode          # "v2", "hybrid", "legacy"
        self.paths = paths
        self.created = list(created)

    driver = "cgroupfs"

    @classmethod
    def from_state(cls, st):
        """The manager a container was created with (the systemd driver's lives in
        cgroups.systemd, imported only for such a container)."""
        if st.get("cgroupDriver") == "systemd":
            from pyrunc.cgroups.systemd import SystemdManager

            return SystemdManager.from_state(st)
        return cls(st.get("cgroupMode") or "none", st.get("cgroupPaths") or {}, st.get("cgroupsCreated") or [])

    def record(self):
        """The state fields that bring this manager back (from_state)."""
        return {"cgroupPaths": self.paths, "cgroupsCreated": self.created, "cgroupMode": self.mode}

    def spawn_dir(self):
        """The directory the init is cloned into (CLONE_INTO_CGROUP, v2), or None when
        it joins after the clone."""
        return self.paths.get("") if self.unified else None

    def close(self):
        """Release what the manager holds open (nothing, for cgroupfs)."""

    @property
    def unified(self):
        return self.mode == "v2"

    def dir_for(self, controller):
        """The directory holding `controller`'s files, or None when it is not mounted."""
        if self.unified:
            return self.paths.get("")
        for key, path in self.paths.items():
            if key and controller in key.split(","):
                return path
        return None

    def primary(self):
        """A directory whose cgroup.procs lists the container's processes."""
        if self.unified:
            return self.paths.get("")
        for c in ("pids", "freezer", "memory", "cpu", "devices"):
            d = self.dir_for(c)
            if d:
                return d
        return next(iter(self.paths.values()), None)

    # -- lifecycle --------------------------------------------------------------

    def create(self):
        self.created = fs.create(self.paths)
        if self.unified and "" in self.paths:  # none: a rootless container without a cgroup
            self._enable_controllers()
        return self.created

    def _enable_controllers(self):
        """cgroup v2 controllers are only usable in a child when the parent lists them in
        cgroup.subtree_control: enable every available one on the way down."""
        path = self.paths[""]
        parts = path.split("/")
        for i in range(5, len(parts)):
            parent = "/".join(parts[:i])
            try:
                avail = fs.read(parent + "/cgroup.controllers").split()
                have = set(fs.read(parent + "/cgroup.subtree_control").split())
            except OSError:
                continue
            want = [c for c in avail if c not in have]
            if want:
                try:
                    fs.write(parent + "/cgroup.subtree_control", " ".join("+" + c for c in want))
                except CgroupError:
                    # a parent with processes in it cannot delegate (no internal processes);
                    # the writes that need the controller will say so
                    pass

    def apply(self, resources, update=False, device_paths=(), devices=True, rootless=False):
        """`rootless`: the rootless manager's rules (runc): device rules are best effort,
        and a limit in a hierarchy left out (cgroups.rootless) fails."""
        from pyrunc.cgroups import resources as res

        if not resources:
            resources = {}
        if rootless and self.unified and "" not in self.paths:
            if res.plan_v2(resources):
                from pyrunc.cgroups.rootless import refuse_limit

                raise refuse_limit("", True)
            return
        facts = res.facts_from_dirs(self.paths)
        if self.unified:
            writes = res.plan_v2(resources, facts)
        else:
            writes = res.plan_v1(resources, facts, device_paths)
            if update:
                writes = self._order_for_update(writes, resources, facts)
            if not devices:
                writes = [w for w in writes if w.controller != "devices"]
        for w in writes:
            d = self.dir_for(w.controller) if w.controller else self.primary()
            if d is None:
                if w.optional or (rootless and w.controller == "devices"):
                    continue
                if rootless:
                    from pyrunc.cgroups.rootless import refuse_limit

                    raise refuse_limit(w.controller, False)
                raise CgroupError('cgroup controller "%s" is not mounted (needed for %s)' % (w.controller, w.file))
            path = d + "/" + w.file
            if w.optional and not fs.exists(path):
                continue
            try:
                fs.write(path, w.value)
            except CgroupError as e:
                if w.file == "memory.limit_in_bytes" and getattr(e, "errno", 0) == 16:
                    raise _below_usage(d, w.value) from None
                if not (rootless and w.controller == "devices"):
                    raise
        if self.unified and devices:
            try:
                self._apply_device_filter(resources.get("devices"), update, device_paths)
            except Exception:
                # runc: "rootless containers usually cannot use bpf(2)"
                if not rootless:
                    raise

    def _order_for_update(self, writes, resources, facts):
        """The memory limit and memory+swap limit must be written in an order that keeps
        memsw >= limit against the *current* values."""
        from pyrunc.cgroups import resources as res

        d = self.dir_for("memory")
        names = ("memory.limit_in_bytes", res.MEMSW)
        idx = [i for i, w in enumerate(writes) if w.file in names]
        if d is None or not idx:
            return writes
        try:
            current = int(fs.read(d + "/memory.limit_in_bytes"))
        except (OSError, ValueError):
            current = None
        mem = resources.get("memory") or {}
        ordered = res.order_memory_writes(current, mem.get("limit") or 0, mem.get("swap") or 0,
                                          facts.has(res.MEMSW))
        rest = [w for w in writes if w.file not in names]
        return rest[:idx[0]] + ordered + rest[idx[0]:]

    def _apply_device_filter(self, rules, replace, device_paths):
        from pyrunc import shim
        from pyrunc.cgroups import devices

        program = devices.encode(devices.bpf_program(devices.effective_rules(rules, device_paths, cgroup_v1=False)))
        fd = posix.open(self.paths[""], posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        try:
            shim.attach_device_filter(fd, program, replace)
        finally:
            posix.close(fd)

    def join(self, pid):
        fs.join(self.paths, pid)

    def pids(self):
        """The container's processes, sub-cgroups included (as runc's GetAllPids)."""
        d = self.primary()
        return sorted(set(fs.tree_pids(d))) if d else []

    def all_pids(self):
        out = set()
        for d in self.paths.values():
            out.update(fs.tree_pids(d))
        return sorted(out)

    def destroy(self):
        fs.remove(self.created, self.paths.values())

    def try_destroy(self):
        """Remove the container's cgroups at once when they are all ours and empty: an
        rmdir fails on a cgroup that still has tasks, so this needs no cgroup.procs
        read. False leaves the work (and the leftovers) to the caller."""
        from pyrunc.cgroups import rmdir

        return set(self.paths.values()) <= set(self.created) and rmdir.try_remove(self.created)

    def exists(self):
        """Whether any of the container's cgroup dirs is still there."""
        return any(fs.exists(p) for p in self.paths.values())

    # -- freezer ----------------------------------------------------------------

    def freezer_file(self):
        if self.unified:
            return self.paths[""] + "/cgroup.freeze" if "" in self.paths else None
        d = self.dir_for("freezer")
        return d + "/freezer.state" if d else None

    def frozen(self):
        f = self.freezer_file()
        if not f:
            return False
        try:
            v = fs.read(f)
        except OSError:
            return False
        return v in ("FROZEN", "FREEZING", "1")

    def frozen_for_create(self):
        """Whether a new init would be frozen as it joins: runc refuses to create into
        a frozen cgroup ("container's cgroup unexpectedly frozen") rather than wait
        forever for an init that cannot run. runc 1.1.5 reads the cgroup's own state
        (v1 freezer.self_freezing, v2 cgroup.freeze) and hangs when only an ancestor
        is frozen; here the nearest existing directory's effective state (v1) or any
        frozen ancestor (v2) counts as well, since a new child of a frozen cgroup is
        frozen too."""
        d = self.paths.get("") if self.unified else self.dir_for("freezer")
        if not d:
            return False
        while d and not fs.exists(d):
            d = d.rpartition("/")[0]
        if not self.unified:
            # the root cgroup has no freezer.state: it cannot be frozen
            try:
                return fs.read(d + "/freezer.state") != "THAWED"
            except OSError:
                return False
        # v2: cgroup.freeze is each cgroup's own request; the root has none
        while d:
            try:
                if fs.read(d + "/cgroup.freeze") == "1":
                    return True
            except OSError:
                return False
            d = d.rpartition("/")[0]
        return False

    def thaw_sub_cgroups(self):
        """Thaw every frozen cgroup below the container's: a task frozen there cannot
        die of SIGKILL (v1), nor can the init of its pid namespace, so `delete --force`
        would wait for nothing (runc 1.1.5 fails with "container init still running")."""
        f = self.freezer_file()
        if not f:
            return
        name, on, off = ("cgroup.freeze", "1", "0") if self.unified else ("freezer.state", "FROZEN", "THAWED")
        todo = fs.subdirs(f.rpartition("/")[0])
        while todo:
            d = todo.pop()
            try:
                if fs.read(d + "/" + name) in (on, "FREEZING") or (not self.unified and
                                                                  fs.read(d + "/freezer.self_freezing") == "1"):
                    fs.write(d + "/" + name, off)
            except (OSError, CgroupError):
                pass
            todo.extend(fs.subdirs(d))

    def freeze(self):
        self._set_frozen(True)

    def thaw(self):
        self._set_frozen(False)

    def _set_frozen(self, on):
        f = self.freezer_file()
        if f is None:
            raise CgroupError("the freezer cgroup is not available")
        if self.unified:
            fs.write(f, "1" if on else "0")
            events = self.paths[""] + "/cgroup.events"
            want = "frozen %d" % (1 if on else 0)
            for _ in range(1000):
                try:
                    if want in fs.read(events).splitlines():
                        return
                except OSError:
                    return
                time.sleep(0.001)
            raise CgroupError('cgroup "%s" did not %s' % (self.paths[""], "freeze" if on else "thaw"))
        target = "FROZEN" if on else "THAWED"
        for attempt in range(1000):
            # v1 freezing can stall on tasks in uninterruptible sleep: write again
            fs.write(f, target)
            try:
                state = fs.read(f)
            except OSError as e:
                raise CgroupError('read "%s": %s' % (f, strerror(e.errno))) from None
            if state == target:
                return
            time.sleep(0.001 if attempt < 100 else 0.01)
        raise CgroupError('cgroup "%s" did not reach %s' % (f, target))


def _below_usage(d, value):
    """EBUSY on a v1 memory limit: the kernel could not reclaim down to it. runc's
    words, which callers match on (its v2 driver has none: the write's error)."""
    usage = []
    for name in ("memory.usage_in_bytes", "memory.max_usage_in_bytes"):
        try:
            usage.append(int(fs.read(d + "/" + name)))
        except (OSError, ValueError):
            usage.append(0)
    return CgroupError("unable to set memory limit to %s (current usage: %d, peak usage: %d)" % (value, *usage))

