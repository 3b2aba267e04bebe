"""Simple decoding loops: greedy speech-to-text, and mel generation for TTS / VC.

Both run the decoder one step at a time on a :class:`DecoderCache`, so step n costs O(n).
Beam search and joint CTC decoding use ESPnet's ``BatchBeamSearch`` with the scorers of
:mod:`espnet2_speecht5.search.asr_scorer` and :mod:`espnet2_speecht5.search.ctc_prefix_scorer`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import List, Optional, Union

import torch

from espnet2_speecht5.nets.compositions import EncoderOutput, SpeechToSpeech, SpeechToText, TextToSpeech


@torch.no_grad()
def greedy_speech_to_text(
    net: SpeechToText,
    wav: torch.Tensor,
    wav_lengths: Optional[torch.Tensor] = None,
    max_len: int = 200,
    min_len: int = 0,
    bf16_encoder: bool = False,
) -> torch.Tensor:
    """Greedy decoding with the key/value cache.

    Args:
        net: a :class:`SpeechToText` network (put it in eval mode first).
        wav: (B, L) waveform; wav_lengths: (B,) samples.
        max_len: maximum output length, counting the start token (as transformers' ``max_length``).
        min_len: ``eos`` is forbidden before the output reaches this length (start token included).
        bf16_encoder: encode under bf16 autocast (``Speech2Text(bf16_encoder=True)``); decode in float32.

    Returns:
        (B, N) token ids, starting with ``decoder_start_id``; rows that finished early are
        padded with ``pad_id`` after their ``eos``.
    """
    cfg = net.cfg
    with torch.autocast(device_type=wav.device.type, dtype=torch.bfloat16, enabled=bf16_encoder):
        enc = net.encode(wav, wav_lengths)
    enc = replace(enc, hidden=enc.hidden.to(wav.dtype))
    batch = wav.size(0)
    tokens = torch.full((batch, 1), cfg.decoder_start_id, dtype=torch.long, device=wav.device)
    finished = torch.zeros(batch, dtype=torch.bool, device=wav.device)
    cache = net.decoder.new_cache()
    while tokens.size(1) < max_len:
        logits = net.decode_step(enc, tokens[:, -1:], cache)[:, -1]
        if tokens.size(1) < min_len:
            logits[:, cfg.eos_id] = float("-inf")
        best = logits.argmax(dim=-1)
        best = torch.where(finished, torch.full_like(best, cfg.pad_id), best)
        tokens = torch.cat([tokens, best[:, None]], dim=1)
        finished |= best.eq(cfg.eos_id)
        if bool(finished.all()):
            break
    return tokens


@dataclass
class GeneratedSpeech:
    """mel: (B, T, num_mel_bins) after the post-net, zero-padded; lengths: (B,) frames;
    mel_before: the same before the post-net; stop_probs: (B, T) stop probabilities per frame;
    attention: (L, B, H, T / r, S) cross-attention weights per decoder block, when asked for."""

    mel: torch.Tensor
    lengths: torch.Tensor
    mel_before: torch.Tensor
    stop_probs: Optional[torch.Tensor] = None
    attention: Optional[torch.Tensor] = None


@torch.no_grad()
def generate_speech(
    net: Union[TextToSpeech, SpeechToSpeech],
    enc: EncoderOutput,
    speaker: Optional[torch.Tensor] = None,
    threshold: float = 0.5,
    minlenratio: float = 0.0,
    maxlenratio: float = 20.0,
    fixed_steps: Optional[int] = None,
    return_attention: bool = False,
) -> GeneratedSpeech:
    """Autoregressive mel generation, r frames per step.

    Each step feeds back the last of the r frames of the previous step (zeros at the start).
    A row stops at the first step n >= minlen where the sum of its r stop probabilities reaches
    ``threshold``; every row stops at ``maxlen``, with ``minlen/maxlen = int(S * ratio / r)``
    for an encoder output of S frames (transformers' rule). ``fixed_steps`` overrides all of
    this and runs exactly that many steps.

    Args:
        net: a text-to-speech or speech-to-speech network (eval mode; pre-net dropout as configured).
        enc: its encoder output (from ``net.encode``).
        speaker: (B, speaker_embedding_dim) x-vectors.
        return_attention: also return the cross-attention weights of every step.

    Returns:
        :class:`GeneratedSpeech`; the post-net runs on each row's own frames only.
    """
    cfg = net.cfg
    r = cfg.reduction_factor
    batch, src_len, _ = enc.hidden.shape
    if fixed_steps is not None:
        minlen = maxlen = fixed_steps
    else:
        maxlen = int(src_len * maxlenratio / r)
        minlen = int(src_len * minlenratio / r)
    maxlen = max(maxlen, 1)
    frame = enc.hidden.new_zeros(batch, 1, cfg.num_mel_bins)
    cache = net.decoder.new_cache()
    steps: List[torch.Tensor] = []
    probs: List[torch.Tensor] = []
    attention: Optional[List[torch.Tensor]] = [] if return_attention else None
    stop_step = torch.zeros(batch, dtype=torch.long)
    for step in range(1, maxlen + 1):
        hidden = net.decode_step(enc, frame, cache, speaker, attention)
        frames = net.speech_decoder_postnet.frames(hidden)  # (B, r, mel)
        stop = torch.sigmoid(net.speech_decoder_postnet.stop_logits(hidden))  # (B, r)
        steps.append(frames)
        probs.append(stop)
        frame = frames[:, -1:]
        if step < minlen:
            continue
        if step < maxlen and fixed_steps is None:
            prob = stop.sum(-1).cpu()
            newly = (stop_step == 0) & (prob >= threshold)
        else:
            newly = stop_step == 0
        stop_step[newly] = step
        if bool((stop_step > 0).all()):
            break
    before = torch.cat(steps, dim=1)
    stop_probs = torch.cat(probs, dim=1)
    lengths = stop_step * r
    total = int(lengths.max())
    mel = before.new_zeros(batch, total, cfg.num_mel_bins)
    mel_before = before.new_zeros(batch, total, cfg.num_mel_bins)
    for row in range(batch):
        n = int(lengths[row])
        mel_before[row, :n] = before[row, :n]
        mel[row, :n] = net.speech_decoder_postnet.refine(before[row : row + 1, :n])[0]
    weights = torch.cat(attention, dim=3) if attention else None  # (L, B, H, steps, S)
    return GeneratedSpeech(mel, lengths, mel_before, stop_probs[:, :total], weights)
