#!/usr/bin/env python3
"""Run a command as a Slurm array job and wait for it (the recipe's ``${train_cmd}`` on a cluster).

Usage:
    slurm.py [--gpu N] [--mem M] [--time T] [--partition P] [--cpus_per_task C]
             [--max_jobs_run K] [--dry_run] JOB=1:N log/name.JOB.log command args ... JOB ...
    slurm.py --nodes N [--gpu G | --ranks_per_node R] [...] [--dry_run] log/train.log training command ...

The sbatch script goes to ``<log dir>/q/<name>.sh``; array task ``i`` runs the command with
JOB replaced by ``i`` (from ``$SLURM_ARRAY_TASK_ID``), writes its log like ``run.py`` does and
leaves its exit code in ``<log dir>/q/<name>.i.rc``.  ``sbatch --parsable --wait`` blocks until
every task ended; failed tasks are then reported one line each, and the exit status is 1.
``--dry_run`` (or SPEECHT5_SLURM_DRY_RUN=1) writes the script and prints the sbatch command
without submitting.

``--nodes N`` (N >= 2) runs one data-parallel training job instead: ``--nodes=N
--ntasks-per-node=1`` (``--gres=gpu:G`` with ``--gpu G``), one srun task per node, each running
``espnet2_speecht5.bin.ddp_launch --slurm`` with G GPU ranks (or ``--ranks_per_node R`` CPU
ranks over gloo) of the ESPnet training command; see espnet2_speecht5/distributed/slurm_job.py.
Its dry run also prints the script and, for each of the N x G ranks, the environment that
ddp_launch computes on its node (node rank, local rank, rank, world size, master address and
port, CUDA_VISIBLE_DEVICES).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from espnet2_speecht5.distributed.slurm_job import dry_run_text, plan_ddp_job, submit_ddp_job  # noqa: E402
from espnet2_speecht5.runtime.cli import run_cli  # noqa: E402
from espnet2_speecht5.runtime.jobs import (  # noqa: E402
    JobRequest,
    SlurmOptions,
    failure_line,
    int_option,
    parse_job_args,
    plan_slurm,
    split_options,
    submit_slurm,
    write_slurm_script,
)

PROG = "slurm.py"
VALUED = ("gpu", "mem", "time", "partition", "cpus_per_task", "max_jobs_run", "nodes", "ranks_per_node")


def run_ddp(request: JobRequest, slurm: SlurmOptions, options: dict, dry_run: bool) -> int:
    """``--nodes N``: one multi-node training job (dry run: print it with every rank's environment)."""
    nodes = int_option(options, "nodes", PROG, minimum=2) or 0
    ranks = slurm.gpu or int_option(options, "ranks_per_node", PROG, minimum=1) or 1
    plan = plan_ddp_job(request, slurm, nodes, ranks)
    if dry_run:
        write_slurm_script(plan)
        print(dry_run_text(plan, request, nodes, ranks, slurm.gpu), end="")
        return 0
    results = submit_ddp_job(plan, request, report=lambda line: print(line, file=sys.stderr))
    for result in results:
        if result.failed:
            print(failure_line(PROG, result), file=sys.stderr)
    return 1 if any(r.failed for r in results) else 0


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    options, rest = split_options(argv, valued=VALUED, flags=("dry_run", "help"), prog=PROG)
    if "help" in options:
        print(__doc__)
        return 0
    slurm = SlurmOptions(
        gpu=int_option(options, "gpu", PROG) or 0,
        mem=options.get("mem") or None,
        time=options.get("time") or None,
        partition=options.get("partition") or None,
        cpus_per_task=int_option(options, "cpus_per_task", PROG, minimum=1),
        max_jobs_run=int_option(options, "max_jobs_run", PROG, minimum=1),
    )
    request = parse_job_args(rest, PROG)
    dry_run = "dry_run" in options or os.environ.get("SPEECHT5_SLURM_DRY_RUN", "") not in ("", "0")
    if "nodes" in options:
        return run_ddp(request, slurm, options, dry_run)
    if dry_run:
        plan = plan_slurm(request, slurm)
        write_slurm_script(plan)
        print(f"{PROG}: dry run: script {plan.script}")
        print(" ".join(shlex.quote(a) for a in plan.sbatch))
        return 0
    results = submit_slurm(request, slurm, report=lambda line: print(line, file=sys.stderr))
    failed = [r for r in results if r.failed]
    for result in failed:
        print(failure_line(PROG, result), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
