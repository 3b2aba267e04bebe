"""Speaker embeddings for the TTS task (stage 6) and for speaker-similarity scoring.

* :mod:`~espnet2_speecht5.speaker.pipeline`: stage 6, behind ``bin/make_speaker_embeddings.py``;
* :class:`SpeakerEmbedder` (``SpeakerEmbedder.from_spk_model(path).embed(wav, fs)``) and
  :func:`cosine`: score the speaker similarity of synthesised speech;
* :mod:`~espnet2_speecht5.speaker.eer`: equal error rate of cosine trials.

``SpeakerEmbedder`` is imported on first use, so that the numpy-only parts load without torch.
"""

from __future__ import annotations

from typing import Any

from espnet2_speecht5.speaker.eer import equal_error_rate, speaker_eer
from espnet2_speecht5.speaker.embedding_io import EmbeddingFiles, read_embedding_scp, write_embeddings
from espnet2_speecht5.speaker.lookup import speaker_vector
from espnet2_speecht5.speaker.similarity import cosine

__all__ = [
    "EmbeddingFiles",
    "SpeakerEmbedder",
    "cosine",
    "equal_error_rate",
    "read_embedding_scp",
    "speaker_eer",
    "speaker_vector",
    "write_embeddings",
]


def __getattr__(name: str) -> Any:
    if name == "SpeakerEmbedder":
        from espnet2_speecht5.speaker.espnet_spk import SpeakerEmbedder

        return SpeakerEmbedder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
