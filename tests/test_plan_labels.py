"""AppArmor and SELinux labels in the plan (runc's rules): which attribute each label is
written to and where in the op order, what a host without SELinux refuses, and which
mounts take linux.mountLabel as context=."""
import pytest

from pyrunc.errors import PyruncError
from pyrunc.plan import build, labels
from pyrunc.plan import ops as O

from test_plan import host, kinds, plan_for, spec

LABEL = "system_u:system_r:container_t:s0:c1,c2"
MLABEL = "system_u:object_r:container_file_t:s0:c1,c2"


def lsm_ops(p):
    return [op for op in p.ops if op.kind == O.OP_LSM_LABEL]


def labelled_spec(**process):
    s = spec()
    s["process"].update(process)
    return s


def selinux_plan(s, **opts):
    opts.setdefault("console_socket", False)
    return build.build(s, build.Options("c1", "/bundle", **opts), host(selinux=True))


def test_no_label_no_op():
    assert lsm_ops(plan_for(spec())) == []


def test_apparmor_profile_is_written_to_the_exec_attribute():
    (op,) = lsm_ops(plan_for(labelled_spec(apparmorProfile="pyrt-deny")))
    assert (op.s1, op.s2, op.s3) == ("/proc/thread-self/attr/apparmor/exec", "/proc/thread-self/attr/exec",
                                     "exec pyrt-deny")
    assert op.s4 == "unable to apply apparmor profile: apparmor failed to apply profile"
    assert op.n1 == 0  # a missing attribute is an error: the profile would be dropped


def test_apparmor_profile_is_not_refused_by_the_plan():
    """runc tries the write and lets the kernel refuse it (a host without AppArmor)."""
    assert len(lsm_ops(plan_for(labelled_spec(apparmorProfile="pyrt-deny")))) == 1


def test_selinux_label_refused_without_selinux():
    with pytest.raises(PyruncError, match="^selinux label is specified in config, but selinux is disabled"):
        plan_for(labelled_spec(selinuxLabel=LABEL))


def test_selinux_label_sets_keycreate_before_the_keyring_and_exec_label():
    p = selinux_plan(labelled_spec(selinuxLabel=LABEL))
    key, exe = lsm_ops(p)
    assert (key.s1, key.s3, key.n1) == ("/proc/thread-self/attr/keycreate", LABEL, 1)
    assert (exe.s1, exe.s2, exe.s3, exe.n1) == ("/proc/thread-self/attr/exec", None, LABEL, 0)
    k = kinds(p)
    assert k.index("lsm_label") + 1 == k.index("keyring")


def test_no_new_keyring_has_no_keycreate_label():
    p = selinux_plan(labelled_spec(selinuxLabel=LABEL), no_new_keyring=True)
    assert [op.s1 for op in lsm_ops(p)] == ["/proc/thread-self/attr/exec"]
    assert "keyring" not in kinds(p)


@pytest.mark.parametrize("nnp", [False, True])
@pytest.mark.parametrize("seccomp", [False, True])
def test_exec_labels_come_after_no_new_privs_and_before_caps_user_and_seccomp(nnp, seccomp):
    """runc's init: the labels before the capability drop and the user switch, and before
    seccomp (a filter may forbid the write); they act at the final execve."""
    s = labelled_spec(apparmorProfile="p", selinuxLabel=LABEL, noNewPrivileges=nnp)
    p = selinux_plan(s, seccomp=(b"\0" * 8, 0) if seccomp else None)
    k = kinds(p)
    aa, se = [i for i, op in enumerate(p.ops) if op.kind == O.OP_LSM_LABEL and op.s1 != labels.SELINUX_KEYCREATE]
    assert p.ops[aa].s3 == "exec p" and p.ops[se].s3 == LABEL
    assert se == aa + 1
    if nnp:
        assert k.index("no_new_privs") < aa
    assert aa > k.index("umask")
    first_caps = k.index("caps")
    assert se < first_caps < k.index("user")
    if seccomp:
        assert se < k.index("seccomp")
    assert se < k.index("lookup_exec") < k.index("exec")


