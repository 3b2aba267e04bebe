"""Speech2Label: speaker identification (SID) with a SpeechT5 speech-to-text model.

SpeechT5 treats SID as speech-to-text with one output token: the decoder runs a single step
from the start token, cross-attends to the whole utterance (an attention pooling) and its
output layer scores every speaker. A model of our ASR task whose token list holds speaker
labels (``token_type: word``, one label per utterance as its text) is such a model; the special
tokens ``<blank>``, ``<unk>`` and ``<sos/eos>`` are never predicted.

Example::

    sid = Speech2Label.from_pretrained("exp/sid/sid_valid.acc.best.zip")
    print(sid("speech.wav"))            # 'id10270'
    print(sid.top("speech.wav", k=3))   # [('id10270', 0.91), ...]
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Tuple

import torch

from espnet2_speecht5.inference.audio_input import AudioInput, load_input_audio
from espnet2_speecht5.inference.speech2text import load_asr_model
from espnet2_speecht5.models.asr import SpeechT5ASRModel
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

SPECIAL_TOKENS = ("<blank>", "<unk>", "<sos/eos>")


class Speech2Label:
    """Waveform -> one label (e.g. a speaker id) out of the model's token list.

    Args:
        asr_train_config, asr_model_file: ``config.yaml`` and weights of a speech-to-text model
            whose tokens are the labels.
        device: ``cpu`` or ``cuda``.
    """

    def __init__(self, asr_train_config: PathLike, asr_model_file: Optional[PathLike] = None,
                 device: str = "cpu") -> None:
        model, args = load_asr_model(asr_train_config, asr_model_file, device)
        if not isinstance(model, SpeechT5ASRModel):
            raise DataError(f"not a SpeechT5 speech-to-text configuration ({type(model).__name__})", asr_train_config)
        self.model = model.eval()
        self.device = device
        self.token_list: List[str] = list(model.token_list or args.token_list)
        label_ids = [i for i, token in enumerate(self.token_list) if token not in SPECIAL_TOKENS]
        if not label_ids:
            raise DataError("the token list holds no labels besides the special tokens", asr_train_config)
        self.label_ids = torch.tensor(label_ids, dtype=torch.long, device=device)

    @property
    def labels(self) -> List[str]:
        """Every label the model can output, in token-list order."""
        return [self.token_list[i] for i in self.label_ids.tolist()]

    @classmethod
    def from_pretrained(cls, model_tag: str, cache_dir: Optional[PathLike] = None, **kwargs: Any) -> Speech2Label:
        """Build from a stage-12 zip, an unpacked or exported folder, an http(s) URL or a Hugging Face id.

        transformers has no SpeechT5 speaker-identification model, so its folders are refused.
        """
        from espnet2_speecht5.hub.resolve import resolve

        resolved = resolve(model_tag, cache_dir)
        if resolved.layout == "transformers":
            raise DataError("is a transformers folder: transformers has no SpeechT5 speaker-identification head, "
                            "so there is nothing to convert", resolved.root)
        for key, value in resolved.require("asr_train_config", "asr_model_file").items():
            kwargs.setdefault(key, value)
        return cls(**kwargs)

    @torch.no_grad()
    def scores(self, audio: AudioInput, rate: Optional[int] = None) -> torch.Tensor:
        """(N,) log-probabilities over :attr:`labels` for one utterance (file path or (L,) waveform)."""
        wav = torch.from_numpy(load_input_audio(audio, rate)).to(self.device)[None]
        enc, _ = self.model.encode(wav, torch.tensor([wav.size(1)], device=self.device))
        start = torch.full((1, 1), self.model.sos, dtype=torch.long, device=self.device)
        logits, _ = self.model.decoder_logits(enc, start)  # (1, 1, V), ESPnet order
        return torch.log_softmax(logits[0, 0].index_select(0, self.label_ids).float(), dim=-1)

    def top(self, audio: AudioInput, k: int = 5, rate: Optional[int] = None) -> List[Tuple[str, float]]:
        """The ``k`` most likely labels with their probabilities, best first."""
        scores = self.scores(audio, rate)
        values, indices = scores.topk(min(k, scores.numel()))
        labels = self.labels
        return [(labels[i], math.exp(v)) for v, i in zip(values.tolist(), indices.tolist())]

    def __call__(self, audio: AudioInput, rate: Optional[int] = None) -> str:
        """The most likely label of one utterance (a file path or a (L,) waveform at ``rate``, default 16 kHz)."""
        return self.top(audio, 1, rate)[0][0]
