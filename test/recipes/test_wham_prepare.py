"""Stage 1 of egs2/wham (local/data.sh, speech enhancement) on a generated fake WHAM!/wsj0 tree.

The fake tree has WHAM!'s layout, ``wav16k/max/{tr,cv,tt}/{mix_single,s1}/<name>.wav`` with
``<name>`` = ``<wsj0 utt 1>_<gain>_<wsj0 utt 2>_<gain>``, 0.1-s wavs, and a wsj0 tree whose
``.dot`` files hold speaker 1's prompts with WSJ's markers. The recipe's config is checked too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import soundfile as sf
import yaml

from espnet2_speecht5.data.kaldi_dir import read_map

from repo_testing import REPO_ROOT, copy_recipe

# set -> [(mixture name, speaker-1 prompt)]
MIXTURES: Dict[str, List[str]] = {
    "tr": ["011a0101_0.061105_401c020r_-0.061105", "40na010x_1.2_22ga010f_-1.2"],
    "cv": ["01aa010b_0.9_01ba010h_-0.9"],
    "tt": ["050a050a_0.3_22hc010b_-0.3", "445c0207_2.1_050c010c_-2.1"],
}
PROMPTS = {
    "011a0101": "The [door_slam] index rose \\,COMMA 12.5 points *ha*",
    "40na010x": "Sales <were> fell \\.PERIOD",
    "01aa010b": "It is U.S. policy.",
    "050a050a": "No comment",
    "445c0207": "Prices rose",
}


def fake_wham(root: Path, drop_clean: str = "", drop_prompt: str = "") -> Dict[str, Path]:
    rng = np.random.default_rng(0)
    for code, names in MIXTURES.items():
        for name in names:
            for kind in ("mix_single", "s1", "mix_clean"):
                if kind == "s1" and name == drop_clean:
                    continue
                path = root / "wham" / "wav16k" / "max" / code / kind / f"{name}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(path, 0.1 * rng.standard_normal(1600), 16000)
    dots = root / "wsj0" / "11-1.1" / "wsj0" / "transcrp" / "dots" / "si_tr_s"
    dots.mkdir(parents=True)
    lines = [f"{text} ({utt})" for utt, text in PROMPTS.items() if utt != drop_prompt]
    (dots / "all.dot").write_text("\n".join(lines) + "\n", encoding="latin-1")
    return {"wham": root / "wham", "wsj0": root / "wsj0"}


def run_data_sh(recipe: Path, env: Dict[str, str], *args: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("WHAM", "WSJ0")}
    full.update(env)
    return subprocess.run(["bash", "local/data.sh", *args], cwd=recipe, env=full, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    return copy_recipe("wham", "se1", tmp_path / "copy")


def test_data_dirs_hold_noisy_clean_speakers_and_clean_transcripts(recipe: Path, tmp_path: Path) -> None:
    tree = fake_wham(tmp_path)
    proc = run_data_sh(recipe, {"WHAM": str(tree["wham"]), "WSJ0": str(tree["wsj0"])}, "--task", "se")
    assert proc.returncode == 0, proc.stderr
    for code, name in (("tr", "train"), ("cv", "dev"), ("tt", "test")):
        data = recipe / "data" / name
        wav, clean, spk = read_map(data / "wav.scp"), read_map(data / "wav_clean.scp"), read_map(data / "utt2spk")
        expected = sorted(f"{m[:3]}_{m}" for m in MIXTURES[code])
        assert list(wav) == expected and list(clean) == expected
        for utt, path in wav.items():
            mixture = utt.split("_", 1)[1]
            assert path == str(tree["wham"] / "wav16k" / "max" / code / "mix_single" / f"{mixture}.wav")
            assert clean[utt] == str(tree["wham"] / "wav16k" / "max" / code / "s1" / f"{mixture}.wav")
            assert spk[utt] == mixture[:3]
        check = subprocess.run([sys.executable, str(REPO_ROOT / "utils" / "validate_data_dir.py"), "--task", "se",
                                "--check_audio", str(data)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
    text = read_map(recipe / "data" / "train" / "text")
    assert text["011_011a0101_0.061105_401c020r_-0.061105"] == "the index rose 12.5 points ha"
    assert text["40n_40na010x_1.2_22ga010f_-1.2"] == "sales fell"
    assert read_map(recipe / "data" / "dev" / "text")["01a_01aa010b_0.9_01ba010h_-0.9"] == "it is u.s. policy"


def test_without_wsj0_there_is_no_text(recipe: Path, tmp_path: Path) -> None:
    tree = fake_wham(tmp_path)
    proc = run_data_sh(recipe, {"WHAM": str(tree["wham"] / "wav16k")}, "--task", "se")
    assert proc.returncode == 0, proc.stderr
    assert "no CER or WER" in proc.stderr
    assert not (recipe / "data" / "test" / "text").exists() and (recipe / "data" / "test" / "wav_clean.scp").is_file()


@pytest.mark.parametrize("case, expected", [
    ("no_wham", "set WHAM (db.sh)"),
    ("min_mode", "has no wav16k/min/tr/mix_single"),
    ("missing_clean", "has no clean speaker-1 file"),
    ("missing_prompt", "speaker 1's utterance 445c0207 has no transcript"),
])  # fmt: skip
def test_bad_trees_are_one_line(recipe: Path, tmp_path: Path, case: str, expected: str) -> None:
    tree = fake_wham(tmp_path, drop_clean="40na010x_1.2_22ga010f_-1.2" if case == "missing_clean" else "",
                     drop_prompt="445c0207" if case == "missing_prompt" else "")
    env = {} if case == "no_wham" else {"WHAM": str(tree["wham"]), "WSJ0": str(tree["wsj0"])}
    args = ["--task", "se"] + (["--mode", "min"] if case == "min_mode" else [])
    proc = run_data_sh(recipe, env, *args)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and expected in errors[0], proc.stderr
    if case == "missing_clean":
        assert "s1/40na010x_1.2_22ga010f_-1.2.wav" in errors[0]


def test_the_config_is_the_papers_vc_setup_without_speaker_input() -> None:
    se = yaml.safe_load((REPO_ROOT / "egs2" / "wham" / "se1" / "conf" / "train.yaml").read_text())
    vc = yaml.safe_load((REPO_ROOT / "egs2" / "cmu_arctic" / "vc1" / "conf" / "train.yaml").read_text())
    assert se["model_conf"]["use_speaker_embedding"] is False
    for key in ("optim_conf", "scheduler_conf", "grad_clip", "max_epoch", "num_iters_per_epoch", "batch_bins"):
        assert se[key] == vc[key], key
    assert se["net_conf"]["encoder_layerdrop"] == 0.05 and se["net_conf"]["dropout"] == 0.2
    run_sh = (REPO_ROOT / "egs2" / "wham" / "se1" / "run.sh").read_text()
    assert "--task se" in run_sh and "--init_param" in run_sh
