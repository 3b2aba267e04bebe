"""Data-parallel training on CPU: 2 gloo ranks through the driver (``--cpu_procs 2``) and ddp_launch.

One module fixture runs the driver's stage 8 four times on the recipe of ddp_recipe.py (global
batch 4, 8 utterances: 2 steps per epoch, 2 epochs, SGD, no dropout):

* ``one``: a single process (batch 4);
* ``two``: 2 gloo ranks (2 utterances of each batch per rank);
* ``fail``: 2 gloo ranks, rank 1 SIGKILLs itself as epoch 2 starts (``SPEECHT5_KILL_RANK=1:2``);
* ``resumed``: the same command as ``fail`` again, which resumes after epoch 1.

The first three start together (both cores stay busy while the ranks import ESPnet), the fourth
as soon as ``fail`` has ended.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Dict

import pytest
import torch
from ddp_recipe import make_stage8_recipe, start_driver

from espnet2_speecht5.bin.train_main import run_task
from espnet2_speecht5.checkpoint.io import load_checkpoint
from espnet2_speecht5.distributed.epoch_hooks import kill_request
from espnet2_speecht5.runtime.errors import DataError

TIMEOUT_S = 400  # per batch of driver runs: generous for a loaded machine; a hung rank would exceed it
# The reporter logs each epoch's mean with 3 decimals. Each logged value is within 0.0005 of the
# exact mean, so two runs whose exact means differ by less than 0.001 log values at most 0.002
# apart. The exact means of the two runs differ by float32 rounding only: the same global batch
# is summed in another order (two half batches, then gloo's all-reduce). Measured: below 1e-5.
# A gradient that is not averaged over the ranks, or scaled by the world size, moves the
# epoch-2 loss and the grad norms by whole units.
TOLERANCE = 0.002
STAGE8 = ["--stage", "8", "--stop_stage", "8"]
FORBIDDEN = ("terminate called", "destroy_process_group", "has NOT been destroyed", "Traceback")


def _finish(proc: subprocess.Popen, timeout: float) -> subprocess.CompletedProcess:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        pytest.fail(f"the driver did not finish in {timeout} s (a rank hung?); stderr tail:\n{err[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Dict:
    recipe = make_stage8_recipe(tmp_path_factory.mktemp("ddp"))
    start = time.monotonic()
    procs = {
        "one": start_driver(recipe, STAGE8 + ["--asr_tag", "one"]),
        "two": start_driver(recipe, STAGE8 + ["--asr_tag", "two", "--cpu_procs", "2"]),
        "fail": start_driver(
            recipe, STAGE8 + ["--asr_tag", "fail", "--cpu_procs", "2"], env={"SPEECHT5_KILL_RANK": "1:2"}
        ),
    }
    done = {"fail": _finish(procs.pop("fail"), TIMEOUT_S)}
    exp = recipe / "exp" / "asr_fail"
    failed_log = (exp / "train.log").read_text()  # the rerun keeps it as train.log.1
    after_failure = sorted(p.name for p in exp.iterdir())
    epoch1 = load_checkpoint(exp / "1epoch.pth")
    # the same command again: it resumes (started while "one" and "two" may still run)
    procs["resumed"] = start_driver(recipe, STAGE8 + ["--asr_tag", "fail", "--cpu_procs", "2"])
    done.update({name: _finish(proc, TIMEOUT_S) for name, proc in procs.items()})
    print(f"driver runs: {time.monotonic() - start:.1f} s")
    return dict(recipe=recipe, done=done, failed_log=failed_log, after_failure=after_failure, epoch1=epoch1)


def _log(runs: Dict, tag: str) -> str:
    return (runs["recipe"] / "exp" / f"asr_{tag}" / "train.log").read_text()


def train_stats(log: str) -> Dict[int, Dict[str, float]]:
    """``{epoch: {key: value}}`` of the ``[train]`` part of ESPnet's ``<n>epoch results:`` lines."""
    stats = {}
    for match in re.finditer(r"(\d+)epoch results: \[train\] (.*?)(?:, \[valid\]|$)", log, re.MULTILINE):
        values = dict(re.findall(r"(\w+)=(-?[0-9.]+(?:e[-+]?\d+)?)\b", match.group(2)))
        stats[int(match.group(1))] = {k: float(v) for k, v in values.items()}
    return stats


