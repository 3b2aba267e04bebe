#!/usr/bin/env python3
"""Turn utt2spk into spk2utt.

Usage:
    utt2spk_to_spk2utt.py [utt2spk|-] [spk2utt|-]

Reads stdin and writes stdout when a file is missing or '-'.  Speakers and their utterances
come out in byte order.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from espnet2_speecht5.data.datadir_ops import format_spk2utt  # noqa: E402
from espnet2_speecht5.data.kaldi_dir import atomic_write_text, read_map  # noqa: E402
from espnet2_speecht5.runtime.cli import run_cli  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", nargs="?", default="-")
    parser.add_argument("output", nargs="?", default="-")
    args = parser.parse_args(argv)
    text = format_spk2utt(read_map("/dev/stdin" if args.input == "-" else args.input))
    if args.output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        atomic_write_text(args.output, text)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
