"""Stage 11: write RESULTS.md for an experiment folder from its sclite reports.

Usage::

    python -m espnet2_speecht5.bin.make_results --exp_dir exp/asr_train_char \\
        --model_file exp/asr_train_char/valid.acc.ave.pth --config conf/train.yaml \\
        --out exp/asr_train_char/RESULTS.md --recipe_copy RESULTS.md

Reads ``EXP_DIR/<decode dir>/<test set>/score_<metric>/result.txt`` (stage 10) and writes the
environment header and one table per metric.  ``--recipe_copy`` merges the same section into
the recipe's RESULTS.md, keeping the sections of other experiments.  ``--images DIR`` lists
the plots found there (ESPnet's trainer writes loss and accuracy curves to ``EXP_DIR/images``).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.data.errors import DataError
from espnet2_speecht5.report.results_md import collect_scores, collect_tts_summaries, make_results_md, merge_into

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp_dir", required=True, help="experiment folder with decode_*/<set>/score_*/")
    parser.add_argument("--model_file", help="the model the decodes used (listed in the section)")
    parser.add_argument("--config", help="the training config (listed in the section)")
    parser.add_argument("--out", required=True, help="RESULTS.md to write")
    parser.add_argument("--recipe_copy", help="a RESULTS.md to merge this experiment's section into")
    parser.add_argument("--images", help="folder of plots to list in the section")
    parser.add_argument("--repo", default=os.environ.get("SPEECHT5_ROOT") or str(Path(__file__).resolve().parents[2]),
                        help="git repository for the commit hash [this package's repository]")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    exp_dir = Path(args.exp_dir)
    if not exp_dir.is_dir():
        raise DataError("does not exist", exp_dir)
    if not collect_scores(exp_dir) and not collect_tts_summaries(exp_dir):
        raise DataError(f"no score_*/result.txt under {exp_dir}/*/*/: run stage 10 first (--stage 10)")
    extra: List[str] = []
    if args.images and Path(args.images).is_dir():
        plots = sorted(p for p in Path(args.images).rglob("*.png"))
        if plots:
            extra.append(f"- plots: {len(plots)} in `{args.images}` (" + ", ".join(p.stem for p in plots[:8])
                         + (", ..." if len(plots) > 8 else "") + ")")
    text = make_results_md(exp_dir, args.repo, args.model_file, args.config, extra)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    logger.info(f"wrote {args.out}")
    if args.recipe_copy:
        copy = Path(args.recipe_copy)
        existing = copy.read_text(encoding="utf-8") if copy.is_file() else ""
        copy.write_text(merge_into(existing, text), encoding="utf-8")
        logger.info(f"merged the section of {exp_dir} into {copy}")
    print(text, end="")


if __name__ == "__main__":
    run_main(main)
