"""SpeechT5 voice conversion as an ESPnet model: source waveform -> encoder -> speech decoder -> target log-mel.

The network is :class:`~espnet2_speecht5.nets.compositions.SpeechToSpeech`: the speech-encoder
pre-net reads the source speaker's raw waveform, the encoder contextualises it, and the speech
decoder generates the target speaker's log-mel, r frames per step, conditioned on the target
speaker's x-vector (``spembs``). Targets and loss are those of every mel-generating model
(:mod:`espnet2_speecht5.models.speech_output`): L1 before and after the post-net, stop BCE and
the guided attention loss, here between the decoder steps and the encoder frames (source and
target say the same sentence, so their alignment is close to a diagonal).

The task has no text: the token list is a placeholder of ESPnet's three special tokens, which
the network never reads (``tasks.common.SPECIAL_TOKENS``).
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import torch

from espnet2_speecht5.models.common import espnet_net_config, front_end_feats, make_targets
from espnet2_speecht5.models.speech_output import LossOutput, SpeechOutputModel
from espnet2_speecht5.nets.compositions import EncoderOutput, SpeechToSpeech
from espnet2_speecht5.nets.config import SpeechT5Config


def encoder_lengths(enc: EncoderOutput) -> torch.Tensor:
    """(B,) valid encoder frames of each utterance."""
    if enc.valid is None:
        return torch.full((enc.hidden.size(0),), enc.hidden.size(1), dtype=torch.long, device=enc.hidden.device)
    return enc.valid.sum(dim=1).long()


class SpeechT5VCModel(SpeechOutputModel):
    """Voice conversion on :class:`SpeechToSpeech` with L1 + stop BCE + guided attention losses.

    Args:
        vocab_size, token_list: ESPnet's placeholder list (the network has no text parts).
        net_config: network sizes.
        l1_weight: weight of the L1 loss (before + after the post-net).
        bce_weight: weight of the stop-token BCE.
        bce_pos_weight: BCE weight of the positive (stop) frames.
        guided_attn_weight: weight of the guided attention loss (0 turns it off).
        guided_attn_sigma: width of the guided attention's diagonal band.
        guided_attn_heads: heads per decoder block the guided loss covers (the first ones).
        use_speaker_embedding: condition the decoder on the target speaker's ``spembs`` x-vector.
        prenet_dropout_at_inference: keep the speech-decoder pre-net dropout on when generating
            (SpeechT5's setting).
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
        use_speaker_embedding: bool = True,
        prenet_dropout_at_inference: bool = True,
    ) -> None:
        super().__init__(vocab_size, token_list)
        self.net = SpeechToSpeech(
            espnet_net_config(net_config, vocab_size), always_prenet_dropout=prenet_dropout_at_inference
        )
        self.setup_speech_output(l1_weight, bce_weight, bce_pos_weight, guided_attn_weight, guided_attn_sigma,
                                 guided_attn_heads, use_speaker_embedding)

    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        speech_tgt: torch.Tensor,
        speech_tgt_lengths: torch.Tensor,
        spembs: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> LossOutput:
        """Teacher-forced losses.

        Args:
            speech: (B, L) source waveform at 16 kHz; speech_lengths: (B,) samples.
            speech_tgt: (B, L') target waveform (the same sentence, target speaker); speech_tgt_lengths: (B,).
            spembs: (B, 512) target-speaker x-vectors.

        Returns:
            loss, stats (loss, l1_loss, bce_loss, attn_loss), batch size as the weight.
        """
        feats, feats_lengths = self.mel(speech_tgt, speech_tgt_lengths)
        targets = make_targets(feats, feats_lengths, self.reduction_factor)
        enc = self.net.encode(speech, speech_lengths)
        out = self.net.decode(enc, targets.prev_mel, targets.steps, self.speaker(spembs),
                              need_weights=self.wants_attention)
        return self.speech_loss(out, targets, encoder_lengths(enc), speech.size(0))

    def collect_feats(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        speech_tgt: torch.Tensor,
        speech_tgt_lengths: torch.Tensor,
        **kwargs,
    ) -> dict:
        """For ESPnet's statistics stage: the input's front-end features with the fbank pre-net (what
        ``global_mvn`` normalises), else the target log-mel (B, T, 80); and their lengths (B,)."""
        front = front_end_feats(self.net, speech, speech_lengths)
        if front is not None:
            return front
        feats, lengths = self.mel(speech_tgt, speech_tgt_lengths)
        return {"feats": feats, "feats_lengths": lengths}
