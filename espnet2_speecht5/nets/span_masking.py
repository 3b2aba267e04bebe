"""Pre-training noise: HuBERT span masking of speech frames and BART text infilling.

Both are deterministic given their random source: a ``torch.Generator`` for speech masks, a
``numpy.random.Generator`` for text noise.

**Text infilling** (BART, as SpeechT5 pre-trains its text side): ``ceil(ratio · n)`` of the n
maskable tokens are removed in spans whose lengths are Poisson(λ) draws (the last draw is cut so
the lengths add up to the budget exactly). Each span, including a zero-length one (an insertion),
is replaced by ONE token: the mask token, or with probability ``random_ratio`` a random ordinary
token. Spans are placed uniformly at random without overlapping (so exactly the budget is
removed), between the protected first/last tokens (bos/eos).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from espnet2_speecht5.nets.masking import span_mask


def speech_span_mask(
    lengths: Optional[torch.Tensor],
    max_len: int,
    prob: float = 0.8,
    span: int = 10,
    min_spans: int = 2,
    generator: Optional[torch.Generator] = None,
    batch: Optional[int] = None,
) -> torch.Tensor:
    """HuBERT/wav2vec 2.0 time mask for a padded batch of frame sequences.

    For a sequence of n real frames, about ``prob · n / span`` (at least ``min_spans``) distinct
    span starts are drawn uniformly; each masks ``span`` frames (spans may overlap). Padded frames
    are never masked.

    Args:
        lengths: (B,) real frame counts, or None when every sequence has ``max_len`` frames.
        max_len: T, the padded length.
        prob, span, min_spans: masking probability, span length, minimum number of spans.
        generator: random source; None = torch's global one.
        batch: B when ``lengths`` is None.

    Returns:
        (B, T) bool mask on ``lengths``' device (CPU when None), True = masked.
    """
    if lengths is None:
        if batch is None:
            raise ValueError("give either lengths or batch")
        return span_mask(batch, max_len, prob, span, min_spans, None, generator)
    mask = span_mask(lengths.size(0), max_len, prob, span, min_spans, lengths.detach().cpu(), generator)
    return mask.to(lengths.device)


def poisson_span_lengths(budget: int, poisson_lambda: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson(λ) span lengths drawn until they cover ``budget`` tokens, the last one cut to fit.

    The result sums to ``budget`` exactly; it may hold zeros (spans that insert a mask token).
    """
    if budget <= 0:
        return np.zeros(0, dtype=np.int64)
    expected = max(1, int(math.ceil(budget / max(poisson_lambda, 1e-3))))
    lengths = rng.poisson(poisson_lambda, size=expected)
    while lengths.sum() < budget:
        lengths = np.concatenate([lengths, rng.poisson(poisson_lambda, size=expected)])
    cumulative = np.cumsum(lengths)
    last = int(np.searchsorted(cumulative, budget))  # first index where the running sum reaches budget
    lengths = lengths[: last + 1].astype(np.int64)
    lengths[last] = budget - (int(cumulative[last - 1]) if last > 0 else 0)
    return lengths


@dataclass
class InfillingPlan:
    """Where the spans go, for a body of ``body_len`` maskable tokens.

    starts: (S,) body index where each span begins (in the original sequence order, ascending);
    lengths: (S,) tokens each span removes (0 = an inserted mask); random: (S,) bool, the span
    becomes a random token instead of the mask token.
    """

    body_len: int
    starts: np.ndarray
    lengths: np.ndarray
    random: np.ndarray


def plan_infilling(
    body_len: int,
    rng: np.random.Generator,
    mask_ratio: float = 0.3,
    poisson_lambda: float = 3.5,
    random_ratio: float = 0.1,
) -> InfillingPlan:
    """Draw span lengths and place them without overlap over ``body_len`` tokens.

    The spans and the ``body_len - budget`` kept tokens are laid out in a uniformly random order
    (spans in the order their lengths were drawn).
    """
    budget = int(math.ceil(body_len * mask_ratio)) if body_len > 0 else 0
    lengths = poisson_span_lengths(budget, poisson_lambda, rng)
    count = lengths.size
    kept = body_len - budget
    # choose which of the count + kept slots hold spans; the rest are kept tokens, in order
    slots = np.sort(rng.choice(count + kept, size=count, replace=False)) if count else np.zeros(0, np.int64)
    # a span in slot s is preceded by s - i kept tokens and by the spans 0..i-1
    before = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if count else np.zeros(0, np.int64)
    starts = (slots - np.arange(count)) + before
    random = rng.random(count) < random_ratio
    return InfillingPlan(body_len, starts.astype(np.int64), lengths, random)


def apply_infilling(
    tokens: np.ndarray,
    plan: InfillingPlan,
    mask_id: int,
    random_ids: Sequence[int],
    rng: np.random.Generator,
    offset: int = 0,
) -> np.ndarray:
    """Apply ``plan`` to the body ``tokens[offset : offset + plan.body_len]``; the rest is kept."""
    body = tokens[offset : offset + plan.body_len]
    pieces = [tokens[:offset]]
    position = 0
    candidates = np.asarray(random_ids, dtype=tokens.dtype)
    for start, length, is_random in zip(plan.starts.tolist(), plan.lengths.tolist(), plan.random.tolist()):
        pieces.append(body[position:start])
        if is_random and candidates.size:
            pieces.append(np.asarray([candidates[rng.integers(candidates.size)]], dtype=tokens.dtype))
        else:
            pieces.append(np.asarray([mask_id], dtype=tokens.dtype))
        position = start + length
    pieces.append(body[position:])
    pieces.append(tokens[offset + plan.body_len :])
    return np.concatenate(pieces)


def text_infilling(
    tokens: np.ndarray,
    mask_id: int,
    rng: np.random.Generator,
    mask_ratio: float = 0.3,
    poisson_lambda: float = 3.5,
    random_ratio: float = 0.1,
    random_ids: Optional[Sequence[int]] = None,
    keep_first: bool = True,
    keep_last: bool = True,
) -> np.ndarray:
    """BART text infilling of one token sequence.

    Args:
        tokens: (N,) int ids, e.g. ``bos x eos``.
        mask_id: the mask token id.
        rng: random source.
        mask_ratio: fraction of the maskable tokens to remove (0.3).
        poisson_lambda: mean span length (3.5).
        random_ratio: fraction of spans replaced by a random token instead of the mask (0.1).
        random_ids: the ids a random replacement draws from (uniformly); None or empty: always mask.
        keep_first, keep_last: never touch the first / last token (bos / eos).

    Returns:
        the noised (N',) ids, same dtype.
    """
    tokens = np.asarray(tokens)
    offset = 1 if keep_first else 0
    body_len = max(tokens.size - offset - (1 if keep_last else 0), 0)
    plan = plan_infilling(body_len, rng, mask_ratio, poisson_lambda, random_ratio)
    return apply_infilling(tokens, plan, mask_id, [] if random_ids is None else random_ids, rng, offset)
