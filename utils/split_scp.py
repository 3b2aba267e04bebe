#!/usr/bin/env python3
"""Split an scp file into N contiguous parts, keeping the line order.

Usage:
    split_scp.py --num_splits N --out_pattern dir/split/wav.JOB.scp [--utt2spk FILE] in.scp
    split_scp.py [--utt2spk FILE] in.scp out1.scp out2.scp ...

JOB in the pattern becomes 1..N.  Part sizes differ by at most one line; with --utt2spk no
speaker is cut between two parts.  Fewer lines (or speakers) than N is an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from espnet2_speecht5.data.scp_tools import pattern_outputs, split_scp  # noqa: E402
from espnet2_speecht5.runtime.cli import run_cli  # noqa: E402
from espnet2_speecht5.runtime.errors import DataError  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_splits", type=int, help="number of parts (with --out_pattern)")
    parser.add_argument("--out_pattern", help="output path with JOB for the part number")
    parser.add_argument("--utt2spk", help="keep each speaker's utterances in one part")
    parser.add_argument("scp", help="input scp file")
    parser.add_argument("outputs", nargs="*", help="output files (instead of --out_pattern)")
    args = parser.parse_args(argv)
    if args.out_pattern is not None:
        if args.outputs:
            raise DataError("split_scp.py: give either --out_pattern or output files, not both")
        if args.num_splits is None or args.num_splits < 1:
            raise DataError("split_scp.py: --out_pattern needs --num_splits N with N >= 1")
        outputs = pattern_outputs(args.out_pattern, args.num_splits)
    else:
        if not args.outputs:
            raise DataError("split_scp.py: give --num_splits N --out_pattern PATTERN, or output files")
        if args.num_splits is not None and args.num_splits != len(args.outputs):
            raise DataError(f"split_scp.py: --num_splits {args.num_splits} but {len(args.outputs)} output files")
        outputs = args.outputs
    split_scp(args.scp, outputs, args.utt2spk)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
