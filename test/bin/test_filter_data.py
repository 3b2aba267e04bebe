"""Stage 4: ``espnet2_speecht5.bin.filter_data``."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

from bin_helpers import assert_one_line_error, read_kaldi, run_cli


def write_dumped_dir(root: Path, lengths: Dict[str, int], text: Dict[str, str]) -> Path:
    """A stage-3-like directory: wav.scp (paths need not exist), utt2num_samples, text, utt2spk."""
    data = root / "org"
    data.mkdir()
    utts = sorted(lengths)
    (data / "wav.scp").write_text("".join(f"{u} /nowhere/{u}.flac\n" for u in utts))
    (data / "utt2num_samples").write_text("".join(f"{u} {lengths[u]}\n" for u in utts))
    (data / "utt2spk").write_text("".join(f"{u} {u.split('_')[0]}\n" for u in utts))
    (data / "text").write_text("".join(f"{u} {text[u]}\n" if text[u] else f"{u}\n" for u in sorted(text)))
    return data


def filter_args(src: Path, dst: Path, filter_duration: str = "true", text_files: str = "text"):
    return [
        "--fs", "16000", "--min_duration", "0.1", "--max_duration", "20",
        "--filter_duration", filter_duration, "--text_files", text_files, str(src), str(dst),
    ]  # fmt: skip


LENGTHS = {
    "spka_001": 16000,
    "spka_002": 16000,
    "spka_003": 16000,
    "spkb_001": 800,  # 0.05 s
    "spkb_002": 16000 * 21,
    "spkb_003": 16000,
    "spkc_001": 24000,
}
TEXT = {
    "spka_001": "hello world",
    "spka_002": "",
    "spka_003": " \t ",
    "spkb_001": "short",
    "spkb_002": "long",
    "spkc_001": "fine",
}  # spkb_003 has no line in text


def test_drops_and_reports_every_utterance(tmp_path: Path):
    src = write_dumped_dir(tmp_path, LENGTHS, TEXT)
    dst = tmp_path / "out"
    proc = run_cli("filter_data", *filter_args(src, dst))
    assert proc.returncode == 0, proc.stderr
    assert f"filter_data: {src} -> {dst}: kept 2 of 7 (5 dropped; see {dst / 'filter_report.txt'})" in proc.stdout
    for name in ("wav.scp", "utt2num_samples", "utt2spk", "text"):
        assert list(read_kaldi(dst / name)) == ["spka_001", "spkc_001"], name
    assert read_kaldi(dst / "spk2utt") == {"spka": "spka_001", "spkc": "spkc_001"}
    assert read_kaldi(dst / "wav.scp")["spka_001"] == "/nowhere/spka_001.flac"
    report = read_kaldi(dst / "filter_report.txt")
    assert report["spka_002"] == "empty text in text"
    assert report["spka_003"] == "empty text in text"
    assert report["spkb_001"] == "too short: 0.05 s < 0.1 s"
    assert report["spkb_002"] == "too long: 21 s > 20 s"
    assert report["spkb_003"] == "no line in text"


def test_without_duration_filter_keeps_short_and_long(tmp_path: Path):
    src = write_dumped_dir(tmp_path, LENGTHS, TEXT)
    dst = tmp_path / "out"
    proc = run_cli("filter_data", *filter_args(src, dst, filter_duration="false"))
    assert proc.returncode == 0, proc.stderr
    assert list(read_kaldi(dst / "wav.scp")) == ["spka_001", "spkb_001", "spkb_002", "spkc_001"]


def test_without_text_files_keeps_text_only_when_complete(tmp_path: Path):
    text = {u: "words" for u in LENGTHS}
    src = write_dumped_dir(tmp_path, LENGTHS, text)
    dst = tmp_path / "out"
    proc = run_cli("filter_data", *filter_args(src, dst, text_files=""))
    assert proc.returncode == 0, proc.stderr
    assert "kept 5 of 7" in proc.stdout


def test_everything_dropped_is_an_error(tmp_path: Path):
    src = write_dumped_dir(tmp_path, {"spka_001": 100, "spka_002": 200}, {"spka_001": "a", "spka_002": "b"})
    dst = tmp_path / "out"
    assert_one_line_error(run_cli("filter_data", *filter_args(src, dst)), "all 2 utterances were dropped", str(src))
    assert "too short" in (dst / "filter_report.txt").read_text()


def test_missing_text_file_is_an_error(tmp_path: Path):
    src = write_dumped_dir(tmp_path, {"spka_001": 16000}, {"spka_001": "a"})
    proc = run_cli("filter_data", *filter_args(src, tmp_path / "out", text_files="text text.tgt"))
    assert_one_line_error(proc, "text file text.tgt is missing", str(src))


def test_bad_length_names_file_line_and_utterance(tmp_path: Path):
    src = write_dumped_dir(tmp_path, {"spka_001": 16000, "spka_002": 16000}, {"spka_001": "a", "spka_002": "b"})
    (src / "utt2num_samples").write_text("spka_001 16000\nspka_002 lots\n")
    proc = run_cli("filter_data", *filter_args(src, tmp_path / "out"))
    assert_one_line_error(proc, f"{src / 'utt2num_samples'}:2: utterance 'spka_002'", "not an integer")
