"""utils/run.py stops its jobs when it is killed with SIGTERM (a plain ``kill``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from repo_testing import REPO_ROOT


def test_sigterm_stops_the_jobs(tmp_path: Path):
    marker = tmp_path / "job.pid"
    runner = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "utils" / "run.py"), str(tmp_path / "job.log"),
         "bash", "-c", f"echo $$ > {marker}; exec sleep 60"],
    )
    deadline = time.time() + 20
    while not (marker.is_file() and marker.read_text().strip()) and time.time() < deadline:
        time.sleep(0.05)
    job = int(marker.read_text())
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=20) != 0
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(job, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(job, signal.SIGKILL)
        raise AssertionError("the job survived its runner")
