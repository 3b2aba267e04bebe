#!/usr/bin/env python3
"""Copy a data directory, optionally prefixing utterance and speaker ids.

Usage:
    copy_data_dir.py [--utt_prefix P] [--spk_prefix P] SRC DST

The utterance prefix goes on the ids of every per-utterance file (and so on the utterances in
spk2utt); the speaker prefix on the values of utt2spk and the ids of spk2utt.  Target speakers
(utt2spk_tgt) keep their ids.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from espnet2_speecht5.data.datadir_ops import copy_data_dir  # noqa: E402
from espnet2_speecht5.runtime.cli import run_cli  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utt_prefix", default="", help="prefix for utterance ids")
    parser.add_argument("--spk_prefix", default="", help="prefix for speaker ids")
    parser.add_argument("src")
    parser.add_argument("dst")
    args = parser.parse_args(argv)
    count = copy_data_dir(args.src, args.dst, args.utt_prefix, args.spk_prefix)
    print(f"copy_data_dir.py: {args.src} -> {args.dst}: {count} utterances")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
