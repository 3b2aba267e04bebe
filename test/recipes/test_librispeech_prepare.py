"""Stage 1 of egs2/librispeech_100 on a tiny fake LibriSpeech tree generated here.

The tree has the real layout (``LibriSpeech/<subset>/<speaker>/<chapter>/`` with FLAC files and
one ``<speaker>-<chapter>.trans.txt``); the data directories written from it must pass
``utils/validate_data_dir.py --task asr``.  Broken trees must stop with one line naming the file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import soundfile as sf

from espnet2_speecht5.data.kaldi_dir import read_map

from repo_testing import REPO_ROOT, copy_recipe

LOCAL = REPO_ROOT / "egs2" / "librispeech_100" / "local"
SUBSETS = ("train-clean-100", "dev-clean", "dev-other", "test-clean", "test-other")
# (reader, chapter, number of utterances) per subset: two readers, one with two chapters
CHAPTERS = ((19, 198, 2), (19, 227, 1), (8842, 304647, 2))


def make_subset(root: Path, subset: str) -> Dict[str, str]:
    """Write ``root/LibriSpeech/<subset>`` with short FLAC files; return ``{utt: transcript}``."""
    texts: Dict[str, str] = {}
    rng = np.random.default_rng(len(subset))
    for reader, chapter, count in CHAPTERS:
        folder = root / "LibriSpeech" / subset / str(reader) / str(chapter)
        folder.mkdir(parents=True)
        lines: List[str] = []
        for index in range(count):
            utt = f"{reader}-{chapter}-{index:04d}"
            sf.write(folder / f"{utt}.flac", 0.1 * rng.standard_normal(3200).astype(np.float32), 16000)
            texts[utt] = f"{subset.upper().replace('-', ' ')} SENTENCE {index} IT'S FINE"
            lines.append(f"{utt} {texts[utt]}")
        (folder / f"{reader}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    return texts


def prepare(src: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(LOCAL / "prepare_librispeech.py"), "--src", str(src), "--out", str(out), *extra],
        capture_output=True,
        text=True,
    )


def validate(data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "utils" / "validate_data_dir.py"), "--task", "asr", str(data_dir)],
        capture_output=True,
        text=True,
    )


@pytest.fixture
def fake_subset(tmp_path: Path) -> tuple:
    texts = make_subset(tmp_path, "dev-clean")
    return tmp_path / "LibriSpeech" / "dev-clean", texts


def test_prepare_writes_a_valid_asr_data_dir(tmp_path: Path, fake_subset):
    src, texts = fake_subset
    out = tmp_path / "data" / "dev_clean"
    proc = prepare(src, out)
    assert proc.returncode == 0, proc.stderr
    assert f"{out}: 5 utterances, 3 speaker(s)" in proc.stdout
    check = validate(out)
    assert check.returncode == 0, check.stderr
    assert read_map(out / "text") == texts
    utt2spk = read_map(out / "utt2spk")
    assert utt2spk["19-198-0001"] == "19-198" and utt2spk["19-227-0000"] == "19-227"
    wav = read_map(out / "wav.scp")
    assert wav["8842-304647-0001"] == str((src / "8842" / "304647" / "8842-304647-0001.flac").resolve())
    assert read_map(out / "spk2utt")["19-198"] == "19-198-0000 19-198-0001"


def test_speaker_unit_speaker_groups_chapters(tmp_path: Path, fake_subset):
    src, _ = fake_subset
    out = tmp_path / "data" / "dev_clean"
    proc = prepare(src, out, "--speaker_unit", "speaker")
    assert proc.returncode == 0, proc.stderr
    assert validate(out).returncode == 0
    assert read_map(out / "spk2utt")["19"] == "19-198-0000 19-198-0001 19-227-0000"


@pytest.mark.parametrize(
    "damage, message",
    [
        ("untranscribed", "19/198/19-198-0002.flac: no transcript line in 19-198.trans.txt for this FLAC file"),
        ("no_audio", "19/198/19-198.trans.txt:2: utterance '19-198-0001': audio file"),
        ("no_trans", "19/227/19-227-0000.flac: no transcript file 19-227.trans.txt for 1 FLAC file(s)"),
        ("bad_id", "19/198/19-198.trans.txt:1: utterance id '19-199-0000' is not 19-198-<index>"),
        ("empty_text", "19/198/19-198.trans.txt:1: utterance '19-198-0000': empty transcript"),
    ],
)
def test_broken_trees_give_one_line_naming_the_file(tmp_path: Path, fake_subset, damage: str, message: str):
    src, _ = fake_subset
    chapter = src / "19" / "198"
    trans = chapter / "19-198.trans.txt"
    if damage == "untranscribed":
        sf.write(chapter / "19-198-0002.flac", np.zeros(1600, dtype=np.float32), 16000)
    elif damage == "no_audio":
        (chapter / "19-198-0001.flac").unlink()
    elif damage == "no_trans":
        (src / "19" / "227" / "19-227.trans.txt").unlink()
    elif damage == "bad_id":
        trans.write_text(trans.read_text().replace("19-198-0000", "19-199-0000"))
    elif damage == "empty_text":
        lines = trans.read_text().splitlines()
        trans.write_text("\n".join(["19-198-0000", *lines[1:]]) + "\n")
    proc = prepare(src, tmp_path / "out")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), proc.stderr
    assert message in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_folder_that_is_not_librispeech_is_refused(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    proc = prepare(tmp_path / "empty", tmp_path / "out")
    assert proc.returncode == 1
    assert "is this a LibriSpeech subset?" in proc.stderr
    proc = prepare(tmp_path / "missing", tmp_path / "out")
    assert proc.stderr.strip() == f"ERROR: {tmp_path / 'missing'}: LibriSpeech subset folder does not exist"


def run_data_sh(recipe: Path, env: Dict[str, str], *args: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("LIBRISPEECH")}
    full.update(env)
    return subprocess.run(["local/data.sh", *args], cwd=recipe, env=full, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("layout", ["LibriSpeech", "subsets", "download"])
def test_data_sh_prepares_every_subset(tmp_path: Path, layout: str):
    corpus = tmp_path / "corpus"
    for subset in SUBSETS:
        make_subset(corpus, subset)
    env: Dict[str, str]
    if layout == "LibriSpeech":
        env = {"LIBRISPEECH": str(corpus)}
    elif layout == "subsets":
        env = {"LIBRISPEECH": str(corpus / "LibriSpeech")}
    else:
        mirror = tmp_path / "mirror"
        mirror.mkdir()
        for subset in SUBSETS:
            with tarfile.open(mirror / f"{subset}.tar.gz", "w:gz") as tar:
                tar.add(corpus / "LibriSpeech" / subset, arcname=f"LibriSpeech/{subset}")
        env = {"LIBRISPEECH": "", "LIBRISPEECH_URL": mirror.as_uri()}
    recipe = copy_recipe("librispeech_100", "asr1", tmp_path / "work")
    proc = run_data_sh(recipe, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for subset in SUBSETS:
        data_dir = recipe / "data" / subset.replace("-", "_")
        assert validate(data_dir).returncode == 0
        assert len(read_map(data_dir / "wav.scp")) == 5
    if layout == "download":
        assert (recipe / "downloads" / "dev-other" / ".done").is_file()


def test_data_sh_names_a_missing_subset(tmp_path: Path):
    corpus = tmp_path / "corpus"
    make_subset(corpus, "dev-clean")
    recipe = copy_recipe("librispeech_100", "asr1", tmp_path / "work")
    proc = run_data_sh(recipe, {"LIBRISPEECH": str(corpus)}, "--subsets", "dev-clean test-clean")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"ERROR: LIBRISPEECH={corpus} has neither test-clean/ nor LibriSpeech/test-clean/: "
        "set LIBRISPEECH to the folder holding the subsets (see db.sh)"
    )


# ----------------------------------------------------------------------- the pre-trained embedding


def run_remap(tmp_path: Path) -> subprocess.CompletedProcess:
    """Run local/remap_text_embedding.py on base.pth, dict.txt and tokens.txt in ``tmp_path``."""
    return subprocess.run(
        [sys.executable, str(LOCAL / "remap_text_embedding.py"), "--checkpoint", str(tmp_path / "base.pth"),
         "--dict", str(tmp_path / "dict.txt"), "--token_list", str(tmp_path / "tokens.txt"),
         "--output", str(tmp_path / "out.pth")],
        capture_output=True,
        text=True,
    )


def test_remap_text_embedding_puts_each_pretrained_row_at_our_network_id(tmp_path: Path):
    import torch

    embed_key = "text_decoder_prenet.embed_tokens.weight"
    old = torch.arange(10 * 3, dtype=torch.float32).reshape(10, 3)
    other = torch.ones(2)
    torch.save({embed_key: old, "encoder.x": other}, tmp_path / "base.pth")
    # fairseq ids: <s> 0, <pad> 1, </s> 2, <unk> 3, then ▁ 4, e 5, t 6, ' 7
    (tmp_path / "dict.txt").write_text("\u2581 100\ne 50\nt 40\n' 3\n")
    tokens = ["<blank>", "<unk>", "<space>", "E", "T", "'", "Q", "<sos/eos>"]
    (tmp_path / "tokens.txt").write_text("\n".join(tokens) + "\n")
    proc = run_remap(tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "7 of 8 tokens take their pre-trained row; random rows for: Q" in proc.stdout
    new = torch.load(tmp_path / "out.pth", weights_only=True)
    assert torch.equal(new["encoder.x"], other)
    emb = new[embed_key]
    assert emb.shape == (8, 3)
    # network ids are ESPnet ids with 0 and 1 swapped: row 0 is <unk>, row 1 <blank> (the padding)
    expected = {0: 3, 1: 1, 2: 4, 3: 5, 4: 6, 5: 7, 7: 2}
    for net_row, old_row in expected.items():
        assert torch.equal(emb[net_row], old[old_row]), net_row


def test_remap_text_embedding_names_a_bad_dictionary_line(tmp_path: Path):
    import torch

    torch.save({"text_decoder_prenet.embed_tokens.weight": torch.zeros(6, 2)}, tmp_path / "base.pth")
    (tmp_path / "dict.txt").write_text("a 1\nb\n")
    (tmp_path / "tokens.txt").write_text("<blank>\n<unk>\na\n<sos/eos>\n")
    proc = run_remap(tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == f"ERROR: {tmp_path / 'dict.txt'}:2: expected '<symbol> <count>'"


def test_run_sh_stops_when_the_converted_checkpoint_is_missing(tmp_path: Path):
    recipe = copy_recipe("librispeech_100", "asr1", tmp_path)
    proc = subprocess.run(
        ["./run.sh", "--stage", "8", "--stop_stage", "8"], cwd=recipe, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "ERROR: the converted pre-trained checkpoint exp/speecht5_base_s2t.pth does not exist: convert "
        "speecht5_base.pt first (see ../README.md), or set SPEECHT5_PRETRAINED=none to train from scratch"
    )
