"""Enhance noisy recordings with a trained SpeechT5 SE model (stage 9 of ``--task se``).

Reads the noisy ``wav.scp`` (``speech``; with x-vectors as ``spembs`` only when the model was
trained with ``use_speaker_embedding``) and writes ``wav/``, ``wav.scp``, ``feats.ark/scp``,
``speech_shape`` and ``plots/`` under ``--output_dir``. The options are those of
``vc_inference``: the network and the generation are the same.

Example::

    python -m espnet2_speecht5.bin.se_inference --s2st_train_config exp/se_train/config.yaml \\
        --s2st_model_file exp/se_train/valid.loss.ave.pth --config conf/decode.yaml \\
        --data_path_and_name_and_type dump/raw/test/wav.scp,speech,sound \\
        --ref_wav_scp dump/raw/test/wav_clean.scp --output_dir exp/se_train/decode/test
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_request
from espnet2_speecht5.bin.vc_inference import get_parser as speech_to_speech_parser
from espnet2_speecht5.inference.vc_conversion import ConversionRequest, convert_set


def get_parser() -> argparse.ArgumentParser:
    parser = speech_to_speech_parser(
        prog="python -m espnet2_speecht5.bin.se_inference",
        description="SpeechT5 speech enhancement",
        reference_help="the clean recordings, drawn above the enhanced mel in plots",
    )
    parser.set_defaults(output_word="enhanced", reference_word="clean")
    return parser


def main(cmd: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    run_request(convert_set, ConversionRequest, args)


if __name__ == "__main__":
    import numpy as np

    np.seterr(all="ignore")
    main(sys.argv[1:])
