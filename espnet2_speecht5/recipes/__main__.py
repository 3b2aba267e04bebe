"""``python -m espnet2_speecht5.recipes <step> --task T [--<driver setting>=VALUE ...] [step options]``.

The stage driver's questions to the task's recipe. ``env`` prints the recipe's settings as shell
assignments; the other steps run one per-task piece of a stage (see ``--help`` of each). The
driver passes its settings (folders, sets, token options) as ``--<name>=<value>``.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path
from typing import List, Optional

from espnet2_speecht5.recipes import TASKS, get_recipe
from espnet2_speecht5.recipes.base import Context, TaskRecipe
from espnet2_speecht5.recipes.steps import pack_model_of_recipe, publish, report
from espnet2_speecht5.runtime.cli import run_cli

logger = logging.getLogger("espnet2_speecht5.recipes")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m espnet2_speecht5.recipes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    for name in Context.field_names():
        common.add_argument(f"--{name}", default=getattr(Context, name, ""), help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="step", required=True)

    def step(name: str, helptext: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=helptext, description=helptext)

    step("env", "the recipe's settings as shell assignments")
    step("list", "the tasks, one line each")
    step("check-data", "stage 1: inputs beyond the data directories")
    step("filter-extra", "stage 4: extra corpora (pre-training text)")
    step("tokens", "stage 5: the token lists")
    step("speaker-dirs", "stage 6: the data folders to embed, training set first")
    opts = step("data-opts", "stages 7-8: the data triples of a dump folder")
    opts.add_argument("--mode", required=True, choices=("train", "valid"))
    opts.add_argument("--data", required=True)
    step("model-opts", "stage 7: model options decided by earlier stages")
    step("train-opts", "stage 8: options beyond the data triples and shapes")
    for name, helptext in (("decode-dir", "stages 9-11: the decode folder of a checkpoint"),
                           ("split", "stage 9: split a set into job key files; prints the number of jobs"),
                           ("infer-args", "stage 9: the arguments of one inference job (with JOB)"),
                           ("merge", "stage 9: merge the jobs' outputs"),
                           ("score", "stage 10: score a set into scores.json"),
                           ("report", "stage 11: RESULTS.md from the sets' scores.json"),
                           ("pack", "stage 12: the model-zoo zip"),
                           ("publish", "stage 13: the export folder (and the upload, when asked)")):
        cmd = step(name, helptext)
        cmd.add_argument("--model", required=True, help="the checkpoint in the experiment folder")
        if name in ("split", "infer-args", "merge", "score"):
            cmd.add_argument("--set", required=True)
        if name in ("split", "infer-args", "merge"):
            cmd.add_argument("--logdir", required=True)
        if name in ("split", "merge"):
            cmd.add_argument("--nj", type=int, required=True)
        if name in ("report", "pack"):
            cmd.add_argument("--images", default="", help="the training plots' folder")
        if name == "report":
            cmd.add_argument("--repo", default="", help="git repository for the commit hash")
    return parser


def context_of(args: argparse.Namespace) -> Context:
    return Context(**{name: str(getattr(args, name)) for name in Context.field_names()})


def print_words(words: List[str]) -> None:
    print(" ".join(shlex.quote(word) for word in words))


def run_step(recipe: TaskRecipe, ctx: Context, args: argparse.Namespace) -> None:
    step = args.step
    if step == "env":
        for name, value in recipe.env().items():
            print(f"{name}={shlex.quote(value)}")
    elif step == "list":
        for task in TASKS:
            other = get_recipe(task)
            print(f"{task:9s} {'stages 1-13' if other.trained else 'stages 1-5 '}  {other.description}")
    elif step == "check-data":
        recipe.check_data(ctx)
    elif step == "filter-extra":
        recipe.filter_extra(ctx)
    elif step == "tokens":
        recipe.make_token_lists(ctx)
    elif step == "speaker-dirs":
        print_words([str(d) for d in recipe.speaker_dirs(ctx)])
    elif step == "data-opts":
        print_words(recipe.data_options(ctx, args.mode, Path(args.data)))
    elif step == "model-opts":
        print_words(recipe.model_options(ctx) + recipe.normalize_options(ctx, 7))
    elif step == "train-opts":
        print_words(recipe.train_options(ctx) + recipe.normalize_options(ctx, 8))
    elif step == "decode-dir":
        print(recipe.decode_dir(ctx, args.model))
    elif step == "split":
        print(recipe.split_jobs(ctx, args.set, Path(args.logdir), args.nj))
    elif step == "infer-args":
        print_words(recipe.inference_args(ctx, args.set, Path(args.logdir), args.model))
    elif step == "merge":
        recipe.merge_jobs(ctx, Path(args.logdir), args.nj, recipe.decode_dir(ctx, args.model) / args.set)
    elif step == "score":
        scores = recipe.score(ctx, args.set, recipe.decode_dir(ctx, args.model), args.model)
        shown = ", ".join(f"{k} {'-' if v is None else round(v, 3)}" for k, v in scores["metrics"].items())
        logger.info(f"stage 10: {args.set}: {shown} ({recipe.decode_dir(ctx, args.model) / args.set / 'scores.json'})")
    elif step == "report":
        print(report(recipe, ctx, args.model, args.images, args.repo or None), end="")
    elif step == "pack":
        pack_model_of_recipe(recipe, ctx, args.model, args.images)
    elif step == "publish":
        publish(recipe, ctx, args.model)


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    if args.step != "list" or args.task:
        recipe = get_recipe(args.task or "")
    else:
        recipe = get_recipe("asr")
    run_step(recipe, context_of(args), args)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(module)s) %(message)s",
                        datefmt="%Y-%m-%dT%H:%M:%S", stream=sys.stderr)
    sys.exit(run_cli(main))
