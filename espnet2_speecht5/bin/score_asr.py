"""Score ASR hypotheses with sclite: WER, CER and (for a bpe model) the token error rate.

    python -m espnet2_speecht5.bin.score_asr --ref dump/raw/test/text --hyp DECODE/test/text \\
        --utt2spk dump/raw/test/utt2spk --metrics "wer cer" --outdir DECODE/test

Each metric's trn files and sclite report go to ``OUTDIR/score_<metric>/``, with one summary line
per metric on stderr. Stage 10 runs the same scoring and also writes ``scores.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.recipes.text_scoring import sclite_scores
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.scoring.sclite import METRICS


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", required=True, help="reference Kaldi text file")
    parser.add_argument("--hyp", required=True, help="hypothesis Kaldi text file (e.g. 1best_recog/text)")
    parser.add_argument("--utt2spk", help="utt2spk of the test set, for sclite's per-speaker table")
    parser.add_argument("--metrics", default="wer cer", help="space-separated subset of: wer cer ter")
    parser.add_argument("--token_type", default="char", choices=("char", "bpe", "word"), help="the model's units")
    parser.add_argument("--bpemodel", help="sentencepiece model, for the token error rate of a bpe model")
    parser.add_argument("--outdir", required=True, help="folder for score_<metric>/")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    metrics = args.metrics.split()
    for metric in metrics:
        if metric not in METRICS:
            raise DataError(f"unknown metric '{metric}' in --metrics (choose from {', '.join(METRICS)})")
    if "ter" in metrics and not args.bpemodel:
        raise DataError("--metrics ter needs --bpemodel (the TER of a char or word model is its CER or WER)")
    sclite_scores(Path(args.ref), Path(args.hyp), Path(args.outdir), metrics, args.token_type, args.bpemodel,
                  Path(args.utt2spk) if args.utt2spk else None)


if __name__ == "__main__":
    run_main(main)
