"""The Gumbel vector quantiser and the codebook mixing: schedule, values, perplexity, determinism, gradients."""

from __future__ import annotations

import math

import pytest
import torch

from espnet2_speecht5.nets.quantizer import GumbelVectorQuantizer, mix_quantised


def make_quantizer(seed: int = 0, **kwargs) -> GumbelVectorQuantizer:
    torch.manual_seed(seed)
    values = dict(dim=8, groups=2, entries=5, code_dim=6)
    values.update(kwargs)
    return GumbelVectorQuantizer(**values)


def test_temperature_anneals_from_max_to_min_per_update():
    q = make_quantizer(max_temp=2.0, min_temp=0.5, temp_decay=0.9)
    assert q.temperature == 2.0
    q.step()
    q.step(2)
    assert int(q.num_updates) == 3
    assert q.temperature == pytest.approx(2.0 * 0.9**3)
    q.set_num_updates(13)  # 2 * 0.9 ** 13 = 0.508
    assert q.temperature == pytest.approx(2.0 * 0.9**13)
    q.set_num_updates(14)  # 0.457 -> clamped
    assert q.temperature == 0.5
    # the paper's schedule: 2 -> 0.5 with 0.999995 per update reaches the floor after ~277k updates
    paper = make_quantizer()
    paper.set_num_updates(100_000)
    assert paper.temperature == pytest.approx(2.0 * math.exp(100_000 * math.log(0.999995)))
    paper.set_num_updates(300_000)
    assert paper.temperature == 0.5
    assert "num_updates" in paper.state_dict()  # the schedule survives a checkpoint


def test_eval_picks_the_argmax_entry_of_each_group():
    q = make_quantizer().eval()
    x = torch.randn(2, 3, 8)
    out = q(x)
    logits = x @ q.weight_proj.weight.t() + q.weight_proj.bias  # (2, 3, G·V)
    for b in range(2):
        for t in range(3):
            expected = []
            for g in range(2):
                best = int(logits[b, t, g * 5 : (g + 1) * 5].argmax())
                assert int(out.codes[b, t, g]) == best
                expected.append(q.codebook[g * 5 + best])
            torch.testing.assert_close(out.quantised[b, t], torch.cat(expected))


def test_perplexity_and_diversity_by_hand_ignore_padding():
    q = make_quantizer().eval()
    x = torch.randn(2, 4, 8)
    valid = torch.tensor([[True, True, True, True], [True, True, False, False]])
    out = q(x, valid)
    logits = (x @ q.weight_proj.weight.t() + q.weight_proj.bias)[valid]  # (6, 10)
    prob_ppl = 0.0
    code_ppl = 0.0
    for g in range(2):
        group = logits[:, g * 5 : (g + 1) * 5]
        avg = torch.exp(group) / torch.exp(group).sum(dim=1, keepdim=True)
        avg = avg.mean(dim=0)
        prob_ppl += torch.exp(-(avg * torch.log(avg + 1e-7)).sum())
        counts = torch.bincount(group.argmax(dim=1), minlength=5).float() / group.size(0)
        code_ppl += torch.exp(-(counts * torch.log(counts + 1e-7)).sum())
    torch.testing.assert_close(out.prob_perplexity, prob_ppl)
    torch.testing.assert_close(out.code_perplexity, code_ppl)
    torch.testing.assert_close(out.diversity_loss, (10 - prob_ppl) / 10)
    # the padded positions do not count
    changed = x.clone()
    changed[1, 2:] = 100.0 * torch.randn(2, 8)
    torch.testing.assert_close(q(changed, valid).prob_perplexity, out.prob_perplexity)


def test_uniform_code_use_has_zero_diversity_loss():
    q = make_quantizer(entries=4, groups=1, code_dim=4).eval()
    with torch.no_grad():
        q.weight_proj.weight.zero_()
        q.weight_proj.bias.zero_()
    with torch.no_grad():
        out = q(torch.randn(1, 3, 8))
    assert float(out.prob_perplexity) == pytest.approx(4.0, abs=1e-4)
    assert float(out.diversity_loss) == pytest.approx(0.0, abs=1e-4)


def test_training_is_hard_straight_through_and_seeded():
    q = make_quantizer().train()
    x = torch.randn(3, 7, 8, requires_grad=True)
    out = q(x, generator=torch.Generator().manual_seed(5))
    # forward values are exact codebook rows
    for g in range(2):
        rows = q.codebook[g * 5 + out.codes[..., g]]
        torch.testing.assert_close(out.quantised[..., g * 3 : (g + 1) * 3], rows)
    # gradients reach the projection, the codebook and the input through the soft relaxation
    (out.quantised.square().sum() + out.diversity_loss).backward()
    for tensor in (q.weight_proj.weight, q.codebook, x):
        assert tensor.grad is not None and float(tensor.grad.abs().sum()) > 0
    same = q(x, generator=torch.Generator().manual_seed(5))
    other = q(x, generator=torch.Generator().manual_seed(6))
    assert torch.equal(same.codes, out.codes)
    assert not torch.equal(other.codes, out.codes)


def test_mix_replaces_a_seeded_random_fraction_per_position():
    hidden = torch.zeros(8, 500, 4)
    quantised = torch.ones(8, 500, 4)
    mixed, chosen = mix_quantised(hidden, quantised, 0.1, torch.Generator().manual_seed(1))
    assert chosen.shape == (8, 500)
    assert torch.equal(mixed, chosen.unsqueeze(-1).expand(-1, -1, 4).float())
    assert abs(float(chosen.float().mean()) - 0.1) < 0.02  # 4000 draws: sd ~0.005
    # per batch element: rows differ (not one choice shared across the batch)
    assert not all(torch.equal(chosen[0], chosen[b]) for b in range(1, 8))
    again, chosen_again = mix_quantised(hidden, quantised, 0.1, torch.Generator().manual_seed(1))
    _, chosen_other = mix_quantised(hidden, quantised, 0.1, torch.Generator().manual_seed(2))
    assert torch.equal(chosen_again, chosen) and torch.equal(again, mixed)
    assert not torch.equal(chosen_other, chosen)
    none, _ = mix_quantised(hidden, quantised, 0.0)
    every, _ = mix_quantised(hidden, quantised, 1.0)
    assert torch.equal(none, hidden) and torch.equal(every, quantised)


def test_mix_passes_gradient_to_the_chosen_codes_only():
    hidden = torch.randn(2, 6, 3, requires_grad=True)
    quantised = torch.randn(2, 6, 3, requires_grad=True)
    mixed, chosen = mix_quantised(hidden, quantised, 0.5, torch.Generator().manual_seed(0))
    mixed.sum().backward()
    torch.testing.assert_close(quantised.grad, chosen.unsqueeze(-1).float().expand(-1, -1, 3))
    torch.testing.assert_close(hidden.grad, (~chosen).unsqueeze(-1).float().expand(-1, -1, 3))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="divisible"):
        GumbelVectorQuantizer(8, groups=3, code_dim=8)
    with pytest.raises(ValueError, match="min_temp"):
        GumbelVectorQuantizer(8, max_temp=0.5, min_temp=2.0)
    with pytest.raises(ValueError, match="prob"):
        mix_quantised(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3), 1.5)
