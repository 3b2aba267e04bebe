"""Vocoders turning SpeechT5 log10-mel spectrograms (T, 80) into 16 kHz waveforms (T * 256,)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Protocol, Union

import torch

from espnet2_speecht5.vocoder.griffin_lim import GriffinLimVocoder
from espnet2_speecht5.vocoder.hifigan import HifiGanConfig, HifiGanGenerator, HifiGanVocoder
from espnet2_speecht5.vocoder.loading import load_hifigan, load_official_hifigan, load_transformers_hifigan
from espnet2_speecht5.vocoder.noisy_phase import NoisyPhaseResynthesis

VOCODER_KINDS = ("griffin_lim", "hifigan", "noisy_phase")


class Vocoder(Protocol):
    """``vocoder(mel (T, 80)) -> float waveform (T * 256,)`` at ``sample_rate`` Hz."""

    sample_rate: int

    def __call__(self, mel: torch.Tensor) -> torch.Tensor: ...


def build_vocoder(kind: str = "griffin_lim", path: Optional[Union[str, Path]] = None, **options: Any) -> Vocoder:
    """Make a vocoder.

    Args:
        kind: ``griffin_lim`` (options: n_iter, momentum, seed, log_base), ``hifigan``, or
            ``noisy_phase`` (enhancement only: the predicted mel as a gain on the noisy recording's
            STFT, :mod:`espnet2_speecht5.vocoder.noisy_phase`; option gain_floor). A ``noisy_phase``
            resynthesis is called with the source too: ``vocoder(mel, noisy)``.
        path: for ``hifigan``, a transformers ``SpeechT5HifiGan`` folder or an official checkpoint file
            (options: ``stats``, the official ``stats.npy``, default beside the checkpoint; ``device``).
    """
    if kind == "griffin_lim":
        if path is not None:
            raise ValueError("the griffin_lim vocoder takes no path")
        return GriffinLimVocoder(**options)
    if kind == "hifigan":
        if path is None:
            raise ValueError("the hifigan vocoder needs a path: a transformers folder or an official checkpoint")
        device = options.pop("device", "cpu")
        generator = load_hifigan(path, **options)
        return HifiGanVocoder(generator.to(device))
    if kind == "noisy_phase":
        if path is not None:
            raise ValueError("the noisy_phase resynthesis takes no path")
        return NoisyPhaseResynthesis(**options)
    raise ValueError(f"unknown vocoder kind '{kind}'; choose one of: {', '.join(VOCODER_KINDS)}")


__all__ = [
    "VOCODER_KINDS",
    "GriffinLimVocoder",
    "HifiGanConfig",
    "HifiGanGenerator",
    "HifiGanVocoder",
    "NoisyPhaseResynthesis",
    "Vocoder",
    "build_vocoder",
    "load_hifigan",
    "load_official_hifigan",
    "load_transformers_hifigan",
]
