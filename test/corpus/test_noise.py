"""Generated noise: levels, spectra, determinism, and mixing at an exact SNR."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import welch

from espnet2_speecht5.corpus.noise import NOISE_KINDS, fit_length, make_noise, measure_snr, mix_at_snr, snr_db
from espnet2_speecht5.data.audio import write_flac

RATE = 16000


def speech_like(n: int, seed: int = 0) -> np.ndarray:
    """A stand-in for speech, shape (n,): bursts of a modulated tone with silent gaps, peak 0.3."""
    t = np.arange(n) / RATE
    envelope = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None)
    x = envelope * np.sin(2 * np.pi * 180 * t + 3 * np.sin(2 * np.pi * 4 * t))
    x += 0.01 * np.random.default_rng(seed).standard_normal(n) * envelope
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)


def talkers() -> list:
    return [speech_like(RATE + 1000 * k, seed=k) for k in range(3)]


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_noise_has_unit_rms_and_is_reproducible(kind: str):
    a = make_noise(kind, 20000, np.random.default_rng(1), RATE, talkers())
    b = make_noise(kind, 20000, np.random.default_rng(1), RATE, talkers())
    assert a.shape == (20000,) and a.dtype == np.float32
    assert np.sqrt(np.mean(a.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).all()


@pytest.mark.parametrize("kind,slope", [("white", 0.0), ("pink", -1.0), ("brown", -2.0)])
def test_coloured_noise_spectral_slope(kind: str, slope: float):
    x = make_noise(kind, 4 * RATE, np.random.default_rng(0), RATE)
    freqs, power = welch(x, fs=RATE, nperseg=4096)
    band = (freqs > 50) & (freqs < 4000)
    fitted = np.polyfit(np.log10(freqs[band]), np.log10(power[band]), 1)[0]
    assert fitted == pytest.approx(slope, abs=0.25)


@pytest.mark.parametrize("kind", NOISE_KINDS)
@pytest.mark.parametrize("snr", [-5.0, 0.0, 5.0, 10.0, 15.0, 20.0])
def test_mix_at_snr_measures_back(kind: str, snr: float):
    clean = speech_like(2 * RATE)
    noise = make_noise(kind, clean.shape[0], np.random.default_rng(3), RATE, talkers())
    mixture, scaled = mix_at_snr(clean, noise, snr)
    np.testing.assert_allclose(mixture, clean + scaled, atol=1e-6)
    assert measure_snr(clean, mixture) == pytest.approx(snr, abs=0.01)
    assert snr_db(clean, scaled) == pytest.approx(snr, abs=1e-4)


@pytest.mark.parametrize("snr", [0.0, 15.0])
def test_snr_survives_16_bit_flac(tmp_path, snr: float):
    clean = speech_like(RATE)
    mixture, _ = mix_at_snr(clean, make_noise("pink", RATE, np.random.default_rng(0)), snr)
    write_flac(tmp_path / "clean.flac", clean, RATE)
    write_flac(tmp_path / "noisy.flac", mixture, RATE)
    clean_back, _ = sf.read(tmp_path / "clean.flac", dtype="float32")
    noisy_back, _ = sf.read(tmp_path / "noisy.flac", dtype="float32")
    assert measure_snr(clean_back, noisy_back) == pytest.approx(snr, abs=0.1)


def test_fit_length_loops_and_cuts():
    x = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(fit_length(x, 7, offset=3), [3, 4, 0, 1, 2, 3, 4])
    np.testing.assert_array_equal(fit_length(x, 2), [0, 1])


def test_bad_inputs_raise_value_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown noise kind"):
        make_noise("thunder", 100, rng)
    with pytest.raises(ValueError, match="talker"):
        make_noise("babble", 100, rng)
    with pytest.raises(ValueError, match="differ in shape"):
        mix_at_snr(np.ones(10, np.float32), np.ones(9, np.float32), 0.0)
    with pytest.raises(ValueError, match="silent"):
        mix_at_snr(np.zeros(10, np.float32), np.ones(10, np.float32), 0.0)
