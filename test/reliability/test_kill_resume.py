"""SIGKILL ASR training five times at random (seeded) moments, resume each time, and check the result.

The runs execute ``espnet2_speecht5.bin.asr_train ... --resume true`` on a tiny model and the toy
corpus of the driver tests (test/recipes/test_driver.py, MAKE_DATA). They are forks of a process
that imported ESPnet once (see train_launcher.py); set ``SPEECHT5_KILL_TEST_PROCESSES=1`` to start
each of them as a real ``python -m`` process instead (about 15 s more per run). The uninterrupted
reference run is always a real ``python -m`` process on a fresh folder.

Kills: one lands while ``checkpoint.pth`` is being written (the trainer's test hook holds the
finished temporary file before its rename); each of the others lands a random delay (0-0.5 s) after
the second epoch of its run started, but before the third one starts: in training, validation or
the file writes at the end of that epoch. Before one of the reruns ``checkpoint.pth`` is truncated,
so that run must fall back to ``checkpoint.prev.pth``; a copy with both checkpoints truncated must
stop with one ``ERROR:`` line. At the end every epoch must be accounted for, the files must load
weights-only with the model's shapes, no temporary file may remain, and the weights must equal
those of the uninterrupted run (ESPnet seeds each epoch with seed + epoch, so resuming is exact).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest
import torch
import yaml
from train_launcher import RUN_ENV, ForkLauncher, ProcessLauncher, Run

from espnet2_speecht5.checkpoint.io import load_checkpoint
from espnet2_speecht5.tasks.asr import ASRTask
from espnet2_speecht5.text.token_list import make_token_list
from espnet2_speecht5.train.trainer import PAUSE_ENV

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_EPOCH = 10
KILLS = 5
SEED = 20240517
TRAIN_CONF = dict(
    net_conf=dict(
        size="tiny", d_model=16, encoder_layers=1, decoder_layers=1, encoder_heads=2, decoder_heads=2,
        encoder_ffn_dim=32, decoder_ffn_dim=32, conv_channels=[8, 8, 8],
    ),
    model_conf=dict(ctc_weight=0.3),
    batch_type="unsorted", batch_size=4, max_epoch=MAX_EPOCH, num_workers=0, num_att_plot=0,
    best_model_criterion=[["valid", "acc", "max"]], keep_nbest_models=MAX_EPOCH,  # keep every epoch file
    use_matplotlib=False, use_tensorboard=False, seed=0,
    optim="adam", optim_conf=dict(lr=0.005), scheduler="warmuplr", scheduler_conf=dict(warmup_steps=6),
)  # fmt: skip
RESUMED = re.compile(r"The training was resumed using (\S+) \(after epoch (\d+)\)")
RESULTS = re.compile(r" INFO: (\d+)epoch results:")
WRITING = re.compile(r"^\.checkpoint\.pth\.[0-9a-f]{8}\.tmp$")  # atomic_files' temporary for checkpoint.pth


def _driver_toy_corpus(root: Path) -> None:
    """Write the driver tests' toy corpus (MAKE_DATA of test/recipes/test_driver.py) under ``root``."""
    spec = importlib.util.spec_from_file_location("test_driver", REPO_ROOT / "test" / "recipes" / "test_driver.py")
    module = sys.modules.get("test_driver")
    if module is None or Path(module.__file__).resolve() != Path(spec.origin).resolve():
        module = importlib.util.module_from_spec(spec)
        sys.modules["test_driver"] = module
        spec.loader.exec_module(module)
    (root / "make_data.py").write_text(module.MAKE_DATA)
    subprocess.run([sys.executable, str(root / "make_data.py"), "asr", str(root)], check=True, timeout=120)


@pytest.fixture(scope="module")
def toy_asr(tmp_path_factory) -> Dict[str, object]:
    """Training arguments on the toy corpus (its 8 kHz utterances, ``*_00``, left out: no resampling here)."""
    root = tmp_path_factory.mktemp("toy_asr")
    _driver_toy_corpus(root)
    for name in ("train", "dev"):
        for file in ("wav.scp", "text"):
            path = root / "data" / name / file
            path.write_text("".join(line + "\n" for line in path.read_text().splitlines() if "_00 " not in line))
    tokens = make_token_list("char", root / "data" / "train" / "text", root / "token_list")["tokens"]
    config = root / "train.yaml"
    config.write_text(yaml.safe_dump(TRAIN_CONF))
    data = {"train": root / "data" / "train", "valid": root / "data" / "dev"}
    args = ["--config", str(config), "--token_list", str(tokens), "--ngpu", "0", "--resume", "true"]
    for mode, folder in data.items():
        args += [f"--{mode}_data_path_and_name_and_type", f"{folder / 'wav.scp'},speech,sound"]
        args += [f"--{mode}_data_path_and_name_and_type", f"{folder / 'text'},text,text"]
        args += [f"--{mode}_shape_file", str(folder / "wav.scp")]  # unsorted batches read only the keys
    return {"root": root, "args": args}


