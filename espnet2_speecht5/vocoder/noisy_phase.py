"""Enhanced waveform from a predicted clean log-mel and the noisy recording, keeping the noisy phase.

An SE model predicts the clean log10-mel (T, 80) of its noisy input. A mel-to-wave vocoder
(Griffin-Lim here, with no trained HiFi-GAN at hand) must invent the phase and the fine spectral
structure that 80 mel bands drop, and its artefacts cap PESQ at about 1.2 whatever the model does.
Enhancement has the noisy recording itself, so this resynthesis uses the prediction as a gain:

1. the noisy wave's STFT X (T, 513), with the analysis of the features (1024-point Hann window,
   hop 256, centred: frame t is the frame t of the model's log-mel);
2. its mel magnitudes N (T, 80) = W |X| with the same Slaney mel basis W (80, 513) as the features;
3. the mel gain g = clip(gain_scale * 10^mel / N, gain_floor, 1): how much of each noisy band the
   model keeps (a gain never amplifies: what the noise hid cannot be restored by a gain);
4. the linear-frequency gain G (T, 513): each bin takes the mean of the band gains weighted by its
   mel-filter weights; bins outside 80-7600 Hz, where no filter reaches, take the nearest covered bin's;
5. the inverse STFT of G * X, cut to the noisy length: the noisy phase and harmonics, the predicted
   clean envelope.

The gain needs frame t of the prediction to be frame t of the recording. :class:`Speech2Speech`
therefore generates exactly the recording's number of frames when this resynthesis is chosen (SE
targets are the same utterance, so the stop token is not needed); a prediction of another length is
stretched linearly in time onto the recording's frames.

It is the usual mask-based resynthesis of spectral-masking enhancement, with the mask read off
the predicted mel. ``gain_floor`` (default 0.1, -20 dB) keeps some residual noise rather than
carving holes into the spectrum ("musical noise"). ``gain_scale`` (default 1) scales the predicted
clean magnitudes before the division: a model trained with an L1 loss on the log-mel predicts a
smoothed, too low envelope where it is unsure, and since a gain is clipped at 1, over-estimating
costs only some residual noise while under-estimating removes speech. A recipe picks it on its
dev set (mini se1: 2).
"""

from __future__ import annotations

from typing import Union

import librosa
import numpy as np
import torch

from espnet2_speecht5.features.log_mel import (
    FMAX,
    FMIN,
    HOP_LENGTH,
    LOG_BASE,
    MEL_FLOOR,
    N_FFT,
    NUM_MELS,
    SAMPLE_RATE,
    WIN_LENGTH,
)

DEFAULT_GAIN_FLOOR = 0.1


def mel_basis() -> np.ndarray:
    """(80, 513) Slaney mel filters of the SpeechT5 features (librosa's defaults, as ESPnet's LogMel)."""
    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=NUM_MELS, fmin=FMIN, fmax=FMAX)


def mel_to_linear_gain(mel_gain: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """(T, 80) band gains -> (T, 513) bin gains: filter-weighted means; uncovered bins copy the nearest."""
    weights = basis.sum(axis=0)  # (513,)
    covered = np.flatnonzero(weights > 0)
    gain = np.empty((mel_gain.shape[0], basis.shape[1]), dtype=np.float64)
    gain[:, covered] = (mel_gain @ basis[:, covered]) / weights[covered]
    nearest = covered[np.abs(np.arange(basis.shape[1])[:, None] - covered[None, :]).argmin(axis=1)]
    return gain[:, nearest]


def stretch_frames(frames: np.ndarray, length: int) -> np.ndarray:
    """(T, D) -> (length, D) by linear interpolation in time (identity when T == length)."""
    if frames.shape[0] == length:
        return frames
    source = np.linspace(0.0, 1.0, frames.shape[0])
    target = np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(target, source, frames[:, d]) for d in range(frames.shape[1])], axis=1)


class NoisyPhaseResynthesis:
    """``resynthesis(mel (T, 80), noisy (L,)) -> enhanced waveform (L,)`` float32 at 16 kHz.

    Args:
        gain_floor: the smallest gain (0 < floor <= 1); 0.1 is -20 dB.
        gain_scale: factor on the predicted clean magnitudes (> 1 keeps more of the noisy input).
        log_base: base of the logarithm of the predicted mel (10 for SpeechT5).
    """

    sample_rate = SAMPLE_RATE
    hop_length = HOP_LENGTH
    needs_source = True

    def __init__(self, gain_floor: float = DEFAULT_GAIN_FLOOR, gain_scale: float = 1.0,
                 log_base: float = LOG_BASE) -> None:
        if not 0.0 < gain_floor <= 1.0:
            raise ValueError(f"gain_floor must be in (0, 1], got {gain_floor}")
        if gain_scale <= 0.0:
            raise ValueError(f"gain_scale must be positive, got {gain_scale}")
        self.gain_scale = gain_scale
        if log_base <= 0 or log_base == 1:
            raise ValueError(f"log_base must be positive and not 1, got {log_base}")
        self.gain_floor = gain_floor
        self.log_base = log_base
        self.basis = mel_basis()
        self.window = torch.hann_window(WIN_LENGTH, dtype=torch.float64)

    @staticmethod
    def num_frames(num_samples: int) -> int:
        """Frames of the features (and of this STFT) for a recording of ``num_samples``."""
        return 1 + num_samples // HOP_LENGTH

    def gains(self, mel: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
        """mel (T', 80) predicted log mel, magnitude (T, 513) noisy |STFT| -> (T, 513) gains in [floor, 1]."""
        mel = stretch_frames(np.asarray(mel, dtype=np.float64), magnitude.shape[0])
        predicted = self.gain_scale * np.power(self.log_base, mel)  # (T, 80) clean mel magnitudes
        noisy = np.maximum(magnitude @ self.basis.T, MEL_FLOOR)  # (T, 80)
        band_gain = np.clip(predicted / noisy, self.gain_floor, 1.0)
        return np.clip(mel_to_linear_gain(band_gain, self.basis), self.gain_floor, 1.0)

    def __call__(self, mel: Union[np.ndarray, torch.Tensor], source: Union[np.ndarray, torch.Tensor]) -> torch.Tensor:
        mel_array = torch.as_tensor(mel).detach().cpu().double().numpy()
        if mel_array.ndim != 2 or mel_array.shape[1] != NUM_MELS or mel_array.shape[0] == 0:
            raise ValueError(f"the resynthesis expects a (T, {NUM_MELS}) log-mel with T > 0, got {mel_array.shape}")
        noisy = torch.as_tensor(source).detach().cpu().double().reshape(-1)
        if noisy.numel() == 0:
            raise ValueError("the resynthesis needs the noisy recording; got an empty one")
        pad_mode = "reflect" if noisy.numel() > N_FFT // 2 else "constant"  # reflect needs L > 512
        spec = torch.stft(noisy, N_FFT, HOP_LENGTH, WIN_LENGTH, self.window, center=True,
                          pad_mode=pad_mode, return_complex=True).T  # (T, 513)
        gain = torch.from_numpy(self.gains(mel_array, spec.abs().numpy()))
        wav = torch.istft((spec * gain).T, N_FFT, HOP_LENGTH, WIN_LENGTH, self.window, center=True,
                          length=noisy.numel())
        out = wav.float()
        return out.to(mel.device) if isinstance(mel, torch.Tensor) else out
