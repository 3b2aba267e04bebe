#!/usr/bin/env python3
"""Sort a data directory and drop the utterances that some file lacks or leaves empty.

Usage:
    fix_data_dir.py [--task TASK] DIR

Every per-utterance file is sorted in byte order and restricted to the utterances present,
with a value, in all of them; spk2utt is rewritten from utt2spk.  The original files are
kept in DIR/.backup/, and DIR/.backup/removed.txt lists each removed utterance and why.
The task (default: guessed from the files present) decides which files must exist.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from espnet2_speecht5.data.datadir_ops import detect_task, fix_data_dir  # noqa: E402
from espnet2_speecht5.recipes import TASKS, get_recipe  # noqa: E402
from espnet2_speecht5.runtime.cli import run_cli  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=TASKS, help="task whose required files must exist (default: guessed)")
    parser.add_argument("data_dir")
    args = parser.parse_args(argv)
    task = args.task or detect_task(args.data_dir)
    report = fix_data_dir(args.data_dir, task, get_recipe(task).required_files)
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
