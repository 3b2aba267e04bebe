"""Convert SpeechT5 checkpoints: transformers folder / official fairseq checkpoint <-> our state dict.

Directions (subcommands):

  hf2ours       transformers folder (config.json + model.safetensors) -> our .pth
  fairseq2ours  official fairseq SpeechT5 checkpoint (pre-trained, ASR, ST, TTS, VC) -> our .pth
  ours2hf       our .pth -> transformers folder that SpeechT5For{SpeechToText,TextToSpeech,
                SpeechToSpeech}.from_pretrained loads

Our .pth is a plain torch state dict, saved atomically, for ESPnet's --init_param. Its keys are
those of espnet2_speecht5.nets.compositions (e.g. encoder.layers.0.ffn.fc1.weight) under
--prefix (none by default). A JSON sidecar with the same stem (model.pth -> model.json) keeps
the network kind and config. With no prefix, load it into an ESPnet model whose network sits at
attribute NET with  --init_param model.pth::NET  (or write it with --prefix NET.).

Checkpoints are read with safetensors or torch.load(weights_only=True) only; a pickle that
references code is refused. Unknown and missing keys are listed, and the conversion stops
unless --allow_unexpected / --allow_missing is given; a wrong shape always stops it.

Examples:
  python -m espnet2_speecht5.bin.convert_checkpoint hf2ours --input speecht5_asr/ --output asr.pth
  python -m espnet2_speecht5.bin.convert_checkpoint fairseq2ours --flavour tts --input speecht5_tts.pt --output tts.pth
  python -m espnet2_speecht5.bin.convert_checkpoint fairseq2ours --flavour pretrain --net s2t \\
      --input speecht5_base.pt --output base_s2t.pth
  python -m espnet2_speecht5.bin.convert_checkpoint ours2hf --input asr.pth --output hf_asr/
  python -m espnet2_speecht5.bin.convert_checkpoint ours2hf --input exp/asr/valid.acc.best.pth \\
      --config asr.json --prefix net. --allow_unexpected --output hf_asr/
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.checkpoint.convert import (
    check_state,
    read_fairseq,
    read_hf_folder,
    read_ours,
    sidecar,
    write_hf_folder,
    write_ours,
)
from espnet2_speecht5.checkpoint.io import CheckpointError
from espnet2_speecht5.recipes import TASKS, get_recipe

NETS = ["s2t", "t2s", "s2s"]


def _parse_sets(items: List[str]) -> Dict[str, Any]:
    values: Dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise CheckpointError(f"--set expects FIELD=VALUE, got '{item}'")
        name, raw = item.split("=", 1)
        try:
            values[name] = json.loads(raw)
        except json.JSONDecodeError:
            values[name] = raw
        if isinstance(values[name], list):
            values[name] = tuple(values[name])
    return values


def _common(p: argparse.ArgumentParser, output_help: str) -> None:
    p.add_argument("--input", required=True, type=Path, help="what to convert")
    p.add_argument("--output", required=True, type=Path, help=output_help)
    p.add_argument("--allow_missing", action="store_true", help="keep fresh initial values for missing keys")
    p.add_argument("--allow_unexpected", action="store_true", help="drop keys the network does not have")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m espnet2_speecht5.bin.convert_checkpoint",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="direction", required=True, metavar="DIRECTION")

    p = sub.add_parser("hf2ours", help="transformers SpeechT5 folder -> our state dict (.pth)")
    _common(p, "our .pth (its .json sidecar is written beside it)")
    p.add_argument("--net", choices=NETS, help="network kind (default: from config.json's architectures)")
    p.add_argument("--prefix", default="", help="prefix for every key of the .pth (default: none)")

    p = sub.add_parser("fairseq2ours", help="official fairseq SpeechT5 checkpoint -> our state dict (.pth)")
    _common(p, "our .pth (its .json sidecar is written beside it)")
    p.add_argument(
        "--flavour",
        required=True,
        choices=sorted(t for t in TASKS if t != "sid"),
        help="which release: pretrain (needs --net), asr and st (s2t), tts (t2s), vc and se (s2s)",
    )
    p.add_argument("--net", choices=NETS, help="network to extract (required for pretrain)")
    p.add_argument("--prefix", default="", help="prefix for every key of the .pth (default: none)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="config fields that shapes cannot tell (e.g. conv_strides=[5,2,2,2,2,2,2], dropout=0.1); "
        "sizes and heads are read from the checkpoint",
    )

    p = sub.add_parser("ours2hf", help="our state dict (.pth) -> transformers folder (config.json + model.safetensors)")
    _common(p, "folder to write config.json and model.safetensors into")
    p.add_argument("--config", type=Path, help="our JSON sidecar (default: the input's .json)")
    p.add_argument(
        "--prefix",
        default=None,
        help="take the network's keys from under this prefix, e.g. 'net.' in an ESPnet model checkpoint "
        "(default: the sidecar's prefix); other keys count as unexpected",
    )
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    allow = dict(allow_missing=args.allow_missing, allow_unexpected=args.allow_unexpected)
    if args.direction == "hf2ours":
        conv, unknown = read_hf_folder(args.input, args.net)
        state = check_state(conv, args.input, unknown, **allow)
        write_ours(state, conv.kind, conv.cfg, args.output, args.prefix, tokens=conv.tokens)
    elif args.direction == "fairseq2ours":
        kind = args.net or get_recipe(args.flavour).kind  # the task's network; pre-training has all of them
        conv, unknown = read_fairseq(args.input, args.flavour, kind, _parse_sets(args.set))
        logging.info("skipped %d entries not used by the %s network", len(conv.skipped), conv.kind)
        state = check_state(conv, args.input, unknown, **allow)
        write_ours(state, conv.kind, conv.cfg, args.output, args.prefix)
    else:
        conv, unknown = read_ours(args.input, args.config, args.prefix)
        state = check_state(conv, args.input, unknown, **allow)
        write_hf_folder(state, conv.kind, conv.cfg, args.output)
    where = sidecar(args.output) if args.direction != "ours2hf" else args.output / "config.json"
    logging.info("wrote %s network (%d tensors) to %s (config: %s)", conv.kind, len(state), args.output, where)


if __name__ == "__main__":
    run_main(main)
