"""Filter-bank speech-encoder pre-net: an ESPnet front end in place of SpeechT5's waveform conv stack.

    waveform (B, L) -> frontend (e.g. ESPnet's DefaultFrontend: 80 log-mel, 10 ms hop) -> SpecAugment
    (training) -> normalisation (global or utterance MVN) -> ESPnet's Conv2dSubsampling2 (x2 in time:
    20 ms frames, the conv pre-net's rate) -> :class:`FrameEmbedding` (norm, projection, masking,
    positions) -> the shared encoder.

The front end, SpecAugment and normalisation are ESPnet modules built by the task from its
``frontend:``, ``specaug:`` and ``normalize:`` choices and handed in; this module only wires them
and owns the subsampling. Their ESPnet conventions: ``frontend(wav, lengths) -> (feats, lengths)``,
``specaug(feats, lengths) -> (feats, lengths)``, ``normalize(feats, lengths) -> (feats, lengths)``.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from espnet.nets.pytorch_backend.transformer.subsampling import Conv2dSubsampling2
from torch import nn

from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.nets.speech_encoder_prenet import FrameEmbedding


def subsampled_lengths(feat_lengths: torch.Tensor) -> torch.Tensor:
    """(B,) front-end frame counts -> (B,) frames after Conv2dSubsampling2 (a 3x3 conv with stride 2,
    then a 3x3 conv with stride 1): ``(n - 1) // 2 - 2``."""
    return torch.div(feat_lengths - 1, 2, rounding_mode="floor") - 2


class FbankSpeechPrenet(FrameEmbedding):
    """ESPnet front end -> SpecAugment -> normalisation -> Conv2dSubsampling2 -> :class:`FrameEmbedding`.

    Args:
        cfg: the network configuration (``d_model`` is the subsampling's width).
        frontend: an ESPnet ``AbsFrontend`` (its ``output_size()`` is the feature width F).
        normalize: an ESPnet ``AbsNormalize`` (``GlobalMVN`` with the statistics of stage 7, or
            ``UtteranceMVN``), or None.
        specaug: an ESPnet ``AbsSpecAug``, applied in training to the features before normalisation
            (ESPnet's order), or None.
    """

    def __init__(
        self,
        cfg: SpeechT5Config,
        frontend: nn.Module,
        normalize: Optional[nn.Module] = None,
        specaug: Optional[nn.Module] = None,
    ) -> None:
        super().__init__(cfg, cfg.d_model)
        self.frontend = frontend
        self.normalize = normalize
        self.specaug = specaug
        # its own sinusoids are left out (Identity): FrameEmbedding adds SpeechT5's positions
        self.subsample = Conv2dSubsampling2(frontend.output_size(), cfg.d_model, 0.0, pos_enc=nn.Identity())

    def _stft_geometry(self) -> Tuple[int, int, bool]:
        """(hop, n_fft, center) of an STFT front end (ESPnet's DefaultFrontend)."""
        stft = getattr(self.frontend, "stft", None)
        if stft is None:
            raise ValueError(f"frame counts from sample counts need an STFT front end, not "
                             f"{type(self.frontend).__name__}")
        return int(stft.hop_length), int(stft.n_fft), bool(stft.center)

    def frame_lengths(self, sample_lengths: torch.Tensor) -> torch.Tensor:
        """(B,) waveform lengths in samples -> (B,) encoder frames (STFT frames, then the subsampling)."""
        hop, n_fft, center = self._stft_geometry()
        stft_frames = sample_lengths // hop + 1 if center else (sample_lengths - n_fft) // hop + 1
        return subsampled_lengths(stft_frames)

    def samples_for_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """(B,) encoder frame counts -> the fewest samples that give that many frames."""
        hop, n_fft, center = self._stft_geometry()
        stft_frames = 2 * (frames + 2) + 1
        return (stft_frames - 1) * hop + (0 if center else n_fft)

    def frontend_features(
        self, wav: torch.Tensor, wav_lengths: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, L) waveform, (B,) samples -> front-end features (B, T, F) and their lengths (B,): what
        stage 7 collects statistics of (before SpecAugment and normalisation)."""
        if wav_lengths is None:
            wav_lengths = torch.full((wav.size(0),), wav.size(1), dtype=torch.long, device=wav.device)
        feats, feat_lengths = self.frontend(wav, wav_lengths)
        return feats, feat_lengths

    def extract_features(
        self, wav: torch.Tensor, wav_lengths: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Front end, SpecAugment (training), normalisation and subsampling: a (B, L) waveform at 16 kHz
        and its (B,) lengths (or None) -> features (B, T', d_model), frame lengths (B,) and ``valid``
        (B, T'), as :meth:`FrameEmbedding.extract_features`."""
        feats, feat_lengths = self.frontend_features(wav, wav_lengths)
        feats = self.augment(feats, feat_lengths)
        if self.normalize is not None:
            feats, feat_lengths = self.normalize(feats, feat_lengths)
        if feats.size(1) < 7:
            raise ValueError(f"{feats.size(1)} front-end frames: the subsampling needs at least 7 "
                             f"(wave lengths {wav.size(1)} samples)")
        features, _ = self.subsample(feats, None)
        if wav_lengths is None:
            return features, None, None
        length = features.size(1)
        frame_lengths = subsampled_lengths(feat_lengths.to(features.device)).clamp(min=1, max=length)
        valid = torch.arange(length, device=features.device)[None, :] < frame_lengths[:, None]
        return features, frame_lengths, valid