@pytest.mark.recipe_run  # the module fixture runs stage 8 four times (~95 s)
def test_two_gloo_ranks_train_like_one_process(runs, capsys):
    for name in ("one", "two"):
        assert runs["done"][name].returncode == 0, runs["done"][name].stderr[-3000:]
    one, two = train_stats(_log(runs, "one")), train_stats(_log(runs, "two"))
    assert sorted(one) == sorted(two) == [1, 2]
    rows = [f"{'epoch':>5} {'key':>9} {'1 process':>11} {'2 ranks':>11} {'diff':>9}"]
    for epoch in (1, 2):
        for key in ("loss", "grad_norm"):
            a, b = one[epoch][key], two[epoch][key]
            rows.append(f"{epoch:>5} {key:>9} {a:>11.3f} {b:>11.3f} {b - a:>9.3f}")
    with capsys.disabled():  # the comparison goes to the CI log
        print("\n2 gloo ranks against 1 process, same global batch (train stats per epoch):\n  " + "\n  ".join(rows))
    for epoch in (1, 2):
        for key in ("loss", "grad_norm"):
            a, b = one[epoch][key], two[epoch][key]
            assert abs(a - b) <= TOLERANCE, (epoch, key, a, b)
    assert one[2]["loss"] < one[1]["loss"] - 1.0  # it learns: the comparison is not between two flat curves


@pytest.mark.recipe_run  # the module fixture runs stage 8 four times (~95 s)
def test_every_rank_exits_zero_and_the_shutdown_is_clean(runs):
    log = _log(runs, "two")
    assert runs["done"]["two"].returncode == 0
    assert re.search(r"\[[^\]]+:0/2\]", log)  # ESPnet logged as rank 0 of a world of 2
    for rank in (0, 1):
        assert re.search(rf"ddp_launch: rank {rank} \(node 0, local rank {rank}\), pid \d+: exit code 0$", log, re.M)
    assert "ddp_launch: all 2 rank(s) finished with exit code 0" in log
    for name in ("one", "two"):
        text = _log(runs, name) + runs["done"][name].stderr
        for bad in FORBIDDEN:
            assert bad not in text, (name, bad)


@pytest.mark.recipe_run  # the module fixture runs stage 8 four times (~95 s)
def test_a_killed_rank_stops_the_other_and_is_named(runs):
    proc = runs["done"]["fail"]
    assert proc.returncode != 0
    log = runs["failed_log"]
    assert "ERROR: ddp_launch: rank 1 (node 0, local rank 1) failed first (killed by signal SIGKILL)" in log
    assert "rank 1 (node 0, local rank 1) failed first (killed by signal SIGKILL)" in proc.stderr  # the driver shows it
    rank0 = re.search(r"ddp_launch: rank 0 \(node 0, local rank 0\), pid (\d+): (.*)$", log, re.M)
    assert rank0 and rank0.group(2) in ("exit code 1", "killed by signal SIGTERM (sent by ddp_launch)"), log[-2000:]
    assert "1epoch results" in log and "2epoch results" not in log
    # nothing of that run is left behind: no process still trains into exp/asr_fail
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        assert not (cwd == str(runs["recipe"]) and "exp/asr_fail" in cmdline), cmdline


