"""Pair synthesised utterances with their reference recordings for TTS scoring.

A ``wav.scp`` is read into :class:`~espnet2_speecht5.data.audio.AudioSource` entries that
remember their file and line, so that a wav that cannot be read is reported as
``hyp/wav.scp:3: utterance 'u1': audio file /x/u1.wav cannot be decoded (...)``.  The
synthesised and the reference sets must hold the same utterances: :func:`check_same_utterances`
names the first one that only one side has.
"""

from __future__ import annotations

from typing import Dict, Iterable, Optional, Tuple

import numpy as np

from espnet2_speecht5.data.audio import AudioSource, read_audio, resample, to_mono
from espnet2_speecht5.data.kaldi_dir import iter_lines
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike


def read_wav_scp(path: PathLike) -> Dict[str, AudioSource]:
    """``{utt: AudioSource}`` for every line of a Kaldi ``wav.scp`` (file paths or ``cmd |`` pipes).

    Raises:
        DataError: the file is missing or empty, an id repeats, or a line has no audio entry.
    """
    sources: Dict[str, AudioSource] = {}
    for number, utt, entry in iter_lines(path):
        if utt in sources:
            raise DataError("duplicate id", path, number, utt)
        if not entry:
            raise DataError("no audio path after the utterance id", path, number, utt)
        sources[utt] = AudioSource(utt=utt, entry=entry, scp=str(path), line=number)
    if not sources:
        raise DataError("has no utterance", path)
    return sources


def check_same_utterances(
    hyp: Iterable[str], hyp_path: PathLike, ref: Iterable[str], ref_path: PathLike
) -> None:
    """Fail on the first utterance that only one of the two files lists.

    Raises:
        DataError: naming the utterance, the file that has it and the file that lacks it.
    """
    hyp_set, ref_set = set(hyp), set(ref)
    only_hyp = sorted(hyp_set - ref_set)
    if only_hyp:
        more = f" (and {len(only_hyp) - 1} more)" if len(only_hyp) > 1 else ""
        raise DataError(f"is not in the references {ref_path}{more}", hyp_path, utt=only_hyp[0])
    only_ref = sorted(ref_set - hyp_set)
    if only_ref:
        more = f" (and {len(only_ref) - 1} more)" if len(only_ref) > 1 else ""
        raise DataError(f"has no synthesised counterpart in {hyp_path}{more}", ref_path, utt=only_ref[0])


def load_mono(source: AudioSource, rate: Optional[int] = None) -> Tuple[np.ndarray, int]:
    """Read one utterance as a mono float64 signal, resampled to ``rate`` when one is given.

    Returns:
        ``(samples, rate)`` with ``samples`` of shape (num_samples,) in [-1, 1].

    Raises:
        DataError: the audio is missing, unreadable, empty or not finite (names the scp line and file).
    """
    samples, file_rate = read_audio(source)
    mono, _ = to_mono(samples)
    if rate is not None and rate != file_rate:
        mono = resample(mono, file_rate, rate)
        file_rate = rate
    return np.ascontiguousarray(mono, dtype=np.float64), file_rate
