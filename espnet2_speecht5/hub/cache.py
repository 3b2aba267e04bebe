"""Where downloaded and unpacked models are kept.

Everything goes under one folder in the user's cache, never into site-packages (espnet_model_zoo's
``ModelDownloader`` defaults to its own package folder when that is writable):

* ``$SPEECHT5_CACHE`` when set;
* otherwise ``$XDG_CACHE_HOME/espnet2_speecht5``;
* otherwise ``~/.cache/espnet2_speecht5``.

Hugging Face downloads stay in huggingface_hub's own cache (``$HF_HOME``, by default
``~/.cache/huggingface``), so that other tools share them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Optional

from espnet2_speecht5.runtime.types import PathLike


def default_cache_dir() -> Path:
    """The root of our model cache (see the module docstring)."""
    explicit = os.environ.get("SPEECHT5_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "espnet2_speecht5"


def cache_root(cache_dir: Optional[PathLike] = None) -> Path:
    """``cache_dir`` (or the default), created, as an absolute path."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def short_hash(text: str, length: int = 16) -> str:
    """A stable folder name for ``text`` (a URL, a path)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def offline_mode() -> bool:
    """True when the user asked for no network (``HF_HUB_OFFLINE`` or ``SPEECHT5_OFFLINE`` set to 1/true)."""
    for name in ("SPEECHT5_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on"):
            return True
    return False
