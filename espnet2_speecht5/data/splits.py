"""Helpers for stage-1 data preparation: deterministic splits and writing data directories.

A corpus script (``egs2/<corpus>/local/prepare_*.py``) turns its corpus into a list of
:class:`Utterance` per set, then calls :func:`write_sets`, which checks the ids and the audio
paths and writes the Kaldi files described in ``docs/data_format.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from espnet2_speecht5.data.kaldi_dir import UTTERANCE_FILES, write_map, write_spk2utt
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

SET_NAMES = ("train", "dev", "test")


@dataclass(frozen=True)
class Utterance:
    """One line of every per-utterance file of a data directory.

    Attributes:
        utt: utterance id, prefixed by ``spk`` (``<spk>_...`` or ``<spk>-...``).
        spk: speaker id.
        wav: absolute audio path, or a shell command ending in ``|``.
        text: transcript, or None when the set has no ``text``.
        wav_tgt: target audio (VC, SE), or None.
        spk_tgt: target speaker (VC), or None.
    """

    utt: str
    spk: str
    wav: str
    text: Optional[str] = None
    wav_tgt: Optional[str] = None
    spk_tgt: Optional[str] = None


def tail_split(keys: Iterable[str], n_dev: int, n_test: int) -> Dict[str, str]:
    """Assign each distinct key to a set by its position in byte order.

    The last ``n_test`` keys go to ``test``, the ``n_dev`` keys before them to ``dev``, and
    the rest to ``train``.  Returns ``{key: set_name}``.

    Raises:
        ValueError: fewer keys than ``n_dev + n_test + 1``.
    """
    ordered = sorted(set(keys), key=lambda k: k.encode("utf-8"))
    if n_dev < 0 or n_test < 0 or len(ordered) <= n_dev + n_test:
        raise ValueError(f"cannot take {n_dev} dev and {n_test} test keys out of {len(ordered)} and keep a train set")
    first_dev = len(ordered) - n_test - n_dev
    first_test = len(ordered) - n_test
    return {key: "train" if i < first_dev else "dev" if i < first_test else "test" for i, key in enumerate(ordered)}


def fraction_counts(total: int, dev_fraction: float, test_fraction: float) -> Tuple[int, int]:
    """``(n_dev, n_test)`` for ``total`` keys: each fraction rounded, at least 1 when non-zero."""
    n_dev = max(1, round(total * dev_fraction)) if dev_fraction > 0 else 0
    n_test = max(1, round(total * test_fraction)) if test_fraction > 0 else 0
    return n_dev, n_test


def group_by_set(
    utterances: Iterable[Utterance], set_of: Mapping[str, str], key_of: Callable[[Utterance], str]
) -> Dict[str, List[Utterance]]:
    """Put each utterance in the set that ``set_of[key_of(utt)]`` names (``train``, ``dev``, ``test``)."""
    sets: Dict[str, List[Utterance]] = {name: [] for name in SET_NAMES}
    for utt in utterances:
        sets[set_of[key_of(utt)]].append(utt)
    return sets


def _is_pipe(entry: str) -> bool:
    return entry.rstrip().endswith("|")


def _check_audio(entry: str, utt: str, what: str) -> None:
    if _is_pipe(entry):
        return
    if not os.path.isabs(entry):
        raise DataError(f"{what} path is not absolute: {entry}", utt=utt)
    if not os.path.isfile(entry):
        raise DataError(f"{what} file {entry} does not exist", utt=utt)


def _check_set(name: str, utterances: Sequence[Utterance]) -> None:
    seen = set()
    for u in utterances:
        for label, value in (("utterance id", u.utt), ("speaker id", u.spk), ("target speaker id", u.spk_tgt)):
            if value is not None and (not value or any(c.isspace() for c in value)):
                raise DataError(f"{label} '{value}' is empty or has whitespace", utt=u.utt)
        if u.utt in seen:
            raise DataError(f"set '{name}': duplicate utterance id", utt=u.utt)
        seen.add(u.utt)
        if not (u.utt == u.spk or u.utt.startswith(u.spk + "_") or u.utt.startswith(u.spk + "-")):
            raise DataError(f"utterance id does not start with its speaker id '{u.spk}'", utt=u.utt)
        _check_audio(u.wav, u.utt, "audio")
        if u.wav_tgt is not None:
            _check_audio(u.wav_tgt, u.utt, "target audio")
        if u.text is not None and not u.text.strip():
            raise DataError("empty transcript", utt=u.utt)
    for field in ("text", "wav_tgt", "spk_tgt"):
        present = [getattr(u, field) is not None for u in utterances]
        if any(present) and not all(present):
            missing = next(u.utt for u, p in zip(utterances, present) if not p)
            raise DataError(f"set '{name}': some utterances have {field} and this one has not", utt=missing)


def write_data_dir(data_dir: PathLike, utterances: Sequence[Utterance]) -> List[str]:
    """Write one data directory and return the names of the files written.

    The directory is rewritten as a whole: per-utterance files from an earlier run that this
    set does not have are removed.  Raises :class:`DataError` on bad ids or missing audio.
    """
    data_dir = Path(data_dir)
    _check_set(data_dir.name, utterances)
    if not utterances:
        raise DataError(f"no utterances for {data_dir}")
    files: Dict[str, List[Tuple[str, str]]] = {
        "wav.scp": [(u.utt, u.wav) for u in utterances],
        "utt2spk": [(u.utt, u.spk) for u in utterances],
    }
    first = utterances[0]
    if first.text is not None:
        files["text"] = [(u.utt, " ".join(str(u.text).split())) for u in utterances]
    if first.wav_tgt is not None:
        files["wav_tgt.scp"] = [(u.utt, str(u.wav_tgt)) for u in utterances]
    if first.spk_tgt is not None:
        files["utt2spk_tgt"] = [(u.utt, str(u.spk_tgt)) for u in utterances]
    data_dir.mkdir(parents=True, exist_ok=True)
    for stale in (*UTTERANCE_FILES, "spk2utt"):
        if stale not in files and (data_dir / stale).is_file():
            (data_dir / stale).unlink()
    for name, pairs in files.items():
        write_map(data_dir / name, pairs)
    write_spk2utt(data_dir)
    return sorted([*files, "spk2utt"])


def write_sets(
    out_dir: PathLike, sets: Mapping[str, Sequence[Utterance]], log: Callable[[str], None] = print
) -> Dict[str, int]:
    """Write ``<out_dir>/<set>/`` for each set, log one line per set, and return the counts."""
    counts: Dict[str, int] = {}
    for name, utterances in sets.items():
        data_dir = Path(out_dir) / name
        written = write_data_dir(data_dir, utterances)
        speakers = len({u.spk for u in utterances})
        counts[name] = len(utterances)
        log(f"{data_dir}: {len(utterances)} utterances, {speakers} speaker(s); files: {' '.join(written)}")
    return counts
