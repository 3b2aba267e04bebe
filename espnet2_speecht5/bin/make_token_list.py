"""Stage 5: ESPnet token lists.

Usage::

    python -m espnet2_speecht5.bin.make_token_list --token_type char --text_file dump/raw/train/text \\
        --outdir data/token_list/char
    python -m espnet2_speecht5.bin.make_token_list --token_type unigram --nbpe 100 \\
        --text_file dump/raw/train/text --outdir data/token_list/bpe_unigram100
    python -m espnet2_speecht5.bin.make_token_list --token_type spk --utt2spk dump/raw/train/utt2spk \\
        --outdir data/token_list/spk

Writes ``OUTDIR/tokens.txt`` (``<blank>``, ``<unk>``, the tokens, ``<sos/eos>``; for ``spk`` the
tokens are the sorted speakers) and, for ``unigram``/``bpe``, the sentencepiece model ``OUTDIR/bpe.model``.
"""

from __future__ import annotations

import argparse
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.text.token_list import TOKEN_TYPES, make_speaker_list, make_token_list


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--token_type", required=True, choices=TOKEN_TYPES, help="kind of token list")
    parser.add_argument("--nbpe", default="0", help="vocabulary size for unigram and bpe (ignored otherwise)")
    parser.add_argument("--text_file", help="Kaldi text file (utterance id, then the transcript)")
    parser.add_argument("--utt2spk", help="utt2spk file, for --token_type spk")
    parser.add_argument("--outdir", required=True, help="folder for tokens.txt (and bpe.model)")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    if args.token_type == "spk":
        if not args.utt2spk:
            raise DataError("--token_type spk needs --utt2spk")
        make_speaker_list(args.utt2spk, args.outdir)
        return
    if not args.text_file:
        raise DataError(f"--token_type {args.token_type} needs --text_file")
    nbpe = 0
    if args.token_type in ("unigram", "bpe"):
        try:
            nbpe = int(args.nbpe)
        except ValueError:
            raise DataError(f"--nbpe must be an integer, not '{args.nbpe}'") from None
    make_token_list(args.token_type, args.text_file, args.outdir, nbpe=nbpe)


if __name__ == "__main__":
    run_main(main)
