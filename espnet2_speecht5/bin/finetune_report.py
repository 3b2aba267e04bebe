"""Report of a pre-trained-versus-scratch comparison (``utils/finetune_compare.sh``).

Usage::

    python -m espnet2_speecht5.bin.finetune_report --runs_dir exp/finetune_compare/runs \\
        --out exp/finetune_compare/RESULTS.md --plot exp/finetune_compare/valid_acc.png

Reads ``<runs_dir>/<init>_seed<N>/asr_<init>_seed<N>/`` (``scores.json`` of the test set and
``train.log``), writes the Markdown report (one row per run, mean ± s.d. per initialisation,
the CER reduction per seed) and prints it; ``--plot`` draws the validation accuracy curves.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Dict, List, Optional

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.report.finetune_compare import collect_runs, comparison_markdown, plot_valid_accuracy

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs_dir", required=True, type=Path, help="folder of <init>_seed<N> run folders")
    parser.add_argument("--test_set", default="test", help="the scored set")
    parser.add_argument("--decode_dir", default="decode_valid.acc.best", help="decode folder in each experiment")
    parser.add_argument("--out", required=True, type=Path, help="Markdown report to write")
    parser.add_argument("--plot", type=Path, help="PNG of the validation accuracy curves")
    parser.add_argument("--pretrained_model", help="listed in the report")
    parser.add_argument("--train_config", help="listed in the report")
    parser.add_argument("--train_set", help="the labelled data folder, listed with its size")
    return parser


def settings_of(args: argparse.Namespace) -> Dict[str, str]:
    settings: Dict[str, str] = {}
    if args.pretrained_model:
        settings["pre-trained model"] = f"`{args.pretrained_model}`"
    if args.train_config:
        settings["fine-tuning config (both initialisations)"] = f"`{args.train_config}`"
    if args.train_set:
        text = Path(args.train_set) / "text"
        count = sum(1 for _ in text.open(encoding="utf-8")) if text.is_file() else "?"
        settings["labelled training set"] = f"`{args.train_set}` ({count} utterances)"
    settings["scored set"] = f"`{args.test_set}` with the `{args.decode_dir}` decodes"
    return settings


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    results = collect_runs(args.runs_dir, args.decode_dir, args.test_set)
    text = comparison_markdown(results, settings_of(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    logger.info(f"wrote {args.out} ({len(results)} runs)")
    if args.plot:
        plot_valid_accuracy(results, args.plot)
        logger.info(f"wrote {args.plot}")
    print(text, end="")


if __name__ == "__main__":
    run_main(main)
