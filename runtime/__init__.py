"""pyrunc: a runc-compatible OCI runtime. Python plans; the C shim in pyrunc._shim executes.

This module is imported by every command, so it holds constants only; the Python API
(pyrunc.Runtime, Container, State, Spec, the image functions and the errors) is
imported from pyrunc.api on first use of one of its names.
"""
__version__ = "0.1.0"
# The runtime-spec version this build implements (printed by `state`, `spec`, `--version`).
OCI_VERSION = "1.2.0"
DEFAULT_ROOT = "/run/pyrunc"

_API = {"Runtime": "api", "Container": "api", "Process": "api", "unpack": "api_image", "commit": "api_image",
        "release": "api_image", "mount": "api_image", "ls": "api_image", "history": "api_image", "gc": "api_image",
        "State": "api_types", "Spec": "api_types",
        "PyruncError": "errors", "UsageError": "errors", "ConfigError": "errors", "ContainerExists": "errors",
        "ContainerNotFound": "errors", "InvalidIDError": "errors", "StateError": "errors",
        "SyscallError": "errors", "ChildSetupError": "errors", "CgroupError": "errors", "HookError": "errors"}
__all__ = sorted(_API) + ["DEFAULT_ROOT", "OCI_VERSION", "__version__"]


# PYRUNC_PHASES=FILE (bench/run.py's per-phase breakdown): the launcher then sets
# _phases to [(name, CLOCK_MONOTONIC ns)], phase() adds a mark, and exit_now appends
# them to FILE as one line. Unset, a mark is one call that tests None.
_phases = None
_clock = None


def phase(name):
    if _phases is not None:
        _phases.append((name, _clock()))


def __getattr__(name):
    """The API's names, imported when first asked for (PEP 562): `import pyrunc` stays cheap."""
    mod = _API.get(name)
    if mod is None:
        raise AttributeError("module 'pyrunc' has no attribute %r" % name)
    value = getattr(__import__("pyrunc." + mod, fromlist=(name,)), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
