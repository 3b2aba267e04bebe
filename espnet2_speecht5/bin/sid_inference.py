"""Identify the speaker of every utterance of a set with a trained SpeechT5 SID model (stage 9 of ``--task sid``).

Writes ``label`` and ``top5`` under ``--output_dir`` (:mod:`espnet2_speecht5.inference.sid_classification`).

Example::

    python -m espnet2_speecht5.bin.sid_inference --classification_train_config exp/sid/config.yaml \\
        --classification_model_file exp/sid/valid.acc.best.pth \\
        --data_path_and_name_and_type dump/raw/test/wav.scp,speech,sound --output_dir out
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from espnet2_speecht5.bin.cli import add_bf16_encoder_argument, add_quantization_argument, run_request
from espnet2_speecht5.runtime.quiet_imports import quiet_espnet

with quiet_espnet():
    from espnet2.utils.types import str2triple_str, str_or_none

    from espnet2_speecht5.inference.sid_classification import ClassifyRequest, classify_set


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m espnet2_speecht5.bin.sid_inference",
                                     description="SpeechT5 speaker identification",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--log_level", default="INFO", choices=["ERROR", "WARNING", "INFO", "DEBUG"])
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--ngpu", type=int, default=0, help="0: CPU; 1: the first GPU")
    add_quantization_argument(parser)
    add_bf16_encoder_argument(parser)
    parser.add_argument("--data_path_and_name_and_type", type=str2triple_str, required=True, action="append",
                        help="the audio as 'wav.scp,speech,sound'")
    parser.add_argument("--key_file", type=str_or_none, help="classify only these utterances (first column)")
    parser.add_argument("--classification_train_config", required=True, help="config.yaml of the SID training")
    parser.add_argument("--classification_model_file", required=True, help="parameters of the SID model (*.pth)")
    parser.add_argument("--batch_size", type=int, default=1,
                        help="utterances classified together; the conv front end's group norm sees the padding, "
                             "so scores of a padded batch differ slightly from those of single utterances")
    return parser


def main(cmd: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    run_request(classify_set, ClassifyRequest, args)


if __name__ == "__main__":
    main(sys.argv[1:])
