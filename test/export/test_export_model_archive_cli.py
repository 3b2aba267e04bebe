"""The stage 12 helpers of bin/export_model.py: safetensors, checksum, and check (which verifies first)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
import yaml
from archive_helpers import MODEL, files_under, pack_tiny_model, read_members, tiny_network, write_members

from espnet2_speecht5.bin.export_model import main
from espnet2_speecht5.checkpoint.archive import verify_archive
from espnet2_speecht5.checkpoint.io import load_checkpoint
from espnet2_speecht5.runtime.errors import DataError


class TouchesMarker:
    """Unpickles as ``os.system("touch <marker>")``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


def test_safetensors_holds_the_same_tensors(tmp_path: Path):
    state = {**tiny_network().state_dict(), "steps": torch.arange(4, dtype=torch.int64)}
    state["tied"] = state["weight"]  # shared storage, as tied embeddings have
    torch.save(state, tmp_path / "model.pth")
    main(["safetensors", str(tmp_path / "model.pth"), str(tmp_path / "model.safetensors")])
    again = load_checkpoint(tmp_path / "model.safetensors")
    assert set(again) == set(state)
    for key, value in state.items():
        assert again[key].dtype == value.dtype and torch.equal(again[key], value)
    assert files_under(tmp_path) == ["model.pth", "model.safetensors"]  # written through a renamed temporary


def test_safetensors_refuses_a_code_running_pickle(tmp_path: Path):
    marker = tmp_path / "marker"
    torch.save({"weight": TouchesMarker(marker)}, tmp_path / "evil.pth")
    with pytest.raises(DataError, match="refusing to unpickle") as err:
        main(["safetensors", str(tmp_path / "evil.pth"), str(tmp_path / "evil.safetensors")])
    assert "\n" not in str(err.value) and str(tmp_path / "evil.pth") in str(err.value)
    assert files_under(tmp_path) == ["evil.pth"]


def test_checksum_then_check(tmp_path: Path):
    zip_path = pack_tiny_model(tmp_path / "recipe")
    main(["checksum", str(zip_path)])
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        meta = yaml.safe_load(archive.read("meta.yaml"))
    assert set(meta["sha256"]) == set(names) - {"meta.yaml"}
    assert verify_archive(zip_path) == meta
    main(["check", str(zip_path), "--cachedir", str(tmp_path / "cache")])
    assert (tmp_path / "cache").is_dir()

    members = read_members(zip_path)
    model = bytearray(members[MODEL])
    model[len(model) // 2] ^= 0xFF
    tampered = write_members(tmp_path / "tampered.zip", {**members, MODEL: bytes(model)})
    proc = subprocess.run(
        [sys.executable, "-m", "espnet2_speecht5.bin.export_model", "check", str(tampered), "--cachedir",
         str(tmp_path / "cache2")],
        capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"ERROR: {tampered}: member '{MODEL}' fails its checksum (sha256 "
        f"{hashlib.sha256(model).hexdigest()[:16]}..., meta.yaml says {meta['sha256'][MODEL][:16]}...)"
    )
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "cache2").exists()  # refused before espnet_model_zoo saw it
