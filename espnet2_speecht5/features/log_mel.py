"""SpeechT5 log-mel target features (the spectrogram the speech decoder predicts and HiFi-GAN consumes).

The parameters are those of the official SpeechT5 recipes and of transformers' ``SpeechT5FeatureExtractor``
(``audio_target=``): 16 kHz audio, 1024-point FFT over a 1024-sample periodic Hann window, hop 256, frames
centred with reflect padding, magnitude spectrum, 80 Slaney-normalised Slaney-scale mel bands over 80-7600 Hz,
``log10(max(mel, 1e-10))``, no mean/variance normalisation.

Why a subclass of ESPnet's ``LogMelFbank`` rather than the class itself: ESPnet floors the *power* spectrum
at 1e-10 before the square root, i.e. every STFT bin gets a magnitude of at least 1e-5. SpeechT5 floors only
the mel energies. On speech with some noise the two agree to ~1e-5, but wherever the STFT is near zero
(digital silence, band-limited or very quiet audio) ESPnet's floor lifts the log-mel from -10 to about -7,
which would make targets disagree with the released models and vocoder by up to ~4 log10 units.
``SpeechT5LogMel`` keeps ESPnet's STFT and mel layers (and the ``AbsFeatsExtract`` interface, so it can
serve as an ESPnet ``feats_extract``) and only drops that magnitude floor.
"""

from __future__ import annotations

import functools
from typing import Optional, Tuple, Union

import numpy as np
import torch
from espnet2.tts.feats_extract.log_mel_fbank import LogMelFbank

SAMPLE_RATE = 16000
N_FFT = 1024
WIN_LENGTH = 1024
HOP_LENGTH = 256
WINDOW = "hann"
NUM_MELS = 80
FMIN = 80
FMAX = 7600
LOG_BASE = 10.0
MEL_FLOOR = 1e-10


def num_frames(num_samples: int) -> int:
    """Number of log-mel frames for ``num_samples`` samples of audio (centred frames: one per hop, plus one)."""
    return 1 + num_samples // HOP_LENGTH


class SpeechT5LogMel(LogMelFbank):
    """ESPnet ``LogMelFbank`` with the SpeechT5 parameters and no floor on the STFT magnitude.

    ``forward(input (B, L), input_lengths (B,) or None) -> (feats (B, T, 80), lengths (B,) or None)``
    where ``T = 1 + L // 256``; frames past a length are zero, as in ESPnet.
    """

    def __init__(self) -> None:
        super().__init__(
            fs=SAMPLE_RATE,
            n_fft=N_FFT,
            win_length=WIN_LENGTH,
            hop_length=HOP_LENGTH,
            window=WINDOW,
            center=True,
            normalized=False,
            onesided=True,
            n_mels=NUM_MELS,
            fmin=FMIN,
            fmax=FMAX,
            htk=False,
            log_base=LOG_BASE,
        )

    def forward(
        self, input: torch.Tensor, input_lengths: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        spec, lengths = self.stft(input, input_lengths)  # (B, T, F, 2): real and imaginary parts
        magnitude = torch.linalg.vector_norm(spec, dim=-1)  # (B, T, F)
        feats, _ = self.logmel(magnitude, lengths)  # mel energies floored at 1e-10, then log10
        return feats, lengths


def build_log_mel() -> LogMelFbank:
    """A fresh SpeechT5 log-mel extractor (an ESPnet ``LogMelFbank``), in eval mode."""
    return SpeechT5LogMel().eval()


@functools.lru_cache(maxsize=1)
def _shared_extractor() -> LogMelFbank:
    return build_log_mel()


def log_mel(wav: Union[np.ndarray, torch.Tensor]) -> torch.Tensor:
    """SpeechT5 log10-mel of one 16 kHz waveform.

    Args:
        wav: (L,) float samples in [-1, 1].

    Returns:
        (1 + L // 256, 80) float32 tensor.
    """
    samples = torch.as_tensor(wav)
    if samples.dim() != 1:
        raise ValueError(f"log_mel expects a 1-D waveform, got shape {tuple(samples.shape)}")
    if not samples.is_floating_point():
        raise ValueError(f"log_mel expects float samples, got dtype {samples.dtype}")
    with torch.no_grad():
        feats, _ = _shared_extractor()(samples.float().unsqueeze(0))
    return feats[0]
