"""Convert a set of source recordings with a trained SpeechT5 VC or SE model (stage 9 of ``--task vc|se``).

This is the body of ``python -m espnet2_speecht5.bin.vc_inference`` (:class:`ConversionRequest`
has one field per option). It reads the source ``wav.scp`` (``speech``) and the target speakers'
x-vectors (``spembs``), converts ``batch_size`` utterances of similar length at a time on the
decoder's key/value cache and writes, under ``output_dir``:

* ``wav/<utt>.wav`` and ``wav.scp`` (16 kHz, from the vocoder);
* ``feats.ark`` / ``feats.scp``: the generated log10 mel (T, 80);
* ``speech_shape``: frames per utterance;
* ``plots/<utt>.mel.png`` and ``plots/<utt>.att.png`` for the first ``num_plots`` utterances
  (with the target speaker's recording above the conversion when ``ref_wav_scp`` is given)

(:class:`~espnet2_speecht5.inference.speech_set_writer.GeneratedSetWriter`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from espnet2_speecht5.data.kaldi_dir import iter_lines
from espnet2_speecht5.inference.audio_input import load_input_audio, scan_sound_scp
from espnet2_speecht5.inference.speech2speech import Speech2Speech
from espnet2_speecht5.inference.speech2text import require_file
from espnet2_speecht5.inference.speech_set_writer import GeneratedSetWriter, generation_settings
from espnet2_speecht5.inference.tts_synthesis import load_spembs, read_keys, read_ref_mels
from espnet2_speecht5.runtime.errors import DataError


@dataclass
class ConversionRequest:
    """What to convert and how; the options of ``vc_inference`` (see its ``--help``)."""

    output_dir: str
    data_path_and_name_and_type: List[Tuple[str, str, str]]
    s2st_train_config: str
    s2st_model_file: str
    key_file: Optional[str] = None
    ref_wav_scp: Optional[str] = None
    ngpu: int = 0
    seed: int = 0
    batch_size: int = 1
    threshold: float = 0.5
    minlenratio: float = 0.0
    maxlenratio: float = 10.0
    prenet_dropout: Optional[bool] = None
    vocoder: str = "griffin_lim"
    vocoder_file: Optional[str] = None
    vocoder_conf: Optional[Dict[str, Any]] = None
    num_plots: int = 3
    quantize_model: bool = False
    # what the log and the plot titles call the output and the reference (se: enhanced, clean)
    output_word: str = "converted"
    reference_word: str = "target"


def split_inputs(data: Sequence[Tuple[str, str, str]]) -> Tuple[str, Optional[str]]:
    """The source wav.scp and the x-vector scp among ``--data_path_and_name_and_type``."""
    speech_path = spembs_path = None
    for path, name, kind in data:
        require_file(path, "--data_path_and_name_and_type")
        if name == "speech":
            if kind != "sound":
                raise DataError(f"speech must be of type sound, not {kind}", path)
            speech_path = path
        elif name == "spembs":
            if kind not in ("kaldi_ark", "npy"):
                raise DataError(f"spembs must be of type kaldi_ark, not {kind}", path)
            spembs_path = path
        else:
            raise DataError(f"unexpected data name '{name}' (expected speech and spembs)", path)
    if speech_path is None:
        raise DataError("no 'speech' (the source wav.scp) in --data_path_and_name_and_type")
    return speech_path, spembs_path


def read_sources(path: str, keys: Optional[List[str]]) -> Dict[str, str]:
    """{utt: audio file} of the source ``wav.scp`` (or of its ``keys``), each file's header checked first."""
    scan_sound_scp(path, keys)
    sources = {utt: value for _, utt, value in iter_lines(path)}
    return {k: sources[k] for k in keys} if keys is not None else sources


def read_source(utt: str, path: str) -> np.ndarray:
    """(L,) float32 16 kHz source waveform; an unreadable file is a one-line error naming the utterance."""
    try:
        return load_input_audio(path)
    except DataError as err:
        raise DataError(err.message, err.path or path, utt=utt) from None


def convert_set(request: ConversionRequest) -> None:
    """Convert every source utterance (or those of ``key_file``) into ``output_dir``.

    Raises:
        DataError: a missing or undecodable input file, a missing x-vector, or bad options.
    """
    speech_path, spembs_path = split_inputs(request.data_path_and_name_and_type)
    sources = read_sources(speech_path, read_keys(request.key_file))
    if request.ngpu > 1:
        raise DataError("--ngpu must be 0 or 1 (run several jobs for more)")
    if request.batch_size < 1:
        raise DataError(f"--batch_size must be at least 1, got {request.batch_size}")
    vc = Speech2Speech(
        s2st_train_config=request.s2st_train_config,
        s2st_model_file=request.s2st_model_file,
        device="cuda" if request.ngpu > 0 else "cpu",
        threshold=request.threshold,
        minlenratio=request.minlenratio,
        maxlenratio=request.maxlenratio,
        vocoder=request.vocoder,
        vocoder_file=request.vocoder_file,
        vocoder_conf=request.vocoder_conf,
        prenet_dropout=request.prenet_dropout,
        seed=request.seed,
        quantize_model=request.quantize_model,
    )
    if vc.uses_speaker_embedding and spembs_path is None:
        raise DataError("the model uses target x-vectors: add 'xvector.scp,spembs,kaldi_ark' to the data")
    keys = list(sources)
    plot_keys = set(keys[: max(request.num_plots, 0)])
    refs = read_ref_mels(request.ref_wav_scp, plot_keys)
    # similar lengths together: less padding for the conv front end and the encoder
    order = sorted(keys, key=lambda k: os.path.getsize(sources[k]))
    settings = generation_settings(request.seed, vc.net.speech_decoder_prenet, request.vocoder)
    with GeneratedSetWriter(Path(request.output_dir), request.output_word, settings) as writer:
        progress = tqdm(total=len(order), desc=request.output_word, unit="utt", file=sys.stderr, disable=None)
        for first in range(0, len(order), request.batch_size):
            batch = order[first : first + request.batch_size]
            spembs = list(load_spembs(spembs_path, batch)) if vc.uses_speaker_embedding else None
            results = vc.generate_batch([read_source(key, sources[key]) for key in batch], spembs,
                                        return_attention=any(k in plot_keys for k in batch))
            for key, result in zip(batch, results):
                title = (f"{key}: {request.reference_word} recording (top) and {request.output_word} speech"
                         if key in plot_keys else None)
                writer.add(key, result.mel, result.wav, result.stop_probs, result.attention, title, refs.get(key))
            progress.update(len(batch))
        progress.close()
