"""Mel-cepstral distortion: the formula, the c0 exclusion, DTW alignment and WORLD/pysptk analysis."""

from __future__ import annotations

import math
from typing import Sequence, Tuple

import numpy as np
import pytest
from scipy.signal import lfilter

from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.scoring.mcd import MCDScorer, mcep_alpha, mel_cepstral_distortion, mel_cepstrum

RATE = 16000
F0 = 130.0
# (F1, F2) of three vowel-like sounds.
FORMANTS = ((700.0, 1200.0), (300.0, 2300.0), (350.0, 800.0))


def voiced(formants: Tuple[float, float], seconds: float, phase: float) -> Tuple[np.ndarray, float]:
    """A harmonic tone at F0 shaped by two resonators; returns the signal and the phase at its end."""
    t = np.arange(int(seconds * RATE)) / RATE
    source = np.zeros_like(t)
    for harmonic in range(1, int(4000 / F0)):
        source += np.sin(2 * np.pi * F0 * harmonic * t + phase * harmonic) / harmonic
    out = source
    for centre in formants:
        pole = 0.97 * np.exp(2j * np.pi * centre / RATE)
        out = lfilter([1.0], np.real(np.poly([pole, np.conj(pole)])), out)
    out = 0.3 * out / np.max(np.abs(out))
    return out, phase + 2 * np.pi * F0 * seconds


def vowels(durations: Sequence[float]) -> np.ndarray:
    """The three vowels one after another, lasting ``durations`` seconds each."""
    pieces, phase = [], 0.0
    for formants, seconds in zip(FORMANTS, durations):
        piece, phase = voiced(formants, seconds, phase)
        pieces.append(piece)
    return np.concatenate(pieces)


def tilt(x: np.ndarray, amount: float) -> np.ndarray:
    """First-order pre-emphasis ``y[n] = x[n] - amount * x[n-1]``: a known change of spectral tilt."""
    return lfilter([1.0, -amount], [1.0], x)


def test_formula_on_tiny_cepstra_by_hand():
    ref = np.array([[9.0, 0.5, -0.2, 0.1], [8.0, 0.4, 0.0, -0.3]])
    hyp = np.array([[1.0, 0.2, 0.1, 0.1], [2.0, 0.4, 0.5, 0.0]])
    expected = []
    for r, h in zip(ref, hyp):
        squared = sum((r[d] - h[d]) ** 2 for d in range(1, 4))  # c0 (column 0) left out
        expected.append(10.0 / math.log(10.0) * math.sqrt(2.0 * squared))
    value = mel_cepstral_distortion(ref, hyp, align="none")
    assert value == pytest.approx(sum(expected) / len(expected))
    assert mel_cepstral_distortion(ref, ref, align="dtw") == 0.0


def test_c0_is_excluded():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(6, 5))
    louder = ref.copy()
    louder[:, 0] += 3.0
    assert mel_cepstral_distortion(ref, louder, align="none") == 0.0
    changed = ref.copy()
    changed[:, 1] += 0.1
    assert mel_cepstral_distortion(ref, changed, align="none") > 0.0


def test_dtw_pairs_repeated_frames_with_their_originals():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(8, 4))
    slow = np.repeat(ref, [1, 3, 1, 1, 2, 1, 1, 2], axis=0)  # some frames held longer
    assert mel_cepstral_distortion(ref, slow, align="dtw") == pytest.approx(0.0, abs=1e-12)
    assert mel_cepstral_distortion(ref, slow, align="none") > 1.0


def test_identical_signals_give_zero():
    x = vowels((0.15, 0.15, 0.15))
    cepstra = mel_cepstrum(x, RATE)
    assert cepstra.shape == (pytest.approx(len(x) / RATE * 200, abs=2), 25)
    assert MCDScorer()(x, x.copy(), RATE) == 0.0


def test_larger_spectral_change_gives_larger_mcd():
    x = vowels((0.2, 0.2, 0.2))
    scorer = MCDScorer(align="none")  # same timing: compare frame by frame
    small, large = scorer(x, tilt(x, 0.2), RATE), scorer(x, tilt(x, 0.8), RATE)
    assert 0.0 < small < large


def test_dtw_makes_a_time_stretched_copy_score_much_lower():
    ref = vowels((0.15, 0.15, 0.15))
    stretched = vowels((0.3, 0.1, 0.3))
    aligned = MCDScorer(align="dtw")(ref, stretched, RATE)
    unaligned = MCDScorer(align="none")(ref, stretched, RATE)
    assert aligned < 0.5 * unaligned
    different = MCDScorer(align="dtw")(ref, tilt(vowels((0.3, 0.1, 0.3)), 0.9), RATE)
    assert aligned < different  # alignment does not hide a real spectral difference


def test_alpha_grows_with_the_rate_and_options_are_checked():
    assert 0.0 < mcep_alpha(8000) < mcep_alpha(16000) < mcep_alpha(20000) < mcep_alpha(22050) < 1.0
    x = vowels((0.1, 0.1, 0.1))
    # A different warping constant warps the cepstra differently.
    assert not np.allclose(mel_cepstrum(x, RATE, alpha=0.1), mel_cepstrum(x, RATE, alpha=0.42))
    with pytest.raises(DataError, match="F0 method"):
        MCDScorer(f0_method="yin")
    with pytest.raises(DataError, match="alignment"):
        MCDScorer(align="linear")
    with pytest.raises(DataError, match="alpha"):
        MCDScorer(alpha=1.5)


def test_text_normalization_for_asr_scoring() -> None:
    from espnet2_speecht5.scoring.text_norm import normalize_text

    assert normalize_text("And there was Ethel Baird, whom  also you must remember.") == (
        "and there was ethel baird whom also you must remember"
    )
    assert normalize_text("It's 5 o'clock!") == "it's 5 o'clock"
    assert normalize_text("Keep: Case.", "none") == "Keep: Case."
    with pytest.raises(ValueError, match="unknown text normalization"):
        normalize_text("x", "upper")
