"""Stage 2: speed perturbation of a training data directory.

Usage::

    python -m espnet2_speecht5.bin.speed_perturb --factors "0.9 1.0 1.1" data/train data/train_sp

Utterance and speaker ids of factor ``f != 1`` get the prefix ``sp<f>-``; factor 1 keeps the
original ids (as ESPnet does).  ``wav.scp`` and ``wav_tgt.scp`` entries become ``sox`` pipes.
"""

from __future__ import annotations

import argparse
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.data.perturb import parse_factors, speed_perturb_dir


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--factors", required=True, help='speed factors, e.g. "0.9 1.0 1.1"')
    parser.add_argument("src", help="input data directory")
    parser.add_argument("dst", help="output data directory")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    speed_perturb_dir(args.src, args.dst, parse_factors(args.factors))


if __name__ == "__main__":
    run_main(main)
