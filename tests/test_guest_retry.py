"""integration/guest/boot.py boots a guest that stalled for its whole timeout once more,
and keeps every stalled console in a file (STALLS, listed at the end of a run by
integration/conftest.py). No qemu here: the one boot is replaced."""
import importlib.util
import os

import pytest

BOOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration", "guest", "boot.py")


@pytest.fixture
def boot(monkeypatch):
    spec = importlib.util.spec_from_file_location("_pyrunc_guest_boot", BOOT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    made = []
    real = mod._keep_stall

    def keep(*a):
        path, tail = real(*a)
        made.append(path)
        return path, tail
    monkeypatch.setattr(mod, "_keep_stall", keep)
    yield mod
    for p in made:
        os.unlink(p)


def scripted(outcomes):
    calls = []

    def once(argv, *rest):
        calls.append(argv)
        o = outcomes[len(calls) - 1]
        if isinstance(o, Exception):
            raise o
        return o
    return once, calls


def test_a_stall_is_booted_again_and_its_console_kept(boot, monkeypatch, capsys):
    stall = boot.GuestTimeout("guest did not finish within 5s", "boot line\n[ 3.2] last words\n")
    once, calls = scripted([stall, "result"])
    monkeypatch.setattr(boot, "_boot_once", once)
    assert boot.boot(["true"], timeout=5) == "result"
    assert len(calls) == 2
    (path, argv, tail), = boot.STALLS
    assert argv == "true" and tail.endswith("[ 3.2] last words")
    with open(path) as f:
        assert "[ 3.2] last words" in f.read()
    assert path in capsys.readouterr().err


def test_two_stalls_raise_and_a_failure_is_never_retried(boot, monkeypatch):
    once, calls = scripted([boot.GuestTimeout("t1", "a"), boot.GuestTimeout("t2", "b")])
    monkeypatch.setattr(boot, "_boot_once", once)
    with pytest.raises(boot.GuestTimeout, match="t2"):
        boot.boot(["true"], timeout=5)
    assert len(calls) == 2 and len(boot.STALLS) == 2
    once, calls = scripted([boot.GuestError("qemu exited 1", "c"), "never"])
    monkeypatch.setattr(boot, "_boot_once", once)
    with pytest.raises(boot.GuestError, match="qemu exited 1"):
        boot.boot(["true"], timeout=5)
    assert len(calls) == 1


def test_a_long_soft_lockup_is_a_stall(boot):
    """A console that reports a vCPU stuck for LOCKUP_GIVE_UP seconds or more ends the
    boot as a stall (retried), not after the whole timeout; shorter reports do not."""
    console = (b"[   60.55] watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [conmon:208]\n"
               b"[   80.45] watchdog: BUG: soft lockup - CPU#0 stuck for 44s! [podman:202]\n")
    assert boot.lockup_seconds(console) == 44 < boot.LOCKUP_GIVE_UP
    assert boot.lockup_seconds(console + b"[ 116.5] watchdog: BUG: soft lockup - CPU#1 stuck for 78s! [x:1]\n") == 78
    assert boot.lockup_seconds(b"GUEST-BEGIN\nok\n") == 0
