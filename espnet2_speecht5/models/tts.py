"""SpeechT5 TTS as an ESPnet model: characters -> text pre-net -> encoder -> speech decoder -> log-mel.

The network is :class:`~espnet2_speecht5.nets.compositions.TextToSpeech`: the speech-decoder
pre-net takes the previous mel frames and the speaker's x-vector, the decoder emits
``reduction_factor`` frames per step, and the speech post-net refines them. The targets (the
log-mel of the recording) and the loss (L1 + stop BCE + guided attention) are those of every
mel-generating model: :mod:`espnet2_speecht5.models.speech_output`.

**Token ids** are those of all the models (:mod:`espnet2_speecht5.models.common`): ESPnet's token
list in, one swap of ids 0 and 1 to reach the network's numbering (network padding id 1).
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple, Union

import torch

from espnet2_speecht5.models.common import espnet_net_config, make_targets
from espnet2_speecht5.models.speech_output import LossOutput, SpeechOutputModel
from espnet2_speecht5.nets.compositions import TextToSpeech
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.search.greedy import GeneratedSpeech, generate_speech


class SpeechT5TTSModel(SpeechOutputModel):
    """Text-to-speech on :class:`TextToSpeech` with L1 + stop BCE + guided attention losses.

    Args:
        vocab_size: size V of the ESPnet token list (input symbols).
        token_list: the tokens (kept for inference).
        net_config: network sizes; the vocabulary and special ids are set from the token list.
        l1_weight: weight of the L1 loss (before + after the post-net).
        bce_weight: weight of the stop-token BCE.
        bce_pos_weight: BCE weight of the positive (stop) frames.
        guided_attn_weight: weight of the guided attention loss (0 turns it off).
        guided_attn_sigma: width of the guided attention's diagonal band.
        guided_attn_heads: heads per decoder block the guided loss covers (the first ones).
        append_eos: end the input text with ``<sos/eos>`` (the official SpeechT5 TTS does not).
        use_speaker_embedding: condition the decoder on the ``spembs`` x-vector of each utterance.
        prenet_dropout_at_inference: keep the speech-decoder pre-net dropout on when generating
            (the paper's setting, for output variety).
    """

    # what the per-epoch validation samples show (train/epoch_samples.py)
    sample_kind = "speech"

    def __init__(
        self,
        vocab_size: int,
        token_list: Union[Sequence[str], None],
        net_config: SpeechT5Config,
        l1_weight: float = 1.0,
        bce_weight: float = 1.0,
        bce_pos_weight: float = 5.0,
        guided_attn_weight: float = 10.0,
        guided_attn_sigma: float = 0.4,
        guided_attn_heads: int = 2,
        append_eos: bool = False,
        use_speaker_embedding: bool = True,
        prenet_dropout_at_inference: bool = True,
    ) -> None:
        super().__init__(vocab_size, token_list)
        self.eos = vocab_size - 1
        self.append_eos = append_eos
        self.net = TextToSpeech(
            espnet_net_config(net_config, vocab_size), always_prenet_dropout=prenet_dropout_at_inference
        )
        self.setup_speech_output(l1_weight, bce_weight, bce_pos_weight, guided_attn_weight, guided_attn_sigma,
                                 guided_attn_heads, use_speaker_embedding)

    # ------------------------------------------------------------------ pieces
    def net_tokens(self, text: torch.Tensor, text_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """ESPnet ids (B, N) padded with -1 -> network ids (B, N') and lengths (B,), with eos if configured."""
        text = text[:, : int(text_lengths.max())]
        if self.append_eos:
            text = torch.cat([text, text.new_full((text.size(0), 1), -1)], dim=1)
            text[torch.arange(text.size(0), device=text.device), text_lengths] = self.eos
            text_lengths = text_lengths + 1
        return self.to_net_ids(text), text_lengths

    # ------------------------------------------------------------------ ESPnet interface
    def forward(
        self,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        spembs: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> LossOutput:
        """Teacher-forced losses.

        Args:
            text: (B, N) ESPnet ids padded with -1; text_lengths: (B,).
            speech: (B, L) waveform at 16 kHz; speech_lengths: (B,) samples.
            spembs: (B, 512) speaker x-vectors.

        Returns:
            loss, stats (loss, l1_loss, bce_loss, attn_loss), batch size as the weight.
        """
        feats, feats_lengths = self.mel(speech, speech_lengths)
        targets = make_targets(feats, feats_lengths, self.reduction_factor)
        tokens, token_lengths = self.net_tokens(text, text_lengths)
        out = self.net(tokens, token_lengths, targets.prev_mel, targets.steps, self.speaker(spembs),
                       need_weights=self.wants_attention)
        return self.speech_loss(out, targets, token_lengths, text.size(0))

    def collect_feats(
        self,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        **kwargs,
    ) -> Dict[str, torch.Tensor]:
        """The log-mel targets (B, T, 80) and their lengths (B,), for ESPnet's statistics stage."""
        feats, lengths = self.mel(speech, speech_lengths)
        return {"feats": feats, "feats_lengths": lengths}

    @torch.no_grad()
    def synthesize(
        self,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        spembs: Optional[torch.Tensor] = None,
        threshold: float = 0.5,
        minlenratio: float = 0.0,
        maxlenratio: float = 10.0,
        return_attention: bool = False,
    ) -> GeneratedSpeech:
        """Generate log-mel for a batch of texts with the key/value cache.

        Args:
            text: (B, N) ESPnet ids padded with -1; text_lengths: (B,).
            spembs: (B, 512) x-vectors.
            threshold: stop when the r stop probabilities of a step sum to at least this.
            minlenratio, maxlenratio: bounds on the decoder steps, as ratios of the input length
                (steps = int(N * ratio / r)).
            return_attention: also return the cross-attention weights.

        Returns:
            :class:`~espnet2_speecht5.search.greedy.GeneratedSpeech` (mel (B, T, 80), lengths (B,), ...).
        """
        tokens, token_lengths = self.net_tokens(text, text_lengths)
        enc = self.net.encode(tokens, token_lengths if text.size(0) > 1 else None)
        return generate_speech(
            self.net,
            enc,
            self.speaker(spembs),
            threshold=threshold,
            minlenratio=minlenratio,
            maxlenratio=maxlenratio,
            return_attention=return_attention,
        )
