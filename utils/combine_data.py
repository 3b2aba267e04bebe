#!/usr/bin/env python3
"""Combine data directories into one.

Usage:
    combine_data.py OUT IN1 IN2 ...

Files that every input has are merged and sorted; spk2utt is rewritten.  A file that only
some inputs have is left out (and named).  An utterance id found in two inputs is an error
that names both.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from espnet2_speecht5.data.datadir_ops import combine_data  # noqa: E402
from espnet2_speecht5.runtime.cli import run_cli  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("inputs", nargs="+")
    args = parser.parse_args(argv)
    written, left_out, count = combine_data(args.out_dir, args.inputs)
    print(
        f"combine_data.py: {args.out_dir}: {count} utterances from {len(args.inputs)} directories; "
        f"files: {' '.join(written)}"
    )
    if left_out:
        print(f"combine_data.py: left out (not in every input): {' '.join(left_out)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
