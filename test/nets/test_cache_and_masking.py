"""Key/value-cache decoding, span masking and the always-on pre-net dropout."""

from __future__ import annotations

import torch

from espnet2_speecht5.nets.compositions import SpeechToText, TextToSpeech, shift_mel_right
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.nets.encoder import Encoder
from espnet2_speecht5.nets.masking import span_mask
from espnet2_speecht5.nets.speech_encoder_prenet import SpeechEncoderPrenet


def test_text_decoding_with_cache_equals_full_recomputation():
    torch.manual_seed(0)
    net = SpeechToText(SpeechT5Config.tiny()).eval()
    wav = torch.randn(2, 6400)
    tokens = torch.randint(3, 81, (2, 12))
    tokens[:, 0] = 2
    with torch.no_grad():
        enc = net.encode(wav, torch.tensor([6400, 5000]))
        full = net.decode(enc, tokens).logits
        cache = net.decoder.new_cache()
        steps = [net.decode_step(enc, tokens[:, :3], cache)]  # a multi-token first chunk, then one at a time
        for t in range(3, tokens.size(1)):
            steps.append(net.decode_step(enc, tokens[:, t : t + 1], cache))
    cached = torch.cat(steps, dim=1)
    diff = float((full - cached).abs().max())
    print(f"[cache] s2t logits, cached vs full: max abs diff {diff:.3g}")
    assert cache.length == tokens.size(1)
    assert diff <= 1e-4, f"cached decoding differs from full recomputation by {diff}"


def test_speech_decoding_with_cache_equals_full_recomputation():
    torch.manual_seed(1)
    cfg = SpeechT5Config.tiny()
    net = TextToSpeech(cfg, always_prenet_dropout=False).eval()
    tokens = torch.randint(4, 81, (2, 9))
    prev = shift_mel_right(torch.randn(2, 16, 80), cfg.reduction_factor)
    speaker = torch.randn(2, 512)
    with torch.no_grad():
        enc = net.encode(tokens)
        full = net.decode(enc, prev, speaker=speaker).hidden
        cache = net.decoder.new_cache()
        steps = [net.decode_step(enc, prev[:, t : t + 1], cache, speaker) for t in range(prev.size(1))]
    diff = float((full - torch.cat(steps, dim=1)).abs().max())
    print(f"[cache] t2s decoder states, cached vs full: max abs diff {diff:.3g}")
    assert diff <= 1e-4, f"cached decoding differs from full recomputation by {diff}"


def test_cache_reorder_selects_rows():
    torch.manual_seed(2)
    net = SpeechToText(SpeechT5Config.tiny()).eval()
    with torch.no_grad():
        enc = net.encode(torch.randn(3, 4000))
        cache = net.decoder.new_cache()
        net.decode_step(enc, torch.full((3, 1), 2), cache)
        keys_before = cache.layers[0].self_kv[0].clone()
        cache.reorder(torch.tensor([2, 0]))
    assert torch.equal(cache.layers[0].self_kv[0], keys_before[[2, 0]])


def test_span_masking_only_in_training():
    torch.manual_seed(3)
    cfg = SpeechT5Config.tiny(mask_time_prob=0.5, mask_time_length=4, mask_time_min_masks=1)
    prenet = SpeechEncoderPrenet(cfg)
    wav = torch.randn(2, 16000)
    lengths = torch.tensor([16000, 9600])
    prenet.eval()
    with torch.no_grad():
        first, _, no_mask = prenet(wav, lengths)
        second, _, _ = prenet(wav, lengths)
    assert no_mask is None and torch.equal(first, second)
    prenet.train()
    with torch.no_grad():
        _, valid, mask = prenet(wav, lengths)
    assert mask is not None and bool(mask.any()), "training must mask some frames"
    assert not bool((mask & ~valid).any()), "padded frames must never be masked"
    frames = int(valid[1].sum())
    print(f"[masking] training masked {int(mask[0].sum())}/50 and {int(mask[1].sum())}/{frames} frames")


