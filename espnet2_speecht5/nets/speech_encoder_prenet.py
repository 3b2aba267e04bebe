"""Speech-encoder pre-net: raw 16 kHz waveform -> (B, T, d_model) frames at 50 Hz (base)."""

from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from espnet2_speecht5.nets import recompute as recompute_policy
from espnet2_speecht5.nets.bf16_conv_guard import bf16_conv_agrees, conv1d_autocast_safe
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.nets.dropout import Dropout
from espnet2_speecht5.nets.encoder import activation_fn
from espnet2_speecht5.nets.masking import span_mask
from espnet2_speecht5.nets.positions import fairseq_sinusoids, positions_from_mask


class ConvBlock(nn.Module):
    """Conv1d -> optional norm (GroupNorm with one group per channel, or LayerNorm over channels) -> activation.

    With ``recompute_norm`` (training only), the normalised features between the norm and the
    activation are not kept for the backward pass but recomputed from the convolution's output:
    for the first block of the base network that is a (B, 512, L / 5) tensor, 268 MB for 8 x 5 s.
    A convolution that reads one channel (the first block, on the waveform) is cheap and is
    recomputed too, so its output is not kept either. Blocks whose output is under
    :data:`~espnet2_speecht5.nets.recompute.RECOMPUTE_MIN_BYTES` keep everything.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        stride: int,
        bias: bool,
        norm: Optional[str],
        activation: str,
        recompute_norm: bool = False,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_ch, out_ch, kernel, stride=stride, bias=bias)
        self.norm_kind = norm
        self.recompute_norm = recompute_norm
        if norm == "group":
            self.norm = nn.GroupNorm(out_ch, out_ch, affine=True)
        elif norm == "layer":
            self.norm = nn.LayerNorm(out_ch)
        self.act = activation_fn(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, L) -> (B, C_out, L'); or (B, C_in, 1, L) channels-last -> (B, C_out, 1, L') channels-last
        (see :meth:`ConvFeatureExtractor.forward`)."""
        recompute = (
            self.norm_kind is not None
            and self.recompute_norm
            and self.training
            and torch.is_grad_enabled()
            and self.output_bytes(x) >= recompute_policy.RECOMPUTE_MIN_BYTES
        )
        if recompute and self.conv.in_channels == 1:
            return checkpoint(self._whole_block, x, use_reentrant=False)
        x = self._convolve(x)
        if recompute:
            return checkpoint(self._norm_and_activation, x, use_reentrant=False)
        return self._norm_and_activation(x)

    def output_bytes(self, x: torch.Tensor) -> int:
        """Bytes of this block's float32 output for the input ``x`` (B, C_in, [1,] L)."""
        frames = (x.size(-1) - self.conv.kernel_size[0]) // self.conv.stride[0] + 1
        return 4 * x.size(0) * self.conv.out_channels * max(frames, 0)

    def _convolve(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            weight = self.conv.weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)
            return F.conv2d(x, weight, self.conv.bias, stride=(1, self.conv.stride[0]))
        return conv1d_autocast_safe(self.conv, x)

    def plain_conv(self) -> bool:
        """No padding, dilation or groups, and no norm that needs the (B, C, L) layout."""
        conv = self.conv
        return conv.padding in (0, (0,)) and conv.dilation == (1,) and conv.groups == 1 and self.norm_kind != "layer"

    def _whole_block(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, L) -> (B, C_out, L'): convolution, norm and activation."""
        return self._norm_and_activation(self._convolve(x))

    def _norm_and_activation(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_out, L') convolution output -> the same shape, normalised and activated."""
        if self.norm_kind == "group":
            x = self.norm(x)
        elif self.norm_kind == "layer":
            x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        return self.act(x)


class ConvFeatureExtractor(nn.Module):
    """wav2vec 2.0 conv stack over the waveform (base: 7 convs, 512 channels, 320 samples a frame)."""

    def __init__(self, cfg: SpeechT5Config) -> None:
        super().__init__()
        blocks = []
        in_ch = 1
        for index, (out_ch, kernel, stride) in enumerate(zip(cfg.conv_channels, cfg.conv_kernels, cfg.conv_strides)):
            if cfg.conv_norm == "layer":
                norm = "layer"
            else:
                norm = "group" if index == 0 else None
            blocks.append(
                ConvBlock(in_ch, out_ch, kernel, stride, cfg.conv_bias, norm, cfg.activation, cfg.recompute_activations)
            )
            in_ch = out_ch
        self.layers = nn.ModuleList(blocks)
        self.kernels = cfg.conv_kernels
        self.strides = cfg.conv_strides

    def output_lengths(self, lengths: Union[torch.Tensor, int]) -> Union[torch.Tensor, int]:
        """Number of frames for ``lengths`` samples: floor((n - kernel) / stride) + 1 per conv."""
        for kernel, stride in zip(self.kernels, self.strides):
            lengths = (lengths - kernel) // stride + 1
        return lengths

    def channels_last(self, wav: torch.Tensor) -> bool:
        """Whether to run the stack as 2-D convolutions on channels-last (B, C, 1, L) tensors: under
        CPU bf16 autocast, where oneDNN otherwise reorders every (B, C, L) input, output and gradient
        to and from its own layout (about 1 s of a 7 s base training step with 8 x 5 s; the 2-D
        channels-last convolutions skip those copies). Float32 keeps the 1-D path, which is faster there."""
        return (
            wav.device.type == "cpu"
            and torch.is_autocast_enabled("cpu")
            and torch.get_autocast_dtype("cpu") == torch.bfloat16
            and all(block.plain_conv() and bf16_conv_agrees(block.conv) for block in self.layers)
        )

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, L) samples -> (B, T, C) features."""
        if self.channels_last(wav):
            x = wav.unsqueeze(1)
            for block in self.layers:
                # The GroupNorm block (the first) stays 1-D: GroupNorm's backward is ~6x slower on
                # channels-last input. The blocks after it get channels-last (B, C, 1, L).
                if block.norm_kind != "group" and x.dim() == 3:
                    x = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
                x = block(x)
            return x.flatten(2).transpose(1, 2)  # channels-last (B, C, 1, T) is (B, T, C) in memory
        x = wav.unsqueeze(1)
        for block in self.layers:
            x = block(x)
        return x.transpose(1, 2)


class ConvPositionalEmbedding(nn.Module):
    """Weight-normalised grouped Conv1d over time, dropping the last frame for even kernels, then activation."""

    def __init__(self, d_model: int, kernel: int, groups: int, activation: str) -> None:
        super().__init__()
        conv = nn.Conv1d(d_model, d_model, kernel, padding=kernel // 2, groups=groups)
        self.conv = nn.utils.parametrizations.weight_norm(conv, name="weight", dim=2)
        self.trim = 1 if kernel % 2 == 0 else 0
        self.act = activation_fn(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, D)."""
        y = conv1d_autocast_safe(self.conv, x.transpose(1, 2))
        if self.trim:
            y = y[:, :, : -self.trim]
        return self.act(y).transpose(1, 2)


class FrameEmbedding(nn.Module):
    """Frame features (B, T, C) -> LayerNorm -> Linear -> span masking (training) -> + conv positions -> + sinusoids.

    The second half of every speech-encoder pre-net; a subclass makes the (B, T, C) features
    (:meth:`extract_features`). The sinusoidal positions are fairseq's (padding index ``pad_id``,
    so frame n gets position pad_id + n + 1; padded frames get a zero vector).

    Args:
        cfg: the network configuration.
        feature_dim: C, the width of the features the subclass makes.
    """

    def __init__(self, cfg: SpeechT5Config, feature_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.feature_norm = nn.LayerNorm(feature_dim, eps=cfg.layer_norm_eps)
        self.feature_proj = nn.Linear(feature_dim, cfg.d_model)
        self.feature_dropout = Dropout(cfg.feature_proj_dropout)
        if cfg.mask_time_prob > 0.0 or cfg.mask_channel_prob > 0.0:
            self.mask_emb = nn.Parameter(torch.empty(cfg.d_model).uniform_())
        else:
            self.register_parameter("mask_emb", None)
        self.pos_conv = ConvPositionalEmbedding(cfg.d_model, cfg.pos_conv_kernel, cfg.pos_conv_groups, cfg.activation)
        # ESPnet's SpecAugment (an ``AbsSpecAug``: ``(x, lengths) -> (x, lengths)``), applied to the
        # (B, T, C) features in training; set by the task (``specaug:``), None by default
        self.specaug: Optional[nn.Module] = None

    def extract_features(
        self, wav: torch.Tensor, wav_lengths: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        """(B, L) waveform, (B,) lengths -> features (B, T, C), frame lengths (B,) and valid (B, T)
        (both None without lengths)."""
        raise NotImplementedError

    def augment(self, features: torch.Tensor, frame_lengths: Optional[torch.Tensor]) -> torch.Tensor:
        """SpecAugment's time warping and time/feature masks on (B, T, C) features, in training only."""
        if self.specaug is None or not self.training:
            return features
        if frame_lengths is None:
            frame_lengths = torch.full((features.size(0),), features.size(1), dtype=torch.long, device=features.device)
        augmented, _ = self.specaug(features, frame_lengths)
        return augmented

    def apply_masking(
        self, x: torch.Tensor, frame_lengths: Optional[torch.Tensor], time_mask: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Replace masked frames by ``mask_emb`` and zero masked channels; only in training
        (or when an explicit ``time_mask`` (B, T) is given).

        Returns:
            the masked (B, T, D) features and the (B, T) time mask used (None if none).
        """
        cfg = self.cfg
        batch, length, dim = x.shape
        if time_mask is None and self.training and cfg.apply_masking and cfg.mask_time_prob > 0.0:
            time_mask = span_mask(
                batch, length, cfg.mask_time_prob, cfg.mask_time_length, cfg.mask_time_min_masks, frame_lengths
            ).to(x.device)
        if time_mask is not None:
            x = torch.where(time_mask.unsqueeze(-1), self.mask_emb.to(x.dtype), x)
        if self.training and cfg.apply_masking and cfg.mask_channel_prob > 0.0:
            channels = span_mask(batch, dim, cfg.mask_channel_prob, cfg.mask_channel_length, cfg.mask_channel_min_masks)
            x = x.masked_fill(channels.to(x.device).unsqueeze(1), 0.0)
        return x, time_mask

    def embed_features(
        self,
        features: torch.Tensor,
        valid: Optional[torch.Tensor] = None,
        frame_lengths: Optional[torch.Tensor] = None,
        time_mask: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Conv features (B, T, C) -> encoder input (B, T, D) and the time mask used (the second half of
        :meth:`forward`): norm, projection, masking, conv and sinusoidal positions."""
        x = self.feature_dropout(self.feature_proj(self.feature_norm(features)))
        x, time_mask = self.apply_masking(x, frame_lengths, time_mask)
        x = x + self.pos_conv(x)
        if valid is None:
            real = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        else:
            real = valid
        positions = positions_from_mask(real, self.cfg.pad_id)
        x = x + fairseq_sinusoids(positions, x.size(-1), self.cfg.pad_id).to(x.dtype)
        return x, time_mask

    def forward(
        self,
        wav: torch.Tensor,
        wav_lengths: Optional[torch.Tensor] = None,
        time_mask: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Turn a padded waveform batch into encoder input frames.

        Args:
            wav: (B, L) float waveform at 16 kHz.
            wav_lengths: (B,) real lengths in samples; None if nothing is padded.
            time_mask: optional (B, T) bool frames to replace with the mask embedding.

        Returns:
            frames (B, T, D), ``valid`` (B, T) bool or None, and the time mask used (or None).
        """
        features, frame_lengths, valid = self.extract_features(wav, wav_lengths)
        x, time_mask = self.embed_features(features, valid, frame_lengths, time_mask)
        return x, valid, time_mask


class SpeechEncoderPrenet(FrameEmbedding):
    """SpeechT5's waveform pre-net: the wav2vec 2.0 conv stack, then :class:`FrameEmbedding`.

    (B, L) samples at 16 kHz -> (B, T, d_model) frames at 50 Hz (base). With ``specaug`` set, its
    masks act on the conv features (time steps, and channels as its "frequency" axis).
    """

    def __init__(self, cfg: SpeechT5Config) -> None:
        super().__init__(cfg, cfg.conv_channels[-1])
        self.feature_extractor = ConvFeatureExtractor(cfg)

    def frame_lengths(self, sample_lengths: torch.Tensor) -> torch.Tensor:
        """(B,) waveform lengths in samples -> (B,) frame counts."""
        return self.feature_extractor.output_lengths(sample_lengths)

    def samples_for_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """(B,) frame counts -> the fewest samples that give that many conv frames (inverts :meth:`frame_lengths`)."""
        samples = frames.clone()
        for kernel, stride in zip(reversed(self.feature_extractor.kernels), reversed(self.feature_extractor.strides)):
            samples = (samples - 1) * stride + kernel
        return samples

    def extract_features(
        self, wav: torch.Tensor, wav_lengths: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Run the conv feature extractor (the first half of :meth:`forward`).

        Args:
            wav: (B, L) float waveform at 16 kHz.
            wav_lengths: (B,) real lengths in samples; None if nothing is padded.

        Returns:
            conv features (B, T, C) (in training, their gradient into the conv stack is scaled by
            ``feature_grad_mult``), frame lengths (B,) and ``valid`` (B, T) bool; both None without
            ``wav_lengths``.
        """
        features = self.feature_extractor(wav)
        mult = self.cfg.feature_grad_mult
        if mult != 1.0 and self.training:
            # same values; the gradient into the conv stack is scaled by ``mult`` (0 freezes it)
            features = features * mult + features.detach() * (1.0 - mult)
        length = features.size(1)
        valid = None
        frame_lengths = None
        if wav_lengths is not None:
            frame_lengths = self.frame_lengths(wav_lengths.to(features.device)).clamp(min=1, max=length)
            valid = torch.arange(length, device=features.device)[None, :] < frame_lengths[:, None]
        return self.augment(features, frame_lengths), frame_lengths, valid
