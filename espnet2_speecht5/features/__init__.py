"""Acoustic features shared by the speech-output models and the vocoders."""

from espnet2_speecht5.features.log_mel import (
    FMAX,
    FMIN,
    HOP_LENGTH,
    LOG_BASE,
    MEL_FLOOR,
    N_FFT,
    NUM_MELS,
    SAMPLE_RATE,
    WIN_LENGTH,
    WINDOW,
    SpeechT5LogMel,
    build_log_mel,
    log_mel,
    num_frames,
)

__all__ = [
    "FMAX",
    "FMIN",
    "HOP_LENGTH",
    "LOG_BASE",
    "MEL_FLOOR",
    "N_FFT",
    "NUM_MELS",
    "SAMPLE_RATE",
    "WIN_LENGTH",
    "WINDOW",
    "SpeechT5LogMel",
    "build_log_mel",
    "log_mel",
    "num_frames",
]
