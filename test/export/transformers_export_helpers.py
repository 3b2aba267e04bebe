"""Tiny trained-looking ASR / TTS experiments (config.yaml + model .pth) for the export tests."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Dict, List, Tuple

import torch
import yaml

from espnet2_speecht5.tasks.asr import ASRTask
from espnet2_speecht5.tasks.tts import TTSTask
from espnet2_speecht5.tasks.vc import VCTask

from repo_testing import randomise_norms

TOKENS: List[str] = ["<blank>", "<unk>", "<space>", "a", "b", "c", "d", "e", "<sos/eos>"]
ASR_NET: Dict[str, Any] = dict(
    size="tiny", d_model=32, encoder_layers=1, encoder_heads=2, encoder_ffn_dim=48, decoder_layers=2,
    decoder_heads=2, decoder_ffn_dim=48, conv_channels=[8, 8, 8], pos_conv_kernel=8, pos_conv_groups=2,
)  # fmt: skip
TTS_NET: Dict[str, Any] = dict(
    size="tiny", d_model=32, encoder_layers=1, encoder_heads=2, encoder_ffn_dim=48, decoder_layers=2,
    decoder_heads=2, decoder_ffn_dim=48, speech_prenet_units=16, postnet_units=16, postnet_layers=2,
    speaker_embedding_dim=8,
)  # fmt: skip
VC_NET: Dict[str, Any] = dict(
    TTS_NET, conv_channels=[8, 8, 8], pos_conv_kernel=8, pos_conv_groups=2,
)  # fmt: skip
TASKS = {"asr": (ASRTask, ASR_NET), "tts": (TTSTask, TTS_NET), "vc": (VCTask, VC_NET)}
# meta.yaml keys of espnet2.bin.pack per task: (config key, model key)
META = {"asr": ("asr_train_config", "asr_model_file"), "tts": ("train_config", "model_file"),
        "vc": ("s2st_train_config", "s2st_model_file")}


def write_experiment(root: Path, task: str, seed: int = 0, model_conf: Dict[str, Any] = None) -> Tuple[Path, Path]:
    """``root/exp/<task>_x/config.yaml`` and ``model.pth`` of a random model built by the task.

    Returns:
        (config path, model path).
    """
    task_cls, net_conf = TASKS[task]
    exp = root / "exp" / f"{task}_x"
    exp.mkdir(parents=True)
    config = dict(
        token_list=list(TOKENS) if task != "vc" else ["<blank>", "<unk>", "<sos/eos>"],  # vc reads no text
        token_type="char", bpemodel=None, use_preprocessor=True,
        non_linguistic_symbols=None, cleaner=None, g2p=None, net_conf=dict(net_conf), model_conf=model_conf or {},
        init=None, train_data_path_and_name_and_type=[["dump/raw/train/wav.scp", "speech", "sound"]],
    )  # fmt: skip
    (exp / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    torch.manual_seed(seed)
    model, _ = task_cls.build_model_from_file(exp / "config.yaml", None, "cpu")
    randomise_norms(model, seed)
    torch.save(model.state_dict(), exp / "model.pth")
    return exp / "config.yaml", exp / "model.pth"


def write_zip(root: Path, task: str, seed: int = 0) -> Path:
    """A model-zoo zip (meta.yaml + exp/<task>_x/{config.yaml, model.pth, RESULTS.md}) under ``root``."""
    config, model = write_experiment(root / "recipe", task, seed)
    (config.parent / "RESULTS.md").write_text("# RESULTS\n## exp/x\n|dataset|Snt|\n|---|---|\n|test|3|\n")
    config_key, model_key = META[task]
    meta = {"files": {model_key: f"exp/{task}_x/model.pth"}, "yaml_files": {config_key: f"exp/{task}_x/config.yaml"}}
    zip_path = config.parent / f"{task}_x_valid.acc.best.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("meta.yaml", yaml.safe_dump(meta))
        for path in (config, model, config.parent / "RESULTS.md"):
            archive.write(path, f"exp/{task}_x/{path.name}")
    return zip_path
