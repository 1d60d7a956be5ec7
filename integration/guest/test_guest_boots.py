"""The cgroup v2 guest boots and offers what pyrunc's tests need.

One boot for the whole module: a shell script runs every check inside the guest
and prints each one's output between markers; the tests below read that report.
"""
import os
import re
import secrets
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import boot  # noqa: E402

WRITE_CHECK = boot.REPO / f".guest-write-check-{os.getpid()}-{secrets.token_hex(4)}"

CHECKS = {
    "fstype": "stat -f -c %T /sys/fs/cgroup",
    "mountinfo": "cat /proc/self/mountinfo",
    "controllers": "cat /sys/fs/cgroup/cgroup.controllers",
    "subtree_control": "cat /sys/fs/cgroup/cgroup.subtree_control",
    "python": "/usr/bin/python3 -c 'import sys; print(sys.version)'",
    "pyrunc_version": "/opt/pyrunc/bin/pyrunc --version",
    "write": f"echo guest-wrote-this > {WRITE_CHECK} && cat {WRITE_CHECK}",
    # a child cgroup with limits, and a process moved into it
    "cgroup_child": """
        g=/sys/fs/cgroup/guest-check
        mkdir $g
        echo 67108864 > $g/memory.max
        echo 32 > $g/pids.max
        echo "50000 100000" > $g/cpu.max
        echo 0 > $g/cpuset.cpus
        sh -c "echo \\$\\$ > $g/cgroup.procs; cat /proc/self/cgroup"
        cat $g/memory.max $g/pids.max $g/cpu.max $g/cpuset.cpus.effective
        rmdir $g
    """,
    # every namespace a container gets, and a fresh /proc in the new pid namespace
    "namespaces": """
        unshare --pid --fork --mount-proc --mount --uts --ipc --net --cgroup --time \\
            sh -c 'hostname ns-test; echo "pid=$$ host=$(hostname)"; cat /proc/self/cgroup; ls /proc | grep -c "^[0-9]"'
    """,
    # the filesystems a runtime mounts into a container's root
    "mounts": """
        unshare --mount --propagation private sh -ec '
            d=$(mktemp -d)
            mkdir $d/lower $d/upper $d/work $d/merged
            echo from-lower > $d/lower/f
            mount -t overlay -o lowerdir=$d/lower,upperdir=$d/upper,workdir=$d/work overlay $d/merged
            cat $d/merged/f
            mkdir $d/merged/proc $d/merged/sys $d/merged/dev $d/merged/run
            mount -t tmpfs -o mode=755 tmpfs $d/merged/dev
            mkdir $d/merged/dev/pts $d/merged/dev/mqueue
            mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts $d/merged/dev/pts
            mount -t mqueue mqueue $d/merged/dev/mqueue
            mount -t proc proc $d/merged/proc
            mount -t sysfs -o ro sysfs $d/merged/sys
            mount -t tmpfs tmpfs $d/merged/run
            mount --bind -o ro $d/lower $d/merged/run
            findmnt -n -o FSTYPE -R $d/merged | sort -u | tr "\\n" " "; echo
        '
    """,
    "seccomp": "cat /proc/sys/kernel/seccomp/actions_avail && grep '^Seccomp:' /proc/self/status",
    "static_from_tmp": "cp /bin/busybox /tmp/busybox && /tmp/busybox echo static-busybox-ran",
    # a real container through pyrunc: busybox bundle under /tmp, cgroup v2 host
    "container": """
        set -e
        mkdir -p /tmp/bundle/rootfs/bin && cd /tmp/bundle
        cp /bin/busybox rootfs/bin/busybox
        pyrunc spec
        /usr/bin/python3 -c '
import json
c = json.load(open("config.json"))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/busybox", "sh", "-c",
    "echo in-container pid=$$; /bin/busybox cat /proc/self/cgroup"]
json.dump(c, open("config.json", "w"))
print("namespaces=" + ",".join(sorted(n["type"] for n in c["linux"]["namespaces"])))'
        timeout 120 pyrunc run guest-ctr
    """,
}


def check_script():
    parts = ["exec 2>&1"]
    for name, cmd in CHECKS.items():
        parts.append(f'echo "### begin {name}"\n( {cmd}\n)\necho "### end {name} $?"')
    return "\n".join(parts) + "\n"


def parse_report(output):
    found = {}
    for m in re.finditer(r"^### begin (\w+)\n(.*?)### end \1 (\d+)$", output, re.M | re.S):
        found[m.group(1)] = (int(m.group(3)), m.group(2))
    return found


@pytest.fixture(scope="module")
def guest():
    assert not WRITE_CHECK.exists()
    try:
        result = boot.boot(["sh", "-c", check_script()], timeout=900)
    except boot.GuestError as e:
        pytest.fail(f"{e}\n--- console (tail) ---\n{e.output[-6000:]}", pytrace=False)
    report = parse_report(result.output)
    print(f"\nguest: boot + checks took {result.seconds:.1f}s")
    return result, report


