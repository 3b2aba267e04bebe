"""Atomic checkpoint files, the fallback checkpoint and full-state resume of SpeechT5Trainer (unit level)."""

from __future__ import annotations

import datetime
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import torch
from espnet2.schedulers.warmup_lr import WarmupLR
from espnet2.train.reporter import Reporter

from espnet2_speecht5.checkpoint import atomic_files
from espnet2_speecht5.checkpoint.atomic_files import atomic_write, remove_stale_temporaries
from espnet2_speecht5.checkpoint.io import CheckpointError, load_checkpoint
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.train.trainer import (
    SpeechT5Trainer,
    load_resume_checkpoint,
    repair_epoch_outputs,
    safe_checkpoint_files,
    save_checkpoint_file,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def _temporaries(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _reporter(values: Dict[int, float]) -> Reporter:
    """A reporter that has finished the given epochs with valid.acc = value (numpy scalars and timedeltas inside)."""
    reporter = Reporter()
    for epoch, value in values.items():
        reporter.set_epoch(epoch)
        for phase in ("train", "valid"):
            with reporter.observe(phase) as sub:
                sub.register({"acc": value, "loss": 1.0 - value})
                sub.next()
    return reporter


def _training_objects(seed: int):
    torch.manual_seed(seed)
    model = torch.nn.Linear(4, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = WarmupLR(optimizer, warmup_steps=10)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** (seed + 3))
    for _ in range(seed + 1):  # give the optimizer and the scheduler a state of their own
        optimizer.zero_grad()
        model(torch.randn(2, 4)).sum().backward()
        optimizer.step()
        scheduler.step()
    return model, optimizer, scheduler, scaler


def _espnet_checkpoint(model, reporter, optimizer, scheduler, scaler) -> dict:
    """The dict that ESPnet's Trainer.run hands to torch.save for checkpoint.pth."""
    return {
        "model": model.state_dict(),
        "reporter": reporter.state_dict(),
        "optimizers": [optimizer.state_dict()],
        "schedulers": [scheduler.state_dict()],
        "scaler": scaler.state_dict(),
    }


def _save_epochs(folder: Path, epochs: int) -> Path:
    """Save checkpoint.pth after each of ``epochs`` epochs, as ESPnet does during our run."""
    model, optimizer, scheduler, scaler = _training_objects(0)
    path = folder / "checkpoint.pth"
    for epoch in range(1, epochs + 1):
        reporter = _reporter({e: 0.1 * e for e in range(1, epoch + 1)})
        save_checkpoint_file(_espnet_checkpoint(model, reporter, optimizer, scheduler, scaler), path)
    return path


def _resume(path: Path, seed: int = 7):
    model, optimizer, scheduler, scaler = _training_objects(seed)
    reporter = Reporter()
    SpeechT5Trainer.resume(path, model, reporter, [optimizer], [scheduler], scaler)
    return model, reporter, optimizer, scheduler, scaler


def _truncate(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size // 2)


@pytest.mark.parametrize("where", ["write", "before_replace"])
def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, where: str) -> None:
    path, previous = tmp_path / "checkpoint.pth", tmp_path / "checkpoint.prev.pth"
    path.write_bytes(b"old complete checkpoint")

    def write(handle) -> None:
        handle.write(b"new, half written")
        if where == "write":
            raise RuntimeError("disk full")

    def before_replace(tmp: Path) -> None:
        assert tmp.read_bytes() == b"new, half written" and tmp.parent == tmp_path
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(path, write, keep_previous=previous, before_replace=before_replace)
    assert path.read_bytes() == b"old complete checkpoint"
    assert not previous.exists()
    assert _temporaries(tmp_path) == []


def test_killed_writer_leaves_the_old_file_and_a_temporary_that_the_next_start_removes(tmp_path: Path) -> None:
    path = tmp_path / "3epoch.pth"
    path.write_bytes(b"old complete epoch file")
    (tmp_path / ".notes.txt.tmp").write_text("not ours")  # not a .pth temporary: must stay
    script = textwrap.dedent(
        f"""
        import sys, time
        from espnet2_speecht5.checkpoint.atomic_files import atomic_write
        def write(handle):
            handle.write(b"x" * 4096)
            handle.flush()
            print("writing", flush=True)
            time.sleep(120)
        atomic_write({str(path)!r}, write)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    try:
        assert proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == b"old complete epoch file"
    (stale,) = [name for name in _temporaries(tmp_path) if name != ".notes.txt.tmp"]
    assert stale.startswith(".3epoch.pth.")
    assert remove_stale_temporaries(tmp_path) == [tmp_path / stale]
    assert _temporaries(tmp_path) == [".notes.txt.tmp"]


def test_new_files_get_the_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.pth", lambda handle: handle.write(b"1"))
    finally:
        os.umask(old)
    assert (tmp_path / "a.pth").stat().st_mode & 0o777 == 0o644


def test_each_save_keeps_the_checkpoint_it_replaces(tmp_path: Path) -> None:
    path = _save_epochs(tmp_path, 1)
    assert not (tmp_path / "checkpoint.prev.pth").exists()
    _save_epochs(tmp_path, 3)
    current, previous = load_checkpoint(path), load_checkpoint(tmp_path / "checkpoint.prev.pth")  # weights-only
    assert (current["reporter"]["epoch"], previous["reporter"]["epoch"]) == (3, 2)
    assert os.stat(path).st_ino != os.stat(tmp_path / "checkpoint.prev.pth").st_ino
    assert set(current["random_state"]) == {"python", "numpy", "torch", "cuda"}
    assert _temporaries(tmp_path) == []


def test_resume_restores_training_state_and_random_generators(tmp_path: Path) -> None:
    model, optimizer, scheduler, scaler = _training_objects(0)
    reporter = _reporter({1: 0.25, 2: 0.5})
    random.seed(11), np.random.seed(11), torch.manual_seed(11)
    random.random(), np.random.rand(), torch.rand(1), np.random.randn()  # a state that differs from a fresh seed
    save_checkpoint_file(_espnet_checkpoint(model, reporter, optimizer, scheduler, scaler), tmp_path / "checkpoint.pth")
    expected = (random.random(), random.gauss(0, 1), np.random.rand(3), np.random.randn(), torch.rand(3))

    random.seed(99), np.random.seed(99), torch.manual_seed(99)
    model2, reporter2, optimizer2, scheduler2, scaler2 = _resume(tmp_path / "checkpoint.pth")
    got = (random.random(), random.gauss(0, 1), np.random.rand(3), np.random.randn(), torch.rand(3))
    assert got[:2] == expected[:2]
    np.testing.assert_array_equal(got[2], expected[2])
    assert got[3] == expected[3]
    assert torch.equal(got[4], expected[4])

    for name, tensor in model.state_dict().items():
        assert torch.equal(model2.state_dict()[name], tensor), name
    state, state2 = optimizer.state_dict(), optimizer2.state_dict()
    assert state2["param_groups"] == state["param_groups"]
    for key in state["state"]:
        for field, value in state["state"][key].items():
            assert torch.equal(torch.as_tensor(state2["state"][key][field]), torch.as_tensor(value)), field
    assert scheduler2.state_dict() == scheduler.state_dict()
    assert scaler2.get_scale() == scaler.get_scale() == 8.0
    assert reporter2.get_epoch() == 2
    assert reporter2.get_value("valid", "acc", epoch=2) == pytest.approx(0.5)
    assert isinstance(reporter2.stats[1]["train"]["time"], datetime.timedelta)  # ESPnet's log_message formats it
    assert "2epoch results: [train] acc=0.500" in reporter2.log_message()


def test_corrupt_checkpoint_falls_back_to_the_previous_one_with_one_log_line(tmp_path: Path, caplog) -> None:
    path = _save_epochs(tmp_path, 2)
    _truncate(path)
    with caplog.at_level(logging.INFO):
        _, reporter, *_ = _resume(path)
    assert reporter.get_epoch() == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert str(path) in warnings[0] and str(tmp_path / "checkpoint.prev.pth") in warnings[0]
    assert "truncated or corrupt" in warnings[0]


def test_fallback_can_replace_the_corrupt_file_with_a_separate_copy(tmp_path: Path) -> None:
    path = _save_epochs(tmp_path, 2)
    _truncate(path)
    states, source = load_resume_checkpoint(path, repair=True)
    assert source == tmp_path / "checkpoint.prev.pth" and states["reporter"]["epoch"] == 1
    assert load_checkpoint(path)["reporter"]["epoch"] == 1
    assert os.stat(path).st_ino != os.stat(source).st_ino


@pytest.mark.parametrize("previous", ["corrupt", "missing", "not a training checkpoint"])
def test_both_checkpoints_unusable_is_one_line_error_naming_both(tmp_path: Path, previous: str) -> None:
    path = _save_epochs(tmp_path, 2)
    prev = tmp_path / "checkpoint.prev.pth"
    if previous == "corrupt":
        _truncate(prev)
    elif previous == "missing":
        prev.unlink()
    else:
        torch.save({"weight": torch.zeros(2)}, prev)
    path.write_bytes(b"garbage")
    with pytest.raises(DataError) as info:
        _resume(path)
    assert isinstance(info.value, CheckpointError)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and str(prev) in message


def test_repair_recreates_the_epoch_file_and_links_a_kill_left_missing(tmp_path: Path) -> None:
    model = torch.nn.Linear(2, 2)
    reporter = _reporter({1: 0.3, 2: 0.6, 3: 0.4})
    (tmp_path / "2epoch.pth").write_bytes(b"stands for epoch 2")
    (tmp_path / "latest.pth").symlink_to("2epoch.pth")  # stale: the checkpoint is at epoch 3
    written = repair_epoch_outputs(tmp_path, reporter, model.state_dict(), [("valid", "acc", "max"), ("x", "y", "min")])
    assert written == ["3epoch.pth", "latest.pth", "valid.acc.best.pth"]
    restored = load_checkpoint(tmp_path / "3epoch.pth")
    assert all(torch.equal(restored[k], v) for k, v in model.state_dict().items())
    assert os.readlink(tmp_path / "latest.pth") == "3epoch.pth"
    assert os.readlink(tmp_path / "valid.acc.best.pth") == "2epoch.pth"
    assert repair_epoch_outputs(tmp_path, reporter, model.state_dict(), [("valid", "acc", "max")]) == []
    assert _temporaries(tmp_path) == []


def test_espnet_save_and_load_are_replaced_only_during_the_run() -> None:
    import espnet2.main_funcs.average_nbest_models  # noqa: F401 - the module, not the function
    import espnet2.train.trainer as espnet_trainer

    averaging = sys.modules["espnet2.main_funcs.average_nbest_models"]
    real_save = torch.save
    with pytest.raises(KeyError):
        with safe_checkpoint_files():
            assert espnet_trainer.torch.save is save_checkpoint_file
            assert averaging.torch.load is not torch.load
            assert espnet_trainer.torch.nn is torch.nn and torch.save is real_save
            raise KeyError("any error inside the run")
    assert espnet_trainer.torch is torch and averaging.torch is torch


def test_nbest_averaging_writes_and_reads_through_the_safe_functions(tmp_path: Path) -> None:
    from espnet2.main_funcs.average_nbest_models import average_nbest_models

    states = {e: {"w": torch.full((2,), float(e))} for e in (1, 2, 3)}
    for epoch, state in states.items():
        atomic_files.atomic_torch_save(state, tmp_path / f"{epoch}epoch.pth")
    reporter = _reporter({1: 0.1, 2: 0.9, 3: 0.5})
    with safe_checkpoint_files():
        average_nbest_models(tmp_path, reporter, [("valid", "acc", "max")], nbest=2)
    averaged = load_checkpoint(tmp_path / "valid.acc.ave_2best.pth")
    assert torch.equal(averaged["w"], torch.full((2,), 2.5))  # epochs 2 and 3
    assert _temporaries(tmp_path) == []


def test_a_checkpoint_written_by_espnets_own_trainer_resumes(tmp_path: Path) -> None:
    """Experiments trained before SpeechT5Trainer hold a plain torch.save of ESPnet's dict: the reporter
    keeps numpy scalars and timedeltas. They resume; a planted code-running global is still refused."""
    model, optimizer, scheduler, scaler = _training_objects(0)
    reporter = _reporter({1: np.float64(0.25), 2: np.float64(0.5)})
    states = _espnet_checkpoint(model, reporter, optimizer, scheduler, scaler)
    states["reporter"]["stats"][2]["train"]["time"] = datetime.timedelta(seconds=12.5)
    path = tmp_path / "checkpoint.pth"
    torch.save(states, path)
    assert "datetime.timedelta" in torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    model2, reporter2, optimizer2, _, _ = _resume(path)
    assert reporter2.get_epoch() == 2
    assert reporter2.get_value("valid", "acc", 2) == pytest.approx(0.5)
    assert "acc=0.500" in reporter2.log_message(2)
    torch.testing.assert_close(model2.state_dict(), model.state_dict())
    assert optimizer2.state_dict()["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]

    states["reporter"]["evil"] = _RunsCode()
    torch.save(states, path)
    with pytest.raises(CheckpointError, match="refusing to unpickle global 'posix.system'|'os.system'"):
        load_checkpoint(path, real_values=True)


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("true",))
