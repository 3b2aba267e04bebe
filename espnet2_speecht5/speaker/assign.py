"""Decide which vector each utterance and each speaker of a set gets.

Per-utterance sources (``files``, ``espnet_spk``) give one embedding per utterance:

* without averaging, every utterance keeps its own embedding, and ``spk_xvector`` holds each
  speaker's mean over this set's utterances (ESPnet's convention);
* with averaging, every utterance of a training speaker gets that speaker's mean over the
  *training set's* utterances, which is also its ``spk_xvector``.  A speaker absent from the
  training set has no such mean: its utterances keep their own embeddings and its
  ``spk_xvector`` is its mean over this set; the speaker is reported as unseen.

The ``lookup`` source gives one vector per training speaker and nothing per utterance, so a
speaker absent from the training set is an error naming the speaker and the set.

Means are plain arithmetic means of the raw vectors, computed in float64 and stored as float32.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional

import numpy as np

from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.speaker.datasets import SpeakerSet


@dataclass
class Assignment:
    """Vectors of one set: ``utterances`` utt -> (dim,), ``speakers`` spk -> (dim,)."""

    utterances: Dict[str, np.ndarray]
    speakers: Dict[str, np.ndarray]
    unseen: List[str] = field(default_factory=list)


def speaker_means(vectors: Mapping[str, np.ndarray], utt2spk: Mapping[str, str]) -> Dict[str, np.ndarray]:
    """Speaker -> mean of its utterances' vectors (utterances of ``vectors`` only); float32, shape (dim,)."""
    groups: Dict[str, List[np.ndarray]] = {}
    for utt, vec in vectors.items():
        groups.setdefault(utt2spk[utt], []).append(np.asarray(vec, dtype=np.float64))
    return {spk: np.mean(vecs, axis=0).astype(np.float32) for spk, vecs in groups.items()}


def assign_lookup(data: SpeakerSet, table: Mapping[str, np.ndarray]) -> Assignment:
    """Every utterance gets its speaker's lookup vector.

    Raises:
        DataError: a speaker of ``data`` has no vector (it is not a training speaker).
    """
    speakers = data.speakers()
    for spk, utts in speakers.items():
        if spk not in table:
            raise DataError(
                f"speaker '{spk}' of set '{data.name}' is not in the training set, so the lookup source has no vector"
                " for it (use --source files or espnet_spk for unseen speakers)",
                data.path / "utt2spk", None, utts[0],
            )  # fmt: skip
    return Assignment(
        utterances={u: table[data.utt2spk[u]] for u in data.utterances},
        speakers={spk: table[spk] for spk in speakers},
    )


def assign_per_utterance(
    data: SpeakerSet,
    vectors: Mapping[str, np.ndarray],
    train_means: Optional[Mapping[str, np.ndarray]],
) -> Assignment:
    """Vectors for a per-utterance source: ``train_means`` None means no averaging (module docstring)."""
    own_means = speaker_means({u: vectors[u] for u in data.utterances}, data.utt2spk)
    if train_means is None:
        return Assignment(utterances={u: vectors[u] for u in data.utterances}, speakers=own_means)
    unseen = [spk for spk in own_means if spk not in train_means]
    utterances = {
        u: (vectors[u] if data.utt2spk[u] in unseen else train_means[data.utt2spk[u]]) for u in data.utterances
    }
    speakers = {spk: (own_means[spk] if spk in unseen else train_means[spk]) for spk in own_means}
    return Assignment(utterances=utterances, speakers=speakers, unseen=unseen)
