#!/usr/bin/env python3
"""Check a data directory against docs/data_format.md for one task.

Usage:
    validate_data_dir.py --task {asr,tts,st,vc,se,sid,pretrain} [--check_audio] DIR

Checks that the task's required files exist; that every file is UTF-8, sorted in byte order,
with unique ids and no empty value; that all per-utterance files list the same utterances; and
that utt2spk and spk2utt agree.  With a Kaldi segments file, wav.scp lists recordings and each
segment is checked (times, recording, inside the recording: docs/data_format.md).
--check_audio also decodes every entry of wav.scp and of the second recording (wav_tgt.scp or
wav_clean.scp) and reports (without failing) how many are not 16 kHz or not mono.  The first
defect is printed as one line, ``ERROR: <file>:<line>: utterance '<id>': <problem>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from espnet2_speecht5.data.validate import validate_data_dir  # noqa: E402
from espnet2_speecht5.recipes import TASKS, get_recipe  # noqa: E402
from espnet2_speecht5.runtime.cli import run_cli  # noqa: E402
from espnet2_speecht5.runtime.errors import DataError  # noqa: E402

PROG = "validate_data_dir.py"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", required=True, help=f"one of: {', '.join(TASKS)}")
    parser.add_argument("--check_audio", action="store_true", help="decode every audio entry")
    parser.add_argument("data_dir", help="the data directory")
    args = parser.parse_args(argv)
    if args.task not in TASKS:
        raise DataError(f"{PROG}: unknown task '{args.task}' (choose one of: {', '.join(TASKS)})")
    report = validate_data_dir(args.data_dir, args.task, get_recipe(args.task).required_files,
                               check_audio=args.check_audio)
    print(report.summary(PROG))
    if args.check_audio:
        print(report.audio_summary(PROG))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
