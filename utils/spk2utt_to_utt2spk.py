#!/usr/bin/env python3
"""Turn spk2utt into utt2spk.

Usage:
    spk2utt_to_utt2spk.py [spk2utt|-] [utt2spk|-]

Reads stdin and writes stdout when a file is missing or '-'.  Utterances come out in byte
order; an utterance under two speakers is an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from espnet2_speecht5.data.datadir_ops import spk2utt_from_lines, spk2utt_to_utt2spk  # noqa: E402
from espnet2_speecht5.data.kaldi_dir import atomic_write_text  # noqa: E402
from espnet2_speecht5.runtime.cli import run_cli  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", nargs="?", default="-")
    parser.add_argument("output", nargs="?", default="-")
    args = parser.parse_args(argv)
    source = "/dev/stdin" if args.input == "-" else args.input
    utt2spk = spk2utt_to_utt2spk(spk2utt_from_lines(source), source)
    text = "".join(f"{utt} {spk}\n" for utt, spk in utt2spk.items())
    if args.output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        atomic_write_text(args.output, text)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
