"""A small TTS model and its token list, shared by the TTS tests."""

from __future__ import annotations

from typing import Any, Dict, List

import torch

from espnet2_speecht5.models.tts import SpeechT5TTSModel
from espnet2_speecht5.tasks.common import net_config_from_conf

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
