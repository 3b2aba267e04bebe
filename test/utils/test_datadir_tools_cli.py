"""fix_data_dir.py, combine_data.py, copy_data_dir.py, subset_data_dir.py and the speaker-map converters."""

from __future__ import annotations

import pytest
from datadir_maker import assert_one_line_error, make_data_dir, read_lines, run_util, write_lines


def _ok(proc):
    assert proc.returncode == 0, proc.stderr
    return proc


def _validate(data, task="asr"):
    return _ok(run_util("validate_data_dir.py", "--task", task, str(data)))


def test_fix_data_dir_removes_and_records(tmp_path):
    data = make_data_dir(tmp_path, audio=False)
    text = read_lines(data / "text")
    write_lines(data / "text", [text[2], text[0], "spkA_001", *text[3:]])  # unsorted, one empty transcript
    utt2spk = read_lines(data / "utt2spk")
    write_lines(data / "utt2spk", utt2spk[:-1] + ["spkC_000 spkC"])  # spkB_002 missing, an extra utterance
    proc = _ok(run_util("fix_data_dir.py", str(data)))
    assert "removed 3 of 7 utterances" in proc.stdout and "4 left" in proc.stdout
    removed = dict(line.split(" ", 1) for line in read_lines(data / ".backup" / "removed.txt"))
    assert set(removed) == {"spkA_001", "spkB_002", "spkC_000"}
    assert "empty value in text" in removed["spkA_001"]
    assert "missing from utt2spk" in removed["spkB_002"]
    assert "missing from wav.scp, text" in removed["spkC_000"]
    assert read_lines(data / ".backup" / "utt2spk")[-1] == "spkC_000 spkC"
    assert read_lines(data / "spk2utt") == ["spkA spkA_000 spkA_002", "spkB spkB_000 spkB_001"]
    _validate(data)


def test_fix_data_dir_missing_required_file(tmp_path):
    data = make_data_dir(tmp_path, audio=False)
    (data / "text").unlink()
    assert_one_line_error(run_util("fix_data_dir.py", "--task", "tts", str(data)), str(data / "text"), "task tts")


def test_combine_data(tmp_path):
    a = make_data_dir(tmp_path, "a", speakers=("spkA",), audio=False)
    b = make_data_dir(tmp_path, "b", speakers=("spkB",), audio=False)
    out = tmp_path / "all"
    _ok(run_util("combine_data.py", str(out), str(a), str(b)))
    assert read_lines(out / "wav.scp") == read_lines(a / "wav.scp") + read_lines(b / "wav.scp")
    _validate(out)


def test_combine_data_duplicate_id_names_both_sources(tmp_path):
    a = make_data_dir(tmp_path, "a", speakers=("spkA",), audio=False)
    b = make_data_dir(tmp_path, "b", speakers=("spkA", "spkB"), audio=False)
    proc = run_util("combine_data.py", str(tmp_path / "all"), str(a), str(b))
    assert_one_line_error(proc, "'spkA_000'", f"{a / 'wav.scp'}:1", f"{b / 'wav.scp'}:1", "duplicate")


def test_copy_data_dir_prefixes(tmp_path):
    src = make_data_dir(tmp_path, "src", task="vc", audio=False)
    dst = tmp_path / "dst"
    _ok(run_util("copy_data_dir.py", "--utt_prefix", "sp0.9-", "--spk_prefix", "sp0.9-", str(src), str(dst)))
    assert read_lines(dst / "utt2spk")[0] == "sp0.9-spkA_000 sp0.9-spkA"
    assert read_lines(dst / "spk2utt")[0] == "sp0.9-spkA sp0.9-spkA_000 sp0.9-spkA_001 sp0.9-spkA_002"
    for name in ("wav.scp", "wav_tgt.scp", "utt2spk_tgt"):
        assert all(line.startswith("sp0.9-") for line in read_lines(dst / name)), name
    assert read_lines(dst / "utt2spk_tgt")[0] == "sp0.9-spkA_000 tgtspk"
    _validate(dst, "vc")


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--first", "2"], ["spkA_000", "spkA_001"]),
        (["--last", "1"], ["spkB_002"]),
        (["--spk_list", "SPK"], ["spkB_000", "spkB_001", "spkB_002"]),
        (["--utt_list", "UTT"], ["spkA_002", "spkB_001"]),
    ],
)
def test_subset_modes(tmp_path, args, expected):
    src = make_data_dir(tmp_path, "src", audio=False)
    write_lines(tmp_path / "spk", ["spkB"])
    write_lines(tmp_path / "utt", ["spkB_001", "spkA_002"])
    args = [str(tmp_path / "spk") if a == "SPK" else str(tmp_path / "utt") if a == "UTT" else a for a in args]
    dst = tmp_path / "dst"
    _ok(run_util("subset_data_dir.py", *args, str(src), str(dst)))
    assert [line.split()[0] for line in read_lines(dst / "text")] == expected
    _validate(dst)


def test_subset_random_is_seeded(tmp_path):
    src = make_data_dir(tmp_path, "src", audio=False)
    picks = []
    for name in ("r1", "r2"):
        _ok(run_util("subset_data_dir.py", "--random", "3", "--seed", "7", str(src), str(tmp_path / name)))
        picks.append(read_lines(tmp_path / name / "wav.scp"))
    assert picks[0] == picks[1] and len(picks[0]) == 3
    assert picks[0] == sorted(picks[0])


def test_subset_errors(tmp_path):
    src = make_data_dir(tmp_path, "src", audio=False)
    assert_one_line_error(run_util("subset_data_dir.py", "--first", "9", str(src), str(tmp_path / "d")), "9 of 6")
    write_lines(tmp_path / "utt", ["spkA_000", "nobody_1"])
    proc = run_util("subset_data_dir.py", "--utt_list", str(tmp_path / "utt"), str(src), str(tmp_path / "d"))
    assert_one_line_error(proc, f"{tmp_path / 'utt'}:2", "'nobody_1'")


def test_speaker_map_converters(tmp_path):
    utt2spk = "a_1 a\nb_1 b\na_2 a\n"
    proc = _ok(run_util("utt2spk_to_spk2utt.py", stdin=utt2spk))
    assert proc.stdout == "a a_1 a_2\nb b_1\n"
    write_lines(tmp_path / "spk2utt", ["a a_1 a_2", "b b_1"])
    _ok(run_util("spk2utt_to_utt2spk.py", str(tmp_path / "spk2utt"), str(tmp_path / "utt2spk")))
    assert read_lines(tmp_path / "utt2spk") == ["a_1 a", "a_2 a", "b_1 b"]
    proc = run_util("spk2utt_to_utt2spk.py", stdin="a a_1\nb a_1\n")
    assert_one_line_error(proc, "'a_1'", "speakers 'a' and 'b'")
