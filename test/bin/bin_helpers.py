"""Helpers for the stage 2-5 entry point tests: tiny data directories and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parents[2]

# utt -> (samples of shape (n,) or (n, ch), rate), or a string: "missing", "corrupt", "empty", "zero_samples"
AudioSpec = Union[Tuple[np.ndarray, int], str]


def tone(seconds: float, rate: int, channels: int = 1, freq: float = 440.0) -> Tuple[np.ndarray, int]:
    """A sine of ``seconds`` at ``rate``: shape (n,) or (n, channels)."""
    t = np.arange(int(round(seconds * rate))) / rate
    x = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    if channels > 1:
        x = np.stack([x * (c + 1) / channels for c in range(channels)], axis=1)
    return x, rate


def write_audio(path: Path, spec: AudioSpec) -> None:
    if spec == "missing":
        return
    if spec == "corrupt":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    elif spec == "empty":
        path.write_bytes(b"")
    elif spec == "zero_samples":
        sf.write(path, np.zeros(0, dtype=np.float32), 16000, subtype="PCM_16")
    else:
        samples, rate = spec
        sf.write(path, samples, rate, subtype="PCM_16")


def make_data_dir(
    root: Path,
    audio: Dict[str, AudioSpec],
    text: Optional[Dict[str, str]] = None,
    tgt_audio: Optional[Dict[str, AudioSpec]] = None,
    name: str = "train",
) -> Path:
    """Write ``root/data/<name>`` with wav.scp, utt2spk (speaker = id before '_'), spk2utt, text."""
    data = root / "data" / name
    wavs = root / "wavs" / name
    data.mkdir(parents=True)
    wavs.mkdir(parents=True)
    lines = []
    for utt, spec in sorted(audio.items()):
        path = wavs / f"{utt}.wav"
        write_audio(path, spec)
        lines.append(f"{utt} {path}\n")
    (data / "wav.scp").write_text("".join(lines))
    if tgt_audio is not None:
        tgt_lines = []
        for utt, spec in sorted(tgt_audio.items()):
            path = wavs / f"{utt}_tgt.wav"
            write_audio(path, spec)
            tgt_lines.append(f"{utt} {path}\n")
        (data / "wav_tgt.scp").write_text("".join(tgt_lines))
    (data / "utt2spk").write_text("".join(f"{u} {u.split('_')[0]}\n" for u in sorted(audio)))
    spk2utt: Dict[str, list] = {}
    for u in sorted(audio):
        spk2utt.setdefault(u.split("_")[0], []).append(u)
    (data / "spk2utt").write_text("".join(f"{s} {' '.join(us)}\n" for s, us in sorted(spk2utt.items())))
    if text is None:
        text = {u: f"hello {u.split('_')[-1]}" for u in audio}
    (data / "text").write_text("".join(f"{u} {t}\n" for u, t in sorted(text.items())))
    return data


def run_cli(module: str, *args: str, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    """Run ``python -m espnet2_speecht5.bin.<module> args...`` and return the CompletedProcess (text)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", f"espnet2_speecht5.bin.{module}", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """Check exit status 1, no traceback, and an ``ERROR:`` line containing every needle; return that line."""
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def read_kaldi(path: Path) -> Dict[str, str]:
    result = {}
    for line in path.read_text().splitlines():
        parts = line.split(maxsplit=1)
        if not parts:
            continue
        result[parts[0]] = parts[1] if len(parts) > 1 else ""
    return result
