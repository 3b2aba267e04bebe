"""Stage 10: score ASR hypotheses with sclite (WER, CER and token error rate).

Usage::

    python -m espnet2_speecht5.bin.score_asr --ref dump/raw/test/text --hyp DECODE/test/text \\
        --utt2spk dump/raw/test/utt2spk --metrics "wer cer ter" --token_type bpe \\
        --bpemodel data/token_list/bpe_unigram100/bpe.model --outdir DECODE/test

For each metric, ``OUTDIR/score_<metric>/`` receives ``ref.trn``, ``hyp.trn`` and sclite's
report ``result.txt``; the summaries also go to ``OUTDIR/scores.json`` and one line per metric
to stderr.  ``ter`` is computed for ``--token_type bpe`` only (for char and word models it would
repeat the CER or the WER).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.data.errors import DataError
from espnet2_speecht5.scoring.sclite import METRICS, read_text, score, summaries_as_dict, summary_line

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", required=True, help="reference Kaldi text file")
    parser.add_argument("--hyp", required=True, help="hypothesis Kaldi text file (e.g. 1best_recog/text)")
    parser.add_argument("--utt2spk", help="utt2spk of the test set, for sclite's per-speaker table")
    parser.add_argument("--metrics", default="wer cer ter", help="space-separated subset of: wer cer ter")
    parser.add_argument("--token_type", default="char", choices=("char", "bpe", "word"), help="the model's units")
    parser.add_argument("--bpemodel", help="sentencepiece model, for the token error rate of a bpe model")
    parser.add_argument("--outdir", required=True, help="folder for score_<metric>/ and scores.json")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    metrics = args.metrics.split()
    for metric in metrics:
        if metric not in METRICS:
            raise DataError(f"unknown metric '{metric}' in --metrics (choose from {', '.join(METRICS)})")
    if args.token_type != "bpe" and "ter" in metrics:
        # The units of a char (word) model are the characters (words): the TER would repeat the CER (WER).
        logger.info(f"no token error rate for --token_type {args.token_type}: it equals the "
                    f"{'CER' if args.token_type == 'char' else 'WER'}")
        metrics.remove("ter")
    ref = read_text(args.ref)
    if not ref:
        raise DataError("has no utterance to score", args.ref)
    hyp = read_text(args.hyp)
    missing = sorted(set(ref) - set(hyp))
    if missing:
        logger.warning(f"{len(missing)} of {len(ref)} utterances have no hypothesis (scored as empty), "
                       f"e.g. '{missing[0]}'")
    utt2spk = read_text(args.utt2spk) if args.utt2spk else None
    outdir = Path(args.outdir)
    results = []
    for metric in metrics:
        result = score(ref, hyp, outdir / f"score_{metric}", metric, args.token_type, args.bpemodel, utt2spk)
        results.append((metric, result))
        logger.info(f"{outdir}: {summary_line(metric, result)}; report: {outdir / f'score_{metric}' / 'result.txt'}")
    (outdir / "scores.json").write_text(json.dumps(summaries_as_dict(results), indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    run_main(main)
