"""HiFi-GAN generator of the SpeechT5 release (the network of transformers' ``SpeechT5HifiGan``).

log10-mel frames in, 16 kHz waveform out, ``prod(upsample_rates)`` (= 256) samples per frame:

    normalise with the stored ``mean``/``scale``
    -> 7-tap conv to ``upsample_initial_channel`` channels
    -> per stage: leaky ReLU (0.1), transposed-conv upsampling that halves the channels, then the average
       of one residual stack per resblock kernel size (multi-receptive-field fusion)
    -> leaky ReLU (0.01), 7-tap conv to one channel, tanh

The parameter names here are our own; ``espnet2_speecht5.vocoder.loading`` maps the transformers and the
official (ParallelWaveGAN-style) checkpoints onto them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional as F

FINAL_LEAKY_SLOPE = 0.01  # the activation before the output conv keeps PyTorch's default slope


@dataclass(frozen=True)
class HifiGanConfig:
    """Sizes of the generator; the defaults are the released SpeechT5 vocoder."""

    num_mels: int = 80
    upsample_initial_channel: int = 512
    upsample_rates: Tuple[int, ...] = (4, 4, 4, 4)
    upsample_kernel_sizes: Tuple[int, ...] = (8, 8, 8, 8)
    resblock_kernel_sizes: Tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: Tuple[Tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    leaky_relu_slope: float = 0.1
    normalize_before: bool = True
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes must have the same length")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise ValueError("resblock_kernel_sizes and resblock_dilation_sizes must have the same length")
        if self.upsample_initial_channel % (2 ** len(self.upsample_rates)) != 0:
            raise ValueError("upsample_initial_channel must be divisible by 2 ** number of upsampling stages")

    @property
    def hop_length(self) -> int:
        """Waveform samples produced per input frame."""
        return math.prod(self.upsample_rates)

    def stage_channels(self, stage: int) -> int:
        """Channels after upsampling stage ``stage`` (0-based)."""
        return self.upsample_initial_channel // (2 ** (stage + 1))

    @classmethod
    def from_transformers(cls, config: Dict[str, Any]) -> HifiGanConfig:
        """From a transformers ``SpeechT5HifiGanConfig`` dict (``config.json``); absent fields keep defaults."""
        names = {
            "model_in_dim": "num_mels",
            "upsample_initial_channel": "upsample_initial_channel",
            "upsample_rates": "upsample_rates",
            "upsample_kernel_sizes": "upsample_kernel_sizes",
            "resblock_kernel_sizes": "resblock_kernel_sizes",
            "resblock_dilation_sizes": "resblock_dilation_sizes",
            "leaky_relu_slope": "leaky_relu_slope",
            "normalize_before": "normalize_before",
            "sampling_rate": "sample_rate",
        }
        fields: Dict[str, Any] = {}
        for source, target in names.items():
            if source not in config:
                continue
            value = config[source]
            if target == "resblock_dilation_sizes":
                value = tuple(tuple(int(d) for d in group) for group in value)
            elif isinstance(value, (list, tuple)):
                value = tuple(int(v) for v in value)
            fields[target] = value
        return cls(**fields)


def _same_padding(kernel_size: int, dilation: int) -> int:
    return dilation * (kernel_size - 1) // 2


class ResidualStack(nn.Module):
    """Residual units ``x + conv(lrelu(dilated_conv(lrelu(x))))``, one per dilation; keeps (B, C, N)."""

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int], slope: float) -> None:
        super().__init__()
        self.slope = slope
        self.dilated = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_same_padding(kernel_size, d))
            for d in dilations
        )
        self.smooth = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=_same_padding(kernel_size, 1)) for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, N) -> (B, C, N)."""
        for dilated, smooth in zip(self.dilated, self.smooth):
            y = dilated(F.leaky_relu(x, self.slope))
            x = x + smooth(F.leaky_relu(y, self.slope))
        return x


class UpsampleStage(nn.Module):
    """Leaky ReLU, transposed conv (x``rate`` in time, half the channels), mean of the residual stacks."""

    def __init__(self, config: HifiGanConfig, stage: int) -> None:
        super().__init__()
        rate = config.upsample_rates[stage]
        kernel = config.upsample_kernel_sizes[stage]
        channels = config.stage_channels(stage)
        self.slope = config.leaky_relu_slope
        self.upsample = nn.ConvTranspose1d(2 * channels, channels, kernel, stride=rate, padding=(kernel - rate) // 2)
        self.stacks = nn.ModuleList(
            ResidualStack(channels, k, d, config.leaky_relu_slope)
            for k, d in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 2C, N) -> (B, C, N * rate)."""
        x = self.upsample(F.leaky_relu(x, self.slope))
        total = self.stacks[0](x)
        for stack in self.stacks[1:]:
            total = total + stack(x)
        return total / len(self.stacks)


class HifiGanGenerator(nn.Module):
    """log10-mel -> waveform.

    ``forward(mel (T, num_mels) or (B, T, num_mels)) -> (T * hop,) or (B, T * hop)`` in [-1, 1].
    """

    def __init__(self, config: Optional[HifiGanConfig] = None) -> None:
        super().__init__()
        config = config or HifiGanConfig()
        self.config = config
        self.input_conv = nn.Conv1d(config.num_mels, config.upsample_initial_channel, 7, padding=3)
        self.stages = nn.ModuleList(UpsampleStage(config, i) for i in range(len(config.upsample_rates)))
        self.output_conv = nn.Conv1d(config.stage_channels(len(config.upsample_rates) - 1), 1, 7, padding=3)
        self.register_buffer("mean", torch.zeros(config.num_mels))
        self.register_buffer("scale", torch.ones(config.num_mels))

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        if mel.dim() not in (2, 3) or mel.shape[-1] != self.config.num_mels:
            raise ValueError(
                f"HiFi-GAN expects (T, {self.config.num_mels}) or (B, T, {self.config.num_mels}) log-mel, "
                f"got shape {tuple(mel.shape)}"
            )
        single = mel.dim() == 2
        x = mel.unsqueeze(0) if single else mel  # (B, T, M)
        if self.config.normalize_before:
            x = (x - self.mean) / self.scale
        x = self.input_conv(x.transpose(1, 2))  # (B, C0, T)
        for stage in self.stages:
            x = stage(x)
        x = self.output_conv(F.leaky_relu(x, FINAL_LEAKY_SLOPE))  # (B, 1, T * hop)
        wav = torch.tanh(x).squeeze(1)  # (B, T * hop)
        return wav[0] if single else wav


class HifiGanVocoder:
    """A loaded generator as a vocoder: ``vocoder(mel (T, 80) or (B, T, 80)) -> float waveform (T*256,) / (B, T*256)``.

    Runs without gradients on the generator's device; the result stays there.
    """

    def __init__(self, generator: HifiGanGenerator) -> None:
        self.generator = generator.eval()
        self.sample_rate = generator.sample_rate
        self.hop_length = generator.config.hop_length

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        weight = self.generator.input_conv.weight
        with torch.no_grad():
            return self.generator(torch.as_tensor(mel).to(device=weight.device, dtype=weight.dtype)).float()
