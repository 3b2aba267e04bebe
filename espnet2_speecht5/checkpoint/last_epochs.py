"""The models of the last N epochs, and their average (the SpeechT5 paper decodes ST with the
average of the last 10 checkpoints).

ESPnet's trainer keeps only the n-best epochs of its criteria. With ``keep_last_epochs: N`` in
the training config, every ``<n>epoch.pth`` the trainer writes is also hard-linked (copied where
links are not possible) into ``<exp>/last_epochs/``, which holds the newest N; when training
ends, ``<exp>/last<N>epochs.ave.pth`` is their parameter average, for ``--inference_model``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import Dict, List, Sequence

import torch

from espnet2_speecht5.checkpoint.atomic_files import atomic_torch_save
from espnet2_speecht5.checkpoint.io import load_checkpoint
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger(__name__)

LAST_DIR = "last_epochs"
EPOCH_FILE = re.compile(r"^(\d+)epoch\.pth$")


def average_name(count: int) -> str:
    """``last10epochs.ave.pth``."""
    return f"last{count}epochs.ave.pth"


def epochs_in(folder: Path) -> Dict[int, Path]:
    """``{epoch: path}`` of the ``<n>epoch.pth`` files in ``folder``."""
    found = {}
    if folder.is_dir():
        for path in folder.iterdir():
            match = EPOCH_FILE.match(path.name)
            if match:
                found[int(match.group(1))] = path
    return found


def keep_epoch_model(epoch_file: PathLike, count: int) -> None:
    """Link ``<exp>/<n>epoch.pth`` into ``<exp>/last_epochs/`` and drop all but the newest ``count`` there."""
    epoch_file = Path(epoch_file)
    folder = epoch_file.parent / LAST_DIR
    folder.mkdir(exist_ok=True)
    kept = folder / epoch_file.name
    kept.unlink(missing_ok=True)
    try:
        os.link(epoch_file, kept)
    except OSError:
        shutil.copyfile(epoch_file, kept)
    epochs = epochs_in(folder)
    for epoch in sorted(epochs)[:-count]:
        epochs[epoch].unlink()


def average_states(paths: Sequence[PathLike]) -> Dict[str, torch.Tensor]:
    """The parameter average of model state dicts; integer buffers (BatchNorm counters) are summed, as ESPnet does.

    Raises:
        DataError: no file, or files whose keys or shapes differ (naming the first such file).
    """
    if not paths:
        raise DataError("no epoch model to average")
    total: Dict[str, torch.Tensor] = {}
    for path in paths:
        state = load_checkpoint(path)
        if not total:
            total = {k: v.detach().to(torch.float64) if v.is_floating_point() else v.clone() for k, v in state.items()}
            first = Path(path)
            continue
        if set(state) != set(total) or any(state[k].shape != total[k].shape for k in state):
            raise DataError(f"its parameters differ from those of {first}: not the same model", path)
        for key, value in state.items():
            total[key] = total[key] + (value.to(torch.float64) if value.is_floating_point() else value)
    reference = load_checkpoint(paths[-1])
    return {k: (v / len(paths)).to(reference[k].dtype) if reference[k].is_floating_point() else v
            for k, v in total.items()}


def average_last_epochs(exp_dir: PathLike, count: int) -> Path:
    """Write ``<exp>/last<count>epochs.ave.pth`` from ``<exp>/last_epochs/``; returns its path.

    Fewer than ``count`` kept epochs (a short run) are averaged as they are, with a warning.
    """
    exp_dir = Path(exp_dir)
    epochs = epochs_in(exp_dir / LAST_DIR)
    chosen: List[int] = sorted(epochs)[-count:]
    if not chosen:
        raise DataError(f"no epoch model in {exp_dir / LAST_DIR} to average (keep_last_epochs {count})")
    if len(chosen) < count:
        logger.warning(f"only {len(chosen)} epoch model(s) to average, not {count}")
    out = exp_dir / average_name(count)
    atomic_torch_save(average_states([epochs[e] for e in chosen]), out)
    logger.info(f"{out}: the average of epochs {', '.join(map(str, chosen))}")
    return out
