"""Build small Kaldi data directories with real audio for the utils/ tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parents[2]
UTILS = REPO_ROOT / "utils"


def write_wav(path: Path, seconds: float = 0.1, rate: int = 16000, channels: int = 1, seed: int = 0) -> Path:
    """A short noise signal as 16-bit PCM."""
    rng = np.random.default_rng(seed)
    shape = (int(seconds * rate),) if channels == 1 else (int(seconds * rate), channels)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.1 * rng.standard_normal(shape)).astype(np.float32), rate, subtype="PCM_16")
    return path


def write_lines(path: Path, lines: Sequence[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def make_data_dir(
    root: Path,
    name: str = "train",
    speakers: Sequence[str] = ("spkA", "spkB"),
    per_speaker: int = 3,
    task: str = "asr",
    audio: bool = True,
) -> Path:
    """``root/name`` with wav.scp, utt2spk, spk2utt and the task's other files, all sorted."""
    data = root / name
    data.mkdir(parents=True)
    utts: Dict[str, str] = {}
    for spk in speakers:
        for i in range(per_speaker):
            utts[f"{spk}_{i:03d}"] = spk
    keys = sorted(utts, key=lambda k: k.encode())
    wav_dir = root / "wav" / name
    wavs: List[str] = []
    tgts: List[str] = []
    for i, utt in enumerate(keys):
        path = wav_dir / f"{utt}.wav"
        if audio:
            write_wav(path, seed=i)
        wavs.append(f"{utt} {path}")
        if task in ("vc", "se"):
            tgt = wav_dir / f"{utt}.tgt.wav"
            if audio:
                write_wav(tgt, seed=100 + i)
            tgts.append(f"{utt} {tgt}")
    write_lines(data / "wav.scp", wavs)
    write_lines(data / "utt2spk", [f"{u} {utts[u]}" for u in keys])
    spk2utt: Dict[str, List[str]] = {}
    for u in keys:
        spk2utt.setdefault(utts[u], []).append(u)
    write_lines(data / "spk2utt", [f"{s} {' '.join(us)}" for s, us in sorted(spk2utt.items())])
    if task in ("asr", "tts", "st"):
        write_lines(data / "text", [f"{u} hello world number {i}" for i, u in enumerate(keys)])
    if task == "st":
        write_lines(data / "text.tgt", [f"{u} hallo welt nummer {i}" for i, u in enumerate(keys)])
    if task in ("vc", "se"):  # vc: the target speaker's recording; se: the clean one
        write_lines(data / ("wav_tgt.scp" if task == "vc" else "wav_clean.scp"), tgts)
    if task == "vc":
        write_lines(data / "utt2spk_tgt", [f"{u} tgtspk" for u in keys])
    return data


def read_lines(path: Path) -> List[str]:
    return path.read_text(encoding="utf-8").splitlines()


def run_util(
    name: str, *args: str, cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None, stdin: str = ""
) -> subprocess.CompletedProcess:
    """Run ``utils/<name>`` with the test's Python and return the CompletedProcess (text mode)."""
    full_env = dict(os.environ)
    full_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{UTILS}{os.pathsep}{full_env.get('PATH', '')}"
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(UTILS / name), *args],
        cwd=cwd,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """The tool failed with exactly one ``ERROR:`` line on stderr that contains every needle."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ERROR: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]
