"""Small ASR models and token lists shared by the ASR tests."""

from __future__ import annotations

from typing import Any, Dict, List

import torch

from espnet2_speecht5.models.asr import SpeechT5ASRModel
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
    conv_channels=[8, 8, 8],
    pos_conv_kernel=8,
    pos_conv_groups=2,
)


def make_model(seed: int = 0, **model_conf: Any) -> SpeechT5ASRModel:
    torch.manual_seed(seed)
    return SpeechT5ASRModel(len(TOKENS), TOKENS, net_config_from_conf(NET_CONF), **model_conf)
