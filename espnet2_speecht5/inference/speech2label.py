"""Speech2Label: speaker identification (SID) with a trained SpeechT5 SID model.

The model (:class:`~espnet2_speecht5.models.sid.SpeechT5SIDModel`) pools the utterance, by one
decoder step (SpeechT5's head) or by the mean and standard deviation of the encoder frames, and
scores every speaker of its training list.

Example::

    sid = Speech2Label.from_pretrained("exp/sid_train_word/sid_train_word_valid.acc.best.zip")
    print(sid("speech.wav"))            # 'id10270'
    print(sid.top("speech.wav", k=3))   # [('id10270', 0.91), ...]
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Tuple

import torch

from espnet2_speecht5.inference.audio_input import AudioInput, load_input_audio
from espnet2_speecht5.inference.precision import apply_quantization, check_bf16_encoder, encoder_autocast
from espnet2_speecht5.inference.speech2text import require_file
from espnet2_speecht5.models.sid import SpeechT5SIDModel
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike


def load_sid_model(config: PathLike, model_file: Optional[PathLike], device: str = "cpu") -> Tuple[Any, Any]:
    """Build the SID model from its training ``config.yaml`` and load ``model_file`` (no unpickling)."""
    from espnet2_speecht5.checkpoint.weights import load_weights
    from espnet2_speecht5.tasks.common import ConfigError
    from espnet2_speecht5.tasks.sid import SIDTask

    config = require_file(config, "--classification_train_config")
    try:
        model, args = SIDTask.build_model_from_file(config, None, device)
    except ConfigError as err:  # a config of another task: its model_conf does not fit
        raise DataError(f"not a SpeechT5 speaker-identification configuration ({err})", config) from None
    if not isinstance(model, SpeechT5SIDModel):
        raise DataError(f"not a SpeechT5 speaker-identification configuration ({type(model).__name__})", config)
    if model_file is not None:
        load_weights(model, require_file(model_file, "--classification_model_file"))
        model.to(device)
    return model.eval(), args


class Speech2Label:
    """Waveform -> one speaker out of the model's training list.

    Args:
        classification_train_config, classification_model_file: ``config.yaml`` and weights of a
            SID model (the names are those of ESPnet's ``classification`` pack kind).
        device: ``cpu`` or ``cuda``.
        quantize_model: int8 linear layers for CPU inference (:mod:`espnet2_speecht5.inference.precision`).
        bf16_encoder: run the encoder and the pooling under bf16 autocast (the same module).
    """

    def __init__(self, classification_train_config: PathLike, classification_model_file: Optional[PathLike] = None,
                 device: str = "cpu", quantize_model: bool = False, bf16_encoder: bool = False) -> None:
        self.model, self.train_args = load_sid_model(classification_train_config, classification_model_file, device)
        apply_quantization(self.model, quantize_model, device)
        check_bf16_encoder(bf16_encoder, device)
        self.bf16_encoder = bf16_encoder
        self.device = device

    @property
    def labels(self) -> List[str]:
        """Every speaker the model can output, in the order of its scores."""
        return self.model.labels

    @property
    def head(self) -> str:
        """``decoder`` (SpeechT5's attention pooling) or ``pooling`` (mean+std)."""
        return self.model.head

    @classmethod
    def from_pretrained(cls, model_tag: str, cache_dir: Optional[PathLike] = None, **kwargs: Any) -> Speech2Label:
        """Build from a stage-12 zip, an unpacked folder, an http(s) URL or a Hugging Face id.

        transformers has no SpeechT5 speaker-identification model, so its folders are refused.
        """
        from espnet2_speecht5.hub.resolve import resolve

        resolved = resolve(model_tag, cache_dir)
        if resolved.layout == "transformers":
            raise DataError("is a transformers folder: transformers has no SpeechT5 speaker-identification head, "
                            "so there is nothing to convert", resolved.root)
        for key, value in resolved.require("classification_train_config", "classification_model_file").items():
            kwargs.setdefault(key, value)
        return cls(**kwargs)

    @torch.no_grad()
    def batch_scores(self, speech: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, L) waveforms at 16 kHz with (B,) lengths -> (B, speakers) log-probabilities."""
        lengths = None if lengths is None else lengths.to(self.device)
        with encoder_autocast(self.bf16_encoder, self.device):
            logits, _ = self.model.label_logits(speech.to(self.device), lengths)
        return torch.log_softmax(logits.float(), dim=-1)

    def scores(self, audio: AudioInput, rate: Optional[int] = None) -> torch.Tensor:
        """(speakers,) log-probabilities for one utterance (a file path or a (L,) waveform)."""
        wav = torch.from_numpy(load_input_audio(audio, rate))[None]
        return self.batch_scores(wav)[0]

    def top(self, audio: AudioInput, k: int = 5, rate: Optional[int] = None) -> List[Tuple[str, float]]:
        """The ``k`` most likely speakers with their probabilities, best first."""
        return top_labels(self.scores(audio, rate), self.labels, k)

    def __call__(self, audio: AudioInput, rate: Optional[int] = None) -> str:
        """The most likely speaker of one utterance (a file path or a (L,) waveform at ``rate``, default 16 kHz)."""
        return self.top(audio, 1, rate)[0][0]


def top_labels(log_probs: torch.Tensor, labels: List[str], k: int) -> List[Tuple[str, float]]:
    """(N,) log-probabilities -> the ``k`` best ``(label, probability)``, best first (ties: list order)."""
    values, indices = log_probs.topk(min(k, log_probs.numel()))
    return [(labels[i], math.exp(v)) for v, i in zip(values.tolist(), indices.tolist())]
