"""pyrunc: a runc-compatible OCI runtime. Python plans; the C shim in pyrunc._shim executes.

This module is imported by every command, so it holds constants only.
"""
__version__ = "0.1.0"
# The runtime-spec version this build implements (printed by `state`, `spec`, `--version`).
OCI_VERSION = "1.2.0"
DEFAULT_ROOT = "/run/pyrunc"
