"""Test-only fault points: with PYRUNC_TEST_FAULT=<name> in the environment, pyrunc
SIGKILLs itself when it reaches that point, so that tests can prove a command killed
anywhere leaves nothing that `delete --force` cannot clean. Without the variable this
is one dictionary lookup."""
import posix

_WANTED = posix.environ.get(b"PYRUNC_TEST_FAULT")


def point(name):
    if _WANTED is not None and _WANTED.decode() == name:
        posix.kill(posix.getpid(), 9)
