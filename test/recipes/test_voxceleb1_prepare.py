"""Stage 1 of egs2/voxceleb1 (local/data.sh) on a tiny fake VoxCeleb1 tree generated here.

The tree has the real layout, ``<root>/wav/<speaker>/<video>/<utt>.wav`` at 16 kHz, with an
``iden_split.txt`` that puts some of every speaker's utterances in each of the three sets.  The
video ids mix upper and lower case, dashes and underscores (as YouTube ids do), so that byte
order differs from a locale's order; the split file lists the speakers in reverse order.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import soundfile as sf

from espnet2_speecht5.data.kaldi_dir import iter_lines, read_map, utt2spk_to_spk2utt

from repo_testing import REPO_ROOT, SHARED_DATA, copy_recipe, error_lines
from repo_testing import run_data_sh as repo_run_data_sh

SPEAKERS = ("id10001", "id10002", "id10003", "id10004")
VIDEOS = ("a1b2C3d4E5f", "Zx9-Ab_c01")  # "Z..." sorts before "a..." in byte order
UTTS = ("00001", "00002", "00003")
SET_NAMES = ("train", "dev", "test")
COUNTS = {"train": 16, "dev": 4, "test": 4}


def set_number(video: str, utt: str) -> str:
    """Video 1: all train; video 2: utterance 1 train, 2 validation, 3 test."""
    if video == VIDEOS[0] or utt == "00001":
        return "1"
    return "2" if utt == "00002" else "3"


def make_voxceleb1(root: Path) -> List[Tuple[str, str]]:
    """Write the fake corpus and its split file; return the split lines as (set number, path)."""
    rng = np.random.default_rng(0)
    lines = []
    for speaker in reversed(SPEAKERS):
        for video in VIDEOS:
            folder = root / "wav" / speaker / video
            folder.mkdir(parents=True)
            for utt in UTTS:
                sf.write(folder / f"{utt}.wav", 0.1 * rng.standard_normal(4800).astype(np.float32), 16000)
                lines.append((set_number(video, utt), f"{speaker}/{video}/{utt}.wav"))
    lines.sort(key=lambda line: line[0])  # stable: the speakers stay in reverse order within a set
    write_split(root / "iden_split.txt", lines)
    return lines


def write_split(path: Path, lines: List[Tuple[str, str]]) -> None:
    path.write_text("".join(f"{number} {relative}\n" for number, relative in lines))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "voxceleb1"
    make_voxceleb1(root)
    return root


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    return copy_recipe("voxceleb1", "sid1", tmp_path / "work")


def run_data_sh(recipe: Path, env: Dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run ``bash local/data.sh`` in the recipe copy; no VOXCELEB1* variable but those in ``env``."""
    # never the network: a download that is not meant to happen fails at once
    split_url = (recipe / "no_such_split.txt").as_uri()
    return repo_run_data_sh(recipe, "VOXCELEB1", {"VOXCELEB1_SPLIT_URL": split_url, **env}, *args)



def keys(path: Path) -> List[str]:
    return [key for _, key, _ in iter_lines(path)]


def expected_utts(name: str) -> List[str]:
    number = str(SET_NAMES.index(name) + 1)
    return [
        f"{speaker}-{video}-{utt}"
        for speaker in SPEAKERS
        for video in VIDEOS
        for utt in UTTS
        if set_number(video, utt) == number
    ]


