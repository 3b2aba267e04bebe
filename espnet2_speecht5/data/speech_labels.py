"""Cluster labels of speech for pre-training: frame counts, the length check and aligned random crops.

Labels come at the label rate of the training config (``model_conf.label_rate``: 50 Hz in the
paper, also 100 Hz), which must be ``k`` times SpeechT5's encoder frame rate (50 Hz: the conv
feature extractor has a receptive field of 400 samples and a stride of :data:`FRAME_HOP` = 320).
At 16 kHz a label then comes every ``hop = 320 / k`` samples: label ``i`` describes the samples
``[hop i, hop i + 400)`` (a 25 ms window, no padding), so an utterance of ``L`` samples has
:func:`label_frames` ``(L, hop) = (L - 400) // hop + 1`` labels. Encoder frame ``t`` starts at
sample ``320 t``, where label ``k t`` starts: it is trained on that label, as in HuBERT
(``targets[round(t * label_rate / frame_rate)]``), and the labels between are not used.

Of ``N`` labels, ``ceil(N / k)`` land on encoder frames (:func:`labels_on_frames`); for labels
made from the audio this equals ``(L - 400) // 320 + 1``, SpeechT5's conv frame count. Another
conv stack with stride 320 (e.g. the tiny test networks) differs by at most one frame, which the
pre-training model absorbs by cutting both to the shorter (``label_length_tolerance``).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from espnet2_speecht5.runtime.errors import DataError

SAMPLE_RATE = 16000  # the audio rate the labels are made at
FRAME_HOP = 320  # samples between encoder frames: 50 Hz at 16 kHz
LABEL_HOP = FRAME_HOP  # samples between labels at the default label rate, 50 Hz
LABEL_WINDOW = 400  # samples each label describes: 25 ms at 16 kHz


def label_frames(num_samples: int, hop: int = LABEL_HOP, window: int = LABEL_WINDOW) -> int:
    """Labels of an utterance of ``num_samples`` samples (0 when it is shorter than one window)."""
    if num_samples < window:
        return 0
    return (num_samples - window) // hop + 1


def label_hop(label_rate: float, sample_rate: int = SAMPLE_RATE, frame_hop: int = FRAME_HOP) -> int:
    """Samples between labels at ``label_rate`` Hz: a whole number that divides ``frame_hop``.

    Raises:
        ValueError: naming the label rate and the encoder frame rate.
    """
    hop = sample_rate / label_rate if label_rate > 0 else 0.0
    whole = int(round(hop))
    if whole < 1 or abs(hop - whole) > 1e-6 or frame_hop % whole:
        raise ValueError(
            f"labels at {label_rate:g} Hz do not fit the encoder frame rate {sample_rate / frame_hop:g} Hz: "
            f"the label rate must be a whole multiple of it with a whole hop of samples dividing {frame_hop} "
            f"(e.g. {sample_rate / frame_hop:g} or {2 * sample_rate / frame_hop:g} Hz)"
        )
    return whole


def labels_per_frame(hop: int, frame_hop: int = FRAME_HOP) -> int:
    """``k``: labels per encoder frame when labels are ``hop`` samples apart (``frame_hop`` must be a multiple)."""
    if hop < 1 or frame_hop % hop:
        raise ValueError(f"a label hop of {hop} samples does not divide the encoder hop of {frame_hop} samples")
    return frame_hop // hop


def labels_on_frames(num_labels: int, per_frame: int = 1) -> int:
    """How many of ``num_labels`` labels start where an encoder frame starts (labels 0, k, 2k, ...)."""
    return -(-num_labels // per_frame)


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
    hop: Optional[int] = None,
) -> None:
    """The labels that land on encoder frames and the conv frames of one utterance must be at most
    ``tolerance`` apart, and both > 0.

    Args:
        hop: samples between labels (default: the conv stack's stride, one label per frame); the
            stride must be a multiple of it.

    Raises:
        DataError: naming the utterance (and ``path``, the label file, when given).
    """
    stride = int(np.prod(strides))
    hop = stride if hop is None else hop
    per_frame = labels_per_frame(hop, stride)
    frames = conv_frames(num_samples, kernels, strides)
    if frames < 1:
        raise DataError(f"{num_samples} samples are too short for one encoder frame", path, utt=utt)
    if num_labels < 1:
        raise DataError("has no cluster label", path, utt=utt)
    on_frames = labels_on_frames(num_labels, per_frame)
    if abs(frames - on_frames) > tolerance:
        rate = SAMPLE_RATE / hop
        counted = f" ({on_frames} of them on encoder frames)" if per_frame > 1 else ""
        raise DataError(
            f"{num_labels} cluster labels{counted} for {num_samples} samples, which give {frames} encoder frames "
            f"(more than {tolerance} apart: labels must be at {rate:g} Hz, one every {hop} samples, "
            "made from this audio by stage 6)",
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
    frame_hop: int = FRAME_HOP,
) -> Tuple[np.ndarray, np.ndarray]:
    """A random crop of at most ``max_samples`` samples and the labels of exactly that audio.

    The crop starts at a multiple of the encoder hop (``offset = frame_hop * f``), so the encoder
    frames of the crop are those of the utterance from frame ``f`` on, and label ``offset / hop + j``
    describes sample ``hop * j`` of the crop, as if the labels had been made from the cropped audio.

    Args:
        speech: (L,) or (L, C) waveform; labels: (N,) cluster ids, one every ``hop`` samples.
        max_samples: the longest crop; 0 or more than ``L`` keeps the utterance whole.
        frame_hop: samples between encoder frames, a multiple of ``hop``.

    Returns:
        (cropped speech, its labels).
    """
    length = speech.shape[0]
    if max_samples <= 0 or length <= max_samples:
        return speech, labels
    per_frame = labels_per_frame(hop, frame_hop)
    first_frame = int(rng.integers(0, (length - max_samples) // frame_hop + 1))
    offset = first_frame * frame_hop
    first = first_frame * per_frame
    count = min(len(labels) - first, label_frames(max_samples, hop, window))
    return speech[offset : offset + max_samples], labels[first : first + max(count, 0)]
