"""Dropout whose CPU random mask costs a quarter of torch's.

On the CPU, ``torch.nn.functional.dropout`` draws one Bernoulli sample per element
(``aten::bernoulli_``), a serial generator call per element: in the base network's training step
that is about a fifth of the whole step (bench/profile_case.py, cases d and e). Here the mask comes
from 16 random bits per element, drawn as 64-bit integers (one generator call per four elements),
and an element is dropped when its 16 bits fall below ``round(p * 65536)``. The dropping probability
is therefore ``p`` rounded to a multiple of 1/65536 (0.1 -> 0.100006), and the kept elements are
scaled by ``1 / (1 - that probability)``, so the expectation is unchanged.

Off the CPU (cuda's fused dropout is already fast) and in eval mode this is
``torch.nn.functional.dropout``. The random bits come from torch's default generator, so
``torch.manual_seed`` makes the masks reproducible.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

_LEVELS = 1 << 16


def drop_levels(p: float) -> int:
    """How many of the 65536 16-bit values drop an element: ``round(p * 65536)``."""
    return int(round(p * _LEVELS))


def random_keep_mask(shape: torch.Size, p: float, device: torch.device) -> torch.Tensor:
    """A boolean tensor of ``shape``: True (keep) with probability ``1 - drop_levels(p) / 65536``."""
    count = 1
    for size in shape:
        count *= size
    words = torch.empty((count + 3) // 4, dtype=torch.int64, device=device).random_(-(2**63), None)
    bits = words.view(torch.int16)[:count].view(shape)
    return bits >= drop_levels(p) - _LEVELS // 2


def keep_mask_and_scale(shape: torch.Size, p: float, device: torch.device) -> Tuple[Optional[torch.Tensor], float]:
    """The boolean keep mask (None when ``p`` rounds to 0) and the rescaling of kept elements, for 0 <= p < 1."""
    levels = drop_levels(p)
    if levels == 0:
        return None, 1.0
    return random_keep_mask(shape, p, device), _LEVELS / (_LEVELS - levels)


class _ScaleByMask(torch.autograd.Function):
    """``x * keep * scale``, keeping only the boolean mask for the backward pass."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, keep: torch.Tensor, scale: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return x.mul(keep).mul_(scale)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (keep,) = ctx.saved_tensors
        return grad.mul(keep).mul_(ctx.scale), None, None


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Inverted dropout of ``x`` (any shape) with probability ``p``; the CPU mask as described above."""
    if not training or p <= 0.0:
        return x
    if p >= 1.0:
        return x * 0.0
    if x.device.type != "cpu":
        return F.dropout(x, p, True)
    keep, scale = keep_mask_and_scale(x.shape, p, x.device)
    if keep is None:
        return x
    return _ScaleByMask.apply(x, keep, scale)


class Dropout(nn.Module):
    """``nn.Dropout`` with :func:`dropout` (the same ``p`` attribute and state dict, which is empty)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: any shape -> the same shape."""
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
