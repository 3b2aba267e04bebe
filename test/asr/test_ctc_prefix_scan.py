"""The scan-based CTC prefix scorer against ESPnet's frame loop (espnet.nets.ctc_prefix_score)."""

from __future__ import annotations

from typing import List, Optional, Tuple

import pytest
import torch
from asr_helpers import TOKENS, make_model
from espnet.nets.batch_beam_search import BatchBeamSearch
from espnet.nets.ctc_prefix_score import CTCPrefixScoreTH
from espnet.nets.scorers.ctc import CTCPrefixScorer
from espnet.nets.scorers.length_bonus import LengthBonus

from espnet2_speecht5.search.asr_scorer import SpeechT5DecoderScorer
from espnet2_speecht5.search.ctc_prefix_scorer import ScanCTCPrefixScore, ScanCTCPrefixScorer, log_linear_scan

SENTINEL = -1e9  # both implementations mark impossible paths with about -1e10


def test_log_linear_scan_solves_the_recurrence():
    gen = torch.Generator().manual_seed(0)
    init = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    inputs = 5 * torch.randn(50, 3, 4, generator=gen, dtype=torch.float64)
    gains = -3 * torch.rand(50, 3, 4, generator=gen, dtype=torch.float64)
    expected, h = [], init
    for t in range(50):
        h = torch.logaddexp(h, inputs[t]) + gains[t]
        expected.append(h)
    torch.testing.assert_close(log_linear_scan(init, inputs, gains), torch.stack(expected), rtol=0, atol=1e-9)


def _same_scores(a: torch.Tensor, b: torch.Tensor, atol: float) -> None:
    possible = a > SENTINEL
    assert torch.equal(possible, b > SENTINEL)
    torch.testing.assert_close(b[possible], a[possible], rtol=0, atol=atol)


def _walk(
    frames: List[int], odim: int, beam: int, steps: int, scoring: Optional[int], dtype: torch.dtype, seed: int
) -> Tuple[int, float]:
    """Run both scorers side by side for ``steps`` steps, extending each hypothesis by a random scored
    candidate; compare scores and forward variables at every step. Returns (steps compared, max diff)."""
    gen = torch.Generator().manual_seed(seed)
    batch, longest, eos = len(frames), max(frames), odim - 1
    logp = torch.randn(batch, longest, odim, generator=gen).log_softmax(-1).to(dtype)
    lengths = torch.tensor(frames)
    ref = CTCPrefixScoreTH(logp.clone(), lengths, 0, eos)
    new = ScanCTCPrefixScore(logp.clone(), lengths, 0, eos)
    n_bh = batch * beam
    ys = [torch.tensor([eos]) for _ in range(n_bh)]
    state_ref = state_new = None
    worst = 0.0
    for _ in range(steps):
        ids = None
        if scoring is not None:
            ids = torch.stack([torch.randperm(odim - 2, generator=gen)[:scoring] + 1 for _ in range(n_bh)])
        score_ref, full_ref = ref(ys, state_ref, ids)
        score_new, full_new = new(ys, state_new, ids)
        _same_scores(score_ref, score_new, 1e-8 if dtype == torch.float64 else 2e-3)
        _same_scores(full_ref[0], full_new[0], 1e-8 if dtype == torch.float64 else 2e-3)
        assert full_ref[2:4] == full_new[2:4]
        if scoring is not None:
            assert torch.equal(full_ref[4], full_new[4])
        possible = score_ref > SENTINEL
        worst = max(worst, (score_ref[possible] - score_new[possible]).abs().max().item())
        # each hypothesis keeps one of its candidates: ids in (batch, hyp * odim + label) space
        pool = ids if ids is not None else torch.arange(1, odim - 1).expand(n_bh, -1)
        pick = torch.randint(pool.size(1), (n_bh,), generator=gen)
        labels = pool[torch.arange(n_bh), pick]
        best = (labels + torch.arange(beam).repeat(batch) * odim).view(batch, beam)
        state_ref = ref.index_select_state(full_ref, best)
        state_new = new.index_select_state(full_new, best)
        ys = [torch.cat([ys[h], labels[h : h + 1]]) for h in range(n_bh)]
    return steps, worst


@pytest.mark.parametrize("scoring", [None, 4], ids=["all labels", "pre-beam of 4"])
def test_scores_and_states_equal_espnet_in_float64(scoring: Optional[int]):
    steps, worst = _walk([40, 31], odim=12, beam=3, steps=25, scoring=scoring, dtype=torch.float64, seed=1)
    assert steps == 25 and worst < 1e-8


def test_float32_scores_stay_within_espnet_rounding():
    """In float32 ESPnet rounds at every frame; the scan runs in float64 and rounds once."""
    _, worst = _walk([120], odim=30, beam=5, steps=40, scoring=7, dtype=torch.float32, seed=2)
    assert worst < 2e-3


@torch.no_grad()
@pytest.mark.parametrize("ctc_weight", [0.3, 1.0])
def test_beam_search_finds_the_same_hypotheses(ctc_weight: float):
    model = make_model(seed=3, ctc_weight=0.5).eval()
    torch.manual_seed(0)
    wav = torch.randn(1, 12000)
    enc, _ = model.encode(wav, torch.tensor([12000]))
    eos = len(TOKENS) - 1

    def search(ctc_scorer_class: type) -> list:
        scorers = dict(decoder=SpeechT5DecoderScorer(model),
                       ctc=ctc_scorer_class(ctc=model.ctc, eos=model.eos), length_bonus=LengthBonus(len(TOKENS)))
        beam = BatchBeamSearch(scorers=scorers, weights=dict(decoder=1 - ctc_weight, ctc=ctc_weight, length_bonus=0.5),
                               beam_size=4, vocab_size=len(TOKENS), sos=eos, eos=eos,
                               pre_beam_score_key=None if ctc_weight == 1.0 else "full")
        return beam(enc.hidden[0], maxlenratio=0.0, minlenratio=0.0)

    expected, got = search(CTCPrefixScorer), search(ScanCTCPrefixScorer)
    assert len(got) == len(expected) > 0
    for a, b in zip(expected, got):
        assert a.yseq.tolist() == b.yseq.tolist()
        assert abs(float(a.score) - float(b.score)) < 1e-3
