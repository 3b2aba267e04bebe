"""Held-out scores of a pre-training model (stage 9 of ``--task pretrain``).

Usage::

    # stage 9, one job: sums over a speech set (its keys in --key_file) and/or a text file
    python -m espnet2_speecht5.bin.pretrain_evaluate evaluate --train_config exp/pt/config.yaml \\
        --model_file exp/pt/valid.acc_mlm.best.pth --wav_scp dump/raw/test/wav.scp \\
        --label dump/labels_iter1/test/label --text dump/raw/test_text/text --key_file keys.1.scp \\
        --out exp/pt/eval_valid.acc_mlm.best/test/logdir/stats.1.yaml
    # add the jobs up into the set's means (stage 9 does it after the jobs)
    python -m espnet2_speecht5.bin.pretrain_evaluate merge --inputs .../stats.*.yaml \\
        --out exp/pt/eval_valid.acc_mlm.best/test/scores.yaml

The scores (see :mod:`espnet2_speecht5.inference.pretrain_scores`): masked-prediction accuracy and
loss, mel L1 and stop BCE of the reconstruction on speech; denoising cross-entropy and token
accuracy on text. A label file that does not fit its audio stops with one line naming the utterance.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.runtime.errors import DataError

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="one job: sums of the held-out terms")
    ev.add_argument("--train_config", required=True, help="the experiment's config.yaml")
    ev.add_argument("--model_file", required=True, help="the checkpoint (*.pth)")
    ev.add_argument("--wav_scp", help="held-out speech (needs --label)")
    ev.add_argument("--label", help="its cluster labels (stage 6)")
    ev.add_argument("--text", help="held-out text (one sentence a line, with an id)")
    ev.add_argument("--key_file", help="the speech utterances of this job [all]")
    ev.add_argument("--text_key_file", help="the sentences of this job [all]")
    ev.add_argument("--seed", type=int, default=0, help="seed of the masks and noise (mixed with each id) [0]")
    ev.add_argument("--device", default="cpu", help="[cpu]")
    ev.add_argument("--out", required=True, help="the job's YAML of sums and weights")
    merge = sub.add_parser("merge", help="add up job sums into means")
    merge.add_argument("--inputs", nargs="+", required=True, help="job YAML files")
    merge.add_argument("--out", required=True, help="scores.yaml to write")
    return parser


def run_evaluate(args: argparse.Namespace) -> None:
    from espnet2_speecht5.inference.pretrain_scores import evaluate_set, load_pretrain_model, write_yaml

    if bool(args.wav_scp) != bool(args.label):
        raise DataError("--wav_scp and --label go together")
    if not args.wav_scp and not args.text:
        raise DataError("nothing to evaluate: pass --wav_scp with --label, and/or --text")
    for path in (args.wav_scp, args.label, args.text, args.key_file, args.text_key_file):
        if path and not Path(path).is_file():
            raise DataError("does not exist", path)
    model, train_args = load_pretrain_model(args.train_config, args.model_file, args.device)
    speech = (args.wav_scp, args.label) if args.wav_scp else None
    sums = evaluate_set(model, train_args, speech, args.text, args.key_file, args.text_key_file, args.seed,
                        args.device)
    write_yaml(sums, args.out)
    counts = sums["counts"]
    logger.info(f"wrote {args.out}: {counts['utterances']} utterances, {counts['sentences']} sentences")


def run_merge(args: argparse.Namespace) -> None:
    from espnet2_speecht5.inference.pretrain_scores import merge_sums, read_yaml, write_yaml

    scores = merge_sums([read_yaml(path) for path in args.inputs])
    write_yaml(scores, args.out)
    logger.info(f"wrote {args.out}: " + ", ".join(f"{k} {v}" for k, v in scores.items()))


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    {"evaluate": run_evaluate, "merge": run_merge}[args.command](args)


if __name__ == "__main__":
    run_main(main)
