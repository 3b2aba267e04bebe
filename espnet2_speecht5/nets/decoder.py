"""The shared Transformer decoder: post-LN blocks with causal self-attention and cross-attention.

Step-by-step decoding passes a :class:`DecoderCache`; each call then takes only the new
positions and appends their keys/values, so a step costs O(current length).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import torch
from torch import nn

from espnet2_speecht5.nets.attention import (
    DecoderCache,
    LayerCache,
    MultiHeadAttention,
    add_biases,
    causal_bias,
    padding_bias,
)
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.nets.dropout import Dropout
from espnet2_speecht5.nets.encoder import FeedForward, layer_dropped


@dataclass
class DecoderOutput:
    """hidden: (B, T, D); cross_attentions: per block (B, H, T, S), only when asked for."""

    hidden: torch.Tensor
    cross_attentions: Optional[List[torch.Tensor]] = None


class DecoderLayer(nn.Module):
    """x = LN(x + SelfAttn(x)); x = LN(x + CrossAttn(x, memory)); x = LN(x + FFN(x))."""

    def __init__(self, cfg: SpeechT5Config) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(
            cfg.d_model, cfg.decoder_heads, cfg.attention_dropout, cfg.recompute_activations
        )
        self.self_attn_norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.cross_attn = MultiHeadAttention(
            cfg.d_model, cfg.decoder_heads, cfg.attention_dropout, cfg.recompute_activations
        )
        self.cross_attn_norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.ffn = FeedForward(
            cfg.d_model,
            cfg.decoder_ffn_dim,
            cfg.activation,
            cfg.activation_dropout,
            cfg.dropout,
            cfg.recompute_activations,
        )
        self.ffn_norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.dropout = Dropout(cfg.dropout)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        self_bias: Optional[torch.Tensor],
        memory_bias: Optional[torch.Tensor],
        cache: Optional[LayerCache] = None,
        need_weights: bool = False,
    ):
        """x: (B, T, D), memory: (B, S, D) -> (B, T, D) and the cross-attention weights (or None)."""
        past_self = cache.self_kv if cache is not None else None
        attended, _, self_kv = self.self_attn(x, bias=self_bias, past=past_self)
        x = self.self_attn_norm(x + self.dropout(attended))
        past_cross = cache.cross_kv if cache is not None else None
        attended, weights, cross_kv = self.cross_attn(
            x, memory, bias=memory_bias, past=past_cross, static_past=past_cross is not None, need_weights=need_weights
        )
        x = self.cross_attn_norm(x + self.dropout(attended))
        if cache is not None:
            cache.self_kv, cache.cross_kv = self_kv, cross_kv
        return self.ffn_norm(x + self.ffn(x)), weights


class Decoder(nn.Module):
    """``decoder_layers`` post-LN blocks, no input or final norm (SpeechT5 puts none there)."""

    def __init__(self, cfg: SpeechT5Config) -> None:
        super().__init__()
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.decoder_layers)])
        self.layerdrop = cfg.decoder_layerdrop

    def new_cache(self) -> DecoderCache:
        return DecoderCache.empty(len(self.layers))

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        valid: Optional[torch.Tensor] = None,
        memory_valid: Optional[torch.Tensor] = None,
        cache: Optional[DecoderCache] = None,
        need_weights: bool = False,
    ) -> DecoderOutput:
        """Decode.

        Args:
            x: (B, T, D) decoder pre-net output; with a cache, only the T new positions.
            memory: (B, S, D) encoder output.
            valid: (B, T_total) bool, True on real decoder positions (T_total includes the cached
                ones); None if nothing is padded.
            memory_valid: (B, S) bool, True on real encoder frames; None if nothing is padded.
            cache: key/value cache, updated in place; None for a full (teacher-forced) pass.
            need_weights: return the cross-attention weights of every block.

        Returns:
            :class:`DecoderOutput` with hidden (B, T, D).
        """
        past = 0 if cache is None else cache.length
        self_bias = add_biases(
            causal_bias(x.size(1), past + x.size(1), x.device, x.dtype),
            None if valid is None else padding_bias(valid, x.dtype),
        )
        memory_bias = None if memory_valid is None else padding_bias(memory_valid, x.dtype)
        weights_all: List[torch.Tensor] = []
        for index, layer in enumerate(self.layers):
            if cache is None and layer_dropped(self, self.layerdrop):
                continue
            layer_cache = None if cache is None else cache.layers[index]
            x, weights = layer(x, memory, self_bias, memory_bias, layer_cache, need_weights)
            if need_weights:
                weights_all.append(weights)
        return DecoderOutput(x, weights_all if need_weights else None)
