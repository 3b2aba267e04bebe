"""Int8 linear layers for CPU inference: int8 weights, activations quantised per row at run time.

``Int8DynamicLinear`` stores each weight row (output channel) as int8 with its own fp32 scale
(symmetric, ``scale = max|w| / 127``). At run time every input row (one token, one frame) is
quantised the same way, the product is taken in integer arithmetic by ``torch._int_mm`` (int8 x int8
-> int32, the core ATen kernel that torchao's int8 path and inductor also call; on x86 it uses
AVX-512 VNNI / AMX-INT8 where the CPU has them), and the int32 result is rescaled by the two scales:

    y[n, o] = (sum_i xq[n, i] * wq[o, i]) * sx[n] * sw[o] + b[o]

Why not the alternatives (measured on this 2-core CPU by ``bench/int8_backends.py``; see the
README's "Quantised inference"): torch's ``torch.ao.quantization.quantize_dynamic`` is as fast but
deprecated since torch 2.10 (its warnings say it will be removed), and torchao's
``Int8DynamicActivationInt8WeightConfig`` runs its tensor subclass in eager mode at about half the
speed of fp32 here unless the model is compiled with ``torch.compile``, which an autoregressive
decoder with a growing cache would recompile.

:func:`quantize_linear_layers` swaps every ``nn.Linear`` of a model for one of these, in place.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

INT8_MAX = 127.0


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row int8 quantisation.

    Args:
        x: (N, K) float.

    Returns:
        (N, K) int8 values in [-127, 127], and (N, 1) float scales with ``x ~= q * scale``.
    """
    scale = x.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / INT8_MAX
    return torch.round(x / scale).clamp_(-INT8_MAX, INT8_MAX).to(torch.int8), scale


class Int8DynamicLinear(nn.Module):
    """A linear layer with int8 weights (per output channel) and per-row dynamic int8 activations.

    Buffers: ``weight_int8`` (in_features, out_features) int8, the transposed weight as ``_int_mm``
    takes it; ``weight_scale`` (out_features,) float32; ``bias`` (out_features,) float32 or None.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.register_buffer("weight_int8", torch.zeros(in_features, out_features, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(out_features))
        self.register_buffer("bias", torch.zeros(out_features) if bias else None)

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8DynamicLinear:
        """The int8 copy of a float ``linear`` (its weights are quantised once, here)."""
        layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None)
        with torch.no_grad():
            q, scale = quantize_rows(linear.weight.detach().float())
            layer.weight_int8.copy_(q.t().contiguous())
            layer.weight_scale.copy_(scale.view(-1))
            if linear.bias is not None:
                layer.bias.copy_(linear.bias.detach().float())
        return layer.to(linear.weight.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., in_features) float -> (..., out_features) float of the same dtype."""
        rows = x.reshape(-1, self.in_features)
        q, scale = quantize_rows(rows.float())
        acc = torch._int_mm(q, self.weight_int8)  # (N, out) int32
        y = acc.float() * (scale * self.weight_scale)
        if self.bias is not None:
            y = y + self.bias
        return y.to(x.dtype).reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def quantize_linear_layers(model: nn.Module, skip: Optional[tuple[str, ...]] = None) -> int:
    """Replace every ``nn.Linear`` under ``model`` by an :class:`Int8DynamicLinear`, in place.

    Args:
        model: a float model on the CPU, in eval mode (int8 layers have no gradients).
        skip: module name prefixes to leave in float (``("net.speech_encoder_prenet",)``).

    Returns:
        the number of layers replaced.
    """
    for p in model.parameters():
        if p.device.type != "cpu":
            raise ValueError(f"int8 quantisation is for CPU inference; the model is on {p.device}")
        break
    replaced = 0
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if type(child) is nn.Linear and not (skip and full.startswith(skip)):
                setattr(module, child_name, Int8DynamicLinear.from_linear(child))
                replaced += 1
    return replaced
