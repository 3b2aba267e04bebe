"""Griffin-Lim vocoder and the common build_vocoder interface."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from espnet2_speecht5.features import HOP_LENGTH, SAMPLE_RATE, log_mel
from espnet2_speecht5.vocoder import VOCODER_KINDS, GriffinLimVocoder, build_vocoder

# Measured on this signal with 32 iterations: mean |log10-mel error| 0.079, spectral convergence 0.119.
# Reading the log10 mel with another base (e, 2, 100) gives >= 0.79 and >= 0.74.
MAX_MEAN_ABS_LOG_MEL = 0.2
MAX_SPECTRAL_CONVERGENCE = 0.25


def voiced_signal(seconds: float = 1.5, seed: int = 0) -> np.ndarray:
    """Gliding harmonic tone with tremolo and a little noise, (seconds * 16000,)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    phase = 2 * np.pi * np.cumsum(140 + 30 * np.sin(2 * np.pi * 1.3 * t)) / SAMPLE_RATE
    tone = sum(0.3 / k * np.sin(k * phase) for k in range(1, 30)) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))
    return (tone + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def mel() -> torch.Tensor:
    return log_mel(voiced_signal())


def test_round_trip_reproduces_the_log_mel(mel):
    vocoder = build_vocoder("griffin_lim")
    assert isinstance(vocoder, GriffinLimVocoder) and vocoder.sample_rate == SAMPLE_RATE
    wav = vocoder(mel)
    frames = mel.shape[0]
    assert wav.shape == (frames * HOP_LENGTH,) and wav.dtype == torch.float32
    again = log_mel(wav)[:frames]
    assert (again - mel).abs().mean() < MAX_MEAN_ABS_LOG_MEL
    target, rebuilt = torch.pow(10.0, mel.double()), torch.pow(10.0, again.double())
    assert torch.linalg.norm(rebuilt - target) / torch.linalg.norm(target) < MAX_SPECTRAL_CONVERGENCE


def test_natural_log_mel_gives_the_same_waveform(mel):
    from_log10 = build_vocoder("griffin_lim", n_iter=4)(mel)
    from_ln = build_vocoder("griffin_lim", n_iter=4, log_base=math.e)(mel * math.log(10.0))
    assert from_log10.abs().max() > 0.1
    assert (from_log10 - from_ln).abs().max() <= 1e-4


def test_seed_makes_runs_repeatable_and_matters(mel):
    short = mel[:40]
    first, second = GriffinLimVocoder(n_iter=2, seed=3)(short), GriffinLimVocoder(n_iter=2, seed=3)(short)
    assert torch.equal(first, second)
    assert not torch.allclose(first, GriffinLimVocoder(n_iter=2, seed=4)(short))


@pytest.mark.parametrize("shape", [(10, 79), (0, 80), (2, 10, 80)])
def test_rejects_wrong_mel_shapes(shape):
    with pytest.raises(ValueError, match=r"\(T, 80\)"):
        GriffinLimVocoder(n_iter=1)(torch.zeros(shape))


def test_unknown_kind_lists_the_choices():
    with pytest.raises(ValueError) as err:
        build_vocoder("wavenet")
    text = str(err.value)
    assert "\n" not in text and "wavenet" in text and all(kind in text for kind in VOCODER_KINDS)


def test_path_rules():
    with pytest.raises(ValueError, match="needs a path"):
        build_vocoder("hifigan")
    with pytest.raises(ValueError, match="takes no path"):
        build_vocoder("griffin_lim", path="model")
