"""egs2/must_c on a generated fake MuST-C tree: stage 1 turns the per-talk wavs and the YAML
segment lists into Kaldi data directories with ``segments``, and stages 1-5 of the recipe run on
them (stage 3 cutting the segments out of the talks). The recipe's config is checked too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import soundfile as sf
import yaml

from espnet2_speecht5.data.kaldi_dir import read_map

from repo_testing import REPO_ROOT, copy_recipe, run_recipe

# split -> talks -> [(offset, duration, English, German)]
TALKS: Dict[str, Dict[str, List[Tuple[float, float, str, str]]]] = {
    "train": {
        "ted_1": [(0.5, 1.2, "Thank you.", "Danke."), (2.0, 1.5, "It's a great honour.", "Es ist eine große Ehre.")],
        "ted_12": [(0.25, 1.0, "Hello, world!", "Hallo, Welt!"), (1.5, 0.8, "", "(Lachen)"),
                   (2.4, 0.5, "Yes.", "Ja.")],
    },
    "dev": {"ted_767": [(0.0, 1.0, "Good morning.", "Guten Morgen."), (1.1, 1.8, "How are you?", "Wie geht's?")]},
    "tst-COMMON": {"ted_1096": [(0.3, 2.0, "I'm going to talk about ideas.", "Ich spreche über Ideen.")]},
    "tst-HE": {"ted_1169": [(1.0, 1.5, "Let me show you.", "Lassen Sie mich zeigen.")]},
}
TALK_SECONDS = 4.0


def fake_must_c(root: Path, lang: str = "de", broken: str = "") -> Path:
    rng = np.random.default_rng(0)
    for split, talks in TALKS.items():
        data = root / f"en-{lang}" / "data" / split
        (data / "wav").mkdir(parents=True)
        (data / "txt").mkdir()
        entries, english, target = [], [], []
        for talk, segments in talks.items():
            if not (broken == "missing_wav" and talk == "ted_12"):
                sf.write(data / "wav" / f"{talk}.wav", 0.1 * rng.standard_normal(int(TALK_SECONDS * 16000)), 16000)
            for offset, duration, en, de in segments:
                entries.append(f"- {{duration: {duration:.6f}, offset: {offset:.6f}, rW: 3, uW: 0, "
                               f"speaker_id: spk.{talk[4:]}, wav: {talk}.wav}}")
                english.append(en)
                target.append(de)
        if broken == "short_translation" and split == "dev":
            target = target[:-1]
        (data / "txt" / f"{split}.yaml").write_text("\n".join(entries) + "\n")
        (data / "txt" / f"{split}.en").write_text("\n".join(english) + "\n")
        (data / "txt" / f"{split}.{lang}").write_text("\n".join(target) + "\n")
    return root


def run_data_sh(recipe: Path, must_c: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MUST_C": str(must_c)}
    return subprocess.run(["bash", "local/data.sh", *args], cwd=recipe, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    return copy_recipe("must_c", "st1", tmp_path / "copy")


def test_stage_1_writes_segments_transcripts_and_translations(recipe: Path, tmp_path: Path) -> None:
    must_c = fake_must_c(tmp_path / "must_c")
    proc = run_data_sh(recipe, must_c, "--tgt_lang", "de")
    assert proc.returncode == 0, proc.stderr
    assert "data/train.en-de: 4 segments (1 left out: empty transcript or translation)" in proc.stderr
    train = recipe / "data" / "train.en-de"
    segments = read_map(train / "segments")
    assert segments == {"ted_12_0000025_0000125": "ted_12 0.250 1.250", "ted_12_0000240_0000290": "ted_12 2.400 2.900",
                        "ted_1_0000050_0000170": "ted_1 0.500 1.700", "ted_1_0000200_0000350": "ted_1 2.000 3.500"}
    assert read_map(train / "wav.scp") == {talk: str(must_c / "en-de" / "data" / "train" / "wav" / f"{talk}.wav")
                                           for talk in ("ted_1", "ted_12")}
    # case and punctuation as released: BLEU is scored on them
    assert read_map(train / "text")["ted_1_0000200_0000350"] == "It's a great honour."
    assert read_map(train / "text.tgt")["ted_12_0000025_0000125"] == "Hallo, Welt!"
    assert read_map(train / "utt2spk")["ted_12_0000240_0000290"] == "ted_12"
    for split in ("train", "dev", "tst-COMMON", "tst-HE"):
        check = subprocess.run([sys.executable, str(REPO_ROOT / "utils" / "validate_data_dir.py"), "--task", "st",
                                "--check_audio",
                                str(recipe / "data" / f"{split}.en-de")], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("broken, expected", [
    ("missing_wav", "train/txt/train.yaml:3: segment 3 names"),
    ("short_translation", "dev/txt/dev.de: has 1 lines but dev.yaml lists 2 segments"),
])  # fmt: skip
def test_a_broken_release_is_one_line_naming_the_file(recipe: Path, tmp_path: Path, broken: str, expected: str):
    must_c = fake_must_c(tmp_path / "must_c", broken=broken)
    proc = run_data_sh(recipe, must_c, "--tgt_lang", "de")
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and expected in errors[0], proc.stderr


def test_without_must_c_stage_1_says_where_to_point(recipe: Path, tmp_path: Path) -> None:
    proc = run_data_sh(recipe, tmp_path / "nowhere", "--tgt_lang", "fr")
    assert proc.returncode != 0
    assert "set MUST_C (db.sh) to the MuST-C folder that holds en-fr/data/" in proc.stderr


@pytest.mark.recipe_run  # stages 1-5 of the recipe (~37 s)
def test_stages_1_to_5_cut_the_talks_and_make_both_token_lists(recipe: Path, tmp_path: Path) -> None:
    must_c = fake_must_c(tmp_path / "must_c")
    proc = run_recipe(recipe, "--stage", "1", "--stop_stage", "5", "--nj", "2", "--tgt_nbpe", "26",
                      env={"MUST_C": str(must_c)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    dumped = recipe / "dump_de" / "raw" / "train.en-de"
    lengths = read_map(dumped / "utt2num_samples")
    assert lengths["ted_1_0000050_0000170"] == str(int(1.2 * 16000))
    assert not (dumped / "segments").exists()
    tokens = recipe / "data" / "token_list_de"
    assert (tokens / "tgt_bpe_unigram26" / "bpe.model").is_file() and (tokens / "char" / "tokens.txt").is_file()


@pytest.mark.recipe_run  # stages 1-5 of the recipe (~37 s)
def test_a_target_vocabulary_too_large_for_the_text_names_the_target_option(recipe: Path, tmp_path: Path) -> None:
    must_c = fake_must_c(tmp_path / "must_c")
    proc = run_recipe(recipe, "--stage", "1", "--stop_stage", "5", "--nj", "1", "--tgt_nbpe", "500",
                      env={"MUST_C": str(must_c)})
    assert proc.returncode != 0
    error = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")][0]
    assert error.startswith("ERROR: dump_de/raw/train.en-de/text.tgt: cannot train a unigram model of 500 pieces")
    assert error.endswith("(change --tgt_nbpe)")


def test_the_config_is_the_papers() -> None:
    config = yaml.safe_load((REPO_ROOT / "egs2" / "must_c" / "st1" / "conf" / "train.yaml").read_text())
    assert config["optim_conf"]["lr"] == 0.0002 and config["scheduler_conf"]["warmup_steps"] == 25000
    assert config["num_iters_per_epoch"] * config["max_epoch"] // config["accum_grad"] == 80000
    assert config["grad_clip"] == 10.0 and config["model_conf"]["lsm_weight"] == 0.1
    assert config["net_conf"]["mask_time_prob"] == 0.5 and config["net_conf"]["mask_channel_prob"] == 0.5
    decode = yaml.safe_load((REPO_ROOT / "egs2" / "must_c" / "st1" / "conf" / "decode.yaml").read_text())
    assert decode["beam_size"] == 5 and decode["ctc_weight"] == 0.0
    assert config["keep_last_epochs"] == 10 and "--inference_model last10epochs.ave.pth" in (
        REPO_ROOT / "egs2" / "must_c" / "st1" / "run.sh").read_text()
