"""Tiny trained-looking experiments (random weights) packed the way stage 12 packs them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import kaldiio
import numpy as np
import torch
import yaml

from espnet2_speecht5.checkpoint.archive import add_checksums
from espnet2_speecht5.models.asr import SpeechT5ASRModel
from espnet2_speecht5.models.sid import SpeechT5SIDModel
from espnet2_speecht5.models.tts import SpeechT5TTSModel
from espnet2_speecht5.tasks.common import net_config_from_conf

CHAR_TOKENS: List[str] = ["<blank>", "<unk>", "<space>", "a", "b", "c", "d", "e", "<sos/eos>"]
SPEAKER_TOKENS: List[str] = ["<blank>", "<unk>", "spk_anna", "spk_bert", "spk_carl", "<sos/eos>"]
ASR_NET: Dict[str, Any] = dict(
    size="tiny", d_model=32, encoder_layers=1, encoder_heads=2, encoder_ffn_dim=48, decoder_layers=1,
    decoder_heads=2, decoder_ffn_dim=48, conv_channels=[8, 8, 8], pos_conv_kernel=8, pos_conv_groups=2,
)
TTS_NET: Dict[str, Any] = dict(
    size="tiny", d_model=32, encoder_layers=1, encoder_heads=2, encoder_ffn_dim=48, decoder_layers=1,
    decoder_heads=2, decoder_ffn_dim=48, speech_prenet_units=16, postnet_units=16, postnet_layers=2,
    speaker_embedding_dim=8,
)


def _config(tokens: Sequence[str], token_type: str, net_conf: Dict[str, Any], model_conf: Dict[str, Any]) -> dict:
    return dict(token_list=list(tokens), token_type=token_type, bpemodel=None, use_preprocessor=True,
                non_linguistic_symbols=None, cleaner=None, g2p=None, net_conf=dict(net_conf),
                model_conf=dict(model_conf), init=None)


def write_asr_exp(recipe: Path, name: str = "asr_tiny", tokens: Sequence[str] = CHAR_TOKENS,
                  token_type: str = "char", seed: int = 0) -> Dict[str, Path]:
    """``recipe/exp/<name>/{config.yaml, model.pth}`` of a random speech-to-text model."""
    exp = recipe / "exp" / name
    exp.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = SpeechT5ASRModel(len(tokens), list(tokens), net_config_from_conf(ASR_NET), ctc_weight=0.3)
    torch.save(model.state_dict(), exp / "model.pth")
    config = _config(tokens, token_type, ASR_NET, {"ctc_weight": 0.3})
    (exp / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (exp / "RESULTS.md").write_text("# RESULTS\n\nnothing measured: random weights\n", encoding="utf-8")
    return dict(exp=exp, config=exp / "config.yaml", model=exp / "model.pth")


def write_sid_exp(recipe: Path, name: str = "sid_tiny", tokens: Sequence[str] = SPEAKER_TOKENS, seed: int = 0,
                  head: str = "decoder") -> Dict[str, Path]:
    """``recipe/exp/<name>/{config.yaml, model.pth}`` of a random speaker-identification model."""
    exp = recipe / "exp" / name
    exp.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = SpeechT5SIDModel(len(tokens), list(tokens), net_config_from_conf(ASR_NET), head=head)
    torch.save(model.state_dict(), exp / "model.pth")
    config = _config(tokens, "word", ASR_NET, {"head": head})
    (exp / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (exp / "RESULTS.md").write_text("# RESULTS\n\nnothing measured: random weights\n", encoding="utf-8")
    return dict(exp=exp, config=exp / "config.yaml", model=exp / "model.pth")


def write_tts_exp(recipe: Path, name: str = "tts_tiny", seed: int = 0,
                  speakers: Optional[Dict[str, np.ndarray]] = None) -> Dict[str, Path]:
    """``recipe/exp/<name>`` of a random TTS model, plus ``dump/xvector/train/spk_xvector.ark``."""
    exp = recipe / "exp" / name
    exp.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = SpeechT5TTSModel(len(CHAR_TOKENS), list(CHAR_TOKENS), net_config_from_conf(TTS_NET))
    torch.save(model.state_dict(), exp / "model.pth")
    (exp / "config.yaml").write_text(yaml.safe_dump(_config(CHAR_TOKENS, "char", TTS_NET, {})), encoding="utf-8")
    (exp / "RESULTS.md").write_text("# RESULTS\n\nnothing measured: random weights\n", encoding="utf-8")
    table = recipe / "dump" / "xvector" / "train" / "spk_xvector.ark"
    table.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    speakers = speakers or {name: rng.standard_normal(8).astype(np.float32) for name in ("anna", "bert")}
    with kaldiio.WriteHelper(f"ark:{table}") as writer:
        for speaker, vector in speakers.items():
            writer(speaker, vector)
    return dict(exp=exp, config=exp / "config.yaml", model=exp / "model.pth", speakers=table)


def pack(recipe: Path, out: Path, task: str, config: Path, model: Path, options: Sequence[Path] = (),
         checksums: bool = True) -> Path:
    """Pack as ``espnet2.bin.pack`` does, from inside the recipe folder (paths relative to it)."""
    from espnet2.main_funcs.pack_funcs import pack as espnet_pack

    prefix = {"asr": "asr_", "classification": "classification_"}.get(task, "")
    here = Path.cwd()
    os.chdir(recipe)
    try:
        espnet_pack(files={f"{prefix}model_file": str(model.relative_to(recipe))},
                    yaml_files={f"{prefix}train_config": str(config.relative_to(recipe))},
                    option=[str(Path(o).relative_to(recipe)) for o in options], outpath=str(out))
    finally:
        os.chdir(here)
    if checksums:
        add_checksums(out)
    return out


def tone(seconds: float = 0.4, freq: float = 220.0, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * np.random.default_rng(0).standard_normal(t.size)).astype(
        np.float32)
