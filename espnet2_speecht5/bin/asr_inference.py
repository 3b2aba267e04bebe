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
lines, as ESPnet's ``DatadirWriter`` does). ``--config`` takes a YAML file whose keys are these
options without the dashes (``beam_size``, ``ctc_weight``, ``lm_weight``, ``penalty``,
``maxlenratio``, ``minlenratio``, ``nbest``). A missing model, LM or data file stops with one
``ERROR:`` line naming it; so does a missing or unreadable audio file of the ``sound`` scp, named
with its line and utterance before decoding starts. Audio at another sample rate than the
model's 16 kHz is resampled, and multi-channel audio averaged, each with a log line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet2_speecht5.bin.cli import fail, str2bool
from espnet2_speecht5.bin.quiet_imports import quiet_espnet
from espnet2_speecht5.data.errors import DataError

with quiet_espnet():
    import numpy as np
    import torch
    from espnet2.fileio.datadir_writer import DatadirWriter
    from espnet2.utils import config_argparse
    from espnet2.utils.types import str2triple_str, str_or_none

    from espnet2_speecht5.data.kaldi_dir import iter_lines
    from espnet2_speecht5.inference.audio_input import MODEL_RATE, fit_to_model, scan_sound_scp
    from espnet2_speecht5.inference.speech2text import Speech2Text, require_file
    from espnet2_speecht5.tasks.asr import ASRTask


def get_parser() -> argparse.ArgumentParser:
    parser = config_argparse.ArgumentParser(
        prog="python -m espnet2_speecht5.bin.asr_inference",
        description="SpeechT5 ASR decoding",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--log_level", default="INFO", choices=["ERROR", "WARNING", "INFO", "DEBUG"])
    parser.add_argument("--output_dir", type=str, required=True)
    parser.add_argument("--ngpu", type=int, default=0, help="0: CPU; 1: the first GPU")
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
    group.add_argument("--batch_size", type=int, default=1, help="utterances read at a time (decoded one by one)")
    group.add_argument("--nbest", type=int, default=1)
    group.add_argument("--beam_size", type=int, default=10)
    group.add_argument("--penalty", type=float, default=0.0, help="bonus per output token")
    group.add_argument("--maxlenratio", type=float, default=0.0, help="0: end detection; <0: absolute length")
    group.add_argument("--minlenratio", type=float, default=0.0)
    group.add_argument("--ctc_weight", type=float, default=0.3)
    group.add_argument("--lm_weight", type=float, default=0.0)
    group = parser.add_argument_group("Text")
    group.add_argument("--token_type", type=str_or_none, default=None, choices=["char", "bpe", "word", None])
    group.add_argument("--bpemodel", type=str_or_none, default=None)
    return parser


def check_inputs(data: Sequence[Tuple[str, str, str]], key_file: Optional[str]) -> Dict[str, Tuple[int, int]]:
    """Every input file exists and every audio file can be read; returns ``{utt: (rate, channels)}``."""
    for path, _, _ in data:
        require_file(path, "--data_path_and_name_and_type")
    keys = None
    if key_file is not None:
        keys = [utt for _, utt, _ in iter_lines(require_file(key_file, "--key_file"))]
    audio: Dict[str, Tuple[int, int]] = {}
    for path, _, kind in data:
        if kind == "sound":
            audio.update(scan_sound_scp(path, keys))
    return audio


def inference(args: argparse.Namespace) -> None:
    """Decode every utterance of the data (or of ``--key_file``) and write the n-best results."""
    audio = check_inputs(args.data_path_and_name_and_type, args.key_file)
    other_rates = sorted({rate for rate, _ in audio.values() if rate != MODEL_RATE})
    if other_rates:
        logging.warning(
            "%d utterance(s) are not at %d Hz (%s Hz) and are resampled before decoding; "
            "stage 3 (espnet2_speecht5.bin.dump_audio) converts a set once",
            sum(1 for rate, _ in audio.values() if rate != MODEL_RATE), MODEL_RATE, ", ".join(map(str, other_rates)),
        )
    if args.ngpu > 1:
        raise DataError("--ngpu must be 0 or 1 (run several jobs for more)")
    device = "cuda" if args.ngpu > 0 else "cpu"
    torch.manual_seed(args.seed)
    options = dict(
        lm_train_config=args.lm_train_config,
        lm_file=args.lm_file,
        token_type=args.token_type,
        bpemodel=args.bpemodel,
        device=device,
        beam_size=args.beam_size,
        ctc_weight=args.ctc_weight,
        lm_weight=args.lm_weight,
        penalty=args.penalty,
        maxlenratio=args.maxlenratio,
        minlenratio=args.minlenratio,
        nbest=args.nbest,
        dtype=args.dtype,
    )
    if args.model_tag:
        speech2text = Speech2Text.from_pretrained(args.model_tag, **options)
    else:
        speech2text = Speech2Text(args.asr_train_config, args.asr_model_file, **options)

    loader = ASRTask.build_streaming_iterator(
        data_path_and_name_and_type=args.data_path_and_name_and_type,
        dtype=args.dtype,
        batch_size=args.batch_size,
        key_file=args.key_file,
        num_workers=args.num_workers,
        preprocess_fn=ASRTask.build_preprocess_fn(speech2text.asr_train_args, False),
        collate_fn=ASRTask.build_collate_fn(speech2text.asr_train_args, False),
        allow_variable_data_keys=args.allow_variable_data_keys,
        inference=True,
    )
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    with DatadirWriter(args.output_dir) as writer:
        for keys, batch in loader:
            speech, lengths = batch["speech"], batch.get("speech_lengths")
            for row, key in enumerate(keys):
                wav = speech[row] if lengths is None else speech[row, : int(lengths[row])]
                wav = fit_to_model(key, wav, audio.get(key, (MODEL_RATE, 1))[0])
                results = speech2text(wav)
                for n, (text, tokens, token_int, hyp) in enumerate(results, start=1):
                    out = writer[f"{n}best_recog"]
                    out["token"][key] = " ".join(tokens)
                    out["token_int"][key] = " ".join(map(str, token_int))
                    out["score"][key] = str(float(hyp.score))
                    if text is not None:
                        out["text"][key] = text
                if not results:
                    logging.warning("%s: no hypothesis", key)
                    out = writer["1best_recog"]
                    out["token"][key] = ""
                    out["token_int"][key] = ""
                    out["score"][key] = str(float("-inf"))
                    out["text"][key] = ""
                else:
                    logging.info("%s: %s", key, results[0][0])


def main(cmd: Optional[List[str]] = None) -> None:
    parser = get_parser()
    args = parser.parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    if not args.model_tag and not args.asr_train_config:
        fail("give --asr_train_config and --asr_model_file, or --model_tag")
    try:
        inference(args)
    except DataError as err:
        fail(str(err))
    except OSError as err:
        fail(f"{err.strerror or err}: {err.filename}" if err.filename else str(err))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main(sys.argv[1:])
