"""The Slurm job of a 2 nodes x 8 GPUs training run, without Slurm: ``utils/slurm.py --nodes 2 --gpu 8 --dry_run``.

The dry run prints the sbatch script and the environment of each of the 16 ranks, computed by
``ddp_launch``'s own functions from the variables srun would set on each node. One test runs
the real launcher (``ddp_launch --slurm``) under those variables with a stand-in training
command and checks that the ranks it starts get exactly the printed environments.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict

import pytest
from ddp_recipe import make_stage8_recipe

from espnet2_speecht5.distributed.ranks import first_host, master_port_for_job, slurm_node
from espnet2_speecht5.distributed.slurm_job import plan_ddp_job, simulated_slurm_environ
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.jobs import JobRange, JobRequest, SlurmOptions

from repo_testing import REPO_ROOT

KEYS = ("NODE_RANK", "LOCAL_RANK", "RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
TRAIN = ["python", "-m", "espnet2_speecht5.bin.asr_train", "--config", "conf/train.yaml", "--output_dir", "exp/x"]


def rank_lines(text: str) -> Dict[int, Dict[str, str]]:
    """``{rank: environment}`` from the dry run's ``rank N: KEY=VALUE ...`` lines."""
    envs = {}
    for match in re.finditer(r"^rank (\d+): (.*)$", text, re.MULTILINE):
        envs[int(match.group(1))] = dict(item.split("=", 1) for item in match.group(2).split())
    return envs


