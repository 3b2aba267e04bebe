"""Heartbeat files: how a training rank shows the launcher that it still makes progress.

``ddp_launch`` gives each rank a file path in ``$SPEECHT5_HEARTBEAT_FILE``. The trainer touches that
file as it takes training and validation batches (:func:`beating`, at most once a second), so
the file's modification time is the rank's last sign of progress. A rank stuck in a collective
call, a data loader or a loop of its own stops touching it; the launcher
(:mod:`espnet2_speecht5.distributed.launch`) names the rank whose heartbeat is older than
``--hang_timeout_s`` and stops them all. Without the variable (a single process, or another
launcher), :func:`beating` passes the batches through untouched.

This module imports neither torch nor ESPnet.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterable, Iterator, Optional, TypeVar

HEARTBEAT_ENV = "SPEECHT5_HEARTBEAT_FILE"
T = TypeVar("T")


def beat(path: Path) -> None:
    """Set the heartbeat file's modification time to now (creating it if needed)."""
    path.touch()
    os.utime(path)


def beating(items: Iterable[T], path: Optional[str] = None, every_s: float = 1.0) -> Iterator[T]:
    """Yield ``items``, touching the heartbeat file (``path``, else ``$SPEECHT5_HEARTBEAT_FILE``)
    before the first item and then at most every ``every_s`` seconds."""
    target = path if path is not None else os.environ.get(HEARTBEAT_ENV)
    if not target:
        yield from items
        return
    heartbeat = Path(target)
    beat(heartbeat)
    last = time.monotonic()
    for item in items:
        now = time.monotonic()
        if now - last >= every_s:
            beat(heartbeat)
            last = now
        yield item
    beat(heartbeat)


def seconds_since_beat(path: Path, started_at: float) -> float:
    """Seconds since the rank's last heartbeat, or since ``started_at`` (a ``time.time()``) if it has
    not beaten yet."""
    try:
        last = max(path.stat().st_mtime, started_at)
    except FileNotFoundError:
        last = started_at
    return time.time() - last
