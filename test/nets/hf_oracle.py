"""Helpers for parity tests: random transformers SpeechT5 models as the oracle, ported into ours."""

from __future__ import annotations

from typing import Dict

import pytest
import torch

transformers = pytest.importorskip("transformers")
from transformers import SpeechT5Config as HFConfig  # noqa: E402
from transformers import SpeechT5ForSpeechToSpeech, SpeechT5ForSpeechToText, SpeechT5ForTextToSpeech  # noqa: E402
from transformers.models.speecht5 import modeling_speecht5  # noqa: E402

from espnet2_speecht5.checkpoint.hf_mapping import config_to_hf, hf_to_ours  # noqa: E402
from espnet2_speecht5.nets.compositions import build_network  # noqa: E402
from espnet2_speecht5.nets.config import SpeechT5Config  # noqa: E402

from repo_testing import randomise_norms  # noqa: E402

HF_CLASSES = {"s2t": SpeechT5ForSpeechToText, "t2s": SpeechT5ForTextToSpeech, "s2s": SpeechT5ForSpeechToSpeech}
TOL = 1e-4


def hf_config(cfg: SpeechT5Config, kind: str) -> HFConfig:
    values = config_to_hf(cfg, kind)
    values.pop("model_type")
    values.pop("architectures")
    return HFConfig(**values)




def build_pair(kind: str, cfg: SpeechT5Config, seed: int = 0):
    """A random transformers model (eval) and our network (eval) holding the same weights."""
    torch.manual_seed(seed)
    hf = HF_CLASSES[kind](hf_config(cfg, kind)).eval()
    randomise_norms(hf)
    net = build_network(kind, cfg).eval()
    state, unknown = hf_to_ours(hf.state_dict(), cfg)
    assert not unknown, unknown
    net.load_state_dict(state, strict=True)
    return hf, net


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}"
    return float((a - b).abs().max())


def report(name: str, diffs: Dict[str, float], tol: float = TOL) -> None:
    """Print the max differences and assert each is within ``tol``."""
    line = ", ".join(f"{k}={v:.3g}" for k, v in diffs.items())
    print(f"[parity] {name}: max abs diff {line}")
    bad = {k: v for k, v in diffs.items() if not v <= tol}
    assert not bad, f"{name}: max abs diff above {tol}: {bad}"


@pytest.fixture
def no_hf_prenet_dropout(monkeypatch):
    """transformers applies its speech-decoder pre-net dropout even in eval, and with p = 0 it
    zeroes everything (its mask keeps units with probability p): replace it by the identity."""
    monkeypatch.setattr(modeling_speecht5.SpeechT5SpeechDecoderPrenet, "_consistent_dropout", lambda self, x, p: x)


def tiny_config(**changes) -> SpeechT5Config:
    return SpeechT5Config.tiny(**changes).without_dropout()


def waveform_batch(seed: int = 0, lengths=(8000, 6400)):
    gen = torch.Generator().manual_seed(seed)
    longest = max(lengths)
    wav = torch.randn(len(lengths), longest, generator=gen)
    lens = torch.tensor(lengths)
    wav = wav * (torch.arange(longest)[None, :] < lens[:, None])
    mask = (torch.arange(longest)[None, :] < lens[:, None]).long()
    return wav, lens, mask
