"""The noisy-phase resynthesis of enhancement (vocoder/noisy_phase.py): identity, an oracle mel, lengths, gains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from espnet2_speecht5.features.log_mel import log_mel, num_frames
from espnet2_speecht5.inference.text2speech import Text2Speech
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.scoring.enhancement import pesq_wb, stoi_score
from espnet2_speecht5.vocoder import build_vocoder
from espnet2_speecht5.vocoder.noisy_phase import NoisyPhaseResynthesis, mel_basis, mel_to_linear_gain, stretch_frames

RATE = 16000


@pytest.fixture(scope="module")
def pair(shared_data: Path):
    """A real recording and its copy with babble at 0 dB (../shared/data/se_pairs/pesq), float32."""
    clean, _ = sf.read(shared_data / "se_pairs" / "pesq" / "speech.wav", dtype="float32")
    noisy, _ = sf.read(shared_data / "se_pairs" / "pesq" / "speech_bab_0dB.wav", dtype="float32")
    n = min(len(clean), len(noisy))
    return clean[:n], noisy[:n]


def test_the_noisy_mel_as_prediction_gives_back_the_noisy_recording(pair) -> None:
    _, noisy = pair
    out = NoisyPhaseResynthesis()(log_mel(noisy), noisy)
    assert out.dtype == torch.float32 and out.shape == (len(noisy),)
    assert np.abs(out.numpy() - noisy).max() < 1e-4  # every gain is 1: STFT then inverse STFT


def test_the_clean_mel_as_prediction_enhances_a_babble_mixture(pair) -> None:
    clean, noisy = pair
    out = NoisyPhaseResynthesis()(log_mel(clean), noisy).numpy()
    noisy_pesq, noisy_stoi = pesq_wb(clean, noisy, RATE), stoi_score(clean, noisy, RATE)
    # measured: PESQ 1.08 -> 1.38, STOI 0.67 -> 0.94
    assert pesq_wb(clean, out, RATE) > noisy_pesq + 0.2
    assert stoi_score(clean, out, RATE) > noisy_stoi + 0.2


def test_a_prediction_of_another_length_is_stretched_onto_the_recording(pair) -> None:
    clean, noisy = pair
    mel = log_mel(clean).numpy()
    short = stretch_frames(mel, mel.shape[0] - 7)  # a prediction that ran uniformly 4% fast
    out = NoisyPhaseResynthesis()(short, noisy).numpy()
    assert out.shape == noisy.shape and np.isfinite(out).all()
    assert stoi_score(clean, out, RATE) > stoi_score(clean, noisy, RATE)


def test_gains_stay_between_the_floor_and_one_and_reach_every_bin() -> None:
    basis = mel_basis()
    band = np.linspace(0.0, 1.0, 80)[None].repeat(3, axis=0)  # (3, 80)
    linear = mel_to_linear_gain(band, basis)
    assert linear.shape == (3, 513) and np.isfinite(linear).all()
    assert linear[0, 0] == pytest.approx(0.0) and linear[0, -1] == pytest.approx(1.0)  # edges copy the end bands
    assert np.all(np.diff(linear[0]) >= -1e-12)  # rising band gains give rising bin gains
    rng = np.random.default_rng(0)
    magnitude = np.abs(rng.standard_normal((20, 513)))
    mel = rng.standard_normal((20, 80)) * 3
    gains = NoisyPhaseResynthesis(gain_floor=0.25).gains(mel, magnitude)
    assert gains.min() >= 0.25 - 1e-12 and gains.max() <= 1.0 + 1e-12
    scaled = NoisyPhaseResynthesis(gain_floor=0.25, gain_scale=3.0).gains(mel, magnitude)
    assert np.all(scaled >= gains - 1e-12) and scaled.mean() > gains.mean()  # more of the input kept


def test_short_recordings_and_bad_input() -> None:
    resynthesis = build_vocoder("noisy_phase", gain_floor=0.5)
    wav = np.random.default_rng(1).standard_normal(300).astype(np.float32)  # shorter than half a window
    assert resynthesis(torch.zeros(num_frames(300), 80), wav).shape == (300,)
    with pytest.raises(ValueError, match="gain_floor"):
        NoisyPhaseResynthesis(gain_floor=0.0)
    with pytest.raises(ValueError, match="gain_scale"):
        NoisyPhaseResynthesis(gain_scale=0.0)
    with pytest.raises(ValueError, match=r"\(T, 80\)"):
        resynthesis(torch.zeros(5, 40), wav)
    with pytest.raises(ValueError, match="takes no path"):
        build_vocoder("noisy_phase", "some/folder")


def test_text_to_speech_refuses_it_in_one_line() -> None:
    with pytest.raises(DataError, match="noisy_phase resynthesises from a noisy recording"):
        Text2Speech(train_config="unused.yaml", vocoder="noisy_phase")
