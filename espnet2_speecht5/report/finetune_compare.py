"""Collect and summarise a pre-trained-versus-scratch fine-tuning comparison.

``utils/finetune_compare.sh`` leaves one folder per run::

    runs/<init>_seed<N>/asr_<init>_seed<N>/train.log            (ESPnet's trainer log; train.log.<k> after resumes)
    runs/<init>_seed<N>/asr_<init>_seed<N>/<decode dir>/<test set>/scores.json   (stage 10)

where ``<init>`` is ``pretrained`` or ``scratch``.  :func:`collect_runs` reads them,
:func:`comparison_markdown` writes the report and :func:`plot_valid_accuracy` the curves.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet2_speecht5.runtime.errors import DataError

INITS = ("pretrained", "scratch")
_RUN_NAME = re.compile(r"^(?P<init>[a-z]+)_seed(?P<seed>\d+)$")
# ESPnet's trainer: "... 12epoch results: [train] ..., acc=0.5, ... [valid] loss=..., acc=0.8, ..."
_EPOCH_LINE = re.compile(r"\b(?P<epoch>\d+)epoch results: .*\[valid\](?P<valid>.*)$")
_VALID_ACC = re.compile(r"\bacc=(?P<acc>[0-9.eE+-]+)")


@dataclass
class RunResult:
    """One fine-tuning run: its test scores and its validation accuracy per epoch."""

    init: str
    seed: int
    exp_dir: Path
    cer: float
    wer: float
    valid_acc: Dict[int, float] = field(default_factory=dict)

    @property
    def best_epoch(self) -> Optional[int]:
        if not self.valid_acc:
            return None
        return max(self.valid_acc, key=lambda e: (self.valid_acc[e], -e))


def read_valid_accuracy(exp_dir: Path) -> Dict[int, float]:
    """Validation accuracy per epoch from ``train.log`` and the logs of interrupted runs.

    A resumed run's newer log wins for an epoch that appears twice.
    """
    logs = sorted(exp_dir.glob("train.log.*"), key=lambda p: int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0)
    logs += [exp_dir / "train.log"] if (exp_dir / "train.log").is_file() else []
    accuracy: Dict[int, float] = {}
    for log in logs:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            match = _EPOCH_LINE.search(line)
            if not match:
                continue
            acc = _VALID_ACC.search(match.group("valid"))
            if acc:
                accuracy[int(match.group("epoch"))] = float(acc.group("acc"))
    return accuracy


def read_error_rates(scores_json: Path) -> Dict[str, float]:
    """``{"cer": .., "wer": ..}`` in percent from stage 10's ``scores.json``."""
    if not scores_json.is_file():
        raise DataError("no scores: run stages 9-10 for this run (rerun utils/finetune_compare.sh)", scores_json)
    try:
        scores = json.loads(scores_json.read_text(encoding="utf-8"))
        return {metric: float(scores["metrics"][metric]) for metric in ("cer", "wer")}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise DataError(f"not a stage-10 scores.json with cer and wer ({err.__class__.__name__}: {err})",
                        scores_json) from err


def collect_runs(runs_dir: Path, decode_dir: str, test_set: str) -> List[RunResult]:
    """Every ``<init>_seed<N>`` run under ``runs_dir``, sorted by seed then init."""
    if not runs_dir.is_dir():
        raise DataError("does not exist", runs_dir)
    results: List[RunResult] = []
    for run in sorted(runs_dir.iterdir()):
        match = _RUN_NAME.match(run.name)
        if not run.is_dir() or not match:
            continue
        if match.group("init") not in INITS:
            raise DataError(f"unknown initialisation '{match.group('init')}' (expected {' or '.join(INITS)})", run)
        exp_dir = run / f"asr_{run.name}"
        rates = read_error_rates(exp_dir / decode_dir / test_set / "scores.json")
        results.append(RunResult(match.group("init"), int(match.group("seed")), exp_dir, rates["cer"],
                                 rates["wer"], read_valid_accuracy(exp_dir)))
    if not results:
        raise DataError("no <init>_seed<N> run folders: run utils/finetune_compare.sh first", runs_dir)
    return sorted(results, key=lambda r: (r.seed, INITS.index(r.init)))


def _mean_sd(values: Sequence[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def paired_seeds(results: Sequence[RunResult]) -> List[int]:
    """The seeds that have both a pre-trained and a scratch run."""
    by_init = {init: {r.seed for r in results if r.init == init} for init in INITS}
    return sorted(by_init["pretrained"] & by_init["scratch"])


def comparison_markdown(results: Sequence[RunResult], settings: Dict[str, str], early_epoch: int = 10) -> str:
    """The report: settings, one row per run, the mean (± sample s.d.) per initialisation, the verdict."""
    lines = ["# Fine-tuning from the pre-trained model versus training from scratch", ""]
    lines += [f"- {key}: {value}" for key, value in settings.items()]
    lines += ["", "| initialisation | seed | test CER (%) | test WER (%) | best dev acc (%) | at epoch "
              f"| dev acc after {early_epoch} epochs (%) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        best = r.best_epoch
        best_acc = f"{100 * r.valid_acc[best]:.1f}" if best is not None else "-"
        early = f"{100 * r.valid_acc[early_epoch]:.1f}" if early_epoch in r.valid_acc else "-"
        lines.append(f"| {r.init} | {r.seed} | {r.cer:.1f} | {r.wer:.1f} | {best_acc} | {best or '-'} | {early} |")
    lines += ["", "| initialisation | runs | test CER (%) | test WER (%) |", "| --- | --- | --- | --- |"]
    for init in INITS:
        runs = [r for r in results if r.init == init]
        if runs:
            lines.append(f"| {init} | {len(runs)} | {_mean_sd([r.cer for r in runs])} "
                         f"| {_mean_sd([r.wer for r in runs])} |")
    seeds = paired_seeds(results)
    lines.append("")
    if seeds:
        cer = {(r.init, r.seed): r.cer for r in results}
        gains = [cer["scratch", s] - cer["pretrained", s] for s in seeds]
        better = sum(gain > 0 for gain in gains)
        lines.append(f"Pre-training lowers the test CER on {better} of {len(seeds)} seed(s); "
                     f"CER reduction (scratch - pre-trained) per seed: "
                     + ", ".join(f"{g:+.1f}" for g in gains) + f" points (mean {statistics.mean(gains):+.1f}).")
    else:
        lines.append("No seed has both a pre-trained and a scratch run: nothing to compare yet.")
    return "\n".join(lines) + "\n"


def plot_valid_accuracy(results: Sequence[RunResult], out: Path) -> None:
    """Validation accuracy against epoch, one line per run (pre-trained solid, scratch dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    seeds = sorted({r.seed for r in results})
    for r in results:
        epochs = sorted(r.valid_acc)
        ax.plot(epochs, [100 * r.valid_acc[e] for e in epochs], color=colours[seeds.index(r.seed) % len(colours)],
                linestyle="-" if r.init == "pretrained" else "--", label=f"{r.init}, seed {r.seed}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("dev token accuracy (%)")
    ax.set_title("ASR on the labelled subset: pre-trained (solid) vs scratch (dashed)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
