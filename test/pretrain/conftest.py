"""Fixtures of the pre-training tests: a tiny joint model and small speech/text batches."""

from __future__ import annotations

from typing import Callable, Dict

import pytest
import torch

from espnet2_speecht5.models.pretrain import SpeechT5PretrainModel
from espnet2_speecht5.nets.config import SpeechT5Config

TOKENS = ["<blank>", "<unk>", "a", "b", "c", "d", "e", "<space>", "<mask>", "<sos/eos>"]
NUM_CLUSTERS = 12


@pytest.fixture(scope="session")
def tokens():
    return list(TOKENS)


@pytest.fixture(scope="session")
def make_model() -> Callable[..., SpeechT5PretrainModel]:
    """``make_model(seed=0, **model_conf)`` -> a tiny model (64 dims, 2 + 2 blocks, 2 x 8 codes)."""

    def build(seed: int = 0, **conf) -> SpeechT5PretrainModel:
        torch.manual_seed(seed)
        values = dict(num_clusters=NUM_CLUSTERS, latent_vars=8)
        values.update(conf)
        return SpeechT5PretrainModel(len(TOKENS), TOKENS, SpeechT5Config.tiny(), **values)

    return build


@pytest.fixture()
def speech_batch() -> Dict[str, torch.Tensor]:
    """Two waveforms (0.5 s and 0.375 s) and 50 Hz labels; the second has one label fewer than frames."""
    gen = torch.Generator().manual_seed(11)
    speech = 0.1 * torch.randn(2, 8000, generator=gen)
    speech[1, 6000:] = 0.0
    lengths = torch.tensor([8000, 6000])
    label = torch.randint(0, NUM_CLUSTERS, (2, 24), generator=gen)
    label_lengths = torch.tensor([24, 17])  # frames: 24 and 18
    label[1, 17:] = -1
    return {"speech": speech, "speech_lengths": lengths, "label": label, "label_lengths": label_lengths}


@pytest.fixture()
def text_batch() -> Dict[str, torch.Tensor]:
    """Two token sequences in ESPnet ids, padded with -1."""
    text = torch.tensor([[2, 3, 4, 7, 5, 6, 2, 3, 4, 5, 6, 7, 2, 3], [4, 5, 6] + [-1] * 11])
    return {"text": text, "text_lengths": torch.tensor([14, 3])}
