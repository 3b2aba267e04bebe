"""Convert source recordings with a trained SpeechT5 VC model (stage 9 of ``--task vc``).

Reads the source ``wav.scp`` (``speech``) and the target speakers' x-vectors (``spembs``) and writes
``wav/``, ``wav.scp``, ``feats.ark/scp``, ``speech_shape`` and ``plots/`` under ``--output_dir``
(:mod:`espnet2_speecht5.inference.vc_conversion`).

Example::

    python -m espnet2_speecht5.bin.vc_inference --s2st_train_config exp/vc/config.yaml \\
        --s2st_model_file exp/vc/valid.loss.ave.pth --config conf/decode.yaml \\
        --data_path_and_name_and_type dump/raw/test/wav.scp,speech,sound \\
        --data_path_and_name_and_type dump/xvector/test/xvector.scp,spembs,kaldi_ark \\
        --output_dir exp/vc/decode/test
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from espnet2_speecht5.bin.cli import add_quantization_argument, add_speech_generation_arguments, run_request
from espnet2_speecht5.runtime.quiet_imports import quiet_espnet

with quiet_espnet():
    import numpy as np
    from espnet2.utils import config_argparse
    from espnet2.utils.types import str2triple_str, str_or_none

    from espnet2_speecht5.inference.vc_conversion import ConversionRequest, convert_set


def get_parser(
    prog: str = "python -m espnet2_speecht5.bin.vc_inference",
    description: str = "SpeechT5 voice conversion",
    reference_help: str = "the target speaker's recordings, drawn above the converted mel in plots",
) -> argparse.ArgumentParser:
    """The options of speech-to-speech generation (VC; SE's entry point changes the words)."""
    parser = config_argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--log_level", default="INFO", choices=["ERROR", "WARNING", "INFO", "DEBUG"])
    parser.add_argument("--output_dir", type=str, required=True)
    parser.add_argument("--ngpu", type=int, default=0, help="0: CPU; 1: the first GPU")
    add_quantization_argument(parser)
    parser.add_argument("--seed", type=int, default=0, help="seeds the pre-net dropout")
    group = parser.add_argument_group("Input data")
    group.add_argument("--data_path_and_name_and_type", type=str2triple_str, required=True, action="append",
                       help="the source audio as 'wav.scp,speech,sound'; x-vectors as 'path,spembs,kaldi_ark'")
    group.add_argument("--key_file", type=str_or_none, help="convert only these utterances (first column)")
    group.add_argument("--ref_wav_scp", type=str_or_none, help=reference_help)
    group = parser.add_argument_group("Model")
    group.add_argument("--s2st_train_config", type=str, required=True, help="config.yaml of the training")
    group.add_argument("--s2st_model_file", type=str, required=True, help="parameters of the model (*.pth)")
    group = parser.add_argument_group("Generation")
    group.add_argument("--batch_size", type=int, default=1,
                       help="utterances converted together; the conv front end's group norm sees the padding, "
                            "so a batch's outputs differ slightly from those of single utterances")
    add_speech_generation_arguments(group, "encoder frame")
    return parser


def main(cmd: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    run_request(convert_set, ConversionRequest, args)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main(sys.argv[1:])
