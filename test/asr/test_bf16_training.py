"""``bf16: true``: ESPnet's training loop runs its forward passes under bf16 autocast on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import espnet2.train.trainer as espnet_trainer
import pytest
import torch
import yaml
from asr_helpers import NET_CONF

from espnet2_speecht5.bin import asr_train
from espnet2_speecht5.models.asr import SpeechT5ASRModel
from espnet2_speecht5.train.trainer import forward_autocast


def test_forward_autocast_swaps_espnet_autocast_for_the_run_only():
    original = espnet_trainer.autocast
    with forward_autocast(True, "cpu"):
        with espnet_trainer.autocast(False):  # ESPnet passes use_amp (False): bf16 is on regardless
            product = torch.randn(4, 4) @ torch.randn(4, 4)
        assert product.dtype == torch.bfloat16
    assert espnet_trainer.autocast is original
    with forward_autocast(False, "cpu"):
        assert espnet_trainer.autocast is original


def _args(exp: Dict[str, Path], out: Path, config: Path, stats: Path = None) -> List[str]:
    args = [
        "--config", str(config), "--token_list", str(exp["tokens"]), "--output_dir", str(out), "--ngpu", "0",
        "--train_data_path_and_name_and_type", f"{exp['wav_scp']},speech,sound",
        "--train_data_path_and_name_and_type", f"{exp['text']},text,text",
        "--valid_data_path_and_name_and_type", f"{exp['wav_scp']},speech,sound",
        "--valid_data_path_and_name_and_type", f"{exp['text']},text,text",
        "--batch_type", "unsorted", "--batch_size", "2",
    ]  # fmt: skip
    if stats is None:
        return args + ["--collect_stats", "true", "--train_shape_file", str(exp["wav_scp"]),
                       "--valid_shape_file", str(exp["wav_scp"])]
    return args + ["--train_shape_file", str(stats / "train" / "speech_shape"),
                   "--valid_shape_file", str(stats / "valid" / "speech_shape")]


@pytest.fixture(scope="module")
def stats(asr_exp, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bf16") / "stats"
    config = out.parent / "stats.yaml"
    config.write_text(yaml.safe_dump({"net_conf": dict(NET_CONF)}), encoding="utf-8")
    asr_train.main(_args(asr_exp, out, config))
    return out


def test_training_with_bf16_runs_the_model_forward_in_bf16(asr_exp, stats: Path, tmp_path: Path, monkeypatch):
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"net_conf": dict(NET_CONF), "max_epoch": 1, "bf16": True,
                                      "optim": "adam", "num_att_plot": 0}), encoding="utf-8")
    seen: List[object] = []
    forward = SpeechT5ASRModel.forward

    def recording(self, *args, **kwargs):
        seen.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None)
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(SpeechT5ASRModel, "forward", recording)
    out = tmp_path / "exp"
    asr_train.main(_args(asr_exp, out, config, stats))
    assert len(seen) >= 2 and all(dtype == torch.bfloat16 for dtype in seen), seen  # training and validation
    state = torch.load(out / "1epoch.pth", weights_only=True)
    floats = [v for v in state.values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float32 and bool(torch.isfinite(v).all()) for v in floats)
    assert not torch.is_autocast_enabled("cpu")


def test_bf16_and_use_amp_together_are_refused(asr_exp, stats: Path, tmp_path: Path, capsys):
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"net_conf": dict(NET_CONF), "bf16": True, "use_amp": True}), encoding="utf-8")
    with pytest.raises(SystemExit):
        asr_train.main(_args(asr_exp, tmp_path / "exp", config, stats))
    assert "use_amp" in capsys.readouterr().err.strip().splitlines()[-1]
