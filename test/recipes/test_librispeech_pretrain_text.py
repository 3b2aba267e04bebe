"""egs2/librispeech/local/prepare_text.py: the text corpora of LibriSpeech pre-training."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

from repo_testing import REPO_ROOT

SCRIPT = REPO_ROOT / "egs2" / "librispeech" / "local" / "prepare_text.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=REPO_ROOT)


def test_lm_corpus_gets_line_ids_without_empty_lines(tmp_path: Path):
    corpus = tmp_path / "librispeech-lm-norm.txt.gz"
    with gzip.open(corpus, "wt", encoding="utf-8") as f:
        f.write("THE FIRST  SENTENCE\n\nA SECOND ONE\nTHIRD\n")
    proc = run("lm", "--src", str(corpus), "--out", str(tmp_path / "all" / "text"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "all" / "text").read_text().splitlines() == [
        "lm000000001 THE FIRST SENTENCE", "lm000000003 A SECOND ONE", "lm000000004 THIRD"]
    proc = run("lm", "--src", str(corpus), "--out", str(tmp_path / "two" / "text"), "--max_sentences", "2")
    assert proc.returncode == 0 and len((tmp_path / "two" / "text").read_text().splitlines()) == 2


def test_transcripts_keep_utterance_ids_and_missing_input_is_one_line(tmp_path: Path):
    (tmp_path / "text").write_text("1-2-0001 HELLO  WORLD\n1-2-0002\n1-2-0003 BYE\n")
    proc = run("transcripts", "--src", str(tmp_path / "text"), "--out", str(tmp_path / "held" / "text"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "held" / "text").read_text() == "1-2-0001 HELLO WORLD\n1-2-0003 BYE\n"
    proc = run("lm", "--src", str(tmp_path / "none.txt.gz"), "--out", str(tmp_path / "x" / "text"))
    assert proc.returncode == 1 and proc.stderr.strip().splitlines() == [
        f"ERROR: {tmp_path / 'none.txt.gz'}: does not exist (the LibriSpeech LM corpus, see db.sh)"]
    assert not (tmp_path / "x" / "text").exists()
