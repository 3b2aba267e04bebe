"""A tiny pre-training data set on disk for the task, entry-point and stage-6 tests.

Speech: 16 kHz tones with noise, 0.3-0.9 s; labels: one random cluster id per 20 ms frame
(:func:`label_frames` of the audio); text: short sentences of a few words; the char token list
with ``<mask>``; shape files as stage 7 writes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy as np
import soundfile as sf
import yaml

from espnet2_speecht5.data.speech_labels import label_frames

NUM_CLUSTERS = 8
WORDS = ["red", "green", "blue", "cup", "box", "ball", "one", "two"]
NET_CONF = {
    "size": "tiny", "d_model": 16, "encoder_layers": 2, "encoder_heads": 2, "encoder_ffn_dim": 32,
    "decoder_layers": 1, "decoder_heads": 2, "decoder_ffn_dim": 32, "conv_channels": [8, 8, 8],
    "postnet_layers": 2, "speech_prenet_units": 16, "postnet_units": 16,
}  # fmt: skip
MODEL_CONF = {"num_clusters": NUM_CLUSTERS, "latent_vars": 4, "final_dim": 8}


def write_wavs(folder: Path, prefix: str, count: int, seed: int = 0) -> Dict[str, int]:
    """``count`` recordings ``<prefix>_<i>`` in ``folder/wav`` and ``folder/wav.scp``; returns utt -> samples."""
    rng = np.random.default_rng(seed)
    (folder / "wav").mkdir(parents=True, exist_ok=True)
    lengths, lines = {}, []
    for index in range(count):
        utt = f"{prefix}_{index:02d}"
        n = int(16000 * (0.3 + 0.6 * index / max(count - 1, 1)))
        t = np.arange(n) / 16000
        wave = 0.3 * np.sin(2 * np.pi * (150 + 40 * index) * t) * (1 + np.sin(2 * np.pi * 3 * t))
        wave = (0.3 * wave + 0.02 * rng.standard_normal(n)).astype(np.float32)
        path = folder / "wav" / f"{utt}.flac"
        sf.write(path, wave, 16000)
        lengths[utt] = n
        lines.append(f"{utt} {path}\n")
    (folder / "wav.scp").write_text("".join(lines))
    return lengths


def write_labels(path: Path, lengths: Dict[str, int], seed: int = 0, offset: Dict[str, int] = None) -> None:
    """Random cluster ids, ``label_frames(samples) + offset[utt]`` of them per utterance."""
    rng = np.random.default_rng(seed)
    offset = offset or {}
    lines = []
    for utt, n in lengths.items():
        ids = rng.integers(0, NUM_CLUSTERS, label_frames(n) + offset.get(utt, 0))
        lines.append(f"{utt} {' '.join(map(str, ids))}\n")
    path.write_text("".join(lines))


def write_text(path: Path, prefix: str, count: int, seed: int = 0) -> List[str]:
    rng = np.random.default_rng(seed)
    lines = [f"{prefix}{i:03d} {' '.join(rng.choice(WORDS, 2 + i % 4))}" for i in range(count)]
    path.write_text("".join(line + "\n" for line in lines))
    return lines


def token_list() -> List[str]:
    chars = sorted({c for w in WORDS for c in w})
    return ["<blank>", "<unk>", "<space>", *chars, "<mask>", "<sos/eos>"]


def make_dataset(root: Path) -> Dict[str, Path]:
    """train (8 utterances) and dev (4) speech with labels, train (24) and dev (6) text, tokens, shapes, config."""
    files: Dict[str, Path] = {}
    for name, count in (("train", 8), ("dev", 4)):
        folder = root / name
        lengths = write_wavs(folder, f"{name}utt", count, seed=len(name))
        write_labels(folder / "label", lengths, seed=len(name))
        (folder / "speech_shape").write_text("".join(f"{u} {n}\n" for u, n in lengths.items()))
        files[f"{name}_wav"], files[f"{name}_label"] = folder / "wav.scp", folder / "label"
        files[f"{name}_shape"] = folder / "speech_shape"
        text = write_text(folder / "text", f"{name}txt", 24 if name == "train" else 6, seed=len(name))
        (folder / "text_shape").write_text("".join(f"{line.split()[0]} {len(line.split(maxsplit=1)[1])}\n"
                                                   for line in text))
        files[f"{name}_text"], files[f"{name}_text_shape"] = folder / "text", folder / "text_shape"
    tokens = root / "tokens.txt"
    tokens.write_text("".join(t + "\n" for t in token_list()))
    files["tokens"] = tokens
    config = root / "train.yaml"
    config.write_text(yaml.safe_dump({
        "net_conf": NET_CONF, "model_conf": MODEL_CONF, "batch_type": "folded", "batch_size": 3,
        "text_batch_type": "folded", "text_batch_size": 4, "max_epoch": 1, "num_workers": 0,
        "best_model_criterion": [["valid", "acc_mlm", "max"]], "keep_nbest_models": 1,
        "optim": "adam", "optim_conf": {"lr": 0.001}, "max_speech_samples": 8000,
        "use_tensorboard": False, "use_matplotlib": False,
    }))  # fmt: skip
    files["config"] = config
    return files


def train_args(files: Dict[str, Path], out: Path, ratio: float = 0.5) -> List[str]:
    """Command-line options of a pretrain_train run on :func:`make_dataset`'s files."""
    return [
        "--config", str(files["config"]), "--token_list", str(files["tokens"]), "--output_dir", str(out),
        "--ngpu", "0", "--token_type", "char", "--fold_length", "80000",
        "--train_data_path_and_name_and_type", f"{files['train_wav']},speech,sound",
        "--train_data_path_and_name_and_type", f"{files['train_label']},label,text_int",
        "--valid_data_path_and_name_and_type", f"{files['dev_wav']},speech,sound",
        "--valid_data_path_and_name_and_type", f"{files['dev_label']},label,text_int",
        "--train_shape_file", str(files["train_shape"]), "--valid_shape_file", str(files["dev_shape"]),
        "--train_text_data_path_and_name_and_type", f"{files['train_text']},text,text",
        "--valid_text_data_path_and_name_and_type", f"{files['dev_text']},text,text",
        "--train_text_shape_file", str(files["train_text_shape"]),
        "--valid_text_shape_file", str(files["dev_text_shape"]),
        "--text_batch_ratio", str(ratio),
    ]  # fmt: skip
