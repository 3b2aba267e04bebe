"""The sclite wrapper: trn files, the counts sclite reports, and the score_asr entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.scoring.sclite import (
    characters,
    find_sclite,
    parse_sclite_report,
    score,
    tokenizer_for,
    trn_id,
    write_trn_pair,
)

from repo_testing import REPO_ROOT


@pytest.fixture(scope="module", autouse=True)
def need_sclite():
    """tools/install.sh installs sctk; without sclite these tests fail rather than skip."""
    find_sclite()


def test_one_substitution_and_one_deletion(tmp_path: Path):
    result = score({"s1_u1": "a b c d"}, {"s1_u1": "a x c"}, tmp_path, "wer", utt2spk={"s1_u1": "s1"})
    counts = result.counts
    assert (counts.snt, counts.wrd, counts.corr, counts.sub, counts.dele, counts.ins) == (1, 4, 2, 1, 1, 0)
    assert (counts.err, counts.s_err) == (2, 1)
    assert result.percent.err == pytest.approx(50.0)
    assert result.percent.sub == pytest.approx(25.0)
    assert (tmp_path / "result.txt").read_text().count("Sum/Avg") == 1


def test_insertions_and_speaker_grouping(tmp_path: Path):
    ref = {"s1_u1": "a b", "s2_u1": "c d", "s2_u2": "e"}
    hyp = {"s1_u1": "a b z", "s2_u1": "c d", "s2_u2": "e"}
    result = score(ref, hyp, tmp_path, "wer", utt2spk={"s1_u1": "s1", "s2_u1": "s2", "s2_u2": "s2"})
    assert (result.counts.corr, result.counts.ins, result.counts.err, result.counts.s_err) == (5, 1, 1, 1)
    report = (tmp_path / "result.txt").read_text()
    assert "| s1 " in report and "| s2 " in report  # sclite grouped the utterances by speaker


def test_missing_hypothesis_counts_as_deletions(tmp_path: Path):
    result = score({"u1": "a b", "u2": "c d e"}, {"u1": "a b"}, tmp_path, "wer")
    assert (result.counts.dele, result.counts.err, result.counts.s_err) == (3, 3, 1)


def test_hypothesis_without_reference_is_an_error(tmp_path: Path):
    with pytest.raises(DataError, match="no reference"):
        score({"u1": "a"}, {"u1": "a", "u9": "b"}, tmp_path, "wer")


def test_character_error_rate_splits_characters_with_space_tokens(tmp_path: Path):
    assert characters("ab  c") == ["a", "b", "<space>", "c"]
    assert characters("   ") == []
    result = score({"u1": "ab c"}, {"u1": "ab"}, tmp_path, "cer")
    # "a b <space> c" against "a b": two deletions out of four tokens.
    assert (result.counts.wrd, result.counts.corr, result.counts.dele) == (4, 2, 2)
    assert (tmp_path / "ref.trn").read_text().startswith("a b <space> c (")


def test_trn_ids_keep_the_speaker_before_the_first_dash():
    assert trn_id("spk1_0001", {"spk1_0001": "spk1"}) == "spk1-spk1_0001"
    assert trn_id("a-b_1", {"a-b_1": "a-b"}) == "a_b-a-b_1"
    assert trn_id("spk2_7", None) == "spk2-spk2_7"


def test_write_trn_pair_sorts_and_fills_missing(tmp_path: Path):
    ref_trn, hyp_trn = write_trn_pair({"b": "x y", "a": "z"}, {"a": "z"}, tmp_path, str.split)
    assert ref_trn.read_text().splitlines() == ["z (a-a)", "x y (b-b)"]
    assert hyp_trn.read_text().splitlines() == ["z (a-a)", "(b-b)"]


def test_unknown_metric_and_bad_report():
    with pytest.raises(DataError, match="unknown metric"):
        tokenizer_for("bleu")
    with pytest.raises(DataError, match="needs --bpemodel"):
        tokenizer_for("ter", "bpe")
    with pytest.raises(DataError, match="Sum/Avg"):
        parse_sclite_report("no table here")


def test_score_asr_cli_writes_reports(tmp_path: Path):
    (tmp_path / "ref").write_text("s1_u1 a b c d\ns1_u2 e f\n")
    (tmp_path / "hyp").write_text("s1_u1 a x c\ns1_u2 e f\n")
    (tmp_path / "utt2spk").write_text("s1_u1 s1\ns1_u2 s1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "espnet2_speecht5.bin.score_asr", "--ref", str(tmp_path / "ref"),
         "--hyp", str(tmp_path / "hyp"), "--utt2spk", str(tmp_path / "utt2spk"), "--outdir", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "WER 33.3%" in proc.stderr and "CER " in proc.stderr
    wer = parse_sclite_report((tmp_path / "out" / "score_wer" / "result.txt").read_text())
    assert wer.counts.as_dict() == {"Snt": 2, "Wrd": 6, "Corr": 4, "Sub": 1, "Del": 1, "Ins": 0, "Err": 2, "S.Err": 1}
    assert (tmp_path / "out" / "score_cer" / "result.txt").is_file()
    assert not (tmp_path / "out" / "score_ter").exists()  # no TER for a char model: it would repeat the CER


def test_score_asr_cli_bad_input_is_one_line(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "espnet2_speecht5.bin.score_asr", "--ref", str(tmp_path / "nope"),
         "--hyp", str(tmp_path / "nope2"), "--outdir", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=REPO_ROOT,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("ERROR: ")
    assert "Traceback" not in proc.stderr


def test_token_error_rate_of_a_bpe_model_uses_its_pieces(tmp_path: Path):
    from espnet2_speecht5.text.token_list import make_token_list

    text = tmp_path / "text"
    words = ["red", "green", "blue", "cup", "box", "ball", "one", "two", "three", "seven"]
    text.write_text("".join(f"u{i:03d} {words[i % 10]} {words[(3 * i) % 10]} {words[(7 * i) % 10]}\n"
                            for i in range(60)))
    make_token_list("unigram", text, tmp_path / "bpe", nbpe=30)
    split = tokenizer_for("ter", "bpe", tmp_path / "bpe" / "bpe.model")
    pieces = split("red cup")
    assert "".join(pieces).replace("\u2581", " ").strip() == "red cup"
    result = score({"u1": "red cup"}, {"u1": "red box"}, tmp_path / "ter", "ter", "bpe", tmp_path / "bpe" / "bpe.model")
    assert result.counts.wrd == len(pieces)
    assert result.counts.err >= 1
