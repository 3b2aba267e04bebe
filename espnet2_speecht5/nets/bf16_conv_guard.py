"""A guard against wrong bf16 convolutions on the CPU.

With torch 2.13's CPU build on an AVX-512 BF16 / AMX Xeon, ``conv1d`` in bfloat16 returns wrong
numbers for some small shapes: 8 to 24 input channels with a kernel of 4 or 8 (for example
``Conv1d(8, 8, 8, stride=8)``), where the relative error against float32 is about 1, not the
0.3% of bf16 rounding. Larger shapes (the base network's 512 channels, the mini recipes' 32-64)
are right. Under bf16 autocast (``bf16: true`` training, ``bf16_encoder`` inference) such a layer
would train or infer on garbage without any error.

:func:`conv1d_autocast_safe` runs a ``Conv1d`` as usual, except under CPU bf16 autocast: there it
first checks, once per layer shape and weight dtype, that bf16 agrees with float32 on a random
input (:func:`bf16_conv_agrees`); where it does not, that layer runs in float32 and one warning
line names the shape.
"""

from __future__ import annotations

import logging
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import nn

logger = logging.getLogger(__name__)

# bf16 keeps 8 bits of mantissa: a correct bf16 convolution is within ~1% of float32.
TOLERANCE = 0.05

_Key = Tuple[int, int, int, int, str, int, int]
_VERDICTS: Dict[_Key, bool] = {}


def _shape_key(conv: nn.Conv1d) -> _Key:
    padding = str(conv.padding[0] if isinstance(conv.padding, tuple) else conv.padding)
    return (conv.in_channels, conv.out_channels, conv.kernel_size[0], conv.stride[0], padding, conv.groups,
            conv.dilation[0])  # fmt: skip


def bf16_relative_error(conv: nn.Conv1d) -> float:
    """Relative error of ``conv`` computed in bf16 against float32, on a fixed random input."""
    generator = torch.Generator().manual_seed(0)
    length = max(64, 8 * conv.kernel_size[0] * conv.stride[0])
    x = torch.randn(2, conv.in_channels, length, generator=generator)
    with torch.no_grad(), torch.autocast("cpu", enabled=False):
        weight = conv.weight.detach().float().cpu()
        bias = None if conv.bias is None else conv.bias.detach().float().cpu()
        options = dict(stride=conv.stride, padding=conv.padding, dilation=conv.dilation, groups=conv.groups)
        want = F.conv1d(x, weight, bias, **options)
        got = F.conv1d(x.bfloat16(), weight.bfloat16(), None if bias is None else bias.bfloat16(), **options)
    return float((got.float() - want).norm() / want.norm().clamp_min(1e-12))


def bf16_conv_agrees(conv: nn.Conv1d) -> bool:
    """Whether bf16 computes ``conv``'s shape correctly on this machine (checked once per shape)."""
    key = _shape_key(conv)
    if key not in _VERDICTS:
        error = bf16_relative_error(conv)
        _VERDICTS[key] = error <= TOLERANCE
        if not _VERDICTS[key]:
            logger.warning(
                "torch's bf16 conv1d is wrong on this CPU for in=%d out=%d kernel=%d stride=%d padding=%s groups=%d "
                "dilation=%d (relative error %.2f against float32); this layer runs in float32 under autocast",
                *key, error,
            )
    return _VERDICTS[key]


def conv1d_autocast_safe(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """``conv(x)``; under CPU bf16 autocast, in float32 for a shape that bf16 gets wrong here."""
    if (
        x.device.type == "cpu"
        and torch.is_autocast_enabled("cpu")
        and torch.get_autocast_dtype("cpu") == torch.bfloat16
        and not bf16_conv_agrees(conv)
    ):
        with torch.autocast("cpu", enabled=False):
            return conv(x.float())
    return conv(x)
