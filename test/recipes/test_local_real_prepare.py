"""Stage 1 of egs2/local_real/pretrain1: every real recording of ../shared/data but cathy's dev and
test prompts, and the English text, normalised as cathy's ASR transcripts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from espnet2_speecht5.data.kaldi_dir import read_map
from espnet2_speecht5.data.transcripts import normalize_for_asr

from repo_testing import REPO_ROOT, SHARED_DATA, copy_recipe, error_lines, run_data_sh

PREPARE = REPO_ROOT / "egs2" / "local_real" / "local" / "prepare_local_real.py"

needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} is not present")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    recipe = copy_recipe("local_real", "pretrain1", tmp_path_factory.mktemp("local_real"))
    proc = run_data_sh(recipe, "LOCAL_REAL", {"LOCAL_REAL_DATA": str(SHARED_DATA)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return recipe / "data"


@needs_shared
def test_speech_is_every_real_corpus_without_cathy_dev_and_test(prepared: Path):
    train, dev = read_map(prepared / "train" / "wav.scp"), read_map(prepared / "dev" / "wav.scp")
    assert (len(train), len(dev)) == (4984, 102)
    assert not set(train) & set(dev)
    corpora = {utt.split("_", 1)[0] for utt in train}
    assert corpora == {"cathy", "vcc", "fsdd", "ls", "lj"}
    cathy = sorted(utt for utt in train if utt.startswith("cathy_"))
    assert len(cathy) == 982 and cathy[-1] == "cathy_arctic_b0389"  # dev starts at b0390, test at b0440
    assert not any(utt.startswith("cathy_") for utt in dev)
    held_out_prompts = {utt for name in ("dev", "test") for utt in read_map(prepared / "cathy" / name / "text")}
    assert len(held_out_prompts) == 150 and not held_out_prompts & set(train)
    for utt, path in {**train, **dev}.items():
        assert Path(path).is_absolute() and Path(path).is_file(), (utt, path)
    utt2spk = read_map(prepared / "train" / "utt2spk")
    assert len(set(utt2spk.values())) == 24 and all(utt.startswith(utt2spk[utt] + "_") for utt in train)
    # dev holds out a slice of every corpus but cathy: the last 5 VCC sentences, take 0 of FSDD, ...
    assert {utt.split("_", 1)[0] for utt in dev} == {"vcc", "fsdd", "ls", "lj"}
    assert all(utt.rsplit("_", 1)[1] in {"100158", "100159", "100160", "100161", "100162"}
               for utt in dev if utt.startswith("vcc_"))


@needs_shared
def test_text_is_normalised_held_out_apart_and_never_a_cathy_prompt(prepared: Path):
    train = read_map(prepared / "train_text" / "text")
    dev = read_map(prepared / "dev_text" / "text")
    assert len(train) > 40000 and len(dev) > 1000
    assert not set(train.values()) & set(dev.values())
    assert len(set(train.values())) == len(train)  # written once each
    for sentence in [*train.values(), *dev.values()]:
        assert sentence == normalize_for_asr(sentence) and sentence, sentence
    cathy = {text for name in ("dev", "test") for text in read_map(prepared / "cathy" / name / "text").values()}
    assert not cathy & (set(train.values()) | set(dev.values()))
    assert {key.split("_", 1)[0] for key in train} == {"lj", "m30k"}
    # the cathy training transcripts use only characters that the text corpus has
    corpus_chars = set("".join(train.values()))
    assert set("".join(read_map(prepared / "cathy" / "train" / "text").values())) <= corpus_chars


@needs_shared
def test_a_sentence_listed_for_exclusion_is_left_out(tmp_path: Path):
    import gzip

    with gzip.open(SHARED_DATA / "text" / "multi30k_task1_raw" / "train.en.gz", "rt", encoding="utf-8") as f:
        first_caption = normalize_for_asr(f.readline())
    (tmp_path / "exclude").write_text(f"x1 {first_caption.upper()}\n")
    cathy = tmp_path / "cathy"
    cathy.mkdir()
    flac = next((SHARED_DATA / "cathy_arctic" / "wav16k").glob("*.flac"))
    (cathy / "wav.scp").write_text(f"cathy_a {flac}\n")
    (cathy / "utt2spk").write_text("cathy_a cathy\n")
    proc = subprocess.run([sys.executable, str(PREPARE), "--data_root", str(SHARED_DATA), "--cathy_train", str(cathy),
                           "--exclude_text", str(tmp_path / "exclude"), "--out", str(tmp_path / "data")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "1 equal to an excluded transcript" in proc.stdout
    assert first_caption not in set(read_map(tmp_path / "data" / "train_text" / "text").values())


@needs_shared
def test_a_missing_corpus_is_one_line_naming_the_folder_and_writes_nothing(tmp_path: Path):
    root = tmp_path / "shared_data"
    root.mkdir()
    for name in ("cathy_arctic", "fsdd", "librispeech_test_other_10spk", "ljspeech_32", "text"):
        (root / name).symlink_to(SHARED_DATA / name)
    recipe = copy_recipe("local_real", "pretrain1", tmp_path)
    proc = run_data_sh(recipe, "LOCAL_REAL", {"LOCAL_REAL_DATA": str(root)})
    assert proc.returncode != 0
    errors = error_lines(proc)
    assert len(errors) == 1 and "vcc2016/vcc2016_training" in errors[0] and "no speaker folders" in errors[0], errors
    assert not (recipe / "data" / "train").exists()


def test_an_unset_data_folder_is_one_line(tmp_path: Path):
    recipe = copy_recipe("local_real", "pretrain1", tmp_path)
    proc = run_data_sh(recipe, "LOCAL_REAL", {"LOCAL_REAL_DATA": str(tmp_path / "nowhere")})
    assert proc.returncode != 0
    nowhere = tmp_path / "nowhere"
    assert error_lines(proc) == [
        f"ERROR: LOCAL_REAL_DATA='{nowhere}' is not a folder: set it to a copy of ../shared/data (see db.sh)"
    ]
