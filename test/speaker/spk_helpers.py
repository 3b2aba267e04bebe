"""Helpers of the speaker-embedding tests: toy data directories, a tiny speaker config, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Mapping

import numpy as np
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parents[2]
RATE = 16000


def voice(speaker_index: int, utt_index: int, seconds: float = 1.0) -> np.ndarray:
    """A buzzy harmonic tone whose pitch and spectral tilt depend on the speaker; shape (samples,)."""
    rng = np.random.default_rng(1000 * speaker_index + utt_index)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 90.0 + 55.0 * speaker_index + rng.uniform(-3, 3)
    tilt = 0.5 + 0.15 * speaker_index
    wave = sum((tilt**k) * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.28)) for k in range(1, 12))
    wave = wave * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(2, 4) * t))  # syllable-like envelope
    wave = wave + 0.02 * rng.standard_normal(t.shape)
    return (0.3 * wave / np.max(np.abs(wave))).astype(np.float32)


def make_data_dir(root: Path, name: str, speakers: Mapping[str, int], seconds: float = 1.0) -> Path:
    """``root/<name>`` with wav.scp (16 kHz FLAC files), utt2spk, spk2utt and utt2num_samples.

    ``speakers`` maps a speaker id to its number of utterances; utterance ids are
    ``<spk>_<name>_<k>``, and a speaker's voice depends only on its position in ``sorted(speakers)``
    of the whole test (its id's trailing digit), so the same speaker sounds alike in every set.
    """
    data = root / name
    wavs = root / "wavs" / name
    data.mkdir(parents=True)
    wavs.mkdir(parents=True)
    utt2spk: Dict[str, str] = {}
    lengths: Dict[str, int] = {}
    for spk, count in speakers.items():
        for k in range(count):
            utt = f"{spk}_{name}_{k}"
            samples = voice(int(spk[-1]), k + 100 * len(name), seconds)
            sf.write(wavs / f"{utt}.flac", samples, RATE, subtype="PCM_16")
            utt2spk[utt] = spk
            lengths[utt] = len(samples)
    utts = sorted(utt2spk)
    (data / "wav.scp").write_text("".join(f"{u} {wavs / (u + '.flac')}\n" for u in utts))
    (data / "utt2spk").write_text("".join(f"{u} {utt2spk[u]}\n" for u in utts))
    (data / "utt2num_samples").write_text("".join(f"{u} {lengths[u]}\n" for u in utts))
    spk2utt: Dict[str, List[str]] = {}
    for u in utts:
        spk2utt.setdefault(utt2spk[u], []).append(u)
    (data / "spk2utt").write_text("".join(f"{s} {' '.join(us)}\n" for s, us in sorted(spk2utt.items())))
    return data


def read_utt2spk(data: Path) -> Dict[str, str]:
    return dict(line.split() for line in (data / "utt2spk").read_text().splitlines())


def tiny_spk_conf(dim: int = 512, spk_num: int = 3) -> dict:
    """A very small x-vector model of ESPnet's spk task, with a ``dim``-sized output."""
    return {
        "frontend": "melspec_torch",
        "frontend_conf": {"n_fft": 512, "win_length": 400, "hop_length": 160, "n_mels": 20, "log": True,
                          "normalize": "mn"},
        "specaug": None,
        "normalize": None,
        "encoder": "xvector",
        "encoder_conf": {"ndim": 16, "output_size": 24},
        "pooling": "stats",
        "pooling_conf": {},
        "projector": "xvector",
        "projector_conf": {"output_size": dim},
        "preprocessor": "spk",
        "preprocessor_conf": {"target_duration": 0.5, "sample_rate": RATE, "num_eval": 1, "rir_apply_prob": 0.0,
                              "noise_apply_prob": 0.0},
        "loss": "aamsoftmax",
        "loss_conf": {"margin": 0.2, "scale": 30},
        "spk_num": spk_num,
        "init": None,
        "input_size": None,
    }  # fmt: skip


def run_cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    """Run ``python -m espnet2_speecht5.bin.make_speaker_embeddings args...`` (text mode)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "espnet2_speecht5.bin.make_speaker_embeddings", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The single ``ERROR:`` line of a failed run (exit 1, no traceback)."""
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, proc.stderr[-2000:]
    return errors[0]
