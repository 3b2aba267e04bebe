"""A training config used from another folder: its relative stats/BPE paths are found beside the
recipe that wrote it (a TTS recipe scoring with ../asr1/exp/asr_train_char/config.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from espnet2_speecht5.inference.config_paths import config_for_this_folder

STATS = "exp/asr_stats_char/train/feats_stats.npz"
BPE = "data/token_list/bpe_unigram30/bpe.model"


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    """egs2/x/asr1 with a config that names its stats file and BPE model relative to asr1/."""
    asr1 = tmp_path / "egs2" / "x" / "asr1"
    (asr1 / "exp" / "asr_train").mkdir(parents=True)
    for relative in (STATS, BPE):
        (asr1 / relative).parent.mkdir(parents=True, exist_ok=True)
        (asr1 / relative).write_bytes(b"x")
    config = {"token_type": "bpe", "bpemodel": BPE, "normalize": "global_mvn",
              "normalize_conf": {"stats_file": STATS}, "frontend_conf": {"n_mels": 40}}
    (asr1 / "exp" / "asr_train" / "config.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "egs2" / "x" / "tts1").mkdir()
    return asr1


def test_from_another_recipe_the_paths_become_the_writing_recipes(recipe: Path, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(recipe.parent / "tts1")
    work = tmp_path / "work"
    work.mkdir()
    used = config_for_this_folder("../asr1/exp/asr_train/config.yaml", work)
    assert used == work / "config.yaml"
    config = yaml.safe_load(used.read_text())
    assert config["normalize_conf"]["stats_file"] == str((recipe / STATS).resolve())
    assert config["bpemodel"] == str((recipe / BPE).resolve())
    assert config["frontend_conf"] == {"n_mels": 40}  # everything else as it was
    original = yaml.safe_load((recipe / "exp" / "asr_train" / "config.yaml").read_text())
    assert original["normalize_conf"]["stats_file"] == STATS  # the experiment's own config is left alone


def test_in_the_writing_recipe_the_config_is_used_as_it_is(recipe: Path, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(recipe)
    config = recipe / "exp" / "asr_train" / "config.yaml"
    assert config_for_this_folder(config, tmp_path) == config
    assert not (tmp_path / "config.yaml").exists()


def test_a_file_that_exists_nowhere_is_left_for_the_loader_to_name(recipe: Path, tmp_path: Path, monkeypatch):
    (recipe / STATS).unlink()
    monkeypatch.chdir(recipe.parent / "tts1")
    work = tmp_path / "work"
    work.mkdir()
    used = config_for_this_folder("../asr1/exp/asr_train/config.yaml", work)
    config = yaml.safe_load(used.read_text())
    assert config["normalize_conf"]["stats_file"] == STATS
    assert config["bpemodel"] == str((recipe / BPE).resolve())
