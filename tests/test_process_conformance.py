"""Pure logic behind issue 12's process/exec/CLI items: the plan's ops for a pty the
runtime proxies, socket activation, exec's personality, NOTIFY with startContainer hooks;
--log opened up front; OS errors as one Go-style line; --version's layout."""
import errno
import re

import pytest

from pyrunc import errors, log
from pyrunc.cli import commands, main
from pyrunc.plan import build
from pyrunc.plan import ops as O
from test_plan import host, kinds, plan_for, spec

NOTIFY_PROGRAM = (b"\0" * 8, build.SECCOMP_FILTER_FLAG_NEW_LISTENER)


def _console(p):
    return [op for op in p.ops if op.kind == O.OP_CONSOLE][0]


@pytest.mark.parametrize("console,flag", [("auto", 1), (True, 0)])
def test_onlcr_cleared_only_where_the_runtime_proxies_the_pty(console, flag):
    s = spec()
    s["process"]["terminal"] = True
    assert _console(plan_for(s, console_socket=console)).u1 == flag


def test_listen_pid_op_points_at_its_env_entry():
    p = plan_for(spec(), listen_fds=2)
    op = [op for op in p.ops if op.kind == O.OP_LISTEN_PID]
    assert len(op) == 1 and p.env[op[0].n1] == "LISTEN_PID=1" and "LISTEN_FDS=2" in p.env
    assert kinds(p)[-1] == "exec"


def test_listen_pid_from_the_config_is_kept():
    s = spec()
    s["process"]["env"] = s["process"]["env"] + ["LISTEN_PID=77"]
    p = plan_for(s, listen_fds=1)
    assert "listen_pid" not in kinds(p) and "LISTEN_PID=77" in p.env and "LISTEN_FDS=1" in p.env


def test_no_listen_fds_no_listen_env():
    p = plan_for(spec())
    assert "listen_pid" not in kinds(p) and not any(e.startswith("LISTEN_") for e in p.env)


def _exec_plan(linux):
    proc = dict(spec()["process"])
    st = {"pid": 42, "rootfs": "/bundle/rootfs"}
    return build.build_exec(proc, st, build.Options("c1", "/bundle", joining=True, exec_fifo=False), host(),
                            linux)


def test_exec_gets_the_containers_personality():
    p = _exec_plan({"personality": {"domain": "LINUX32"}})
    (op,) = [op for op in p.ops if op.kind == O.OP_PERSONALITY]
    assert op.n1 == build.PER_LINUX32
    assert "personality" not in kinds(_exec_plan({}))


def _hooked(program):
    s = spec(hooks={"startContainer": [{"path": "/bin/true"}]})
    return kinds(plan_for(s, seccomp=program))


def test_notify_with_start_container_hook_loads_the_filter_first():
    k = _hooked(NOTIFY_PROGRAM)
    assert k.index("seccomp") < k.index("ready") < k.index("hook") < k.index("exec")


def test_start_container_hook_without_notify_runs_before_the_filter():
    k = _hooked((b"\0" * 8, 0))
    assert k.index("ready") < k.index("hook") < k.index("seccomp") < k.index("exec")


def test_log_that_cannot_be_opened(tmp_path, monkeypatch):
    monkeypatch.setattr(log, "target", None)
    monkeypatch.setattr(log, "_fd", -1)
    with pytest.raises(errors.PyruncError) as e:
        log.open_target(str(tmp_path / "no" / "such" / "log"))
    assert e.value.msg == "open %s/no/such/log: no such file or directory" % tmp_path
    assert log.target is None


def test_log_opened_once_and_appended(tmp_path, monkeypatch, capfd):
    path = tmp_path / "log"
    path.write_text("before\n")
    monkeypatch.setattr(log, "_fd", -1)
    monkeypatch.setattr(log, "target", None)
    log.open_target(str(path))
    try:
        log.error("one")
    finally:
        import posix

        posix.close(log._fd)
    assert path.read_text().splitlines()[0] == "before" and 'msg=one' in path.read_text()
    assert capfd.readouterr().err == "one\n"


@pytest.mark.parametrize("exc,text", [
    (PermissionError(errno.EACCES, "Permission denied", "/run/pyrunc"), "/run/pyrunc: permission denied"),
    (OSError(errno.EXDEV, "Invalid cross-device link", "/a", None, "/b"), "/a /b: invalid cross-device link"),
    (OSError(errno.EIO, "Input/output error"), "input/output error"),
])
def test_os_error_text(exc, text):
    assert main.os_error_text(exc) == text


def test_os_error_never_internal_error(monkeypatch, capfd):
    def boom(argv):
        raise PermissionError(errno.EACCES, "Permission denied", "/run/pyrunc/x")
    monkeypatch.setattr(main, "run", boom)
    monkeypatch.setattr(log, "target", None)
    assert main.main(["list"]) == 1
    err = capfd.readouterr().err
    assert "internal error" not in err and 'msg="/run/pyrunc/x: permission denied"' in err


def test_version_layout(capsys):
    assert commands.version() == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("pyrunc version ")
    assert [line.partition(": ")[0] for line in lines[1:4]] == ["commit", "spec", "python"]
    assert re.fullmatch(r"commit: ([0-9a-f]{40}|unknown)", lines[1])
    assert len(lines) == 4 or re.fullmatch(r"libseccomp: \d+\.\d+\.\d+", lines[4])
