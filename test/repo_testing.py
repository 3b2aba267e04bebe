"""Paths and recipe helpers shared by the tests (import them from here, not from conftest:
a conftest.py in a test subfolder would shadow the top-level one under that name)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Dict, List, Optional

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def copy_recipe(corpus: str, task_dir: str, dest_root: Path) -> Path:
    """Make a working copy of ``egs2/<corpus>/<task_dir>`` under ``dest_root``.

    Regular files are copied; symlinks are recreated pointing at their absolute targets in
    the repository, so the copy runs the repository's driver, utils and local scripts while
    writing data/, dump/ and exp/ only under ``dest_root``.
    """
    src = REPO_ROOT / "egs2" / corpus / task_dir
    dst = dest_root / "egs2" / corpus / task_dir
    dst.mkdir(parents=True)
    for entry in src.iterdir():
        if entry.name in ("data", "dump", "exp", "downloads"):
            continue
        target = dst / entry.name
        if entry.is_symlink():
            target.symlink_to(entry.resolve())
        elif entry.is_dir():
            target.symlink_to(entry.resolve())
        else:
            target.write_bytes(entry.read_bytes())
            target.chmod(entry.stat().st_mode)
    return dst


def run_recipe(recipe: Path, *args: str, env: Optional[Dict[str, str]] = None, timeout: int = 900):
    """Run ``./run.sh args...`` in ``recipe`` and return the CompletedProcess (text mode)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        ["./run.sh", *args], cwd=recipe, env=full_env, capture_output=True, text=True, timeout=timeout
    )


# the time-stamped progress lines of a recipe's local/data.sh (and of the download helper it calls)
DATA_SH_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\S+ \((local/data\.sh|download_and_unpack)\) ")


def run_data_sh(recipe: Path, env_prefix: str, env: Dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """``bash local/data.sh args...`` in a recipe copy, without the caller's ``<env_prefix>*`` variables
    but those in ``env`` (so a test never reads a corpus or a download address by accident)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(env_prefix)}
    full.update(env)
    return subprocess.run(
        ["bash", "local/data.sh", *args], cwd=recipe, env=full, capture_output=True, text=True, timeout=60
    )


def error_lines(proc: subprocess.CompletedProcess) -> List[str]:
    """A data.sh run's stderr without its time-stamped progress lines."""
    return [line for line in proc.stderr.splitlines() if not DATA_SH_LOG_LINE.match(line)]


def randomise_norms(model, seed: int = 1) -> None:
    """Give norms, alphas and BatchNorm statistics non-trivial values, so that porting each one is checked."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith(("norm.weight", "alpha", "running_var")):  # LayerNorm, GroupNorm, BatchNorm
                tensor.copy_(1.0 + 0.2 * torch.rand(tensor.shape, generator=gen))
            elif name.endswith(("norm.bias", "running_mean")):
                tensor.copy_(0.1 * torch.randn(tensor.shape, generator=gen))
