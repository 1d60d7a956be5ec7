"""The API's value types: State (what `pyrunc state` prints) and Spec (a config.json
being built). Apart from pyrunc.api because they are dataclasses: the dataclasses and
typing imports are paid by programs that ask for them, never by a command."""
from __future__ import annotations

import dataclasses
from typing import Any

from pyrunc import errors


@dataclasses.dataclass(frozen=True)
class State:
    """A container's state, runc's fields (`pyrunc state`): `status` is one of creating,
    created, running, paused, stopped; `pid` is 0 once stopped."""

    ociVersion: str
    id: str
    pid: int
    status: str
    bundle: str
    rootfs: str
    created: str
    owner: str = ""
    annotations: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> State:
        """From the state JSON's fields (unknown ones are ignored)."""
        return cls(ociVersion=d.get("ociVersion", ""), id=d.get("id", ""), pid=d.get("pid", 0),
                   status=d.get("status", ""), bundle=d.get("bundle", ""), rootfs=d.get("rootfs", ""),
                   created=d.get("created", ""), owner=d.get("owner", ""),
                   annotations=dict(d.get("annotations") or {}))

    def to_dict(self) -> dict[str, Any]:
        """The state JSON as runc prints it (no annotations key when there are none)."""
        out = dataclasses.asdict(self)
        if not out["annotations"]:
            del out["annotations"]
        return out


class Spec:
    """A runtime-spec config.json as a dict (`config`), with helpers to build one and the
    runtime's own loader to check it: what validate() and write() accept, create runs.

        spec = Spec.default(args=["echo", "hi"], terminal=False)
        spec.write(bundle)            # <bundle>/config.json; rootfs is "rootfs" in it
    """

    __slots__ = ("config",)

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    @classmethod
    def default(cls, args: list[str] | None = None, *, terminal: bool | None = None) -> Spec:
        """runc's `spec` starter config (the same as `pyrunc spec`)."""
        from pyrunc.spec import default

        spec = cls(default.spec(cgroupns=default.unified_host()))
        if args is not None:
            spec.args = args
        if terminal is not None:
            spec.terminal = terminal
        return spec

    @classmethod
    def rootless(cls, args: list[str] | None = None, *, terminal: bool | None = None) -> Spec:
        """`pyrunc spec --rootless`: the caller's uid and gid mapped to root in a user
        namespace, no network namespace, /sys bound from the host."""
        from pyrunc.spec import default

        spec = cls(default.spec(rootless=True, cgroupns=default.unified_host()))
        if args is not None:
            spec.args = args
        if terminal is not None:
            spec.terminal = terminal
        return spec

    @classmethod
    def load(cls, bundle: str) -> Spec:
        """<bundle>/config.json, read and checked as create reads it."""
        import os

        from pyrunc.spec import load

        return cls(load.load_bundle(os.fspath(bundle)))

    def validate(self) -> Spec:
        """Check the config with create's loader; ConfigError names the field. Returns self."""
        from pyrunc import jsonio
        from pyrunc.spec import load

        doc = jsonio.loads(jsonio.dumps(self.config))  # the loader may normalise: check a copy
        if not isinstance(doc, dict):
            raise errors.ConfigError("", "expected object, got " + type(doc).__name__)
        load.check(doc)
        return self

    def to_json(self) -> str:
        """The config as `pyrunc spec` writes it (tab-indented)."""
        from pyrunc import jsonio

        return jsonio.dumps_indent(self.config, "\t")

    def write(self, bundle: str) -> str:
        """Validate, then write <bundle>/config.json (replacing one); returns its path."""
        import os

        from pyrunc.state import store

        self.validate()
        path = os.fspath(bundle).rstrip("/") + "/config.json"
        store.write_atomic(path, self.to_json().encode(), mode=0o644)
        return path

    def _process(self) -> dict[str, Any]:
        return self.config.setdefault("process", {})

    @property
    def args(self) -> list[str]:
        """process.args: the command the container runs."""
        return self._process().get("args") or []

    @args.setter
    def args(self, value: list[str]) -> None:
        if isinstance(value, str):
            raise TypeError("args: a list of strings, not a string")
        self._process()["args"] = list(value)

    @property
    def env(self) -> list[str]:
        """process.env: "NAME=value" strings."""
        return self._process().setdefault("env", [])

    @env.setter
    def env(self, value: list[str]) -> None:
        self._process()["env"] = list(value)

    @property
    def terminal(self) -> bool:
        """process.terminal: a pty (then create needs a console socket)."""
        return bool(self._process().get("terminal"))

    @terminal.setter
    def terminal(self, value: bool) -> None:
        self._process()["terminal"] = bool(value)

    @property
    def cwd(self) -> str:
        """process.cwd, absolute."""
        return self._process().get("cwd", "/")

    @cwd.setter
    def cwd(self, value: str) -> None:
        self._process()["cwd"] = value

    @property
    def rootfs(self) -> str:
        """root.path: relative to the bundle, or absolute."""
        return (self.config.get("root") or {}).get("path", "")

    @rootfs.setter
    def rootfs(self, value: str) -> None:
        self.config.setdefault("root", {})["path"] = value

    @property
    def readonly(self) -> bool:
        """root.readonly."""
        return bool((self.config.get("root") or {}).get("readonly"))

    @readonly.setter
    def readonly(self, value: bool) -> None:
        self.config.setdefault("root", {})["readonly"] = bool(value)

    @property
    def hostname(self) -> str:
        """hostname (in the container's UTS namespace)."""
        return self.config.get("hostname", "")

    @hostname.setter
    def hostname(self, value: str) -> None:
        self.config["hostname"] = value

    @property
    def resources(self) -> dict[str, Any]:
        """linux.resources (LinuxResources: memory, cpu, pids, ...), made when absent."""
        return self.config.setdefault("linux", {}).setdefault("resources", {})

    def __repr__(self) -> str:
        return "Spec(args=%r, rootfs=%r)" % (self.args, self.rootfs)
