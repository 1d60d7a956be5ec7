"""PYRUNC_PHASES=FILE (bench/run.py's per-phase breakdown): the command appends one line
`pid name ns name ns ...` to FILE, its marks in the order the phases end, on the clock
the bench reads (CLOCK_MONOTONIC); without the variable nothing is written.

No root: `list` of an empty root and `state` of a container that does not exist (its
error path writes the marks too)."""
import os
import subprocess
import time

LAUNCHER = os.environ.get("PYRUNC", "/opt/pyrunc/bin/pyrunc")


def marks(line):
    fields = line.split()
    pid, out, i = int(fields[0]), [], 1
    while i < len(fields):
        j = i
        while not fields[j].isdigit():
            j += 1
        out.append((" ".join(fields[i:j]), int(fields[j])))
        i = j + 1
    return pid, out


def run(tmp_path, *argv, phases=True):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if phases:
        env["PYRUNC_PHASES"] = str(tmp_path / "phases")
    return subprocess.run([LAUNCHER, "--root", str(tmp_path / "root"), *argv], capture_output=True, text=True,
                          timeout=60, env=env, stdin=subprocess.DEVNULL)


def test_list_records_its_phases_in_order(tmp_path):
    before = time.monotonic_ns()
    p = run(tmp_path, "list")
    after = time.monotonic_ns()
    assert p.returncode == 0, p.stderr
    lines = (tmp_path / "phases").read_text().splitlines()
    assert len(lines) == 1
    pid, m = marks(lines[0])
    assert pid > 0
    assert [n for n, _ in m] == ["launcher", "imports", "args", "states", "output, exit"]
    stamps = [t for _, t in m]
    assert stamps == sorted(stamps)
    assert before < stamps[0] and stamps[-1] < after   # the caller's clock


def test_an_error_path_records_too_and_lines_append(tmp_path):
    assert run(tmp_path, "state", "nosuch").returncode == 1
    assert run(tmp_path, "list").returncode == 0
    lines = (tmp_path / "phases").read_text().splitlines()
    assert [marks(line)[1][-1][0] for line in lines] == ["output, exit", "output, exit"]
    assert [n for n, _ in marks(lines[0])[1]][:3] == ["launcher", "imports", "args"]


def test_off_without_the_variable(tmp_path):
    assert run(tmp_path, "list", phases=False).returncode == 0
    assert not (tmp_path / "phases").exists()
    assert sorted(os.listdir(tmp_path)) == ["root"] or sorted(os.listdir(tmp_path)) == []
