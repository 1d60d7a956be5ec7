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
    with pytest.raises(errors.HookError, match="ran past its timeout of 1s"):
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
    assert str(e.value) == ("error running createRuntime hook #2: /bin/sh: exit status 3, "
                            "stdout: out, stderr: err")


def test_poststop_failures_only_warn_and_the_next_hook_runs(tmp_path, monkeypatch):
    warned = []
    monkeypatch.setattr(hooks.log, "warning", warned.append)
    mark = tmp_path / "ran"
    hooks.run("poststop", {"poststop": [{"path": "/bin/false"}, {"path": "/bin/touch", "args": ["touch", str(mark)]}]},
              STATE, warn_only=True)
    assert warned == ["error running poststop hook #0: /bin/false: exit status 1, stdout: , stderr: "]
    assert mark.exists()
    with pytest.raises(errors.HookError):
        hooks.run("poststart", {"poststart": [{"path": "/bin/false"}]}, STATE)
