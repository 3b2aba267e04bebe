"""Speech-decoder post-net: decoder states -> mel frames (r per step), stop logits, refined mel."""

from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from espnet2_speecht5.nets.bf16_conv_guard import conv1d_autocast_safe
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.nets.dropout import Dropout


class PostnetConv(nn.Module):
    """Conv1d (no bias, 'same' padding) -> BatchNorm -> tanh (except the last) -> dropout."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, last: bool, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_ch, out_ch, kernel, padding=(kernel - 1) // 2, bias=False)
        self.norm = nn.BatchNorm1d(out_ch)
        self.last = last
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, T) -> (B, C_out, T)."""
        x = self.norm(conv1d_autocast_safe(self.conv, x))
        if not self.last:
            x = torch.tanh(x)
        return self.dropout(x)


class SpeechDecoderPostnet(nn.Module):
    """``feat_out`` (D -> mel·r), ``prob_out`` (D -> r stop logits) and a residual conv post-net."""

    def __init__(self, cfg: SpeechT5Config) -> None:
        super().__init__()
        self.num_mel_bins = cfg.num_mel_bins
        self.reduction_factor = cfg.reduction_factor
        self.feat_out = nn.Linear(cfg.d_model, cfg.num_mel_bins * cfg.reduction_factor)
        self.prob_out = nn.Linear(cfg.d_model, cfg.reduction_factor)
        count = cfg.postnet_layers
        sizes = [cfg.num_mel_bins] + [cfg.postnet_units] * (count - 1) + [cfg.num_mel_bins]
        self.postnet = nn.ModuleList(
            [
                PostnetConv(sizes[i], sizes[i + 1], cfg.postnet_kernel, i == count - 1, cfg.postnet_dropout)
                for i in range(count)
            ]
        )

    def frames(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T·r, num_mel_bins) mel before the post-net."""
        return self.feat_out(hidden).view(hidden.size(0), -1, self.num_mel_bins)

    def stop_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T·r) stop logits."""
        return self.prob_out(hidden).view(hidden.size(0), -1)

    def refine(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, T', mel) -> (B, T', mel): mel + conv post-net(mel)."""
        y = mel.transpose(1, 2)
        for layer in self.postnet:
            y = layer(y)
        return mel + y.transpose(1, 2)

    def forward(self, hidden: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, T, D) -> mel before (B, T·r, mel), mel after (B, T·r, mel), stop logits (B, T·r)."""
        before = self.frames(hidden)
        return before, self.refine(before), self.stop_logits(hidden)
