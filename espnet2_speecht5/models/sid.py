"""SpeechT5 speaker identification as an ESPnet model: waveform -> encoder -> pooled vector -> speaker.

Two heads (``model_conf.head``):

* ``decoder`` (SpeechT5's): the decoder runs one step from a zero input and cross-attends to the
  encoder output (a learned attention pooling), then a Linear (D -> speakers);
* ``pooling``: mean and standard deviation of the encoder frames, then a Linear (2·D -> speakers).

The token list is ESPnet's layout around the speakers: ``<blank>``, ``<unk>``, the speakers,
``<sos/eos>``. The ``text`` of an utterance is its speaker (one word, from ``utt2spk``), so ESPnet's
preprocessor turns it into one id; a speaker outside the list becomes ``<unk>``, which the loss
ignores and the accuracy counts as an error. Training crops each utterance to ``crop_seconds``
at a random offset (SpeechT5: 3.2 s); validation and inference see whole utterances.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from espnet2.torch_utils.device_funcs import force_gatherable
from torch import nn

from espnet2_speecht5.models.common import AttentionProbes, SpeechT5Model, WaveformInput, espnet_net_config
from espnet2_speecht5.nets.compositions import EncoderOutput, SpeechToClass
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.nets.dropout import Dropout

HEADS = ("decoder", "pooling")
# ESPnet ids before the first speaker: <blank> 0, <unk> 1
FIRST_LABEL_ID = 2
SAMPLE_RATE = 16000


def random_crop(
    speech: torch.Tensor, lengths: torch.Tensor, max_samples: int, generator: Optional[torch.Generator] = None
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Cut each utterance longer than ``max_samples`` to a window at a random offset.

    Args:
        speech: (B, L) waveforms, zero-padded; lengths: (B,) samples.

    Returns:
        (B, L') cropped waveforms (L' = the longest kept length) and their (B,) lengths.
    """
    kept = lengths.clamp(max=max_samples)
    out = speech.new_zeros(speech.size(0), int(kept.max()))
    for row in range(speech.size(0)):
        spare = int(lengths[row]) - int(kept[row])
        start = int(torch.randint(0, spare + 1, (1,), generator=generator)) if spare > 0 else 0
        out[row, : int(kept[row])] = speech[row, start : start + int(kept[row])]
    return out, kept


class SpeechT5SIDModel(WaveformInput, SpeechT5Model):
    """Closed-set speaker identification on :class:`~espnet2_speecht5.nets.compositions.SpeechToClass`.

    Args:
        vocab_size: size V of the ESPnet token list (the speakers plus three special tokens).
        token_list: the tokens.
        net_config: network sizes (its vocabulary follows the token list).
        head: ``decoder`` (attention pooling by one decoder step, as SpeechT5) or ``pooling``
            (mean+std of the encoder frames).
        lsm_weight: label smoothing of the cross-entropy.
        crop_seconds: training crop of each utterance (0: whole utterances).
        classifier_dropout: dropout on the pooled vector before the Linear.
    """

    def __init__(
        self,
        vocab_size: int,
        token_list: Union[Sequence[str], None],
        net_config: SpeechT5Config,
        head: str = "decoder",
        lsm_weight: float = 0.0,
        crop_seconds: float = 3.2,
        classifier_dropout: float = 0.0,
    ) -> None:
        if head not in HEADS:
            raise ValueError(f"head must be one of {', '.join(HEADS)}, not {head!r}")
        if crop_seconds < 0:
            raise ValueError(f"crop_seconds must be 0 (no crop) or positive, not {crop_seconds}")
        if vocab_size - FIRST_LABEL_ID - 1 < 2:
            raise ValueError(f"speaker identification needs at least two speakers; the token list has "
                             f"{max(vocab_size - FIRST_LABEL_ID - 1, 0)}")
        super().__init__(vocab_size, token_list)
        self.head = head
        self.num_labels = vocab_size - FIRST_LABEL_ID - 1
        self.crop_samples = int(round(crop_seconds * SAMPLE_RATE))
        self.net = SpeechToClass(espnet_net_config(net_config, vocab_size), attention_pooling=head == "decoder")
        self.dropout = Dropout(classifier_dropout)
        self.classifier = nn.Linear(self.net.pooled_size, self.num_labels)
        self.criterion = nn.CrossEntropyLoss(ignore_index=-1, label_smoothing=lsm_weight, reduction="sum")
        # ESPnet's --num_att_plot draws the pooling step's cross-attention over the frames
        self.cross_attention = AttentionProbes(self.net.cfg.decoder_layers if head == "decoder" else 0)

    @property
    def labels(self) -> List[str]:
        """The speakers, in the order of the classifier's outputs."""
        tokens = self.token_list or []
        return list(tokens[FIRST_LABEL_ID : FIRST_LABEL_ID + self.num_labels])

    def targets(self, text: torch.Tensor) -> torch.Tensor:
        """(B, N) ESPnet ids of the speaker word -> (B,) classifier targets; -1 for a speaker outside the list."""
        first = text[:, 0].long() - FIRST_LABEL_ID
        return torch.where((first >= 0) & (first < self.num_labels), first, torch.full_like(first, -1))

    def encode(self, speech: torch.Tensor, speech_lengths: Optional[torch.Tensor]) -> EncoderOutput:
        """speech (B, L) at 16 kHz -> encoder output (B, S, D)."""
        return self.net.encode(speech, speech_lengths)

    def label_logits(
        self, speech: torch.Tensor, speech_lengths: Optional[torch.Tensor], need_weights: bool = False
    ) -> Tuple[torch.Tensor, Optional[List[torch.Tensor]]]:
        """speech (B, L), speech_lengths (B,) -> (B, speakers) logits and the pooling's cross-attention."""
        pooled, weights = self.net.pool(self.encode(speech, speech_lengths), need_weights)
        return self.classifier(self.dropout(pooled)), weights

    # ------------------------------------------------------------------ ESPnet interface
    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, Optional[torch.Tensor]], torch.Tensor]:
        """Cross-entropy over the speakers.

        Args:
            speech: (B, L) waveform; speech_lengths: (B,) samples.
            text: (B, N) ESPnet ids of the speaker (N = 1), padded with -1; text_lengths: (B,).

        Returns:
            loss (mean over the utterances of a known speaker), stats (loss, acc: the fraction of
            all utterances whose best speaker is right), and the batch size as the weight.
        """
        batch = speech.size(0)
        if self.training and self.crop_samples > 0:
            speech, speech_lengths = random_crop(speech, speech_lengths, self.crop_samples)
        plotting = not self.training and self.cross_attention.wanted
        logits, weights = self.label_logits(speech, speech_lengths, need_weights=plotting)
        if weights is not None:
            self.cross_attention.record(weights)
        target = self.targets(text)
        known = int((target >= 0).sum())
        loss = self.criterion(logits.float(), target) / max(known, 1)
        acc = (logits.argmax(dim=-1) == target).float().mean()
        stats: Dict[str, Optional[torch.Tensor]] = {"loss": loss.detach(), "acc": acc.detach()}
        loss, stats, weight = force_gatherable((loss, stats, batch), loss.device)
        return loss, stats, weight