def test_data_sh_writes_the_three_sets(corpus: Path, recipe: Path):
    proc = run_data_sh(recipe, {"VOXCELEB1": str(corpus)}, "--task", "sid")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert error_lines(proc) == []
    for name in SET_NAMES:
        assert f"data/{name}: {COUNTS[name]} utterances, 4 speaker(s); files: spk2utt utt2spk wav.scp" in proc.stdout
        data_dir = recipe / "data" / name
        assert sorted(p.name for p in data_dir.iterdir()) == ["spk2utt", "utt2spk", "wav.scp"]
        check = subprocess.run(
            [sys.executable, str(REPO_ROOT / "utils" / "validate_data_dir.py"), "--task", "sid", str(data_dir)],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        for file_name in ("wav.scp", "utt2spk"):
            ids = keys(data_dir / file_name)
            assert len(ids) == COUNTS[name]
            assert ids == sorted(expected_utts(name), key=str.encode)
        # byte order: the video starting with "Z" comes before the one starting with "a"
        if name == "train":
            assert keys(data_dir / "utt2spk")[:2] == ["id10001-Zx9-Ab_c01-00001", "id10001-a1b2C3d4E5f-00001"]
        utt2spk = read_map(data_dir / "utt2spk")
        assert all(utt.startswith(spk + "-") and spk in SPEAKERS for utt, spk in utt2spk.items())
        spk2utt = read_map(data_dir / "spk2utt")
        assert keys(data_dir / "spk2utt") == list(SPEAKERS)
        assert spk2utt == {spk: " ".join(utts) for spk, utts in utt2spk_to_spk2utt(utt2spk).items()}
        for utt, path in read_map(data_dir / "wav.scp").items():
            speaker, rest = utt.split("-", 1)
            video, number = rest.rsplit("-", 1)
            assert Path(path).is_absolute() and Path(path).is_file()
            assert Path(path) == corpus.absolute() / "wav" / speaker / video / f"{number}.wav"
    assert read_map(recipe / "data" / "dev" / "wav.scp")["id10001-Zx9-Ab_c01-00002"].endswith(
        "/wav/id10001/Zx9-Ab_c01/00002.wav"
    )


def test_max_utts_per_speaker_keeps_the_first_of_each_speaker_and_set(corpus: Path, recipe: Path):
    proc = run_data_sh(recipe, {"VOXCELEB1": str(corpus)}, "--max_utts_per_speaker", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "keeping 16 of 24 lines (at most 2 per speaker and set)" in proc.stdout
    train = keys(recipe / "data" / "train" / "utt2spk")
    # the first two train lines of each speaker in the split file: video 1, utterances 1 and 2
    assert train == [f"{spk}-{VIDEOS[0]}-{utt}" for spk in SPEAKERS for utt in UTTS[:2]]
    for name in ("dev", "test"):
        assert keys(recipe / "data" / name / "utt2spk") == expected_utts(name)
    # a second run rewrites the sets as a whole
    proc = run_data_sh(recipe, {"VOXCELEB1": str(corpus)}, "--max_utts_per_speaker", "0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(keys(recipe / "data" / "train" / "wav.scp")) == 16


def test_the_split_file_is_downloaded_when_the_corpus_lacks_it(corpus: Path, recipe: Path, tmp_path: Path):
    mirror = tmp_path / "mirror" / "iden_split.txt"
    mirror.parent.mkdir()
    (corpus / "iden_split.txt").rename(mirror)
    proc = run_data_sh(recipe, {"VOXCELEB1": str(corpus), "VOXCELEB1_SPLIT_URL": mirror.as_uri()})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (recipe / "downloads" / "iden_split.txt").read_text() == mirror.read_text()
    assert len(keys(recipe / "data" / "test" / "wav.scp")) == 4


def test_a_failed_download_gives_one_line(corpus: Path, recipe: Path):
    (corpus / "iden_split.txt").unlink()
    proc = run_data_sh(recipe, {"VOXCELEB1": str(corpus)})
    assert proc.returncode == 1
    url = (recipe / "no_such_split.txt").as_uri()
    lines = error_lines(proc)
    assert len(lines) == 1 and lines[0].startswith(f"ERROR: could not download {url}"), proc.stderr
    assert "download iden_split.txt yourself" in lines[0]
    assert not (recipe / "downloads" / "iden_split.txt").exists()
    assert not (recipe / "data").exists()


def test_only_the_sid_task_is_supported(corpus: Path, recipe: Path):
    proc = run_data_sh(recipe, {"VOXCELEB1": str(corpus)}, "--task", "asr")
    assert proc.returncode == 1
    assert error_lines(proc) == ["ERROR: local/data.sh: VoxCeleb1 supports only --task sid, not 'asr'"]


@pytest.mark.parametrize("where", ["empty", "no_wav"])
def test_no_corpus_points_at_the_registration(tmp_path: Path, recipe: Path, where: str):
    if where == "empty" and (SHARED_DATA / "voxceleb1").is_dir():
        pytest.skip("db.sh defaults to ../shared/data/voxceleb1, which exists")
    folder = tmp_path / "not_voxceleb"
    folder.mkdir()
    proc = run_data_sh(recipe, {"VOXCELEB1": "" if where == "empty" else str(folder)})
    assert proc.returncode == 1
    lines = error_lines(proc)
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"ERROR: VOXCELEB1={'(empty)' if where == 'empty' else folder} has no wav/ folder")
    assert "needs registration at https://www.robots.ox.ac.uk/~vgg/data/voxceleb/" in lines[0]
    assert "set VOXCELEB1 in db.sh" in lines[0]


def damage_split(corpus: Path, damage: str) -> str:
    """Break the corpus one way; return the message expected after ``ERROR: <split file>``."""
    split = corpus / "iden_split.txt"
    lines = split.read_text().splitlines()
    if damage == "malformed":
        lines[2] = lines[2] + " extra"
        split.write_text("\n".join(lines) + "\n")
        return f":3: expected '<set> <speaker>/<video>/<utt>.wav', got 3 field(s): '{lines[2]}'"
    if damage == "unknown_set":
        lines[4] = "4" + lines[4][1:]
        split.write_text("\n".join(lines) + "\n")
        return ":5: unknown set number '4' (1 = train, 2 = validation, 3 = test)"
    if damage == "bad_path":
        lines[0] = "1 id10004/00001.wav"
        split.write_text("\n".join(lines) + "\n")
        return ":1: 'id10004/00001.wav' is not <speaker>/<video>/<utt>.wav"
    if damage == "duplicate":
        lines.append(lines[0])
        split.write_text("\n".join(lines) + "\n")
        return f":25: utterance id id10004-{VIDEOS[0]}-00001 already comes from line 1"
    if damage == "missing_wavs":
        # lines 17 and 18 are dev utterances (speakers id10004 and id10003); line 17 is the first
        for relative in (lines[17].split()[1], lines[16].split()[1]):
            (corpus / "wav" / relative).unlink()
        wav_dir = corpus.absolute() / "wav"
        return f":17: 2 listed wav file(s) do not exist under {wav_dir}; the first: {lines[16].split()[1]}"
    if damage == "empty":
        split.write_text("\n  \n")
        return ": the split file has no lines: is this iden_split.txt?"
    if damage == "no_test":
        split.write_text("\n".join(line for line in lines if not line.startswith("3 ")) + "\n")
        return ": no line for set 3 (test)"
    if damage == "unseen_speaker":
        split.write_text("\n".join(line for line in lines if not line.startswith("1 id10002/")) + "\n")
        return (
            ": closed-set identification needs every dev and test speaker in train (set 1), but "
            "2 are not; the first: id10002 (dev)"
        )
    raise AssertionError(damage)


@pytest.mark.parametrize(
    "damage",
    ["malformed", "unknown_set", "bad_path", "duplicate", "missing_wavs", "empty", "no_test", "unseen_speaker"],
)
def test_bad_input_gives_one_line_naming_the_file(corpus: Path, recipe: Path, damage: str):
    message = damage_split(corpus, damage)
    proc = run_data_sh(recipe, {"VOXCELEB1": str(corpus)})
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert error_lines(proc) == [f"ERROR: {corpus / 'iden_split.txt'}{message}"], proc.stderr
    assert not (recipe / "data").exists()
