"""validate_data_dir.py: one test per defect it must catch, plus the success summaries."""

from __future__ import annotations

from pathlib import Path

import pytest
from datadir_maker import assert_one_line_error, make_data_dir, read_lines, run_util, write_lines, write_wav

UTT = "spkA_001"  # the second line of every per-utterance file


def validate(data: Path, task: str = "asr", *extra: str):
    return run_util("validate_data_dir.py", "--task", task, *extra, str(data))


def wav_of(data: Path, utt: str, scp: str = "wav.scp") -> Path:
    for line in read_lines(data / scp):
        key, value = line.split(maxsplit=1)
        if key == utt:
            return Path(value)
    raise KeyError(utt)


def test_valid_dir_prints_summary(tmp_path):
    data = make_data_dir(tmp_path, audio=False)
    proc = validate(data)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"validate_data_dir.py: {data}: ok (task asr, 6 utterances, 2 speakers)"


@pytest.mark.parametrize("task", ["st", "vc", "se", "sid"])
def test_valid_dir_other_tasks(tmp_path, task):
    data = make_data_dir(tmp_path, task=task)
    proc = validate(data, task, "--check_audio")
    assert proc.returncode == 0, proc.stderr
    assert f"ok (task {task}, 6 utterances, 2 speakers)" in proc.stdout


def test_check_audio_reports_rate_and_channels(tmp_path):
    data = make_data_dir(tmp_path)
    write_wav(wav_of(data, "spkA_000"), rate=8000)
    write_wav(wav_of(data, "spkB_002"), channels=2)
    proc = validate(data, "asr", "--check_audio")
    assert proc.returncode == 0, proc.stderr
    audio_line = proc.stdout.strip().splitlines()[1]
    assert "6 file(s) decoded" in audio_line
    assert "1 with sample rate != 16000 Hz (1 at 8000 Hz)" in audio_line
    assert "1 multi-channel" in audio_line


def test_unknown_task(tmp_path):
    data = make_data_dir(tmp_path, audio=False)
    assert_one_line_error(validate(data, "asrx"), "unknown task 'asrx'")


def test_missing_required_file(tmp_path):
    data = make_data_dir(tmp_path, audio=False)
    (data / "text").unlink()
    assert_one_line_error(validate(data), f"{data / 'text'}", "required file for task asr")


def test_missing_required_file_st(tmp_path):
    data = make_data_dir(tmp_path, task="asr", audio=False)
    assert_one_line_error(validate(data, "st"), f"{data / 'text.tgt'}", "task st")


def test_missing_audio_file(tmp_path):
    data = make_data_dir(tmp_path)
    wav = wav_of(data, UTT)
    wav.unlink()
    line = assert_one_line_error(validate(data, "asr", "--check_audio"), f"{data / 'wav.scp'}:2", f"'{UTT}'", str(wav))
    assert "does not exist" in line


def test_missing_target_audio_file(tmp_path):
    data = make_data_dir(tmp_path, task="se")
    wav = wav_of(data, UTT, "wav_clean.scp")
    wav.unlink()
    assert_one_line_error(validate(data, "se", "--check_audio"), f"{data / 'wav_clean.scp'}:2", f"'{UTT}'", str(wav))


def test_corrupt_audio(tmp_path):
    data = make_data_dir(tmp_path)
    wav = wav_of(data, UTT)
    wav.write_bytes(b"RIFF this is not really a wav file at all" * 10)
    line = assert_one_line_error(validate(data, "asr", "--check_audio"), f"{data / 'wav.scp'}:2", f"'{UTT}'", str(wav))
    assert "cannot be decoded" in line


def test_empty_audio_file(tmp_path):
    data = make_data_dir(tmp_path)
    wav = wav_of(data, UTT)
    wav.write_bytes(b"")
    line = assert_one_line_error(validate(data, "asr", "--check_audio"), f"{data / 'wav.scp'}:2", f"'{UTT}'", str(wav))
    assert "empty" in line


