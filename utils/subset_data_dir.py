#!/usr/bin/env python3
"""Copy part of a data directory.

Usage:
    subset_data_dir.py (--first N | --last N | --utt_list FILE | --spk_list FILE | --random N [--seed S]) SRC DST

--first/--last take the first/last N utterances in id order; --utt_list and --spk_list keep
the utterances (or speakers) in the first column of FILE, each of which must exist in SRC;
--random takes N utterances chosen with seed S (default 0).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from espnet2_speecht5.data.datadir_ops import subset_data_dir  # noqa: E402
from espnet2_speecht5.runtime.cli import run_cli  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--first", type=int, help="the first N utterances")
    group.add_argument("--last", type=int, help="the last N utterances")
    group.add_argument("--utt_list", help="file listing the utterances to keep")
    group.add_argument("--spk_list", help="file listing the speakers to keep")
    group.add_argument("--random", type=int, dest="random_n", help="N utterances chosen at random")
    parser.add_argument("--seed", type=int, default=0, help="random seed for --random (default 0)")
    parser.add_argument("src")
    parser.add_argument("dst")
    args = parser.parse_args(argv)
    count = subset_data_dir(
        args.src,
        args.dst,
        first=args.first,
        last=args.last,
        utt_list=args.utt_list,
        spk_list=args.spk_list,
        random_n=args.random_n,
        seed=args.seed,
    )
    print(f"subset_data_dir.py: {args.src} -> {args.dst}: {count} utterances")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
