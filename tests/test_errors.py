"""pyrunc.errors: the lazily made error classes."""


def test_lazy_error_classes_are_made_once_under_threads():
    """The first use of the lazy classes from many threads at once gives every thread
    the same class (a second set would make `except api.StateError` miss)."""
    import subprocess
    import sys

    code = r"""
import sys, threading
sys.setswitchinterval(1e-6)
from pyrunc import errors
barrier = threading.Barrier(16)
seen = []
def first_use(name):
    barrier.wait()
    seen.append(getattr(errors, name))
names = ["StateError", "ConfigError", "ContainerExists", "CgroupError"] * 4
threads = [threading.Thread(target=first_use, args=(n,)) for n in names]
for t in threads: t.start()
for t in threads: t.join()
import pyrunc
bad = [c for c in seen if getattr(errors, c.__name__) is not c or getattr(pyrunc, c.__name__) is not c]
print("distinct" if bad else "same", len(seen))
"""
    for _ in range(5):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert r.stdout.split() == ["same", "16"], r.stdout + r.stderr
