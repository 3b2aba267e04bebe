"""The Slurm job of a multi-node data-parallel training run (``utils/slurm.py --nodes N``).

One sbatch job: ``--nodes=N --ntasks-per-node=1`` (and ``--gres=gpu:G`` for G GPUs per node).
Its script runs one srun step with one task per node; each task is
``python -m espnet2_speecht5.bin.ddp_launch --slurm``, which starts that node's ranks with the
environments of :func:`espnet2_speecht5.distributed.ranks.slurm_node` and
:func:`~espnet2_speecht5.distributed.ranks.rank_envs`. ``--kill-on-bad-exit=1`` ends the other
nodes' tasks when one node's launcher fails.

The dry run (:func:`dry_run_text`) prints the script and, for every node, the environment of
each rank, computed by those same two functions from the variables srun would set on that node
(with a placeholder job id and node list).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from espnet2_speecht5.distributed.ranks import espnet_rank_args, rank_envs, slurm_node
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.jobs import (
    JobRequest,
    JobResult,
    SlurmOptions,
    SlurmPlan,
    collect_slurm_results,
    shell_command,
    write_slurm_script,
)

LAUNCHER = ["python", "-m", "espnet2_speecht5.bin.ddp_launch"]
DRY_RUN_JOB_ID = "4242"  # placeholders for the dry run: what sbatch would assign
PREFIX = "slurm.py"


def dry_run_nodelist(nodes: int) -> str:
    """A Slurm-style node list of ``nodes`` placeholder hosts: ``node[01-02]``."""
    return "node01" if nodes == 1 else f"node[01-{nodes:02d}]"


def ddp_task_command(command: Sequence[str], ranks_per_node: int, device: str) -> List[str]:
    """What each node's Slurm task runs: the launcher, then the training command."""
    return [*LAUNCHER, "--slurm", "--nproc_per_node", str(ranks_per_node), "--device", device, "--", *command]


def plan_ddp_job(
    request: JobRequest, options: SlurmOptions, nodes: int, ranks_per_node: int, cwd: Optional[Path] = None
) -> SlurmPlan:
    """The sbatch script of one training run on ``nodes`` nodes (``options.gpu`` GPUs each, or CPU ranks).

    Raises:
        DataError: a ``JOB=`` range (a training run is one job) or fewer than 2 nodes.
    """
    if request.jobs.var is not None:
        raise DataError(f"{PREFIX}: --nodes runs one training job; drop '{request.jobs.var}=...'")
    if nodes < 2:
        raise DataError(f"{PREFIX}: --nodes must be at least 2 (one node: use run.py with ddp_launch)")
    device = "gpu" if options.gpu else "cpu"
    cwd = Path(cwd or os.getcwd()).resolve()
    log = Path(request.log)
    qdir = log.parent / "q"
    name = log.name[: -len(".log")] if log.name.endswith(".log") else log.name
    script, marker, output = qdir / f"{name}.sh", qdir / f"{name}.rc", qdir / f"{name}.out"
    lines = [
        "#!/usr/bin/env bash",
        f"# Written by slurm.py at {datetime.now():%Y-%m-%d %H:%M:%S}: data-parallel training on {nodes} nodes,",
        f"# one Slurm task per node, each starting {ranks_per_node} {device.upper()} rank(s) with ddp_launch.",
        f"#SBATCH --job-name={name}",
        f"#SBATCH --nodes={nodes}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --output={output}",
        f"#SBATCH --chdir={cwd}",
    ]
    if options.gpu:
        lines.append(f"#SBATCH --gres=gpu:{options.gpu}")
    for flag, value in (("mem", options.mem), ("time", options.time), ("partition", options.partition)):
        if value:
            lines.append(f"#SBATCH --{flag}={value}")
    if options.cpus_per_task:
        lines.append(f"#SBATCH --cpus-per-task={options.cpus_per_task}")
    command = shell_command(request.command)
    task = shell_command(ddp_task_command(request.command, ranks_per_node, device))
    lines += [
        "",
        "set -u",
        f"log={shlex.quote(str(log))}",
        f"marker={shlex.quote(str(marker))}",
        'mkdir -p "$(dirname "${log}")"',
        'rm -f "${marker}"',
        "start=$(date +%s)",
        "{",
        f"    printf '# %s\\n' {shlex.quote(command)}",
        "    printf '# slurm.py: job %s on %s started at %s\\n' "
        '"${SLURM_JOB_ID:-?}" "${SLURM_JOB_NODELIST:-?}" "$(date \'+%Y-%m-%d %H:%M:%S\')"',
        '} >"${log}"',
        f'srun --nodes={nodes} --ntasks-per-node=1 --kill-on-bad-exit=1 {task} >>"${{log}}" 2>&1',
        "rc=$?",
        "printf '# slurm.py: exit code %s, %s s elapsed, ended at %s\\n' "
        '"${rc}" "$(( $(date +%s) - start ))" "$(date \'+%Y-%m-%d %H:%M:%S\')" >>"${log}"',
        'echo "${rc}" >"${marker}"',
        'exit "${rc}"',
        "",
    ]
    return SlurmPlan(script, "\n".join(lines), [marker], [output], ["sbatch", "--parsable", "--wait", str(script)])


