"""split_scp.py and filter_scp.py."""

from __future__ import annotations

from datadir_maker import assert_one_line_error, read_lines, run_util, write_lines


def _scp(tmp_path, n=10):
    lines = [f"u{i:02d} /audio/u{i:02d}.wav" for i in range(n)]
    write_lines(tmp_path / "wav.scp", lines)
    return lines


def test_split_union_equals_input_in_order(tmp_path):
    lines = _scp(tmp_path, 10)
    pattern = str(tmp_path / "split3" / "wav.JOB.scp")
    proc = run_util("split_scp.py", "--num_splits", "3", "--out_pattern", pattern, str(tmp_path / "wav.scp"))
    assert proc.returncode == 0, proc.stderr
    parts = [read_lines(tmp_path / "split3" / f"wav.{i}.scp") for i in (1, 2, 3)]
    assert [len(p) for p in parts] == [4, 3, 3]
    assert sum(parts, []) == lines


def test_split_with_output_files_and_speakers(tmp_path):
    write_lines(tmp_path / "wav.scp", [f"{s}_{i} x" for s in "abc" for i in range(3)] + ["d_0 x"])
    write_lines(tmp_path / "utt2spk", [f"{s}_{i} {s}" for s in "abc" for i in range(3)] + ["d_0 d"])
    outs = [str(tmp_path / f"o{i}") for i in (1, 2)]
    proc = run_util("split_scp.py", "--utt2spk", str(tmp_path / "utt2spk"), str(tmp_path / "wav.scp"), *outs)
    assert proc.returncode == 0, proc.stderr
    first, second = read_lines(tmp_path / "o1"), read_lines(tmp_path / "o2")
    assert {line[0] for line in first}.isdisjoint({line[0] for line in second})
    assert first + second == read_lines(tmp_path / "wav.scp")


def test_split_too_few_lines(tmp_path):
    _scp(tmp_path, 3)
    scp = str(tmp_path / "wav.scp")
    proc = run_util("split_scp.py", "--num_splits", "4", "--out_pattern", str(tmp_path / "s.JOB"), scp)
    assert_one_line_error(proc, scp, "3 line(s), fewer than the 4 splits")
    assert not (tmp_path / "s.1").exists()


def test_filter_include_exclude_and_field(tmp_path):
    lines = _scp(tmp_path, 5)
    write_lines(tmp_path / "ids", ["u01 whatever", "u03", "zz"])
    scp = str(tmp_path / "wav.scp")
    proc = run_util("filter_scp.py", str(tmp_path / "ids"), scp)
    assert proc.stdout.splitlines() == [lines[1], lines[3]]
    proc = run_util("filter_scp.py", "--exclude", str(tmp_path / "ids"), scp)
    assert proc.stdout.splitlines() == [lines[0], lines[2], lines[4]]
    write_lines(tmp_path / "utt2spk", ["a1 u01", "b1 u02", "c1 u03"])
    proc = run_util("filter_scp.py", "--field", "2", str(tmp_path / "ids"), "-", stdin="a1 u01\nb1 u02\nc1 u03\n")
    assert proc.stdout.splitlines() == ["a1 u01", "c1 u03"]


def test_filter_missing_list(tmp_path):
    _scp(tmp_path, 2)
    proc = run_util("filter_scp.py", str(tmp_path / "nope"), str(tmp_path / "wav.scp"))
    assert_one_line_error(proc, str(tmp_path / "nope"), "does not exist")
