"""Equal error rate: known answers, an independent brute-force check, and the trial lists."""

from __future__ import annotations

import numpy as np
import pytest

from espnet2_speecht5.speaker.eer import equal_error_rate, speaker_eer, trial_pairs


def brute_force_eer(scores: np.ndarray, labels: np.ndarray) -> float:
    """min over thresholds of max(false-alarm rate, miss rate), trying every score as threshold."""
    target, nontarget = scores[labels == 1], scores[labels == 0]
    best = 1.0
    for t in np.concatenate([scores, [np.inf]]):
        false_alarm = np.mean(nontarget >= t)
        miss = np.mean(target < t)
        best = min(best, max(false_alarm, miss))
    return float(best)


def test_perfect_separation_is_zero():
    scores = np.array([0.9, 0.8, 0.95, 0.1, 0.2, -0.3, 0.0])
    labels = np.array([1, 1, 1, 0, 0, 0, 0])
    assert equal_error_rate(scores, labels) == 0.0


def test_fully_reversed_scores_are_one():
    scores = np.array([0.1, 0.2, 0.9, 0.8])
    labels = np.array([1, 1, 0, 0])
    assert equal_error_rate(scores, labels) == pytest.approx(1.0)


def test_overlap_with_a_hand_computed_answer():
    # targets 50.5 .. 149.5, non-targets 0 .. 99: at threshold 75, 25 of 100 targets are
    # rejected (50.5 .. 74.5) and 25 of 100 non-targets accepted (75 .. 99): EER = 25 %.
    target = np.arange(100) + 50.5
    nontarget = np.arange(100).astype(float)
    scores = np.concatenate([target, nontarget])
    labels = np.concatenate([np.ones(100), np.zeros(100)])
    assert equal_error_rate(scores, labels) == pytest.approx(0.25, abs=0.006)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_brute_force_on_random_scores(seed: int):
    rng = np.random.default_rng(seed)
    n_tar, n_non = 60, 300
    scores = np.concatenate([rng.normal(1.0, 1.0, n_tar), rng.normal(0.0, 1.0, n_non)])
    labels = np.concatenate([np.ones(n_tar), np.zeros(n_non)])
    # the interpolated EER lies within one trial's step of the brute-force crossing
    assert abs(equal_error_rate(scores, labels) - brute_force_eer(scores, labels)) <= 1.0 / n_tar + 1e-9


def test_needs_both_kinds_of_trials():
    with pytest.raises(ValueError, match="both"):
        equal_error_rate(np.array([0.1, 0.2]), np.array([1, 1]))


def cluster_embeddings(n_spk: int, per_spk: int, spread: float, seed: int = 0, dim: int = 64):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_spk, dim)) * 5
    vectors, utt2spk = {}, {}
    for s in range(n_spk):
        for k in range(per_spk):
            utt = f"s{s}_u{k}"
            vectors[utt] = centres[s] + spread * rng.standard_normal(dim)
            utt2spk[utt] = f"s{s}"
    return vectors, utt2spk


def test_separated_speakers_score_zero_on_all_pairs():
    vectors, utt2spk = cluster_embeddings(n_spk=5, per_spk=6, spread=0.1)
    result = speaker_eer(vectors, utt2spk, ["dev", "test"])
    n = len(vectors)
    assert result.eer == 0.0
    assert result.trials == n * (n - 1) // 2 and not result.sampled
    assert result.target_trials == 5 * (6 * 5 // 2)
    assert result.line() == f"EER 0.00% on {n * (n - 1) // 2} trials (dev test, 5 speakers)"


def test_identical_distributions_score_about_half():
    rng = np.random.default_rng(7)
    vectors = {f"u{k}": rng.standard_normal(32) for k in range(200)}
    utt2spk = {u: f"s{k % 4}" for k, u in enumerate(vectors)}  # labels unrelated to the vectors
    result = speaker_eer(vectors, utt2spk, ["dev"])
    assert 0.45 < result.eer < 0.55


def test_large_sets_are_sampled_reproducibly():
    i, j, sampled = trial_pairs(1000, max_trials=5000, seed=3)
    assert sampled and len(i) == 5000
    assert np.all(i < j) and np.all(j < 1000) and np.all(i >= 0)
    i2, j2, _ = trial_pairs(1000, max_trials=5000, seed=3)
    np.testing.assert_array_equal(i, i2)
    np.testing.assert_array_equal(j, j2)
    i3, j3, sampled3 = trial_pairs(10, max_trials=5000)
    assert not sampled3 and len(i3) == 45 and len(set(zip(i3.tolist(), j3.tolist()))) == 45
    vectors, utt2spk = cluster_embeddings(n_spk=3, per_spk=20, spread=0.1)
    result = speaker_eer(vectors, utt2spk, ["dev"], max_trials=500)
    assert result.sampled and result.trials == 500 and "sample" in result.line()
