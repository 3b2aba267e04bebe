"""Stages 1-5 of the real recipes: the offline mini corpus for every task, and the shared corpora."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from repo_testing import copy_recipe, run_recipe

MINI_TASKS = ["asr", "tts", "st", "vc", "sid", "se", "pretrain"]


def check_dump(recipe: Path, dset: str, dumpdir: str = "dump") -> int:
    """Check a dumped set (16 kHz mono FLAC, lengths recorded) and return its utterance count."""
    dumped = recipe / dumpdir / "raw" / dset
    scp = (dumped / "wav.scp").read_text().splitlines()
    lengths = dict(line.split() for line in (dumped / "utt2num_samples").read_text().splitlines())
    assert [line.split()[0] for line in scp] == sorted(lengths)
    utt, path = scp[0].split(maxsplit=1)
    info = sf.info(path)
    assert (info.samplerate, info.channels) == (16000, 1)
    assert info.frames == int(lengths[utt])
    assert (dumped / "filter_report.txt").is_file()
    return len(scp)


@pytest.mark.recipe_run
@pytest.mark.parametrize("task", MINI_TASKS)
def test_mini_speecht5_stages_1_to_5(tmp_path: Path, mini_corpus_env: dict, task: str, request):
    if task == "se":  # its test_realnoise set mixes in the noise recordings of ../shared/data/noise
        request.getfixturevalue("shared_data")
    recipe = copy_recipe("mini_speecht5", f"{task}1", tmp_path)
    proc = run_recipe(recipe, "--stage", "1", "--stop_stage", "5", "--nj", "2", env=mini_corpus_env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    # st1 keeps each target language apart: dump_de/, exp_de/, data/token_list_de/
    dumpdir, token_lists = ("dump_de", recipe / "data" / "token_list_de") if task == "st" else \
        ("dump", recipe / "data" / "token_list")
    assert check_dump(recipe, "train", dumpdir) >= 100
    assert check_dump(recipe, "dev", dumpdir) >= 10
    assert "outputs: data in" in proc.stderr
    if task == "se":  # three noisy copies of each training utterance; the recorded-noise test set
        train = (recipe / "dump" / "raw" / "train" / "wav.scp").read_text().splitlines()
        originals = [line for line in train if "-n" not in line.split()[0]]
        assert len(train) == 3 * len(originals)
        assert check_dump(recipe, "test_realnoise") == check_dump(recipe, "test")
        assert (recipe / "dump" / "raw" / "test_realnoise" / "wav_clean.scp").is_file()
    if task == "sid":  # the eight voices between ESPnet's special tokens
        tokens = (token_lists / "word" / "tokens.txt").read_text().split()
        assert len(tokens) == 8 + 3 and tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    elif task in ("asr", "tts", "st", "pretrain"):
        tokens = (token_lists / "char" / "tokens.txt").read_text().split()
        assert tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    if task == "st":  # the German target's own list
        target = (token_lists / "tgt_char" / "tokens.txt").read_text().split()
        assert target[:2] == ["<blank>", "<unk>"] and target[-1] == "<sos/eos>" and set(target) != set(tokens)


@pytest.mark.recipe_run
def test_mini_speecht5_rerun_is_fast_and_keeps_outputs(tmp_path: Path, mini_corpus_env: dict):
    recipe = copy_recipe("mini_speecht5", "asr1", tmp_path)
    first = run_recipe(recipe, "--stage", "1", "--stop_stage", "5", "--nj", "2", env=mini_corpus_env)
    assert first.returncode == 0, first.stderr[-4000:]
    before = (recipe / "dump" / "raw" / "train" / "wav.scp").read_text()
    second = run_recipe(recipe, "--stage", "1", "--stop_stage", "5", "--nj", "2", env=mini_corpus_env)
    assert second.returncode == 0, second.stderr[-4000:]
    assert (recipe / "dump" / "raw" / "train" / "wav.scp").read_text() == before


@pytest.mark.slow  # ~30-60 s each on the shared corpora: make test-all
@pytest.mark.parametrize(
    "corpus,task_dir,train_set,min_train",
    [
        ("cathy", "asr1", "train_sp", 3 * 900),  # speed perturbation 0.9/1.0/1.1 in stage 2
        ("cathy", "tts1", "train", 900),
        ("fsdd", "sid1", "train", 2000),
        ("fsdd", "asr1", "train", 1000),
        ("vcc2016", "vc1", "train", 100),
        ("vcc2016", "sid1", "train", 700),
        ("an4", "asr1", "train", 1),
    ],
)
def test_shared_corpora_stages_1_to_5(tmp_path: Path, shared_data: Path, corpus: str, task_dir: str, train_set: str,
                                      min_train: int):
    recipe = copy_recipe(corpus, task_dir, tmp_path)
    proc = run_recipe(recipe, "--stage", "1", "--stop_stage", "5", "--nj", "2")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert check_dump(recipe, train_set) >= min_train
    if train_set.endswith("_sp"):
        utts = [line.split()[0] for line in (recipe / "dump" / "raw" / train_set / "wav.scp").read_text().splitlines()]
        prefixes = {utt.split("-")[0] if utt.startswith("sp") else "1.0" for utt in utts}
        assert prefixes == {"sp0.9", "1.0", "sp1.1"}
        assert not (recipe / "dump" / "raw" / "train").exists(), "only the perturbed set is dumped"
    if corpus == "fsdd":
        # FSDD is 8 kHz: stage 3 must have resampled it and said so.
        report = (recipe / "dump" / "raw" / "org" / "train" / "dump_report.txt").read_text()
        assert "8000" in report
