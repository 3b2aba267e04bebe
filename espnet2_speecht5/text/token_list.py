"""Stage 5: token lists in ESPnet's format.

``tokens.txt`` holds one token per line; the line number (from 0) is the token id.  The
layout matches what ``espnet2.text.token_id_converter.TokenIDConverter`` expects:

    <blank>       id 0 (CTC blank)
    <unk>         id 1
    ...           the tokens
    <sos/eos>     last

* ``char``: every character of the transcripts, a space written as ``<space>`` (as
  ``espnet2.text.char_tokenizer.CharTokenizer`` splits text);
* ``word``: whitespace-separated words;
* both sorted by count (most frequent first), ties by the token (code point order);
* ``unigram`` / ``bpe``: a sentencepiece model ``bpe.model`` is trained on the transcripts,
  and the tokens are its pieces in the model's id order, without its ``<unk>`` and control
  pieces (``<s>``, ``</s>``), which ESPnet's own symbols replace;
* ``spk``: the sorted speaker ids of an ``utt2spk`` (no special symbols), for speaker
  identification.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

from espnet2_speecht5.data.kaldi_dir import atomic_write_text, iter_lines
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger(__name__)

BLANK = "<blank>"
UNK = "<unk>"
SOS_EOS = "<sos/eos>"
SPACE = "<space>"
SPECIAL_TOKENS = (BLANK, UNK, SOS_EOS)
TEXT_TOKEN_TYPES = ("char", "word", "unigram", "bpe")
TOKEN_TYPES = (*TEXT_TOKEN_TYPES, "spk")


def read_transcripts(text_file: PathLike) -> List[str]:
    """The transcripts of a Kaldi ``text`` file (first column = utterance id), empty ones left out.

    Raises:
        DataError: the file is missing, not UTF-8, or has no non-empty transcript.
    """
    lines = [value for _, _, value in iter_lines(text_file) if value.strip()]
    if not lines:
        raise DataError("has no transcript to make a token list from (the file is empty)", text_file)
    return lines


def count_tokens(transcripts: List[str], token_type: str) -> Counter:
    """Count ``char`` or ``word`` tokens (a space in ``char`` mode counts as ``<space>``)."""
    counts: Counter = Counter()
    for line in transcripts:
        if token_type == "char":
            counts.update(SPACE if ch == " " else ch for ch in line)
        elif token_type == "word":
            counts.update(line.split())
        else:
            raise ValueError(f"count_tokens handles char and word, not {token_type}")
    return counts


def frequency_order(counts: Counter) -> List[str]:
    """Tokens by count, most frequent first; ties by the token; special symbols left out."""
    return [tok for tok, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if tok not in SPECIAL_TOKENS]


def with_special_tokens(tokens: List[str]) -> List[str]:
    """``[<blank>, <unk>, *tokens, <sos/eos>]``."""
    return [BLANK, UNK, *[t for t in tokens if t not in SPECIAL_TOKENS], SOS_EOS]


def write_token_list(path: PathLike, tokens: List[str]) -> None:
    """One token per line, atomically."""
    atomic_write_text(path, "".join(f"{t}\n" for t in tokens))


def train_sentencepiece(
    transcripts: List[str], model_type: str, vocab_size: int, model_prefix: Path, text_file: PathLike
) -> Path:
    """Train a sentencepiece model deterministically (one thread, no shuffling, fixed seed).

    Returns:
        the path of ``<model_prefix>.model``.

    Raises:
        DataError: the vocabulary size does not fit the text (too small or too large).
    """
    import sentencepiece as spm

    model_prefix.parent.mkdir(parents=True, exist_ok=True)
    fd, train_txt = tempfile.mkstemp(dir=model_prefix.parent, prefix=".train.", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(f"{line}\n" for line in transcripts)
        spm.set_random_generator_seed(1)
        try:
            spm.SentencePieceTrainer.train(
                input=train_txt,
                model_prefix=str(model_prefix),
                model_type=model_type,
                vocab_size=vocab_size,
                character_coverage=1.0,
                input_sentence_size=100_000_000,
                shuffle_input_sentence=False,
                num_threads=1,
                minloglevel=1,
            )
        except RuntimeError as err:
            detail = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
            option = "--tgt_nbpe" if Path(text_file).name == "text.tgt" else "--nbpe"  # st's target list
            raise DataError(
                f"cannot train a {model_type} model of {vocab_size} pieces on this text: {detail} (change {option})",
                text_file,
            ) from None
    finally:
        if os.path.exists(train_txt):
            os.unlink(train_txt)
    vocab = model_prefix.with_suffix(".vocab")
    if vocab.exists():
        vocab.unlink()
    return model_prefix.with_suffix(".model")


def sentencepiece_tokens(model: PathLike) -> List[str]:
    """The pieces of a model in id order, without ``<unk>`` and control pieces."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model))
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if not (sp.is_unknown(i) or sp.is_control(i))]


def make_token_list(token_type: str, text_file: PathLike, outdir: PathLike, nbpe: int = 0) -> Dict[str, object]:
    """Write ``outdir/tokens.txt`` (and ``outdir/bpe.model`` for unigram/bpe) from a ``text`` file.

    Returns:
        ``{"tokens": path, "size": number of lines, "model": path or None}``.
    """
    if token_type not in TEXT_TOKEN_TYPES:
        raise DataError(f"unknown token type '{token_type}' (one of {' '.join(TEXT_TOKEN_TYPES)})")
    outdir = Path(outdir)
    transcripts = read_transcripts(text_file)
    model = None
    if token_type in ("char", "word"):
        tokens = frequency_order(count_tokens(transcripts, token_type))
    else:
        if nbpe <= 0:
            raise DataError(f"--nbpe must be a positive vocabulary size for token type {token_type}, not {nbpe}")
        model = train_sentencepiece(transcripts, token_type, nbpe, outdir / "bpe", text_file)
        tokens = sentencepiece_tokens(model)
    tokens = with_special_tokens(tokens)
    write_token_list(outdir / "tokens.txt", tokens)
    what = f"{token_type} tokens of {len(transcripts)} transcripts in {text_file}"
    logger.info("wrote %s: %d entries (%s)", outdir / "tokens.txt", len(tokens), what)
    if model is not None:
        logger.info("wrote %s: sentencepiece %s model, vocab_size %d", model, token_type, nbpe)
    return {"tokens": outdir / "tokens.txt", "size": len(tokens), "model": model}


def make_speaker_list(utt2spk: PathLike, outdir: PathLike) -> Tuple[Path, int]:
    """Write ``<blank>``, ``<unk>``, the sorted (byte order) distinct speakers of ``utt2spk`` and ``<sos/eos>``
    to ``outdir/tokens.txt`` (ESPnet's layout, so that its preprocessor maps a speaker to its id).

    Returns:
        the path and the number of speakers.
    """
    speakers = set()
    for number, utt, spk in iter_lines(utt2spk):
        if not spk:
            raise DataError("no speaker on the line", utt2spk, number, utt)
        speakers.add(spk)
    if not speakers:
        raise DataError("has no speaker (the file is empty)", utt2spk)
    path = Path(outdir) / "tokens.txt"
    ordered = sorted(speakers, key=lambda s: s.encode("utf-8"))
    write_token_list(path, with_special_tokens(ordered))
    logger.info("wrote %s: %d speakers of %s", path, len(ordered), utt2spk)
    return path, len(ordered)
