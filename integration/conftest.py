"""Fixtures for the integration tests: real containers, as root, checked for leaks.

Nothing here skips: without root, or without the pyrunc command, the tests
that need them fail with a message saying so.
"""
import functools
import os
from pathlib import Path

import pytest

import harness

INTEGRATION_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter):
    """The qemu guest boots that stalled (integration/guest/boot.py boots such a guest
    once more): where each one's console stopped, also when the second boot passed."""
    import sys

    boot = sys.modules.get("boot")
    for path, argv, tail in getattr(boot, "STALLS", ()):
        terminalreporter.write_line("guest boot stalled: %s\n  console: %s\n  its last lines:\n%s"
                                    % (argv, path, tail))


@pytest.fixture(scope="session", autouse=True)
def _root_and_subreaper():
    if os.geteuid() != 0:
        pytest.fail("integration tests need root: run them as root (they are never skipped)",
                    pytrace=False)
    harness.become_subreaper()
    yield
    harness.reap()


@pytest.fixture(scope="session")
def probe():
    """Path of the compiled static probe (built once per probe.c version)."""
    return harness.build_probe()


@pytest.fixture
def bundle(tmp_path, probe):
    """A fresh default bundle: runc's spec, `/probe report`, no terminal, read-only root."""
    return harness.make_bundle(tmp_path / "bundle")


@pytest.fixture
def bundle_factory(tmp_path, probe):
    """make_bundle with the arguments bound: each call makes a new bundle under tmp_path."""
    counter = iter(range(1_000_000))

    def make(dirpath=None, args=None, **edits):
        return harness.make_bundle(dirpath or tmp_path / f"bundle-{next(counter)}", args, **edits)
    return make


@pytest.fixture
def runc(tmp_path):
    return harness.Runtime("runc", tmp_path)


@pytest.fixture
def pyrunc(tmp_path):
    """pyrunc from $PYRUNC or /opt/pyrunc/bin/pyrunc; calls fail (not skip) if it is missing."""
    return harness.Runtime("pyrunc", tmp_path)


@pytest.fixture(params=["runc", "pyrunc"])
def runtime(request, tmp_path):
    return harness.Runtime(request.param, tmp_path)


@pytest.fixture
def compare(tmp_path, runc, pyrunc):
    """side_by_side bound to this test's runtimes: compare(bundle_factory, *extra, input=...)."""
    return functools.partial(harness.side_by_side, workdir=tmp_path / "sbs", runc=runc, pyrunc=pyrunc)


@pytest.fixture(autouse=True)
def no_leaks(tmp_path):
    """Fail the test if it left mounts, cgroups, state dirs or processes; clean them up either way."""
    harness.reap()
    harness.Runtime.registry.clear()
    harness.TEST_IDS.clear()
    before = harness.snapshot(tmp_path)
    yield
    runtimes = list(harness.Runtime.registry)
    harness.Runtime.registry.clear()
    roots = [rt.root for rt in runtimes]
    harness.reap()                          # exited detached containers are ours to collect
    leaked = harness.leaks(before, harness.snapshot(tmp_path, roots))
    if not any(leaked):
        return
    for rt in runtimes:
        rt.delete_all()
    harness.kill_procs(harness.leaks(before, harness.snapshot(tmp_path, roots)).procs)
    harness.remove_cgroups(harness.leaks(before, harness.snapshot(tmp_path, roots)).cgroups)
    remaining = harness.leaks(before, harness.snapshot(tmp_path, roots))
    message = "the test left behind:\n" + harness.describe(leaked)
    if any(remaining):
        message += "\nand cleanup could not remove:\n" + harness.describe(remaining)
    pytest.fail(message, pytrace=False)
