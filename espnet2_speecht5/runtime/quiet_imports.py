"""Import ESPnet without its start-up noise.

Importing espnet2 prints a Flash Attention notice on stdout, and g2p_en (pulled in by ESPnet's
tokenizers) tries ``nltk.download`` for data it only needs for English phonemes, printing
several lines of network errors on an offline machine. The entry points that only need
characters or sentencepiece import ESPnet through :func:`quiet_espnet`.
"""

from __future__ import annotations

import contextlib
import io
from typing import Iterator

# What quiet_espnet assumes of nltk (test/test_espnet_hooks.py checks the installed one): a module-level
# ``download`` whose first parameter is the data id (g2p_en calls ``nltk.download(<id>)`` at import).
NLTK_DOWNLOAD_PARAMS = ("info_or_id",)


@contextlib.contextmanager
def quiet_espnet() -> Iterator[None]:
    """Within the block: stdout is swallowed and ``nltk.download`` does nothing (returns False)."""
    try:
        import nltk
    except ImportError:  # pragma: no cover - nltk comes with espnet's dependencies
        nltk = None
    saved = getattr(nltk, "download", None)
    if nltk is not None:
        nltk.download = lambda *args, **kwargs: False
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if nltk is not None:
            nltk.download = saved
