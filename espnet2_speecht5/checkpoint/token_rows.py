"""Carry the text rows of a checkpoint over to another token list (fine-tuning to a new vocabulary).

A SpeechT5 network has one row per token in its text embeddings (``*.embed_tokens.weight``, (V, D);
the text decoder's output layer shares them) and, in an ASR model, in the CTC output layer
(``ctc.ctc_lo.weight`` (V, D) and ``ctc.ctc_lo.bias`` (V,)). When fine-tuning uses a token list
other than the checkpoint's, :func:`remap_token_rows` rebuilds those tensors row by row, by token:

* a token in both lists keeps its row;
* a token only in the new list (added) starts at the mean of the checkpoint's rows: an "average
  token" of the same scale as the others, whose output logit starts at the average logit, rather than
  a random row of another scale that would dominate or vanish;
* a token only in the checkpoint (dropped) loses its row.

Tokens are compared by name after mapping sentencepiece's names onto ESPnet's (``▁`` is ``<space>``,
``</s>`` is ``<sos/eos>``, ``<pad>`` is ``<blank>``), so that a transformers checkpoint, whose token
list is its ``spm_char.model``, matches our character lists. :func:`describe` is the log line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import torch

# sentencepiece / fairseq names of the special tokens -> ESPnet's
TOKEN_ALIASES = {"\u2581": "<space>", "</s>": "<sos/eos>", "<pad>": "<blank>"}
# the tensors with one row per token
VOCAB_KEY_SUFFIXES = ("embed_tokens.weight", "ctc.ctc_lo.weight", "ctc.ctc_lo.bias")


def canonical_tokens(tokens: Sequence[str]) -> List[str]:
    """``tokens`` with sentencepiece's special names replaced by ESPnet's."""
    return [TOKEN_ALIASES.get(str(t), str(t)) for t in tokens]


@dataclass
class TokenChange:
    """What a remapping did: the tokens kept, added and dropped, and the tensors it rebuilt."""

    kept: List[str] = field(default_factory=list)
    added: List[str] = field(default_factory=list)
    dropped: List[str] = field(default_factory=list)
    keys: List[str] = field(default_factory=list)


def is_vocab_key(key: str) -> bool:
    return key.endswith(VOCAB_KEY_SUFFIXES)


def remap_token_rows(
    state: Dict[str, torch.Tensor], source_tokens: Sequence[str], target_tokens: Sequence[str]
) -> Tuple[Dict[str, torch.Tensor], TokenChange]:
    """Rebuild the token-row tensors of ``state`` (tokens ``source_tokens``) for ``target_tokens``.

    Returns:
        a new state dict (the other tensors shared with ``state``) and the :class:`TokenChange`.

    Raises:
        ValueError: a token-row tensor whose first dimension is not the source list's length.
    """
    source = canonical_tokens(source_tokens)
    target = canonical_tokens(target_tokens)
    where = {token: row for row, token in enumerate(source)}
    change = TokenChange(
        kept=[t for t in target if t in where],
        added=[t for t in target if t not in where],
        dropped=[t for t in source if t not in set(target)],
    )
    out = dict(state)
    for key, tensor in state.items():
        if not is_vocab_key(key):
            continue
        if tensor.shape[0] != len(source):
            raise ValueError(f"'{key}' has {tensor.shape[0]} rows, the checkpoint's token list {len(source)} tokens")
        mean = tensor.float().mean(dim=0).to(tensor.dtype)
        rows = [tensor[where[t]] if t in where else mean for t in target]
        out[key] = torch.stack(rows).contiguous()
        change.keys.append(key)
    return out, change


def describe(change: TokenChange, shown: int = 20) -> str:
    """One log line: how many tokens were kept, and which were added and dropped."""

    def listed(tokens: List[str]) -> str:
        names = " ".join(tokens[:shown]) + (f" ... ({len(tokens) - shown} more)" if len(tokens) > shown else "")
        return f"{len(tokens)} ({names})" if tokens else "0"

    return (f"token list: {len(change.kept)} tokens keep their rows, added {listed(change.added)} "
            f"(initialised to the mean row), dropped {listed(change.dropped)}; "
            f"tensors: {', '.join(change.keys) or 'none'}")
