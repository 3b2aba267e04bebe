"""Helpers of the archive tests: a tiny model packed by ``espnet2.bin.pack``, and zip surgery."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch
import yaml

EXP = "exp/asr_tiny"
CONFIG, MODEL, BPE, RESULTS = f"{EXP}/config.yaml", f"{EXP}/model.pth", f"{EXP}/bpe.model", f"{EXP}/RESULTS.md"


def tiny_network() -> torch.nn.Module:
    """The 'network' whose weights the tiny archive carries: Linear(3 -> 2), weight (2, 3), bias (2,)."""
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2)


def pack_tiny_model(root: Path, model_writer: Optional[Callable[[Path], None]] = None, name: str = "tiny.zip") -> Path:
    """Write a toy ASR experiment under ``root`` and pack it with ``python -m espnet2.bin.pack``.

    The config names ``exp/asr_tiny/bpe.model`` (packed with ``--option``), so unpacking must
    rewrite that value.  ``model_writer(path)`` writes the model file (default: the state dict
    of :func:`tiny_network`).  Returns the zip, ``root/exp/asr_tiny/<name>``.
    """
    exp = root / EXP
    exp.mkdir(parents=True, exist_ok=True)
    (root / CONFIG).write_text(yaml.safe_dump({"bpemodel": BPE, "token_type": "bpe", "frontend": "default"}))
    (root / BPE).write_bytes(b"not really a sentencepiece model\n")
    (root / RESULTS).write_text("# RESULTS\n|dataset|Snt|Err|\n|test|3|1.0|\n")
    (model_writer or (lambda path: torch.save(tiny_network().state_dict(), path)))(root / MODEL)
    zip_path = exp / name
    proc = subprocess.run(
        [sys.executable, "-m", "espnet2.bin.pack", "asr", "--asr_train_config", CONFIG, "--asr_model_file", MODEL,
         "--option", BPE, "--option", RESULTS, "--outpath", str(zip_path.relative_to(root))],
        cwd=root, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return zip_path


def read_members(zip_path: Path) -> Dict[str, bytes]:
    """Every member of a (small) zip, in order."""
    with zipfile.ZipFile(zip_path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_members(zip_path: Path, members: Dict[str, bytes], extra: Optional[List[zipfile.ZipInfo]] = None) -> Path:
    """Write ``members`` (name -> bytes, in order) as a stored zip; ``extra`` infos get a link target."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data)
        for info in extra or []:
            archive.writestr(info, b"/etc/passwd")
    return zip_path


def files_under(root: Path) -> List[str]:
    """Every path under ``root`` (files, folders and links), relative and sorted."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))
