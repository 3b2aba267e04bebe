"""The shared Transformer encoder: post-LN blocks with SpeechT5's relative position bias."""

from __future__ import annotations

from typing import Callable, Dict, Optional

import torch
import torch.nn.functional as F
from torch import nn

from espnet2_speecht5.nets.attention import MultiHeadAttention, padding_bias
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.nets.dropout import Dropout
from espnet2_speecht5.nets.positions import RelativePositionTable
from espnet2_speecht5.nets.recompute import activation_dropout_linear, worth_recomputing

ACTIVATIONS: Dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
}


def activation_fn(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class FeedForward(nn.Module):
    """fc1 -> activation -> dropout -> fc2 -> dropout.

    ``recompute`` (CPU training): fc2 keeps the pre-activation instead of the activation for its
    backward pass (:mod:`espnet2_speecht5.nets.recompute`); the numbers are the same.
    """

    def __init__(
        self,
        d_model: int,
        hidden: int,
        activation: str,
        activation_dropout: float,
        dropout: float,
        recompute: bool = False,
    ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d_model, hidden)
        self.fc2 = nn.Linear(hidden, d_model)
        self.act = activation_fn(activation)
        self.activation_dropout = Dropout(activation_dropout)
        self.dropout = Dropout(dropout)
        self.recompute = recompute

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, D)."""
        h = self.fc1(x)
        if (
            self.recompute
            and self.training
            and torch.is_grad_enabled()
            and h.device.type == "cpu"
            and type(self.fc2) is nn.Linear
            and self.activation_dropout.p < 1.0
            and worth_recomputing(*h.shape)
        ):
            return self.dropout(activation_dropout_linear(h, self.fc2, self.act, self.activation_dropout.p, True))
        return self.dropout(self.fc2(self.activation_dropout(self.act(h))))


def layer_dropped(module: nn.Module, rate: float) -> bool:
    """LayerDrop: in training, skip a block with probability ``rate``."""
    return module.training and rate > 0.0 and bool(torch.rand([]) < rate)


class EncoderLayer(nn.Module):
    """Post-LN block: x = LN(x + SelfAttn(x)); x = LN(x + FFN(x))."""

    def __init__(self, cfg: SpeechT5Config) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(
            cfg.d_model, cfg.encoder_heads, cfg.attention_dropout, cfg.recompute_activations
        )
        self.self_attn_norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.ffn = FeedForward(
            cfg.d_model,
            cfg.encoder_ffn_dim,
            cfg.activation,
            cfg.activation_dropout,
            cfg.dropout,
            cfg.recompute_activations,
        )
        self.ffn_norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.dropout = Dropout(cfg.dropout)

    def forward(
        self, x: torch.Tensor, bias: Optional[torch.Tensor], rel_pos: Optional[RelativePositionTable]
    ) -> torch.Tensor:
        """x: (B, T, D); bias: (B, 1, 1, T) padding bias or None -> (B, T, D)."""
        attended, _, _ = self.self_attn(x, bias=bias, rel_pos=rel_pos)
        x = self.self_attn_norm(x + self.dropout(attended))
        return self.ffn_norm(x + self.ffn(x))


class Encoder(nn.Module):
    """LayerNorm + dropout on the input, then ``encoder_layers`` post-LN blocks (no final norm).

    All blocks share one relative position table (encoder self-attention only).
    """

    def __init__(self, cfg: SpeechT5Config) -> None:
        super().__init__()
        self.input_norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.dropout = Dropout(cfg.dropout)
        self.rel_pos = RelativePositionTable(cfg.encoder_head_dim, cfg.max_relative_distance)
        self.layers = nn.ModuleList([EncoderLayer(cfg) for _ in range(cfg.encoder_layers)])
        self.layerdrop = cfg.encoder_layerdrop

    def forward(self, x: torch.Tensor, valid: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Encode pre-net output.

        Args:
            x: (B, T, D) pre-net output.
            valid: (B, T) bool, True on real frames/tokens; None if nothing is padded.

        Returns:
            (B, T, D) encoder output.
        """
        bias = None if valid is None else padding_bias(valid, x.dtype)
        x = self.dropout(self.input_norm(x))
        for layer in self.layers:
            if layer_dropped(self, self.layerdrop):
                continue
            x = layer(x, bias, self.rel_pos)
        return x
