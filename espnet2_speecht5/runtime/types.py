"""Type aliases used across the package."""

from __future__ import annotations

from pathlib import Path
from typing import Union

PathLike = Union[str, Path]
"""A file system path as a string or a :class:`~pathlib.Path`."""
