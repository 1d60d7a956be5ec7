"""AppArmor and SELinux labels as plan data, by runc's rules (libcontainer's apparmor and
go-selinux): which /proc attribute gets which value, what a host without the LSM does,
and which mounts take linux.mountLabel as a `context=` option. Pure, like the plan."""
from pyrunc.errors import PyruncError
from pyrunc.plan.ops import LSM_LABEL_FILE, LSM_LABEL_OPTIONAL, OP_LSM_LABEL, Op

# the "exec" attributes change the label at the next execve; thread-self because the
# LSMs keep them per thread
APPARMOR_EXEC = "/proc/thread-self/attr/apparmor/exec"
APPARMOR_EXEC_OLD = "/proc/thread-self/attr/exec"   # kernels before the per-LSM directory
SELINUX_EXEC = "/proc/thread-self/attr/exec"
SELINUX_KEYCREATE = "/proc/thread-self/attr/keycreate"

# Mount types the kernel cannot label with context= (proc, sysfs: runc's own rule), or
# that runc labels otherwise (mqueue: its root directory's xattr) or not at all (cgroup).
NO_CONTEXT = frozenset(("proc", "sysfs", "mqueue", "cgroup", "cgroup2"))


def check(proc, host):
    """runc's validator: an SELinux process label on a host without SELinux is refused
    before anything runs. An AppArmor profile is not: runc tries to apply it and the
    kernel refuses the write (see exec_ops)."""
    if proc.get("selinuxLabel") and not host.selinux:
        raise PyruncError("selinux label is specified in config, but selinux is disabled or not supported")


def keycreate_op(proc):
    """The SELinux label of the session keyring the init or exec is about to join: runc
    sets it just before joining, and a kernel without the attribute is fine."""
    label = proc.get("selinuxLabel")
    if not label:
        return None
    return Op(OP_LSM_LABEL, "set keyring label", s1=SELINUX_KEYCREATE, s3=label, s4="set keyring label",
              n1=LSM_LABEL_OPTIONAL)


def exec_ops(proc, joining=False):
    """The labels the process gets at execve. runc's init writes them before the
    capability drop and before seccomp (a filter may forbid the write); they take effect
    only at the execve that ends the plan. (runc's exec writes the AppArmor one after the
    capability drop, the user switch and a filter loaded without no_new_privs; the write
    needs no capability and acts at the same execve, so pyrunc keeps one place for both,
    where no filter can refuse it.) A profile that is not loaded, or a host without
    AppArmor, fails the write with runc's words (its exec's are shorter)."""
    ops = []
    profile = proc.get("apparmorProfile")
    if profile:
        what = "apparmor failed to apply profile"
        ops.append(Op(OP_LSM_LABEL, 'apparmor profile "%s"' % profile, s1=APPARMOR_EXEC, s2=APPARMOR_EXEC_OLD,
                      s3="exec " + profile, s4=what if joining else "unable to apply apparmor profile: " + what))
    label = proc.get("selinuxLabel")
    if label:
        ops.append(Op(OP_LSM_LABEL, 'selinux label "%s"' % label, s1=SELINUX_EXEC, s3=label,
                      s4="can't set process label"))
    return ops


def mqueue_op(dest, mount_label, host):
    """mqueue takes no context=: runc labels the mount's root directory instead, where
    SELinux is enabled (go-selinux's SetFileLabel does nothing elsewhere)."""
    if not mount_label or not host.selinux:
        return None
    return Op(OP_LSM_LABEL, 'label "%s"' % dest, s1=dest, s3=mount_label, s4='label mqueue "%s"' % dest,
              n1=LSM_LABEL_FILE)


def context_option(mount_label):
    """go-selinux's FormatMountLabel: the label quoted (it has colons, maybe commas)."""
    return 'context="%s"' % mount_label


def mount_data(data, mtype, bind, mount_label):
    """A mount's data with linux.mountLabel added where runc adds it: tmpfs, devpts and
    every other filesystem mounted by type; not binds (the kernel ignores data there),
    not NO_CONTEXT types."""
    if not mount_label or bind or mtype in NO_CONTEXT:
        return data
    return (data + "," if data else "") + context_option(mount_label)
