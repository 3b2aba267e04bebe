#!/usr/bin/env python3
"""Run a command as parallel jobs on this machine (the recipe's local ``${train_cmd}``).

Usage:
    run.py [--max_jobs_run K] JOB=1:N log/name.JOB.log command args ... JOB ...
    run.py [--max_jobs_run K] JOB=3 log/name.JOB.log command ...
    run.py log/name.log command ...

JOB in the log path and the arguments becomes the job number.  Each job's stdout and stderr
go to its log, between a header (the command) and a footer (exit code, elapsed time).  At most
K jobs (default: the number of CPUs) run at once.  Exit status 1 when any job failed, with one
line per failed job on stderr.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from espnet2_speecht5.runtime.cli import run_cli  # noqa: E402
from espnet2_speecht5.runtime.jobs import failure_line, int_option, parse_job_args, run_local, split_options  # noqa: E402

PROG = "run.py"


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # A plain kill (SIGTERM) must stop the jobs too: turn it into SystemExit, which the runner
    # answers by terminating the jobs' process groups (they run in sessions of their own).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    options, rest = split_options(argv, valued=("max_jobs_run",), flags=("help",), prog=PROG)
    if "help" in options:
        print(__doc__)
        return 0
    max_jobs = int_option(options, "max_jobs_run", PROG, minimum=1)
    request = parse_job_args(rest, PROG)
    results = run_local(request, max_jobs, PROG)
    failed = [r for r in results if r.failed]
    for result in failed:
        print(failure_line(PROG, result), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
