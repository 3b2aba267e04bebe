"""Multi-head attention on torch's scaled_dot_product_attention, with an explicit key/value cache.

Masks are additive float biases of shape broadcastable to (B, H, T, S): 0 where attention is
allowed and a very large negative number where it is not. SpeechT5's relative position bias is
added to the same bias, so every case runs through ``scaled_dot_product_attention``; only a
caller that needs the attention weights (guided attention loss, plots) gets the explicit path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from espnet2_speecht5.nets.dropout import dropout
from espnet2_speecht5.nets.positions import RelativePositionTable
from espnet2_speecht5.nets.recompute import worth_recomputing

KeyValue = Tuple[torch.Tensor, torch.Tensor]


def padding_bias(valid: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(B, S) bool (True = real element) -> (B, 1, 1, S) additive bias hiding padded keys."""
    bias = torch.zeros(valid.shape, dtype=dtype, device=valid.device)
    bias = bias.masked_fill(~valid.bool(), torch.finfo(dtype).min)
    return bias[:, None, None, :]


def causal_bias(
    num_queries: int, num_keys: int, device: torch.device, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """(1, 1, T, S) bias letting query i (the key position ``S - T + i``) see keys 0..S - T + i."""
    first = num_keys - num_queries
    query_pos = torch.arange(first, num_keys, device=device)[:, None]
    key_pos = torch.arange(num_keys, device=device)[None, :]
    bias = torch.zeros(num_queries, num_keys, dtype=dtype, device=device)
    bias = bias.masked_fill(key_pos > query_pos, torch.finfo(dtype).min)
    return bias[None, None]


def add_biases(*biases: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """Sum the given biases (None entries skipped), clamped so that masked logits stay finite."""
    present = [b for b in biases if b is not None]
    if not present:
        return None
    total = present[0]
    for bias in present[1:]:
        total = total + bias
    if len(present) > 1:
        total = total.clamp(min=torch.finfo(total.dtype).min)
    return total


def _shared_rows(k: torch.Tensor, v: torch.Tensor) -> bool:
    """True when keys and values (B, H, S, d), B > 1, are one row expanded over the batch (stride 0)."""
    return k.size(0) > 1 and k.stride(0) == 0 and v.stride(0) == 0


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention with ``heads`` heads and q/k/v/out projections with bias.

    ``recompute``: when the probabilities are computed explicitly in training (attention dropout on
    the CPU) and nobody asks for them, keep only q, k, v and the mask for the backward pass and
    recompute the logits, the relative position bias, the softmax and the dropout mask there (the
    same random bits: the checkpoint restores the generator). That drops four (B, H, T, S) tensors
    per block from the training step's live memory, about 1 GB for 8 x 5 s through the base encoder,
    for two small matrix products more per block. Probabilities under
    :data:`~espnet2_speecht5.nets.recompute.RECOMPUTE_MIN_BYTES` are kept.
    """

    def __init__(self, d_model: int, heads: int, dropout: float = 0.0, recompute: bool = False) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by heads {heads}")
        self.heads = heads
        self.head_dim = d_model // heads
        self.scale = self.head_dim**-0.5
        self.dropout = dropout
        self.recompute = recompute
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, H, T, head_dim)."""
        batch, length, _ = x.shape
        return x.view(batch, length, self.heads, self.head_dim).transpose(1, 2)

    def project_key_value(self, source: torch.Tensor) -> KeyValue:
        """source (B, S, D) -> keys and values, each (B, H, S, head_dim)."""
        return self._split(self.k_proj(source)), self._split(self.v_proj(source))

    def forward(
        self,
        query: torch.Tensor,
        source: Optional[torch.Tensor] = None,
        bias: Optional[torch.Tensor] = None,
        rel_pos: Optional[RelativePositionTable] = None,
        past: Optional[KeyValue] = None,
        static_past: bool = False,
        need_weights: bool = False,
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor], KeyValue]:
        """Attend from ``query`` to ``source`` (self-attention when ``source`` is None).

        Args:
            query: (B, T, D).
            source: (B, S, D) keys/values input; None for self-attention.
            bias: additive mask broadcastable to (B, H, T, S_total).
            rel_pos: relative position table; adds ``q_i · pe_k[i - j]`` (self-attention only).
            past: cached (keys, values), each (B, H, S_past, head_dim).
            static_past: True if ``past`` already holds all keys/values (cross-attention cache);
                otherwise the new keys/values are appended to it.
            need_weights: also return the (B, H, T, S_total) attention probabilities.

        Returns:
            output (B, T, D), weights or None, and the (keys, values) to cache.
        """
        q = self._split(self.q_proj(query))
        if past is not None and static_past:
            k, v = past
        else:
            k, v = self.project_key_value(query if source is None else source)
            if past is not None:
                k = torch.cat([past[0], k], dim=2)
                v = torch.cat([past[1], v], dim=2)
        drop = self.dropout if self.training else 0.0
        # On the CPU, attention dropout inside scaled_dot_product_attention draws torch's slow
        # per-element Bernoulli mask; the explicit path below uses nets/dropout.py instead.
        explicit_cpu_dropout = drop > 0.0 and q.device.type == "cpu"
        if (
            explicit_cpu_dropout
            and not need_weights
            and self.recompute
            and torch.is_grad_enabled()
            and worth_recomputing(*q.shape[:3], k.size(2))
        ):
            weights = None
            context = checkpoint(self._explicit, q, k, v, bias, rel_pos, drop, use_reentrant=False)
        elif need_weights or explicit_cpu_dropout:
            context, probs = self._explicit(q, k, v, bias, rel_pos, drop, with_probs=True)
            weights = probs if need_weights else None
        else:
            bias = self._full_bias(q, bias, rel_pos)
            context, weights = self._fused(q, k, v, bias, drop, static_past)
        batch, _, length, _ = context.shape
        context = context.transpose(1, 2).reshape(batch, length, self.heads * self.head_dim)
        return self.out_proj(context), weights, (k, v)

    def _full_bias(
        self, q: torch.Tensor, bias: Optional[torch.Tensor], rel_pos: Optional[RelativePositionTable]
    ) -> Optional[torch.Tensor]:
        """The padding/causal bias plus the relative position bias, in q's dtype (or None)."""
        if rel_pos is not None:
            bias = add_biases(bias, rel_pos.bias(q * self.scale))
        return None if bias is None else bias.to(q.dtype)

    def _explicit(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        bias: Optional[torch.Tensor],
        rel_pos: Optional[RelativePositionTable],
        drop: float,
        with_probs: bool = False,
    ):
        """Softmax attention with materialised probabilities: q (B, H, T, d), k/v (B, H, S, d) ->
        context (B, H, T, d), and the (B, H, T, S) probabilities when ``with_probs``."""
        bias = self._full_bias(q, bias, rel_pos)
        logits = torch.matmul(q * self.scale, k.transpose(-1, -2))
        if bias is not None:
            logits = logits + bias
        probs = torch.softmax(logits, dim=-1)
        context = torch.matmul(dropout(probs, drop, self.training), v)
        return (context, probs) if with_probs else context

    def _fused(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        bias: Optional[torch.Tensor],
        drop: float,
        static_past: bool,
    ) -> Tuple[torch.Tensor, None]:
        """scaled_dot_product_attention for q (B, H, T, d) and k/v (B', H, S, d) -> (B, H, T, d), None."""
        if static_past and k.size(0) != q.size(0):
            # Utterance-batched beam search: B utterances' keys/values (B, H, S, d) for B x n query
            # rows, n consecutive rows per utterance. Fold each utterance's rows into its query axis.
            batch, heads, length, dim = q.shape
            groups = k.size(0)
            if batch % groups:
                raise ValueError(f"{batch} query rows do not split into {groups} utterances")
            per = batch // groups
            folded = q.view(groups, per, heads, length, dim).transpose(1, 2).reshape(groups, heads, per * length, dim)
            context = F.scaled_dot_product_attention(folded, k, v, attn_mask=bias, dropout_p=drop, scale=self.scale)
            context = context.view(groups, heads, per, length, dim).transpose(1, 2).reshape(batch, heads, length, dim)
        elif bias is None and _shared_rows(k, v):
            # Beam search: every hypothesis attends to the same encoder output, cached once and
            # expanded (batch stride 0). Fold the batch into the query axis and attend once, instead
            # of letting the kernel copy the keys/values for each row.
            batch, heads, length, dim = q.shape
            folded = q.transpose(0, 1).reshape(1, heads, batch * length, dim)
            context = F.scaled_dot_product_attention(folded, k[:1], v[:1], dropout_p=drop, scale=self.scale)
            context = context.reshape(heads, batch, length, dim).transpose(0, 1)
        else:
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=drop, scale=self.scale)
        return context, None


@dataclass
class LayerCache:
    """Keys and values of one decoder block: self-attention (grows) and cross-attention (fixed)."""

    self_kv: Optional[KeyValue] = None
    cross_kv: Optional[KeyValue] = None


@dataclass
class DecoderCache:
    """The decoder's key/value cache: one :class:`LayerCache` per block.

    A decoding step appends one key/value per block (O(current length) work for the step);
    cross-attention keys/values are projected from the encoder output once, on the first step.
    """

    layers: List[LayerCache] = field(default_factory=list)

    @classmethod
    def empty(cls, num_layers: int) -> DecoderCache:
        return cls([LayerCache() for _ in range(num_layers)])

    @property
    def length(self) -> int:
        """Number of decoder positions already cached."""
        first = self.layers[0].self_kv if self.layers else None
        return 0 if first is None else first[0].size(2)

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows ``index`` (B',) in place (for beam search or dropping finished rows)."""
        for layer in self.layers:
            for name in ("self_kv", "cross_kv"):
                kv = getattr(layer, name)
                if kv is not None:
                    setattr(layer, name, (kv[0].index_select(0, index), kv[1].index_select(0, index)))
