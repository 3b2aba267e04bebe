"""Copy synthesis of recordings (the ceiling stage 10 of TTS reports): rate, closeness, resume, bad input."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from test_griffin_lim import MAX_MEAN_ABS_LOG_MEL, voiced_signal

from espnet2_speecht5.features import HOP_LENGTH, SAMPLE_RATE, log_mel
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.scoring.copy_synthesis import copy_synthesise
from espnet2_speecht5.vocoder.griffin_lim import GriffinLimVocoder


def write_scp(folder: Path, recordings: dict) -> Path:
    """wav.scp of ``{utt: (samples, rate)}`` written as 16-bit wavs."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for utt, (samples, rate) in recordings.items():
        path = folder / f"{utt}.wav"
        sf.write(path, samples, rate, subtype="PCM_16")
        lines.append(f"{utt} {path}")
    scp = folder / "wav.scp"
    scp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return scp


def test_recordings_come_back_at_16k_close_to_their_log_mel(tmp_path: Path):
    import librosa

    tone = voiced_signal(1.0)
    at_22k = librosa.resample(tone, orig_sr=SAMPLE_RATE, target_sr=22050)
    scp = write_scp(tmp_path / "rec", {"b": (tone, SAMPLE_RATE), "a": (at_22k, 22050)})
    out = copy_synthesise(scp, tmp_path / "copy")
    entries = dict(line.split() for line in out.read_text().splitlines())
    assert sorted(entries) == ["a", "b"]
    for utt in ("a", "b"):
        wav, rate = sf.read(entries[utt], dtype="float32")
        assert rate == SAMPLE_RATE and wav.size == log_mel(torch.from_numpy(tone)).shape[0] * HOP_LENGTH
        frames = log_mel(torch.from_numpy(tone)).shape[0]
        error = (log_mel(torch.from_numpy(wav))[:frames] - log_mel(torch.from_numpy(tone))).abs().mean()
        assert error < MAX_MEAN_ABS_LOG_MEL + 0.05  # 16-bit storage and the 22.05 kHz detour add a little
    assert not list((tmp_path / "copy" / "wav").glob(".*partial"))


def test_finished_wavs_are_kept_on_a_second_run(tmp_path: Path):
    recordings = {"u1": (voiced_signal(0.5), SAMPLE_RATE), "u2": (voiced_signal(0.5, 1), SAMPLE_RATE)}
    scp = write_scp(tmp_path / "rec", recordings)
    copy_synthesise(scp, tmp_path / "copy", GriffinLimVocoder(n_iter=2))
    first = tmp_path / "copy" / "wav" / "u1.wav"
    os.utime(first, (1, 1))
    (tmp_path / "copy" / "wav" / "u2.wav").unlink()  # as if killed before u2 was written
    calls = []

    def counting(mel: torch.Tensor) -> torch.Tensor:
        calls.append(mel.shape[0])
        return GriffinLimVocoder(n_iter=2)(mel)

    copy_synthesise(scp, tmp_path / "copy", counting)
    assert len(calls) == 1 and first.stat().st_mtime == 1 and (tmp_path / "copy" / "wav" / "u2.wav").is_file()


def test_an_unreadable_recording_is_named(tmp_path: Path):
    scp = write_scp(tmp_path / "rec", {"good": (voiced_signal(0.3), SAMPLE_RATE)})
    broken = tmp_path / "rec" / "broken.wav"
    broken.write_bytes(b"RIFF not really a wav")
    scp.write_text(scp.read_text() + f"broken {broken}\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        copy_synthesise(scp, tmp_path / "copy", GriffinLimVocoder(n_iter=2))
    assert "broken" in str(err.value) and str(broken) in str(err.value)
    assert not np.any([p.name.startswith("broken") for p in (tmp_path / "copy" / "wav").glob("*")])
