"""The stage driver egs2/TEMPLATE/speecht5.sh on a tiny generated recipe (no corpus needed)."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest
import soundfile as sf

from repo_testing import REPO_ROOT

MAKE_DATA = textwrap.dedent(
    '''
    """Write a tiny corpus for the driver tests: 3 speakers x 4 utterances per set."""
    import sys
    from pathlib import Path

    import numpy as np
    import soundfile as sf

    task, root = sys.argv[1], Path(sys.argv[2])
    rng = np.random.default_rng(0)
    words = ["red", "green", "blue", "cup", "box", "ball", "one", "two", "three"]
    for set_index, name in enumerate(["train", "dev", "test"]):
        d = root / "data" / name
        d.mkdir(parents=True, exist_ok=True)
        rows = {"wav.scp": [], "text": [], "utt2spk": [], "text.tgt": [], "wav_tgt.scp": [], "utt2spk_tgt": [],
                "wav_clean.scp": [], "utt2snr": []}
        for spk in ["spka", "spkb", "spkc"]:
            for i in range(4):
                utt = f"{spk}_{name}_{i:02d}"
                rate = 8000 if i == 0 else 16000
                t = np.arange(int(rate * (0.5 + 0.1 * i))) / rate
                wav = 0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t) + 0.01 * rng.standard_normal(t.size)
                path = root / "wav" / f"{utt}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(path, wav, rate)
                sentence = " ".join(rng.choice(words, 3))
                rows["wav.scp"].append(f"{utt} {path}")
                rows["wav_tgt.scp"].append(f"{utt} {path}")
                rows["wav_clean.scp"].append(f"{utt} {path}")
                rows["utt2snr"].append(f"{utt} {5 * (i % 2)}")
                rows["text"].append(f"{utt} {sentence}")
                rows["text.tgt"].append(f"{utt} {sentence.upper()}")
                rows["utt2spk"].append(f"{utt} {spk}")
                rows["utt2spk_tgt"].append(f"{utt} spka")
        keep = {"asr": ["wav.scp", "text", "utt2spk"], "tts": ["wav.scp", "text", "utt2spk"],
                "st": ["wav.scp", "text", "text.tgt", "utt2spk"],
                "vc": ["wav.scp", "wav_tgt.scp", "utt2spk", "utt2spk_tgt", "text"],
                "se": ["wav.scp", "wav_clean.scp", "utt2spk", "text", "utt2snr"],
                "sid": ["wav.scp", "utt2spk"], "pretrain": ["wav.scp", "utt2spk"]}[task]
        for fname in keep:
            (d / fname).write_text("".join(line + "\\n" for line in sorted(rows[fname])))
        spk2utt = {}
        for line in sorted(rows["utt2spk"]):
            utt, spk = line.split()
            spk2utt.setdefault(spk, []).append(utt)
        (d / "spk2utt").write_text("".join(f"{s} {' '.join(u)}\\n" for s, u in sorted(spk2utt.items())))
    text_dir = root / "data" / "train_text"
    text_dir.mkdir(parents=True, exist_ok=True)
    (text_dir / "text").write_text("".join(f"t{i:03d} {' '.join(rng.choice(words, 4))}\\n" for i in range(20)))
    '''
)

DATA_SH = textwrap.dedent(
    """\
    #!/usr/bin/env bash
    set -euo pipefail
    task=asr
    . utils/parse_options.sh
    python local/make_data.py "${task}" "$(pwd)"
    """
)


# The training schedule of the toy ASR configs: one epoch of folded batches of 4, no plots.
# Prefix it with a ``net_conf:`` line of the network under test.
TOY_ASR_SCHEDULE = textwrap.dedent(
    """\
    model_conf: {ctc_weight: 0.3}
    batch_type: folded
    batch_size: 4
    max_epoch: 1
    num_workers: 0
    num_att_plot: 0
    best_model_criterion: [[valid, acc, max]]
    keep_nbest_models: 1
    optim: adam
    optim_conf: {lr: 0.005}
    """
)


def make_toy_recipe(root: Path, task: str) -> Path:
    recipe = root / "egs2" / "toy" / f"{task}1"
    (recipe / "local").mkdir(parents=True)
    for name in ("speecht5.sh", "path.sh", "cmd.sh"):
        (recipe / name).symlink_to(REPO_ROOT / "egs2" / "TEMPLATE" / name)
    (recipe / "utils").symlink_to(REPO_ROOT / "utils")
    (recipe / "local" / "make_data.py").write_text(MAKE_DATA)
    (recipe / "local" / "data.sh").write_text(DATA_SH)
    (recipe / "local" / "data.sh").chmod(0o755)
    (recipe / "run.sh").write_text(
        "#!/usr/bin/env bash\nset -euo pipefail\n"
        f'./speecht5.sh --task {task} --train_set train --valid_set dev --test_sets "dev test" '
        f'--nj 2 {"--token_type word " if task == "sid" else ""}--local_data_opts "--task {task}" "$@"\n'
    )
    (recipe / "run.sh").chmod(0o755)
    return recipe


def run(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["./run.sh", *args], cwd=recipe, capture_output=True, text=True, timeout=600, env=dict(os.environ)
    )


@pytest.fixture(scope="module")
def asr_recipe(tmp_path_factory) -> Path:
    """A toy ASR recipe that has run stages 1 to 5."""
    recipe = make_toy_recipe(tmp_path_factory.mktemp("toy"), "asr")
    proc = run(recipe, "--stage", "1", "--stop_stage", "5")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return recipe


def test_stages_1_to_5_write_their_outputs_and_logs(asr_recipe: Path):
    for n, name in [(1, "data"), (2, "augment"), (3, "dump"), (4, "filter"), (5, "tokens")]:
        assert (asr_recipe / "exp" / "logs" / f"stage{n}_{name}.log").is_file()
    dumped = asr_recipe / "dump" / "raw" / "train"
    lines = (dumped / "wav.scp").read_text().splitlines()
    assert len(lines) == 12
    first_path = lines[0].split(maxsplit=1)[1]
    info = sf.info(first_path)
    assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
    # spka_train_00 was written at 8 kHz for 0.5 s: it must come out as 8000 samples at 16 kHz.
    num_samples = dict(line.split() for line in (dumped / "utt2num_samples").read_text().splitlines())
    assert num_samples["spka_train_00"] == "8000"
    tokens = (asr_recipe / "data" / "token_list" / "char" / "tokens.txt").read_text().split()
    assert tokens[0] == "<blank>" and tokens[1] == "<unk>" and tokens[-1] == "<sos/eos>"
    assert "r" in tokens and "<space>" in tokens


def test_stage_2_is_logged_as_skipped_without_factors(asr_recipe: Path):
    log = (asr_recipe / "exp" / "logs" / "stage2_augment.log").read_text()
    assert "stage 2: skipped: no --speed_perturb_factors" in log


def test_stage_7_needs_the_training_config(asr_recipe: Path):
    proc = run(asr_recipe, "--stage", "6", "--stop_stage", "7")
    assert proc.returncode != 0
    assert "stage 6: skipped" in proc.stderr
    assert "ERROR: --train_config conf/train.yaml does not exist" in proc.stderr


def test_unknown_option_is_rejected(asr_recipe: Path):
    proc = run(asr_recipe, "--stop-stagee", "5")
    assert proc.returncode != 0
    assert "unknown option '--stop-stagee'" in proc.stderr


def test_stage_without_previous_outputs_names_the_stage_to_run(tmp_path: Path):
    recipe = make_toy_recipe(tmp_path, "asr")
    proc = run(recipe, "--stage", "4", "--stop_stage", "4")
    assert proc.returncode != 0
    assert "dump/raw/org/train/wav.scp does not exist: run stage 3 first" in proc.stderr


def test_speed_perturbation_makes_a_new_training_set(tmp_path: Path):
    recipe = make_toy_recipe(tmp_path, "asr")
    proc = run(recipe, "--stage", "1", "--stop_stage", "4", "--speed_perturb_factors", "0.9 1.0 1.1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    utts = (recipe / "dump" / "raw" / "train_sp" / "utt2num_samples").read_text().splitlines()
    assert len(utts) == 36
    lengths = dict(line.split() for line in utts)
    base = int(lengths["spkb_train_01"])
    assert abs(int(lengths["sp1.1-spkb_train_01"]) - base / 1.1) < 0.01 * base
    assert abs(int(lengths["sp0.9-spkb_train_01"]) - base / 0.9) < 0.01 * base


# st, vc, sid and se also run stages 1-5 on the mini corpus (test_recipes_stages_1_5.py, make
# test-recipes); their toy-data runs here are in the longer suite (make test-all).
@pytest.mark.parametrize("task", ["tts", *(pytest.param(t, marks=pytest.mark.slow) for t in ("st", "vc", "sid", "se")),
                                  "pretrain"])
def test_stages_1_to_5_for_every_task(tmp_path: Path, task: str):
    recipe = make_toy_recipe(tmp_path, task)
    proc = run(recipe, "--stage", "1", "--stop_stage", "5")
    assert proc.returncode == 0, proc.stderr[-3000:]
    dumped = recipe / "dump" / "raw" / "train"
    assert len((dumped / "utt2num_samples").read_text().splitlines()) == 12
    token_lists = recipe / "data" / "token_list"
    if task in ("vc", "se"):
        second = {"vc": "utt2num_samples_tgt", "se": "utt2num_samples_clean"}[task]
        assert len((dumped / second).read_text().splitlines()) == 12
        assert f"stage 5: skipped: task {task} has no text output" in proc.stderr
    elif task == "sid":
        tokens = (token_lists / "word" / "tokens.txt").read_text().split()
        assert tokens == ["<blank>", "<unk>", "spka", "spkb", "spkc", "<sos/eos>"]
    elif task == "st":
        assert (token_lists / "tgt_char" / "tokens.txt").is_file()
        assert (dumped / "text.tgt").is_file()
    else:
        assert (token_lists / "char" / "tokens.txt").is_file()
