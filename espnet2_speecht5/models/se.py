"""SpeechT5 speech enhancement as an ESPnet model: noisy waveform -> encoder -> speech decoder -> clean log-mel.

The network is the voice-conversion one (:class:`~espnet2_speecht5.models.vc.SpeechT5VCModel`, on
:class:`~espnet2_speecht5.nets.compositions.SpeechToSpeech`): the speech-encoder pre-net reads the
noisy waveform, the encoder contextualises it, and the speech decoder generates the log-mel of the
clean recording of the same utterance, r frames per step. The losses are the same: L1 before and
after the post-net, stop BCE and guided attention (the input and the output are the same utterance,
so the alignment is close to a diagonal).

What differs from VC is the data and one default: the target is ``speech_clean`` (the clean
recording, ``wav_clean.scp``), and the speaker embedding is off unless ``use_speaker_embedding:
true``, in which case it is the x-vector of the noisy input (stage 6 embeds ``wav.scp``). The
parameters are those of the VC model, so an SE checkpoint loads wherever a VC one does
(``Speech2Speech``, the transformers export).
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import torch

from espnet2_speecht5.models.speech_output import LossOutput
from espnet2_speecht5.models.vc import SpeechT5VCModel
from espnet2_speecht5.nets.config import SpeechT5Config


class SpeechT5SEModel(SpeechT5VCModel):
    """Speech enhancement: the VC network and losses, trained on (noisy, clean) pairs.

    Args: those of :class:`SpeechT5VCModel`; ``use_speaker_embedding`` is False by default.
    """

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
        use_speaker_embedding: bool = False,
        prenet_dropout_at_inference: bool = True,
    ) -> None:
        super().__init__(vocab_size, token_list, net_config, l1_weight, bce_weight, bce_pos_weight,
                         guided_attn_weight, guided_attn_sigma, guided_attn_heads, use_speaker_embedding,
                         prenet_dropout_at_inference)

    def forward(  # type: ignore[override]
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        speech_clean: torch.Tensor,
        speech_clean_lengths: torch.Tensor,
        spembs: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> LossOutput:
        """Teacher-forced losses.

        Args:
            speech: (B, L) noisy waveform at 16 kHz; speech_lengths: (B,) samples.
            speech_clean: (B, L) the clean recording of the same utterance; speech_clean_lengths: (B,).
            spembs: (B, 512) x-vectors of the noisy input (only with ``use_speaker_embedding``).

        Returns:
            loss, stats (loss, l1_loss, bce_loss, attn_loss), batch size as the weight.
        """
        return super().forward(speech, speech_lengths, speech_clean, speech_clean_lengths, spembs)

    def collect_feats(  # type: ignore[override]
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        speech_clean: torch.Tensor,
        speech_clean_lengths: torch.Tensor,
        **kwargs,
    ) -> dict:
        """The clean log-mel (B, T, 80) and its lengths (B,), for ESPnet's statistics stage."""
        return super().collect_feats(speech, speech_lengths, speech_clean, speech_clean_lengths)
