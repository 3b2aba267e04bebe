"""One typed dataclass holding every size and rate of the SpeechT5 network.

Two named sizes are provided: ``base`` (the paper's 768-dim model, 12 encoder and 6 decoder
blocks, the same numbers as transformers' defaults) and ``tiny`` (a few hundred thousand
parameters, for CPU recipes and tests).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, Tuple


@dataclass
class SpeechT5Config:
    """Sizes, dropout rates and special token ids of the SpeechT5 network.

    Field names follow the paper's vocabulary; :mod:`espnet2_speecht5.checkpoint.hf_mapping`
    translates them to and from transformers' ``SpeechT5Config``.
    """

    # shared encoder-decoder
    vocab_size: int = 81
    d_model: int = 768
    encoder_layers: int = 12
    encoder_heads: int = 12
    encoder_ffn_dim: int = 3072
    decoder_layers: int = 6
    decoder_heads: int = 12
    decoder_ffn_dim: int = 3072
    activation: str = "gelu"
    dropout: float = 0.1
    attention_dropout: float = 0.1
    activation_dropout: float = 0.1
    positional_dropout: float = 0.1
    encoder_layerdrop: float = 0.1
    decoder_layerdrop: float = 0.1
    layer_norm_eps: float = 1e-5
    max_relative_distance: int = 160
    scale_embedding: bool = False
    tie_text_embeddings: bool = True
    # training memory: recompute, in the backward pass, what is cheap to recompute instead of keeping
    # it (the attention probabilities of every attention block trained with attention dropout on the
    # CPU; the feed-forward activations; the norm outputs of the conv blocks that have a norm, and
    # the first conv block's output);
    # the loss and gradients are unchanged
    recompute_activations: bool = True

    # speech-encoder pre-net (wav2vec 2.0 style conv feature extractor)
    conv_channels: Tuple[int, ...] = (512, 512, 512, 512, 512, 512, 512)
    conv_kernels: Tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)
    conv_strides: Tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)
    conv_bias: bool = False
    conv_norm: str = "group"  # "group": GroupNorm on the first conv only; "layer": LayerNorm on every conv
    feature_proj_dropout: float = 0.0
    feature_grad_mult: float = 1.0  # gradient scale into the conv stack (official pre-training: 0.1)
    pos_conv_kernel: int = 128
    pos_conv_groups: int = 16

    # span masking of the speech-encoder pre-net output (training only)
    apply_masking: bool = True
    mask_time_prob: float = 0.05
    mask_time_length: int = 10
    mask_time_min_masks: int = 2
    mask_channel_prob: float = 0.0
    mask_channel_length: int = 10
    mask_channel_min_masks: int = 0

    # speech-decoder pre-net and post-net
    num_mel_bins: int = 80
    speech_prenet_layers: int = 2
    speech_prenet_units: int = 256
    speech_prenet_dropout: float = 0.5
    speaker_embedding_dim: int = 512
    postnet_layers: int = 5
    postnet_units: int = 256
    postnet_kernel: int = 5
    postnet_dropout: float = 0.5
    reduction_factor: int = 2

    # position limits (only exported to transformers; our position codes have no hard limit)
    max_speech_positions: int = 4000
    max_text_positions: int = 450

    # special tokens
    bos_id: int = 0
    pad_id: int = 1
    eos_id: int = 2
    unk_id: int = 3
    decoder_start_id: int = 2

    def __post_init__(self) -> None:
        self.conv_channels = tuple(int(c) for c in self.conv_channels)
        self.conv_kernels = tuple(int(k) for k in self.conv_kernels)
        self.conv_strides = tuple(int(s) for s in self.conv_strides)
        if not len(self.conv_channels) == len(self.conv_kernels) == len(self.conv_strides):
            raise ValueError("conv_channels, conv_kernels and conv_strides must have the same length")
        for name, heads in (("encoder_heads", self.encoder_heads), ("decoder_heads", self.decoder_heads)):
            if self.d_model % heads:
                raise ValueError(f"d_model {self.d_model} is not divisible by {name} {heads}")
        if self.conv_norm not in ("group", "layer"):
            raise ValueError(f"conv_norm must be 'group' or 'layer', got {self.conv_norm!r}")

    @property
    def encoder_head_dim(self) -> int:
        return self.d_model // self.encoder_heads

    @property
    def samples_per_frame(self) -> int:
        """Total stride of the conv feature extractor (320 for base: 50 frames a second at 16 kHz)."""
        total = 1
        for stride in self.conv_strides:
            total *= stride
        return total

    def to_dict(self) -> Dict[str, Any]:
        """A JSON/YAML-friendly dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> SpeechT5Config:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown SpeechT5Config field(s): {', '.join(unknown)}")
        return cls(**values)

    def replace(self, **changes: Any) -> SpeechT5Config:
        return dataclasses.replace(self, **changes)

    def without_dropout(self) -> SpeechT5Config:
        """A copy with every dropout, layerdrop and masking turned off (for parity checks)."""
        return self.replace(
            dropout=0.0,
            attention_dropout=0.0,
            activation_dropout=0.0,
            positional_dropout=0.0,
            encoder_layerdrop=0.0,
            decoder_layerdrop=0.0,
            feature_proj_dropout=0.0,
            speech_prenet_dropout=0.0,
            postnet_dropout=0.0,
        )

    @classmethod
    def base(cls, **changes: Any) -> SpeechT5Config:
        """The paper's base model: 768 dims, 12 + 6 blocks, 12 heads, FFN 3072."""
        return cls(**changes)

    @classmethod
    def tiny(cls, **changes: Any) -> SpeechT5Config:
        """A CPU-sized model: 64 dims, 2 + 2 blocks, 2 heads, a 3-layer 32-channel conv stack.

        The conv stack keeps a 320-sample stride (kernels 10/4/4, strides 5/8/8) so frame rates
        match the base model.
        """
        values: Dict[str, Any] = dict(
            d_model=64,
            encoder_layers=2,
            encoder_heads=2,
            encoder_ffn_dim=128,
            decoder_layers=2,
            decoder_heads=2,
            decoder_ffn_dim=128,
            conv_channels=(32, 32, 32),
            conv_kernels=(10, 8, 8),
            conv_strides=(5, 8, 8),
            pos_conv_kernel=16,
            pos_conv_groups=4,
            max_relative_distance=160,
            speech_prenet_units=32,
            speaker_embedding_dim=512,
            postnet_units=32,
            encoder_layerdrop=0.0,
            decoder_layerdrop=0.0,
        )
        values.update(changes)
        return cls(**values)

    @classmethod
    def named(cls, name: str, **changes: Any) -> SpeechT5Config:
        """``base`` or ``tiny``."""
        if name == "base":
            return cls.base(**changes)
        if name == "tiny":
            return cls.tiny(**changes)
        raise ValueError(f"unknown model size {name!r} (expected 'base' or 'tiny')")
