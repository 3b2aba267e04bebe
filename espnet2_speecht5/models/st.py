"""SpeechT5 ST as an ESPnet model: raw waveform -> speech pre-net -> encoder -> text decoder over
the target-language vocabulary.

The loss is label-smoothed cross-entropy on the translation.  With ``src_ctc_weight > 0`` (and the
task's ``--src_token_list``), a CTC head over the *source* vocabulary on the encoder output adds
``src_ctc_weight * CTC(source transcript)``, ESPnet ST's multi-task option; the CTC is a training
aid only and takes no part in decoding (its tokens are not the decoder's).  Token ids and
attention plots are those of :mod:`espnet2_speecht5.models.common`, as for ASR.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from espnet.nets.pytorch_backend.nets_utils import th_accuracy
from espnet2.asr.ctc import CTC
from espnet2.torch_utils.device_funcs import force_gatherable

from espnet2_speecht5.models.asr import SpeechT5ASRModel
from espnet2_speecht5.nets.config import SpeechT5Config


class SpeechT5STModel(SpeechT5ASRModel):
    """Attention-based speech translation on :class:`~espnet2_speecht5.nets.compositions.SpeechToText`.

    Args:
        vocab_size: size V of the target-language ESPnet token list.
        token_list: the target tokens.
        net_config: network sizes (vocabulary and special ids set from the target list).
        src_vocab_size: size of the source-language token list; 0 without one (the task fills it in).
        src_ctc_weight: weight of the source-transcript CTC loss (0: off; needs ``src_vocab_size``).
        lsm_weight: label smoothing of the cross-entropy.
        length_normalized_loss: divide the loss by the number of tokens instead of utterances.
        ctc_dropout: dropout on the encoder output before the CTC head.
        ignore_id: padding value of the text targets.
    """

    NOT_CONF = (*SpeechT5ASRModel.NOT_CONF, "src_vocab_size")

    def __init__(
        self,
        vocab_size: int,
        token_list: Union[Sequence[str], None],
        net_config: SpeechT5Config,
        src_vocab_size: int = 0,
        src_ctc_weight: float = 0.0,
        lsm_weight: float = 0.1,
        length_normalized_loss: bool = False,
        ctc_dropout: float = 0.0,
        ignore_id: int = -1,
    ) -> None:
        if not 0.0 <= src_ctc_weight < 1.0:
            raise ValueError(f"src_ctc_weight must be in [0, 1), got {src_ctc_weight}")
        if src_ctc_weight > 0.0 and src_vocab_size <= 0:
            raise ValueError("src_ctc_weight > 0 needs the source token list (--src_token_list)")
        super().__init__(vocab_size, token_list, net_config, ctc_weight=0.0, lsm_weight=lsm_weight,
                         length_normalized_loss=length_normalized_loss, ignore_id=ignore_id)
        # ASR's CTC head is over the target vocabulary and is not used for translation.
        del self.ctc
        self.src_ctc_weight = src_ctc_weight
        self.src_ctc: Optional[CTC] = None
        if src_ctc_weight > 0.0:
            self.src_ctc = CTC(src_vocab_size, self.net.cfg.d_model, dropout_rate=ctc_dropout)

    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        src_text: Optional[torch.Tensor] = None,
        src_text_lengths: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, Optional[torch.Tensor]], torch.Tensor]:
        """Translation loss.

        Args:
            speech: (B, L) waveform; speech_lengths: (B,) samples.
            text: (B, N) target-language ESPnet ids padded with -1; text_lengths: (B,).
            src_text: (B, M) source-language ids padded with -1 (needed when ``src_ctc_weight > 0``);
                src_text_lengths: (B,).

        Returns:
            loss (scalar), stats (loss, loss_att, acc and loss_ctc_src), and the batch size as the weight.
        """
        batch = speech.size(0)
        enc, enc_lengths = self.encode(speech, speech_lengths)
        stats: Dict[str, Optional[torch.Tensor]] = {}
        ys_in, ys_out = self.decoder_io(text, text_lengths)
        plotting = not self.training and self.cross_attention.wanted
        logits, weights = self.decoder_logits(enc, ys_in, need_weights=plotting)
        if weights is not None:
            self.cross_attention.record(weights)
        loss = loss_att = self.criterion_att(logits, ys_out)
        stats["loss_att"] = loss_att.detach()
        stats["acc"] = torch.tensor(th_accuracy(logits.reshape(-1, self.vocab_size), ys_out, self.ignore_id))
        if self.src_ctc is not None:
            if src_text is None or src_text_lengths is None:
                raise ValueError("src_ctc_weight > 0 needs src_text in the batch (the source transcript)")
            loss_ctc = self.src_ctc(enc.hidden, enc_lengths, src_text, src_text_lengths)
            stats["loss_ctc_src"] = loss_ctc.detach()
            loss = self.src_ctc_weight * loss_ctc + (1.0 - self.src_ctc_weight) * loss_att
        stats["loss"] = loss.detach()
        loss, stats, weight = force_gatherable((loss, stats, batch), loss.device)
        return loss, stats, weight
