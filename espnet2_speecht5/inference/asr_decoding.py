"""Decode a data set with a trained SpeechT5 ASR model (joint CTC/attention beam search, optional LM).

This is the body of ``python -m espnet2_speecht5.bin.asr_inference``, whose options follow
``espnet2.bin.asr_inference`` (:class:`DecodeRequest` has one field per option). It writes
``OUTPUT_DIR/<n>best_recog/{text,token,token_int,score}`` (Kaldi-style ``key value`` lines, as
ESPnet's ``DatadirWriter`` does). A missing model, LM or data file raises a one-line
:class:`~espnet2_speecht5.runtime.errors.DataError` naming it; so does a missing or unreadable
audio file of the ``sound`` scp, named with its line and utterance before decoding starts. Audio
at another sample rate than the model's 16 kHz is resampled, and multi-channel audio averaged,
each with a log line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from espnet2.fileio.datadir_writer import DatadirWriter

from espnet2_speecht5.data.kaldi_dir import iter_lines
from espnet2_speecht5.inference.audio_input import MODEL_RATE, fit_to_model, scan_sound_scp
from espnet2_speecht5.inference.speech2text import Speech2Text, require_file
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.tasks.asr import ASRTask


@dataclass
class DecodeRequest:
    """What to decode and how; the options of ``asr_inference`` (see its ``--help``)."""

    output_dir: str
    data_path_and_name_and_type: List[Tuple[str, str, str]]
    key_file: Optional[str] = None
    allow_variable_data_keys: bool = False
    ngpu: int = 0
    seed: int = 0
    dtype: str = "float32"
    num_workers: int = 1
    asr_train_config: Optional[str] = None
    asr_model_file: Optional[str] = None
    lm_train_config: Optional[str] = None
    lm_file: Optional[str] = None
    model_tag: Optional[str] = None
    batch_size: int = 1
    nbest: int = 1
    beam_size: int = 10
    penalty: float = 0.0
    maxlenratio: float = 0.0
    minlenratio: float = 0.0
    ctc_weight: Optional[float] = None
    lm_weight: float = 0.0
    token_type: Optional[str] = None
    bpemodel: Optional[str] = None
    quantize_model: bool = False
    bf16_encoder: bool = False


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


def decode_set(request: DecodeRequest) -> None:
    """Decode every utterance of the data (or of ``key_file``) and write the n-best results.

    Raises:
        DataError: a missing model, LM or data file, an unreadable audio file (named with its line
            and utterance, before decoding starts), or ``ngpu`` above 1.
    """
    audio = check_inputs(request.data_path_and_name_and_type, request.key_file)
    other_rates = sorted({rate for rate, _ in audio.values() if rate != MODEL_RATE})
    if other_rates:
        logging.warning(
            "%d utterance(s) are not at %d Hz (%s Hz) and are resampled before decoding; "
            "stage 3 (espnet2_speecht5.bin.dump_audio) converts a set once",
            sum(1 for rate, _ in audio.values() if rate != MODEL_RATE), MODEL_RATE, ", ".join(map(str, other_rates)),
        )
    if request.ngpu > 1:
        raise DataError("--ngpu must be 0 or 1 (run several jobs for more)")
    device = "cuda" if request.ngpu > 0 else "cpu"
    torch.manual_seed(request.seed)
    options = dict(
        lm_train_config=request.lm_train_config,
        lm_file=request.lm_file,
        token_type=request.token_type,
        bpemodel=request.bpemodel,
        device=device,
        beam_size=request.beam_size,
        ctc_weight=request.ctc_weight,
        lm_weight=request.lm_weight,
        penalty=request.penalty,
        maxlenratio=request.maxlenratio,
        minlenratio=request.minlenratio,
        nbest=request.nbest,
        dtype=request.dtype,
        quantize_model=request.quantize_model,
        bf16_encoder=request.bf16_encoder,
    )
    if request.model_tag:
        speech2text = Speech2Text.from_pretrained(request.model_tag, **options)
    else:
        speech2text = Speech2Text(request.asr_train_config, request.asr_model_file, **options)

    loader = ASRTask.build_streaming_iterator(
        data_path_and_name_and_type=request.data_path_and_name_and_type,
        dtype=request.dtype,
        batch_size=request.batch_size,
        key_file=request.key_file,
        num_workers=request.num_workers,
        preprocess_fn=ASRTask.build_preprocess_fn(speech2text.asr_train_args, False),
        collate_fn=ASRTask.build_collate_fn(speech2text.asr_train_args, False),
        allow_variable_data_keys=request.allow_variable_data_keys,
        inference=True,
    )
    Path(request.output_dir).mkdir(parents=True, exist_ok=True)
    with DatadirWriter(request.output_dir) as writer:
        for keys, batch in loader:
            speech, lengths = batch["speech"], batch.get("speech_lengths")
            wavs = []
            for row, key in enumerate(keys):
                wav = speech[row] if lengths is None else speech[row, : int(lengths[row])]
                wavs.append(fit_to_model(key, wav, audio.get(key, (MODEL_RATE, 1))[0]))
            # batch_size > 1: the utterances of a batch are beam-searched together
            for key, results in zip(keys, speech2text.batch(wavs)):
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
