"""Synthesise a text set with a trained SpeechT5 TTS model (stage 9 of ``--task tts``).

This is the body of ``python -m espnet2_speecht5.bin.tts_inference`` (:class:`SynthesisRequest` has
one field per option). It reads ``text`` (and ``spembs`` x-vectors) like ESPnet's
``tts_inference``, synthesises ``batch_size`` utterances at a time and writes, under ``output_dir``:

* ``wav/<utt>.wav`` and ``wav.scp`` (16 kHz, from the vocoder);
* ``feats.ark`` / ``feats.scp``: the generated log10 mel (T, 80);
* ``speech_shape``: frames per utterance;
* ``plots/<utt>.mel.png`` and ``plots/<utt>.att.png`` for the first ``num_plots`` utterances
  (with the recording's mel above the synthesised one when ``ref_wav_scp`` is given)

(:class:`~espnet2_speecht5.inference.speech_set_writer.GeneratedSetWriter`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import kaldiio
import numpy as np
from tqdm import tqdm

from espnet2_speecht5.inference.speech2text import require_file
from espnet2_speecht5.inference.speech_set_writer import GeneratedSetWriter, generation_settings
from espnet2_speecht5.inference.text2speech import Text2Speech
from espnet2_speecht5.runtime.errors import DataError


@dataclass
class SynthesisRequest:
    """What to synthesise and how; the options of ``tts_inference`` (see its ``--help``)."""

    output_dir: str
    data_path_and_name_and_type: List[Tuple[str, str, str]]
    train_config: str
    model_file: str
    key_file: Optional[str] = None
    ref_wav_scp: Optional[str] = None
    ngpu: int = 0
    seed: int = 0
    batch_size: int = 8
    threshold: float = 0.5
    minlenratio: float = 0.0
    maxlenratio: float = 10.0
    prenet_dropout: Optional[bool] = None
    vocoder: str = "griffin_lim"
    vocoder_file: Optional[str] = None
    vocoder_conf: Optional[Dict[str, Any]] = None
    num_plots: int = 3
    quantize_model: bool = False


def read_text(path: str, keys: Optional[List[str]]) -> Dict[str, str]:
    """``utt text`` lines -> {utt: text}; an empty text is a one-line error naming its line."""
    texts: Dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split(maxsplit=1)
            if len(parts) < 2 or not parts[1].strip():
                raise DataError("empty text", path, number, parts[0])
            texts[parts[0]] = parts[1].strip()
    if keys is not None:
        missing = [k for k in keys if k not in texts]
        if missing:
            raise DataError(f"no text for {len(missing)} utterance(s) of the key file, e.g. '{missing[0]}'", path)
        texts = {k: texts[k] for k in keys}
    return texts


def read_keys(path: Optional[str]) -> Optional[List[str]]:
    if path is None:
        return None
    with open(require_file(path, "--key_file"), encoding="utf-8") as f:
        return [line.split(maxsplit=1)[0] for line in f if line.strip()]


def split_inputs(data: Sequence[Tuple[str, str, str]]) -> Tuple[str, Optional[str]]:
    """The text file and the x-vector scp among ``--data_path_and_name_and_type``."""
    text_path = spembs_path = None
    for path, name, kind in data:
        require_file(path, "--data_path_and_name_and_type")
        if name == "text":
            text_path = path
        elif name == "spembs":
            if kind not in ("kaldi_ark", "npy"):
                raise DataError(f"spembs must be of type kaldi_ark, not {kind}", path)
            spembs_path = path
        else:
            raise DataError(f"unexpected data name '{name}' (expected text and spembs)", path)
    if text_path is None:
        raise DataError("no 'text' in --data_path_and_name_and_type")
    return text_path, spembs_path


def load_spembs(path: str, keys: Sequence[str]) -> np.ndarray:
    """(B, D) x-vectors of ``keys`` from a Kaldi scp; a missing utterance is a one-line error."""
    table = kaldiio.load_scp(path)
    rows = []
    for key in keys:
        if key not in table:
            raise DataError("no speaker embedding for this utterance", path, utt=key)
        rows.append(np.asarray(table[key], dtype=np.float32).reshape(-1))
    return np.stack(rows)


def read_ref_mels(path: Optional[str], keys: Sequence[str]) -> Dict[str, str]:
    if path is None:
        return {}
    table: Dict[str, str] = {}
    with open(require_file(path, "--ref_wav_scp"), encoding="utf-8") as f:
        for line in f:
            parts = line.split(maxsplit=1)
            if len(parts) == 2 and parts[0] in keys:
                table[parts[0]] = parts[1].strip()
    return table


def synthesize_set(request: SynthesisRequest) -> None:
    """Synthesise every utterance of the text (or of ``key_file``) into ``output_dir``.

    Raises:
        DataError: a missing input file, an empty text, a missing speaker embedding, or bad options.
    """

    text_path, spembs_path = split_inputs(request.data_path_and_name_and_type)
    texts = read_text(text_path, read_keys(request.key_file))
    if request.ngpu > 1:
        raise DataError("--ngpu must be 0 or 1 (run several jobs for more)")
    if request.batch_size < 1:
        raise DataError(f"--batch_size must be at least 1, got {request.batch_size}")
    device = "cuda" if request.ngpu > 0 else "cpu"
    tts = Text2Speech(
        request.train_config,
        request.model_file,
        device=device,
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
    if tts.uses_speaker_embedding and spembs_path is None:
        raise DataError("the model uses speaker embeddings: add 'xvector.scp,spembs,kaldi_ark' to the data")
    keys = list(texts)
    plot_keys = set(keys[: max(request.num_plots, 0)])
    refs = read_ref_mels(request.ref_wav_scp, plot_keys)
    # Similar lengths together: less padding, and stopped rows leave the batch together.
    order = sorted(keys, key=lambda k: len(texts[k]))
    settings = generation_settings(request.seed, tts.model.net.speech_decoder_prenet)
    with GeneratedSetWriter(Path(request.output_dir), "synthesised", settings) as writer:
        progress = tqdm(total=len(order), desc="synthesis", unit="utt", file=sys.stderr, disable=None)
        for first in range(0, len(order), request.batch_size):
            batch = order[first : first + request.batch_size]
            spembs = load_spembs(spembs_path, batch) if tts.uses_speaker_embedding else None
            want_attention = any(k in plot_keys for k in batch)
            results = tts([texts[k] for k in batch], spembs, keys=batch, return_attention=want_attention)
            for key, result in zip(batch, results):
                title = f"{key}: {texts[key]}" if key in plot_keys else None
                writer.add(key, result.mel, result.wav, result.stop_probs, result.attention, title, refs.get(key))
            progress.update(len(batch))
        progress.close()
