"""utils/run.py stops its jobs when it is killed: with SIGTERM (a plain ``kill``), and with SIGKILL,
which it cannot catch (the jobs get SIGTERM from Linux as their parent dies)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from repo_testing import REPO_ROOT


def _wait_for_pid(marker: Path) -> int:
    deadline = time.time() + 20
    while not (marker.is_file() and marker.read_text().strip()) and time.time() < deadline:
        time.sleep(0.05)
    return int(marker.read_text())


def _assert_gone(job: int) -> None:
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with open(f"/proc/{job}/stat") as f:  # a zombie waiting for init counts as gone
                if f.read().split(") ", 1)[1].startswith("Z"):
                    break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        os.kill(job, signal.SIGKILL)
        raise AssertionError("the job survived its runner")


def test_sigterm_stops_the_jobs(tmp_path: Path):
    marker = tmp_path / "job.pid"
    runner = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "utils" / "run.py"), str(tmp_path / "job.log"),
         "bash", "-c", f"echo $$ > {marker}; exec sleep 60"],
    )
    job = _wait_for_pid(marker)
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=20) != 0
    _assert_gone(job)


def test_sigkill_of_the_runner_stops_a_python_job(tmp_path: Path):
    """The training job of stage 8 is one plain command: killing the runner with -9 must not orphan it."""
    marker = tmp_path / "job.pid"
    script = f"import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    runner = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "utils" / "run.py"), str(tmp_path / "job.log"), sys.executable, "-c", script],
    )
    job = _wait_for_pid(marker)
    runner.kill()
    runner.wait(timeout=20)
    _assert_gone(job)
