"""nets/bf16_conv_guard.py: convolutions that bf16 gets wrong on this CPU run in float32 under autocast."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from espnet2_speecht5.nets import bf16_conv_guard
from espnet2_speecht5.nets.speech_encoder_prenet import ConvBlock


def _relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got.float() - want).norm() / want.norm())


@pytest.mark.parametrize("channels, kernel, stride", [(8, 8, 8), (16, 8, 4), (32, 8, 8), (8, 3, 2)])
def test_conv_block_under_bf16_autocast_stays_close_to_float32(channels: int, kernel: int, stride: int) -> None:
    """(8, 8, 8) and (16, 8, 4) are shapes that torch 2.13's CPU bf16 conv1d got wrong on the AVX-512
    BF16 Xeon where this was written (relative error ~1); the guard must keep them right anywhere."""
    torch.manual_seed(0)
    block = ConvBlock(channels, channels, kernel, stride, bias=False, norm=None, activation="gelu").eval()
    x = torch.randn(2, channels, 1000)
    with torch.no_grad():
        want = block(x)
        with torch.autocast("cpu", torch.bfloat16):
            got = block(x)
    assert _relative_error(got, want) < 0.02


def test_a_wrong_shape_runs_in_float32_and_is_named_once(monkeypatch, caplog) -> None:
    monkeypatch.setattr(bf16_conv_guard, "_VERDICTS", {})
    monkeypatch.setattr(bf16_conv_guard, "bf16_relative_error", lambda conv: 0.97)
    conv = nn.Conv1d(4, 6, 3, stride=2)
    x = torch.randn(1, 4, 50)
    with caplog.at_level(logging.WARNING), torch.no_grad(), torch.autocast("cpu", torch.bfloat16):
        first = bf16_conv_guard.conv1d_autocast_safe(conv, x)
        second = bf16_conv_guard.conv1d_autocast_safe(conv, x)
    assert first.dtype == second.dtype == torch.float32
    torch.testing.assert_close(first, conv(x).detach())
    lines = [r.getMessage() for r in caplog.records if "bf16 conv1d is wrong" in r.getMessage()]
    assert lines == ["torch's bf16 conv1d is wrong on this CPU for in=4 out=6 kernel=3 stride=2 padding=0 groups=1 "
                     "dilation=1 (relative error 0.97 against float32); this layer runs in float32 under autocast"]


def test_a_right_shape_keeps_bf16_and_outside_autocast_nothing_is_probed(monkeypatch) -> None:
    monkeypatch.setattr(bf16_conv_guard, "_VERDICTS", {})
    probed = []
    monkeypatch.setattr(bf16_conv_guard, "bf16_relative_error", lambda conv: probed.append(conv) or 0.003)
    conv = nn.Conv1d(4, 6, 3)
    x = torch.randn(1, 4, 50)
    with torch.no_grad():
        assert bf16_conv_guard.conv1d_autocast_safe(conv, x).dtype == torch.float32
        assert probed == []
        with torch.autocast("cpu", torch.bfloat16):
            assert bf16_conv_guard.conv1d_autocast_safe(conv, x).dtype == torch.bfloat16
    assert probed == [conv]


def test_the_probe_measures_bf16_rounding_for_a_correct_shape() -> None:
    torch.manual_seed(1)
    error = bf16_conv_guard.bf16_relative_error(nn.Conv1d(64, 64, 3, stride=2))
    assert 0 < error < 0.02
