"""Feed-forward output projection that keeps the pre-activation, not the activation, for backward.

In ``fc2(dropout(act(h)))`` autograd keeps both ``h`` (for the activation's backward) and the
dropped activation (for ``fc2``'s weight gradient): two (B, T, ffn_dim) tensors per block, 25 MB
each for 8 x 250 frames in a base encoder block. :class:`ActivationDropoutLinear` keeps ``h`` and
the boolean dropout mask only, and recomputes the dropped activation in the backward pass (one
activation and one multiplication, no matrix product). The forward result and the gradients are
those of the plain composition.
"""

from __future__ import annotations

from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F

from espnet2_speecht5.nets.dropout import keep_mask_and_scale

Activation = Callable[[torch.Tensor], torch.Tensor]

# recompute_activations spares a tensor only from this size on (float32 bytes): below it, recomputing
# saves little memory and, for the CPU-sized networks and short TTS inputs, costs several percent of
# a training step. The base S2T step of 8 x 5 s is above it everywhere (attention probabilities
# 24 MB, feed-forward activations 25 MB, the first conv block 268 MB); its TTS step with 60
# characters and 200 frames is below it.
RECOMPUTE_MIN_BYTES = 16 * 2**20


def worth_recomputing(*shape: int) -> bool:
    """Whether a float32 tensor of ``shape`` is large enough to recompute rather than keep."""
    count = 4
    for size in shape:
        count *= size
    return count >= RECOMPUTE_MIN_BYTES


def _activate(h: torch.Tensor, act: Activation, keep: Optional[torch.Tensor], scale: float) -> torch.Tensor:
    a = act(h)
    return a if keep is None else a.mul(keep).mul_(scale)


class ActivationDropoutLinear(torch.autograd.Function):
    """``F.linear(dropout(act(h)), weight, bias)`` keeping ``h`` and the mask for the backward pass."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cpu")
    def forward(  # type: ignore[override]
        ctx,
        h: torch.Tensor,
        weight: torch.Tensor,
        bias: Optional[torch.Tensor],
        act: Activation,
        keep: Optional[torch.Tensor],
        scale: float,
    ) -> torch.Tensor:
        a = _activate(h, act, keep, scale)
        ctx.save_for_backward(h, weight, keep)
        ctx.act, ctx.scale, ctx.has_bias = act, scale, bias is not None
        return F.linear(a, weight, bias)

    @staticmethod
    @torch.amp.custom_bwd(device_type="cpu")
    def backward(ctx, grad: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:  # type: ignore[override]
        h, weight, keep = ctx.saved_tensors
        with torch.enable_grad():
            h_leaf = h.detach().requires_grad_(ctx.needs_input_grad[0])
            a = _activate(h_leaf, ctx.act, keep, ctx.scale)
        # The same products autograd runs for F.linear: grad @ W, grad^T @ a, the sum over rows.
        grad_a = torch.matmul(grad, weight.to(grad.dtype)) if ctx.needs_input_grad[0] else None
        flat_grad = grad.reshape(-1, grad.size(-1))
        grad_weight = flat_grad.t().mm(a.detach().reshape(-1, a.size(-1)).to(grad.dtype))
        grad_bias = flat_grad.sum(0) if ctx.has_bias else None
        grad_h = torch.autograd.grad(a, h_leaf, grad_a)[0] if grad_a is not None else None
        return grad_h, grad_weight, grad_bias, None, None, None


def activation_dropout_linear(
    h: torch.Tensor, linear: torch.nn.Linear, act: Activation, p: float, training: bool
) -> torch.Tensor:
    """``linear(dropout(act(h), p))`` for h (..., in_features) -> (..., out_features), on the CPU in
    training; the dropout mask is drawn exactly as :func:`espnet2_speecht5.nets.dropout.dropout` draws it."""
    keep, scale = keep_mask_and_scale(h.shape, p, h.device) if training and 0.0 < p < 1.0 else (None, 1.0)
    return ActivationDropoutLinear.apply(h, linear.weight, linear.bias, act, keep, scale)
