"""Utterance-batched beam search: ``Speech2Text.batch`` finds, for every utterance, what ESPnet's
``BatchBeamSearch`` finds for it alone, with B utterances x beam hypotheses per decoder call."""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
import pytest
import torch
import yaml
from asr_helpers import NET_CONF, TOKENS, make_model

from espnet2_speecht5.inference.speech2text import Speech2Text
from espnet2_speecht5.search.utterance_batch_beam_search import Hyp, end_detected, length_limits

SECONDS = [0.3, 0.55, 0.2, 0.42, 0.3]
TEXTS = ["abc", "de ab", "c", "bad e", "ed"]


def _waves(seconds: List[float], seed: int) -> List[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.standard_normal(int(16000 * s))).astype(np.float32) for s in seconds]


@pytest.fixture(scope="module")
def fitted_exp(tmp_path_factory):
    """A tiny model fitted for a few seconds to five noise "utterances" with different transcripts,
    so that its hypotheses differ in content and length (a random model repeats one token)."""
    model = make_model(seed=1, ctc_weight=0.3)
    waves = [torch.from_numpy(w) for w in _waves(SECONDS, seed=0)]
    wav = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
    ids = [[TOKENS.index("<space>" if c == " " else c) for c in text] for text in TEXTS]
    text = torch.nn.utils.rnn.pad_sequence([torch.tensor(x) for x in ids], batch_first=True, padding_value=-1)
    lengths = (torch.tensor([w.numel() for w in waves]), torch.tensor([len(x) for x in ids]))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(200):
        loss = model(wav, lengths[0], text, lengths[1])[0]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    root = tmp_path_factory.mktemp("fitted_asr")
    torch.save(model.state_dict(), root / "model.pth")
    config = dict(token_list=list(TOKENS), token_type="char", bpemodel=None, use_preprocessor=True,
                  non_linguistic_symbols=None, cleaner=None, g2p=None, net_conf=dict(NET_CONF),
                  model_conf=dict(ctc_weight=0.3), init=None)
    (root / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return dict(config=root / "config.yaml", model=root / "model.pth")


OPTIONS: List[Dict[str, Any]] = [
    dict(beam_size=3, ctc_weight=0.3),  # end detection, CTC with a pre-beam
    dict(beam_size=4, ctc_weight=0.0, penalty=0.5, maxlenratio=0.5, nbest=3),  # no CTC, length bonus
    dict(beam_size=2, ctc_weight=0.5, minlenratio=0.2, maxlenratio=0.6, nbest=2),  # forced end at maxlen
    dict(beam_size=6, ctc_weight=0.3, maxlenratio=-7.0, nbest=4),  # absolute length; pre-beam 9 = all tokens
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(f"{k}{v}" for k, v in o.items()))
def test_batched_search_finds_the_hypotheses_of_one_at_a_time(fitted_exp, options: Dict[str, Any], monkeypatch):
    s2t = Speech2Text(fitted_exp["config"], fitted_exp["model"], **options)
    waves = _waves(SECONDS, seed=0) + _waves([0.33, 0.25], seed=5)  # the fitted five and two unseen
    calls: List[int] = []
    net = s2t.model.net
    original = net.decode_step

    def counting(enc, tokens, cache):
        calls.append(tokens.size(0))
        return original(enc, tokens, cache)

    monkeypatch.setattr(net, "decode_step", counting)
    alone, steps_alone = [], []
    for wave in waves:
        calls.clear()
        alone.append(s2t(wave))
        steps_alone.append(len(calls))
    calls.clear()
    together = s2t.batch(waves)
    assert calls[0] == len(waves), "the first step should run every utterance in one decoder call"
    assert max(calls) == len(waves) * options["beam_size"]
    # one call per step for all utterances (plus ESPnet's retry for an utterance whose minimum
    # length left it no hypothesis, which batch() hands to the one-at-a-time search)
    assert len(calls) < sum(steps_alone) / 2, (calls, steps_alone)

    for index, (want, got) in enumerate(zip(alone, together)):
        assert want, f"utterance {index}: no hypothesis alone"
        assert [r[2] for r in got] == [r[2] for r in want], f"utterance {index}"
        assert [r[0] for r in got] == [r[0] for r in want]
        np.testing.assert_allclose([float(r[3].score) for r in got], [float(r[3].score) for r in want], rtol=1e-5,
                                   atol=1e-4)
    assert len({tuple(r[0][2]) for r in alone}) > 1, "utterances decoded alike: the comparison is weak"


def test_an_lm_or_ctc_weight_one_decodes_one_at_a_time(fitted_exp):
    s2t = Speech2Text(fitted_exp["config"], fitted_exp["model"], beam_size=2, ctc_weight=1.0, maxlenratio=0.3)
    assert s2t.utterance_batch_search is None
    waves = _waves([0.3, 0.4], seed=9)
    assert [r[0][2] for r in s2t.batch(waves)] == [s2t(w)[0][2] for w in waves]


def test_length_limits_and_end_detection_follow_espnet():
    from espnet.nets.e2e_asr_common import end_detect

    assert length_limits(0.0, 0.0, 40) == (40, 0)
    assert length_limits(-7.0, -3.0, 40) == (7, 3)
    assert length_limits(0.25, 0.1, 40) == (10, 4)
    assert length_limits(0.001, 0.0, 40) == (1, 0)
    rng = np.random.default_rng(0)
    for _ in range(200):
        hyps = [Hyp(torch.zeros(int(rng.integers(2, 9)), dtype=torch.long), float(rng.normal(-5, 8)))
                for _ in range(int(rng.integers(0, 6)))]
        step = int(rng.integers(0, 10))
        want = end_detect([{"yseq": h.yseq, "score": h.score} for h in hyps], step)
        assert end_detected(hyps, step) == want
