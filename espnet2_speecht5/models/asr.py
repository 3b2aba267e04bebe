"""SpeechT5 ASR as an ESPnet model: raw waveform -> speech pre-net -> encoder -> text decoder.

The loss is ``(1 - ctc_weight) * attention cross-entropy (label smoothing) + ctc_weight * CTC``,
with the CTC head (a Linear from the encoder output to the vocabulary, inside ESPnet's
:class:`~espnet2.asr.ctc.CTC`) created here, on top of the network.

**Token ids.** The model speaks ESPnet's ids: ``<blank>`` = 0, ``<unk>`` = 1, ..., ``<sos/eos>``
= V - 1, text padded with ``ignore_id`` (-1). The network keeps SpeechT5's padding id 1 (which
also numbers the speech pre-net's sinusoidal positions, so pre-trained weights see the positions
they were trained with). The two numberings differ by one swap, :func:`espnet_to_net_ids`:
ESPnet's ``<blank>`` (never a decoder input) becomes the network's padding id 1, and ESPnet's
``<unk>`` becomes network id 0. The network's output columns are put back into ESPnet's order
before any loss or score.

**Attention plots.** ESPnet's trainer (``--num_att_plot``) records the attention of modules that
are ESPnet ``MultiHeadedAttention`` instances. :class:`AttentionProbe` is such an instance without
parameters: when a hook is attached to it (only while plotting), the model asks the decoder for
its cross-attention weights and passes them through the probe, so the plots show them.
"""

from __future__ import annotations

import inspect
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from espnet.nets.e2e_asr_common import ErrorCalculator
from espnet.nets.pytorch_backend.nets_utils import th_accuracy
from espnet.nets.pytorch_backend.transformer.attention import MultiHeadedAttention
from espnet.nets.pytorch_backend.transformer.label_smoothing_loss import LabelSmoothingLoss
from espnet2.asr.ctc import CTC
from espnet2.torch_utils.device_funcs import force_gatherable
from espnet2.train.abs_espnet_model import AbsESPnetModel
from torch import nn

from espnet2_speecht5.nets.compositions import EncoderOutput, SpeechToText
from espnet2_speecht5.nets.config import SpeechT5Config

NET_PAD_ID = 1


def asr_net_config(cfg: SpeechT5Config, vocab_size: int) -> SpeechT5Config:
    """Set the vocabulary and special ids of ``cfg`` for an ESPnet token list of ``vocab_size`` tokens.

    Network ids (see :func:`espnet_to_net_ids`): pad 1 (ESPnet ``<blank>``), unk 0 (ESPnet ``<unk>``),
    start/end ``vocab_size - 1`` (``<sos/eos>``).
    """
    if vocab_size < 3:
        raise ValueError(f"the token list needs at least <blank>, <unk> and <sos/eos>, got {vocab_size} tokens")
    eos = vocab_size - 1
    return cfg.replace(vocab_size=vocab_size, pad_id=NET_PAD_ID, unk_id=0, bos_id=eos, eos_id=eos, decoder_start_id=eos)


def id_permutation(vocab_size: int) -> torch.Tensor:
    """(V,) long: ESPnet id -> network id (an involution: ids 0 and 1 swap, the rest stay)."""
    perm = torch.arange(vocab_size)
    perm[0], perm[1] = 1, 0
    return perm


