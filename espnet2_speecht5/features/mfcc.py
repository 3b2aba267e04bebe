"""39-dim MFCC for the first k-means iteration of pre-training labels (HuBERT's recipe).

Frame ``i`` is the 25 ms window ``[hop i, hop i + 400)`` of the 16 kHz waveform (no padding). With
the default hop of 320 samples (50 Hz), an utterance of ``L`` samples has ``(L - 400) // 320 + 1``
frames: the frame count of SpeechT5's conv feature extractor and of
:func:`espnet2_speecht5.data.speech_labels.label_frames`; labels at 100 Hz use a hop of 160.

Per frame: pre-emphasis 0.97, Hamming window, 400-point power spectrum, 40 mel bands
(20 Hz - 7.6 kHz), log, DCT-II to 13 cepstra; then deltas and delta-deltas (5-frame regression)
and per-utterance mean and variance normalisation: (frames, 39).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torchaudio.functional as AF

from espnet2_speecht5.data.speech_labels import LABEL_HOP, LABEL_WINDOW

SAMPLE_RATE = 16000
NUM_MELS = 40
NUM_CEPS = 13
MFCC_DIM = 3 * NUM_CEPS


@functools.lru_cache(maxsize=2)
def _tables(window: int) -> tuple:
    """(hamming window (W,), mel filterbank (W//2+1, 40), DCT matrix (40, 13))."""
    mel = AF.melscale_fbanks(window // 2 + 1, 20.0, 7600.0, NUM_MELS, SAMPLE_RATE, norm=None, mel_scale="htk")
    dct = AF.create_dct(NUM_CEPS, NUM_MELS, norm="ortho")
    return torch.hamming_window(window, periodic=False, dtype=torch.float64), mel.double(), dct.double()


def mfcc_39(wave: np.ndarray, hop: int = LABEL_HOP, window: int = LABEL_WINDOW) -> np.ndarray:
    """16 kHz mono waveform (L,) -> (frames, 39) float32 MFCC + deltas + delta-deltas (empty if L < window).

    Computed in float64, so the result does not depend on the thread count.
    """
    x = torch.as_tensor(np.asarray(wave, dtype=np.float64).reshape(-1))
    if x.numel() < window:
        return np.zeros((0, MFCC_DIM), dtype=np.float32)
    frames = x.unfold(0, window, hop)  # (T, W)
    frames = frames - frames.mean(dim=1, keepdim=True)
    frames = torch.cat([frames[:, :1], frames[:, 1:] - 0.97 * frames[:, :-1]], dim=1)
    hamming, mel, dct = _tables(window)
    power = torch.fft.rfft(frames * hamming, n=window).abs().pow(2)  # (T, W//2+1)
    log_mel = torch.log(power @ mel + 1e-10)
    ceps = log_mel @ dct  # (T, 13)
    deltas = AF.compute_deltas(ceps.t().unsqueeze(0), win_length=5)
    delta2 = AF.compute_deltas(deltas, win_length=5)
    feats = torch.cat([ceps.t().unsqueeze(0), deltas, delta2], dim=1)[0].t()  # (T, 39)
    feats = (feats - feats.mean(dim=0)) / feats.std(dim=0, unbiased=False).clamp(min=1e-5)
    return feats.float().numpy()
