"""Cluster labels of speech for pre-training: frame counts, the length check and aligned random crops.

Labels are at 50 Hz: label ``i`` describes the samples ``[320 i, 320 i + 400)`` of a 16 kHz
waveform (a 25 ms window every 20 ms, no padding), so an utterance of ``L`` samples has
:func:`label_frames` ``(L) = (L - 400) // 320 + 1`` labels. This is exactly the frame count of
SpeechT5's conv feature extractor (receptive field 400 samples, stride 320); another conv stack
with stride 320 (e.g. the tiny test networks) differs by at most one frame, which the
pre-training model absorbs by cutting both to the shorter (``label_length_tolerance``).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from espnet2_speecht5.data.errors import DataError

LABEL_HOP = 320  # samples between labels: 50 Hz at 16 kHz
LABEL_WINDOW = 400  # samples each label describes: 25 ms at 16 kHz


def label_frames(num_samples: int, hop: int = LABEL_HOP, window: int = LABEL_WINDOW) -> int:
    """Labels of an utterance of ``num_samples`` samples (0 when it is shorter than one window)."""
    if num_samples < window:
        return 0
    return (num_samples - window) // hop + 1


def conv_frames(num_samples: int, kernels: Sequence[int], strides: Sequence[int]) -> int:
    """Frames of a conv stack without padding (each layer: ``(n - kernel) // stride + 1``; 0 if too short)."""
    frames = num_samples
    for kernel, stride in zip(kernels, strides):
        if frames < kernel:
            return 0
        frames = (frames - kernel) // stride + 1
    return frames


def check_label_count(
    utt: str,
    num_samples: int,
    num_labels: int,
    kernels: Sequence[int],
    strides: Sequence[int],
    tolerance: int = 2,
    path: Optional[str] = None,
) -> None:
    """Labels and conv frames of one utterance must be at most ``tolerance`` apart, and both > 0.

    Raises:
        DataError: naming the utterance (and ``path``, the label file, when given).
    """
    frames = conv_frames(num_samples, kernels, strides)
    if frames < 1:
        raise DataError(f"{num_samples} samples are too short for one encoder frame", path, utt=utt)
    if num_labels < 1:
        raise DataError("has no cluster label", path, utt=utt)
    if abs(frames - num_labels) > tolerance:
        raise DataError(
            f"{num_labels} cluster labels for {num_samples} samples, which give {frames} encoder frames "
            f"(more than {tolerance} apart: labels must be at 50 Hz, made from this audio by stage 6)",
            path,
            utt=utt,
        )


def crop_speech_and_labels(
    speech: np.ndarray,
    labels: np.ndarray,
    max_samples: int,
    rng: np.random.Generator,
    hop: int = LABEL_HOP,
    window: int = LABEL_WINDOW,
) -> Tuple[np.ndarray, np.ndarray]:
    """A random crop of at most ``max_samples`` samples and the labels of exactly that audio.

    The crop starts at a multiple of ``hop`` (``offset = hop * k``), so label ``k + j`` describes
    sample ``hop * j`` of the crop, as if the labels had been made from the cropped audio.

    Args:
        speech: (L,) or (L, C) waveform; labels: (N,) cluster ids.
        max_samples: the longest crop; 0 or more than ``L`` keeps the utterance whole.

    Returns:
        (cropped speech, its labels).
    """
    length = speech.shape[0]
    if max_samples <= 0 or length <= max_samples:
        return speech, labels
    first = int(rng.integers(0, (length - max_samples) // hop + 1))
    offset = first * hop
    count = min(len(labels) - first, label_frames(max_samples, hop, window))
    return speech[offset : offset + max_samples], labels[first : first + max(count, 0)]
