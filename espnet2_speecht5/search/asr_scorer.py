"""The SpeechT5 text decoder as an ESPnet beam-search scorer, on the key/value cache.

A hypothesis' state is a :class:`HypCache`: its own rows of the self-attention keys/values of
every decoder block (views into the batch tensors of the step that made them) and the
cross-attention keys/values, projected from the encoder output once and shared by all
hypotheses. ``batch_score`` stacks the states of the running hypotheses, feeds only the tokens
after the cached ones (one token per step in beam search), and hands each hypothesis its rows
back, so a step costs O(current length). ``select_state`` is the default one: the i-th element
of the list of states, which is what ``BatchBeamSearch`` expects.

The scorer sits below the task models: it takes any model with the attributes of
:class:`ASRDecoderModel`, such as :class:`~espnet2_speecht5.models.asr.SpeechT5ASRModel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Protocol, Sequence, Tuple

import torch
from espnet.nets.scorer_interface import BatchScorerInterface
from torch import nn

from espnet2_speecht5.nets.attention import DecoderCache, KeyValue, LayerCache
from espnet2_speecht5.nets.compositions import EncoderOutput, SpeechToText


class ASRDecoderModel(Protocol):
    """What the scorer uses of an ASR model (:class:`~espnet2_speecht5.models.asr.SpeechT5ASRModel`)."""

    net: SpeechToText
    blank_id: int

    def to_net_ids(self, tokens: torch.Tensor) -> torch.Tensor:
        """ESPnet ids -> network ids."""
        ...

    def net_logits_to_espnet(self, logits: torch.Tensor) -> torch.Tensor:
        """(..., V) network-ordered logits -> ESPnet-ordered logits."""
        ...


@dataclass
class HypCache:
    """One hypothesis: self-attention (k, v) per block, each (1, H, t, head_dim); cross (k, v)
    per block, each (1, H, S, head_dim), shared between hypotheses."""

    self_kv: List[KeyValue]
    cross_kv: List[KeyValue]

    @property
    def length(self) -> int:
        return self.self_kv[0][0].size(2) if self.self_kv else 0


def _stack(pairs: Sequence[KeyValue]) -> KeyValue:
    """Concatenate per-hypothesis (k, v) pairs along the batch; shared ones are expanded, not copied."""
    first = pairs[0]
    if all(p is first for p in pairs):
        n = len(pairs)
        return first[0].expand(n, *first[0].shape[1:]), first[1].expand(n, *first[1].shape[1:])
    return torch.cat([p[0] for p in pairs], dim=0), torch.cat([p[1] for p in pairs], dim=0)


class SpeechT5DecoderScorer(nn.Module, BatchScorerInterface):
    """Scores the next ESPnet token with the attention decoder of an ASR model.

    Scores are log-probabilities (V,) per hypothesis in ESPnet order; ``<blank>`` (a CTC symbol
    that the decoder is never trained to emit) gets -inf.

    Args:
        model: the ASR model (:class:`ASRDecoderModel`), in eval mode.
    """

    def __init__(self, model: ASRDecoderModel) -> None:
        super().__init__()
        self.model = model

    def init_state(self, x: torch.Tensor) -> Any:
        return None

    def batch_init_state(self, x: torch.Tensor) -> Any:
        return None

    def score(self, y: torch.Tensor, state: Any, x: torch.Tensor) -> Tuple[torch.Tensor, Any]:
        """Single hypothesis: y (L,) ids, x (S, D) encoder output -> log-probs (V,) and the new state."""
        scores, states = self.batch_score(y[None], [state], x[None])
        return scores[0], states[0]

    @torch.no_grad()
    def batch_score(self, ys: torch.Tensor, states: List[Any], xs: torch.Tensor) -> Tuple[torch.Tensor, List[HypCache]]:
        """Score the next token of every hypothesis.

        Args:
            ys: (n, L) ESPnet ids of the prefixes (starting with ``<sos/eos>``).
            states: n states (None or :class:`HypCache`), all of the same cached length.
            xs: (n, S, D) encoder output, one row per hypothesis (an expanded single utterance).

        Returns:
            log-probabilities (n, V) and the n new states.
        """
        model = self.model
        n = ys.size(0)
        layers = len(model.net.decoder.layers)
        if any(s is None for s in states):
            cached, cache = 0, DecoderCache.empty(layers)
        else:
            lengths = {s.length for s in states}
            if len(lengths) != 1:
                raise ValueError(f"hypotheses with different cached lengths in one batch: {sorted(lengths)}")
            cached = lengths.pop()
            cache = DecoderCache(
                [
                    LayerCache(_stack([s.self_kv[i] for s in states]), _stack([s.cross_kv[i] for s in states]))
                    for i in range(layers)
                ]
            )
        shared_cross = cached > 0 and all(s.cross_kv is states[0].cross_kv for s in states)
        new_tokens = model.to_net_ids(ys[:, cached:])
        logits = model.net.decode_step(EncoderOutput(xs, None), new_tokens, cache)[:, -1]
        logp = torch.log_softmax(model.net_logits_to_espnet(logits).float(), dim=-1)
        logp[:, model.blank_id] = float("-inf")

        new_states: List[HypCache] = []
        for row in range(n):
            self_rows = [(lc.self_kv[0][row : row + 1], lc.self_kv[1][row : row + 1]) for lc in cache.layers]
            if shared_cross:
                cross_rows = states[0].cross_kv
            else:
                cross_rows = [(lc.cross_kv[0][row : row + 1], lc.cross_kv[1][row : row + 1]) for lc in cache.layers]
            new_states.append(HypCache(self_rows, cross_rows))
        return logp, new_states


def build_decoder_scorer(model: ASRDecoderModel) -> SpeechT5DecoderScorer:
    """The decoder scorer for ``model`` (put the model in eval mode first)."""
    return SpeechT5DecoderScorer(model)
