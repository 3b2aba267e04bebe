"""Speech-to-speech parity with transformers at the paper's base sizes (short input)."""

from __future__ import annotations

import torch
from hf_oracle import build_pair, max_diff, no_hf_prenet_dropout, report, waveform_batch  # noqa: F401

from espnet2_speecht5.nets.compositions import shift_mel_right
from espnet2_speecht5.nets.config import SpeechT5Config


def test_s2s_base_config_forward_matches_transformers(no_hf_prenet_dropout):  # noqa: F811
    hf, net = build_pair("s2s", SpeechT5Config.base().without_dropout(), seed=9)
    wav, lens, mask = waveform_batch(seed=9, lengths=(4800, 3600))
    gen = torch.Generator().manual_seed(9)
    prev = shift_mel_right(torch.randn(2, 8, 80, generator=gen), 2)
    speaker = torch.randn(2, 512, generator=gen)
    with torch.no_grad():
        ref = hf.speecht5(input_values=wav, attention_mask=mask, decoder_input_values=prev, speaker_embeddings=speaker)
        out = net(wav, lens, prev, None, speaker)
        before, after, stop = hf.speech_decoder_postnet(ref.last_hidden_state)
    valid = out.encoder.valid
    report(
        "s2s base",
        {
            "encoder": max_diff(ref.encoder_last_hidden_state[valid], out.encoder.hidden[valid]),
            "mel_before": max_diff(before, out.mel_before),
            "mel_after": max_diff(after, out.mel_after),
            "stop_logits": max_diff(stop, out.stop_logits),
        },
    )
