"""run.py (local jobs) and slurm.py (dry run, and a fake sbatch that runs the array here)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from datadir_maker import run_util

FAKE_SBATCH = """#!/usr/bin/env bash
# Stand-in for sbatch --parsable --wait: runs every array task of the script here, one after another.
script="${@: -1}"
echo "$*" >"$(dirname "$0")/sbatch_args"
range=$(sed -n 's/^#SBATCH --array=\\([0-9]*-[0-9]*\\).*/\\1/p' "$script")
status=0
for ((task=${range%-*}; task<=${range#*-}; task++)); do
    SLURM_ARRAY_TASK_ID=$task bash "$script" >/dev/null 2>&1 || status=1
done
echo 4242
exit $status
"""

PY_JOB = "import sys; n = int(sys.argv[1]); print('job', n, sys.argv[2:]); sys.exit(3 if n == 2 else 0)"


def test_run_substitutes_job_and_keeps_quoted_args(tmp_path):
    proc = run_util("run.py", "JOB=1:3", "log/x.JOB.log", "python", "-c", PY_JOB, "JOB", "b c", "out.JOB", cwd=tmp_path)
    assert proc.returncode == 1
    for n in (1, 3):
        text = (tmp_path / "log" / f"x.{n}.log").read_text()
        assert f"job {n} ['b c', 'out.{n}']" in text
        assert text.splitlines()[0].startswith("# python -c")
        assert re.search(r"# run.py: exit code 0, [0-9.]+ s elapsed", text)
    assert "exit code 3" in (tmp_path / "log" / "x.2.log").read_text()


def test_run_reports_failed_job_with_log_and_last_line(tmp_path):
    proc = run_util("run.py", "JOB=1:3", "log/x.JOB.log", "python", "-c", PY_JOB, "JOB", cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines == ["run.py: job 2 of 3 failed (exit 3); see log/x.2.log; last line: job 2 []"]


def test_run_pipes_single_job_and_no_spec(tmp_path):
    proc = run_util("run.py", "JOB=3", "log/p.JOB.log", "echo", "JOB", "|", "tr", "3", "X", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "\nX\n" in (tmp_path / "log" / "p.3.log").read_text()
    proc = run_util("run.py", "log/q.log", "echo hello | tr h H; exit 4", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "run.py: job failed (exit 4); see log/q.log; last line: Hello"


def test_run_runs_jobs_in_parallel(tmp_path):
    start = time.monotonic()
    proc = run_util("run.py", "--max_jobs_run", "4", "JOB=1:4", "log/s.JOB.log", "sleep", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start < 3.0
    assert len(list((tmp_path / "log").glob("s.*.log"))) == 4


def test_run_bad_spec_is_one_line(tmp_path):
    proc = run_util("run.py", "JOB=3:1", "log/x.JOB.log", "true", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("ERROR: run.py: bad job range 'JOB=3:1'")


def test_slurm_dry_run_writes_script(tmp_path):
    args = ["--gpu", "1", "--mem", "8G", "--time", "1:00:00", "--partition", "short", "--cpus_per_task", "2"]
    job = ["JOB=1:4", "exp/log/dump.JOB.log", "python", "-m", "x", "--in", "split/wav.JOB.scp", "--a", "b c"]
    proc = run_util("slurm.py", *args, "--dry_run", *job, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / "exp" / "log" / "q" / "dump.sh"
    assert "sbatch --parsable --wait exp/log/q/dump.sh" in proc.stdout
    text = script.read_text()
    for flag in (
        "#SBATCH --array=1-4",
        "#SBATCH --gres=gpu:1",
        "#SBATCH --mem=8G",
        "#SBATCH --time=1:00:00",
        "#SBATCH --partition=short",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --output=exp/log/q/dump.%a.out",
        "SLURM_ARRAY_TASK_ID",
        '"${command//JOB/${task}}"',
    ):
        assert flag in text, flag
    assert "split/wav.JOB.scp --a '\"'\"'b c'\"'\"'" in text
    # The env variable asks for a dry run as well.
    proc = run_util("slurm.py", *job, cwd=tmp_path, env={"SPEECHT5_SLURM_DRY_RUN": "1"})
    assert proc.returncode == 0 and "dry run" in proc.stdout


def _fake_sbatch(tmp_path: Path) -> dict:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(FAKE_SBATCH)
    (bin_dir / "sbatch").chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def test_slurm_fake_sbatch_runs_tasks_and_reports_failures(tmp_path):
    env = _fake_sbatch(tmp_path)
    proc = run_util("slurm.py", "JOB=1:3", "log/t.JOB.log", "python", "-c", PY_JOB, "JOB", "b c", cwd=tmp_path, env=env)
    assert proc.returncode == 1
    assert (tmp_path / "bin" / "sbatch_args").read_text().strip() == "--parsable --wait log/q/t.sh"
    for n in (1, 3):
        assert f"job {n} ['b c']" in (tmp_path / "log" / f"t.{n}.log").read_text()
        assert (tmp_path / "log" / "q" / f"t.{n}.rc").read_text().strip() == "0"
    failed = [line for line in proc.stderr.splitlines() if "failed" in line]
    assert failed == ["slurm.py: job 2 of 3 failed (exit 3); see log/t.2.log; last line: job 2 ['b c']"]


def test_slurm_fake_sbatch_success(tmp_path):
    env = _fake_sbatch(tmp_path)
    proc = run_util("slurm.py", "JOB=1:2", "log/ok.JOB.log", "echo", "task", "JOB", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "task 2" in (tmp_path / "log" / "ok.2.log").read_text()
    assert "Slurm job 4242" in proc.stderr
