"""Position codes: fairseq-style sinusoids, scaled sinusoids, and the relative position table.

All sinusoids are computed on demand for the positions asked for, so no length limit applies.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from espnet2_speecht5.nets.dropout import Dropout


def positions_from_mask(valid: torch.Tensor, pad_id: int, offset: int = 0) -> torch.Tensor:
    """Fairseq position numbers: the n-th valid element gets ``pad_id + offset + n``; others get ``pad_id``.

    Args:
        valid: (B, T) bool tensor, True where the element is real (not padding).
        pad_id: the padding symbol (1 in SpeechT5), whose position code is the zero vector.
        offset: number of positions already consumed (the cache length when decoding step by step).

    Returns:
        (B, T) long tensor of position numbers.
    """
    keep = valid.long()
    return (torch.cumsum(keep, dim=1) + offset) * keep + pad_id


def padded_positions(tokens: torch.Tensor, pad_id: int, offset: int = 0) -> torch.Tensor:
    """:func:`positions_from_mask` for token ids (B, T), where ``pad_id`` marks padding."""
    return positions_from_mask(tokens.ne(pad_id), pad_id, offset)


def fairseq_sinusoids(positions: torch.Tensor, dim: int, pad_id: int) -> torch.Tensor:
    """tensor2tensor sinusoids (all sines, then all cosines) for the given position numbers.

    Args:
        positions: (B, T) long tensor from :func:`padded_positions`.
        dim: embedding size.
        pad_id: position number that maps to the zero vector.

    Returns:
        (B, T, dim) float tensor.
    """
    half = dim // 2
    step = math.log(10000) / (half - 1)
    freqs = torch.exp(torch.arange(half, dtype=torch.int64, device=positions.device).float() * -step)
    angles = positions.float().unsqueeze(-1) * freqs
    codes = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
    if dim % 2:
        codes = torch.nn.functional.pad(codes, (0, 1))
    return codes.masked_fill(positions.eq(pad_id).unsqueeze(-1), 0.0)


def interleaved_sinusoids(start: int, length: int, dim: int, device: torch.device) -> torch.Tensor:
    """Transformer sinusoids (sine on even, cosine on odd channels) for positions start..start+length-1.

    Returns:
        (length, dim) float tensor.
    """
    position = torch.arange(start, start + length, device=device).float().unsqueeze(1)
    freqs = torch.exp(torch.arange(0, dim, 2, dtype=torch.int64, device=device).float() * -(math.log(10000.0) / dim))
    codes = torch.zeros(length, dim, device=device)
    codes[:, 0::2] = torch.sin(position * freqs)
    codes[:, 1::2] = torch.cos(position * freqs)
    return codes


class ScaledPositionalEncoding(nn.Module):
    """Adds ``alpha * sinusoid`` (alpha learned, starting at 1), then dropout (Transformer-TTS §3.2)."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.dim = dim
        self.alpha = nn.Parameter(torch.tensor(1.0))
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x: (B, T, D) -> (B, T, D); ``start`` is the position of x[:, 0] (for step-by-step decoding)."""
        codes = interleaved_sinusoids(start, x.size(1), self.dim, x.device).to(x.dtype)
        return self.dropout(x + self.alpha * codes)


class RelativePositionTable(nn.Module):
    """The learned key table ``pe_k`` of SpeechT5's encoder relative position bias.

    One row per clipped distance ``i - j`` in [-max_distance, max_distance - 1], of size head_dim,
    shared by all layers and heads.
    """

    def __init__(self, head_dim: int, max_distance: int = 160) -> None:
        super().__init__()
        self.max_distance = max_distance
        self.pe_k = nn.Embedding(2 * max_distance, head_dim)

    def distance_index(self, length: int, device: torch.device) -> torch.Tensor:
        """(T, T) long tensor: row of ``pe_k`` used for query i and key j."""
        pos = torch.arange(length, device=device)
        dist = pos[:, None] - pos[None, :]
        return dist.clamp(-self.max_distance, self.max_distance - 1) + self.max_distance

    def bias(self, scaled_query: torch.Tensor) -> torch.Tensor:
        """Attention-logit bias ``q_i · pe_k[i - j]``.

        Computed as q @ pe_k^T over the 2·max_distance table rows, then gathered per (i, j),
        which needs no (T, T, head_dim) intermediate.

        Args:
            scaled_query: (B, H, T, head_dim), already multiplied by head_dim ** -0.5.

        Returns:
            (B, H, T, T) float bias.
        """
        batch, heads, length, _ = scaled_query.shape
        scores = torch.matmul(scaled_query, self.pe_k.weight.t())  # (B, H, T, 2M)
        index = self.distance_index(length, scaled_query.device)
        return torch.gather(scores, 3, index.expand(batch, heads, length, length))