def test_audio_without_samples(tmp_path):
    data = make_data_dir(tmp_path)
    wav = write_wav(wav_of(data, UTT), seconds=0)
    line = assert_one_line_error(validate(data, "asr", "--check_audio"), f"{data / 'wav.scp'}:2", f"'{UTT}'", str(wav))
    assert "no samples" in line


def test_failing_pipe_entry(tmp_path):
    data = make_data_dir(tmp_path)
    lines = read_lines(data / "wav.scp")
    lines[1] = f"{UTT} cat /nonexistent/x.wav |"
    write_lines(data / "wav.scp", lines)
    line = assert_one_line_error(validate(data, "asr", "--check_audio"), f"{data / 'wav.scp'}:2", f"'{UTT}'")
    assert "command failed" in line


def test_working_pipe_entry(tmp_path):
    data = make_data_dir(tmp_path)
    lines = read_lines(data / "wav.scp")
    lines[1] = f"{UTT} cat {wav_of(data, UTT)} |"
    write_lines(data / "wav.scp", lines)
    assert validate(data, "asr", "--check_audio").returncode == 0


def test_empty_transcript(tmp_path):
    data = make_data_dir(tmp_path, audio=False)
    lines = read_lines(data / "text")
    lines[1] = UTT
    write_lines(data / "text", lines)
    assert_one_line_error(validate(data), f"{data / 'text'}:2", f"'{UTT}'", "empty transcript")


def test_duplicate_id(tmp_path):
    data = make_data_dir(tmp_path, audio=False)
    lines = read_lines(data / "wav.scp")
    lines.insert(2, lines[1])
    write_lines(data / "wav.scp", lines)
    assert_one_line_error(validate(data), f"{data / 'wav.scp'}:3", f"'{UTT}'", "duplicate id (first at line 2)")


def test_unsorted_file(tmp_path):
    data = make_data_dir(tmp_path, audio=False)
    lines = read_lines(data / "utt2spk")
    lines[1], lines[2] = lines[2], lines[1]
    write_lines(data / "utt2spk", lines)
    assert_one_line_error(validate(data), f"{data / 'utt2spk'}:3", f"'{UTT}'", "not sorted")


def test_utterance_missing_from_one_file(tmp_path):
    data = make_data_dir(tmp_path, audio=False)
    lines = read_lines(data / "text")
    del lines[1]
    write_lines(data / "text", lines)
    line = assert_one_line_error(validate(data), f"{data / 'text'}", f"'{UTT}'", f"{data / 'wav.scp'}:2")
    assert "not in this file" in line


def test_utterance_missing_from_wav_scp(tmp_path):
    data = make_data_dir(tmp_path, audio=False)
    lines = read_lines(data / "utt2spk")
    lines.append("spkC_000 spkC")
    write_lines(data / "utt2spk", lines)
    assert_one_line_error(validate(data), f"{data / 'wav.scp'}", "'spkC_000'", f"{data / 'utt2spk'}:7")


def test_non_utf8_transcript(tmp_path):
    data = make_data_dir(tmp_path, audio=False)
    raw = (data / "text").read_bytes().split(b"\n")
    raw[1] = UTT.encode() + b" caf\xe9 latin-1"
    (data / "text").write_bytes(b"\n".join(raw))
    assert_one_line_error(validate(data), f"{data / 'text'}:2", f"'{UTT}'", "not valid UTF-8")


def test_spk2utt_disagrees_with_utt2spk(tmp_path):
    data = make_data_dir(tmp_path, audio=False)
    write_lines(data / "spk2utt", ["spkA spkA_000 spkA_002", f"spkB {UTT} spkB_000 spkB_001 spkB_002"])
    line = assert_one_line_error(validate(data), f"{data / 'spk2utt'}:2", f"'{UTT}'", "speaker 'spkB'")
    assert f"{data / 'utt2spk'}:2" in line


def test_utt2spk_utterance_not_in_spk2utt(tmp_path):
    data = make_data_dir(tmp_path, audio=False)
    write_lines(data / "spk2utt", ["spkA spkA_000 spkA_002", "spkB spkB_000 spkB_001 spkB_002"])
    assert_one_line_error(validate(data), f"{data / 'utt2spk'}:2", f"'{UTT}'", f"{data / 'spk2utt'}")
