#!/usr/bin/env python3
"""Reorder the pre-trained text embedding of a converted SpeechT5 checkpoint to our token list.

The released checkpoints number their characters by a fairseq dictionary: ``<s>`` 0, ``<pad>``
1, ``</s>`` 2, ``<unk>`` 3, then the lines of ``dict.txt`` (``<symbol> <count>``) from id 4,
with ``▁`` as the word boundary.  The ASR model of this recipe uses ESPnet's character list
(``<blank>``, ``<unk>``, characters, ``<space>``, ``<sos/eos>``) and the network ids of
:mod:`espnet2_speecht5.models.asr` (ESPnet ids with 0 and 1 swapped).  This script writes a
copy of the checkpoint whose ``text_decoder_prenet.embed_tokens.weight`` has one row per
network id, taken from the pre-trained row of the same symbol:

* ``<sos/eos>`` <- ``</s>``, ``<unk>`` <- ``<unk>``, ``<blank>`` (the network's padding) <- ``<pad>``;
* ``<space>`` <- ``▁``; every other token <- the dictionary symbol equal to it, or, failing that,
  equal to it ignoring case (the release's characters may be lower case).

Tokens with no pre-trained row get random rows with the pre-trained rows' standard deviation;
they are listed.  Load the result whole, without excluding the embedding::

    python local/remap_text_embedding.py --checkpoint exp/speecht5_base_s2t.pth --dict dict.txt \\
        --token_list data/token_list/char/tokens.txt --output exp/speecht5_base_s2t_char.pth
    SPEECHT5_PRETRAINED=exp/speecht5_base_s2t_char.pth SPEECHT5_INIT_EXCLUDE= ./run.sh --stage 6
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from espnet2_speecht5.checkpoint.io import load_checkpoint, save_torch
from espnet2_speecht5.models.common import id_permutation
from espnet2_speecht5.runtime.errors import DataError

EMBED_KEY = "text_decoder_prenet.embed_tokens.weight"
FAIRSEQ_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")
ESPNET_TO_RELEASE = {"<sos/eos>": "</s>", "<unk>": "<unk>", "<blank>": "<pad>", "<space>": "\u2581"}


def read_fairseq_dict(path: Path) -> Dict[str, int]:
    """``dict.txt`` -> ``{symbol: id}`` with the four fairseq specials first (ids 0-3)."""
    ids = {symbol: i for i, symbol in enumerate(FAIRSEQ_SPECIALS)}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise DataError(f"cannot read the dictionary: {err.strerror}", path) from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) < 2:
            raise DataError("expected '<symbol> <count>'", path, number)
        ids.setdefault(fields[0], len(ids))
    return ids


def read_token_list(path: Path) -> List[str]:
    """ESPnet's ``tokens.txt``, one token a line; it must start with ``<blank>`` and end with ``<sos/eos>``."""
    try:
        tokens = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as err:
        raise DataError(f"cannot read the token list: {err.strerror}", path) from None
    if len(tokens) < 3 or tokens[0] != "<blank>" or tokens[-1] != "<sos/eos>":
        raise DataError("a token list starts with <blank> and ends with <sos/eos> (run stage 5 first)", path)
    return tokens


def source_rows(tokens: Sequence[str], release: Dict[str, int]) -> List[Optional[int]]:
    """For each ESPnet token, the release's row holding the same symbol (None when there is none)."""
    lowered: Dict[str, int] = {}
    for symbol, index in release.items():
        lowered.setdefault(symbol.lower(), index)
    rows: List[Optional[int]] = []
    for token in tokens:
        symbol = ESPNET_TO_RELEASE.get(token, token)
        rows.append(release.get(symbol, lowered.get(symbol.lower())))
    return rows


def remap(
    state: Dict[str, torch.Tensor], tokens: Sequence[str], release: Dict[str, int], seed: int = 0
) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """A copy of ``state`` with the embedding in network-id order for ``tokens``, and the unmatched tokens."""
    if EMBED_KEY not in state:
        raise DataError(f"the checkpoint has no {EMBED_KEY}: is it a converted speech-to-text network?")
    old = state[EMBED_KEY]
    rows = source_rows(tokens, release)
    too_big = [(tok, row) for tok, row in zip(tokens, rows) if row is not None and row >= old.size(0)]
    if too_big:
        token, row = too_big[0]
        raise DataError(f"the dictionary puts '{token}' at row {row}, but the embedding has {old.size(0)} rows")
    generator = torch.Generator().manual_seed(seed)
    new = torch.randn(len(tokens), old.size(1), generator=generator, dtype=torch.float32) * old.float().std()
    perm = id_permutation(len(tokens))  # ESPnet id -> network id
    missing: List[str] = []
    for espnet_id, (token, row) in enumerate(zip(tokens, rows)):
        if row is None:
            missing.append(token)
        else:
            new[perm[espnet_id]] = old[row].float()
    out = dict(state)
    out[EMBED_KEY] = new.to(old.dtype)
    return out, missing


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line; bad input is one ``ERROR:`` line and exit status 1."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="converted network (.pth, no prefix)")
    parser.add_argument("--dict", type=Path, required=True, help="the release's fairseq dict.txt")
    parser.add_argument("--token_list", type=Path, required=True, help="ESPnet tokens.txt of the recipe")
    parser.add_argument("--output", type=Path, required=True, help="the reordered checkpoint (.pth)")
    args = parser.parse_args(argv)
    try:
        state = load_checkpoint(args.checkpoint)
        if not isinstance(state, dict) or EMBED_KEY not in state:
            raise DataError(f"not a converted speech-to-text network (no {EMBED_KEY})", args.checkpoint)
        tokens = read_token_list(args.token_list)
        out, missing = remap(state, tokens, read_fairseq_dict(args.dict))
    except DataError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    save_torch(out, args.output)
    matched = len(tokens) - len(missing)
    print(f"{args.output}: {matched} of {len(tokens)} tokens take their pre-trained row", end="")
    print(f"; random rows for: {' '.join(missing)}" if missing else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
