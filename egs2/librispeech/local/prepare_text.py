#!/usr/bin/env python3
"""Write the text corpora of LibriSpeech pre-training as Kaldi ``text`` files (``id sentence``).

* ``lm``: the normalised LibriSpeech LM corpus (``librispeech-lm-norm.txt`` or ``.txt.gz``, one
  upper-case sentence a line, as the transcripts): ids ``lm<line number>``; ``--max_sentences``
  keeps the first N; empty lines are left out.
* ``transcripts``: the ``text`` files of data directories (for the held-out text of dev and test,
  or when the LM corpus is not at hand); ids are the utterance ids.

Examples::

    python local/prepare_text.py lm --src librispeech-lm-norm.txt.gz --out data/train_960_text/text
    python local/prepare_text.py transcripts --src data/dev_clean/text --out data/dev_clean_text/text
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, TextIO

from espnet2_speecht5.data.kaldi_dir import iter_lines
from espnet2_speecht5.runtime.errors import DataError


def open_text(path: Path) -> TextIO:
    if not path.is_file():
        raise DataError("does not exist (the LibriSpeech LM corpus, see db.sh)", path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def lm_lines(path: Path, limit: Optional[int]) -> Iterator[str]:
    width = 9  # 40M sentences
    kept = 0
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            sentence = " ".join(line.split())
            if not sentence:
                continue
            yield f"lm{number:0{width}d} {sentence}\n"
            kept += 1
            if limit is not None and kept >= limit:
                return


def transcript_lines(paths: List[Path]) -> Iterator[str]:
    for path in paths:
        for _, utt, sentence in iter_lines(path):
            if sentence.strip():
                yield f"{utt} {' '.join(sentence.split())}\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", choices=("lm", "transcripts"))
    parser.add_argument("--src", nargs="+", required=True, type=Path, help="the LM corpus, or text files")
    parser.add_argument("--out", required=True, type=Path, help="the text file to write")
    parser.add_argument("--max_sentences", type=int, default=None, help="lm: keep the first N sentences")
    args = parser.parse_args(argv)
    try:
        lines = lm_lines(args.src[0], args.max_sentences) if args.source == "lm" else transcript_lines(args.src)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(f".{args.out.name}.tmp")
        count = 0
        with tmp.open("w", encoding="utf-8") as out:
            for line in lines:
                out.write(line)
                count += 1
        if count == 0:
            raise DataError("no sentence found", args.src[0])
        tmp.replace(args.out)
    except DataError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    print(f"{args.out}: {count} sentences", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
