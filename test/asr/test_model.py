"""SpeechT5ASRModel: loss and stats, token-id mapping, collect_feats, attention probes, --init_param."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from asr_helpers import TOKENS, make_model
from espnet2.main_funcs.calculate_all_attentions import calculate_all_attentions
from espnet2.torch_utils.load_pretrained_model import load_pretrained_model

from espnet2_speecht5.checkpoint.convert import write_ours
from espnet2_speecht5.models.asr import SpeechT5ASRModel
from espnet2_speecht5.models.common import NET_PAD_ID, espnet_to_net_ids, id_permutation
from espnet2_speecht5.nets.compositions import SpeechToText


def batch(lengths=(4800, 3200), text_lengths=(5, 3)):
    torch.manual_seed(0)
    speech = torch.randn(len(lengths), max(lengths))
    for row, n in enumerate(lengths):
        speech[row, n:] = 0.0
    text = torch.full((len(lengths), max(text_lengths)), -1, dtype=torch.long)
    for row, n in enumerate(text_lengths):
        text[row, :n] = torch.randint(2, len(TOKENS) - 1, (n,))
    return speech, torch.tensor(lengths), text, torch.tensor(text_lengths)


def test_forward_backward_stats(model: SpeechT5ASRModel) -> None:
    speech, speech_lengths, text, text_lengths = batch()
    loss, stats, weight = model(speech, speech_lengths, text, text_lengths)
    assert loss.numel() == 1 and torch.isfinite(loss).all()  # force_gatherable makes scalars (1,)
    assert int(weight) == 2
    assert set(stats) == {"loss", "loss_att", "loss_ctc", "acc"}
    expected = 0.5 * stats["loss_ctc"] + 0.5 * stats["loss_att"]
    assert torch.allclose(stats["loss"], expected)
    assert 0.0 <= float(stats["acc"]) <= 1.0
    loss.sum().backward()
    assert model.ctc.ctc_lo.weight.grad is not None
    assert model.net.speech_prenet.feature_extractor.layers[0].conv.weight.grad is not None
    assert model.net.text_decoder_prenet.embed_tokens.weight.grad is not None


@pytest.mark.parametrize("ctc_weight, present, absent", [(0.0, "loss_att", "loss_ctc"), (1.0, "loss_ctc", "loss_att")])
def test_single_loss_modes(ctc_weight: float, present: str, absent: str) -> None:
    model = make_model(ctc_weight=ctc_weight)
    _, stats, _ = model(*batch())
    assert present in stats and absent not in stats
    assert torch.allclose(stats["loss"], stats[present])


def test_eval_error_rates() -> None:
    model = make_model(report_cer=True, report_wer=True).eval()
    _, stats, _ = model(*batch())
    assert {"cer", "wer", "cer_ctc"} <= set(stats)


def test_text_padding_does_not_change_the_loss(model: SpeechT5ASRModel) -> None:
    """Padding the text of a shorter transcript (-1) leaves its attention and CTC losses unchanged.

    (Speech padding is not exactly neutral: the first conv's GroupNorm and the conv positions
    see the padded samples, as in wav2vec 2.0.)
    """
    model.eval()
    speech, speech_lengths, text, text_lengths = batch(lengths=(4000, 4000))
    _, first, _ = model(speech[:1], speech_lengths[:1], text[:1, :5], text_lengths[:1])
    _, second, _ = model(speech[1:], speech_lengths[1:], text[1:, :3], text_lengths[1:])
    _, both, _ = model(speech, speech_lengths, text, text_lengths)
    for key in ("loss_att", "loss_ctc"):
        assert torch.allclose(both[key] * 2, first[key] + second[key], atol=1e-3), key


def test_token_id_mapping() -> None:
    perm = id_permutation(6)
    assert perm.tolist() == [1, 0, 2, 3, 4, 5]
    ids = torch.tensor([[5, 1, 3, -1, -1]])
    assert espnet_to_net_ids(ids, perm).tolist() == [[5, 0, 3, NET_PAD_ID, NET_PAD_ID]]
    model = make_model()
    cfg = model.net.cfg
    assert (cfg.vocab_size, cfg.pad_id, cfg.eos_id, cfg.decoder_start_id) == (len(TOKENS), 1, 8, 8)


def test_decoder_io(model: SpeechT5ASRModel) -> None:
    text = torch.tensor([[3, 4, 5], [6, -1, -1]])
    ys_in, ys_out = model.decoder_io(text, torch.tensor([3, 1]))
    assert ys_in.tolist() == [[8, 3, 4, 5], [8, 6, -1, -1]]
    assert ys_out.tolist() == [[3, 4, 5, 8], [6, 8, -1, -1]]


def test_collect_feats_is_the_waveform(model: SpeechT5ASRModel) -> None:
    speech, speech_lengths, text, text_lengths = batch()
    feats = model.collect_feats(speech, speech_lengths, text, text_lengths)
    assert feats["feats"] is speech and feats["feats_lengths"] is speech_lengths


def test_attention_plot_hooks(model: SpeechT5ASRModel) -> None:
    """ESPnet's calculate_all_attentions (used by --num_att_plot) sees the decoder cross-attention."""
    model.eval()
    speech, speech_lengths, text, text_lengths = batch()
    atts = calculate_all_attentions(
        model, dict(speech=speech, speech_lengths=speech_lengths, text=text, text_lengths=text_lengths)
    )
    assert sorted(atts) == ["cross_attention.0", "cross_attention.1"]
    frames = int(model.net.speech_prenet.frame_lengths(speech_lengths[0]))
    heads = model.net.cfg.decoder_heads
    assert atts["cross_attention.0"][0].shape == (heads, 6, frames)  # 5 tokens + <sos>
    assert not any(probe.wanted for probe in model.cross_attention)  # hooks removed afterwards


def test_init_param_from_converted_checkpoint(tmp_path: Path) -> None:
    """convert_checkpoint.py writes the network without prefix; --init_param FILE::net loads it."""
    source = make_model(seed=3)
    path = tmp_path / "converted.pth"
    write_ours(source.net.state_dict(), "s2t", source.net.cfg, path)
    target = make_model(seed=4)
    assert not torch.equal(target.net.encoder.layers[0].ffn.fc1.weight, source.net.encoder.layers[0].ffn.fc1.weight)
    ctc_before = target.ctc.ctc_lo.weight.clone()
    load_pretrained_model(f"{path}::net", target, ignore_init_mismatch=False)
    for key, value in source.net.state_dict().items():
        assert torch.equal(target.net.state_dict()[key], value), key
    assert torch.equal(target.ctc.ctc_lo.weight, ctc_before)


def test_init_param_other_vocabulary(tmp_path: Path) -> None:
    """A checkpoint with another vocabulary loads everything but the embedding when mismatches are ignored."""
    other = SpeechToText(make_model().net.cfg.replace(vocab_size=81))
    path = tmp_path / "pretrained.pth"
    write_ours(other.state_dict(), "s2t", other.cfg, path)
    target = make_model(seed=5)
    with pytest.raises(RuntimeError):
        load_pretrained_model(f"{path}::net", target, ignore_init_mismatch=False)
    load_pretrained_model(f"{path}::net", target, ignore_init_mismatch=True)
    assert torch.equal(target.net.decoder.layers[0].ffn.fc2.weight, other.decoder.layers[0].ffn.fc2.weight)
    assert target.net.text_decoder_prenet.embed_tokens.weight.shape[0] == len(TOKENS)
