"""Classify a data set with a trained SpeechT5 SID model: the body of ``bin/sid_inference``.

Writes, under ``output_dir``, Kaldi-style lines sorted by utterance:

* ``label``: ``<utt> <best speaker>``;
* ``top5``: ``<utt> <speaker>:<probability> ...``, the five best (fewer if the model knows fewer).

An unreadable audio file of the ``sound`` scp stops with one line naming it, before anything is
classified; audio at another rate is resampled and multi-channel audio averaged, with a log line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch

from espnet2_speecht5.data.kaldi_dir import atomic_write_text
from espnet2_speecht5.inference.asr_decoding import check_inputs
from espnet2_speecht5.inference.audio_input import MODEL_RATE, fit_to_model
from espnet2_speecht5.inference.speech2label import Speech2Label, top_labels
from espnet2_speecht5.runtime.errors import DataError

TOP_K = 5


@dataclass
class ClassifyRequest:
    """What to classify; the options of ``sid_inference`` (see its ``--help``)."""

    output_dir: str
    data_path_and_name_and_type: List[Tuple[str, str, str]]
    classification_train_config: str
    classification_model_file: str
    key_file: Optional[str] = None
    batch_size: int = 1
    ngpu: int = 0
    num_workers: int = 0
    quantize_model: bool = False
    bf16_encoder: bool = False


def format_top(best: List[Tuple[str, float]]) -> str:
    """``[("spk_a", 0.91), ...]`` -> ``"spk_a:0.9100 ..."``."""
    return " ".join(f"{label}:{prob:.4f}" for label, prob in best)


def classify_set(request: ClassifyRequest) -> Dict[str, str]:
    """Classify every utterance of the data (or of ``key_file``); returns ``{utt: best speaker}``.

    Raises:
        DataError: a missing model or data file, an unreadable audio file, or ``ngpu`` above 1.
    """
    from espnet2_speecht5.tasks.sid import SIDTask

    audio = check_inputs(request.data_path_and_name_and_type, request.key_file)
    if request.ngpu > 1:
        raise DataError("--ngpu must be 0 or 1 (run several jobs for more)")
    sid = Speech2Label(request.classification_train_config, request.classification_model_file,
                       device="cuda" if request.ngpu > 0 else "cpu", quantize_model=request.quantize_model,
                       bf16_encoder=request.bf16_encoder)
    loader = SIDTask.build_streaming_iterator(
        data_path_and_name_and_type=request.data_path_and_name_and_type,
        dtype="float32",
        batch_size=request.batch_size,
        key_file=request.key_file,
        num_workers=request.num_workers,
        preprocess_fn=None,
        collate_fn=SIDTask.build_collate_fn(sid.train_args, False),
        inference=True,
    )
    labels, best, tops = sid.labels, {}, {}
    for keys, batch in loader:
        speech, lengths = batch["speech"], batch["speech_lengths"]
        wavs = [fit_to_model(key, speech[row, : int(lengths[row])], audio.get(key, (MODEL_RATE, 1))[0])
                for row, key in enumerate(keys)]
        padded = torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True)
        log_probs = sid.batch_scores(padded, torch.tensor([w.numel() for w in wavs]))
        for key, row in zip(keys, log_probs):
            top = top_labels(row, labels, TOP_K)
            best[key], tops[key] = top[0][0], format_top(top)
            logging.info("%s: %s", key, tops[key])
    out = Path(request.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    order = sorted(best, key=lambda utt: utt.encode("utf-8"))
    atomic_write_text(out / "label", "".join(f"{utt} {best[utt]}\n" for utt in order))
    atomic_write_text(out / "top5", "".join(f"{utt} {tops[utt]}\n" for utt in order))
    logging.info("classified %d utterances with the %s head: %s", len(best), sid.head, out / "label")
    return best