@pytest.mark.recipe_run  # the module fixture runs stage 8 four times (~95 s)
def test_the_failed_run_resumes_after_the_last_finished_epoch(runs):
    names = runs["after_failure"]
    assert "checkpoint.pth" in names and "1epoch.pth" in names and "2epoch.pth" not in names
    assert runs["epoch1"] and all(isinstance(v, torch.Tensor) for v in runs["epoch1"].values())
    resumed = runs["done"]["resumed"]
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = _log(runs, "fail")
    assert "2epoch results" in log and "1epoch results" not in log  # epoch 1 was not trained again
    assert "ddp_launch: all 2 rank(s) finished with exit code 0" in log
    # the resumed epoch 2 is the uninterrupted run's epoch 2
    assert abs(train_stats(log)[2]["loss"] - train_stats(_log(runs, "two"))[2]["loss"]) <= TOLERANCE


FAKE_TASK = textwrap.dedent(
    """
    import torch.distributed as dist
    from espnet2_speecht5.runtime.errors import DataError

    class FakeTask:
        trainer = object
        seen = {}

        @classmethod
        def main(cls, cmd):
            dist.init_process_group("gloo", init_method="file://" + cmd[0], world_size=1, rank=0)
            cls.seen["trainer"] = cls.trainer
            if cmd[1:] == ["fail"]:
                raise DataError("bad config")
    """
)


def test_run_task_destroys_the_process_group_and_restores_the_trainer(tmp_path, monkeypatch, capsys):
    (tmp_path / "fake_ddp_task.py").write_text(FAKE_TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    import fake_ddp_task

    run_task("fake_ddp_task", "FakeTask", [str(tmp_path / "store1")])
    task = fake_ddp_task.FakeTask
    assert task.seen["trainer"].__name__ == "objectWithEpochHooks" and task.trainer is object
    assert not torch.distributed.is_initialized()
    with pytest.raises(SystemExit) as exit_info:
        run_task("fake_ddp_task", "FakeTask", [str(tmp_path / "store2"), "fail"])
    assert exit_info.value.code == 1 and capsys.readouterr().err.strip().endswith("ERROR: bad config")
    assert not torch.distributed.is_initialized() and task.trainer is object


def test_kill_request_parsing():
    assert kill_request({}) is None
    assert kill_request({"SPEECHT5_KILL_RANK": "1:2"}) == (1, 2)
    with pytest.raises(DataError, match="SPEECHT5_KILL_RANK must be <rank>:<epoch>"):
        kill_request({"SPEECHT5_KILL_RANK": "rank1"})


STUB_RANK = textwrap.dedent(
    """
    import os, sys, time
    keys = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK")
    line = "RANKENV " + " ".join(f"{k}={os.environ[k]}" for k in keys) + " " + " ".join(sys.argv[1:])
    os.write(1, (line + "\\n").encode())  # one write: the ranks share the pipe
    if os.environ["RANK"] == "1":
        sys.exit(3)
    time.sleep(120)
    """
)


def test_launcher_stops_the_ranks_when_one_exits_early(tmp_path):
    """A rank that fails before any process group exists (no gloo error can stop the others)."""
    cmd = [sys.executable, "-m", "espnet2_speecht5.bin.ddp_launch", "--nproc_per_node", "2", "--", sys.executable]
    proc = subprocess.run(cmd + ["-c", STUB_RANK], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[-1] == (
        "ERROR: ddp_launch: rank 1 (node 0, local rank 1) failed first (exit code 3); "
        "all 2 rank(s) on node 0 have stopped"
    )
    assert any(
        re.fullmatch(r"ddp_launch: rank 0 .*: killed by signal SIGTERM \(sent by ddp_launch\)", x) for x in lines
    )
    seen = sorted(line.split(" ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("RANKENV"))
    assert [s.split(" --")[0] for s in seen] == [
        "RANK=0 LOCAL_RANK=0 WORLD_SIZE=2 NODE_RANK=0",
        "RANK=1 LOCAL_RANK=1 WORLD_SIZE=2 NODE_RANK=0",
    ]
    for line in seen:
        assert "--ngpu 0 --dist_backend gloo --multiprocessing_distributed false" in line
        assert re.search(r"--dist_init_method file://\S+/ddp_launch_\w+/store$", line)
