"""Speech2Speech: voice conversion (VC) and speech enhancement (SE) with a SpeechT5 speech-to-speech network.

The source waveform goes through the speech-encoder pre-net and the encoder; the decoder then
generates log-mel frames, r at a time, conditioned on the target speaker's x-vector, until the
stop probability reaches ``threshold``; a vocoder (Griffin-Lim by default, or HiFi-GAN) makes
the waveform. For SE the "target speaker" is the speaker of the noisy input.

Our recipes do not fine-tune VC or SE yet, so the networks come from elsewhere:

* a transformers ``SpeechT5ForSpeechToSpeech`` folder (e.g. microsoft/speecht5_vc), local or by
  Hugging Face id, converted on load;
* our converted checkpoint (``python -m espnet2_speecht5.bin.convert_checkpoint hf2ours`` or
  ``fairseq2ours``): a ``.pth`` / ``.safetensors`` with its JSON sidecar, network ``s2s``.

Example::

    vc = Speech2Speech.from_pretrained("microsoft/speecht5_vc", vocoder="hifigan", vocoder_file="hifigan/")
    wav = vc("source.wav", speaker="target_xvector.npy")
    soundfile.write("converted.wav", wav, vc.sample_rate)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from espnet2_speecht5.checkpoint.convert import check_state, read_hf_folder, read_ours
from espnet2_speecht5.inference.audio_input import AudioInput, load_input_audio
from espnet2_speecht5.nets.compositions import SpeechToSpeech, build_network
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike
from espnet2_speecht5.search.greedy import generate_speech

SpeakerInput = Union[None, str, Path, np.ndarray, torch.Tensor]
WEIGHT_SUFFIXES = (".pth", ".safetensors")


def load_s2s_network(source: PathLike) -> SpeechToSpeech:
    """A speech-to-speech network from a transformers folder or our checkpoint with its sidecar."""
    source = Path(source)
    if source.is_dir():
        converted, unknown = read_hf_folder(source)
    elif source.suffix in WEIGHT_SUFFIXES:
        converted, unknown = read_ours(source)
    else:
        raise DataError("is neither a transformers folder nor a .pth/.safetensors checkpoint", source)
    if converted.kind != "s2s":
        raise DataError(f"holds a '{converted.kind}' network, not a speech-to-speech ('s2s') one", source)
    state = check_state(converted, source, unknown)
    net = build_network("s2s", converted.cfg)
    net.load_state_dict(state, strict=True)
    return net.eval()


class Speech2Speech:
    """Source waveform (+ target x-vector) -> converted or enhanced waveform.

    Args:
        model: a transformers ``SpeechT5ForSpeechToSpeech`` folder, or our s2s checkpoint.
        device: ``cpu`` or ``cuda``.
        threshold, minlenratio, maxlenratio: stop rule of :func:`~espnet2_speecht5.search.greedy.generate_speech`.
        vocoder, vocoder_file: ``griffin_lim`` (default) or ``hifigan`` with its folder/checkpoint.
        prenet_dropout: keep the decoder pre-net dropout on while generating (SpeechT5 does).
        seed: seeds that dropout, so that a run is reproducible.
    """

    sample_rate = 16000

    def __init__(
        self,
        model: PathLike,
        device: str = "cpu",
        threshold: float = 0.5,
        minlenratio: float = 0.0,
        maxlenratio: float = 20.0,
        vocoder: str = "griffin_lim",
        vocoder_file: Optional[str] = None,
        prenet_dropout: bool = True,
        seed: int = 0,
    ) -> None:
        self.net = load_s2s_network(model).to(device)
        self.net.speech_decoder_prenet.always_dropout = prenet_dropout
        self.device = device
        self.threshold = threshold
        self.minlenratio = minlenratio
        self.maxlenratio = maxlenratio
        self.seed = seed
        from espnet2_speecht5.vocoder import build_vocoder

        self.vocoder = None if vocoder == "none" else build_vocoder(vocoder, vocoder_file)

    @classmethod
    def from_pretrained(cls, model_tag: str, cache_dir: Optional[PathLike] = None, **kwargs: Any) -> Speech2Speech:
        """Build from a transformers folder or Hugging Face id, a URL of one, or our s2s checkpoint file."""
        path = Path(str(model_tag)).expanduser()
        if path.is_file() and path.suffix in WEIGHT_SUFFIXES:
            return cls(path, **kwargs)
        from espnet2_speecht5.hub.resolve import resolve

        resolved = resolve(model_tag, cache_dir)
        if resolved.layout != "transformers":
            raise DataError("is an ESPnet model-zoo model; our recipes do not pack voice conversion or "
                            "enhancement models yet: pass a transformers SpeechT5ForSpeechToSpeech folder", model_tag)
        return cls(resolved.root, **kwargs)

    @property
    def speaker_dim(self) -> int:
        return self.net.cfg.speaker_embedding_dim

    def _speaker(self, speaker: SpeakerInput) -> Optional[torch.Tensor]:
        if speaker is None:
            return None
        if isinstance(speaker, (str, Path)):
            path = Path(speaker)
            if not path.is_file():
                raise DataError("no such speaker x-vector file (.npy)", path)
            speaker = np.load(path, allow_pickle=False)
        vector = torch.as_tensor(np.asarray(speaker, dtype=np.float32).reshape(-1), device=self.device)
        if vector.numel() != self.speaker_dim:
            raise DataError(f"a speaker x-vector has {self.speaker_dim} values, got {vector.numel()}")
        return vector[None]

    @torch.no_grad()
    def mel(self, audio: AudioInput, speaker: SpeakerInput = None, rate: Optional[int] = None) -> torch.Tensor:
        """(T, 80) log10-mel of the output for one source utterance (a file path or (L,) waveform)."""
        wav = torch.from_numpy(load_input_audio(audio, rate)).to(self.device)[None]
        enc = self.net.encode(wav, torch.tensor([wav.size(1)], device=self.device))
        torch.manual_seed(self.seed)
        out = generate_speech(self.net, enc, self._speaker(speaker), threshold=self.threshold,
                              minlenratio=self.minlenratio, maxlenratio=self.maxlenratio)
        return out.mel[0, : int(out.lengths[0])]

    def __call__(self, audio: AudioInput, speaker: SpeakerInput = None, rate: Optional[int] = None) -> np.ndarray:
        """One source utterance -> (N,) float32 waveform at 16 kHz.

        Args:
            audio: a file path, or a (L,) waveform at ``rate`` (default 16 kHz).
            speaker: the target speaker's x-vector: a (D,) array or a ``.npy`` file.
        """
        if self.vocoder is None:
            raise DataError("this Speech2Speech was built with vocoder='none': use .mel()")
        return self.vocoder(self.mel(audio, speaker, rate)).cpu().numpy()

    convert = __call__
