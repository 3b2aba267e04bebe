"""SpeechT5 ASR as an ESPnet model: raw waveform -> speech pre-net -> encoder -> text decoder.

The loss is ``(1 - ctc_weight) * attention cross-entropy (label smoothing) + ctc_weight * CTC``,
with the CTC head (a Linear from the encoder output to the vocabulary, inside ESPnet's
:class:`~espnet2.asr.ctc.CTC`) created here, on top of the network.

**Token ids** (text padded with ``ignore_id``, -1) and **attention plots** are those of
:mod:`espnet2_speecht5.models.common`: ESPnet's token list in, one swap of ids 0 and 1 to reach
the network's numbering; the decoder's cross-attention goes through parameter-free probes that
ESPnet's ``--num_att_plot`` recognises.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from espnet.nets.e2e_asr_common import ErrorCalculator
from espnet.nets.pytorch_backend.nets_utils import th_accuracy
from espnet.nets.pytorch_backend.transformer.label_smoothing_loss import LabelSmoothingLoss
from espnet2.asr.ctc import CTC
from espnet2.torch_utils.device_funcs import force_gatherable

from espnet2_speecht5.models.common import AttentionProbes, SpeechT5Model, WaveformInput, decoder_io, espnet_net_config
from espnet2_speecht5.nets.compositions import EncoderOutput, SpeechToText
from espnet2_speecht5.nets.config import SpeechT5Config


class SpeechT5ASRModel(WaveformInput, SpeechT5Model):
    """Joint CTC/attention ASR on :class:`~espnet2_speecht5.nets.compositions.SpeechToText`.

    Args:
        vocab_size: size V of the ESPnet token list.
        token_list: the tokens (for error rates in the stats).
        net_config: network sizes; its vocabulary and special ids are set by
            :func:`~espnet2_speecht5.models.common.espnet_net_config`.
        ctc_weight: weight of the CTC loss (0: attention only, 1: CTC only).
        lsm_weight: label smoothing of the attention cross-entropy.
        length_normalized_loss: divide the attention loss by the number of tokens instead of the
            number of utterances.
        ctc_dropout: dropout on the encoder output before the CTC head.
        report_cer, report_wer: compute CER/WER of greedy attention outputs in validation (slow).
        sym_space, sym_blank: the space and blank symbols of the token list.
        ignore_id: padding value of the text targets.
    """

    # what the per-epoch validation samples show (train/epoch_samples.py)
    sample_kind = "text"

    def __init__(
        self,
        vocab_size: int,
        token_list: Union[Sequence[str], None],
        net_config: SpeechT5Config,
        ctc_weight: float = 0.5,
        lsm_weight: float = 0.1,
        length_normalized_loss: bool = False,
        ctc_dropout: float = 0.0,
        report_cer: bool = False,
        report_wer: bool = False,
        sym_space: str = "<space>",
        sym_blank: str = "<blank>",
        ignore_id: int = -1,
    ) -> None:
        if not 0.0 <= ctc_weight <= 1.0:
            raise ValueError(f"ctc_weight must be in [0, 1], got {ctc_weight}")
        super().__init__(vocab_size, token_list)
        self.sos = self.eos = vocab_size - 1
        self.blank_id = 0
        self.ignore_id = ignore_id
        self.ctc_weight = ctc_weight
        self.net = SpeechToText(espnet_net_config(net_config, vocab_size))
        self.ctc = CTC(vocab_size, self.net.cfg.d_model, dropout_rate=ctc_dropout)
        self.criterion_att = LabelSmoothingLoss(vocab_size, ignore_id, lsm_weight, length_normalized_loss)
        self.cross_attention = AttentionProbes(self.net.cfg.decoder_layers)
        self.error_calculator: Optional[ErrorCalculator] = None
        if (report_cer or report_wer) and self.token_list is not None:
            self.error_calculator = ErrorCalculator(self.token_list, sym_space, sym_blank, report_cer, report_wer)

    # ------------------------------------------------------------------ pieces
    def encode(
        self, speech: torch.Tensor, speech_lengths: Optional[torch.Tensor]
    ) -> Tuple[EncoderOutput, torch.Tensor]:
        """speech (B, L) at 16 kHz, speech_lengths (B,) -> encoder output (B, S, D) and its lengths (B,)."""
        enc = self.net.encode(speech, speech_lengths)
        if enc.valid is None:
            lengths = torch.full((speech.size(0),), enc.hidden.size(1), dtype=torch.long, device=speech.device)
        else:
            lengths = enc.valid.sum(dim=1)
        return enc, lengths

    def decoder_logits(
        self, enc: EncoderOutput, prev_tokens: torch.Tensor, need_weights: bool = False
    ) -> Tuple[torch.Tensor, Optional[List[torch.Tensor]]]:
        """Teacher-forced decoder pass.

        Args:
            enc: encoder output (B, S, D).
            prev_tokens: (B, T) ESPnet ids starting with ``<sos/eos>``; -1 = padding.
            need_weights: also return the cross-attention weights, per block (B, H, T, S).

        Returns:
            ESPnet-ordered logits (B, T, V) and the weights (or None).
        """
        net_tokens = self.to_net_ids(prev_tokens)
        x = self.net.text_decoder_prenet(net_tokens)
        out = self.net.decoder(x, enc.hidden, None, enc.valid, None, need_weights)
        return self.net_logits_to_espnet(self.net.logits(out.hidden)), out.cross_attentions

    def decoder_io(self, text: torch.Tensor, text_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """text (B, N) padded with ``ignore_id`` -> decoder input ``[sos, y]`` and target ``[y, eos]``, (B, N + 1)."""
        return decoder_io(text, text_lengths, self.sos, self.eos, self.ignore_id)

    # ------------------------------------------------------------------ ESPnet interface
    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, Optional[torch.Tensor]], torch.Tensor]:
        """Joint CTC/attention loss.

        Args:
            speech: (B, L) waveform; speech_lengths: (B,) samples.
            text: (B, N) ESPnet ids padded with -1; text_lengths: (B,).

        Returns:
            loss (scalar), stats (loss, loss_att, loss_ctc, acc, and cer/wer when enabled), and
            the batch size as the weight.
        """
        batch = speech.size(0)
        enc, enc_lengths = self.encode(speech, speech_lengths)
        stats: Dict[str, Optional[torch.Tensor]] = {}

        loss_ctc = None
        if self.ctc_weight > 0.0:
            loss_ctc = self.ctc(enc.hidden, enc_lengths, text, text_lengths)
            stats["loss_ctc"] = loss_ctc.detach()
            if not self.training and self.error_calculator is not None:
                ys_hat = self.ctc.argmax(enc.hidden).cpu()
                stats["cer_ctc"] = self.error_calculator(ys_hat, text.cpu(), is_ctc=True)

        loss_att = None
        if self.ctc_weight < 1.0:
            ys_in, ys_out = self.decoder_io(text, text_lengths)
            plotting = not self.training and self.cross_attention.wanted
            logits, weights = self.decoder_logits(enc, ys_in, need_weights=plotting)
            if weights is not None:
                self.cross_attention.record(weights)
            loss_att = self.criterion_att(logits, ys_out)
            stats["loss_att"] = loss_att.detach()
            stats["acc"] = torch.tensor(th_accuracy(logits.reshape(-1, self.vocab_size), ys_out, self.ignore_id))
            if not self.training and self.error_calculator is not None:
                cer, wer = self.error_calculator(logits.argmax(dim=-1).cpu(), ys_out.cpu())
                stats["cer"], stats["wer"] = cer, wer

        if loss_ctc is None:
            loss = loss_att
        elif loss_att is None:
            loss = loss_ctc
        else:
            loss = self.ctc_weight * loss_ctc + (1.0 - self.ctc_weight) * loss_att
        stats["loss"] = loss.detach()
        loss, stats, weight = force_gatherable((loss, stats, batch), loss.device)
        return loss, stats, weight
