"""Text-to-speech and speech-to-speech parity with transformers (random weights, pre-net dropout off)."""

from __future__ import annotations

import torch
from hf_oracle import build_pair, max_diff, no_hf_prenet_dropout, report, tiny_config, waveform_batch  # noqa: F401

from espnet2_speecht5.nets.compositions import shift_mel_right
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.search.greedy import generate_speech

GEN = torch.Generator().manual_seed(7)
TOKENS = torch.randint(4, 81, (2, 11), generator=GEN)
TOKEN_LENS = torch.tensor([11, 7])
TOKENS[1, 7:] = 1
TOKEN_MASK = (torch.arange(11)[None, :] < TOKEN_LENS[:, None]).long()
MEL = torch.randn(2, 14, 80, generator=GEN)
SPEAKER = torch.randn(2, 512, generator=GEN)


def _speech_diffs(hf, ref_hidden, out) -> dict:
    before, after, stop = hf.speech_decoder_postnet(ref_hidden)
    return {
        "mel_before": max_diff(before, out.mel_before),
        "mel_after": max_diff(after, out.mel_after),
        "stop_logits": max_diff(stop, out.stop_logits),
    }


def test_tts_forward_matches_transformers(no_hf_prenet_dropout):  # noqa: F811
    hf, net = build_pair("t2s", tiny_config())
    prev = shift_mel_right(MEL, 2)
    prev_lens = torch.tensor([7, 5])
    prev_mask = (torch.arange(7)[None, :] < prev_lens[:, None]).long()
    with torch.no_grad():
        ref = hf.speecht5(
            input_values=TOKENS,
            attention_mask=TOKEN_MASK,
            decoder_input_values=prev,
            decoder_attention_mask=prev_mask,
            speaker_embeddings=SPEAKER,
            output_attentions=True,
        )
        out = net(TOKENS, TOKEN_LENS, prev, prev_lens, SPEAKER, need_weights=True)
        diffs = {"encoder": max_diff(ref.encoder_last_hidden_state, out.encoder.hidden)}
        diffs.update(_speech_diffs(hf, ref.last_hidden_state, out))
        diffs["cross_attention"] = max(max_diff(a, b) for a, b in zip(ref.cross_attentions, out.cross_attentions))
    report("t2s tiny", diffs)


def test_tts_base_config_forward_matches_transformers(no_hf_prenet_dropout):  # noqa: F811
    """The paper's base sizes (768/12/6, 80 mels, r = 2), on a short input."""
    hf, net = build_pair("t2s", SpeechT5Config.base().without_dropout())
    prev = shift_mel_right(MEL[:, :8], 2)
    with torch.no_grad():
        ref = hf.speecht5(
            input_values=TOKENS, attention_mask=TOKEN_MASK, decoder_input_values=prev, speaker_embeddings=SPEAKER
        )
        out = net(TOKENS, TOKEN_LENS, prev, None, SPEAKER)
        diffs = {"encoder": max_diff(ref.encoder_last_hidden_state, out.encoder.hidden)}
        diffs.update(_speech_diffs(hf, ref.last_hidden_state, out))
    report("t2s base", diffs)


def test_tts_generation_fixed_length_matches_transformers(no_hf_prenet_dropout):  # noqa: F811
    hf, net = build_pair("t2s", tiny_config(), seed=3)
    with torch.no_grad():
        # a threshold above r = 2 never stops: both run int(S * ratio / r) steps
        ref, ref_lens = hf.generate(
            TOKENS,
            attention_mask=TOKEN_MASK,
            speaker_embeddings=SPEAKER,
            threshold=10.0,
            maxlenratio=3.0,
            return_output_lengths=True,
        )
        ours = generate_speech(net, net.encode(TOKENS, TOKEN_LENS), SPEAKER, threshold=10.0, maxlenratio=3.0)
    # int(11 * 3.0 / 2) = 16 steps of r = 2 frames
    assert ours.lengths.tolist() == [int(n) for n in ref_lens] == [32, 32]
    report("t2s generation (16 steps, 32 frames)", {"frames": max_diff(ref, ours.mel)})


def test_s2s_forward_and_generation_match_transformers(no_hf_prenet_dropout):  # noqa: F811
    hf, net = build_pair("s2s", tiny_config(), seed=4)
    wav, lens, mask = waveform_batch(seed=4)
    prev = shift_mel_right(MEL, 2)
    with torch.no_grad():
        ref = hf.speecht5(input_values=wav, attention_mask=mask, decoder_input_values=prev, speaker_embeddings=SPEAKER)
        out = net(wav, lens, prev, None, SPEAKER)
        valid = out.encoder.valid
        diffs = {"encoder": max_diff(ref.encoder_last_hidden_state[valid], out.encoder.hidden[valid])}
        diffs.update(_speech_diffs(hf, ref.last_hidden_state, out))
        gen_ref = hf.generate_speech(wav[:1], SPEAKER[:1], threshold=10.0, maxlenratio=1.0)
        gen = generate_speech(net, net.encode(wav[:1]), SPEAKER[:1], threshold=10.0, maxlenratio=1.0)
    diffs["generated_frames"] = max_diff(gen_ref, gen.mel[0])
    report(f"s2s tiny (generated {gen.mel.size(1)} frames)", diffs)
