"""Equal error rate of cosine-scored speaker trials.

A trial is a pair of different utterances; it is a *target* trial when both have the same
speaker.  With ``n`` utterances there are ``n (n - 1) / 2`` pairs: all of them are scored when
that is at most ``max_trials``, otherwise a seeded random sample of ``max_trials`` pairs (drawn
with replacement, each pair of distinct utterances equally likely) is scored instead.

The EER is read off scikit-learn's ROC curve: the point where the miss rate ``1 - tpr`` meets
the false-alarm rate ``fpr``, linearly interpolated between the two ROC points around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence, Tuple

import numpy as np
from sklearn.metrics import roc_curve

from espnet2_speecht5.speaker.similarity import l2_normalize

DEFAULT_MAX_TRIALS = 500_000


def equal_error_rate(scores: np.ndarray, labels: np.ndarray) -> float:
    """EER in [0, 1] of ``scores`` (shape (n,), higher = more alike) with ``labels`` (1 target, 0 not).

    Raises:
        ValueError: the labels lack target or non-target trials.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(int)
    if not (labels == 1).any() or not (labels == 0).any():
        raise ValueError("an EER needs both same-speaker and different-speaker trials")
    fpr, tpr, _ = roc_curve(labels, scores, pos_label=1, drop_intermediate=False)
    fnr = 1.0 - tpr
    gap = fnr - fpr  # falls from 1 (first point: nothing accepted) to -1 (last point: all accepted)
    k = int(np.argmax(gap <= 0))
    if k == 0:
        return float(fpr[0])
    step = gap[k - 1] - gap[k]
    t = gap[k - 1] / step if step > 0 else 0.0
    return float(fpr[k - 1] + t * (fpr[k] - fpr[k - 1]))


def trial_pairs(n: int, max_trials: int = DEFAULT_MAX_TRIALS, seed: int = 0) -> Tuple[np.ndarray, np.ndarray, bool]:
    """Index pairs ``(i, j)`` with ``i < j`` (arrays of shape (trials,)), and whether they were sampled."""
    if n < 2:
        raise ValueError(f"need at least two utterances for a trial, got {n}")
    if n * (n - 1) // 2 <= max_trials:
        i, j = np.triu_indices(n, k=1)
        return i, j, False
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n, size=max_trials)
    second = (first + rng.integers(1, n, size=max_trials)) % n
    return np.minimum(first, second), np.maximum(first, second), True


def cosine_scores(vectors: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Cosine similarity of rows ``i[k]`` and ``j[k]`` of ``vectors`` (shape (n, dim)); shape (trials,)."""
    unit = l2_normalize(vectors)
    out = np.empty(len(i), dtype=np.float64)
    for start in range(0, len(i), chunk):
        a = unit[i[start : start + chunk]]
        b = unit[j[start : start + chunk]]
        out[start : start + chunk] = np.einsum("td,td->t", a, b)
    return out


@dataclass
class EerResult:
    """Outcome of :func:`speaker_eer`; ``eer`` is a fraction in [0, 1]."""

    eer: float
    trials: int
    target_trials: int
    utterances: int
    speakers: int
    sets: Tuple[str, ...]
    sampled: bool

    def line(self) -> str:
        """``EER 1.23% on 4950 trials (dev test, 8 speakers)``, noting a sample of the pairs."""
        how = f", a random sample of the pairs of {self.utterances} utterances" if self.sampled else ""
        return (
            f"EER {100 * self.eer:.2f}% on {self.trials} trials ({' '.join(self.sets)}, {self.speakers} speakers{how})"
        )


def speaker_eer(
    vectors: Mapping[str, np.ndarray],
    utt2spk: Mapping[str, str],
    sets: Sequence[str],
    max_trials: int = DEFAULT_MAX_TRIALS,
    seed: int = 0,
) -> EerResult:
    """EER of cosine trials between the utterances of ``vectors`` (utt -> shape (dim,)).

    Raises:
        ValueError: fewer than two utterances, or no target / non-target trial among the pairs.
    """
    utts = list(vectors)
    matrix = np.stack([np.asarray(vectors[u], dtype=np.float64) for u in utts])
    speakers = np.array([utt2spk[u] for u in utts])
    i, j, sampled = trial_pairs(len(utts), max_trials, seed)
    labels = (speakers[i] == speakers[j]).astype(int)
    eer = equal_error_rate(cosine_scores(matrix, i, j), labels)
    return EerResult(
        eer=eer,
        trials=len(labels),
        target_trials=int(labels.sum()),
        utterances=len(utts),
        speakers=len(set(speakers.tolist())),
        sets=tuple(sets),
        sampled=sampled,
    )
