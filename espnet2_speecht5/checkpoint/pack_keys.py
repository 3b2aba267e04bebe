"""The meta.yaml keys of a packed model, which ``espnet2.bin.pack`` names after its pack kind."""

from __future__ import annotations

from typing import Dict, Tuple

from espnet2_speecht5.runtime.errors import DataError

# pack kind -> (the training config's key, the model file's key); ESPnet's own names (espnet2/bin/pack.py)
PACK_KEYS: Dict[str, Tuple[str, str]] = {
    "asr": ("asr_train_config", "asr_model_file"),
    "tts": ("train_config", "model_file"),
    "st": ("st_train_config", "st_model_file"),
    "ssl": ("ssl_train_config", "ssl_model_file"),
    "s2st": ("s2st_train_config", "s2st_model_file"),
    "classification": ("classification_train_config", "classification_model_file"),
}
LM_KEYS = ("lm_train_config", "lm_file")


def pack_keys(pack_kind: str) -> Tuple[str, str]:
    """(config key, model key) of ``pack_kind``.

    Raises:
        DataError: a kind ESPnet's packer does not have.
    """
    if pack_kind not in PACK_KEYS:
        raise DataError(f"unknown pack kind '{pack_kind}' (ESPnet packs {', '.join(PACK_KEYS)})")
    return PACK_KEYS[pack_kind]


def packed_kind(meta: dict) -> str:
    """The pack kind of a meta.yaml, from the training config's key it names.

    Raises:
        DataError: it names none of them.
    """
    yaml_files = meta.get("yaml_files") or {}
    for kind, (config_key, _) in PACK_KEYS.items():
        if config_key in yaml_files:
            return kind
    raise DataError(f"meta.yaml names no known training config ({', '.join(yaml_files) or 'nothing'})")
