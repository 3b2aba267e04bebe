"""A hung rank is caught, not only a dead one: ddp_launch names the rank whose heartbeat went stale
and stops every rank; the trainer's batches are what beat."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from espnet2_speecht5.distributed.heartbeat import HEARTBEAT_ENV, beating, seconds_since_beat

# Rank 0 beats every 0.2 s for a minute; rank 1 beats for about a second, then stops beating but
# stays alive (a rank stuck in a collective call or a data loader); with --never, rank 1 never beats.
STUB_RANK = textwrap.dedent(
    """\
    import os, sys, time
    from pathlib import Path
    heartbeat, rank = Path(os.environ["SPEECHT5_HEARTBEAT_FILE"]), int(os.environ["RANK"])
    never = "--never" in sys.argv
    start = time.time()
    while time.time() - start < 60:
        if rank == 0 or (not never and time.time() - start < 1.0):
            heartbeat.touch()
            os.utime(heartbeat)
        time.sleep(0.2)
    """
)


def run_launcher(*stub_args: str, timeout_s: str = "3") -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "espnet2_speecht5.bin.ddp_launch", "--nproc_per_node", "2", "--hang_timeout_s",
           timeout_s, "--grace_s", "2", "--", sys.executable, "-c", STUB_RANK, *stub_args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


@pytest.mark.parametrize("stub_args", [(), ("--never",)], ids=["stops_beating", "never_beats"])
def test_a_rank_that_stops_making_progress_is_named_and_every_rank_stops(stub_args) -> None:
    started = time.monotonic()
    proc = run_launcher(*stub_args)
    took = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    assert took < 30  # not the stubs' 60 s: the launcher stopped them
    last = proc.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"ERROR: ddp_launch: rank 1 \(node 0, local rank 1\) hung \(no training or "
                        r"validation progress for \d+ s\); all 2 rank\(s\) on node 0 have stopped", last), last
    seconds = int(re.search(r"progress for (\d+) s", last).group(1))
    assert 3 <= seconds <= 15
    assert re.search(r"ddp_launch: rank 0 .*: killed by signal SIGTERM \(sent by ddp_launch\)", proc.stderr)


def test_ranks_that_keep_beating_are_left_alone(tmp_path: Path) -> None:
    """With the watch off (0), the same stubs run their full course and exit 0."""
    short = STUB_RANK.replace("< 60", "< 3")
    cmd = [sys.executable, "-m", "espnet2_speecht5.bin.ddp_launch", "--nproc_per_node", "2", "--hang_timeout_s",
           "0", "--", sys.executable, "-c", short]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "ddp_launch: all 2 rank(s) finished with exit code 0" in proc.stderr


def test_beating_touches_the_file_as_batches_pass_and_passes_them_through(tmp_path: Path, monkeypatch) -> None:
    heartbeat = tmp_path / "rank0"
    monkeypatch.setenv(HEARTBEAT_ENV, str(heartbeat))
    items = beating(iter(range(5)), every_s=0.0)
    assert next(items) == 0 and heartbeat.is_file()
    os.utime(heartbeat, (1.0, 1.0))  # make it stale, then take a batch
    assert seconds_since_beat(heartbeat, started_at=0.0) > 1e6
    assert next(items) == 1
    assert seconds_since_beat(heartbeat, started_at=0.0) < 60
    assert list(items) == [2, 3, 4]
    monkeypatch.delenv(HEARTBEAT_ENV)
    assert list(beating(range(3))) == [0, 1, 2]  # no launcher: nothing is written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rank0"]


def test_the_trainer_beats_on_training_and_validation_batches(tmp_path: Path, monkeypatch) -> None:
    """SpeechT5Trainer hands ESPnet a beating iterator in both loops."""
    from espnet2.train.trainer import Trainer

    from espnet2_speecht5.train.trainer import SpeechT5Trainer

    heartbeat = tmp_path / "rank0"
    monkeypatch.setenv(HEARTBEAT_ENV, str(heartbeat))
    seen = []

    def consume(cls, iterator=None, **kwargs):
        seen.extend(iterator)
        seen.append(heartbeat.is_file())
        return False

    monkeypatch.setattr(Trainer, "train_one_epoch", classmethod(consume))
    monkeypatch.setattr(Trainer, "validate_one_epoch", classmethod(consume))
    SpeechT5Trainer.train_one_epoch(iterator=iter(["a", "b"]), options=None, reporter=None)
    heartbeat.unlink()
    SpeechT5Trainer.validate_one_epoch(iterator=iter(["c"]))
    assert seen == ["a", "b", True, "c", True]
