"""The waveform pre-net's channels-last path under CPU bf16 autocast: same features, same gradients."""

from __future__ import annotations

import torch

from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.nets.speech_encoder_prenet import ConvFeatureExtractor


def extractor() -> ConvFeatureExtractor:
    torch.manual_seed(0)
    cfg = SpeechT5Config.tiny(conv_channels=(64, 64, 64, 64), conv_kernels=(10, 3, 3, 2), conv_strides=(5, 2, 2, 2))
    return ConvFeatureExtractor(cfg).train()


def features_and_grads(model: ConvFeatureExtractor, channels_last: bool):
    wav = torch.randn(3, 16000, generator=torch.Generator().manual_seed(1))
    model.zero_grad()
    model.channels_last = lambda _wav: channels_last  # type: ignore[method-assign]
    with torch.autocast("cpu", torch.bfloat16):
        feats = model(wav)
    weights = torch.randn(feats.shape, generator=torch.Generator().manual_seed(2))
    (feats.float() * weights).sum().backward()
    return feats.detach().float(), [block.conv.weight.grad.clone() for block in model.layers]


def test_channels_last_is_chosen_under_bf16_autocast_only():
    model = extractor()
    wav = torch.zeros(1, 4000)
    assert not model.channels_last(wav)
    with torch.autocast("cpu", torch.bfloat16):
        assert model.channels_last(wav)
    layer_norm = ConvFeatureExtractor(SpeechT5Config.tiny(conv_norm="layer"))
    with torch.autocast("cpu", torch.bfloat16):
        assert not layer_norm.channels_last(wav)


def test_channels_last_gives_the_same_features_and_gradients():
    model = extractor()
    plain, plain_grads = features_and_grads(model, channels_last=False)
    fast, fast_grads = features_and_grads(model, channels_last=True)
    assert fast.shape == plain.shape == (3, 399, 64)
    torch.testing.assert_close(fast, plain, rtol=1e-2, atol=1e-2)
    for index, (got, want) in enumerate(zip(fast_grads, plain_grads)):
        assert float((got - want).norm() / want.norm()) < 1e-2, f"conv {index}"
