"""recompute_activations: the same loss and gradients, fewer bytes kept for the backward pass."""

from __future__ import annotations

from typing import Dict, Tuple

import pytest
import torch

from espnet2_speecht5.models.asr import SpeechT5ASRModel
from espnet2_speecht5.models.tts import SpeechT5TTSModel
from espnet2_speecht5.nets import recompute
from espnet2_speecht5.nets.config import SpeechT5Config

BATCH, SAMPLES, LABELS = 3, 16000, 7


def tiny(recompute: bool) -> SpeechT5Config:
    # Attention dropout on: that is when the CPU path materialises the probabilities.
    return SpeechT5Config.tiny(attention_dropout=0.1, activation_dropout=0.1, recompute_activations=recompute)


def asr_inputs() -> Tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(1)
    wav = torch.randn(BATCH, SAMPLES, generator=generator)
    wav_lengths = torch.tensor([SAMPLES, 12000, 9000])
    text = torch.randint(4, 81, (BATCH, LABELS), generator=generator)
    text_lengths = torch.tensor([LABELS, 5, 6])
    return wav, wav_lengths, text, text_lengths


def asr_step(recompute: bool, autocast: bool = False) -> Tuple[float, Dict[str, torch.Tensor], int]:
    """One training forward/backward of the tiny ASR model: loss, gradients, bytes saved for backward."""
    torch.manual_seed(0)
    model = SpeechT5ASRModel(81, None, tiny(recompute), ctc_weight=0.3).train()
    saved = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    torch.manual_seed(2)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
            loss = model(*asr_inputs())[0]
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return loss.item(), grads, sum(saved.values())


def test_asr_loss_and_gradients_are_unchanged_and_less_is_kept(monkeypatch):
    # The tiny network's tensors are under the size worth recomputing: lower the bar.
    monkeypatch.setattr(recompute, "RECOMPUTE_MIN_BYTES", 0)
    loss_kept, grads_kept, bytes_kept = asr_step(recompute=False)
    loss_rec, grads_rec, bytes_rec = asr_step(recompute=True)
    assert loss_rec == loss_kept
    assert grads_rec.keys() == grads_kept.keys() and len(grads_rec) > 50
    for name, grad in grads_kept.items():
        torch.testing.assert_close(grads_rec[name], grad, rtol=0, atol=0, msg=name)
    # At least, for each of the two encoder blocks (2 heads, 50 frames), the probabilities and the
    # dropped probabilities (fp32) and the feed-forward activation (128 wide); and the first conv
    # block's convolution and norm outputs (32 channels x 3199 frames each).
    probs = 2 * BATCH * 2 * 50 * 50 * 4
    ffn = BATCH * 50 * 128 * 4
    first_block = BATCH * 32 * 3199 * 4
    assert bytes_kept - bytes_rec >= 2 * (probs + ffn) + 2 * first_block, (bytes_kept, bytes_rec)


def test_small_tensors_are_kept():
    """Under RECOMPUTE_MIN_BYTES everything is kept (cheaper for small networks and short inputs)."""
    _, grads_kept, bytes_kept = asr_step(recompute=False)
    _, grads_rec, bytes_rec = asr_step(recompute=True)
    assert bytes_rec == bytes_kept
    assert recompute.worth_recomputing(8, 12, 249, 249) and not recompute.worth_recomputing(8, 12, 100, 100)


def test_asr_gradients_match_under_bf16_autocast(monkeypatch):
    monkeypatch.setattr(recompute, "RECOMPUTE_MIN_BYTES", 0)
    _, grads_kept, _ = asr_step(recompute=False, autocast=True)
    _, grads_rec, _ = asr_step(recompute=True, autocast=True)
    for name, grad in grads_kept.items():
        torch.testing.assert_close(grads_rec[name], grad, rtol=0, atol=0, msg=name)


@pytest.mark.parametrize("on", [False, True])
def test_tts_training_step_runs_with_guided_attention(on, monkeypatch):
    """The decoder's cross-attention gives its weights to the guided attention loss: never recomputed."""
    monkeypatch.setattr(recompute, "RECOMPUTE_MIN_BYTES", 0)
    torch.manual_seed(0)
    model = SpeechT5TTSModel(81, None, tiny(on), use_speaker_embedding=False).train()
    generator = torch.Generator().manual_seed(3)
    text = torch.randint(4, 81, (2, 12), generator=generator)
    wav = torch.randn(2, 16000, generator=generator)
    loss = model(text, torch.tensor([12, 9]), wav, torch.tensor([16000, 12000]))[0]
    loss.backward()
    assert torch.isfinite(loss)
    assert model.net.decoder.layers[0].cross_attn.recompute is on


def test_evaluation_mode_gives_the_same_encoder_output():
    """No dropout in evaluation: the recompute setting changes nothing there."""
    wav, wav_lengths, _, _ = asr_inputs()
    outputs = []
    for on in (False, True):
        torch.manual_seed(0)
        model = SpeechT5ASRModel(81, None, tiny(on), ctc_weight=0.3).eval()
        with torch.no_grad():
            outputs.append(model.encode(wav, wav_lengths)[0].hidden)
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)
