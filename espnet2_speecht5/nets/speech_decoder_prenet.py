"""Speech-decoder pre-net: previous mel frames (+ speaker x-vector) -> (B, T, d_model)."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.nets.positions import ScaledPositionalEncoding


class SpeechDecoderPrenet(nn.Module):
    """Linear+ReLU+dropout layers -> Linear -> scaled sinusoids -> speaker fusion.

    The pre-net dropout is Tacotron 2's: it stays on at inference when ``always_dropout`` is set
    (the default, as SpeechT5 does), with one mask per (frame, unit) shared across the batch.
    Speaker fusion L2-normalises the x-vector, concatenates it to every frame and applies
    Linear(D + spk -> D) + ReLU.
    """

    def __init__(self, cfg: SpeechT5Config, always_dropout: bool = True) -> None:
        super().__init__()
        sizes = [cfg.num_mel_bins] + [cfg.speech_prenet_units] * cfg.speech_prenet_layers
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
        self.final_layer = nn.Linear(sizes[-1], cfg.d_model)
        self.positions = ScaledPositionalEncoding(cfg.d_model, cfg.positional_dropout)
        self.speaker_proj = nn.Linear(cfg.d_model + cfg.speaker_embedding_dim, cfg.d_model)
        self.dropout = cfg.speech_prenet_dropout
        self.always_dropout = always_dropout

    def _dropout(self, x: torch.Tensor) -> torch.Tensor:
        """Dropout with one mask for the whole batch: x (B, T, U)."""
        if self.dropout <= 0.0 or not (self.training or self.always_dropout):
            return x
        keep = torch.rand(x.shape[1:], device=x.device) >= self.dropout
        return x * keep.to(x.dtype) / (1.0 - self.dropout)

    def forward(self, mel: torch.Tensor, speaker: Optional[torch.Tensor] = None, start: int = 0) -> torch.Tensor:
        """Embed decoder input frames.

        Args:
            mel: (B, T, num_mel_bins) previous frames (shifted right; zeros at the start).
            speaker: (B, speaker_embedding_dim) x-vector, or None to skip speaker fusion.
            start: position of mel[:, 0] (for step-by-step generation).

        Returns:
            (B, T, D).
        """
        x = mel
        for layer in self.layers:
            x = self._dropout(F.relu(layer(x)))
        x = self.positions(self.final_layer(x), start=start)
        if speaker is not None:
            spk = F.normalize(speaker, dim=-1).unsqueeze(1).expand(-1, x.size(1), -1)
            x = F.relu(self.speaker_proj(torch.cat([x, spk.to(x.dtype)], dim=-1)))
        return x
