"""What the inference classes accept as audio: a file path or an array, turned into 16 kHz mono."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

from espnet2_speecht5.data.audio import AudioSource, read_audio, resample, to_mono
from espnet2_speecht5.data.errors import DataError

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
