"""Mangled and unsafe checkpoints: one-line errors naming the first bad key or file."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import warnings

import pytest
import torch

from espnet2_speecht5.bin.convert_checkpoint import main
from espnet2_speecht5.checkpoint.convert import write_ours
from espnet2_speecht5.checkpoint.io import CheckpointError, load_checkpoint, save_torch
from espnet2_speecht5.nets.compositions import SpeechToText
from espnet2_speecht5.nets.config import SpeechT5Config


@pytest.fixture(scope="module")
def ours_pth(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ours")
    net = SpeechToText(SpeechT5Config.tiny())
    write_ours(net.state_dict(), "s2t", net.cfg, folder / "model.pth")
    return folder / "model.pth"


def _variant(ours_pth, tmp_path, edit) -> str:
    state = torch.load(ours_pth, weights_only=True)
    edit(state)
    out = tmp_path / "model.pth"
    torch.save(state, out)
    (tmp_path / "model.json").write_bytes(ours_pth.with_suffix(".json").read_bytes())
    return str(out)


def _convert(path: str, tmp_path, *flags: str) -> None:
    main(["ours2hf", "--input", path, "--output", str(tmp_path / "hf"), *flags])


def test_missing_key_is_named(ours_pth, tmp_path):
    path = _variant(ours_pth, tmp_path, lambda s: s.pop("encoder.layers.1.ffn.fc2.bias"))
    with pytest.raises(CheckpointError, match=r"missing key 'encoder\.layers\.1\.ffn\.fc2\.bias'") as err:
        _convert(path, tmp_path)
    assert "\n" not in str(err.value)
    _convert(path, tmp_path, "--allow_missing")


def test_unexpected_key_stops_unless_allowed(ours_pth, tmp_path):
    path = _variant(ours_pth, tmp_path, lambda s: s.update({"encoder.extra.weight": torch.zeros(2)}))
    with pytest.raises(CheckpointError, match=r"unexpected key 'encoder\.extra\.weight'"):
        _convert(path, tmp_path)
    _convert(path, tmp_path, "--allow_unexpected")


def test_wrong_shape_is_named(ours_pth, tmp_path):
    path = _variant(ours_pth, tmp_path, lambda s: s.update({"decoder.layers.0.ffn.fc1.weight": torch.zeros(3, 64)}))
    with pytest.raises(CheckpointError, match=r"wrong shape for key 'decoder\.layers\.0\.ffn\.fc1\.weight'"):
        _convert(path, tmp_path, "--allow_missing", "--allow_unexpected")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_truncated_file_is_named(ours_pth, tmp_path, suffix):
    state = torch.load(ours_pth, weights_only=True)
    path = tmp_path / f"model{suffix}"
    if suffix == ".pth":
        torch.save(state, path)
    else:
        from safetensors.torch import save_file

        save_file(state, str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


class _Evil:
    """Unpickling this would create a file."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_code_running_pickle_is_refused(tmp_path, how):
    target = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pt"
    payload = {"model": {"w": torch.zeros(1)}, "extra": _Evil(str(target))}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        import pickle

        path.write_bytes(pickle.dumps(payload))
    # torch.save files are scanned and refused by name; a raw pickle is not a torch checkpoint at all
    expected = "refusing to unpickle global 'io.open'" if how == "torch.save" else "not a weights-only torch checkpoint"
    with pytest.raises(CheckpointError, match=expected) as err:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load_checkpoint(path)
    print(f"[unsafe] {how}: {err.value}")
    assert "\n" not in str(err.value)
    assert not target.exists(), "the pickle's code ran"


def test_config_objects_in_official_checkpoints_load_inertly(tmp_path):
    path = tmp_path / "official.pt"
    torch.save({"model": {"w": torch.ones(2)}, "args": argparse.Namespace(encoder_layers=12)}, path)
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], torch.ones(2))
    assert type(loaded["args"]).__name__ == "Namespace" and not isinstance(loaded["args"], argparse.Namespace)


def test_cli_prints_one_error_line(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    (tmp_path / "bad.json").write_text('{"network": "s2t", "config": {}}')
    env = dict(os.environ)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "espnet2_speecht5.bin.convert_checkpoint",
            "ours2hf",
            "--input",
            str(bad),
            "--output",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and str(bad) in errors[0], proc.stderr
    assert "truncated or corrupt" in errors[0]
    print(f"[cli] {errors[0]}")


def test_save_is_atomic(tmp_path):
    path = tmp_path / "x.pth"
    save_torch({"a": torch.ones(1)}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pth"]
