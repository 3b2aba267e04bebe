"""Intelligibility of synthesised speech: recognise it with a trained ASR model, score with sclite.

:class:`Recogniser` wraps :class:`espnet2_speecht5.inference.speech2text.Speech2Text` (joint
CTC/attention beam search; options from a decode YAML such as ``conf/decode.yaml``) and keeps the
best hypothesis.  The network is built from the training config and its weights are loaded with
``torch.load(weights_only=True)``.  :func:`score_intelligibility` then scores the recognised text
against the reference transcripts exactly like stage 10 of ASR: ``score_cer/`` and
``score_wer/`` with sclite's ``result.txt`` (see :mod:`espnet2_speecht5.scoring.sclite`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import numpy as np

from espnet2_speecht5.checkpoint.weights import load_weights
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike
from espnet2_speecht5.scoring.sclite import ScliteResult, score

ASR_RATE = 16000  # SpeechT5's speech encoder pre-net takes 16 kHz waveforms
INTELLIGIBILITY_METRICS = ("cer", "wer")
DECODE_OPTIONS = ("beam_size", "ctc_weight", "lm_weight", "penalty", "maxlenratio", "minlenratio", "nbest",
                  "batch_size", "quantize_model", "bf16_encoder")


def read_decode_config(path: Optional[PathLike]) -> Dict[str, Any]:
    """Beam-search options from a decode YAML (keys of :data:`DECODE_OPTIONS`); ``{}`` for None.

    ``nbest`` is accepted and ignored: only the best hypothesis is scored; so is ``batch_size`` (stage 9's
    utterance batches give the same hypotheses as one at a time, which is how the scorer decodes).
    ``quantize_model`` and ``bf16_encoder`` go to the recogniser as they do in stage 9.

    Raises:
        DataError: a missing file, not a mapping, or an unknown key.
    """
    if path is None:
        return {}
    import yaml

    path = Path(path)
    if not path.is_file():
        raise DataError("--asr_decode_config: no such file", path)
    try:
        options = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise DataError(f"not valid YAML ({str(err).splitlines()[0]})", path) from None
    if not isinstance(options, dict):
        raise DataError("is not a YAML mapping", path)
    unknown = sorted(set(options) - set(DECODE_OPTIONS))
    if unknown:
        raise DataError(f"unknown decoding option '{unknown[0]}' (known: {', '.join(DECODE_OPTIONS)})", path)
    options.pop("nbest", None)
    options.pop("batch_size", None)
    return options


class Recogniser:
    """16 kHz waveform -> best transcript, with a trained SpeechT5 ASR model.

    Args:
        train_config: the ASR training's ``config.yaml``.
        model_file: its parameters (``*.pth``).
        decode_options: beam-search options (:func:`read_decode_config`).
        device: ``cpu`` or ``cuda``.
    """

    rate = ASR_RATE

    def __init__(
        self,
        train_config: PathLike,
        model_file: PathLike,
        decode_options: Optional[Mapping[str, Any]] = None,
        device: str = "cpu",
    ) -> None:
        from espnet2_speecht5.inference.speech2text import Speech2Text, require_file

        model_file = require_file(model_file, "--asr_model_file")
        # No model_file here: ESPnet would unpickle it with weights_only=False; load it below instead.
        self.speech2text = Speech2Text(train_config, None, device=device, nbest=1, **dict(decode_options or {}))
        load_weights(self.speech2text.model, model_file)
        self.speech2text.model.eval()

    def __call__(self, wav: np.ndarray) -> str:
        """The best transcript of one (num_samples,) signal sampled at 16 kHz ("" when none)."""
        results = self.speech2text(np.ascontiguousarray(wav, dtype=np.float32))
        if not results or results[0][0] is None:
            return ""
        return results[0][0]


def score_intelligibility(
    ref_text: Mapping[str, str],
    asr_text: Mapping[str, str],
    outdir: PathLike,
    utt2spk: Optional[Mapping[str, str]] = None,
) -> Dict[str, ScliteResult]:
    """sclite's CER and WER of ``asr_text`` against ``ref_text``, reports in ``outdir/score_<metric>/``.

    Returns:
        ``{"cer": result, "wer": result}``.
    """
    outdir = Path(outdir)
    return {
        metric: score(ref_text, asr_text, outdir / f"score_{metric}", metric, utt2spk=utt2spk)
        for metric in INTELLIGIBILITY_METRICS
    }
