"""The files of a generated speech set (stage 9 of TTS and VC), written one utterance at a time.

Under the output folder:

* ``wav/<utt>.wav`` and ``wav.scp`` (16 kHz, PCM-16), when a vocoder made a waveform;
* ``feats.ark`` / ``feats.scp``: the generated log10 mel (T, 80);
* ``speech_shape``: ``<utt> T,80`` per utterance;
* ``plots/<utt>.mel.png`` (with a recording's mel above it, when given) and ``plots/<utt>.att.png``.

At the end it logs the count, the audio seconds and the real-time factor.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, Optional, Type

import kaldiio
import numpy as np
import soundfile
import torch
import yaml

from espnet2_speecht5.features.log_mel import log_mel
from espnet2_speecht5.inference.audio_input import load_input_audio
from espnet2_speecht5.inference.tts_plots import plot_attention, plot_mel

HOP_SECONDS = 256 / 16000
SAMPLE_RATE = 16000


GENERATION_FILE = "generation.yaml"  # stage 9's merge and stage 10 read it (recipes/merging.py)


def generation_settings(seed: int, prenet: torch.nn.Module, vocoder: Optional[str] = None) -> Dict[str, Any]:
    """What decides a generated set's audio besides the model: the seed, whether the speech-decoder
    pre-net keeps its dropout on (Tacotron's default; without it, generation is deterministic: the
    same audio for every seed) and, when given, the vocoder (``griffin_lim``, ``noisy_phase``, ...)."""
    dropout = bool(getattr(prenet, "always_dropout", True)) and float(getattr(prenet, "dropout", 0.0)) > 0.0
    settings: Dict[str, Any] = {"seed": int(seed), "prenet_dropout": dropout, "deterministic": not dropout}
    if vocoder is not None:
        settings["vocoder"] = vocoder
    return settings


class GeneratedSetWriter:
    """Context manager: ``add()`` each generated utterance; the files are closed (and the totals
    logged) on exit. ``what`` names the work in the final log line (``synthesised``, ``converted``)."""

    def __init__(self, outdir: Path, what: str = "generated", settings: Optional[Dict[str, Any]] = None) -> None:
        self.out = Path(outdir)
        self.what = what
        self.settings = settings
        self.count = 0
        self.frames = 0

    def __enter__(self) -> GeneratedSetWriter:
        (self.out / "wav").mkdir(parents=True, exist_ok=True)
        self._feats = kaldiio.WriteHelper(f"ark,scp:{self.out / 'feats.ark'},{self.out / 'feats.scp'}")
        self._wav_scp = open(self.out / "wav.scp", "w", encoding="utf-8")
        self._shapes = open(self.out / "speech_shape", "w", encoding="utf-8")
        self._start = time.perf_counter()
        if self.settings is not None:  # how the set was generated; stage 10 copies it into scores.json
            (self.out / GENERATION_FILE).write_text(yaml.safe_dump(self.settings, sort_keys=False), encoding="utf-8")
        return self

    def add(
        self,
        key: str,
        mel: np.ndarray,
        wav: Optional[np.ndarray],
        stop_probs: Optional[np.ndarray] = None,
        attention: Optional[np.ndarray] = None,
        plot_title: Optional[str] = None,
        reference_audio: Optional[str] = None,
    ) -> None:
        """One utterance: mel (T, 80), wav (T·256,) or None; with ``plot_title``, its plots too
        (the log-mel of ``reference_audio``, a file, drawn above the generated one)."""
        self._feats(key, mel)
        self._shapes.write(f"{key} {len(mel)},{mel.shape[1]}\n")
        self.count += 1
        self.frames += len(mel)
        if wav is not None:
            wav_path = (self.out / "wav" / f"{key}.wav").resolve()
            soundfile.write(wav_path, wav, SAMPLE_RATE, subtype="PCM_16")
            self._wav_scp.write(f"{key} {wav_path}\n")
        if plot_title is not None:
            reference = log_mel(load_input_audio(reference_audio)).numpy() if reference_audio else None
            plot_mel(self.out / "plots" / f"{key}.mel.png", mel, stop_probs, plot_title, reference)
            if attention is not None:
                plot_attention(self.out / "plots" / f"{key}.att.png", attention, key)
        logging.info("%s: %d frames (%.2f s)", key, len(mel), len(mel) * HOP_SECONDS)

    def __exit__(
        self, kind: Optional[Type[BaseException]], error: Optional[BaseException], trace: Optional[TracebackType]
    ) -> None:
        self._feats.close()
        self._wav_scp.close()
        self._shapes.close()
        if kind is None:
            elapsed = time.perf_counter() - self._start
            seconds = self.frames * HOP_SECONDS
            logging.info("%s %d utterances (%.1f s of audio) in %.1f s (real-time factor %.3f); outputs in %s",
                         self.what, self.count, seconds, elapsed, elapsed / max(seconds, 1e-9), self.out)
