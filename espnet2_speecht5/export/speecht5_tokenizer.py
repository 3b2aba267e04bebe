"""A ``SpeechT5Tokenizer`` for an exported character model, so that transformers' pipelines run it.

transformers' ``SpeechT5Tokenizer`` reads ``spm_char.model``, a sentencepiece model, and uses the
piece ids as the network's token ids. Our character token lists are ESPnet's, ordered by frequency,
so no trained sentencepiece model has their ids. But a sentencepiece model is a list of pieces whose
position is the id: :func:`character_model` writes one (``model_type: CHAR``) whose piece i is the
token of network id i (the export's ``tokens.txt``), with sentencepiece's names for the specials:

======================  ==================  ===================================
ESPnet token            piece               sentencepiece type
======================  ==================  ===================================
``<unk>`` (network 0)   ``<unk>``           UNKNOWN
``<blank>`` (1)         ``<pad>``           CONTROL (transformers' pad token)
``<space>``             ``▁``               NORMAL (sentencepiece's escaped space)
``<sos/eos>`` (V - 1)   ``</s>``            CONTROL (transformers' eos token)
one character           itself              NORMAL
longer tokens           themselves          USER_DEFINED (matched as a whole)
======================  ==================  ===================================

The normaliser is the identity (no NFKC, no dummy prefix; runs of spaces collapse), so ``"i see"``
encodes to the ids of ``i <space> s e e`` as ESPnet's char tokenizer makes them. A token list of
another type (sentencepiece pieces, words) gets no tokenizer: its pieces would need the original
model's segmentation, which a character model does not do.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import List, Sequence

from espnet2_speecht5.checkpoint.atomic_files import atomic_write
from espnet2_speecht5.checkpoint.io import save_text
from espnet2_speecht5.runtime.errors import DataError

logger = logging.getLogger(__name__)

SPM_FILE = "spm_char.model"
TOKENIZER_FILES = (SPM_FILE, "tokenizer_config.json", "special_tokens_map.json")
PIECE_NAMES = {"<unk>": "<unk>", "<blank>": "<pad>", "<space>": "\u2581", "<sos/eos>": "</s>"}
SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}


def character_model(network_tokens: Sequence[str]) -> bytes:
    """The serialised sentencepiece CHAR model whose piece i is ``network_tokens[i]`` (renamed as above).

    Raises:
        DataError: a token list without ``<unk>``, ``<blank>`` and ``<sos/eos>`` at network ids 0, 1 and V - 1,
            or with a token twice.
    """
    from sentencepiece import sentencepiece_model_pb2 as pb

    tokens = list(network_tokens)
    if len(tokens) < 4 or tokens[0] != "<unk>" or tokens[1] != "<blank>" or tokens[-1] != "<sos/eos>":
        raise DataError("the network token list must start with <unk>, <blank> and end with <sos/eos>; "
                        f"got {tokens[:2]} ... {tokens[-1:]}")
    pieces = [PIECE_NAMES.get(token, token) for token in tokens]
    if len(set(pieces)) != len(pieces):
        raise DataError("a token appears twice in the token list (after naming <space> '\u2581')")
    model = pb.ModelProto()
    spec = model.trainer_spec
    spec.model_type = pb.TrainerSpec.CHAR
    spec.vocab_size = len(pieces)
    spec.unk_id, spec.pad_id, spec.eos_id, spec.bos_id = 0, 1, len(pieces) - 1, -1
    spec.unk_piece, spec.pad_piece, spec.eos_piece = "<unk>", "<pad>", "</s>"
    norm = model.normalizer_spec
    norm.name = "identity"
    norm.add_dummy_prefix = False
    norm.remove_extra_whitespaces = True
    norm.escape_whitespaces = True
    kinds = pb.ModelProto.SentencePiece
    for index, piece in enumerate(pieces):
        entry = model.pieces.add()
        entry.piece, entry.score = piece, 0.0
        if index == 0:
            entry.type = kinds.UNKNOWN
        elif index == 1 or index == len(pieces) - 1:
            entry.type = kinds.CONTROL
        else:
            entry.type = kinds.NORMAL if len(piece) == 1 else kinds.USER_DEFINED
    return model.SerializeToString()


def write_speecht5_tokenizer(network_tokens: Sequence[str], token_type: str, outdir: Path) -> List[str]:
    """Write ``spm_char.model``, ``tokenizer_config.json`` and ``special_tokens_map.json`` for a char model.

    Returns:
        the names of the files written; none (with a log line) for another token type.
    """
    if token_type != "char":
        logger.info(f"no SpeechT5Tokenizer: the token list is of type {token_type}, not char; tokens.txt maps the "
                    "network ids to tokens")
        return []
    outdir = Path(outdir)
    model = character_model(network_tokens)
    atomic_write(outdir / SPM_FILE, lambda handle: handle.write(model))
    config = {"tokenizer_class": "SpeechT5Tokenizer", "normalize": False, "model_max_length": 600,
              **SPECIAL_TOKENS}
    save_text(json.dumps(config, indent=2) + "\n", outdir / "tokenizer_config.json")
    save_text(json.dumps(SPECIAL_TOKENS, indent=2) + "\n", outdir / "special_tokens_map.json")
    return list(TOKENIZER_FILES)