def espnet_to_net_ids(tokens: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Map ESPnet ids (any shape; -1 = padding) to network ids (padding -> network pad)."""
    return torch.where(tokens < 0, torch.full_like(tokens, NET_PAD_ID), perm[tokens.clamp(min=0)])


class AttentionProbe(MultiHeadedAttention):
    """A parameter-free stand-in that ESPnet's attention plotting recognises.

    ``forward(weights)`` stores ``weights`` (B, H, T_out, T_in) in ``self.attn`` (what
    ``espnet2.main_funcs.calculate_all_attentions`` reads) and returns them.
    """

    def __init__(self) -> None:  # noqa: D107 - deliberately skips MultiHeadedAttention's layers
        nn.Module.__init__(self)
        self.attn: Optional[torch.Tensor] = None

    @property
    def wanted(self) -> bool:
        """True while someone (the plotting code) has a forward hook on this probe."""
        return bool(self._forward_hooks)

    def forward(self, weights: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        self.attn = weights
        return weights


class SpeechT5ASRModel(AbsESPnetModel):
    """Joint CTC/attention ASR on :class:`~espnet2_speecht5.nets.compositions.SpeechToText`.

    Args:
        vocab_size: size V of the ESPnet token list.
        token_list: the tokens (for error rates in the stats).
        net_config: network sizes; its vocabulary and special ids are set by :func:`asr_net_config`.
        ctc_weight: weight of the CTC loss (0: attention only, 1: CTC only).
        lsm_weight: label smoothing of the attention cross-entropy.
        length_normalized_loss: divide the attention loss by the number of tokens instead of the
            number of utterances.
        ctc_dropout: dropout on the encoder output before the CTC head.
        report_cer, report_wer: compute CER/WER of greedy attention outputs in validation (slow).
        sym_space, sym_blank: the space and blank symbols of the token list.
        ignore_id: padding value of the text targets.
    """

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
        super().__init__()
        if not 0.0 <= ctc_weight <= 1.0:
            raise ValueError(f"ctc_weight must be in [0, 1], got {ctc_weight}")
        self.vocab_size = vocab_size
        self.token_list = list(token_list) if token_list is not None else None
        self.sos = self.eos = vocab_size - 1
        self.blank_id = 0
        self.ignore_id = ignore_id
        self.ctc_weight = ctc_weight
        self.net = SpeechToText(asr_net_config(net_config, vocab_size))
        self.ctc = CTC(vocab_size, self.net.cfg.d_model, dropout_rate=ctc_dropout)
        self.criterion_att = LabelSmoothingLoss(vocab_size, ignore_id, lsm_weight, length_normalized_loss)
        self.register_buffer("id_perm", id_permutation(vocab_size), persistent=False)
        self.cross_attention = nn.ModuleList([AttentionProbe() for _ in range(self.net.cfg.decoder_layers)])
        self.error_calculator: Optional[ErrorCalculator] = None
        if (report_cer or report_wer) and self.token_list is not None:
            self.error_calculator = ErrorCalculator(self.token_list, sym_space, sym_blank, report_cer, report_wer)

    @classmethod
    def conf_keys(cls) -> List[str]:
        """The keys ``--model_conf`` may set."""
        params = inspect.signature(cls.__init__).parameters
        return [name for name in params if name not in ("self", "vocab_size", "token_list", "net_config")]

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

    def net_logits_to_espnet(self, logits: torch.Tensor) -> torch.Tensor:
        """(..., V) network-ordered logits -> ESPnet-ordered logits."""
        return logits.index_select(-1, self.id_perm)

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
        net_tokens = espnet_to_net_ids(prev_tokens, self.id_perm)
        x = self.net.text_decoder_prenet(net_tokens)
        out = self.net.decoder(x, enc.hidden, None, enc.valid, None, need_weights)
        return self.net_logits_to_espnet(self.net.logits(out.hidden)), out.cross_attentions

    def decoder_io(self, text: torch.Tensor, text_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """text (B, N) padded with ``ignore_id`` -> decoder input ``[sos, y]`` and target ``[y, eos]``, (B, N + 1)."""
        batch = text.size(0)
        text = text[:, : int(text_lengths.max())] if text.numel() else text
        pad = text.new_full((batch, 1), self.ignore_id)
        ys_in = torch.cat([text.new_full((batch, 1), self.sos), text], dim=1)
        ys_out = torch.cat([text, pad], dim=1)
        ys_out[torch.arange(batch, device=text.device), text_lengths.long()] = self.eos
        return ys_in, ys_out

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
            plotting = not self.training and any(probe.wanted for probe in self.cross_attention)
            logits, weights = self.decoder_logits(enc, ys_in, need_weights=plotting)
            if weights is not None:
                for probe, weight in zip(self.cross_attention, weights):
                    probe(weight)
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

    def collect_feats(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: Optional[torch.Tensor] = None,
        text_lengths: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> Dict[str, torch.Tensor]:
        """No front-end: the features are the raw waveform (B, L) and its lengths (B,)."""
        return {"feats": speech, "feats_lengths": speech_lengths}
