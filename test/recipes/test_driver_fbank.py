"""Stages 1-13 of a toy ASR recipe with ESPnet's front end (``speech_prenet: fbank``, ``frontend:
default``, ``specaug``, ``normalize: global_mvn``): stage 7 collects the filter-bank statistics,
stage 8 reads them, the zip carries them, ``Speech2Text.from_pretrained`` rebuilds the front end, and
stage 13 exports the ESPnet side only, saying why in one line."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch
import yaml
from test_driver import TOY_ASR_SCHEDULE, make_toy_recipe, run

pytestmark = pytest.mark.recipe_run  # a full recipe run: make test-recipes and CI run it, make test does not

TINY_FBANK = (
    "speech_prenet: fbank\nfrontend: default\nfrontend_conf: {n_mels: 40}\n"
    "specaug: specaug\nspecaug_conf: {time_mask_width_range: [0, 4], num_time_mask: 1}\nnormalize: global_mvn\n"
    "net_conf: {size: tiny, d_model: 16, encoder_layers: 1, decoder_layers: 1, encoder_heads: 2, decoder_heads: 2,\n"
    "           encoder_ffn_dim: 32, decoder_ffn_dim: 32}\n" + TOY_ASR_SCHEDULE
)
TINY_DECODE = "beam_size: 2\nctc_weight: 0.3\nmaxlenratio: 0.3\n"


@pytest.fixture(scope="module")
def fbank_recipe(tmp_path_factory) -> tuple:
    recipe = make_toy_recipe(tmp_path_factory.mktemp("fbank"), "asr")
    (recipe / "conf").mkdir()
    (recipe / "conf" / "train.yaml").write_text(TINY_FBANK)
    (recipe / "conf" / "decode.yaml").write_text(TINY_DECODE)
    proc = run(recipe, "--stage", "1", "--stop_stage", "13", "--test_sets", "test")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return recipe, proc


def test_stage_7_collects_filter_bank_statistics_that_stage_8_reads(fbank_recipe) -> None:
    recipe, _ = fbank_recipe
    stats = np.load(recipe / "exp" / "asr_stats_char" / "train" / "feats_stats.npz")
    assert stats["sum"].shape == (40,) and int(stats["count"]) > 0  # 40 mel bands, not the waveform
    config = yaml.safe_load((recipe / "exp" / "asr_train_char" / "config.yaml").read_text())
    assert config["speech_prenet"] == "fbank" and config["normalize"] == "global_mvn"
    assert config["normalize_conf"]["stats_file"] == "exp/asr_stats_char/train/feats_stats.npz"
    assert config["frontend_conf"]["hop_length"] == 160 and config["frontend_conf"]["n_mels"] == 40


def test_the_zip_carries_the_statistics_and_from_pretrained_rebuilds_the_front_end(fbank_recipe, tmp_path) -> None:
    from espnet2_speecht5.inference.speech2text import Speech2Text
    from espnet2_speecht5.nets.fbank_prenet import FbankSpeechPrenet

    recipe, _ = fbank_recipe
    (zip_path,) = (recipe / "exp" / "asr_train_char").glob("*.zip")
    with zipfile.ZipFile(zip_path) as archive:
        assert "exp/asr_stats_char/train/feats_stats.npz" in archive.namelist()
    speech2text = Speech2Text.from_pretrained(str(zip_path), cache_dir=tmp_path / "cache")
    prenet = speech2text.model.net.speech_prenet
    assert isinstance(prenet, FbankSpeechPrenet) and type(prenet.normalize).__name__ == "GlobalMVN"
    stats = np.load(recipe / "exp" / "asr_stats_char" / "train" / "feats_stats.npz")
    mean = stats["sum"] / stats["count"]
    assert torch.allclose(prenet.normalize.mean.double(), torch.from_numpy(mean), atol=1e-5)
    wav = (recipe / "dump" / "raw" / "test" / "wav.scp").read_text().split("\n")[0].split()[1]
    results = speech2text(wav)
    assert len(results) >= 1 and isinstance(results[0][0], str)


def test_stage_13_exports_the_espnet_side_and_says_why_there_is_no_transformers_model(fbank_recipe) -> None:
    recipe, proc = fbank_recipe
    export = recipe / "exp" / "asr_train_char" / "export"
    assert (export / "meta.yaml").is_file() and (export / "README.md").is_file()
    assert not (export / "config.json").exists() and not (export / "model.safetensors").exists()
    line = next(line for line in proc.stderr.splitlines() if "no transformers export" in line)
    assert "speech_prenet fbank" in line and "the folder holds the ESPnet model only" in line
