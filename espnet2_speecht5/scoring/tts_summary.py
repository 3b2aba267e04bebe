"""``summary.yaml`` of TTS scoring: one set's MCD, CER, WER and speaker similarity.

Written by ``espnet2_speecht5.bin.score_tts`` next to the per-utterance files and read back by
the RESULTS.md report.  The keys are fixed; a metric that was not computed is ``null``::

    utterances: 30
    mcd_mean: 6.812        # dB, mean over utterances
    mcd_std: 0.934         # dB, population standard deviation over utterances
    cer: 4.1               # %, sclite's Err of the recognised synthesised speech
    wer: 12.3              # %
    speaker_similarity: 0.871   # mean cosine, in [-1, 1]
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import numpy as np

from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

SUMMARY_KEYS = ("utterances", "mcd_mean", "mcd_std", "cer", "wer", "speaker_similarity")
SUMMARY_FILE = "summary.yaml"


def make_summary(
    utterances: int,
    mcd: Optional[Sequence[float]] = None,
    cer: Optional[float] = None,
    wer: Optional[float] = None,
    similarities: Optional[Sequence[float]] = None,
) -> Dict[str, Any]:
    """The summary mapping from per-utterance values (None or empty: metric not computed)."""
    mcd_values = np.asarray(mcd, dtype=np.float64) if mcd else None
    sims = np.asarray(similarities, dtype=np.float64) if similarities else None
    return {
        "utterances": int(utterances),
        "mcd_mean": None if mcd_values is None else round(float(mcd_values.mean()), 4),
        "mcd_std": None if mcd_values is None else round(float(mcd_values.std()), 4),
        "cer": None if cer is None else round(float(cer), 2),
        "wer": None if wer is None else round(float(wer), 2),
        "speaker_similarity": None if sims is None else round(float(sims.mean()), 4),
    }


def write_summary(path: PathLike, summary: Dict[str, Any]) -> None:
    """Write ``summary`` as YAML with the keys in :data:`SUMMARY_KEYS` order."""
    import yaml

    ordered = {key: summary.get(key) for key in SUMMARY_KEYS}
    Path(path).write_text(yaml.safe_dump(ordered, sort_keys=False), encoding="utf-8")


def read_summary(path: PathLike) -> Dict[str, Any]:
    """A summary written by :func:`write_summary`; keys it lacks read as None.

    Raises:
        DataError: the file is not a YAML mapping, or a value is not a number (or null).
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise DataError(f"not valid YAML ({str(err).splitlines()[0]})", path) from None
    if not isinstance(data, dict):
        raise DataError("is not a YAML mapping", path)
    out: Dict[str, Any] = {}
    for key in SUMMARY_KEYS:
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            raise DataError(f"'{key}' is not a number: {value!r}", path)
        out[key] = value
    if out["utterances"] is None:
        raise DataError("has no 'utterances' count: not a score_tts summary", path)
    return out
