"""RESULTS.md of an experiment folder from its stage-10 ``<decode dir>/<set>/scores.json`` files.

    python -m espnet2_speecht5.bin.make_results --exp_dir exp/asr_train_char \\
        --model_file exp/asr_train_char/valid.acc.ave.pth --config exp/asr_train_char/config.yaml \\
        --out exp/asr_train_char/RESULTS.md --recipe_copy RESULTS.md

The tables are the task's (named in scores.json); stage 11 of speecht5.sh writes the same file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.recipes.steps import results_text, write_results


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp_dir", required=True, help="experiment folder with <decode dir>/<set>/scores.json")
    parser.add_argument("--model_file", help="the model the decodes used (listed in the section)")
    parser.add_argument("--config", help="the training config (listed in the section)")
    parser.add_argument("--out", required=True, help="RESULTS.md to write")
    parser.add_argument("--recipe_copy", help="a RESULTS.md to merge this experiment's section into")
    parser.add_argument("--images", default="", help="folder of plots to list in the section")
    parser.add_argument("--repo", help="git repository for the commit hash [$SPEECHT5_ROOT, else this package's]")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    text = results_text(Path(args.exp_dir), args.model_file, args.config, args.images, args.repo)
    write_results(text, Path(args.out), Path(args.recipe_copy) if args.recipe_copy else None)
    print(text, end="")


if __name__ == "__main__":
    run_main(main)
