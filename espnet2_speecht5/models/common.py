"""What the SpeechT5 ESPnet models share: token ids, ``conf_keys``, attention plots, mel targets.

**Token ids.** The models speak ESPnet's ids: ``<blank>`` = 0, ``<unk>`` = 1, ..., ``<sos/eos>``
= V - 1, text padded with -1. The networks keep SpeechT5's padding id 1 (which also numbers the
speech pre-net's sinusoidal positions, so pre-trained weights see the positions they were trained
with). The two numberings differ by one swap, :func:`espnet_to_net_ids`: ESPnet's ``<blank>``
(never a decoder input) becomes the network's padding id 1, and ESPnet's ``<unk>`` becomes network
id 0. The network's output columns are put back into ESPnet's order
(:meth:`SpeechT5Model.net_logits_to_espnet`) before any loss or score.

**Attention plots.** ESPnet's trainer (``--num_att_plot``) records the attention of modules that
are ESPnet ``MultiHeadedAttention`` instances. :class:`AttentionProbe` is such an instance without
parameters: when a hook is attached to it (only while plotting), the model asks the decoder for
its cross-attention weights and passes them through the probes (:class:`AttentionProbes`), so the
plots show them.

**Mel targets.** :func:`make_targets` cuts log-mel targets to a multiple of the reduction factor
and builds the decoder input and the stop labels (TTS and the pre-training's speech
reconstruction).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from espnet.nets.pytorch_backend.transformer.attention import MultiHeadedAttention
from espnet2.train.abs_espnet_model import AbsESPnetModel
from torch import nn

from espnet2_speecht5.nets.compositions import shift_mel_right
from espnet2_speecht5.nets.config import SpeechT5Config

NET_PAD_ID = 1


def check_vocab_size(vocab_size: int) -> None:
    """ValueError unless the token list has room for ``<blank>``, ``<unk>`` and ``<sos/eos>``."""
    if vocab_size < 3:
        raise ValueError(f"the token list needs at least <blank>, <unk> and <sos/eos>, got {vocab_size} tokens")


def espnet_net_config(cfg: SpeechT5Config, vocab_size: int) -> SpeechT5Config:
    """Set the vocabulary and special ids of ``cfg`` for an ESPnet token list of ``vocab_size`` tokens.

    Network ids (see :func:`espnet_to_net_ids`): pad 1 (ESPnet ``<blank>``), unk 0 (ESPnet ``<unk>``),
    start/end ``vocab_size - 1`` (``<sos/eos>``).
    """
    check_vocab_size(vocab_size)
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


def decoder_io(
    text: torch.Tensor, text_lengths: torch.Tensor, sos: int, eos: int, ignore_id: int = -1
) -> Tuple[torch.Tensor, torch.Tensor]:
    """text (B, N) padded with ``ignore_id`` -> decoder input ``[sos, y]`` and target ``[y, eos]``, (B, N + 1)."""
    batch = text.size(0)
    text = text[:, : int(text_lengths.max())].long() if text.numel() else text.long()
    ys_in = torch.cat([text.new_full((batch, 1), sos), text], dim=1)
    ys_out = torch.cat([text, text.new_full((batch, 1), ignore_id)], dim=1)
    ys_out[torch.arange(batch, device=text.device), text_lengths.long()] = eos
    return ys_in, ys_out


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


class AttentionProbes(nn.ModuleList):
    """One :class:`AttentionProbe` per decoder block."""

    def __init__(self, layers: int) -> None:
        super().__init__([AttentionProbe() for _ in range(layers)])

    @property
    def wanted(self) -> bool:
        """True while ESPnet's attention plotting has a hook on any probe."""
        return any(probe.wanted for probe in self)

    def record(self, weights: Sequence[torch.Tensor]) -> None:
        """Pass each block's cross-attention (B, H, T_out, T_in) through its probe."""
        for probe, weight in zip(self, weights):
            probe(weight)


@dataclass
class MelTargets:
    """Teacher-forcing inputs and targets of one batch.

    mel: (B, T, 80) targets with T a multiple of r; lengths: (B,) frames (multiples of r);
    prev_mel: (B, T / r, 80) decoder inputs; steps: (B,) decoder steps; stop: (B, T) labels.
    """

    mel: torch.Tensor
    lengths: torch.Tensor
    prev_mel: torch.Tensor
    steps: torch.Tensor
    stop: torch.Tensor


