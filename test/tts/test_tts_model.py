"""The TTS model: targets, losses and batched generation."""

from __future__ import annotations

import pytest
import torch

from espnet2_speecht5.models.common import make_targets

from tts_helpers import make_tts_model


def batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    text = torch.tensor([[3, 4, 5, 2, 6, 7], [4, 3, -1, -1, -1, -1], [7, 6, 2, 5, -1, -1]])
    text_lengths = torch.tensor([6, 2, 4])
    speech = 0.1 * torch.randn(3, 8000, generator=g)
    speech_lengths = torch.tensor([8000, 5000, 6500])
    spembs = torch.randn(3, 8, generator=g)
    return text, text_lengths, speech, speech_lengths, spembs


def test_targets_are_cut_to_the_reduction_factor_with_stop_on_the_last_frame() -> None:
    mel = torch.arange(2 * 7 * 2, dtype=torch.float32).view(2, 7, 2) + 1
    t = make_targets(mel, torch.tensor([7, 4]), reduction_factor=2)
    assert t.lengths.tolist() == [6, 4]
    assert t.mel.shape == (2, 6, 2)
    assert torch.all(t.mel[1, 4:] == 0)  # beyond the (cut) length
    assert t.stop[0].nonzero().flatten().tolist() == [5]
    assert t.stop[1].nonzero().flatten().tolist() == [3]
    assert t.steps.tolist() == [3, 2]
    # decoder input of step n is the last frame of step n - 1; zeros first
    assert torch.all(t.prev_mel[:, 0] == 0)
    assert torch.equal(t.prev_mel[0, 1], mel[0, 1])
    assert torch.equal(t.prev_mel[0, 2], mel[0, 3])
    with pytest.raises(ValueError, match="at least 2 mel frames"):
        make_targets(mel, torch.tensor([7, 1]), reduction_factor=2)


def test_loss_is_the_weighted_sum_of_its_terms() -> None:
    model = make_tts_model(l1_weight=2.0, bce_weight=0.5, guided_attn_weight=3.0)
    loss, stats, weight = model(*batch())
    expected = 2.0 * stats["l1_loss"] + 0.5 * stats["bce_loss"] + 3.0 * stats["attn_loss"]
    assert torch.allclose(loss, expected)
    assert int(weight) == 3
    loss.backward()
    grads = [p.grad for p in model.net.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_without_guided_attention_there_is_no_attention_term() -> None:
    model = make_tts_model(guided_attn_weight=0.0)
    loss, stats, _ = model(*batch())
    assert "attn_loss" not in stats
    assert torch.allclose(loss, stats["l1_loss"] + stats["bce_loss"])


def test_guided_attention_prefers_the_diagonal() -> None:
    model = make_tts_model(guided_attn_heads=1)
    steps, tokens = 6, 6
    diagonal = torch.eye(steps, tokens)[None, None]
    anti = torch.flip(torch.eye(steps, tokens), dims=[1])[None, None]
    lengths_in, lengths_out = torch.tensor([tokens]), torch.tensor([steps])
    on = model.guided_attention_loss([diagonal], lengths_in, lengths_out)
    off = model.guided_attention_loss([anti], lengths_in, lengths_out)
    assert float(on) < 0.05 * float(off)


def test_missing_speaker_embedding_is_reported() -> None:
    model = make_tts_model()
    text, text_lengths, speech, speech_lengths, _ = batch()
    with pytest.raises(ValueError, match="speaker embeddings"):
        model(text, text_lengths, speech, speech_lengths, None)


def test_batched_synthesis_equals_one_at_a_time() -> None:
    """Padding in a batch must not change a row: frames match until either run stops."""
    model = make_tts_model(seed=3, prenet_dropout_at_inference=False).eval()
    text, text_lengths, _, _, spembs = batch()
    together = model.synthesize(text, text_lengths, spembs, threshold=1e9, maxlenratio=3.0)
    for row in range(3):
        n = int(text_lengths[row])
        alone = model.synthesize(
            text[row : row + 1, :n], text_lengths[row : row + 1], spembs[row : row + 1], threshold=1e9, maxlenratio=3.0
        )
        frames = min(int(alone.lengths[0]), int(together.lengths[row]))
        assert frames >= 2
        assert torch.allclose(together.mel_before[row, :frames], alone.mel_before[0, :frames], atol=1e-5)


def test_stop_threshold_and_length_ratios() -> None:
    model = make_tts_model(seed=2, prenet_dropout_at_inference=False).eval()
    text, text_lengths, _, _, spembs = batch()
    one = (text[:1], text_lengths[:1], spembs[:1])
    never = model.synthesize(*one, threshold=1e9, maxlenratio=4.0)
    assert int(never.lengths[0]) == int(6 * 4.0 / 2) * 2  # stops only at the maximum
    at_once = model.synthesize(*one, threshold=0.0, minlenratio=2.0, maxlenratio=4.0)
    assert int(at_once.lengths[0]) == int(6 * 2.0 / 2) * 2  # stops as soon as the minimum allows
    with_att = model.synthesize(*one, threshold=1e9, maxlenratio=2.0, return_attention=True)
    layers, rows, heads, steps, tokens = with_att.attention.shape
    assert (layers, rows, heads, tokens) == (2, 1, 2, 6)
    assert steps == int(with_att.lengths[0]) // 2
    assert torch.allclose(with_att.attention.sum(-1), torch.ones(()))
