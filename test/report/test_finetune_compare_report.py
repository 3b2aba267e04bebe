"""The report of utils/finetune_compare.sh: scores and curves read from run folders, the verdict per seed."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest

from espnet2_speecht5.bin import finetune_report
from espnet2_speecht5.report.finetune_compare import collect_runs, comparison_markdown, read_valid_accuracy
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.scoring.scores_file import write_scores

DECODE = "decode_valid.acc.best"


def epoch_line(epoch: int, train_acc: float, valid_acc: float) -> str:
    """A line as ESPnet's trainer logs it; the train section has an acc= of its own."""
    return (f"[vm] 2026-11-26 10:59:04,522 (trainer:394) INFO: {epoch}epoch results: [train] loss_ctc=80.2, "
            f"acc={train_acc}, loss=50.4, time=1.57 seconds, total_count=40, [valid] loss_ctc=82.2, "
            f"loss_att=20.1, acc={valid_acc}\n")


def make_run(runs: Path, init: str, seed: int, cer: float, wer: float, valid: Dict[int, float]) -> Path:
    exp = runs / f"{init}_seed{seed}" / f"asr_{init}_seed{seed}"
    (exp / DECODE / "test").mkdir(parents=True)
    write_scores(exp / DECODE / "test" / "scores.json", "asr", "test", str(exp / "valid.acc.best.pth"),
                 {"cer": cer, "wer": wer}, ("cer", "wer"), {})
    (exp / "train.log").write_text("".join(epoch_line(e, 0.01, a) for e, a in sorted(valid.items())))
    return exp


def test_valid_accuracy_comes_from_the_valid_section_and_resumed_logs_win(tmp_path):
    (tmp_path / "train.log.1").write_text(epoch_line(1, 0.9, 0.10) + epoch_line(2, 0.9, 0.20))
    (tmp_path / "train.log").write_text("noise line\n" + epoch_line(2, 0.9, 0.25) + epoch_line(3, 0.9, 0.30))
    assert read_valid_accuracy(tmp_path) == {1: 0.10, 2: 0.25, 3: 0.30}


def test_report_rows_means_and_verdict(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "pretrained", 0, 30.0, 40.0, {1: 0.5, 10: 0.8, 20: 0.9, 30: 0.85})
    make_run(runs, "scratch", 0, 40.0, 50.0, {1: 0.1, 10: 0.2, 30: 0.7})
    make_run(runs, "pretrained", 1, 34.0, 44.0, {10: 0.7})
    make_run(runs, "scratch", 1, 33.0, 45.0, {10: 0.3})
    (runs / "notes").mkdir()  # not a run folder: ignored
    results = collect_runs(runs, DECODE, "test")
    assert [(r.init, r.seed) for r in results] == [("pretrained", 0), ("scratch", 0), ("pretrained", 1), ("scratch", 1)]
    assert results[0].best_epoch == 20 and results[1].best_epoch == 30

    text = comparison_markdown(results, {"labelled training set": "`data/train60` (60 utterances)"})
    assert "- labelled training set: `data/train60` (60 utterances)" in text
    assert "| pretrained | 0 | 30.0 | 40.0 | 90.0 | 20 | 80.0 |" in text
    assert "| scratch | 0 | 40.0 | 50.0 | 70.0 | 30 | 20.0 |" in text
    # mean and sample standard deviation over the two seeds: CER 32 ± 2.8 and 36.5 ± 4.9
    assert "| pretrained | 2 | 32.0 ± 2.8 | 42.0 ± 2.8 |" in text
    assert "| scratch | 2 | 36.5 ± 4.9 | 47.5 ± 3.5 |" in text
    assert "lowers the test CER on 1 of 2 seed(s)" in text
    assert "+10.0, -1.0 points (mean +4.5)" in text


def test_unpaired_runs_say_there_is_nothing_to_compare(tmp_path):
    make_run(tmp_path / "runs", "scratch", 3, 40.0, 50.0, {1: 0.1})
    text = comparison_markdown(collect_runs(tmp_path / "runs", DECODE, "test"), {})
    assert "nothing to compare yet" in text
    assert "| scratch | 1 | 40.0 | 50.0 |" in text


def test_a_run_without_scores_is_named(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "pretrained", 0, 30.0, 40.0, {1: 0.5})
    (runs / "scratch_seed0" / "asr_scratch_seed0").mkdir(parents=True)
    with pytest.raises(DataError, match=r"scratch_seed0/decode_valid.acc.best/test/scores.json.*no scores"):
        collect_runs(runs, DECODE, "test")


def test_a_corrupt_scores_file_is_named(tmp_path):
    exp = make_run(tmp_path / "runs", "scratch", 0, 30.0, 40.0, {1: 0.5})
    (exp / DECODE / "test" / "scores.json").write_text('{"task": "asr", "metrics": {"cer": 1.0}}')
    with pytest.raises(DataError, match=r"scores.json.*not a stage-10 scores.json"):
        collect_runs(tmp_path / "runs", DECODE, "test")


def test_cli_writes_report_and_plot(tmp_path, capsys):
    runs = tmp_path / "runs"
    make_run(runs, "pretrained", 0, 30.0, 40.0, {1: 0.5, 2: 0.6})
    make_run(runs, "scratch", 0, 40.0, 50.0, {1: 0.1, 2: 0.2})
    train_set = tmp_path / "train60"
    train_set.mkdir()
    (train_set / "text").write_text("u1 a b\nu2 c d\nu3 e\n")
    out, plot = tmp_path / "report" / "RESULTS.md", tmp_path / "report" / "valid_acc.png"
    finetune_report.main(["--runs_dir", str(runs), "--out", str(out), "--plot", str(plot),
                          "--train_set", str(train_set), "--pretrained_model", "pt.zip"])
    text = out.read_text()
    assert text == capsys.readouterr().out
    assert f"`{train_set}` (3 utterances)" in text and "`pt.zip`" in text
    assert "lowers the test CER on 1 of 1 seed(s)" in text
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_without_runs_fails_with_one_line(tmp_path):
    with pytest.raises(DataError, match="no <init>_seed<N> run folders"):
        finetune_report.main(["--runs_dir", str(tmp_path), "--out", str(tmp_path / "R.md")])
