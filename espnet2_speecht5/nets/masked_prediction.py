"""HuBERT masked-prediction head: project encoder states and score them against one embedding per cluster."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def cosine_logits(proj: torch.Tensor, label_emb: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cosine similarity of every projected state with every cluster embedding, over a temperature.

    Args:
        proj: (..., F) projected encoder states.
        label_emb: (C, F) one embedding per cluster.
        temperature: divisor of the similarities (0.1 in HuBERT and SpeechT5).

    Returns:
        (..., C) logits, in float32.
    """
    unit_proj = F.normalize(proj.float(), dim=-1, eps=1e-8)
    unit_emb = F.normalize(label_emb.float(), dim=-1, eps=1e-8)
    return unit_proj @ unit_emb.t() / temperature


class MaskedPredictionHead(nn.Module):
    """``final_proj`` (D -> final_dim) and ``label_embs`` (C, final_dim), initialised uniform in [0, 1)."""

    def __init__(self, d_model: int, num_clusters: int, final_dim: int = 256, temperature: float = 0.1) -> None:
        super().__init__()
        if num_clusters < 1:
            raise ValueError(f"num_clusters must be >= 1, got {num_clusters}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.final_proj = nn.Linear(d_model, final_dim)
        self.label_embs = nn.Parameter(torch.empty(num_clusters, final_dim).uniform_())
        self.temperature = temperature

    @property
    def num_clusters(self) -> int:
        return self.label_embs.size(0)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, T, D) encoder states -> (B, T, final_dim) projections."""
        return self.final_proj(hidden)

    def logits(self, proj: torch.Tensor) -> torch.Tensor:
        """(..., final_dim) projections -> (..., C) cosine logits."""
        return cosine_logits(proj, self.label_embs, self.temperature)
