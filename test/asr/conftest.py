"""Fixtures of the ASR tests: a small model and a randomly initialised experiment folder."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from asr_helpers import NET_CONF, TOKENS, make_model

from espnet2_speecht5.models.asr import SpeechT5ASRModel


@pytest.fixture
def tokens() -> List[str]:
    return list(TOKENS)


@pytest.fixture
def model() -> SpeechT5ASRModel:
    return make_model()


@pytest.fixture(scope="module")
def asr_exp(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """A randomly initialised experiment: config.yaml + model.pth, a token list and three utterances."""
    root = tmp_path_factory.mktemp("asr_exp")
    (root / "tokens.txt").write_text("\n".join(TOKENS) + "\n", encoding="utf-8")
    model = make_model(seed=1)
    torch.save(model.state_dict(), root / "model.pth")
    config = dict(
        token_list=list(TOKENS),
        token_type="char",
        bpemodel=None,
        use_preprocessor=True,
        non_linguistic_symbols=None,
        cleaner=None,
        g2p=None,
        net_conf=dict(NET_CONF),
        model_conf=dict(ctc_weight=0.3),
        init=None,
    )
    (root / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    rng = np.random.default_rng(0)
    wav_lines, text_lines = [], []
    for index, seconds in enumerate((0.3, 0.25, 0.35)):
        key = f"utt{index}"
        path = root / f"{key}.wav"
        sf.write(path, (0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32), 16000)
        wav_lines.append(f"{key} {path}")
        text_lines.append(f"{key} abc de")
    (root / "wav.scp").write_text("\n".join(wav_lines) + "\n", encoding="utf-8")
    (root / "text").write_text("\n".join(text_lines) + "\n", encoding="utf-8")
    return dict(
        root=root,
        config=root / "config.yaml",
        model=root / "model.pth",
        tokens=root / "tokens.txt",
        wav_scp=root / "wav.scp",
        text=root / "text",
    )
