"""Speech from espeak-ng: voices that act as speakers, one call per utterance, run in parallel.

Each utterance is one ``espeak-ng -v <voice> -s <speed> -p <pitch> -w out.wav "text"`` call;
the 22.05 kHz output is resampled to 16 kHz mono, scaled to a fixed peak and written as FLAC.
The result depends only on the text and the voice settings, so the corpus is reproducible.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Sequence, Union

import numpy as np
import soundfile as sf

from espnet2_speecht5.data.audio import resample, to_mono, write_flac

SAMPLE_RATE = 16000
# Peak level of every clean utterance: low enough that noise added at 0 dB SNR rarely clips.
PEAK = 0.3
ESPEAK = "espeak-ng"
INSTALL_HINT = "install the espeak-ng package (apt-get install espeak-ng, brew install espeak-ng)"


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice acting as one speaker.

    Attributes:
        spk: speaker id (letters and digits only, so ids can be joined with ``_``).
        gender: ``f`` or ``m``.
        voice: espeak-ng voice name with a variant, e.g. ``en-us+f3``.
        pitch: espeak-ng ``-p`` (0-99, default 50).
        speed: espeak-ng ``-s`` in words per minute (default 175).
    """

    spk: str
    gender: str
    voice: str
    pitch: int
    speed: int


# Four female and four male voices: different accents, variants, pitches and speeds.
SPEAKERS = (
    Voice("usf3", "f", "en-us+f3", 55, 165),
    Voice("gbf2", "f", "en-gb+f2", 62, 155),
    Voice("scf4", "f", "en-gb-scotland+f4", 48, 172),
    Voice("rpf5", "f", "en-gb-x-rp+f5", 68, 160),
    Voice("usm3", "m", "en-us+m3", 40, 160),
    Voice("gbm2", "m", "en-gb+m2", 34, 170),
    Voice("cam4", "m", "en-029+m4", 46, 150),
    Voice("rpm7", "m", "en-gb-x-rp+m7", 28, 165),
)


@dataclass(frozen=True)
class SynthJob:
    """One utterance to synthesise into ``path`` (a ``.flac`` file)."""

    text: str
    voice: Voice
    path: Path


def find_espeak() -> str:
    """Path of the espeak-ng program.

    Raises:
        RuntimeError: espeak-ng is not on PATH (the message says how to install it).
    """
    found = shutil.which(ESPEAK)
    if found is None:
        raise RuntimeError(f"{ESPEAK} is not installed or not on PATH: {INSTALL_HINT}")
    return found


def synthesize(text: str, voice: Voice, espeak: Optional[str] = None) -> np.ndarray:
    """Speak ``text`` with ``voice``.

    Returns:
        float32 samples of shape (num_samples,) at :data:`SAMPLE_RATE`, peak :data:`PEAK`.

    Raises:
        RuntimeError: espeak-ng failed or wrote no audio (the message names the voice and text).
    """
    program = espeak or find_espeak()
    with tempfile.TemporaryDirectory(prefix="espeak_") as tmp:
        out = os.path.join(tmp, "out.wav")
        command = [program, "-v", voice.voice, "-s", str(voice.speed), "-p", str(voice.pitch), "-w", out, "--", text]
        try:
            proc = subprocess.run(command, capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise RuntimeError(f"{ESPEAK} -v {voice.voice} failed on '{text}': {err}") from None
        if proc.returncode != 0 or not os.path.isfile(out):
            lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            reason = lines[-1] if lines else f"exit status {proc.returncode}"
            raise RuntimeError(f"{ESPEAK} -v {voice.voice} failed on '{text}': {reason}")
        try:
            samples, rate = sf.read(out, dtype="float32", always_2d=False)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise RuntimeError(f"{ESPEAK} -v {voice.voice} wrote unreadable audio for '{text}': {err}") from None
    samples = resample(to_mono(samples)[0], int(rate), SAMPLE_RATE)
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak <= 0.0:
        raise RuntimeError(f"{ESPEAK} -v {voice.voice} wrote silence for '{text}'")
    return (samples * (PEAK / peak)).astype(np.float32)


def _run_job(job: SynthJob, espeak: str) -> int:
    samples = synthesize(job.text, job.voice, espeak)
    write_flac(job.path, samples, SAMPLE_RATE)
    return int(samples.shape[0])


def synthesize_all(
    jobs: Sequence[SynthJob],
    nj: Optional[int] = None,
    on_done: Optional[Callable[[int], None]] = None,
) -> List[int]:
    """Synthesise every job into its FLAC file, ``nj`` at a time (default: one per CPU core).

    Threads suffice: the work happens in espeak-ng processes and in numpy/libsndfile calls.

    Args:
        jobs: utterances to make.
        nj: parallel jobs.
        on_done: called with 1 after each finished utterance (e.g. a progress bar's update).

    Returns:
        The number of samples of each job's audio, in the order of ``jobs``.
    """
    espeak = find_espeak()
    workers = max(1, nj or os.cpu_count() or 1)
    lengths: List[int] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for length in pool.map(lambda job: _run_job(job, espeak), jobs):
            lengths.append(length)
            if on_done is not None:
                on_done(1)
    return lengths


def read_flac(path: Union[str, Path]) -> np.ndarray:
    """Samples of a mono FLAC of the corpus, float32 of shape (num_samples,)."""
    samples, _ = sf.read(str(path), dtype="float32", always_2d=False)
    return samples


def voices_by_id(voices: Iterable[Voice] = SPEAKERS) -> dict:
    """``{spk: Voice}``."""
    return {v.spk: v for v in voices}
