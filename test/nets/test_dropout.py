"""nets/dropout.py: the CPU dropout mask drawn from 16 random bits per element."""

from __future__ import annotations

import math

import pytest
import torch

from espnet2_speecht5.nets.attention import MultiHeadAttention
from espnet2_speecht5.nets.dropout import Dropout, drop_levels, dropout, random_keep_mask


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_drop_rate_matches_p(p: float) -> None:
    torch.manual_seed(0)
    count = 2_000_000
    keep = random_keep_mask(torch.Size([count]), p, torch.device("cpu"))
    dropped = 1.0 - keep.float().mean().item()
    expected = drop_levels(p) / 65536
    assert abs(expected - p) <= 1 / 65536
    sigma = math.sqrt(p * (1 - p) / count)
    assert abs(dropped - expected) < 5 * sigma, (dropped, expected)


def test_kept_elements_are_rescaled_and_the_mean_is_kept() -> None:
    torch.manual_seed(1)
    x = torch.ones(1000, 1000)
    y = dropout(x, 0.1)
    values = torch.unique(y)
    scale = 65536 / (65536 - drop_levels(0.1))
    assert values.tolist() == pytest.approx([0.0, scale])
    assert y.mean().item() == pytest.approx(1.0, abs=0.005)


def test_mask_is_not_constant_along_any_axis() -> None:
    """The 16-bit pieces of one 64-bit word must be independent: no row or column pattern."""
    torch.manual_seed(2)
    keep = random_keep_mask(torch.Size([1024, 1024]), 0.5, torch.device("cpu")).float()
    # each row and column mean has a standard deviation of 1/64; 6 of those is far beyond chance
    assert keep.mean(dim=0).sub(0.5).abs().max().item() < 6 / 64
    assert keep.mean(dim=1).sub(0.5).abs().max().item() < 6 / 64
    # neighbours (the four pieces of one word) agree no more often than chance
    agree = (keep[:, 0::4] == keep[:, 1::4]).float().mean().item()
    assert abs(agree - 0.5) < 0.02


def test_gradient_is_the_mask_times_the_scale() -> None:
    torch.manual_seed(3)
    x = torch.randn(3, 5, 7, requires_grad=True)  # an element count that is not a multiple of 4
    y = dropout(x, 0.3)
    y.sum().backward()
    scale = 65536 / (65536 - drop_levels(0.3))
    kept = y.detach() != 0
    assert torch.equal(x.grad, kept.float() * scale)
    assert torch.allclose(y.detach()[kept], x.detach()[kept] * scale)


def test_eval_zero_and_one() -> None:
    x = torch.randn(4, 9)
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0) is x
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))
    module = Dropout(0.5).eval()
    assert module(x) is x
    with pytest.raises(ValueError, match="probability"):
        Dropout(1.5)


def test_seeded_masks_repeat_and_dtype_is_kept() -> None:
    x = torch.randn(8, 31, 16).bfloat16()
    torch.manual_seed(4)
    first = dropout(x, 0.2)
    torch.manual_seed(4)
    second = dropout(x, 0.2)
    third = dropout(x, 0.2)
    assert first.dtype == torch.bfloat16
    assert torch.equal(first, second)
    assert not torch.equal(second, third)


def test_attention_dropout_in_training_uses_this_mask() -> None:
    """MultiHeadAttention in training on the CPU: softmax, then this dropout, then the values."""
    torch.manual_seed(5)
    attn = MultiHeadAttention(32, 4, dropout=0.25).train()
    x = torch.randn(2, 6, 32)
    torch.manual_seed(6)
    out, _, (k, v) = attn(x)
    torch.manual_seed(6)
    keep = random_keep_mask(torch.Size([2, 4, 6, 6]), 0.25, torch.device("cpu"))
    q = attn._split(attn.q_proj(x))
    probs = torch.softmax(q @ k.transpose(-1, -2) * attn.scale, dim=-1)
    scale = 65536 / (65536 - drop_levels(0.25))
    context = (probs * keep * scale) @ v
    expected = attn.out_proj(context.transpose(1, 2).reshape(2, 6, 32))
    assert torch.allclose(out, expected, atol=1e-5)
    attn.eval()
    plain, _, _ = attn(x)
    probs_only = torch.softmax(q @ k.transpose(-1, -2) * attn.scale, dim=-1) @ v
    assert torch.allclose(plain, attn.out_proj(probs_only.transpose(1, 2).reshape(2, 6, 32)), atol=1e-5)
