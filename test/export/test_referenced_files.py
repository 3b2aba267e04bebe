"""Which files named in a training config travel with a packed model (export/package.referenced_files)."""

from __future__ import annotations

import yaml

from espnet2_speecht5.export.package import referenced_files


def test_model_files_travel_and_training_data_does_not(tmp_path):
    for name in ("bpe.model", "feats_stats.npz", "train.wav.scp", "text", "text_shape", "dev_text", "dev_shape"):
        (tmp_path / name).write_text("x\n")
    config = {
        "bpemodel": "bpe.model",
        "normalize_conf": {"stats_file": str(tmp_path / "feats_stats.npz")},  # absolute paths too
        "train_data_path_and_name_and_type": [["train.wav.scp", "speech", "sound"]],
        # pre-training's text corpora (tasks/pretrain.py) only serve training
        "train_text_data_path_and_name_and_type": [["text", "text", "text"]],
        "train_text_shape_file": ["text_shape"],
        "valid_text_data_path_and_name_and_type": [["dev_text", "text", "text"]],
        "valid_text_shape_file": ["dev_shape"],
        "token_type": "char",  # not a file
        "missing": "nowhere.model",  # names no file
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    assert referenced_files([path, path], base=tmp_path) == ["bpe.model", str(tmp_path / "feats_stats.npz")]
