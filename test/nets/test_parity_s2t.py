"""Speech-to-text parity with transformers' SpeechT5ForSpeechToText (random weights)."""

from __future__ import annotations

import torch
from hf_oracle import build_pair, max_diff, report, tiny_config, waveform_batch

from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.search.greedy import greedy_speech_to_text


def _compare_forward(name: str, cfg: SpeechT5Config, wav, lens, mask, tokens):
    hf, net = build_pair("s2t", cfg)
    with torch.no_grad():
        ref = hf(input_values=wav, attention_mask=mask, decoder_input_ids=tokens)
        out = net(wav, lens, tokens)
    valid = out.encoder.valid
    enc_diff = max_diff(ref.encoder_last_hidden_state[valid], out.encoder.hidden[valid])
    report(name, {"encoder": enc_diff, "logits": max_diff(ref.logits, out.logits)})
    return net


def test_tiny_forward_matches_transformers():
    wav, lens, mask = waveform_batch()
    tokens = torch.randint(3, 81, (2, 9), generator=torch.Generator().manual_seed(3))
    tokens[:, 0] = 2
    _compare_forward("s2t tiny", tiny_config(), wav, lens, mask, tokens)


def test_base_config_forward_matches_transformers():
    """The paper's base sizes (768/12/6, 7 convs), on 0.3 s of audio."""
    wav, lens, mask = waveform_batch(lengths=(4800, 4000))
    tokens = torch.tensor([[2, 10, 11, 12, 13], [2, 20, 21, 1, 1]])
    net = _compare_forward("s2t base", SpeechT5Config.base().without_dropout(), wav, lens, mask, tokens)
    count = sum(p.numel() for p in net.parameters())
    print(f"[size] s2t base: {count / 1e6:.1f} M parameters, {len(net.state_dict())} tensors")
    assert round(count / 1e6, 1) == 151.2 and len(net.state_dict()) == 369


def test_greedy_50_steps_matches_generate():
    cfg = tiny_config()
    hf, net = build_pair("s2t", cfg, seed=5)
    wav, lens, mask = waveform_batch(seed=5)
    with torch.no_grad():
        ref = hf.generate(
            input_values=wav, attention_mask=mask, max_length=51, min_length=51, num_beams=1, do_sample=False
        )
    ours = greedy_speech_to_text(net, wav, lens, max_len=51, min_len=51)
    same = int((ref == ours).sum())
    print(f"[parity] s2t greedy: {ours.size(1) - 1} steps, {same}/{ref.numel()} tokens identical")
    assert ref.shape == ours.shape == (2, 51)
    assert torch.equal(ref, ours), f"greedy tokens differ:\n{ref}\n{ours}"
