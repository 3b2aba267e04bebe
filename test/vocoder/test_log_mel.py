"""SpeechT5 log-mel targets: parity with transformers' SpeechT5FeatureExtractor and ESPnet-style batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from espnet2.tts.feats_extract.log_mel_fbank import LogMelFbank
from transformers import SpeechT5FeatureExtractor

from espnet2_speecht5.features import (
    FMAX,
    FMIN,
    HOP_LENGTH,
    N_FFT,
    NUM_MELS,
    SAMPLE_RATE,
    build_log_mel,
    log_mel,
    num_frames,
)

PARITY_TOLERANCE = 1e-5  # measured 4.1e-6 (log10 units) on this signal


def voiced_signal(seconds: float, seed: int, silent_from: float = 0.0, silent_to: float = 0.0) -> np.ndarray:
    """Gliding harmonics plus noise, with an optional stretch of digital silence: (seconds * 16000 + 77,)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE) + 77) / SAMPLE_RATE
    phase = 2 * np.pi * np.cumsum(150 + 30 * np.sin(2 * np.pi * 0.7 * t)) / SAMPLE_RATE
    wav = sum(0.3 / k * np.sin(k * phase) for k in range(1, 20)) + 0.01 * rng.standard_normal(t.size)
    wav[int(silent_from * SAMPLE_RATE) : int(silent_to * SAMPLE_RATE)] = 0.0
    return wav.astype(np.float32)


def transformers_targets(wav: np.ndarray) -> np.ndarray:
    extractor = SpeechT5FeatureExtractor()
    return extractor(audio_target=wav, sampling_rate=SAMPLE_RATE)["input_values"][0]


def test_matches_transformers_feature_extractor_including_silence():
    wav = voiced_signal(2.5, seed=0, silent_from=0.0, silent_to=0.6)
    ref = transformers_targets(wav)
    assert (ref <= -9.999).any(), "the silent stretch should reach the 1e-10 mel floor"
    ours = log_mel(wav)
    assert ours.dtype == torch.float32
    assert tuple(ours.shape) == ref.shape == (num_frames(wav.size), NUM_MELS)
    assert np.abs(ours.numpy() - ref).max() <= PARITY_TOLERANCE


def test_tensor_and_array_inputs_agree():
    wav = voiced_signal(0.5, seed=1)
    assert torch.equal(log_mel(wav), log_mel(torch.from_numpy(wav)))


def test_is_an_espnet_log_mel_fbank_with_speecht5_parameters():
    extractor = build_log_mel()
    assert isinstance(extractor, LogMelFbank)
    params = extractor.get_parameters()
    assert params["fs"] == SAMPLE_RATE and params["n_fft"] == N_FFT and params["n_shift"] == HOP_LENGTH
    assert params["n_mels"] == NUM_MELS and params["fmin"] == FMIN and params["fmax"] == FMAX
    assert extractor.output_size() == NUM_MELS


def test_padded_batch_matches_single_utterances():
    long, short = voiced_signal(1.0, seed=2), voiced_signal(0.6, seed=3)
    batch = torch.zeros(2, long.size)
    batch[0], batch[1, : short.size] = torch.from_numpy(long), torch.from_numpy(short)
    with torch.no_grad():
        feats, lengths = build_log_mel()(batch, torch.tensor([long.size, short.size]))
    assert lengths.tolist() == [num_frames(long.size), num_frames(short.size)]
    assert torch.allclose(feats[0], log_mel(long), atol=1e-5)
    # Frames whose window lies inside the short signal are unaffected by the zero padding after it.
    inner = (short.size - N_FFT // 2) // HOP_LENGTH
    assert torch.allclose(feats[1, :inner], log_mel(short)[:inner], atol=1e-5)
    assert (feats[1, lengths[1] :] == 0).all()


@pytest.mark.parametrize("bad", [np.zeros((2, 4000), np.float32), np.zeros(4000, np.int16)])
def test_rejects_non_waveforms(bad):
    with pytest.raises(ValueError, match="log_mel expects"):
        log_mel(bad)