def test_exec_plan_labels():
    s = labelled_spec(apparmorProfile="p", selinuxLabel=LABEL)
    st = {"pid": 42, "rootfs": "/r"}
    p = build.build_exec(s["process"], st, build.Options("c1", "/b", console_socket=False, joining=True),
                         host(selinux=True))
    got = [(op.s1, op.s3) for op in lsm_ops(p)]
    assert got == [("/proc/thread-self/attr/keycreate", LABEL), ("/proc/thread-self/attr/apparmor/exec", "exec p"),
                   ("/proc/thread-self/attr/exec", LABEL)]
    k = kinds(p)
    assert k.index("lsm_label") + 1 == k.index("keyring")
    with pytest.raises(PyruncError, match="selinux is disabled"):
        build.build_exec(s["process"], st, build.Options("c1", "/b", console_socket=False, joining=True), host())


def _mounts_with_label(mounts, **linux):
    s = spec()
    s["mounts"] = mounts
    s["linux"]["mountLabel"] = MLABEL
    s["linux"].update(linux)
    return plan_for(s)


def _mount_data(p):
    return {op.s2: op.s4 for op in p.ops if op.kind == O.OP_MOUNT}


CTX = 'context="%s"' % MLABEL


def test_mount_label_goes_where_runc_puts_it():
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["newinstance", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue"},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
        {"destination": "/run", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind"]},
        {"destination": "/b2", "source": "/tmp", "options": ["bind", "ro"]},
        {"destination": "/ovl", "type": "overlay", "source": "overlay", "options": ["lowerdir=/a"]},
    ]
    data = _mounts_with_label(mounts)
    data = _mount_data(data)
    assert data["/proc"] is None and data["/sys"] is None and data["/dev/mqueue"] is None
    assert data["/data"] is None and data["/b2"] is None
    assert data["/dev"] == "mode=755," + CTX
    assert data["/dev/pts"] == "newinstance,gid=5," + CTX
    assert data["/dev/shm"] == "size=65536k," + CTX
    assert data["/run"] == CTX
    assert data["/ovl"] == "lowerdir=/a," + CTX


def test_mount_label_on_the_cgroup_v1_tmpfs_not_the_hierarchies():
    p = _mounts_with_label([{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"}])
    tmpfs = [op for op in p.ops if op.kind == O.OP_MOUNT and op.s3 == "tmpfs"]
    assert [op.s4 for op in tmpfs] == ["mode=755," + CTX]
    assert all(CTX not in (op.s4 or "") for op in p.ops if op.kind == O.OP_MOUNT and op.s3 != "tmpfs")


def test_mount_label_on_masked_directories():
    p = _mounts_with_label([], maskedPaths=["/proc/acpi", "/proc/kcore"])
    masks = [op.s4 for op in p.ops if op.kind == O.OP_MASK_PATH]
    assert masks == [CTX, CTX]   # the shim uses it only when the path is a directory
    p = plan_for(spec())
    assert {op.s4 for op in p.ops if op.kind == O.OP_MASK_PATH} == {None}


def test_without_mount_label_data_is_unchanged():
    assert labels.mount_data("mode=755", "tmpfs", False, None) == "mode=755"
    assert labels.mount_data("", "tmpfs", False, "") == ""
    assert labels.mount_data("", "tmpfs", False, "l") == 'context="l"'
    assert labels.mount_data("x", "tmpfs", True, "l") == "x"
    for t in ("proc", "sysfs", "mqueue", "cgroup", "cgroup2"):
        assert labels.mount_data("x", t, False, "l") == "x"


def test_mqueue_root_labelled_through_its_xattr_where_selinux_is_on():
    """runc's SetFileLabel on the mqueue mount (it takes no context=): only with SELinux,
    right after the mount."""
    s = spec()
    s["linux"]["mountLabel"] = MLABEL
    p = selinux_plan(s)
    k = kinds(p)
    i = next(i for i, op in enumerate(p.ops) if op.kind == O.OP_MOUNT and op.s3 == "mqueue")
    op = p.ops[i + 1]
    assert (op.kind, op.n1, op.s1, op.s3) == (O.OP_LSM_LABEL, O.LSM_LABEL_FILE, "/dev/mqueue", MLABEL)
    assert p.ops[i].s4 is None
    assert k.count("lsm_label") == 1
    assert lsm_ops(plan_for(s)) == []          # no SELinux: nothing to label
    del s["linux"]["mountLabel"]
    assert lsm_ops(selinux_plan(s)) == []      # no mount label