def section(guest, name, ok=True):
    result, report = guest
    assert name in report, f"no report for {name!r}; guest output:\n{result.output}"
    rc, text = report[name]
    if ok:
        assert rc == 0, f"{name} exited {rc}:\n{text}"
    return text


def test_guest_command_exits_zero(guest):
    result, report = guest
    assert result.exit_code == 0, result.output
    assert set(report) == set(CHECKS), result.output


def test_cgroup2_is_the_only_cgroup_mount(guest):
    assert section(guest, "fstype").strip() == "cgroup2fs"
    mounts = []
    for line in section(guest, "mountinfo").splitlines():
        fields = line.split()
        sep = fields.index("-")
        mounts.append((fields[4], fields[sep + 1]))
    assert ("/sys/fs/cgroup", "cgroup2") in mounts
    assert [m for m in mounts if m[1] == "cgroup"] == []          # no v1 hierarchy
    assert [m for m in mounts if m[1] == "cgroup2"] == [("/sys/fs/cgroup", "cgroup2")]


def test_controllers_available_and_enabled(guest):
    controllers = section(guest, "controllers").split()
    assert {"cpuset", "cpu", "io", "memory", "pids"} <= set(controllers)
    assert set(section(guest, "subtree_control").split()) == set(controllers)


def test_child_cgroup_takes_limits_and_processes(guest):
    lines = section(guest, "cgroup_child").split()
    assert lines == ["0::/guest-check", "67108864", "32", "50000", "100000", "0"]


def test_host_python_runs(guest):
    assert re.match(r"3\.\d+\.\d+ ", section(guest, "python"))


def test_pyrunc_version_runs(guest):
    assert "pyrunc" in section(guest, "pyrunc_version").lower()


def test_guest_writes_stay_in_the_guest(guest):
    assert section(guest, "write").strip() == "guest-wrote-this"
    assert not WRITE_CHECK.exists(), f"the guest's write reached the host: {WRITE_CHECK}"


def test_namespaces(guest):
    lines = section(guest, "namespaces").split("\n")
    assert lines[0] == "pid=1 host=ns-test"
    assert lines[1] == "0::/"
    assert int(lines[2]) <= 3              # only the sh, its command substitution and ls


def test_container_filesystems_mount(guest):
    text = section(guest, "mounts")
    assert text.startswith("from-lower\n")
    fstypes = set(text.split()[1:])
    assert {"overlay", "tmpfs", "devpts", "mqueue", "proc", "sysfs"} <= fstypes, text


def test_seccomp_filters_available(guest):
    text = section(guest, "seccomp")
    assert {"kill_process", "errno", "trace", "allow"} <= set(text.split()), text
    assert re.search(r"^Seccomp:\s+0$", text, re.M)


def test_static_binary_runs_from_tmp(guest):
    assert section(guest, "static_from_tmp").strip() == "static-busybox-ran"


def test_pyrunc_runs_a_container(guest):
    text = section(guest, "container")
    assert "in-container pid=1" in text
    # `spec` on a cgroup v2 host adds a cgroup namespace, as runc's does: the container
    # sees its own cgroup as the root
    assert re.search(r"^namespaces=\S*\bcgroup\b", text, re.M), text
    assert re.search(r"^0::/$", text, re.M), text


def test_hybrid_layout_has_v1_controllers_and_an_empty_cgroup2():
    """cgroups="hybrid": each v1 controller on its own hierarchy, an empty cgroup2 at
    unified, as on this test host; a cgroup made in memory takes a limit."""
    script = """
        set -e
        stat -f -c %T /sys/fs/cgroup
        stat -f -c %T /sys/fs/cgroup/unified
        echo "controllers=[$(cat /sys/fs/cgroup/unified/cgroup.controllers)]"
        mkdir /sys/fs/cgroup/memory/hybrid-check
        echo 67108864 > /sys/fs/cgroup/memory/hybrid-check/memory.limit_in_bytes
        echo "limit=$(cat /sys/fs/cgroup/memory/hybrid-check/memory.limit_in_bytes)"
        rmdir /sys/fs/cgroup/memory/hybrid-check
        awk '$9 == "cgroup" { print "v1 " $5 }' /proc/self/mountinfo
    """
    r = boot.boot(["sh", "-c", script], timeout=300, cgroups="hybrid")
    assert r.exit_code == 0, r.output
    lines = r.output.split()
    assert lines[:2] == ["tmpfs", "cgroup2fs"], r.output
    assert "controllers=[]" in r.output and "limit=67108864" in r.output, r.output
    v1 = {line.split()[1] for line in r.output.splitlines() if line.startswith("v1 ")}
    assert {"/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/pids",
            "/sys/fs/cgroup/devices", "/sys/fs/cgroup/freezer"} <= v1, r.output


def test_bad_cgroups_layout_is_refused_before_booting():
    with pytest.raises(ValueError, match="cgroups must be one of"):
        boot.boot(["true"], cgroups="v1-only")