def test_masked_frames_use_the_mask_embedding():
    cfg = SpeechT5Config.tiny()
    prenet = SpeechEncoderPrenet(cfg).eval()
    x = torch.randn(1, 20, cfg.d_model)
    mask = torch.zeros(1, 20, dtype=torch.bool)
    mask[0, 5:9] = True
    out, used = prenet.apply_masking(x, None, mask)
    assert used is mask
    assert torch.equal(out[0, 5], prenet.mask_emb.detach()) and torch.equal(out[0, 0], x[0, 0])


def test_span_mask_shapes_and_rate():
    gen = torch.Generator().manual_seed(4)
    mask = span_mask(4, 200, prob=0.65, span=10, min_spans=2, lengths=torch.tensor([200, 150, 30, 5]), generator=gen)
    assert mask.shape == (4, 200)
    assert not bool(mask[1, 150:].any()) and not bool(mask[2, 30:].any())
    assert not bool(mask[3].any()), "a sequence shorter than a span is left alone"
    assert 0.3 < float(mask[0].float().mean()) <= 0.65


def test_prenet_dropout_stays_on_at_inference_unless_disabled():
    torch.manual_seed(5)
    cfg = SpeechT5Config.tiny()
    mel = torch.randn(2, 6, 80)
    net = TextToSpeech(cfg).eval()
    with torch.no_grad():
        a, b = net.speech_decoder_prenet(mel), net.speech_decoder_prenet(mel)
    assert not torch.equal(a, b), "pre-net dropout is on at inference by default"
    net.speech_decoder_prenet.always_dropout = False
    with torch.no_grad():
        a, b = net.speech_decoder_prenet(mel), net.speech_decoder_prenet(mel)
    assert torch.equal(a, b)


def test_layerdrop_only_in_training():
    torch.manual_seed(6)
    encoder = Encoder(SpeechT5Config.tiny(encoder_layerdrop=1.0, dropout=0.0))
    x = torch.randn(2, 7, 64)
    encoder.train()
    assert torch.allclose(encoder(x), encoder.input_norm(x)), "with layerdrop 1.0 every block is skipped in training"
    encoder.eval()
    assert not torch.allclose(encoder(x), encoder.input_norm(x))


def test_feature_grad_mult_scales_conv_gradients_only():
    torch.manual_seed(7)
    wav = torch.randn(1, 4000)
    grads = []
    for mult in (1.0, 0.1):
        torch.manual_seed(8)
        prenet = SpeechEncoderPrenet(SpeechT5Config.tiny(feature_grad_mult=mult, mask_time_prob=0.0)).train()
        prenet(wav)[0].sum().backward()
        grads.append(prenet.feature_extractor.layers[0].conv.weight.grad)
    assert torch.allclose(grads[1], 0.1 * grads[0], rtol=1e-5, atol=1e-5)


def test_cross_attention_to_one_expanded_memory_row_equals_attention_to_copies():
    """Beam search expands one cached encoder row over the hypotheses; the folded path must match."""
    from espnet2_speecht5.nets.attention import MultiHeadAttention

    torch.manual_seed(0)
    attention = MultiHeadAttention(64, 4).eval()
    queries = torch.randn(5, 3, 64)
    keys, values = attention.project_key_value(torch.randn(1, 20, 64))
    expanded = (keys.expand(5, -1, -1, -1), values.expand(5, -1, -1, -1))
    copied = (expanded[0].contiguous(), expanded[1].contiguous())
    folded, _, _ = attention(queries, past=expanded, static_past=True)
    reference, _, _ = attention(queries, past=copied, static_past=True)
    assert torch.allclose(folded, reference, atol=1e-6)
    with_weights, weights, _ = attention(queries, past=expanded, static_past=True, need_weights=True)
    assert torch.allclose(with_weights, reference, atol=1e-6) and weights.shape == (5, 4, 3, 20)
