"""Fixtures of the TTS tests: a small model and a randomly initialised experiment folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from espnet2_speecht5.models.tts import SpeechT5TTSModel
from espnet2_speecht5.tasks.asr import net_config_from_conf

TOKENS: List[str] = ["<blank>", "<unk>", "<space>", "a", "b", "c", "d", "e", "<sos/eos>"]
NET_CONF: Dict[str, Any] = dict(
    size="tiny",
    d_model=32,
    encoder_layers=1,
    encoder_heads=2,
    encoder_ffn_dim=48,
    decoder_layers=2,
    decoder_heads=2,
    decoder_ffn_dim=48,
    speech_prenet_units=16,
    postnet_units=16,
    postnet_layers=2,
    speaker_embedding_dim=8,
)


def make_tts_model(seed: int = 0, **model_conf: Any) -> SpeechT5TTSModel:
    torch.manual_seed(seed)
    return SpeechT5TTSModel(len(TOKENS), TOKENS, net_config_from_conf(NET_CONF), **model_conf)


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
