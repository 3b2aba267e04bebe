"""Stages 9-11 of ``--task pretrain``: held-out scores of a pre-training model, and RESULTS.md.

Usage::

    # stage 9, one job: sums over a speech set (its keys in --key_file) and/or a text file
    python -m espnet2_speecht5.bin.pretrain_evaluate evaluate --train_config exp/pt/config.yaml \\
        --model_file exp/pt/valid.acc_mlm.best.pth --wav_scp dump/raw/test/wav.scp \\
        --label dump/labels_iter1/test/label --text dump/raw/test_text/text --key_file keys.1.scp \\
        --out exp/pt/eval_valid.acc_mlm.best/test/logdir/stats.1.yaml
    # stage 10: add the jobs up into the set's means
    python -m espnet2_speecht5.bin.pretrain_evaluate merge --inputs .../stats.*.yaml \\
        --out exp/pt/eval_valid.acc_mlm.best/test/scores.yaml
    # stage 11: RESULTS.md from every <eval dir>/<set>/scores.yaml
    python -m espnet2_speecht5.bin.pretrain_evaluate report --exp_dir exp/pt --model_file ... \\
        --config exp/pt/config.yaml --out exp/pt/RESULTS.md --recipe_copy RESULTS.md

The scores (see :mod:`espnet2_speecht5.inference.pretrain_scores`): masked-prediction accuracy and
loss, mel L1 and stop BCE of the reconstruction on speech; denoising cross-entropy and token
accuracy on text. A label file that does not fit its audio stops with one line naming the utterance.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.data.errors import DataError

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
    report = sub.add_parser("report", help="RESULTS.md from <eval dir>/<set>/scores.yaml")
    report.add_argument("--exp_dir", required=True)
    report.add_argument("--model_file", help="listed in the section")
    report.add_argument("--config", help="listed in the section")
    report.add_argument("--out", required=True, help="RESULTS.md to write")
    report.add_argument("--recipe_copy", help="a RESULTS.md to merge this experiment's section into")
    report.add_argument("--repo", default=os.environ.get("SPEECHT5_ROOT") or str(Path(__file__).resolve().parents[2]),
                        help="git repository for the commit hash [this package's repository]")
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


def run_report(args: argparse.Namespace) -> None:
    from espnet2_speecht5.report.pretrain_results import collect_pretrain_scores, make_pretrain_results_md
    from espnet2_speecht5.report.results_md import merge_into

    exp_dir = Path(args.exp_dir)
    if not collect_pretrain_scores(exp_dir):
        raise DataError(f"no */*/scores.yaml under {exp_dir}: run stage 10 first (--stage 10)")
    text = make_pretrain_results_md(exp_dir, args.repo, args.model_file, args.config)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    if args.recipe_copy:
        copy = Path(args.recipe_copy)
        existing = copy.read_text(encoding="utf-8") if copy.is_file() else ""
        copy.write_text(merge_into(existing, text), encoding="utf-8")
    print(text, end="")


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    {"evaluate": run_evaluate, "merge": run_merge, "report": run_report}[args.command](args)


if __name__ == "__main__":
    run_main(main)
