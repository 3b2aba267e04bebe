"""HuBERT/wav2vec 2.0 span masking: choose random span starts, mask ``span`` steps from each."""

from __future__ import annotations

from typing import Optional

import torch


def span_mask(
    batch: int,
    length: int,
    prob: float,
    span: int,
    min_spans: int = 0,
    lengths: Optional[torch.Tensor] = None,
    generator: Optional[torch.Generator] = None,
    device: Optional[torch.device] = None,
) -> torch.Tensor:
    """Draw a (batch, length) bool mask made of spans of ``span`` consecutive True steps.

    For a sequence of ``n`` real steps, ``round_random(prob * n / span)`` (at least ``min_spans``)
    distinct starts are drawn uniformly from ``0 .. n - span``; spans may overlap, so ``prob`` is
    an upper bound on the masked fraction. Padded steps (beyond ``lengths``) are never masked.

    Args:
        batch, length: mask shape.
        prob: target fraction of masked steps.
        span: span length.
        min_spans: lower bound on the number of spans per sequence.
        lengths: (batch,) real lengths; None when all are ``length``.
        generator: optional random generator (for reproducible masks).

    Returns:
        (batch, length) bool tensor, True at masked steps.
    """
    mask = torch.zeros(batch, length, dtype=torch.bool)
    if prob <= 0.0 or span < 1:
        return mask.to(device) if device is not None else mask
    sizes = [length] * batch if lengths is None else [int(n) for n in lengths.tolist()]
    jitter = float(torch.rand([], generator=generator))  # probabilistic rounding, as fairseq does
    for row, real in enumerate(sizes):
        room = real - span + 1
        if room <= 0:
            continue
        count = max(int(prob * real / span + jitter), min_spans)
        count = min(count, room)
        if count <= 0:
            continue
        starts = torch.randperm(room, generator=generator)[:count]
        steps = (starts[:, None] + torch.arange(span)[None, :]).reshape(-1)
        mask[row, steps] = True
    return mask.to(device) if device is not None else mask
