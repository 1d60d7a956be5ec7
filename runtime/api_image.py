"""The image commands (`pyrunc image unpack/commit/release/mount/ls/history/gc`) as
functions of the Python API, exported from pyrunc (pyrunc.unpack, ...)."""
from __future__ import annotations

import posix

TYPE_CHECKING = False
if TYPE_CHECKING:  # names for annotations only
    import os
    from typing import Union

    PathLike = Union[str, "os.PathLike[str]"]


def unpack(ref: str, bundle: PathLike, store: PathLike | None = None, terminal: bool = True) -> int:
    """Unpack image `ref` ("LAYOUT:TAG") into a new bundle: config.json from the image's
    config, the rootfs an overlayfs of the store's layers. Returns how many layers
    were extracted (0 when the store had them all)."""
    from pyrunc.image import bundle as bundlemod

    return bundlemod.unpack(ref, posix.fspath(bundle), posix.fspath(store) if store else None, terminal=terminal)


def commit(bundle: PathLike, ref: str, message: str = "", author: str = "", pause: bool = False,
           root: PathLike | None = None) -> str:
    """The bundle's changes (its overlay's upper) as a new layer of a new image `ref`
    ("LAYOUT:NEWTAG"); `pause` freezes the bundle's containers under `root` meanwhile.
    Returns the new manifest's digest."""
    from pyrunc import DEFAULT_ROOT
    from pyrunc.image import commit as commitmod

    return commitmod.commit(posix.fspath(root) if root else DEFAULT_ROOT, posix.fspath(bundle), ref,
                            message=message, author=author, pause=pause)


def release(bundle: PathLike, purge: bool = False, root: PathLike | None = None) -> None:
    """Unmount an unpacked bundle's rootfs; `purge` also drops its changes and claims."""
    from pyrunc import DEFAULT_ROOT
    from pyrunc.image import bundle as bundlemod

    bundlemod.release(posix.fspath(bundle), posix.fspath(root) if root else DEFAULT_ROOT, purge=purge)


def mount(bundle: PathLike) -> None:
    """Mount an unpacked bundle's rootfs again (after a reboot or release)."""
    from pyrunc.image import bundle as bundlemod

    bundlemod.mount_again(posix.fspath(bundle))


def ls(layout: PathLike) -> list[dict]:
    """The images of an OCI layout, as `pyrunc image ls --format json` lists them."""
    from pyrunc import jsonio
    from pyrunc.image import show

    return jsonio.loads(show.ls(posix.fspath(layout), "json")) or []


def history(ref: str) -> list[dict]:
    """The history of image `ref`, as `pyrunc image history --format json` lists it."""
    from pyrunc import jsonio
    from pyrunc.image import show

    return jsonio.loads(show.history(ref, "json")) or []


def gc(store: PathLike | None = None) -> list[tuple[str, int]]:
    """Remove the store's layers no bundle uses: [(diff_id, bytes freed), ...]."""
    from pyrunc.image import store as storemod

    return list(storemod.Store(posix.fspath(store) if store else None, create=False).gc())
