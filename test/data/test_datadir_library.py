"""Library-level tests: validate.py, datadir_ops.py, scp_tools.py and jobs.py without the CLIs."""

from __future__ import annotations

from pathlib import Path

import pytest

from espnet2_speecht5.data.datadir_ops import combine_data, detect_task, fix_data_dir, spk2utt_to_utt2spk
from espnet2_speecht5.data.scp_tools import contiguous_chunks, split_scp
from espnet2_speecht5.data.validate import validate_data_dir
from espnet2_speecht5.recipes import get_recipe
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.jobs import SlurmOptions, parse_job_args, plan_slurm, shell_command

SID_FILES = get_recipe("sid").required_files


def _write(path: Path, lines) -> None:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def _sid_dir(root: Path, utts=("s1_a", "s1_b", "s2_a")) -> Path:
    """A sid data directory (no audio needed unless check_audio)."""
    root.mkdir(parents=True)
    _write(root / "wav.scp", [f"{u} /nowhere/{u}.wav" for u in utts])
    _write(root / "utt2spk", [f"{u} {u.split('_')[0]}" for u in utts])
    spk: dict = {}
    for u in utts:
        spk.setdefault(u.split("_")[0], []).append(u)
    _write(root / "spk2utt", [f"{s} {' '.join(us)}" for s, us in spk.items()])
    return root


def test_validate_report_counts(tmp_path):
    report = validate_data_dir(_sid_dir(tmp_path / "d"), "sid", SID_FILES)
    assert (report.num_utterances, report.num_speakers) == (3, 2)
    assert report.summary() == f"validate_data_dir.py: {tmp_path / 'd'}: ok (task sid, 3 utterances, 2 speakers)"


def test_validate_raises_structured_error(tmp_path):
    data = _sid_dir(tmp_path / "d")
    with pytest.raises(DataError) as info:
        validate_data_dir(data, "sid", SID_FILES, check_audio=True)
    assert (info.value.path, info.value.line, info.value.utt) == (str(data / "wav.scp"), 1, "s1_a")
    with pytest.raises(DataError, match="required file for task asr does not exist") as info:
        validate_data_dir(data, "asr", get_recipe("asr").required_files)
    assert info.value.path == str(data / "text")


def test_validate_bad_num_samples(tmp_path):
    data = _sid_dir(tmp_path / "d")
    _write(data / "utt2num_samples", ["s1_a 100", "s1_b -3", "s2_a 5"])
    with pytest.raises(DataError, match="not a positive integer") as info:
        validate_data_dir(data, "sid", SID_FILES)
    assert (info.value.line, info.value.utt) == (2, "s1_b")


def test_fix_detects_task_and_keeps_valid_dir(tmp_path):
    data = _sid_dir(tmp_path / "d")
    assert detect_task(data) == "sid"
    report = fix_data_dir(data, "sid", SID_FILES)
    assert report.removed == {} and report.kept == 3
    assert (data / ".backup" / "removed.txt").read_text() == ""


def test_combine_leaves_out_partial_files(tmp_path):
    a = _sid_dir(tmp_path / "a", ("s1_a",))
    b = _sid_dir(tmp_path / "b", ("s1_b", "s2_a"))
    _write(a / "text", ["s1_a hi"])
    written, left_out, count = combine_data(tmp_path / "out", [a, b])
    assert left_out == ["text"] and count == 3 and "spk2utt" in written
    assert (tmp_path / "out" / "spk2utt").read_text() == "s1 s1_a s1_b\ns2 s2_a\n"


def test_spk2utt_to_utt2spk_sorted():
    assert list(spk2utt_to_utt2spk({"b": ["b_1"], "a": ["a_2", "a_1"]}).items()) == [
        ("a_1", "a"),
        ("a_2", "a"),
        ("b_1", "b"),
    ]


def test_contiguous_chunks_cover_everything():
    for count in range(1, 12):
        for parts in range(1, count + 1):
            bounds = contiguous_chunks(count, parts)
            assert bounds[0][0] == 0 and bounds[-1][1] == count
            assert all(end > start for start, end in bounds)
            assert all(bounds[i][1] == bounds[i + 1][0] for i in range(parts - 1))


def test_split_scp_speaker_runs_too_few(tmp_path):
    _write(tmp_path / "wav.scp", ["a_1 x", "a_2 x"])
    _write(tmp_path / "utt2spk", ["a_1 a", "a_2 a"])
    with pytest.raises(DataError, match="1 speaker run"):
        split_scp(tmp_path / "wav.scp", [tmp_path / "o1", tmp_path / "o2"], tmp_path / "utt2spk")


def test_parse_job_args_and_shell_command():
    request = parse_job_args(["SPLIT=2:5", "log/a.SPLIT.log", "echo", "SPLIT"], "run.py")
    assert request.jobs.ids == [2, 3, 4, 5] and request.jobs.label(3) == "job 3 of 5"
    assert request.jobs.substitute(request.log, 4) == "log/a.4.log"
    single = parse_job_args(["JOB=7", "log/a.log", "true"], "run.py")
    assert single.jobs.ids == [7] and single.jobs.label(7) == "job 7"
    none = parse_job_args(["log/a.log", "true"], "run.py")
    assert none.jobs.var is None and none.jobs.label(1) == "job"
    with pytest.raises(DataError):
        parse_job_args(["JOB=1:2", "log/a.log"], "run.py")
    assert shell_command(["python", "-m", "x", "--a", "b c", "|", "gzip", ">", "o.gz"]) == (
        "python -m x --a 'b c' | gzip > o.gz"
    )
    assert shell_command(["echo a | tr a b"]) == "echo a | tr a b"


def test_plan_slurm_without_spec_and_job_limit(tmp_path):
    plan = plan_slurm(parse_job_args(["log/one.log", "true"], "slurm.py"), SlurmOptions(max_jobs_run=2), tmp_path)
    assert "#SBATCH --array=1-1%2" in plan.script_text
    assert "//JOB/" not in plan.script_text.split("marker=")[0]
    assert plan.markers == [Path("log/q/one.1.rc")]
