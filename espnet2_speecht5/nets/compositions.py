"""The SpeechT5 task networks: speech-to-text, text-to-speech, speech-to-speech and speech-to-class.

Each is pre-net -> shared encoder -> shared decoder (with its pre-net) -> post-net; speech-to-class
(speaker identification) stops after one decoder step, which pools the utterance. Padding is given
as lengths (ESPnet's convention); ``None`` means nothing is padded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
from torch import nn

from espnet2_speecht5.nets.attention import DecoderCache
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.nets.decoder import Decoder
from espnet2_speecht5.nets.encoder import Encoder
from espnet2_speecht5.nets.speech_decoder_postnet import SpeechDecoderPostnet
from espnet2_speecht5.nets.speech_decoder_prenet import SpeechDecoderPrenet
from espnet2_speecht5.nets.speech_encoder_prenet import SpeechEncoderPrenet
from espnet2_speecht5.nets.text_nets import TextDecoderPostnet, TextDecoderPrenet, TextEncoderPrenet


def lengths_to_valid(lengths: Optional[torch.Tensor], max_len: int) -> Optional[torch.Tensor]:
    """(B,) lengths -> (B, max_len) bool, True on real elements; None stays None."""
    if lengths is None:
        return None
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def shift_mel_right(mel: torch.Tensor, reduction_factor: int) -> torch.Tensor:
    """Teacher-forcing decoder input: keep every r-th frame (the last of each group), shift right by one.

    (B, T·r, mel) -> (B, T, mel), the first frame being zeros.
    """
    thinned = mel[:, reduction_factor - 1 :: reduction_factor]
    shifted = torch.zeros_like(thinned)
    shifted[:, 1:] = thinned[:, :-1]
    return shifted


@dataclass
class EncoderOutput:
    """hidden: (B, S, D); valid: (B, S) bool or None; time_mask: (B, S) frames masked in training."""

    hidden: torch.Tensor
    valid: Optional[torch.Tensor] = None
    time_mask: Optional[torch.Tensor] = None


@dataclass
class TextOutput:
    """logits: (B, T, V); decoder hidden (B, T, D); the encoder output."""

    logits: torch.Tensor
    hidden: torch.Tensor
    encoder: EncoderOutput


@dataclass
class SpeechOutput:
    """mel before/after the post-net (B, T·r, mel), stop logits (B, T·r), decoder hidden (B, T, D)."""

    mel_before: torch.Tensor
    mel_after: torch.Tensor
    stop_logits: torch.Tensor
    hidden: torch.Tensor
    encoder: EncoderOutput
    cross_attentions: Optional[List[torch.Tensor]] = None


class _SpeechEncoding(nn.Module):
    """Mixin: waveform input through the speech-encoder pre-net."""

    def encode(self, wav: torch.Tensor, wav_lengths: Optional[torch.Tensor] = None) -> EncoderOutput:
        """wav: (B, L) at 16 kHz, wav_lengths: (B,) samples -> encoder output (B, S, D)."""
        x, valid, time_mask = self.speech_prenet(wav, wav_lengths)
        return EncoderOutput(self.encoder(x, valid), valid, time_mask)


class _SpeechDecoding(nn.Module):
    """Mixin: mel output through the speech-decoder pre-net and post-net."""

    def _build_speech_side(self, cfg: SpeechT5Config, always_prenet_dropout: bool) -> None:
        self.speech_decoder_prenet = SpeechDecoderPrenet(cfg, always_prenet_dropout)
        self.decoder = Decoder(cfg)
        self.speech_decoder_postnet = SpeechDecoderPostnet(cfg)

    def decode(
        self,
        enc: EncoderOutput,
        prev_mel: torch.Tensor,
        prev_lengths: Optional[torch.Tensor] = None,
        speaker: Optional[torch.Tensor] = None,
        need_weights: bool = False,
    ) -> SpeechOutput:
        """Teacher-forced pass: prev_mel (B, T, mel) from :func:`shift_mel_right`, speaker (B, spk)."""
        x = self.speech_decoder_prenet(prev_mel, speaker)
        out = self.decoder(x, enc.hidden, lengths_to_valid(prev_lengths, x.size(1)), enc.valid, None, need_weights)
        before, after, stop = self.speech_decoder_postnet(out.hidden)
        return SpeechOutput(before, after, stop, out.hidden, enc, out.cross_attentions)

    def decode_step(
        self,
        enc: EncoderOutput,
        last_frame: torch.Tensor,
        cache: DecoderCache,
        speaker: Optional[torch.Tensor] = None,
        attention_sink: Optional[List[torch.Tensor]] = None,
    ) -> torch.Tensor:
        """One generation step: last_frame (B, 1, mel) -> decoder hidden (B, 1, D); the cache grows by one.

        With ``attention_sink`` (a list), this step's cross-attention weights are appended to it,
        stacked over blocks: (L, B, H, 1, S).
        """
        x = self.speech_decoder_prenet(last_frame, speaker, start=cache.length)
        out = self.decoder(x, enc.hidden, None, enc.valid, cache, need_weights=attention_sink is not None)
        if attention_sink is not None:
            attention_sink.append(torch.stack(out.cross_attentions))
        return out.hidden


class SpeechToText(_SpeechEncoding):
    """Speech-encoder pre-net -> encoder -> text-decoder pre-net -> decoder -> text post-net (ASR, ST)."""

    def __init__(self, cfg: SpeechT5Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.speech_prenet = SpeechEncoderPrenet(cfg)
        self.encoder = Encoder(cfg)
        self.text_decoder_prenet = TextDecoderPrenet(cfg)
        self.decoder = Decoder(cfg)
        self.text_decoder_postnet = TextDecoderPostnet(cfg)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, V)."""
        return self.text_decoder_postnet(hidden, self.text_decoder_prenet.embed_tokens.weight)

    def decode(self, enc: EncoderOutput, prev_tokens: torch.Tensor) -> TextOutput:
        """Teacher-forced pass over prev_tokens (B, T) (starting with ``decoder_start_id``; pad = ``pad_id``)."""
        x = self.text_decoder_prenet(prev_tokens)
        # Right padding needs no key mask: the causal mask already hides later pads from real tokens.
        hidden = self.decoder(x, enc.hidden, None, enc.valid).hidden
        return TextOutput(self.logits(hidden), hidden, enc)

    def decode_step(self, enc: EncoderOutput, new_tokens: torch.Tensor, cache: DecoderCache) -> torch.Tensor:
        """new_tokens (B, t) after the cached positions -> logits (B, t, V); the cache grows by t."""
        x = self.text_decoder_prenet(new_tokens, offset=cache.length)
        return self.logits(self.decoder(x, enc.hidden, None, enc.valid, cache).hidden)

    def forward(self, wav: torch.Tensor, wav_lengths: Optional[torch.Tensor], prev_tokens: torch.Tensor) -> TextOutput:
        """wav (B, L), wav_lengths (B,), prev_tokens (B, T) -> logits (B, T, V)."""
        return self.decode(self.encode(wav, wav_lengths), prev_tokens)


