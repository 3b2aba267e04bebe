"""Stage 3: dump audio to mono FLAC at one sample rate.

Usage::

    # one job of a split scp (JOB already substituted by the job runner); run again to resume
    python -m espnet2_speecht5.bin.dump_audio convert --fs 16000 \\
        --in_scp dump/raw/org/train/split4/wav.1.scp --outdir dump/raw/org/train/jobs/wav/1

    # a segmented data dir: the job's split of `segments`, cut out of the recordings of wav.scp
    python -m espnet2_speecht5.bin.dump_audio convert --fs 16000 --recordings data/train/wav.scp \\
        --in_scp dump/raw/org/train/split4/segments.1 --outdir dump/raw/org/train/jobs/wav/1

    # gather jobs/wav/1..N (and jobs/wav_tgt/1..N) into the dump directory
    python -m espnet2_speecht5.bin.dump_audio merge --fs 16000 --skip_bad_audio false \\
        --src data/train --jobs_dir dump/raw/org/train/jobs --nj 4 --outdir dump/raw/org/train

``convert`` writes ``data/<utt>.flac``, ``wav.scp``, ``utt2num_samples``, ``bad_audio.txt``,
``stats.json`` and ``done.jsonl`` in its ``--outdir``.  ``merge`` writes the dump directory,
``dump_report.txt`` and ``bad_audio.txt``; with ``--skip_bad_audio false`` it stops on the
first unreadable file, with ``true`` it drops those utterances from every file.
"""

from __future__ import annotations

import argparse
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_main, str2bool
from espnet2_speecht5.data.dump import convert_scp, merge_jobs
from espnet2_speecht5.runtime.errors import DataError


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    convert = sub.add_parser("convert", help="convert the entries of one scp (one job)")
    convert.add_argument("--fs", type=int, default=16000, help="target sample rate in Hz")
    convert.add_argument("--in_scp", required=True, help="scp file of this job")
    convert.add_argument("--outdir", required=True, help="job output folder")
    convert.add_argument(
        "--recordings",
        default=None,
        help="wav.scp of a segmented data dir: --in_scp is then a split of its segments file",
    )
    convert.add_argument(
        "--progress", type=str2bool, default=None, help="show a progress bar (default: when stderr is a terminal)"
    )
    merge = sub.add_parser("merge", help="merge the job outputs into a dump directory")
    merge.add_argument("--fs", type=int, default=16000, help="target sample rate in Hz (must match the jobs)")
    merge.add_argument(
        "--skip_bad_audio", type=str2bool, default=False, help="drop unreadable audio instead of stopping"
    )
    merge.add_argument("--src", required=True, help="source data directory")
    merge.add_argument("--jobs_dir", required=True, help="folder with <scp name>/<job>/ outputs")
    merge.add_argument("--nj", type=int, required=True, help="number of jobs")
    merge.add_argument("--outdir", required=True, help="dump directory to write")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    if args.fs <= 0:
        raise DataError(f"--fs must be a positive sample rate, not {args.fs}")
    if args.command == "convert":
        convert_scp(args.in_scp, args.outdir, args.fs, progress=args.progress, recordings=args.recordings)
    else:
        merge_jobs(args.src, args.jobs_dir, args.nj, args.outdir, args.fs, skip_bad_audio=args.skip_bad_audio)


if __name__ == "__main__":
    run_main(main)
