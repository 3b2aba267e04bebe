"""The generated mini_speecht5 corpus: determinism, splits, speakers, noisy copies, data dirs, CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Optional

import pytest

from espnet2_speecht5.corpus.mini import MiniConfig, build_corpus, check_noisy_snr, is_done, plan, read_tsv
from espnet2_speecht5.corpus.sentences import vocabulary
from espnet2_speecht5.data.kaldi_dir import read_map
from espnet2_speecht5.recipes import get_recipe
from espnet2_speecht5.runtime.errors import DataError

REPO = Path(__file__).resolve().parents[2]
PREPARE = REPO / "egs2" / "mini_speecht5" / "local" / "prepare_mini.py"
TINY = MiniConfig(seed=3, n_train=6, n_dev=2, n_test=2, readers=4, n_text=20)

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny") / "corpus"
    build_corpus(root, TINY, nj=2)
    return root


def run_cli(outdir: Path, *args: str, env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run make_mini_corpus for a 4-sentence corpus in ``outdir``."""
    command = [sys.executable, "-m", "espnet2_speecht5.bin.make_mini_corpus", "--outdir", str(outdir)]
    command += ["--n_train", "2", "--n_dev", "1", "--n_test", "1", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)


def audio_files(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.flac"))}


def test_same_seed_gives_identical_corpus_and_rerun_is_instant(tiny: Path, tmp_path: Path):
    other = tmp_path / "again"
    summary = build_corpus(other, TINY, nj=1)
    assert not summary.reused
    for name in ("manifest.tsv", "sentences.tsv", "vc_pairs.tsv", "text_only.tsv", "speakers.tsv", ".done"):
        assert (tiny / name).read_bytes() == (other / name).read_bytes(), name
    assert audio_files(tiny) == audio_files(other)
    again = build_corpus(tiny, TINY)
    assert again.reused and again.seconds < 1.0
    assert again.utterances == {"train": 24, "dev": 8, "test": 8}


def test_speakers_sets_and_disjoint_sentences(tiny: Path):
    rows = read_tsv(tiny / "manifest.tsv")
    genders = dict((r["speaker"], r["gender"]) for r in rows)
    assert len(genders) >= 6 and set(genders.values()) == {"f", "m"}
    sentences = read_tsv(tiny / "sentences.tsv")
    by_set = {s: {r["en"] for r in sentences if r["set"] == s} for s in ("train", "dev", "test")}
    assert [len(v) for v in by_set.values()] == [6, 2, 2]
    assert not by_set["train"] & by_set["dev"] and not by_set["train"] & by_set["test"]
    assert not by_set["dev"] & by_set["test"]
    text_only = {r["en"] for r in read_tsv(tiny / "text_only.tsv")}
    assert len(text_only) == 20 and not text_only & (by_set["dev"] | by_set["test"])
    for r in rows:
        assert r["utt"] == f"{r['speaker']}_{r['sentence_id']}"
        assert (tiny / r["path"]).is_file() and (tiny / r["noisy_path"]).is_file()
    # every sentence has female and male readers
    readers = Counter((r["sentence_id"], r["gender"]) for r in rows)
    assert all(readers[(s["sentence_id"], g)] >= 1 for s in sentences for g in "fm")


def test_noisy_copies_have_their_snr(tiny: Path):
    rows = read_tsv(tiny / "manifest.tsv")
    assert {float(r["snr_db"]) for r in rows} == {0.0, 5.0, 10.0, 15.0}
    assert len({r["noise"] for r in rows}) >= 4
    for r in rows:
        assert check_noisy_snr(tiny, r) == pytest.approx(float(r["snr_db"]), abs=0.1)


def test_vc_pairs_are_parallel(tiny: Path):
    pairs = read_tsv(tiny / "vc_pairs.tsv")
    assert len(pairs) == 20
    utts = {r["utt"] for r in read_tsv(tiny / "manifest.tsv")}
    for p in pairs:
        assert p["source"] != p["target"]
        assert p["utt"] == f"{p['source']}_{p['target']}_{p['sentence_id']}"
        assert {f"{p['source']}_{p['sentence_id']}", f"{p['target']}_{p['sentence_id']}"} <= utts


def test_unfinished_corpus_is_regenerated_and_foreign_folder_refused(tmp_path: Path):
    config = MiniConfig(seed=1, n_train=2, n_dev=1, n_test=1, readers=2, n_text=0)
    root = tmp_path / "c"
    build_corpus(root, config, nj=2)
    (root / ".done").unlink()  # as if the run had been killed before the end
    stale = root / "wav" / "stale.flac"
    stale.write_bytes(b"x")
    assert not is_done(root, config)
    assert not build_corpus(root, config, nj=2).reused
    assert is_done(root, config) and not stale.exists()
    assert not is_done(root, MiniConfig(seed=2, n_train=2, n_dev=1, n_test=1, readers=2, n_text=0))
    foreign = tmp_path / "home"
    (foreign / "thesis").mkdir(parents=True)
    with pytest.raises(DataError, match="not a mini_speecht5 corpus folder"):
        build_corpus(foreign, config)
    with pytest.raises(DataError, match="readers must be even"):
        build_corpus(tmp_path / "bad", MiniConfig(readers=3))


def test_vc_train_pairs_all_pairs_every_two_readers_of_a_training_sentence(tiny: Path, tmp_path: Path):
    listed, every = tmp_path / "listed", tmp_path / "all"
    for out, choice in ((listed, "listed"), (every, "all")):
        proc = subprocess.run([sys.executable, str(PREPARE), "--corpus", str(tiny), "--task", "vc", "--out", str(out),
                               "--vc_train_pairs", choice], capture_output=True, text=True)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    readers: dict = {}
    for row in read_tsv(tiny / "manifest.tsv"):
        if row["set"] == "train":
            readers.setdefault(row["sentence_id"], set()).add(row["speaker"])
    expected = {f"{a}_{b}_{s}" for s, spks in readers.items() for a in spks for b in spks if a != b}
    assert set(read_map(every / "train" / "wav.scp")) == expected
    assert set(read_map(listed / "train" / "wav.scp")) < expected  # the corpus's pairs are among them
    for name in ("dev", "test"):  # held-out sets keep the listed pairs
        assert (every / name / "wav.scp").read_text() == (listed / name / "wav.scp").read_text()


@pytest.mark.parametrize("task", ["asr", "tts", "st", "vc", "sid", "se", "pretrain"])
def test_prepare_mini_writes_valid_data_dirs(tiny: Path, tmp_path: Path, task: str):
    out = tmp_path / "data"
    proc = subprocess.run(
        [sys.executable, str(PREPARE), "--corpus", str(tiny), "--task", task, "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    sentence_set = {r["sentence_id"]: r["set"] for r in read_tsv(tiny / "sentences.tsv")}
    for name in ("train", "dev", "test"):
        d = out / name
        for required in get_recipe(task).required_files:
            assert (d / required).is_file(), (task, name, required)
        wav = read_map(d / "wav.scp")
        utt2spk = read_map(d / "utt2spk")
        assert list(wav) == sorted(wav) and list(wav) == list(utt2spk)
        for utt, path in wav.items():
            assert utt.startswith(utt2spk[utt] + "_") and os.path.isabs(path) and os.path.isfile(path)
            assert sentence_set[utt.rsplit("_", 1)[1]] == name
        if task == "st":
            assert list(read_map(d / "text.tgt")) == list(wav)
        if task == "se":
            snr = read_map(d / "utt2snr")
            assert list(snr) == list(wav) and all("/noisy/" in p for p in wav.values())
            assert all("/wav/" in p for p in read_map(d / "wav_clean.scp").values())
            english = {r["sentence_id"]: r["en"] for r in read_tsv(tiny / "sentences.tsv")}
            assert read_map(d / "text") == {utt: english[utt.rsplit("_", 1)[1]] for utt in wav}
        if task == "vc":
            tgt = read_map(d / "utt2spk_tgt")
            assert all(utt.split("_")[1] == tgt[utt] != utt2spk[utt] for utt in wav)
            english = {r["sentence_id"]: r["en"] for r in read_tsv(tiny / "sentences.tsv")}
            assert read_map(d / "text") == {utt: english[utt.rsplit("_", 1)[1]] for utt in wav}  # the sentence
        if task in ("sid", "pretrain"):
            assert not (d / "text").exists()
    if task == "pretrain":
        text = read_map(out / "train_text" / "text")
        assert len(text) == 6 + 20
        held_out = {r["en"] for r in read_tsv(tiny / "sentences.tsv") if r["set"] != "train"}
        assert not held_out & set(text.values())


def test_prepare_mini_without_corpus_is_one_error_line(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, str(PREPARE), "--corpus", str(tmp_path / "none"), "--task", "asr", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("ERROR: ") and len(proc.stderr.strip().splitlines()) == 1


def test_default_corpus_plan_is_big_enough_and_learnable():
    config = MiniConfig()
    planned, text_only = plan(config)
    per_set = Counter(st for _, st, _, voices in planned for _ in voices)
    assert per_set["train"] >= 100 * 4 and per_set["dev"] >= 10 and per_set["test"] >= 10
    speakers = {st: {v.spk for _, s, _, voices in planned if s == st for v in voices} for st in per_set}
    assert all(len(s) == len(config.speakers) >= 6 for s in speakers.values())
    for lang in ("en", "de", "fr"):
        train = set(vocabulary([s for _, st, s, _ in planned if st == "train"], lang))
        held_out = set(vocabulary([s for _, st, s, _ in planned if st != "train"], lang))
        assert held_out <= train, (lang, held_out - train)
    assert len(text_only) == config.n_text


def test_cli_without_espeak_is_one_error_line(tmp_path: Path):
    env = dict(os.environ, PATH=str(tmp_path))  # no espeak-ng on PATH
    proc = run_cli(tmp_path / "c", "--n_text", "0", "--no_progress", env=env)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: ") and "espeak-ng" in lines[0], proc.stderr
    assert "apt-get install espeak-ng" in lines[0]
    assert not (tmp_path / "c" / ".done").exists()


def test_cli_writes_and_logs_counts(tmp_path: Path):
    proc = run_cli(tmp_path / "c", "--n_text", "3", "--nj", "2")
    assert proc.returncode == 0, proc.stderr
    assert f"{tmp_path / 'c'}: 8 speakers; train 2 sentences/8 utterances" in proc.stderr
    assert (tmp_path / "c" / ".done").is_file()