def check_16_ranks(envs: Dict[int, Dict[str, str]]) -> None:
    assert sorted(envs) == list(range(16))
    for rank, env in envs.items():
        assert set(env) == set(KEYS) | {"CUDA_VISIBLE_DEVICES"}, env  # complete
        assert env["RANK"] == str(rank) and env["WORLD_SIZE"] == "16" and env["LOCAL_WORLD_SIZE"] == "8"
        assert int(env["NODE_RANK"]) * 8 + int(env["LOCAL_RANK"]) == rank
        assert env["CUDA_VISIBLE_DEVICES"] == env["LOCAL_RANK"]  # one GPU each, Slurm's 0..7 on every node
    for node in (0, 1):
        local = sorted(int(e["LOCAL_RANK"]) for e in envs.values() if e["NODE_RANK"] == str(node))
        assert local == list(range(8))
    assert len({(e["MASTER_ADDR"], e["MASTER_PORT"]) for e in envs.values()}) == 1  # every rank meets at one place
    assert len({tuple(sorted(e.items())) for e in envs.values()}) == 16  # distinct


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> subprocess.CompletedProcess:
    cwd = tmp_path_factory.mktemp("slurm")
    cmd = [sys.executable, str(REPO_ROOT / "utils" / "slurm.py"), "--nodes", "2", "--gpu", "8", "--time", "4:00:00"]
    proc = subprocess.run(
        cmd + ["--dry_run", "exp/x/train.log", *TRAIN], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    proc.cwd = cwd  # type: ignore[attr-defined]
    return proc


def test_the_script_asks_for_2_nodes_with_one_task_and_8_gpus_each(dry_run):
    out = dry_run.stdout
    script = (dry_run.cwd / "exp" / "x" / "q" / "train.sh").read_text()
    assert script.rstrip("\n") in out  # printed as written
    sbatch = [line for line in script.splitlines() if line.startswith("#SBATCH")]
    for line in ("--nodes=2", "--ntasks-per-node=1", "--gres=gpu:8", "--time=4:00:00", "--job-name=train"):
        assert f"#SBATCH {line}" in sbatch
    assert out.splitlines()[1] == "sbatch --parsable --wait exp/x/q/train.sh"
    srun = [line for line in script.splitlines() if line.startswith("srun ")]
    assert srun == [
        "srun --nodes=2 --ntasks-per-node=1 --kill-on-bad-exit=1 python -m espnet2_speecht5.bin.ddp_launch --slurm "
        "--nproc_per_node 8 --device gpu -- " + " ".join(TRAIN) + ' >>"${log}" 2>&1'
    ]
    assert subprocess.run(["bash", "-n", str(dry_run.cwd / "exp" / "x" / "q" / "train.sh")]).returncode == 0


def test_the_16_rank_environments_are_distinct_and_complete(dry_run):
    envs = rank_lines(dry_run.stdout)
    check_16_ranks(envs)
    assert envs[0]["MASTER_ADDR"] == "node01"  # the first host of the placeholder node list node[01-02]
    every = re.search(r"^slurm\.py: dry run: every rank runs: (.*)$", dry_run.stdout, re.MULTILINE).group(1)
    assert every == " ".join(TRAIN) + (
        " --ngpu 1 --local_rank 0 --dist_backend nccl --multiprocessing_distributed false"
        " --dist_launcher none --dist_init_method env://"
    )


STUB_RANK = textwrap.dedent(
    """
    import json, os, sys
    keys = ("NODE_RANK", "LOCAL_RANK", "RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
            "CUDA_VISIBLE_DEVICES")
    line = "RANKENV " + json.dumps({"env": {k: os.environ[k] for k in keys if k in os.environ}, "argv": sys.argv[1:]})
    os.write(1, (line + "\\n").encode())  # one write: the 8 ranks share the pipe
    """
)


def test_the_launcher_on_node_1_starts_exactly_the_printed_ranks(dry_run):
    """The real path: ddp_launch --slurm in the task srun would start on the second node."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "MASTER_")) and k != "CUDA_VISIBLE_DEVICES"
    }
    env.update(simulated_slurm_environ(2, 1, 8))
    cmd = [sys.executable, "-m", "espnet2_speecht5.bin.ddp_launch", "--slurm", "--nproc_per_node", "8"]
    proc = subprocess.run(
        cmd + ["--device", "gpu", "--", sys.executable, "-c", STUB_RANK],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    started = [json.loads(line[len("RANKENV ") :]) for line in proc.stdout.splitlines() if line.startswith("RANKENV")]
    printed = rank_lines(dry_run.stdout)
    assert sorted(int(s["env"]["RANK"]) for s in started) == list(range(8, 16))
    for rank in started:
        assert rank["env"] == printed[int(rank["env"]["RANK"])]
        assert rank["argv"][-4:] == ["--dist_launcher", "none", "--dist_init_method", "env://"]
    assert "ddp_launch: all 8 rank(s) finished with exit code 0" in proc.stderr


def test_the_driver_prints_the_job_for_num_nodes_2_ngpu_8(tmp_path):
    recipe = make_stage8_recipe(tmp_path)
    env = dict(os.environ, SPEECHT5_SLURM_DRY_RUN="1", SPEECHT5_SLURM_OPTS="--partition gpu")
    proc = subprocess.run(
        ["./run.sh", "--stage", "8", "--stop_stage", "8", "--num_nodes", "2", "--ngpu", "8"],
        cwd=recipe,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stderr  # the driver shows each stage's output on stderr
    assert "#SBATCH --nodes=2" in out and "#SBATCH --gres=gpu:8" in out and "#SBATCH --partition=gpu" in out
    check_16_ranks(rank_lines(out))
    every = re.search(r"slurm\.py: dry run: every rank runs: (.*)$", out, re.MULTILINE).group(1)
    assert every.startswith("python -m espnet2_speecht5.bin.asr_train --output_dir exp/asr_train_char --resume true")
    assert "--config conf/train.yaml" in every and every.endswith("--dist_init_method env://")
    assert "dry run: the training job was not submitted" in out
    assert not (recipe / "exp" / "asr_train_char" / "checkpoint.pth").exists()


@pytest.mark.parametrize(
    "nodelist, host",
    [("node[01-02]", "node01"), ("gpu[3,5-7],cpu1", "gpu3"), ("a-1,b-2", "a-1"), ("r[1-2]-n[08-09]", "r1-n08")],
)
def test_first_host_of_a_slurm_node_list(nodelist: str, host: str):
    assert first_host(nodelist) == host


def test_slurm_node_refuses_what_cannot_work():
    env = simulated_slurm_environ(2, 0, 8)
    assert slurm_node(env, 8, "gpu").master_port == master_port_for_job(env["SLURM_JOB_ID"])
    assert master_port_for_job("4242") != master_port_for_job("4243")
    with pytest.raises(DataError, match="run one task per node"):
        slurm_node(dict(env, SLURM_NTASKS="16", SLURM_STEP_NUM_TASKS="16"), 8, "gpu")
    with pytest.raises(DataError, match="CUDA_VISIBLE_DEVICES lists only 4 device"):
        slurm_node(dict(env, CUDA_VISIBLE_DEVICES="0,1,2,3"), 8, "gpu")
    with pytest.raises(DataError, match="SLURM_NODEID is not set"):
        slurm_node({k: v for k, v in env.items() if k != "SLURM_NODEID"}, 8, "gpu")


def test_a_multi_node_job_is_one_job_on_at_least_2_nodes(tmp_path: Path):
    request = JobRequest(JobRange(), str(tmp_path / "train.log"), TRAIN)
    with pytest.raises(DataError, match="--nodes must be at least 2"):
        plan_ddp_job(request, SlurmOptions(gpu=8), 1, 8)
    ranged = JobRequest(JobRange("JOB", 1, 2, True), str(tmp_path / "train.JOB.log"), TRAIN)
    with pytest.raises(DataError, match="--nodes runs one training job"):
        plan_ddp_job(ranged, SlurmOptions(gpu=8), 2, 8)


def test_a_one_node_job_asks_slurm_for_ngpu_gpus(tmp_path):
    """SPEECHT5_BACKEND=slurm, one node: stage 8's job asks for --ngpu GPUs (cmd.sh's cuda_cmd)."""
    recipe = make_stage8_recipe(tmp_path)
    env = dict(os.environ, SPEECHT5_BACKEND="slurm", SPEECHT5_SLURM_DRY_RUN="1")
    proc = subprocess.run(["./run.sh", "--stage", "8", "--stop_stage", "8", "--ngpu", "4"], cwd=recipe, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    script = recipe / re.search(r"slurm\.py: dry run: script (\S+)", proc.stderr).group(1)
    text = script.read_text()
    assert "#SBATCH --gres=gpu:4" in text  # cmd.sh used to ask for one GPU whatever --ngpu was
    assert "ddp_launch --nproc_per_node 4 --device gpu -- python -m espnet2_speecht5.bin.asr_train --ngpu 4" in text
