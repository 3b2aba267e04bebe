"""Each pre-training loss term against a value worked out by hand on a tiny input."""

from __future__ import annotations

import math

import pytest
import torch

from espnet2_speecht5.models.pretrain_losses import (
    feature_penalty,
    masked_prediction_loss,
    mel_l1_loss,
    stop_bce_loss,
    text_ce_loss,
)
from espnet2_speecht5.nets.masked_prediction import MaskedPredictionHead, cosine_logits
from espnet2_speecht5.nets.quantizer import diversity_loss, group_perplexity


def test_masked_prediction_loss_by_hand():
    proj = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [3.0, 4.0], [1.0, 1.0]]])  # (1, 4, 2)
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # 3 clusters
    labels = torch.tensor([[0, 2, 1, -1]])
    mask = torch.tensor([[True, True, False, True]])  # frame 2 unmasked, frame 3 unlabelled
    loss, acc = masked_prediction_loss(proj, emb, labels, mask, temperature=0.5)
    r = math.sqrt(2.0)
    # frame 0: cosines (1, 0, 1/sqrt2) / 0.5 = (2, 0, sqrt2), label 0
    frame0 = -2.0 + math.log(math.exp(2.0) + 1.0 + math.exp(r))
    # frame 1: cosines (0, 1, 1/sqrt2) / 0.5 = (0, 2, sqrt2), label 2
    frame1 = -r + math.log(1.0 + math.exp(2.0) + math.exp(r))
    assert float(loss) == pytest.approx((frame0 + frame1) / 2, rel=1e-5)
    assert float(acc) == pytest.approx(0.5)  # frame 0 right (argmax 0), frame 1 wrong (argmax 1)
    # the unmasked frame alone: cosines (0.6, 0.8, 0.7 sqrt2) / 0.5, label 1
    logits = [1.2, 1.6, 1.4 * r]
    loss_u, acc_u = masked_prediction_loss(proj, emb, labels, ~mask, temperature=0.5)
    assert float(loss_u) == pytest.approx(-logits[1] + math.log(sum(math.exp(v) for v in logits)), rel=1e-5)
    assert float(acc_u) == 0.0  # argmax is cluster 2
    # nothing selected: zero, and backward still works
    proj_grad = proj.clone().requires_grad_(True)
    empty, _ = masked_prediction_loss(proj_grad, emb, labels, torch.zeros_like(mask), 0.5)
    empty.backward()
    assert float(empty.detach()) == 0.0 and proj_grad.grad is not None


def test_cosine_logits_and_head_shapes():
    head = MaskedPredictionHead(d_model=6, num_clusters=5, final_dim=4, temperature=0.1)
    proj = head(torch.randn(2, 3, 6))
    assert proj.shape == (2, 3, 4)
    logits = head.logits(proj)
    assert logits.shape == (2, 3, 5)
    expected = torch.nn.functional.cosine_similarity(proj.unsqueeze(-2), head.label_embs, dim=-1) / 0.1
    torch.testing.assert_close(logits, expected)
    torch.testing.assert_close(cosine_logits(2.5 * proj, 3.0 * head.label_embs, 0.1), logits)  # scale-free


def test_mel_l1_loss_by_hand():
    target = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]])  # third frame is padding
    before = torch.tensor([[[1.5, 2.0], [2.0, 4.0], [0.0, 0.0]]])  # |diff| 0.5, 0, 1, 0
    after = torch.tensor([[[1.0, 1.0], [3.0, 6.0], [0.0, 0.0]]])  # |diff| 0, 1, 0, 2
    loss = mel_l1_loss(before, after, target, torch.tensor([2]))
    assert float(loss) == pytest.approx(1.5 / 4 + 3.0 / 4)


def test_mel_l1_averages_over_all_real_frames_of_the_batch():
    target = torch.zeros(2, 3, 1)
    before = torch.tensor([[[1.0], [1.0], [1.0]], [[4.0], [7.0], [7.0]]])
    loss = mel_l1_loss(before, torch.zeros_like(before), target, torch.tensor([3, 1]))
    assert float(loss) == pytest.approx((1 + 1 + 1 + 4) / 4)


def test_stop_bce_loss_by_hand():
    logits = torch.tensor([[0.0, 2.0, -1.0], [1.0, -3.0, 5.0]])
    labels = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    lengths = torch.tensor([2, 1])  # real: (0, 0), (0, 1), (1, 0)

    def softplus(v: float) -> float:
        return math.log1p(math.exp(v))

    terms = [
        softplus(0.0),  # label 0: -log(1 - sigmoid(0))
        5.0 * softplus(-2.0),  # label 1, weight 5: -5 log(sigmoid(2))
        5.0 * softplus(-1.0),  # label 1, weight 5: -5 log(sigmoid(1))
    ]
    loss = stop_bce_loss(logits, labels, lengths, pos_weight=5.0)
    assert float(loss) == pytest.approx(sum(terms) / 3, rel=1e-6)


def test_text_ce_loss_by_hand():
    logits = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 1.0, 3.0], [5.0, 5.0, 5.0]]])
    targets = torch.tensor([[1, 2, -1]])
    loss, acc = text_ce_loss(logits, targets)
    token0 = -0.0 + math.log(math.exp(2.0) + 2.0)
    token1 = -3.0 + math.log(1.0 + math.exp(1.0) + math.exp(3.0))
    assert float(loss) == pytest.approx((token0 + token1) / 2, rel=1e-6)
    assert float(acc) == pytest.approx(0.5)


def test_feature_penalty_by_hand():
    features = torch.tensor([[[1.0, 2.0], [3.0, 0.0]], [[-2.0, 1.0], [100.0, 100.0]]])
    valid = torch.tensor([[True, True], [True, False]])
    assert float(feature_penalty(features, valid)) == pytest.approx((1 + 4 + 9 + 0 + 4 + 1) / 6)
    assert float(feature_penalty(features[:1])) == pytest.approx(14 / 4)


def test_diversity_loss_by_hand():
    probs = torch.tensor([[0.5, 0.5, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])  # 2 groups x 4 entries
    ppl = group_perplexity(probs)
    assert float(ppl) == pytest.approx(2.0 + 1.0, abs=1e-5)  # exp(log 2) + exp(0)
    assert float(diversity_loss(ppl, 8)) == pytest.approx((8 - 3) / 8, abs=1e-5)
