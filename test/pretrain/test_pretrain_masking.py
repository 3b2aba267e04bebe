"""Pre-training noise: HuBERT span masks of speech frames and BART text infilling."""

from __future__ import annotations

import math

import numpy as np
import torch

from espnet2_speecht5.nets.span_masking import (
    plan_infilling,
    poisson_span_lengths,
    speech_span_mask,
    text_infilling,
)

BOS, EOS, MASK = 0, 1, 2
RANDOM_IDS = [3, 4, 5]


def runs(row: torch.Tensor):
    """Lengths of the maximal runs of True in a 1-D bool tensor."""
    out, count = [], 0
    for value in row.tolist() + [False]:
        if value:
            count += 1
        elif count:
            out.append(count)
            count = 0
    return out


# ---------------------------------------------------------------------------- speech


def test_speech_mask_is_seeded():
    lengths = torch.tensor([200, 150, 90])
    first = speech_span_mask(lengths, 200, 0.8, 10, 2, torch.Generator().manual_seed(4))
    again = speech_span_mask(lengths, 200, 0.8, 10, 2, torch.Generator().manual_seed(4))
    other = speech_span_mask(lengths, 200, 0.8, 10, 2, torch.Generator().manual_seed(5))
    assert first.dtype == torch.bool and first.shape == (3, 200)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_speech_mask_respects_padding_span_and_minimum():
    lengths = torch.tensor([300, 120, 25, 7])
    mask = speech_span_mask(lengths, 300, 0.8, 10, 2, torch.Generator().manual_seed(0))
    for row, length in enumerate(lengths.tolist()):
        assert not bool(mask[row, length:].any()), "a padded frame was masked"
        if length >= 10:
            assert all(run >= 10 for run in runs(mask[row])), "a masked run shorter than the span"
    assert not bool(mask[3].any())  # shorter than one span: nothing to mask
    rare = speech_span_mask(torch.tensor([200] * 16), 200, 0.001, 10, 2, torch.Generator().manual_seed(1))
    assert bool((rare.sum(dim=1) >= 10).all()), "min_spans=2 must mask at least one full span per row"
    assert not bool(speech_span_mask(torch.tensor([50]), 50, 0.0, 10, 2).any())


def test_speech_mask_fraction_matches_overlapping_spans():
    # 0.8 * n / 10 spans of 10 frames at random distinct starts cover about 1 - exp(-0.8) = 55 % of the frames
    lengths = torch.full((32,), 500)
    mask = speech_span_mask(lengths, 500, 0.8, 10, 2, torch.Generator().manual_seed(2))
    fraction = float(mask.float().mean())
    assert abs(fraction - (1 - math.exp(-0.8))) < 0.05, fraction


# ---------------------------------------------------------------------------- text


def sequence(body_len: int) -> np.ndarray:
    """bos, body_len unique ids (100, 101, ...), eos."""
    return np.concatenate([[BOS], 100 + np.arange(body_len), [EOS]]).astype(np.int64)


def infill(tokens: np.ndarray, seed: int) -> np.ndarray:
    return text_infilling(tokens, MASK, np.random.default_rng(seed), 0.3, 3.5, 0.1, RANDOM_IDS)


def test_text_infilling_is_seeded_and_keeps_bos_eos():
    tokens = sequence(60)
    first = infill(tokens, 7)
    assert np.array_equal(first, infill(tokens, 7))
    assert not np.array_equal(first, infill(tokens, 8))
    assert first[0] == BOS and first[-1] == EOS
    assert BOS not in first[1:-1] and EOS not in first[1:-1]
    assert first.dtype == tokens.dtype


def test_text_infilling_removes_exactly_the_budget_in_order():
    rng = np.random.default_rng(0)
    removed_total = body_total = 0
    span_tokens = random_tokens = 0
    for _ in range(1500):
        body_len = int(rng.integers(5, 120))
        out = infill(sequence(body_len), int(rng.integers(1 << 30)))
        body = out[1:-1]
        kept = body[body >= 100]
        assert np.all(np.diff(kept) > 0), "kept tokens must stay in order"
        removed = body_len - kept.size
        assert removed == math.ceil(0.3 * body_len), (body_len, removed)
        specials = body[body < 100]
        assert set(specials.tolist()) <= {MASK, *RANDOM_IDS}
        removed_total += removed
        body_total += body_len
        span_tokens += specials.size
        random_tokens += int(np.isin(specials, RANDOM_IDS).sum())
    assert abs(removed_total / body_total - 0.3) < 0.01
    # one token per span: removed tokens per span token is the mean span length, a little below 3.5
    # because the last span of each sentence is cut to the budget
    assert 3.0 < removed_total / span_tokens < 3.5, removed_total / span_tokens
    assert abs(random_tokens / span_tokens - 0.1) < 0.02, random_tokens / span_tokens


def test_span_lengths_follow_poisson_3_5():
    # one long draw: only its last (cut) length is not a plain Poisson(3.5) sample
    draws = poisson_span_lengths(60_000, 3.5, np.random.default_rng(3))[:-1]
    assert draws.size > 15_000
    assert abs(draws.mean() - 3.5) < 0.05
    assert abs(draws.var() - 3.5) < 0.15
    assert abs((draws == 0).mean() - math.exp(-3.5)) < 0.005
    assert abs((draws == 3).mean() - math.exp(-3.5) * 3.5**3 / 6) < 0.01
    # sentence-sized plans: exact budget, no overlap, inside the body; the complete spans average
    # a bit under 3.5 (the span that crosses the budget is cut, and long spans cross more often)
    rng = np.random.default_rng(4)
    complete = []
    for _ in range(600):
        plan = plan_infilling(int(rng.integers(30, 200)), rng, 0.3, 3.5, 0.1)
        assert int(plan.lengths.sum()) == math.ceil(0.3 * plan.body_len)
        ends = plan.starts + plan.lengths
        assert np.all(plan.starts[1:] >= ends[:-1]), "spans overlap"
        assert plan.starts.min() >= 0 and ends.max() <= plan.body_len
        complete.extend(plan.lengths[:-1].tolist())
    assert 3.2 < float(np.mean(complete)) < 3.6


def test_infilling_applies_its_plan():
    tokens = sequence(40)
    out = infill(tokens, 21)
    plan = plan_infilling(40, np.random.default_rng(21), 0.3, 3.5, 0.1)
    covered = np.zeros(40, dtype=bool)
    for start, length in zip(plan.starts, plan.lengths):
        covered[start : start + length] = True
    body = out[1:-1]
    assert np.array_equal(body[body >= 100], tokens[1:-1][~covered])
    assert int((body < 100).sum()) == plan.lengths.size
    assert np.array_equal(body < 100, np.isin(body, [MASK, *RANDOM_IDS]))


def test_poisson_lengths_cover_the_budget_and_edge_cases():
    rng = np.random.default_rng(0)
    for budget in (1, 2, 17, 300):
        lengths = poisson_span_lengths(budget, 3.5, rng)
        assert int(lengths.sum()) == budget and lengths.min() >= 0 and lengths[-1] >= 1
    assert poisson_span_lengths(0, 3.5, rng).size == 0
    short = np.array([BOS, EOS])
    assert np.array_equal(infill(short, 0), short)
    one = np.array([BOS, 100, EOS])
    assert np.array_equal(np.delete(infill(one, 0), 1), [BOS, EOS])  # the only token becomes one span token
    never_random = text_infilling(sequence(300), MASK, np.random.default_rng(0), random_ratio=0.1, random_ids=None)
    assert set(never_random[never_random < 100].tolist()) <= {BOS, EOS, MASK}
