"""Crash-safe file updates for training outputs: a reader sees the old file or the new one, never a part.

Every write goes to a hidden temporary file in the destination folder (``.<name>.<random>.tmp``),
is flushed and fsynced, optionally keeps the file it replaces under another name, and is then
renamed over the destination with ``os.replace``; the folder is fsynced last, so that the rename
itself survives a power cut. A process killed midway leaves at most a temporary file behind,
which :func:`remove_stale_temporaries` deletes on the next start.

This module needs only the standard library (torch is imported by :func:`atomic_torch_save`).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import IO, Callable, List, Optional

from espnet2_speecht5.runtime.types import PathLike

TEMP_SUFFIX = ".tmp"


def fsync_dir(folder: PathLike) -> None:
    """Flush a folder's entries (renames, links) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(str(folder), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temp_name(path: Path) -> Path:
    """A fresh hidden name beside ``path`` (the file is not created)."""
    while True:
        candidate = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        if not os.path.lexists(candidate):
            return candidate


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def atomic_copy(source: PathLike, destination: PathLike, hard_link: bool = True) -> None:
    """Make ``destination`` hold what ``source`` holds now, replacing it atomically; ``source`` stays.

    With ``hard_link`` the two names share the file (no bytes copied) where the file system
    allows it; otherwise, or without ``hard_link``, the bytes are copied and fsynced.
    """
    source, destination = Path(source), Path(destination)
    tmp = _temp_name(destination)
    try:
        linked = False
        if hard_link:
            try:
                os.link(source, tmp)
                linked = True
            except OSError:
                pass
        if not linked:
            shutil.copyfile(source, tmp)
            _fsync_file(tmp)
        os.replace(tmp, destination)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    fsync_dir(destination.parent)


def atomic_write(
    path: PathLike,
    write: Callable[[IO[bytes]], None],
    keep_previous: Optional[PathLike] = None,
    before_replace: Optional[Callable[[Path], None]] = None,
) -> None:
    """Write ``path`` through ``write(handle)`` so that it is replaced whole or not at all.

    Args:
        path: the destination file.
        write: fills the open binary temporary file.
        keep_previous: if given and ``path`` exists, ``path``'s current content is first kept
            under this name (itself replaced atomically), so a complete older copy always exists.
        before_replace: called with the finished, fsynced temporary file just before it is
            renamed (a test hook: it lets a test kill the process at that moment).

    If ``write`` raises (or the process dies), ``path`` and ``keep_previous`` keep their old content.
    The new file gets the usual permissions (``0o666`` less the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    try:
        with open(tmp, "xb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if before_replace is not None:
            before_replace(tmp)
        if keep_previous is not None and path.is_file():
            atomic_copy(path, keep_previous)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    fsync_dir(path.parent)


def atomic_torch_save(
    obj: object,
    path: PathLike,
    keep_previous: Optional[PathLike] = None,
    before_replace: Optional[Callable[[Path], None]] = None,
) -> None:
    """``torch.save(obj)`` through :func:`atomic_write`."""
    import torch

    atomic_write(path, lambda handle: torch.save(obj, handle), keep_previous, before_replace)


def atomic_symlink(link: PathLike, target: str) -> None:
    """Point the symbolic link ``link`` at ``target`` (a name relative to its folder), replacing any old one at once."""
    link = Path(link)
    tmp = _temp_name(link)
    try:
        os.symlink(target, tmp)
        os.replace(tmp, link)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    fsync_dir(link.parent)


def remove_stale_temporaries(folder: PathLike, destination_suffix: str = ".pth") -> List[Path]:
    """Delete what killed writers left in ``folder``: temporaries of destinations ending in ``destination_suffix``.

    Returns the removed paths (also logged at INFO level). Call it only when no writer is running there.
    """
    folder = Path(folder)
    pattern = re.compile(r"^\.(.+" + re.escape(destination_suffix) + r")\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + "$")
    removed: List[Path] = []
    if not folder.is_dir():
        return removed
    for entry in sorted(folder.iterdir()):
        if pattern.match(entry.name):
            _unlink_quietly(entry)
            removed.append(entry)
    if removed:
        logging.info("Removed temporary files of an interrupted write: " + ", ".join(str(p) for p in removed))
    return removed
