"""Sizes, model configurations and seeded inputs shared by the benchmark worker, the orchestrator
and the profiler.

Two workload sizes exist: ``BASE`` (the issue's cases on the paper's base network) and ``QUICK``
(the same cases on a tiny network and tiny inputs, only to check that the harness runs).
Every input is drawn from a generator seeded by the case, so both implementations see the same
numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Tuple

import torch

from espnet2_speecht5.nets.config import SpeechT5Config

SAMPLE_RATE = 16000
MEL_HOP = 256  # samples per log-mel frame of the TTS targets (espnet2_speecht5.features.log_mel)
FIRST_PLAIN_ID = 4  # ids 0..3 are bos/pad/eos/unk in transformers' numbering; inputs use ids above them


@dataclass(frozen=True)
class Workload:
    """The sizes of every case.

    size: network size (``base`` or ``tiny``); audio_seconds: ASR input length; asr_tokens: tokens
    decoded (eos forbidden before); beam: beam size of case b; tts_chars: TTS input characters;
    tts_frames: mel frames generated (decoder steps = tts_frames / reduction factor);
    train_batch: utterances per training step; train_label_tokens: label length of case d;
    matmul_n: side of the square fp32 matrices of the probe; testset_utts, testset_seconds (shortest,
    longest), testset_tokens, testset_batches: case f, a test set decoded with beam ``beam``, every
    hypothesis forced to ``testset_tokens`` tokens, the reference at each of ``testset_batches``.
    """

    size: str
    audio_seconds: float
    asr_tokens: int
    beam: int
    tts_chars: int
    tts_frames: int
    train_batch: int
    train_label_tokens: int
    matmul_n: int
    testset_utts: int = 32
    testset_seconds: Tuple[float, float] = (2.0, 8.0)
    testset_tokens: int = 60
    testset_batches: Tuple[int, ...] = (8, 32)

    def testset_samples(self) -> List[int]:
        """Utterance lengths of case f, evenly spread over ``testset_seconds``, in a seeded order."""
        low, high = self.testset_seconds
        n = self.testset_utts
        seconds = [low + (high - low) * i / max(1, n - 1) for i in range(n)]
        order = torch.randperm(n, generator=generator(11)).tolist()
        return [int(round(seconds[i] * SAMPLE_RATE)) for i in order]

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @property
    def audio_samples(self) -> int:
        return int(round(self.audio_seconds * SAMPLE_RATE))

    @property
    def tts_wave_samples(self) -> int:
        """Waveform length whose log-mel has exactly ``tts_frames`` frames (centred frames: 1 + L // hop)."""
        return (self.tts_frames - 1) * MEL_HOP


BASE = Workload("base", 5.0, 100, 5, 60, 200, 8, 60, 4096)
QUICK = Workload("tiny", 1.0, 10, 5, 12, 20, 2, 10, 256, testset_utts=4, testset_seconds=(0.5, 1.0),
                 testset_tokens=5, testset_batches=(2, 4))


def our_config(size: str, recompute: bool = True) -> SpeechT5Config:
    """Our network configuration; layer drop is off so every step does the same work (see RESULTS.md).

    ``recompute``: the network's ``recompute_activations`` (on by default; variant flag ``keep`` turns
    it off in the training cases)."""
    return SpeechT5Config.named(size, encoder_layerdrop=0.0, decoder_layerdrop=0.0, recompute_activations=recompute)


def hf_config(size: str, kind: str) -> Any:
    """transformers' ``SpeechT5Config`` for ``kind`` (s2t or t2s): its defaults for base, ours for tiny."""
    from transformers import SpeechT5Config as HFConfig

    if size == "base":
        return HFConfig(encoder_layerdrop=0.0, decoder_layerdrop=0.0)
    from espnet2_speecht5.checkpoint.hf_mapping import config_to_hf

    values = config_to_hf(our_config(size), kind)
    values.pop("model_type")
    values.pop("architectures")
    return HFConfig(**values)


def hifigan_values(size: str) -> Dict[str, Any]:
    """transformers ``SpeechT5HifiGanConfig`` fields: the defaults for base, a narrow generator for tiny."""
    if size == "base":
        return {}
    return dict(upsample_initial_channel=32, resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]])


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def waveforms(batch: int, samples: int, seed: int) -> torch.Tensor:
    """(batch, samples) noise at speech level."""
    return 0.1 * torch.randn(batch, samples, generator=generator(seed))


def token_ids(batch: int, length: int, vocab: int, seed: int, low: int = FIRST_PLAIN_ID) -> torch.Tensor:
    """(batch, length) ids drawn from [low, vocab - 1): no special token of either numbering."""
    return torch.randint(low, vocab - 1, (batch, length), generator=generator(seed))


def speaker_vectors(batch: int, dim: int, seed: int) -> torch.Tensor:
    """(batch, dim) unit-norm x-vectors."""
    x = torch.randn(batch, dim, generator=generator(seed))
    return torch.nn.functional.normalize(x, dim=-1)


def mel_targets(batch: int, frames: int, bins: int, seed: int) -> torch.Tensor:
    """(batch, frames, bins) log10-mel-like values."""
    return -4.0 + torch.randn(batch, frames, bins, generator=generator(seed))


# Which rows each case produces: (case, variant, label). The variant names the worker option that
# makes our implementation differ within a case (ctc weight, int8, bf16, ``keep``: no recomputed
# activations); "ref" rows have the reference's options (int8, bf16) or "".
CASE_VARIANTS: Dict[str, List[Tuple[str, str]]] = {
    "a": [("ours", ""), ("ref", ""), ("ours", "int8"), ("ref", "int8"), ("ours", "int8+bf16enc")],
    "b": [("ours", "ctc0"), ("ref", ""), ("ours", "ctc0.3")],
    "c": [("ours", ""), ("ref", ""), ("ours", "int8"), ("ref", "int8")],
    "d": [("ours", "ctc0"), ("ref", ""), ("ours", "ctc0.3"), ("ours", "ctc0+keep"), ("ours", "ctc0+bf16"),
          ("ref", "bf16")],
    "e": [("ours", ""), ("ref", ""), ("ours", "bf16"), ("ref", "bf16")],
    "f": [("ours", ""), ("ours", "int8"), ("ref", "")],
    "g": [("probe", ""), ("probe", "bf16")],
}
TRAINING_CASES = ("d", "e")
ALL_CASES = ("a", "b", "c", "d", "e", "f", "g")


def variant_flags(variant: str) -> List[str]:
    """``"ctc0.3+bf16"`` -> ``["ctc0.3", "bf16"]``: a variant is flags joined by ``+``."""
    return [flag for flag in variant.split("+") if flag]


def ctc_weight_of(variant: str) -> float:
    """``ctc0.3`` (alone or among other flags) -> 0.3; no ``ctc`` flag -> 0."""
    for flag in variant_flags(variant):
        if flag.startswith("ctc"):
            return float(flag[3:])
    return 0.0
