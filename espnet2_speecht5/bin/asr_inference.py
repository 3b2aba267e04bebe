"""Decode speech with a trained SpeechT5 ASR model (joint CTC/attention beam search, optional LM).

The options follow ``espnet2.bin.asr_inference``, so a stage driver can run N jobs over split
key files and merge their outputs::

    python -m espnet2_speecht5.bin.asr_inference \\
        --data_path_and_name_and_type dump/raw/test/wav.scp,speech,sound \\
        --key_file exp/asr/decode/logdir/keys.1.scp \\
        --asr_train_config exp/asr/config.yaml --asr_model_file exp/asr/valid.acc.best.pth \\
        [--lm_train_config exp/lm/config.yaml --lm_file exp/lm/valid.loss.best.pth] \\
        --config conf/decode.yaml --output_dir exp/asr/decode/logdir/output.1 --ngpu 0

It writes ``OUTPUT_DIR/<n>best_recog/{text,token,token_int,score}`` (Kaldi-style ``key value``
lines, as ESPnet's ``DatadirWriter`` does; see :mod:`espnet2_speecht5.inference.asr_decoding`).
``--config`` takes a YAML file whose keys are these options without the dashes (``beam_size``,
``ctc_weight``, ``lm_weight``, ``penalty``, ``maxlenratio``, ``minlenratio``, ``nbest``). A missing
model, LM or data file stops with one ``ERROR:`` line naming it; so does a missing or unreadable
audio file of the ``sound`` scp, named with its line and utterance before decoding starts. Audio
at another sample rate than the model's 16 kHz is resampled, and multi-channel audio averaged,
each with a log line.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from espnet2_speecht5.bin.cli import add_bf16_encoder_argument, add_quantization_argument, fail, run_request, str2bool
from espnet2_speecht5.runtime.quiet_imports import quiet_espnet

with quiet_espnet():
    import numpy as np
    from espnet2.utils import config_argparse
    from espnet2.utils.types import str2triple_str, str_or_none

    from espnet2_speecht5.inference.asr_decoding import DecodeRequest, decode_set


def get_parser() -> argparse.ArgumentParser:
    parser = config_argparse.ArgumentParser(
        prog="python -m espnet2_speecht5.bin.asr_inference",
        description="SpeechT5 ASR decoding",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--log_level", default="INFO", choices=["ERROR", "WARNING", "INFO", "DEBUG"])
    parser.add_argument("--output_dir", type=str, required=True)
    parser.add_argument("--ngpu", type=int, default=0, help="0: CPU; 1: the first GPU")
    add_quantization_argument(parser)
    add_bf16_encoder_argument(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="float32", choices=["float16", "float32", "float64"])
    parser.add_argument("--num_workers", type=int, default=1)
    group = parser.add_argument_group("Input data")
    group.add_argument("--data_path_and_name_and_type", type=str2triple_str, required=True, action="append")
    group.add_argument("--key_file", type=str_or_none, help="decode only these utterances (first column)")
    group.add_argument("--allow_variable_data_keys", type=str2bool, default=False)
    group = parser.add_argument_group("Model")
    group.add_argument("--asr_train_config", type=str, help="config.yaml of the ASR training")
    group.add_argument("--asr_model_file", type=str, help="parameters of the ASR model (*.pth)")
    group.add_argument("--lm_train_config", type=str, help="config.yaml of the LM training")
    group.add_argument("--lm_file", type=str, help="parameters of the LM (*.pth)")
    group.add_argument("--model_tag", type=str, help="a packed model (zip) instead of the files above")
    group = parser.add_argument_group("Beam search")
    group.add_argument("--batch_size", type=int, default=1,
                       help="utterances beam-searched together (B x beam hypotheses per decoder call)")
    group.add_argument("--nbest", type=int, default=1)
    group.add_argument("--beam_size", type=int, default=10)
    group.add_argument("--penalty", type=float, default=0.0, help="bonus per output token")
    group.add_argument("--maxlenratio", type=float, default=0.0, help="0: end detection; <0: absolute length")
    group.add_argument("--minlenratio", type=float, default=0.0)
    group.add_argument("--ctc_weight", type=float, default=None, help="default 0.3; 0 for an ST model")
    group.add_argument("--lm_weight", type=float, default=0.0)
    group = parser.add_argument_group("Text")
    group.add_argument("--token_type", type=str_or_none, default=None, choices=["char", "bpe", "word", None])
    group.add_argument("--bpemodel", type=str_or_none, default=None)
    return parser


def decode(args: argparse.Namespace, model_options: str = "--asr_train_config and --asr_model_file") -> None:
    """Decode the set the parsed ``args`` name; ``model_options``: how the error names the model options."""
    if not args.model_tag and not args.asr_train_config:
        fail(f"give {model_options}, or --model_tag")
    run_request(decode_set, DecodeRequest, args)


def main(cmd: Optional[List[str]] = None) -> None:
    decode(get_parser().parse_args(cmd))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main(sys.argv[1:])
