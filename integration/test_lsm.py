"""AppArmor and SELinux labels on this host, next to runc (Debian's 1.1.5).

Whether the host runs AppArmor or SELinux is probed, never assumed; both runtimes run
the same bundle and must agree. runc's rules, which these tests show of runc too:

- process.apparmorProfile is never refused up front: the init writes "exec PROFILE" to
  its AppArmor exec attribute and the kernel refuses a profile that is not loaded
  (ENOENT), or any write when AppArmor is off (EINVAL). pyrunc writes the attribute
  of its thread (/proc/thread-self, as newer runc), runc 1.1.5 names /proc/self;
- process.selinuxLabel without SELinux is refused before anything runs;
- linux.mountLabel goes as context="..." on tmpfs, devpts and the other mounts by type,
  and on the tmpfs of masked directories, never on proc, sysfs, mqueue or binds; a
  kernel without SELinux refuses the option, so such a config fails only where it reaches
  a mount that takes it.

The labels applied for real (a denied write, /proc/self/attr/current, the mount
context) are checked in the qemu guest, which boots with each LSM:
integration/guest/test_guest_lsm.py.
"""
import pytest

import harness
from test_process import failed_create

from pyrunc import lsm

AA_PROFILE = "pyrt-not-loaded"
SE_LABEL = "system_u:system_r:container_t:s0"
MOUNT_LABEL = "system_u:object_r:container_file_t:s0"


def _after(msg, marker):
    assert marker in msg, msg
    return msg[msg.index(marker):]


def test_apparmor_profile_not_applicable_fails_create_like_runc(runc, pyrunc, bundle_factory):
    """No AppArmor, or the profile not loaded: create fails in the init's write of the
    exec attribute, with runc's words and the kernel's errno, and leaves nothing."""
    b = bundle_factory(process={"apparmorProfile": AA_PROFILE})
    want = _after(failed_create(runc, b), "unable to apply apparmor profile: ")
    got = _after(failed_create(pyrunc, b), "unable to apply apparmor profile: ")
    errno_text = "no such file or directory" if lsm.apparmor_enabled() else "invalid argument"
    assert want.endswith(": " + errno_text), want
    assert got == want.replace("/proc/self/", "/proc/thread-self/")


def test_selinux_label_like_runc(runc, pyrunc, bundle_factory):
    """Without SELinux both refuse the label before anything runs, with runc's line."""
    b = bundle_factory(process={"selinuxLabel": SE_LABEL})
    if lsm.selinux_enabled():
        sbs = harness.side_by_side(lambda d: harness.make_bundle(d, process={"selinuxLabel": SE_LABEL}),
                                   runc=runc, pyrunc=pyrunc)
        assert sbs.pyrunc.returncode == sbs.runc.returncode, sbs
        return
    want = "selinux label is specified in config, but selinux is disabled or not supported"
    assert failed_create(runc, b).endswith(": " + want)
    assert failed_create(pyrunc, b).endswith(": " + want)


def _no_label_taker(cfg):
    """Only mounts that never take the mount label: proc, sysfs, mqueue, a bind (and
    masked files, not directories)."""
    cfg["mounts"] = [m for m in cfg["mounts"] if m["type"] in ("proc", "sysfs", "mqueue")]
    cfg["mounts"].append({"destination": "/mnt", "type": "bind", "source": "/etc", "options": ["bind", "ro"]})
    cfg["linux"]["maskedPaths"] = ["/proc/kcore", "/proc/timer_list"]
    cfg["linux"]["mountLabel"] = MOUNT_LABEL
    cfg["process"]["args"] = ["/probe", "report", "mounts"]


def test_mount_label_not_put_on_mounts_that_cannot_take_it(compare):
    """proc, sysfs, mqueue and binds get no context=: with only those the container runs
    on any host, and sees the same mounts under both runtimes."""
    sbs = compare(lambda d: harness.make_bundle(d, edit=_no_label_taker))
    assert sbs.runc.returncode == 0, sbs.runc.stderr
    harness.assert_same(sbs)


@pytest.mark.parametrize("case", ["dev-tmpfs", "devpts", "masked-directory"])
def test_mount_label_on_the_mounts_that_take_it(runc, pyrunc, bundle_factory, case):
    """A tmpfs, a devpts, a masked directory's tmpfs get context=: without SELinux the
    kernel refuses it there, under both runtimes; with SELinux both run."""
    def edit(cfg):
        _no_label_taker(cfg)
        if case == "dev-tmpfs":
            cfg["mounts"].append({"destination": "/run", "type": "tmpfs", "source": "tmpfs",
                                  "options": ["nosuid", "mode=755"]})
        elif case == "devpts":
            cfg["mounts"].append({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                                  "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666"]})
        else:
            cfg["linux"]["maskedPaths"].append("/proc/acpi")
    b = bundle_factory(edit=edit)
    if lsm.selinux_enabled():
        sbs = harness.side_by_side(lambda d: harness.make_bundle(d, edit=edit), runc=runc, pyrunc=pyrunc)
        assert (sbs.runc.returncode, sbs.pyrunc.returncode) == (0, 0), sbs
        return
    ctx = 'context="%s"' % MOUNT_LABEL
    want, got = failed_create(runc, b), failed_create(pyrunc, b)
    assert ctx in want and want.endswith(": invalid argument"), want
    assert ctx in got and got.endswith(": invalid argument"), got
