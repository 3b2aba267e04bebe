"""Stage 1 of egs2/libritts on a tiny fake LibriTTS tree generated here, and run.sh's early checks.

The tree has the real layout (``LibriTTS/<subset>/<speaker>/<chapter>/<utt>.wav`` at 24 kHz with
``.normalized.txt`` and ``.original.txt`` beside each); speakers 19 and 198 are both in it,
because LibriTTS ids (``19_...``, ``198_...``) sort differently from their speakers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest
import soundfile as sf

from espnet2_speecht5.data.kaldi_dir import iter_lines, read_map

from repo_testing import REPO_ROOT, copy_recipe

LOCAL = REPO_ROOT / "egs2" / "libritts" / "local"
# subset -> (speaker, chapter, number of utterances)
TREE = {
    "train-clean-100": [("19", "198", 2), ("198", "129977", 2)],
    "train-clean-360": [("1001", "134707", 2)],
    "dev-clean": [("84", "121123", 2)],
    "test-clean": [("1089", "134686", 2)],
}
SETS = {"train_460": ("train-clean-100", "train-clean-360"), "dev_clean": ("dev-clean",), "test_clean": ("test-clean",)}
EMPTY = "198_129977_000001_000000"  # its .normalized.txt is empty
UNTRANSCRIBED = "1001_134707_000001_000000"  # it has no .normalized.txt


def make_libritts(root: Path) -> Dict[str, str]:
    """Write ``root/LibriTTS/<subset>/...``; return ``{LibriTTS id: normalized text}`` of the usable utterances."""
    texts: Dict[str, str] = {}
    rng = np.random.default_rng(0)
    for subset, chapters in TREE.items():
        for speaker, chapter, count in chapters:
            folder = root / "LibriTTS" / subset / speaker / chapter
            folder.mkdir(parents=True)
            (folder / f"{speaker}_{chapter}.trans.tsv").write_text("ignored\n")
            for index in range(count):
                utt = f"{speaker}_{chapter}_{index:06d}_000000"
                sf.write(folder / f"{utt}.wav", 0.1 * rng.standard_normal(2400).astype(np.float32), 24000)
                (folder / f"{utt}.original.txt").write_text(f"Chapter {index + 1}, Mr. Smith's  book.\n")
                normalized = f"Chapter {'one two'.split()[index]}, Mister  Smith's book."
                if utt == UNTRANSCRIBED:
                    continue
                if utt == EMPTY:
                    normalized = "  \n"
                (folder / f"{utt}.normalized.txt").write_text(normalized + "\n")
                if normalized.strip():
                    texts[utt] = " ".join(normalized.split())
    return texts


def run_data_sh(recipe: Path, env: Dict[str, str], *args: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("LIBRITTS")}
    full.update(env)
    return subprocess.run(["local/data.sh", *args], cwd=recipe, env=full, capture_output=True, text=True, timeout=120)


def validate(data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "utils" / "validate_data_dir.py"), "--task", "tts", str(data_dir)],
        capture_output=True,
        text=True,
    )


def keys(path: Path) -> List[str]:
    return [key for _, key, _ in iter_lines(path)]


def test_data_sh_writes_the_three_sets(tmp_path: Path):
    texts = make_libritts(tmp_path / "corpus")
    recipe = copy_recipe("libritts", "tts1", tmp_path / "work")
    proc = run_data_sh(recipe, {"LIBRITTS": str(tmp_path / "corpus" / "LibriTTS")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the skipped utterances are counted per set, and named
    summary = "data/train_460: 4 utterances, 3 speaker(s); skipped 2 without a transcript (1 missing, 1 empty)"
    assert summary in proc.stdout
    assert f"missing .normalized.txt: 1001-{UNTRANSCRIBED}" in proc.stdout
    assert f"empty .normalized.txt: 198-{EMPTY}" in proc.stdout
    assert "data/dev_clean: 2 utterances, 1 speaker(s); skipped 0 without a transcript" in proc.stdout
    for name, subsets in SETS.items():
        data_dir = recipe / "data" / name
        check = validate(data_dir)
        assert check.returncode == 0, check.stdout + check.stderr
        utt2spk = read_map(data_dir / "utt2spk")
        expected = {
            f"{spk}-{spk}_{chapter}_{i:06d}_000000"
            for subset in subsets
            for spk, chapter, count in TREE[subset]
            for i in range(count)
        } - {f"198-{EMPTY}", f"1001-{UNTRANSCRIBED}"}
        assert set(utt2spk) == expected
        # every id is <speaker>-<LibriTTS id>; sorted by utterance, the speakers come in sorted order too
        assert all(utt.startswith(f"{spk}-{spk}_") for utt, spk in utt2spk.items())
        utts = keys(data_dir / "utt2spk")
        assert utts == sorted(utts, key=str.encode)
        speakers = [utt2spk[u] for u in utts]
        assert speakers == sorted(speakers, key=str.encode)
        assert keys(data_dir / "spk2utt") == sorted(set(speakers), key=str.encode)
        # the normalized text, lower-cased and with whitespace collapsed; never the original text
        text = read_map(data_dir / "text")
        assert text == {utt: texts[utt.split("-", 1)[1]].lower() for utt in expected}
        wav = read_map(data_dir / "wav.scp")
        for utt, path in wav.items():
            assert Path(path).is_absolute() and Path(path).name == utt.split("-", 1)[1] + ".wav"
    assert keys(recipe / "data" / "train_460" / "spk2utt") == ["1001", "19", "198"]
    dev_text = read_map(recipe / "data" / "dev_clean" / "text")
    assert dev_text["84-84_121123_000000_000000"] == "chapter one, mister smith's book."


def test_lowercase_false_keeps_the_case(tmp_path: Path):
    make_libritts(tmp_path / "corpus")
    src = tmp_path / "corpus" / "LibriTTS" / "dev-clean"
    out = tmp_path / "dev"
    proc = subprocess.run(
        [sys.executable, str(LOCAL / "prepare_libritts.py"), "--out", str(out), "--lowercase", "false", str(src)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert read_map(out / "text")["84-84_121123_000001_000000"] == "Chapter two, Mister Smith's book."


@pytest.mark.parametrize(
    "damage, message",
    [
        ("misnamed", "84/121123/84_999_000000_000000.wav: file name does not start with 84_121123_"),
        ("latin1", "84/121123/84_121123_000001_000000.normalized.txt: cannot read the transcript (not UTF-8)"),
        ("no_audio", "dev-clean: no <speaker>/<chapter>/*.wav found: is this a LibriTTS subset?"),
    ],
)
def test_broken_subsets_give_one_line_naming_the_file(tmp_path: Path, damage: str, message: str):
    make_libritts(tmp_path / "corpus")
    src = tmp_path / "corpus" / "LibriTTS" / "dev-clean"
    chapter = src / "84" / "121123"
    if damage == "misnamed":
        (chapter / "84_121123_000000_000000.wav").rename(chapter / "84_999_000000_000000.wav")
    elif damage == "latin1":
        (chapter / "84_121123_000001_000000.normalized.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    else:
        for wav in chapter.glob("*.wav"):
            wav.unlink()
    proc = subprocess.run(
        [sys.executable, str(LOCAL / "prepare_libritts.py"), "--out", str(tmp_path / "out"), str(src)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: ") and message in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()


def test_data_sh_names_a_missing_subset(tmp_path: Path):
    make_libritts(tmp_path / "corpus")
    corpus = tmp_path / "corpus" / "LibriTTS"
    (corpus / "train-clean-360").rename(tmp_path / "elsewhere")
    recipe = copy_recipe("libritts", "tts1", tmp_path / "work")
    proc = run_data_sh(recipe, {"LIBRITTS": str(corpus), "LIBRITTS_URL": "https://example.invalid/60"})
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"ERROR: LIBRITTS={corpus} has no train-clean-360/: set LIBRITTS to the folder holding the LibriTTS "
        "subsets (see db.sh), or pass --download true to fetch it from https://example.invalid/60"
    ]
    assert not (recipe / "data").exists()


def test_download_true_fetches_only_the_missing_subsets(tmp_path: Path):
    make_libritts(tmp_path / "corpus")
    corpus = tmp_path / "corpus" / "LibriTTS"
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with tarfile.open(mirror / "test-clean.tar.gz", "w:gz") as tar:
        tar.add(corpus / "test-clean", arcname="LibriTTS/test-clean")
    (corpus / "test-clean").rename(tmp_path / "elsewhere")
    recipe = copy_recipe("libritts", "tts1", tmp_path / "work")
    proc = run_data_sh(recipe, {"LIBRITTS": str(corpus), "LIBRITTS_URL": mirror.as_uri()}, "--download", "true")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (recipe / "downloads" / "libritts_test-clean" / ".done").is_file()
    assert not (recipe / "downloads" / "libritts_dev-clean").exists()
    assert (corpus / "test-clean").is_symlink()
    assert len(read_map(recipe / "data" / "test_clean" / "wav.scp")) == 2


def write_xvectors(folder: Path, ids: List[str]) -> None:
    for i, utt in enumerate(ids):
        sub = folder / utt.split("_")[0]
        sub.mkdir(parents=True, exist_ok=True)
        np.save(sub / f"{utt}.npy", np.full(512, i, dtype=np.float32))


def link(tmp_path: Path, data_dirs: List[Path]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(LOCAL / "link_xvectors.py"), "--src", str(tmp_path / "xv"), "--out",
         str(tmp_path / "links"), *map(str, data_dirs)],
        capture_output=True,
        text=True,
    )  # fmt: skip


def test_link_xvectors_maps_libritts_ids_to_ours(tmp_path: Path):
    data = tmp_path / "dev"
    data.mkdir()
    (data / "utt2spk").write_text("19-19_198_000000_000000 19\n198-198_1_000000_000000 198\n")
    write_xvectors(tmp_path / "xv", ["19_198_000000_000000", "198_1_000000_000000", "5_5_000000_000000"])
    proc = link(tmp_path, [data])
    assert proc.returncode == 0, proc.stderr
    assert f"{tmp_path / 'links'}: 2 x-vector links" in proc.stdout
    linked = tmp_path / "links" / "198-198_1_000000_000000.npy"
    assert linked.is_symlink() and np.load(linked)[0] == 1.0
    assert sorted(p.name for p in (tmp_path / "links").iterdir()) == [
        "19-19_198_000000_000000.npy",
        "198-198_1_000000_000000.npy",
    ]
    # an utterance without its vector: one line that counts and names it
    (data / "utt2spk").write_text("19-19_198_000000_000000 19\n19-19_198_000001_000000 19\n")
    proc = link(tmp_path, [data])
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"ERROR: {data / 'utt2spk'}: 1 utterance(s) have no <LibriTTS id>.npy in {tmp_path / 'xv'}, "
        "the first: 19_198_000001_000000.npy"
    )


def run_sh(recipe: Path, *args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("LIBRITTS", "SPEECHT5_PRETRAINED"))}
    full.update(env or {})
    return subprocess.run(["./run.sh", *args], cwd=recipe, env=full, capture_output=True, text=True, timeout=60)


def test_run_sh_stops_early_without_xvectors_or_checkpoint(tmp_path: Path):
    recipe = copy_recipe("libritts", "tts1", tmp_path)
    proc = run_sh(recipe, "--stage", "6", "--stop_stage", "6")
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "ERROR: stage 6 needs speaker x-vectors: set LIBRITTS_XVECTORS to a folder of <LibriTTS utterance id>.npy "
        "and rerun stage 1, or pass --spk_source espnet_spk (see ../README.md)"
    )
    proc = run_sh(recipe, "--stage", "8", "--stop_stage", "8")
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "ERROR: the converted pre-trained checkpoint exp/speecht5_base_t2s.pth does not exist: convert "
        "speecht5_base.pt first (see ../README.md), or set SPEECHT5_PRETRAINED=none to train from scratch"
    )
