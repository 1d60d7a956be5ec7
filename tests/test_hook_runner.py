"""runtime/hooks.py: the runner for the hooks that run in the runtime's namespaces
(no root needed: the hooks here are host programs)."""
import os

import pytest

from pyrunc import errors, hooks

STATE = '{"ociVersion":"1.0.2","id":"x","status":"creating","pid":1,"bundle":"/b"}'


@pytest.mark.parametrize("timeout", [1, hooks.POLL_MAX_S, hooks.POLL_MAX_S + 1, 2147484, 2**63 - 1])
def test_any_valid_timeout_is_waited_for(timeout):
    # poll(2) takes an int of milliseconds: beyond it the timeout means no limit
    hooks.run_one("createRuntime", 0, {"path": "/bin/true", "timeout": timeout}, STATE)


def test_timeout_kills_the_hook():
    hook = {"path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1}
    with pytest.raises(errors.HookError, match="^error running hook #0: hook ran past specified timeout of 1.0s$"):
        hooks.run_one("prestart", 0, hook, STATE)


def test_state_on_stdin_and_exact_env(tmp_path):
    out = tmp_path / "out"
    hook = {"path": "/bin/sh", "args": ["sh", "-c", 'cat > "$1"; env >> "$1"', "sh", str(out)], "env": ["A=b"]}
    hooks.run_one("poststart", 0, hook, STATE)
    # dash adds PWD itself; nothing of the runtime's env (PATH, HOME, ...) gets through
    assert sorted(out.read_text()[len(STATE):].splitlines()) == ["A=b", "PWD=" + os.getcwd()]
    assert out.read_text().startswith(STATE)


def test_failure_names_the_hook_and_its_status():
    hook = {"path": "/bin/sh", "args": ["sh", "-c", "echo out; echo err >&2; exit 3"]}
    with pytest.raises(errors.HookError) as e:
        hooks.run_one("createRuntime", 2, hook, STATE)
    # runc's wording, output as the hook wrote it (the log line escapes the newlines)
    assert str(e.value) == ("error running hook #2: error running hook: exit status 3, "
                            "stdout: out\n, stderr: err\n")


def test_poststop_failures_only_warn_and_the_next_hook_runs(tmp_path, monkeypatch):
    warned = []
    monkeypatch.setattr(hooks.log, "warning", warned.append)
    mark = tmp_path / "ran"
    hooks.run("poststop", {"poststop": [{"path": "/bin/false"}, {"path": "/bin/touch", "args": ["touch", str(mark)]}]},
              STATE, warn_only=True)
    assert warned == ["error running hook #0: error running hook: exit status 1, stdout: , stderr: "]
    assert mark.exists()
    with pytest.raises(errors.HookError):
        hooks.run("poststart", {"poststart": [{"path": "/bin/false"}]}, STATE)


@pytest.mark.parametrize("env,want", [
    (["A=1", "B=2", "A=3", "C=4"], ["B=2", "A=3", "C=4"]),
    (["A=1", "A=1"], ["A=1"]),
    (["NOEQ", "B=2", "NOEQ"], ["B=2", "NOEQ"]),
    (["A=", "A"], ["A=", "A"]),
    ([], []),
])
def test_exec_env_as_go(env, want):
    assert hooks.exec_env(env) == want


@pytest.mark.parametrize("sig,name", [(9, "killed"), (15, "terminated"), (2, "interrupt"), (11, "segmentation fault"),
                                      (31, "bad system call"), (34, "signal 34")])
def test_go_signal_names(sig, name):
    assert hooks.go_signal(sig) == name


def test_killed_hook_says_so_as_runc():
    hook = {"path": "/bin/sh", "args": ["sh", "-c", "kill -9 $$"]}
    with pytest.raises(errors.HookError, match="^error running hook #0: error running hook: signal: killed, "):
        hooks.run_one("createRuntime", 0, hook, STATE)


def test_missing_hook_as_runc():
    with pytest.raises(errors.HookError, match="^error running hook #1: fork/exec /no/such: no such file or directory$"):
        hooks.run_one("createRuntime", 1, {"path": "/no/such"}, STATE)


def test_cwd(tmp_path):
    out = tmp_path / "cwd"
    hooks.run_one("prestart", 0, {"path": "/bin/sh", "args": ["sh", "-c", 'pwd > "$1"', "sh", str(out)]}, STATE,
                  cwd=str(tmp_path))
    assert out.read_text() == str(tmp_path) + "\n"


def test_state_json_leaves_out_a_zero_pid():
    st = {"id": "x", "bundle": "/b", "pid": 7, "annotations": {"b": "2", "a": "1"}}
    assert hooks.state_json(st, "stopped", pid=0) == \
        '{"ociVersion":"%s","id":"x","status":"stopped","bundle":"/b","annotations":{"a":"1","b":"2"}}' % hooks.OCI_VERSION
    assert '"pid":7' in hooks.state_json(st, "running")
