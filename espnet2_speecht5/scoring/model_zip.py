"""Unpack a packed ESPnet model (``espnet2.bin.pack`` zip) for the scorers, after checking it.

The checks and the unpacking are those of :mod:`espnet2_speecht5.checkpoint.archive` (member names,
symlinks, meta.yaml, CRCs and checksums; a content-keyed espnet_model_zoo cache); this module only
adds the keys that a caller requires.
"""

from __future__ import annotations

from typing import Dict, Sequence

from espnet2_speecht5.checkpoint.archive import unpack_verified, unsafe_member
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

__all__ = ["unpack_model_zip", "unsafe_member"]

def unpack_model_zip(zip_path: PathLike, cachedir: PathLike, required: Sequence[str] = ()) -> Dict[str, str]:
    """Verify and unpack ``zip_path`` under ``cachedir``; return meta.yaml's files as ``{key: unpacked path}``.

    The files go to ``cachedir/<first 16 hex digits of the zip's sha256>/`` (see
    :func:`espnet2_speecht5.checkpoint.archive.unpack_verified`); the same zip is unpacked once.

    Args:
        required: keys that must be present, e.g. ``("asr_train_config", "asr_model_file")``.

    Raises:
        DataError: an unsafe or malformed archive, or a required key that meta.yaml lacks.
    """
    unpacked = unpack_verified(zip_path, cachedir)
    missing = [key for key in required if key not in unpacked]
    if missing:
        raise DataError(f"meta.yaml names no {missing[0]}", zip_path)
    return unpacked
