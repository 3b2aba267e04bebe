"""Noise that the project makes itself, and mixing speech with noise at a chosen SNR.

Kinds: ``white`` (flat spectrum), ``pink`` (power ~ 1/f), ``brown`` (power ~ 1/f^2),
``hum`` (mains hum: 50 or 60 Hz and harmonics with a little hiss) and ``babble`` (several
other utterances summed).  Every generator returns float32 of shape (num_samples,) with unit
RMS, drawn from the ``numpy.random.Generator`` it is given, so noise is reproducible.

The SNR is the ratio of the energies of the whole clean signal and the whole added noise:
``10 * log10(sum(clean**2) / sum(noise**2))``.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

NOISE_KINDS = ("white", "pink", "brown", "hum", "babble")
_EPS = 1e-12


def unit_rms(x: np.ndarray) -> np.ndarray:
    """``x`` (num_samples,) scaled to RMS 1 (float32); an all-zero input raises ValueError."""
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    if rms < _EPS:
        raise ValueError("cannot scale a silent signal to unit RMS")
    return (x / rms).astype(np.float32)


def _shaped(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Gaussian noise of ``n`` samples whose power spectrum falls as ``1 / f**exponent``."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    gain = np.zeros_like(freqs)
    gain[1:] = freqs[1:] ** (-exponent / 2.0)  # amplitude ~ f^(-exponent/2); no DC
    return unit_rms(np.fft.irfft(spectrum * gain, n))


def white(n: int, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise, shape (n,)."""
    return unit_rms(rng.standard_normal(n))


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink noise (power ~ 1/f), shape (n,)."""
    return _shaped(n, rng, 1.0)


def brown(n: int, rng: np.random.Generator) -> np.ndarray:
    """Brown noise (power ~ 1/f^2, a random walk without its DC drift), shape (n,)."""
    return _shaped(n, rng, 2.0)


def hum(n: int, rng: np.random.Generator, rate: int = 16000) -> np.ndarray:
    """Mains hum: a 50 or 60 Hz tone, five harmonics with random phases, and faint hiss; shape (n,)."""
    base = float(rng.choice([50.0, 60.0]))
    t = np.arange(n) / rate
    signal = np.zeros(n)
    for k in range(1, 6):
        signal += (0.6**k) * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 2 * np.pi))
    signal = unit_rms(signal) + 0.05 * rng.standard_normal(n)
    return unit_rms(signal)


def fit_length(x: np.ndarray, n: int, offset: int = 0) -> np.ndarray:
    """``x`` (m,) repeated as often as needed and cut to ``n`` samples, starting at ``offset``."""
    if x.shape[0] == 0:
        raise ValueError("cannot fit an empty signal")
    reps = (offset + n) // x.shape[0] + 1
    return np.tile(x, reps)[offset : offset + n]


def babble(n: int, rng: np.random.Generator, talkers: Sequence[np.ndarray]) -> np.ndarray:
    """Several talkers at once: each of ``talkers`` (arrays of shape (m_i,)) at unit RMS, looped
    from a random offset to ``n`` samples, then summed; shape (n,)."""
    if not talkers:
        raise ValueError("babble needs at least one talker")
    total = np.zeros(n)
    for talker in talkers:
        total += fit_length(unit_rms(talker), n, int(rng.integers(0, talker.shape[0])))
    return unit_rms(total)


def make_noise(
    kind: str,
    n: int,
    rng: np.random.Generator,
    rate: int = 16000,
    talkers: Optional[Sequence[np.ndarray]] = None,
) -> np.ndarray:
    """Noise of ``kind`` (one of :data:`NOISE_KINDS`), shape (n,), unit RMS."""
    if kind == "white":
        return white(n, rng)
    if kind == "pink":
        return pink(n, rng)
    if kind == "brown":
        return brown(n, rng)
    if kind == "hum":
        return hum(n, rng, rate)
    if kind == "babble":
        return babble(n, rng, talkers or [])
    raise ValueError(f"unknown noise kind '{kind}' (expected one of {', '.join(NOISE_KINDS)})")


def snr_db(clean: np.ndarray, noise: np.ndarray) -> float:
    """``10 log10(sum(clean^2) / sum(noise^2))`` for two arrays of the same shape (num_samples,)."""
    signal_energy = float(np.sum(np.square(clean, dtype=np.float64)))
    noise_energy = float(np.sum(np.square(noise, dtype=np.float64)))
    if signal_energy < _EPS or noise_energy < _EPS:
        raise ValueError("SNR is undefined for a silent signal or silent noise")
    return 10.0 * np.log10(signal_energy / noise_energy)


def measure_snr(clean: np.ndarray, mixture: np.ndarray) -> float:
    """SNR of ``mixture`` = ``clean`` + noise, both of shape (num_samples,), in dB."""
    return snr_db(clean, mixture.astype(np.float64) - clean.astype(np.float64))


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr: float) -> Tuple[np.ndarray, np.ndarray]:
    """Add ``noise`` to ``clean`` so that the result has SNR ``snr`` dB.

    Args:
        clean: speech, shape (num_samples,).
        noise: noise, shape (num_samples,) (use :func:`fit_length` first if it differs).
        snr: wanted SNR in dB.

    Returns:
        ``(mixture, scaled_noise)``, both float32 of shape (num_samples,), with
        ``mixture = clean + scaled_noise``.  The mixture is not clipped.
    """
    if clean.shape != noise.shape:
        raise ValueError(f"clean {clean.shape} and noise {noise.shape} differ in shape")
    signal_energy = float(np.sum(np.square(clean, dtype=np.float64)))
    noise_energy = float(np.sum(np.square(noise, dtype=np.float64)))
    if signal_energy < _EPS or noise_energy < _EPS:
        raise ValueError("cannot mix at an SNR with silent speech or silent noise")
    gain = np.sqrt(signal_energy / (noise_energy * 10.0 ** (snr / 10.0)))
    scaled = noise.astype(np.float64) * gain
    return (clean.astype(np.float64) + scaled).astype(np.float32), scaled.astype(np.float32)
