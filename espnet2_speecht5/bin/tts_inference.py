"""Synthesise speech with a trained SpeechT5 TTS model (stage 9 of ``--task tts``).

Reads ``text`` (and ``spembs`` x-vectors) like ESPnet's ``tts_inference``, synthesises
``--batch_size`` utterances at a time (:mod:`espnet2_speecht5.inference.tts_synthesis`) and writes,
under ``--output_dir``:

* ``wav/<utt>.wav`` and ``wav.scp`` (16 kHz, from the vocoder);
* ``feats.ark`` / ``feats.scp``: the generated log10 mel (T, 80);
* ``speech_shape``: frames per utterance;
* ``plots/<utt>.mel.png`` and ``plots/<utt>.att.png`` for the first ``--num_plots`` utterances
  (with the recording's mel above the synthesised one when ``--ref_wav_scp`` is given).

Example::

    python -m espnet2_speecht5.bin.tts_inference --train_config exp/tts/config.yaml \\
        --model_file exp/tts/valid.loss.best.pth --config conf/decode.yaml \\
        --data_path_and_name_and_type dump/raw/test/text,text,text \\
        --data_path_and_name_and_type dump/xvector/test/xvector.scp,spembs,kaldi_ark \\
        --output_dir exp/tts/decode/test
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

    from espnet2_speecht5.inference.tts_synthesis import SynthesisRequest, synthesize_set


def get_parser() -> argparse.ArgumentParser:
    parser = config_argparse.ArgumentParser(
        prog="python -m espnet2_speecht5.bin.tts_inference",
        description="SpeechT5 text-to-speech synthesis",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--log_level", default="INFO", choices=["ERROR", "WARNING", "INFO", "DEBUG"])
    parser.add_argument("--output_dir", type=str, required=True)
    parser.add_argument("--ngpu", type=int, default=0, help="0: CPU; 1: the first GPU")
    add_quantization_argument(parser)
    parser.add_argument("--seed", type=int, default=0, help="seeds the pre-net dropout")
    group = parser.add_argument_group("Input data")
    group.add_argument(
        "--data_path_and_name_and_type",
        type=str2triple_str,
        required=True,
        action="append",
        help="text as 'path,text,text'; x-vectors as 'path,spembs,kaldi_ark'",
    )
    group.add_argument("--key_file", type=str_or_none, help="synthesise only these utterances (first column)")
    group.add_argument("--ref_wav_scp", type=str_or_none, help="recordings, drawn above the synthesised mel in plots")
    group = parser.add_argument_group("Model")
    group.add_argument("--train_config", type=str, required=True, help="config.yaml of the TTS training")
    group.add_argument("--model_file", type=str, required=True, help="parameters of the TTS model (*.pth)")
    group = parser.add_argument_group("Generation")
    group.add_argument("--batch_size", type=int, default=8, help="utterances generated together")
    add_speech_generation_arguments(group, "input token")
    return parser


def main(cmd: Optional[List[str]] = None) -> None:
    parser = get_parser()
    args = parser.parse_args(cmd)
    run_request(synthesize_set, SynthesisRequest, args)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main(sys.argv[1:])
