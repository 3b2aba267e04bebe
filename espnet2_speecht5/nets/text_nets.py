"""Text pre-nets and post-net: token embeddings in, vocabulary logits out."""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.nets.dropout import Dropout
from espnet2_speecht5.nets.positions import ScaledPositionalEncoding, fairseq_sinusoids, padded_positions


class TextEncoderPrenet(nn.Module):
    """Token embedding + ``alpha``-scaled sinusoidal positions + dropout."""

    def __init__(self, cfg: SpeechT5Config) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=cfg.pad_id)
        self.positions = ScaledPositionalEncoding(cfg.d_model, cfg.positional_dropout)
        self.pad_id = cfg.pad_id

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, T) ids -> (B, T, D)."""
        return self.positions(self.embed_tokens(tokens))


class TextDecoderPrenet(nn.Module):
    """Token embedding (times sqrt(D) if ``scale_embedding``) + fairseq sinusoidal positions + dropout.

    Positions count non-pad tokens; a pad token gets the zero position vector.
    """

    def __init__(self, cfg: SpeechT5Config) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=cfg.pad_id)
        self.scale = math.sqrt(cfg.d_model) if cfg.scale_embedding else 1.0
        self.dropout = Dropout(cfg.positional_dropout)
        self.pad_id = cfg.pad_id

    def forward(self, tokens: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """(B, T) ids -> (B, T, D); ``offset`` is the number of positions already decoded (cache length)."""
        positions = padded_positions(tokens, self.pad_id, offset)
        x = self.embed_tokens(tokens) * self.scale
        x = x + fairseq_sinusoids(positions, x.size(-1), self.pad_id).to(x.dtype)
        return self.dropout(x)


class TextDecoderPostnet(nn.Module):
    """Linear projection to the vocabulary, no bias; tied to the decoder embedding by default."""

    def __init__(self, cfg: SpeechT5Config) -> None:
        super().__init__()
        if cfg.tie_text_embeddings:
            self.register_parameter("lm_head", None)
        else:
            self.lm_head = nn.Parameter(torch.empty(cfg.vocab_size, cfg.d_model).normal_(0.0, 0.02))

    def forward(self, hidden: torch.Tensor, tied_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, T, D) -> (B, T, V) logits; ``tied_weight`` (V, D) is the embedding used when tied."""
        weight = self.lm_head if self.lm_head is not None else tied_weight
        if weight is None:
            raise ValueError("the text post-net is tied: pass the decoder embedding weight")
        return F.linear(hidden, weight)
