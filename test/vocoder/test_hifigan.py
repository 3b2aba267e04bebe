"""HiFi-GAN generator: parity with transformers' SpeechT5HifiGan through both checkpoint layouts, and bad files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict

import numpy as np
import pytest
import torch
from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.vocoder import HifiGanVocoder, build_vocoder, load_official_hifigan, load_transformers_hifigan

PARITY_TOLERANCE = 1e-5  # measured 0.0 (transformers folder) and 2.7e-6 (weight-norm official checkpoint), CPU float32


def randomised_hf_model(config: SpeechT5HifiGanConfig, seed: int) -> SpeechT5HifiGan:
    """A transformers vocoder with fan-in scaled random weights and random statistics, so that outputs are
    far from zero and far from tanh saturation (the default initialisation gives almost silent output)."""
    torch.manual_seed(seed)
    model = SpeechT5HifiGan(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_(0.0, 0.1)
            elif name.startswith("upsampler."):  # (in, out, k); stride-4 overlap feeds each output ~k/4 taps
                param.normal_(0.0, (param.shape[0] * param.shape[2] / 4) ** -0.5)
            else:
                param.normal_(0.0, (param.shape[1] * param.shape[2]) ** -0.5)
        model.mean.normal_(-5.0, 1.0)
        model.scale.uniform_(0.5, 2.0)
    return model


def random_mel(frames: int, seed: int, batch: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, frames, 80) if batch else (frames, 80)
    return torch.randn(shape, generator=generator) * 2.0 - 5.0


def assert_close_and_audible(ours: torch.Tensor, ref: torch.Tensor) -> None:
    assert ours.shape == ref.shape
    assert ref.std() > 0.05, "reference output too quiet for the comparison to mean anything"
    assert (ours - ref).abs().max() <= PARITY_TOLERANCE


@pytest.fixture(scope="module")
def default_folder(tmp_path_factory) -> Dict[str, object]:
    model = randomised_hf_model(SpeechT5HifiGanConfig(), seed=0)
    folder = tmp_path_factory.mktemp("hf_hifigan")
    model.save_pretrained(folder)
    return {"model": model, "folder": folder}


def test_transformers_folder_parity_single_utterance(default_folder):
    mel = random_mel(200, seed=1)
    with torch.no_grad():
        ref = default_folder["model"](mel)
    vocoder = build_vocoder("hifigan", path=default_folder["folder"])
    assert isinstance(vocoder, HifiGanVocoder) and vocoder.sample_rate == 16000
    wav = vocoder(mel)
    assert wav.shape == (200 * 256,) and wav.dtype == torch.float32
    assert_close_and_audible(wav, ref)


def test_transformers_folder_parity_batch_with_custom_sizes(tmp_path):
    config = SpeechT5HifiGanConfig(
        upsample_initial_channel=64,
        upsample_rates=[8, 4, 2],
        upsample_kernel_sizes=[16, 8, 4],
        resblock_kernel_sizes=[3, 5],
        resblock_dilation_sizes=[[1, 2], [1, 3, 9]],
        leaky_relu_slope=0.2,
    )
    model = randomised_hf_model(config, seed=2)
    model.save_pretrained(tmp_path)
    mel = random_mel(30, seed=3, batch=2)
    with torch.no_grad():
        ref = model(mel)
    ours = load_transformers_hifigan(tmp_path)
    assert ours.config.hop_length == 64 and ours.config.leaky_relu_slope == 0.2
    with torch.no_grad():
        wav = ours(mel)
    assert wav.shape == (2, 30 * 64)
    assert_close_and_audible(wav, ref)


def test_pytorch_model_bin_folder_with_hub_model_type(default_folder, tmp_path):
    model = default_folder["model"]
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    config = json.loads((default_folder["folder"] / "config.json").read_text())
    config["model_type"] = "hifigan"  # as in the published microsoft/speecht5_hifigan config
    (tmp_path / "config.json").write_text(json.dumps(config))
    mel = random_mel(20, seed=4)
    with torch.no_grad():
        assert_close_and_audible(load_transformers_hifigan(tmp_path)(mel), model(mel))


# transformers' parametrised weight-norm names -> the official (ParallelWaveGAN-style) generator names.
OFFICIAL_RENAMES = [
    (r"^conv_pre\.", "input_conv."),
    (r"^conv_post\.", "output_conv.1."),
    (r"^upsampler\.(\d+)\.", r"upsamples.\1.1."),
    (r"^resblocks\.(\d+)\.(convs[12])\.(\d+)\.", r"blocks.\1.\2.\3.1."),
    (r"parametrizations\.weight\.original0$", "weight_g"),
    (r"parametrizations\.weight\.original1$", "weight_v"),
]


def official_checkpoint(model: SpeechT5HifiGan, folder: Path) -> Path:
    """Writes ``checkpoint.pkl`` (training-checkpoint layout) and ``stats.npy`` for a weight-normed ``model``."""
    generator = {}
    for name, tensor in model.state_dict().items():
        if name in ("mean", "scale"):
            continue
        for pattern, replacement in OFFICIAL_RENAMES:
            name = re.sub(pattern, replacement, name)
        generator[name] = tensor.clone()
    path = folder / "checkpoint.pkl"
    discriminator = {"layers.0.weight": torch.zeros(3)}
    torch.save({"model": {"generator": generator, "discriminator": discriminator}, "steps": 10, "epochs": 1}, path)
    np.save(folder / "stats.npy", torch.stack([model.mean, model.scale]).numpy())
    return path


@pytest.fixture(scope="module")
def official(tmp_path_factory) -> Dict[str, object]:
    model = randomised_hf_model(SpeechT5HifiGanConfig(), seed=5)
    model.apply_weight_norm()
    with torch.no_grad():  # magnitudes different from ||v||, so a wrong fold cannot pass
        for name, param in model.named_parameters():
            if name.endswith("original0"):
                param.mul_(torch.empty_like(param).uniform_(0.5, 1.5))
    folder = tmp_path_factory.mktemp("official")
    return {"model": model, "path": official_checkpoint(model, folder)}


def test_official_checkpoint_parity(official):
    mel = random_mel(60, seed=6)
    with torch.no_grad():
        ref = official["model"](mel)
    vocoder = build_vocoder("hifigan", path=official["path"])  # a file: official layout, stats.npy beside it
    assert_close_and_audible(vocoder(mel), ref)


def _one_line_naming(err: pytest.ExceptionInfo, path: Path) -> str:
    text = str(err.value)
    assert "\n" not in text and str(path) in text
    return text


def test_truncated_safetensors_is_a_one_line_error(default_folder, tmp_path):
    (tmp_path / "config.json").write_bytes((default_folder["folder"] / "config.json").read_bytes())
    data = (default_folder["folder"] / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as err:
        load_transformers_hifigan(tmp_path)
    assert "corrupt" in _one_line_naming(err, tmp_path / "model.safetensors")


def test_truncated_official_checkpoint_is_a_one_line_error(official, tmp_path):
    data = official["path"].read_bytes()
    path = tmp_path / "checkpoint.pkl"
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(DataError) as err:
        load_official_hifigan(path, stats=official["path"].parent / "stats.npy")
    _one_line_naming(err, path)


def test_missing_tensor_is_named(official, tmp_path):
    state = torch.load(official["path"], weights_only=True)
    del state["model"]["generator"]["blocks.7.convs2.1.1.weight_v"]
    path = tmp_path / "checkpoint.pkl"
    torch.save(state, path)
    with pytest.raises(DataError) as err:
        load_official_hifigan(path, stats=official["path"].parent / "stats.npy")
    assert "blocks.7.convs2.1.1.weight_v" in _one_line_naming(err, path)


def test_other_model_folder_is_refused(default_folder, tmp_path):
    (tmp_path / "model.safetensors").write_bytes((default_folder["folder"] / "model.safetensors").read_bytes())
    (tmp_path / "config.json").write_text('{"model_type": "speecht5"}')
    with pytest.raises(DataError, match="model_type is 'speecht5'") as err:
        build_vocoder("hifigan", path=tmp_path)
    _one_line_naming(err, tmp_path / "config.json")


def test_missing_stats_and_mismatched_config_are_named(default_folder, official, tmp_path):
    with pytest.raises(DataError) as err:
        load_official_hifigan(official["path"], stats=tmp_path / "stats.npy")
    _one_line_naming(err, tmp_path / "stats.npy")

    (tmp_path / "model.safetensors").write_bytes((default_folder["folder"] / "model.safetensors").read_bytes())
    (tmp_path / "config.json").write_text('{"model_type": "speecht5_hifigan", "upsample_initial_channel": 256}')
    with pytest.raises(DataError, match="shape") as err:
        load_transformers_hifigan(tmp_path)
    _one_line_naming(err, tmp_path / "model.safetensors")