def _wait_for(condition, run: Run, what: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if run.poll() is not None:
            raise AssertionError(f"the run ended (status {run.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _sleep_within_epoch(log: Path, epoch: int, delay: float, run: Run) -> None:
    """Sleep ``delay`` seconds, or less if epoch ``epoch + 1`` starts first (so the kill lands in ``epoch``)."""
    deadline = time.monotonic() + delay
    following = f"{epoch + 1}/{MAX_EPOCH}epoch started"
    while time.monotonic() < deadline and run.poll() is None and not _log_has(log, following):
        time.sleep(0.005)


def _log_has(log: Path, text: str) -> bool:
    return log.exists() and text in log.read_text(errors="replace")


def _checkpoint_temporaries(exp: Path) -> List[str]:
    return [p.name for p in exp.iterdir() if WRITING.match(p.name)] if exp.is_dir() else []


def _writing_checkpoint(exp: Path, stale: List[str]) -> bool:
    """True once this run writes ``checkpoint.pth``: a temporary that was not left by a killed run."""
    return any(name not in stale for name in _checkpoint_temporaries(exp))


def _checkpoint_epoch(path: Path) -> int:
    return load_checkpoint(path)["reporter"]["epoch"] if path.exists() else 0


def _temporaries(exp: Path) -> List[str]:
    return sorted(p.name for p in exp.rglob("*") if p.name.endswith(".tmp"))


def _kill_and_resume(launcher, args: List[str], exp: Path, logs: Path) -> List[Dict[str, object]]:
    """Run training until it finishes, SIGKILLing it KILLS times; return one record per run."""
    rng = random.Random(SEED)
    write_kill = rng.randrange(KILLS)  # which kill lands inside a checkpoint write
    corrupt_from = rng.randrange(1, KILLS + 1)  # truncate checkpoint.pth before the first rerun from here on
    corrupted = False
    records = []
    for index in range(KILLS + 1):
        record: Dict[str, object] = {"run": index + 1, "before": _checkpoint_epoch(exp / "checkpoint.pth")}
        previous = exp / "checkpoint.prev.pth"
        # never in the run killed inside a write: that run must find a readable checkpoint.pth to keep
        if not corrupted and index >= corrupt_from and index != write_kill and previous.exists():
            size = (exp / "checkpoint.pth").stat().st_size
            with open(exp / "checkpoint.pth", "r+b") as handle:
                handle.truncate(size // 3)
            record["corrupted"], record["prev_epoch"] = True, _checkpoint_epoch(previous)
            corrupted = True
        log = logs / f"run{index + 1}.log"
        env = {PAUSE_ENV: "600"} if index == write_kill else {}
        stale = _checkpoint_temporaries(exp)  # a run killed inside its final file writes may leave one
        start = time.monotonic()
        run = launcher.start(args, env, log)
        if index == KILLS:
            record["moment"] = "none: runs to the end"
        elif index == write_kill:
            _wait_for(functools.partial(_writing_checkpoint, exp, stale), run, "a checkpoint write")
            record["moment"] = "inside the write of checkpoint.pth"
        else:
            resumed = record["prev_epoch"] if record.get("corrupted") else record["before"]
            epoch = min(int(resumed) + 2, MAX_EPOCH - 1)  # at least one epoch of progress, never the last one
            delay = rng.uniform(0.0, 0.5)
            started = f"{epoch}/{MAX_EPOCH}epoch started"
            _wait_for(functools.partial(_log_has, log, started), run, f"'{started}'")
            _sleep_within_epoch(log, epoch, delay, run)
            record["moment"] = f"{delay:.2f} s after epoch {epoch} started (at the latest as epoch {epoch + 1} starts)"
        if index < KILLS:
            run.kill()
        record["status"] = run.wait()
        record["seconds"] = time.monotonic() - start
        text = log.read_text(errors="replace")
        match = RESUMED.search(text)
        record["resumed_from"] = int(match.group(2)) if match else 0
        record["resumed_file"] = Path(match.group(1)).name if match else None
        record["completed"] = sorted(int(e) for e in RESULTS.findall(text))
        record["log"] = text
        if index == write_kill:
            record["temporaries_after_kill"] = _temporaries(exp)
            record["after"] = _checkpoint_epoch(exp / "checkpoint.pth")
        records.append(record)
    return records


def _summary(records: List[Dict[str, object]]) -> str:
    lines = [f"kill/resume test (seed {SEED}, {MAX_EPOCH} epochs):"]
    for r in records:
        extra = f"; checkpoint.pth truncated, fell back to epoch {r['prev_epoch']}" if r.get("corrupted") else ""
        lines.append(
            f"  run {r['run']}: resumed from epoch {r['resumed_from']}{extra}; finished epochs {r['completed']}; "
            f"kill: {r['moment']}; exit status {r['status']} after {r['seconds']:.1f} s"
        )
    return "\n".join(lines)


def _state_dicts_equal(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_survives_five_kills_and_matches_an_uninterrupted_run(toy_asr, tmp_path: Path, capsys) -> None:
    exp, reference, logs = tmp_path / "exp", tmp_path / "reference", tmp_path / "logs"
    logs.mkdir()
    # the uninterrupted reference: a real `python -m ... --resume true` on a fresh folder, started first
    reference_log = open(logs / "reference.log", "w")
    reference_proc = subprocess.Popen(
        [sys.executable, "-m", "espnet2_speecht5.bin.asr_train", *toy_asr["args"], "--output_dir", str(reference)],
        stdout=reference_log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=dict(os.environ, **RUN_ENV),
    )  # fmt: skip
    real = os.environ.get("SPEECHT5_KILL_TEST_PROCESSES") == "1"
    launcher = ProcessLauncher() if real else ForkLauncher()
    try:
        records = _kill_and_resume(launcher, [*toy_asr["args"], "--output_dir", str(exp)], exp, logs)
        # a copy of the experiment whose two checkpoints are both truncated: one ERROR line naming both
        broken = tmp_path / "broken"
        shutil.copytree(exp, broken, symlinks=True)
        for name in ("checkpoint.pth", "checkpoint.prev.pth"):
            with open(broken / name, "r+b") as handle:
                handle.truncate(1000)
        both_bad = launcher.start([*toy_asr["args"], "--output_dir", str(broken)], {}, logs / "both_bad.log")
        assert both_bad.wait() == 1
    finally:
        launcher.close()
        assert reference_proc.wait(timeout=600) == 0, (logs / "reference.log").read_text()[-3000:]
        reference_log.close()
    with capsys.disabled():
        print("\n" + _summary(records))

    last_line = (logs / "both_bad.log").read_text().strip().splitlines()[-1]
    assert last_line.startswith("ERROR: cannot resume training: neither ")
    assert str(broken / "checkpoint.pth") in last_line and str(broken / "checkpoint.prev.pth") in last_line
    # five SIGKILLs, then a clean finish
    assert [r["status"] for r in records] == [-9] * KILLS + [0], _summary(records)
    assert "The training was finished at 10 epochs" in records[-1]["log"]
    # each rerun resumed from what the previous run left in checkpoint.pth (or from prev after the truncation)
    for r in records:
        expected = r["prev_epoch"] if r.get("corrupted") else r["before"]
        assert r["resumed_from"] == expected, _summary(records)
    (corrupted,) = [r for r in records if r.get("corrupted")]
    warnings = [line for line in corrupted["log"].splitlines() if "WARNING" in line and "checkpoint" in line]
    assert len(warnings) == 1, warnings
    assert str(exp / "checkpoint.pth") in warnings[0] and str(exp / "checkpoint.prev.pth") in warnings[0]
    assert corrupted["resumed_file"] == "checkpoint.prev.pth"
    # the kill inside the checkpoint write left the old checkpoint and only a temporary file
    (in_write,) = [r for r in records if r["moment"] == "inside the write of checkpoint.pth"]
    assert in_write["after"] == in_write["resumed_from"]
    assert any(name.startswith(".checkpoint.pth.") for name in in_write["temporaries_after_kill"])
    # every epoch was trained to the end in some run, and the final reporter knows each one
    assert set().union(*[r["completed"] for r in records]) == set(range(1, MAX_EPOCH + 1))
    final = load_checkpoint(exp / "checkpoint.pth")
    assert final["reporter"]["epoch"] == MAX_EPOCH
    assert sorted(final["reporter"]["stats"]) == list(range(1, MAX_EPOCH + 1))
    assert all({"train", "valid"} <= set(final["reporter"]["stats"][e]) for e in range(1, MAX_EPOCH + 1))
    # the files load weights-only and fit the model; nothing half-written is left
    model, _ = ASRTask.build_model_from_file(exp / "config.yaml", None, "cpu")
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for name in [f"{e}epoch.pth" for e in range(1, MAX_EPOCH + 1)] + ["valid.acc.ave.pth", "latest.pth"]:
        state = load_checkpoint(exp / name)
        assert {k: tuple(v.shape) for k, v in state.items()} == shapes, name
    assert os.readlink(exp / "latest.pth") == f"{MAX_EPOCH}epoch.pth"
    assert _temporaries(exp) == []
    # resuming is exact: the same weights and reports as the uninterrupted run
    for name in [f"{e}epoch.pth" for e in range(1, MAX_EPOCH + 1)]:
        assert _state_dicts_equal(load_checkpoint(exp / name), load_checkpoint(reference / name)), name
    expected_stats = load_checkpoint(reference / "checkpoint.pth")["reporter"]["stats"]
    for epoch in range(1, MAX_EPOCH + 1):
        for phase in ("train", "valid"):
            assert final["reporter"]["stats"][epoch][phase]["loss"] == expected_stats[epoch][phase]["loss"]
