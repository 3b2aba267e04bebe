"""What the models that generate log-mel share (TTS, VC): targets, speaker input and the losses.

**Targets.** The 80-bin log10 mel of the target waveform (ESPnet's ``LogMelFbank`` with the
SpeechT5 parameters, :mod:`espnet2_speecht5.features.log_mel`), cut to a multiple of the
reduction factor r; the stop label is 1 on the last kept frame (:func:`~espnet2_speecht5.models.common.make_targets`).

**Loss** (each term weighted in ``model_conf``)::

    l1_weight * (L1(mel before post-net) + L1(mel after post-net))
    + bce_weight * BCE(stop logits, stop labels; positive weight bce_pos_weight)
    + guided_attn_weight * guided attention loss

The L1 and BCE terms are ESPnet's ``Tacotron2Loss`` (masked by the target lengths); the guided
attention loss is ESPnet's ``GuidedMultiHeadAttentionLoss`` on the first ``guided_attn_heads``
cross-attention heads of every decoder block (sigma 0.4 in SpeechT5), between the decoder steps
and the encoder input (characters for TTS, encoder frames for VC).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from espnet.nets.pytorch_backend.e2e_tts_tacotron2 import Tacotron2Loss
from espnet.nets.pytorch_backend.e2e_tts_transformer import GuidedMultiHeadAttentionLoss
from espnet2.torch_utils.device_funcs import force_gatherable

from espnet2_speecht5.features.log_mel import build_log_mel
from espnet2_speecht5.models.common import AttentionProbes, MelTargets, SpeechT5Model
from espnet2_speecht5.nets.compositions import SpeechOutput

LossOutput = Tuple[torch.Tensor, Dict[str, Optional[torch.Tensor]], torch.Tensor]


class SpeechOutputModel(SpeechT5Model):
    """Base of the models whose network ends in the speech-decoder post-net (mel + stop).

    A subclass builds ``self.net`` and calls :meth:`setup_speech_output` with its loss settings.
    """

    def __init__(self, vocab_size: int, token_list: Union[Sequence[str], None]) -> None:
        super().__init__(vocab_size, token_list)

    def setup_speech_output(
        self,
        l1_weight: float,
        bce_weight: float,
        bce_pos_weight: float,
        guided_attn_weight: float,
        guided_attn_sigma: float,
        guided_attn_heads: int,
        use_speaker_embedding: bool,
    ) -> None:
        """Check the loss weights and build the feature extractor, the criteria and the attention probes."""
        for name, value in (("l1_weight", l1_weight), ("bce_weight", bce_weight),
                            ("guided_attn_weight", guided_attn_weight)):  # fmt: skip
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        self.l1_weight = l1_weight
        self.bce_weight = bce_weight
        self.guided_attn_weight = guided_attn_weight
        self.guided_attn_heads = guided_attn_heads
        self.use_speaker_embedding = use_speaker_embedding
        self.feats_extract = build_log_mel()
        self.criterion = Tacotron2Loss(use_masking=True, use_weighted_masking=False, bce_pos_weight=bce_pos_weight)
        self.attn_criterion = GuidedMultiHeadAttentionLoss(sigma=guided_attn_sigma, alpha=1.0)
        self.cross_attention = AttentionProbes(self.net.cfg.decoder_layers)

    @property
    def reduction_factor(self) -> int:
        return self.net.cfg.reduction_factor

    def speaker(self, spembs: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        """(B, 512) x-vectors, or None when the model does not use them; checks they are given."""
        if not self.use_speaker_embedding:
            return None
        if spembs is None:
            raise ValueError(
                "this model uses speaker embeddings (model_conf use_speaker_embedding), but none were given"
            )
        return spembs

    def mel(self, speech: torch.Tensor, speech_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """speech (B, L) 16 kHz, speech_lengths (B,) -> log-mel (B, T, 80) and frame counts (B,)."""
        feats, lengths = self.feats_extract(speech, speech_lengths)
        return feats, lengths

    @property
    def wants_attention(self) -> bool:
        """Whether the next forward pass needs the cross-attention (guided loss, or ESPnet's plots)."""
        return self.guided_attn_weight > 0 or (not self.training and self.cross_attention.wanted)

    def guided_attention_loss(
        self, weights: List[torch.Tensor], input_lengths: torch.Tensor, steps: torch.Tensor
    ) -> torch.Tensor:
        """Per-block cross-attention (B, H, T/r, S) -> ESPnet's guided multi-head attention loss."""
        heads = torch.cat([w[:, : self.guided_attn_heads] for w in weights], dim=1)
        return self.attn_criterion(heads, input_lengths, steps)

    def speech_loss(
        self, out: SpeechOutput, targets: MelTargets, input_lengths: torch.Tensor, batch: int
    ) -> LossOutput:
        """The weighted loss of one teacher-forced pass, its stats, and ``batch`` as the weight.

        Args:
            out: the network's output for ``targets.prev_mel``.
            targets: the mel targets, stop labels and decoder steps.
            input_lengths: (B,) lengths of the encoder input the guided attention loss aligns to.
        """
        l1, _, bce = self.criterion(
            out.mel_after, out.mel_before, out.stop_logits, targets.mel, targets.stop, targets.lengths
        )
        loss = self.l1_weight * l1 + self.bce_weight * bce
        stats: Dict[str, Optional[torch.Tensor]] = {"l1_loss": l1.detach(), "bce_loss": bce.detach()}
        if out.cross_attentions:
            if self.guided_attn_weight > 0:
                attn = self.guided_attention_loss(out.cross_attentions, input_lengths, targets.steps)
                loss = loss + self.guided_attn_weight * attn
                stats["attn_loss"] = attn.detach()
            if not self.training and self.cross_attention.wanted:
                self.cross_attention.record(out.cross_attentions)
        stats["loss"] = loss.detach()
        return force_gatherable((loss, stats, batch), loss.device)
