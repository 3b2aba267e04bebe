"""What the inference classes accept as audio: a file path or an array, turned into 16 kHz mono.

Also the checks of a ``wav.scp`` that ``asr_inference`` decodes through ESPnet's loader, which
drops each file's sample rate: :func:`scan_sound_scp` reads the headers first, and
:func:`fit_to_model` down-mixes and resamples each utterance, with a log line.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import soundfile as sf
import torch

from espnet2_speecht5.data.audio import AudioSource, read_audio, resample, to_mono
from espnet2_speecht5.data.kaldi_dir import iter_lines
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger(__name__)

MODEL_RATE = 16000
AudioInput = Union[str, Path, np.ndarray, torch.Tensor]


def load_input_audio(audio: AudioInput, rate: Optional[int] = None, target_rate: int = MODEL_RATE) -> np.ndarray:
    """``audio`` as a float32 (L,) waveform at ``target_rate``.

    Args:
        audio: a path to an audio file (any format soundfile reads; channels are averaged,
            other rates resampled, both with a log line), or a (L,) / (1, L) array or tensor.
        rate: the sample rate of an array (default: ``target_rate``); ignored for files.

    Raises:
        DataError: a missing, empty or undecodable file, or an array of the wrong shape.
    """
    if isinstance(audio, (str, Path)):
        path = str(audio)
        samples, file_rate = read_audio(AudioSource(utt=Path(path).name, entry=path))
        samples, downmixed = to_mono(samples)
        if downmixed:
            logger.info(f"{path}: averaged the channels to mono")
        if file_rate != target_rate:
            logger.info(f"{path}: resampled from {file_rate} Hz to {target_rate} Hz")
            samples = resample(samples, file_rate, target_rate)
        return np.ascontiguousarray(samples, dtype=np.float32)
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    array = np.asarray(audio, dtype=np.float32)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1 or array.size == 0:
        raise DataError(f"expected a non-empty (L,) or (1, L) waveform, got shape {tuple(array.shape)}")
    if not np.isfinite(array).all():
        raise DataError("the waveform contains NaN or infinite samples")
    if rate is not None and rate != target_rate:
        array = resample(array, rate, target_rate)
    return array


def scan_sound_scp(scp: PathLike, keys: Optional[Sequence[str]] = None) -> Dict[str, Tuple[int, int]]:
    """Check the audio files of a ``wav.scp`` before decoding it, reading only their headers.

    Args:
        scp: ``<utt> <audio file>`` lines (what ESPnet's ``sound`` loader reads).
        keys: only these utterances (a ``--key_file``); default: all.

    Returns:
        ``{utt: (sample rate, channels)}``.

    Raises:
        DataError: naming the scp line and the utterance: a duplicate id, a missing, empty or
            undecodable file, a file without samples, or a key that the scp lacks.
    """
    wanted = None if keys is None else set(keys)
    lines: Dict[str, int] = {}
    info: Dict[str, Tuple[int, int]] = {}
    for number, utt, value in iter_lines(scp):
        if utt in lines:
            raise DataError(f"duplicate id (first on line {lines[utt]})", scp, number, utt)
        lines[utt] = number
        if wanted is not None and utt not in wanted:
            continue
        if not os.path.isfile(value):
            raise DataError(f"audio file {value} does not exist", scp, number, utt)
        try:
            header = sf.info(value)
        except (sf.LibsndfileError, RuntimeError) as err:
            reason = getattr(err, "error_string", None) or type(err).__name__
            raise DataError(f"audio file {value} cannot be decoded ({reason})", scp, number, utt) from None
        if header.frames == 0:
            raise DataError(f"audio file {value} has no samples", scp, number, utt)
        info[utt] = (int(header.samplerate), int(header.channels))
    missing = sorted(wanted - set(lines)) if wanted is not None else []
    if missing:
        raise DataError(f"{len(missing)} utterance(s) of the key file are not in it, e.g. '{missing[0]}'", scp)
    return info


def fit_to_model(utt: str, speech: torch.Tensor, rate: int, target_rate: int = MODEL_RATE) -> torch.Tensor:
    """One utterance from ESPnet's ``sound`` loader as the model's (L,) input at ``target_rate``.

    Channels of a (L, C) waveform are averaged and another rate is resampled, each with a log line.

    Raises:
        DataError: the waveform has NaN or infinite samples.
    """
    if not torch.isfinite(speech).all():
        raise DataError("the audio contains NaN or infinite samples", utt=utt)
    if speech.dim() == 1 and rate == target_rate:
        return speech
    samples = speech.cpu().numpy()
    if samples.ndim == 2:
        samples, _ = to_mono(samples)
        logger.info(f"utterance '{utt}': averaged {speech.shape[1]} channels to mono")
    if rate != target_rate:
        logger.info(f"utterance '{utt}': resampled from {rate} Hz to {target_rate} Hz")
        samples = resample(samples, rate, target_rate)
    return torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)).to(speech.dtype)