def simulated_slurm_environ(nodes: int, node_rank: int, gpus_per_node: int) -> Dict[str, str]:
    """The variables srun sets in the task on node ``node_rank`` of the job above (placeholders for ids and hosts)."""
    nodelist = dry_run_nodelist(nodes)
    env = {
        "SLURM_JOB_ID": DRY_RUN_JOB_ID,
        "SLURM_NNODES": str(nodes),
        "SLURM_STEP_NUM_NODES": str(nodes),
        "SLURM_NTASKS": str(nodes),
        "SLURM_STEP_NUM_TASKS": str(nodes),
        "SLURM_NODEID": str(node_rank),
        "SLURM_PROCID": str(node_rank),
        "SLURM_LOCALID": "0",
        "SLURM_JOB_NODELIST": nodelist,
        "SLURM_STEP_NODELIST": nodelist,
    }
    if gpus_per_node:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(gpus_per_node))
    return env


def dry_run_text(plan: SlurmPlan, request: JobRequest, nodes: int, ranks_per_node: int, gpus: int) -> str:
    """The script, the sbatch command and one line per rank with its environment."""
    device = "gpu" if gpus else "cpu"
    out = [
        f"{PREFIX}: dry run: not submitted; script {plan.script}",
        " ".join(shlex.quote(a) for a in plan.sbatch),
        f"----- {plan.script}",
        plan.script_text.rstrip("\n"),
        "-----",
        f"{PREFIX}: dry run: rank environments computed by ddp_launch on each node from srun's variables "
        f"(job id {DRY_RUN_JOB_ID} and node list {dry_run_nodelist(nodes)} are placeholders):",
    ]
    init = None
    for node_rank in range(nodes):
        node = slurm_node(simulated_slurm_environ(nodes, node_rank, gpus), ranks_per_node, device)
        init = node.init_method
        for env in rank_envs(node):
            out.append(f"rank {env.rank}: " + " ".join(f"{k}={v}" for k, v in env.environ().items()))
    argv = [*request.command, *espnet_rank_args(device, init or "env://")]
    out.append(f"{PREFIX}: dry run: every rank runs: {shell_command(argv)}")
    return "\n".join(out) + "\n"


def submit_ddp_job(plan: SlurmPlan, request: JobRequest, report: Callable[[str], None]) -> List[JobResult]:
    """Write the script, run ``sbatch --parsable --wait`` and return the job's result.

    Raises:
        DataError: sbatch cannot be run, or it failed before the job wrote its exit code.
    """
    write_slurm_script(plan)
    try:
        proc = subprocess.run(plan.sbatch, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise DataError(f"{PREFIX}: sbatch is not on PATH (is this a Slurm login node?)") from None
    job_id = proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else "?"
    report(f"{PREFIX}: Slurm job {job_id} (multi-node training, script {plan.script}) ended")
    results = collect_slurm_results(request, plan)
    if proc.returncode != 0 and all(r.exit_code is None for r in results):
        detail = [line for line in proc.stderr.splitlines() if line.strip()]
        raise DataError(f"{PREFIX}: sbatch failed (exit {proc.returncode}): {detail[-1] if detail else 'no message'}")
    return results
