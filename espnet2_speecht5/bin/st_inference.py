"""Translate speech with a trained SpeechT5 ST model: the beam search of ``asr_inference`` without CTC.

The options are those of ``espnet2_speecht5.bin.asr_inference``, with ESPnet ST's names for the
model (``--st_train_config``, ``--st_model_file``)::

    python -m espnet2_speecht5.bin.st_inference \\
        --data_path_and_name_and_type dump/raw/test/wav.scp,speech,sound \\
        --key_file exp/st/decode/logdir/keys.1.scp \\
        --st_train_config exp/st/config.yaml --st_model_file exp/st/valid.acc.best.pth \\
        --config conf/decode.yaml --output_dir exp/st/decode/logdir/output.1 --ngpu 0

It writes ``OUTPUT_DIR/1best_recog/{text,token,token_int,score}``, ``text`` being the translation.
"""

from __future__ import annotations

import sys
from typing import List, Optional

import numpy as np

from espnet2_speecht5.bin import asr_inference


def main(cmd: Optional[List[str]] = None) -> None:
    parser = asr_inference.get_parser()
    parser.prog = "python -m espnet2_speecht5.bin.st_inference"
    parser.description = "SpeechT5 ST decoding"
    group = parser.add_argument_group("ST model (ESPnet ST's names)")
    group.add_argument("--st_train_config", dest="asr_train_config", help="config.yaml of the ST training")
    group.add_argument("--st_model_file", dest="asr_model_file", help="parameters of the ST model (*.pth)")
    asr_inference.decode(parser.parse_args(cmd), "--st_train_config and --st_model_file")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main(sys.argv[1:])
