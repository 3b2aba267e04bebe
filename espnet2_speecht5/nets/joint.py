"""All SpeechT5 pre-nets and post-nets around one shared encoder-decoder (joint pre-training).

Sub-module names match the task networks of :mod:`espnet2_speecht5.nets.compositions`
(``speech_prenet``, ``text_prenet``, ``encoder``, ``decoder``, ``text_decoder_prenet``,
``text_decoder_postnet``, ``speech_decoder_prenet``, ``speech_decoder_postnet``), so a
pre-trained state dict initialises any fine-tuning network key by key.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

from espnet2_speecht5.nets.compositions import lengths_to_valid
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.nets.decoder import Decoder
from espnet2_speecht5.nets.encoder import Encoder
from espnet2_speecht5.nets.speech_decoder_postnet import SpeechDecoderPostnet
from espnet2_speecht5.nets.speech_decoder_prenet import SpeechDecoderPrenet
from espnet2_speecht5.nets.speech_encoder_prenet import SpeechEncoderPrenet
from espnet2_speecht5.nets.text_nets import TextDecoderPostnet, TextDecoderPrenet, TextEncoderPrenet


class JointNetwork(nn.Module):
    """Speech and text pre-nets -> encoder; decoder -> text or speech post-nets.

    Args:
        cfg: network sizes.
        share_text_embeddings: one embedding matrix for the text-encoder pre-net, the text-decoder
            pre-net and (when ``cfg.tie_text_embeddings``) the output projection, as the official
            pre-training (``--share-input-output-embed``).
        always_prenet_dropout: keep the speech-decoder pre-net dropout on in eval.
    """

    def __init__(
        self, cfg: SpeechT5Config, share_text_embeddings: bool = True, always_prenet_dropout: bool = True
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.speech_prenet = SpeechEncoderPrenet(cfg)
        self.text_prenet = TextEncoderPrenet(cfg)
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.text_decoder_prenet = TextDecoderPrenet(cfg)
        self.text_decoder_postnet = TextDecoderPostnet(cfg)
        self.speech_decoder_prenet = SpeechDecoderPrenet(cfg, always_prenet_dropout)
        self.speech_decoder_postnet = SpeechDecoderPostnet(cfg)
        if share_text_embeddings:
            self.text_prenet.embed_tokens = self.text_decoder_prenet.embed_tokens

    def encode_text(
        self, tokens: torch.Tensor, token_lengths: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Network ids (B, S) -> encoder output (B, S, D) and ``valid`` (B, S) (None without lengths)."""
        valid = lengths_to_valid(token_lengths, tokens.size(1))
        return self.encoder(self.text_prenet(tokens), valid), valid

    def decode_text(
        self, memory: torch.Tensor, memory_valid: Optional[torch.Tensor], prev_tokens: torch.Tensor
    ) -> torch.Tensor:
        """Teacher-forced text decoding: network ids (B, T) -> logits (B, T, V) in network order."""
        x = self.text_decoder_prenet(prev_tokens)
        hidden = self.decoder(x, memory, None, memory_valid).hidden
        return self.text_decoder_postnet(hidden, self.text_decoder_prenet.embed_tokens.weight)

    def decode_speech(
        self,
        memory: torch.Tensor,
        memory_valid: Optional[torch.Tensor],
        prev_mel: torch.Tensor,
        prev_lengths: Optional[torch.Tensor] = None,
        speaker: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Teacher-forced speech decoding: shifted mel (B, T, mel) -> mel before/after (B, T·r, mel), stop (B, T·r)."""
        x = self.speech_decoder_prenet(prev_mel, speaker)
        hidden = self.decoder(x, memory, lengths_to_valid(prev_lengths, x.size(1)), memory_valid).hidden
        return self.speech_decoder_postnet(hidden)
