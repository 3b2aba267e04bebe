"""Fixtures of the TTS tests: a small model and a randomly initialised experiment folder."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from tts_helpers import NET_CONF, TOKENS, make_tts_model


@pytest.fixture(scope="module")
def tts_exp(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """config.yaml + model.pth of a random model, three utterances (wav, text, x-vectors)."""
    root = tmp_path_factory.mktemp("tts_exp")
    (root / "tokens.txt").write_text("\n".join(TOKENS) + "\n", encoding="utf-8")
    torch.save(make_tts_model(seed=1).state_dict(), root / "model.pth")
    config = dict(
        token_list=list(TOKENS),
        token_type="char",
        bpemodel=None,
        use_preprocessor=True,
        non_linguistic_symbols=None,
        cleaner=None,
        g2p=None,
        net_conf=dict(NET_CONF),
        model_conf={},
        init=None,
    )
    (root / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    rng = np.random.default_rng(0)
    wav_lines, text_lines = [], []
    with kaldiio.WriteHelper(f"ark,scp:{root / 'xvector.ark'},{root / 'xvector.scp'}") as writer:
        for index, (seconds, text) in enumerate(((0.3, "abc de"), (0.25, "ab"), (0.35, "ed cba"))):
            key = f"utt{index}"
            path = root / f"{key}.wav"
            t = np.arange(int(16000 * seconds)) / 16000
            sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * (index + 1) * t)).astype(np.float32), 16000)
            wav_lines.append(f"{key} {path}")
            text_lines.append(f"{key} {text}")
            writer(key, rng.standard_normal(8).astype(np.float32))
    (root / "wav.scp").write_text("\n".join(wav_lines) + "\n", encoding="utf-8")
    (root / "text").write_text("\n".join(text_lines) + "\n", encoding="utf-8")
    return dict(
        root=root,
        config=root / "config.yaml",
        model=root / "model.pth",
        tokens=root / "tokens.txt",
        wav_scp=root / "wav.scp",
        text=root / "text",
        xvector=root / "xvector.scp",
    )
