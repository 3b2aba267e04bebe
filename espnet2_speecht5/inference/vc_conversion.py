"""Convert a set of source recordings with a trained SpeechT5 VC model (stage 9 of ``--task vc``).

This is the body of ``python -m espnet2_speecht5.bin.vc_inference`` (:class:`ConversionRequest`
has one field per option). It reads the source ``wav.scp`` (``speech``) and the target speakers'
x-vectors (``spembs``), converts ``batch_size`` utterances of similar length at a time on the
decoder's key/value cache and writes, under ``output_dir``:

* ``wav/<utt>.wav`` and ``wav.scp`` (16 kHz, from the vocoder);
* ``feats.ark`` / ``feats.scp``: the generated log10 mel (T, 80);
* ``speech_shape``: frames per utterance;
* ``plots/<utt>.mel.png`` and ``plots/<utt>.att.png`` for the first ``num_plots`` utterances
  (with the target speaker's recording above the conversion when ``ref_wav_scp`` is given).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import kaldiio
import numpy as np
import soundfile
from tqdm import tqdm

from espnet2_speecht5.data.kaldi_dir import iter_lines
from espnet2_speecht5.features.log_mel import log_mel
from espnet2_speecht5.inference.audio_input import load_input_audio, scan_sound_scp
from espnet2_speecht5.inference.speech2speech import Speech2Speech
from espnet2_speecht5.inference.speech2text import require_file
from espnet2_speecht5.inference.tts_plots import plot_attention, plot_mel
from espnet2_speecht5.inference.tts_synthesis import load_spembs, read_keys, read_ref_mels
from espnet2_speecht5.runtime.errors import DataError

HOP_SECONDS = 256 / 16000


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
    num_plots: int = 3


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
        prenet_dropout=request.prenet_dropout,
        seed=request.seed,
    )
    if vc.uses_speaker_embedding and spembs_path is None:
        raise DataError("the model uses target x-vectors: add 'xvector.scp,spembs,kaldi_ark' to the data")
    out = Path(request.output_dir)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    keys = list(sources)
    plot_keys = set(keys[: max(request.num_plots, 0)])
    refs = read_ref_mels(request.ref_wav_scp, plot_keys)
    start = time.perf_counter()
    frames_total = 0
    with (
        kaldiio.WriteHelper(f"ark,scp:{out / 'feats.ark'},{out / 'feats.scp'}") as feats_writer,
        open(out / "wav.scp", "w", encoding="utf-8") as wav_scp,
        open(out / "speech_shape", "w", encoding="utf-8") as shapes,
    ):
        progress = tqdm(total=len(keys), desc="conversion", unit="utt", file=sys.stderr, disable=None)
        # similar lengths together: less padding for the conv front end and the encoder
        order = sorted(keys, key=lambda k: os.path.getsize(sources[k]))
        for first in range(0, len(order), request.batch_size):
            batch = order[first : first + request.batch_size]
            spembs = list(load_spembs(spembs_path, batch)) if vc.uses_speaker_embedding else None
            results = vc.generate_batch([read_source(key, sources[key]) for key in batch], spembs,
                                        return_attention=any(k in plot_keys for k in batch))
            for key, result in zip(batch, results):
                feats_writer(key, result.mel)
                shapes.write(f"{key} {len(result.mel)},{result.mel.shape[1]}\n")
                frames_total += len(result.mel)
                if result.wav is not None:
                    wav_path = (out / "wav" / f"{key}.wav").resolve()
                    soundfile.write(wav_path, result.wav, vc.sample_rate, subtype="PCM_16")
                    wav_scp.write(f"{key} {wav_path}\n")
                if key in plot_keys:
                    reference = None
                    if key in refs:
                        reference = log_mel(load_input_audio(refs[key])).numpy()
                    plot_mel(out / "plots" / f"{key}.mel.png", result.mel, result.stop_probs,
                             f"{key}: target recording (top) and conversion", reference)
                    if result.attention is not None:
                        plot_attention(out / "plots" / f"{key}.att.png", result.attention, key)
                logging.info("%s: %d frames (%.2f s)", key, len(result.mel), len(result.mel) * HOP_SECONDS)
            progress.update(len(batch))
        progress.close()
    elapsed = time.perf_counter() - start
    audio_seconds = frames_total * HOP_SECONDS
    logging.info("converted %d utterances (%.1f s of audio) in %.1f s (real-time factor %.3f); outputs in %s",
                 len(keys), audio_seconds, elapsed, elapsed / max(audio_seconds, 1e-9), out)
