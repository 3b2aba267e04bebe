"""Mel-cepstral distortion (MCD) between a synthesised utterance and its recording.

Both signals go through the same analysis:

1. WORLD (pyworld): F0 with ``harvest`` (or ``dio`` refined by ``stonemask``), then the
   pitch-adaptive spectral envelope from ``cheaptrick``, one frame every ``frame_period`` ms;
2. pysptk's ``sp2mc``: the envelope as a mel-cepstrum of ``order`` coefficients plus c0, with the
   all-pass constant ``alpha`` that fits the mel scale at the sampling rate (:func:`mcep_alpha`).

c0 (the frame energy) is dropped.  The two cepstrum sequences are aligned by dynamic time
warping (``librosa.sequence.dtw``, Euclidean frame distance), and the MCD is the mean over the
aligned frame pairs of::

    (10 / ln 10) * sqrt(2 * sum_d (c_d - c'_d) ** 2)        d = 1 .. order

in dB.  No silence is trimmed: leading and trailing pauses are part of what is compared.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from espnet2_speecht5.runtime.errors import DataError

DB_PER_NEPER = 10.0 / math.log(10.0)  # (10 / ln 10): natural-log cepstra to decibels
DEFAULT_ORDER = 24
DEFAULT_FRAME_PERIOD_MS = 5.0
F0_METHODS = ("harvest", "dio")
ALIGNMENTS = ("dtw", "none")
# The all-pass constants used with SPTK at the usual rates; other rates get pysptk's best fit.
MCEP_ALPHAS = {8000: 0.31, 16000: 0.42, 22050: 0.45, 24000: 0.46, 44100: 0.53, 48000: 0.55}


def _pysptk():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pysptk.util imports the deprecated pkg_resources
            import pysptk
            import pysptk.util  # noqa: F401
    except ImportError:
        raise DataError("MCD needs pysptk: pip install pysptk (see tools/requirements.txt)") from None
    return pysptk


def mcep_alpha(rate: int) -> float:
    """The frequency-warping constant of the mel-cepstrum at ``rate`` Hz (0.42 at 16 kHz)."""
    if rate in MCEP_ALPHAS:
        return MCEP_ALPHAS[rate]
    return round(float(_pysptk().util.mcepalpha(rate)), 3)


def spectral_envelope(
    wav: np.ndarray, rate: int, frame_period: float = DEFAULT_FRAME_PERIOD_MS, f0_method: str = "harvest"
) -> np.ndarray:
    """WORLD's spectral envelope of a mono signal.

    Args:
        wav: (num_samples,) samples in [-1, 1].
        rate: sampling rate in Hz.

    Returns:
        (num_frames, fft_size // 2 + 1) power spectral envelope, one frame every ``frame_period`` ms.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyworld imports the deprecated pkg_resources
        import pyworld

    if f0_method not in F0_METHODS:
        raise DataError(f"unknown F0 method '{f0_method}' (choose from {', '.join(F0_METHODS)})")
    x = np.ascontiguousarray(wav, dtype=np.float64)
    if f0_method == "harvest":
        f0, times = pyworld.harvest(x, rate, frame_period=frame_period)
    else:
        f0, times = pyworld.dio(x, rate, frame_period=frame_period)
        f0 = pyworld.stonemask(x, f0, times, rate)
    return pyworld.cheaptrick(x, f0, times, rate)


def mel_cepstrum(
    wav: np.ndarray,
    rate: int,
    order: int = DEFAULT_ORDER,
    alpha: Optional[float] = None,
    frame_period: float = DEFAULT_FRAME_PERIOD_MS,
    f0_method: str = "harvest",
) -> np.ndarray:
    """Mel-cepstra of a mono signal.

    Args:
        wav: (num_samples,) samples.
        alpha: all-pass constant; None picks :func:`mcep_alpha` of ``rate``.

    Returns:
        (num_frames, order + 1) mel-cepstra, c0 in column 0.
    """
    envelope = spectral_envelope(wav, rate, frame_period, f0_method)
    alpha = mcep_alpha(rate) if alpha is None else alpha
    return _pysptk().sp2mc(envelope, order=order, alpha=alpha)


def frame_distortion(ref: np.ndarray, hyp: np.ndarray) -> np.ndarray:
    """The MCD of each pair of frames, in dB.

    Args:
        ref, hyp: (num_pairs, dim) cepstra without c0, row i of one paired with row i of the other.

    Returns:
        (num_pairs,) values ``(10 / ln 10) * sqrt(2 * sum_d (ref_d - hyp_d) ** 2)``.
    """
    squared = np.sum((ref - hyp) ** 2, axis=1)
    return DB_PER_NEPER * np.sqrt(2.0 * squared)


def aligned_frames(ref: np.ndarray, hyp: np.ndarray, align: str = "dtw") -> Tuple[np.ndarray, np.ndarray]:
    """Indices of the frame pairs to compare.

    Args:
        ref: (T_ref, dim) and hyp: (T_hyp, dim) cepstra.
        align: ``dtw`` (the minimum-cost warping path) or ``none`` (frame i with frame i,
            over the shorter length).

    Returns:
        ``(ref_index, hyp_index)``: two (num_pairs,) integer arrays, in time order.
    """
    if align == "none":
        index = np.arange(min(len(ref), len(hyp)))
        return index, index
    if align != "dtw":
        raise DataError(f"unknown alignment '{align}' (choose from {', '.join(ALIGNMENTS)})")
    import librosa

    _, path = librosa.sequence.dtw(X=ref.T, Y=hyp.T, metric="euclidean")
    path = path[::-1]  # librosa returns the path from the end backwards
    return path[:, 0], path[:, 1]


def mel_cepstral_distortion(ref_mc: np.ndarray, hyp_mc: np.ndarray, align: str = "dtw") -> float:
    """The MCD in dB between two mel-cepstrum sequences, averaged over aligned frames.

    Args:
        ref_mc: (T_ref, order + 1) and hyp_mc: (T_hyp, order + 1) mel-cepstra with c0 in
            column 0 (dropped here).
        align: see :func:`aligned_frames`.
    """
    if ref_mc.ndim != 2 or hyp_mc.ndim != 2 or ref_mc.shape[1] != hyp_mc.shape[1] or ref_mc.shape[1] < 2:
        raise ValueError(f"need two (frames, order + 1) arrays of the same order, got {ref_mc.shape} {hyp_mc.shape}")
    if len(ref_mc) == 0 or len(hyp_mc) == 0:
        raise ValueError("an empty mel-cepstrum sequence has no MCD")
    ref, hyp = ref_mc[:, 1:], hyp_mc[:, 1:]
    ref_index, hyp_index = aligned_frames(ref, hyp, align)
    return float(np.mean(frame_distortion(ref[ref_index], hyp[hyp_index])))


@dataclass
class MCDScorer:
    """MCD between two waveforms with fixed analysis settings.

    Attributes:
        order: mel-cepstrum order (coefficients besides c0).
        alpha: all-pass constant; None: :func:`mcep_alpha` of the signals' rate.
        frame_period: WORLD frame shift in ms.
        f0_method: ``harvest`` or ``dio``.
        align: ``dtw`` or ``none``.
    """

    order: int = DEFAULT_ORDER
    alpha: Optional[float] = None
    frame_period: float = DEFAULT_FRAME_PERIOD_MS
    f0_method: str = "harvest"
    align: str = "dtw"

    def __post_init__(self) -> None:
        if self.f0_method not in F0_METHODS:
            raise DataError(f"unknown F0 method '{self.f0_method}' (choose from {', '.join(F0_METHODS)})")
        if self.align not in ALIGNMENTS:
            raise DataError(f"unknown alignment '{self.align}' (choose from {', '.join(ALIGNMENTS)})")
        if self.order < 1:
            raise DataError(f"the mel-cepstrum order must be at least 1, got {self.order}")
        if self.alpha is not None and not -1.0 < self.alpha < 1.0:
            raise DataError(f"the all-pass constant alpha must lie in (-1, 1), got {self.alpha}")

    def cepstra(self, wav: np.ndarray, rate: int) -> np.ndarray:
        """(num_frames, order + 1) mel-cepstra of one (num_samples,) signal."""
        return mel_cepstrum(wav, rate, self.order, self.alpha, self.frame_period, self.f0_method)

    def __call__(self, ref_wav: np.ndarray, hyp_wav: np.ndarray, rate: int) -> float:
        """MCD in dB between two (num_samples,) signals sampled at ``rate``."""
        return mel_cepstral_distortion(self.cepstra(ref_wav, rate), self.cepstra(hyp_wav, rate), self.align)