def make_targets(mel: torch.Tensor, mel_lengths: torch.Tensor, reduction_factor: int) -> MelTargets:
    """Cut each target to a multiple of r, build the shifted decoder input and the stop labels.

    Args:
        mel: (B, T', 80) log-mel frames, zero-padded; mel_lengths: (B,) frames.
        reduction_factor: frames per decoder step (r).

    Raises:
        ValueError: an utterance shorter than r frames.
    """
    r = reduction_factor
    if bool((mel_lengths < r).any()):
        raise ValueError(f"every target needs at least {r} mel frames (reduction factor); got {mel_lengths.tolist()}")
    lengths = mel_lengths - mel_lengths % r
    mel = mel[:, : int(lengths.max())]
    mel = mel * (torch.arange(mel.size(1), device=mel.device)[None, :] < lengths[:, None]).unsqueeze(-1)
    stop = torch.zeros(mel.shape[:2], dtype=mel.dtype, device=mel.device)
    stop[torch.arange(mel.size(0), device=mel.device), lengths - 1] = 1.0
    return MelTargets(mel, lengths, shift_mel_right(mel, r), lengths // r, stop)


def front_end_feats(net: torch.nn.Module, speech: torch.Tensor, speech_lengths: torch.Tensor
                    ) -> Optional[Dict[str, torch.Tensor]]:
    """The input features whose statistics stage 7 collects (``feats_stats.npz``, read by ``global_mvn``):
    the ESPnet front end's output (B, T, F) and lengths (B,) for the fbank pre-net; None for the conv one."""
    frontend_features = getattr(net.speech_prenet, "frontend_features", None)
    if frontend_features is None:
        return None
    feats, lengths = frontend_features(speech, speech_lengths)
    return {"feats": feats, "feats_lengths": lengths}


class WaveformInput:
    """Mixin of the models whose input is the raw waveform."""

    def collect_feats(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor, *targets: torch.Tensor, **kwargs
    ) -> Dict[str, torch.Tensor]:
        """The front end's features (fbank pre-net), else the raw waveform (B, L) and its lengths (B,)."""
        feats = front_end_feats(self.net, speech, speech_lengths)
        return feats if feats is not None else {"feats": speech, "feats_lengths": speech_lengths}


class SpeechT5Model(AbsESPnetModel):
    """The base of the SpeechT5 models: an ESPnet token list over a network with SpeechT5's ids.

    A subclass's constructor takes ``(vocab_size, token_list, net_config, **model_conf)``; the
    keyword arguments after those three are what ``--model_conf`` may set (:meth:`conf_keys`).
    It checks its arguments before calling ``super().__init__``, which checks ``vocab_size``.

    Args:
        vocab_size: size V of the ESPnet token list.
        token_list: the tokens (or None).
    """

    # constructor parameters that the task fills in, never ``--model_conf``
    NOT_CONF = ("self", "vocab_size", "token_list", "net_config")

    def __init__(self, vocab_size: int, token_list: Union[Sequence[str], None]) -> None:
        check_vocab_size(vocab_size)
        super().__init__()
        self.vocab_size = vocab_size
        self.token_list = list(token_list) if token_list is not None else None
        self.register_buffer("id_perm", id_permutation(vocab_size), persistent=False)

    @classmethod
    def conf_keys(cls) -> List[str]:
        """The keys ``--model_conf`` may set: the constructor's keyword arguments."""
        params = inspect.signature(cls.__init__).parameters
        return [name for name in params if name not in cls.NOT_CONF]

    def to_net_ids(self, tokens: torch.Tensor) -> torch.Tensor:
        """ESPnet ids (any shape; -1 = padding) -> network ids."""
        return espnet_to_net_ids(tokens, self.id_perm)

    def net_logits_to_espnet(self, logits: torch.Tensor) -> torch.Tensor:
        """(..., V) network-ordered logits -> ESPnet-ordered logits."""
        return logits.index_select(-1, self.id_perm)
