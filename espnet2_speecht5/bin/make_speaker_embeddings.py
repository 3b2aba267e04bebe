"""Stage 6 (tts): speaker embeddings (spembs) for every utterance of the training and evaluation sets.

Usage::

    python -m espnet2_speecht5.bin.make_speaker_embeddings --source espnet_spk \\
        --train_dir dump/raw/train --eval_dirs "dump/raw/dev dump/raw/test" \\
        --outdir dump/xvector --spk_config conf/train_spk.yaml --spk_exp exp/spk_train_spk

Sources:
  files       --files PATH: a Kaldi xvector.scp or .ark, or a folder of <utt>.npy files; every
              utterance of every set must have a finite vector of --dim values.
  espnet_spk  an ESPnet speaker model (spk task): --spk_model (experiment folder, .pth beside its
              config.yaml, or a zip from espnet2.bin.pack spk), or, without it, one trained here on
              the training set's speakers with --spk_config into --spk_exp.
  lookup      a fixed pseudo-random unit vector per training speaker (hash of the speaker id);
              a speaker of an evaluation set that is not in the training set is an error.

Writes <outdir>/<set>/xvector.scp (per utterance) and spk_xvector.scp (per speaker) with their
arks, <outdir>/README.txt, and for files / espnet_spk <outdir>/eer.txt: the equal error rate of
cosine trials between all pairs of evaluation-set utterances (a random sample beyond
--max_trials pairs).  With --average_per_speaker true every utterance gets its speaker's mean
over the training set; utterances of a speaker unseen in training keep their own embedding.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_main, str2bool
from espnet2_speecht5.speaker.eer import DEFAULT_MAX_TRIALS
from espnet2_speecht5.speaker.pipeline import SOURCES, Request, make_speaker_embeddings


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, choices=SOURCES, help="where the embeddings come from")
    parser.add_argument("--outdir", required=True, type=Path, help="output folder (one subfolder per set)")
    parser.add_argument("--train_dir", required=True, type=Path, help="the training set's data directory")
    parser.add_argument("--eval_dirs", default="", help='other data directories, space separated: "dump/raw/dev ..."')
    parser.add_argument("--average_per_speaker", type=str2bool, default=False,
                        help="give every utterance its speaker's mean over the training set")  # fmt: skip
    parser.add_argument("--dim", type=int, default=512, help="embedding size")
    parser.add_argument("--nj", type=int, default=1, help="parallel jobs for embedding extraction (espnet_spk)")
    parser.add_argument("--files", type=Path, help="files: Kaldi scp or ark, or a folder of <utt>.npy")
    parser.add_argument("--spk_model", type=Path, help="espnet_spk: a trained model (folder, .pth or packed zip)")
    parser.add_argument("--spk_config", type=Path, default=Path("conf/train_spk.yaml"),
                        help="espnet_spk without --spk_model: training config [conf/train_spk.yaml]")  # fmt: skip
    parser.add_argument(
        "--spk_exp", type=Path, help="espnet_spk without --spk_model: experiment folder [<outdir>/spk_exp]"
    )
    parser.add_argument("--spk_args", default="", help="espnet_spk: extra options for espnet2.bin.spk_train")
    parser.add_argument("--max_trials", type=int, default=DEFAULT_MAX_TRIALS,
                        help="most utterance pairs scored for the EER (a seeded random sample beyond)")  # fmt: skip
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    parser = get_parser()
    argv_list = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv_list)
    if args.source == "files" and args.files is None:
        parser.error("--source files needs --files PATH")
    if args.source != "files" and args.files is not None:
        parser.error(f"--files is only read with --source files, not {args.source}")
    if args.source != "espnet_spk" and args.spk_model is not None:
        parser.error(f"--spk_model is only read with --source espnet_spk, not {args.source}")
    if args.dim < 1 or args.nj < 1 or args.max_trials < 1:
        parser.error("--dim, --nj and --max_trials must be positive")
    request = Request(
        source=args.source,
        outdir=args.outdir,
        train_dir=args.train_dir,
        eval_dirs=[Path(d) for d in args.eval_dirs.split()],
        average_per_speaker=args.average_per_speaker,
        dim=args.dim,
        nj=args.nj,
        files=args.files,
        spk_model=args.spk_model,
        spk_config=args.spk_config,
        spk_exp=args.spk_exp if args.spk_exp is not None else args.outdir / "spk_exp",
        spk_args=args.spk_args,
        max_trials=args.max_trials,
        command=" ".join(["python -m espnet2_speecht5.bin.make_speaker_embeddings", *map(shlex.quote, argv_list)]),
    )
    summary = make_speaker_embeddings(request)
    made = ", ".join(f"{name} ({n_utt} utterances)" for name, n_utt, _, _ in summary.sets)
    eer = f"; {summary.eer.line()}" if summary.eer is not None else ""
    print(f"make_speaker_embeddings: {args.source}: {made} -> {args.outdir}{eer}", flush=True)


if __name__ == "__main__":
    run_main(main)
