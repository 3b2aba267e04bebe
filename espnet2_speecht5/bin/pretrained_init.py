"""Fine-tune from a pre-training model (``speecht5.sh --pretrained_model``): its token list, its parameters.

Usage::

    # stage 5: the token list of the pre-training model (and its bpe.model), instead of a new one
    python -m espnet2_speecht5.bin.pretrained_init tokens --pretrained_model ../pretrain1/exp/x/x.zip \\
        --token_type char --outdir data/token_list/char --cache_dir exp/pretrained_model
    # stage 8: the parameters of the parts the task's network has, for --init_param FILE:net:net
    python -m espnet2_speecht5.bin.pretrained_init params --pretrained_model ../pretrain1/exp/x/x.zip \\
        --task asr --token_list data/token_list/char/tokens.txt --out exp/asr_x/pretrained_init.pth \\
        --cache_dir exp/pretrained_model

``--pretrained_model`` is the zip of the pre-training recipe's stage 12, or a ``*.pth`` of its stage 8
with ``config.yaml`` beside it. See :mod:`espnet2_speecht5.checkpoint.pretrained_init`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.checkpoint.io import save_torch
from espnet2_speecht5.checkpoint.pretrained_init import fine_tuning_state, write_token_list
from espnet2_speecht5.recipes import TASKS, get_recipe

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("tokens", "write the token list"), ("params", "write the initial parameters")):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("--pretrained_model", required=True, help="pre-training zip (stage 12) or *.pth (stage 8)")
        cmd.add_argument("--cache_dir", required=True, help="where a zip is unpacked (once per zip)")
    tokens = sub.choices["tokens"]
    tokens.add_argument("--token_type", required=True, choices=("char", "bpe", "word"), help="the recipe's tokens")
    tokens.add_argument("--outdir", required=True, help="folder for tokens.txt (and bpe.model)")
    tokens.add_argument("--extend_with", default=None,
                        help="a Kaldi text file of the fine-tuning data: its characters that the list lacks are added "
                             "(char token lists)")
    params = sub.choices["params"]
    params.add_argument("--task", required=True, choices=[t for t in TASKS if t != "pretrain"],
                        help="the fine-tuning task")
    params.add_argument("--token_list", default=None,
                        help="the fine-tuning token list (text tasks; rows of tokens it shares with the model's are "
                             "kept, new tokens start at the mean row; none for vc, se)")
    params.add_argument("--train_config", default=None,
                        help="the fine-tuning config, for a task whose parts depend on it (sid: head)")
    params.add_argument("--out", required=True, help="the state dict to write (keys net.*)")
    return parser


def masks_speech(train_config: Path) -> bool:
    """Whether the fine-tuning network of ``train_config`` masks speech frames or channels (and so has
    the speech pre-net's mask embedding)."""
    import yaml

    from espnet2_speecht5.tasks.common import net_config_from_conf

    config = yaml.safe_load(train_config.read_text(encoding="utf-8")) or {}
    cfg = net_config_from_conf(config.get("net_conf") if isinstance(config, dict) else None)
    return cfg.mask_time_prob > 0.0 or cfg.mask_channel_prob > 0.0


def read_tokens(path: str) -> List[str]:
    from espnet2_speecht5.runtime.errors import DataError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise DataError(f"cannot read the token list ({err.strerror})", path) from None
    return [line.rstrip() for line in text.split("\n") if line.strip()]


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    if args.command == "tokens":
        write_token_list(args.pretrained_model, args.cache_dir, args.outdir, args.token_type, args.extend_with)
        return
    recipe = get_recipe(args.task)
    tokens = None
    if recipe.shares_pretrained_tokens:
        if args.token_list is None:
            from espnet2_speecht5.runtime.errors import DataError

            raise DataError(f"task {args.task} keeps the pre-training token list: give --token_list")
        tokens = read_tokens(args.token_list)
    parts = recipe.pretrained_parts(Path(args.train_config) if args.train_config else None)
    state = fine_tuning_state(args.pretrained_model, args.cache_dir, parts, tokens)
    if args.train_config and not masks_speech(Path(args.train_config)):
        unused = [key for key in state if key.endswith("speech_prenet.mask_emb")]
        for key in unused:
            del state[key]
            logger.info(f"{key}: left out: {args.train_config} masks no speech frames or channels "
                        "(net_conf mask_time_prob and mask_channel_prob are 0), so its network has no mask embedding")
    save_torch(state, args.out)
    logger.info(f"wrote {args.out}: {len(state)} parameters (load with --init_param {args.out}:net:net)")


if __name__ == "__main__":
    run_main(main)