class TextToSpeech(_SpeechDecoding):
    """Text-encoder pre-net -> encoder -> speech-decoder pre-net -> decoder -> speech post-net (TTS)."""

    def __init__(self, cfg: SpeechT5Config, always_prenet_dropout: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.text_prenet = TextEncoderPrenet(cfg)
        self.encoder = Encoder(cfg)
        self._build_speech_side(cfg, always_prenet_dropout)

    def encode(self, tokens: torch.Tensor, token_lengths: Optional[torch.Tensor] = None) -> EncoderOutput:
        """tokens (B, S), token_lengths (B,) -> encoder output (B, S, D)."""
        valid = lengths_to_valid(token_lengths, tokens.size(1))
        return EncoderOutput(self.encoder(self.text_prenet(tokens), valid), valid)

    def forward(
        self,
        tokens: torch.Tensor,
        token_lengths: Optional[torch.Tensor],
        prev_mel: torch.Tensor,
        prev_lengths: Optional[torch.Tensor] = None,
        speaker: Optional[torch.Tensor] = None,
        need_weights: bool = False,
    ) -> SpeechOutput:
        """tokens (B, S) and shifted mel (B, T, mel) -> mel (B, T·r, mel) before/after, stop logits (B, T·r)."""
        return self.decode(self.encode(tokens, token_lengths), prev_mel, prev_lengths, speaker, need_weights)


class SpeechToSpeech(_SpeechEncoding, _SpeechDecoding):
    """Speech-encoder pre-net -> encoder -> speech-decoder pre-net -> decoder -> speech post-net (VC, SE)."""

    def __init__(self, cfg: SpeechT5Config, always_prenet_dropout: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.speech_prenet = SpeechEncoderPrenet(cfg)
        self.encoder = Encoder(cfg)
        self._build_speech_side(cfg, always_prenet_dropout)

    def forward(
        self,
        wav: torch.Tensor,
        wav_lengths: Optional[torch.Tensor],
        prev_mel: torch.Tensor,
        prev_lengths: Optional[torch.Tensor] = None,
        speaker: Optional[torch.Tensor] = None,
        need_weights: bool = False,
    ) -> SpeechOutput:
        """wav (B, L) and shifted mel (B, T, mel) -> mel (B, T·r, mel) before/after, stop logits (B, T·r)."""
        return self.decode(self.encode(wav, wav_lengths), prev_mel, prev_lengths, speaker, need_weights)


class SpeechToClass(_SpeechEncoding):
    """Speech-encoder pre-net -> encoder [-> one decoder step] -> an utterance vector (SID).

    With ``attention_pooling`` (SpeechT5's SID), the decoder runs one step from a zero input and
    cross-attends to every encoder frame: a learned attention pooling. Without it, the network
    is the encoder only and :meth:`pool` returns the mean and standard deviation of its frames.
    The classifier on top of the vector belongs to the model.
    """

    def __init__(self, cfg: SpeechT5Config, attention_pooling: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.speech_prenet = SpeechEncoderPrenet(cfg)
        self.encoder = Encoder(cfg)
        if attention_pooling:
            self.decoder = Decoder(cfg)

    @property
    def pooled_size(self) -> int:
        """D with attention pooling, 2·D for mean+std pooling."""
        return self.cfg.d_model if hasattr(self, "decoder") else 2 * self.cfg.d_model

    def pool(self, enc: EncoderOutput, need_weights: bool = False) -> Tuple[torch.Tensor, Optional[List[torch.Tensor]]]:
        """Encoder output (B, S, D) -> (B, D) or (B, 2·D), and the decoder's cross-attention per block (B, H, 1, S)."""
        if hasattr(self, "decoder"):
            start = enc.hidden.new_zeros(enc.hidden.size(0), 1, enc.hidden.size(2))
            out = self.decoder(start, enc.hidden, None, enc.valid, None, need_weights)
            return out.hidden[:, 0], out.cross_attentions
        hidden = enc.hidden
        if enc.valid is None:
            return torch.cat([hidden.mean(dim=1), hidden.std(dim=1, unbiased=False)], dim=-1), None
        weight = enc.valid.unsqueeze(-1).to(hidden.dtype)
        count = weight.sum(dim=1).clamp(min=1.0)
        mean = (hidden * weight).sum(dim=1) / count
        var = (((hidden - mean[:, None]) ** 2) * weight).sum(dim=1) / count
        return torch.cat([mean, var.clamp(min=1e-8).sqrt()], dim=-1), None


NETWORKS = {"s2t": SpeechToText, "t2s": TextToSpeech, "s2s": SpeechToSpeech, "s2c": SpeechToClass}


def build_network(kind: str, cfg: SpeechT5Config) -> nn.Module:
    """``s2t``, ``t2s``, ``s2s`` or ``s2c`` -> the matching composition."""
    if kind not in NETWORKS:
        raise ValueError(f"unknown network kind {kind!r}; choose from {sorted(NETWORKS)}")
    return NETWORKS[kind](cfg)


def network_parts(kind: str) -> Tuple[str, ...]:
    """The parts (JointNetwork attribute names) of network ``kind``, read off the composition itself.

    The network is built on the meta device, so this allocates no weights.
    """
    if kind not in NETWORKS:
        raise ValueError(f"unknown network kind {kind!r}; choose from {sorted(NETWORKS)}")
    with torch.device("meta"):
        network = NETWORKS[kind](SpeechT5Config.tiny())
    return tuple(name for name, _ in network.named_children())
