"""Stage 4: filtered copy of a dumped data directory.

Usage::

    python -m espnet2_speecht5.bin.filter_data --fs 16000 --min_duration 0.1 --max_duration 20 \\
        --filter_duration true --text_files "text text.tgt" dump/raw/org/train dump/raw/train

Drops utterances that are too short or too long (only with ``--filter_duration true``), whose
text files listed in ``--text_files`` lack them or hold only whitespace, or that are missing
from another file of the directory.  Every dropped utterance and its reason is listed in
``OUT/filter_report.txt``.
"""

from __future__ import annotations

import argparse
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_main, str2bool
from espnet2_speecht5.data.filtering import filter_data_dir, summary_line


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fs", type=int, default=16000, help="sample rate of utt2num_samples, in Hz")
    parser.add_argument("--min_duration", type=float, default=0.1, help="shortest utterance kept, in seconds")
    parser.add_argument("--max_duration", type=float, default=20.0, help="longest utterance kept, in seconds")
    parser.add_argument("--filter_duration", type=str2bool, default=True, help="apply the duration limits")
    parser.add_argument("--text_files", default="", help='text files that must be non-empty, e.g. "text text.tgt"')
    parser.add_argument("src", help="input data directory (stage 3 output)")
    parser.add_argument("dst", help="output data directory")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    result = filter_data_dir(
        args.src,
        args.dst,
        fs=args.fs,
        min_duration=args.min_duration,
        max_duration=args.max_duration,
        filter_duration=args.filter_duration,
        text_files=args.text_files.split(),
    )
    print(summary_line(args.src, args.dst, result), flush=True)


if __name__ == "__main__":
    run_main(main)
