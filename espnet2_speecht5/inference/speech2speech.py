"""Speech2Speech: voice conversion (VC) and speech enhancement (SE) with a SpeechT5 speech-to-speech network.

The source waveform goes through the speech-encoder pre-net and the encoder; the decoder then
generates log-mel frames, r at a time, conditioned on the target speaker's x-vector (VC; SE
models take none, or the x-vector of the noisy input), until the stop probability reaches
``threshold``; a vocoder (Griffin-Lim by default, or HiFi-GAN) makes the waveform.

The network comes from:

* a VC or SE training run of our recipes: its ``config.yaml`` and ``*.pth`` (``s2st_train_config``,
  ``s2st_model_file``), or the stage-12 zip (:meth:`Speech2Speech.from_pretrained`), whose
  packed target-speaker table lets ``speaker=`` be a name;
* a transformers ``SpeechT5ForSpeechToSpeech`` folder (e.g. microsoft/speecht5_vc), local or by
  Hugging Face id, converted on load;
* our converted checkpoint (``python -m espnet2_speecht5.bin.convert_checkpoint hf2ours`` or
  ``fairseq2ours``): a ``.pth`` / ``.safetensors`` with its JSON sidecar, network ``s2s``.

Example::

    vc = Speech2Speech.from_pretrained("exp/vc_train/vc_model.zip")
    wav = vc("source.wav", speaker="slt")
    soundfile.write("converted.wav", wav, vc.sample_rate)

    se = Speech2Speech.from_pretrained("exp/se_train/se_train_valid.loss.ave.zip")
    soundfile.write("enhanced.wav", se("noisy.wav"), se.sample_rate)
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch

from espnet2_speecht5.checkpoint.convert import check_state, read_hf_folder, read_ours
from espnet2_speecht5.features.log_mel import num_frames
from espnet2_speecht5.inference.audio_input import AudioInput, load_input_audio
from espnet2_speecht5.inference.precision import apply_quantization
from espnet2_speecht5.inference.text2speech import SynthesisResult
from espnet2_speecht5.models.vc import encoder_lengths
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


def load_vc_model(train_config: PathLike, model_file: Optional[PathLike], device: str = "cpu") -> Any:
    """A trained :class:`~espnet2_speecht5.models.vc.SpeechT5VCModel` from its ``config.yaml`` and ``*.pth``.

    An SE run (its config reads ``speech_clean``) builds :class:`~espnet2_speecht5.models.se.SpeechT5SEModel`,
    the same network without the speaker input by default.

    The weights are read without unpickling code (:func:`~espnet2_speecht5.checkpoint.weights.load_weights`).
    """
    from espnet2_speecht5.checkpoint.weights import load_weights
    from espnet2_speecht5.inference.speech2text import require_file
    from espnet2_speecht5.models.vc import SpeechT5VCModel
    from espnet2_speecht5.tasks.se import SETask
    from espnet2_speecht5.tasks.vc import VCTask

    config = require_file(train_config, "--s2st_train_config")
    task = SETask if "speech_clean" in training_data_names(config) else VCTask
    model, _ = task.build_model_from_file(config, None, device)
    if not isinstance(model, SpeechT5VCModel):
        raise DataError(f"not a SpeechT5 VC configuration ({type(model).__name__})", config)
    if model_file is not None:
        load_weights(model, require_file(model_file, "--s2st_model_file"))
    return model.to(device).eval()


def training_data_names(config: PathLike) -> List[str]:
    """The data names of a training config's ``train_data_path_and_name_and_type`` (none in a hand-written one)."""
    import yaml

    loaded = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
    entries = loaded.get("train_data_path_and_name_and_type") or [] if isinstance(loaded, dict) else []
    return [str(entry[1]) for entry in entries if isinstance(entry, (list, tuple)) and len(entry) > 1]


# one generated utterance: the same fields as TTS's (mel, wav, stop_probs, attention)
ConversionResult = SynthesisResult


class Speech2Speech:
    """Source waveform (+ target x-vector) -> converted or enhanced waveform.

    Args:
        model: a transformers ``SpeechT5ForSpeechToSpeech`` folder, or our s2s checkpoint; or None
            with ``s2st_train_config`` (and ``s2st_model_file``) of a VC or SE training run (an SE model
            is the VC network without the speaker input, so both load the same way).
        device: ``cpu`` or ``cuda``.
        threshold, minlenratio, maxlenratio: stop rule of :func:`~espnet2_speecht5.search.greedy.generate_speech`
            (the length ratios count encoder frames).
        vocoder, vocoder_file: ``griffin_lim`` (default), ``hifigan`` with its folder/checkpoint, ``none``, or
            (enhancement) ``noisy_phase``: the predicted clean mel as a gain on the noisy recording's STFT,
            which keeps the recording's phase; the output then has exactly the source's frames
            (:mod:`espnet2_speecht5.vocoder.noisy_phase`).
        vocoder_conf: options of the vocoder (``gain_floor`` of ``noisy_phase``; ``n_iter`` of Griffin-Lim).
        prenet_dropout: keep the decoder pre-net dropout on while generating (SpeechT5 does).
        seed: seeds that dropout, so that a run is reproducible.
        speaker_table: a Kaldi ark or scp of named x-vectors (the training targets' means that
            stage 12 packs), so that ``speaker`` can be a name.
        quantize_model: int8 linear layers for CPU inference (:mod:`espnet2_speecht5.inference.precision`).
    """

    sample_rate = 16000

    def __init__(
        self,
        model: Optional[PathLike] = None,
        device: str = "cpu",
        threshold: float = 0.5,
        minlenratio: float = 0.0,
        maxlenratio: float = 20.0,
        vocoder: str = "griffin_lim",
        vocoder_file: Optional[str] = None,
        vocoder_conf: Optional[Dict[str, Any]] = None,
        prenet_dropout: Optional[bool] = True,
        seed: int = 0,
        s2st_train_config: Optional[PathLike] = None,
        s2st_model_file: Optional[PathLike] = None,
        speaker_table: Optional[PathLike] = None,
        quantize_model: bool = False,
    ) -> None:
        if (model is None) == (s2st_train_config is None):
            raise DataError("give either a speech-to-speech network (model) or a VC or SE training config "
                            "(s2st_train_config)")
        # a bare network takes an x-vector when given one; a trained model says whether it needs one
        self.uses_speaker_embedding, self.speaker_optional = True, model is not None
        if model is not None:
            self.net = load_s2s_network(model).to(device)
            self.reduction_factor = self.net.cfg.reduction_factor
        else:
            trained = load_vc_model(s2st_train_config, s2st_model_file, device)
            self.net = trained.net
            self.reduction_factor = trained.reduction_factor
            self.uses_speaker_embedding = trained.use_speaker_embedding
        if prenet_dropout is not None:
            self.net.speech_decoder_prenet.always_dropout = prenet_dropout
        apply_quantization(self.net, quantize_model, device)
        self.device = device
        self.threshold = threshold
        self.minlenratio = minlenratio
        self.maxlenratio = maxlenratio
        self.seed = seed
        from espnet2_speecht5.inference.text2speech import read_speaker_table
        from espnet2_speecht5.vocoder import build_vocoder

        self.vocoder = None if vocoder == "none" else build_vocoder(vocoder, vocoder_file, **(vocoder_conf or {}))
        # noisy_phase resynthesis: the output keeps the source's frames (and, through the gain, its phase)
        self.source_length = bool(getattr(self.vocoder, "needs_source", False))
        self.speakers: Dict[str, np.ndarray] = read_speaker_table(speaker_table) if speaker_table else {}

    @classmethod
    def from_pretrained(cls, model_tag: str, cache_dir: Optional[PathLike] = None, **kwargs: Any) -> Speech2Speech:
        """Build from a stage-12 VC or SE zip (or its unpacked folder, URL), a transformers folder or
        Hugging Face id, or our s2s checkpoint file. A packed model brings its decoding options
        (``inference.yaml``) and its table of target speakers."""
        path = Path(str(model_tag)).expanduser()
        if path.is_file() and path.suffix in WEIGHT_SUFFIXES:
            return cls(path, **kwargs)
        from espnet2_speecht5.hub.resolve import resolve
        from espnet2_speecht5.inference.text2speech import SPEAKER_TABLE_NAME

        resolved = resolve(model_tag, cache_dir)
        if resolved.layout == "transformers":
            return cls(resolved.root, **kwargs)
        for key, value in resolved.require("s2st_train_config", "s2st_model_file").items():
            kwargs.setdefault(key, value)
        tables = sorted(resolved.root.rglob(SPEAKER_TABLE_NAME))
        if tables:
            kwargs.setdefault("speaker_table", str(tables[0]))
        for key, value in resolved.inference_options(inspect.signature(cls.__init__).parameters).items():
            kwargs.setdefault(key, value)
        return cls(**kwargs)

    @property
    def speaker_dim(self) -> int:
        return self.net.cfg.speaker_embedding_dim

    def _speaker(self, speaker: SpeakerInput) -> Optional[torch.Tensor]:
        if speaker is None:
            raise DataError("this model needs the target speaker's x-vector (speaker=...)")
        if isinstance(speaker, str) and speaker in self.speakers:
            speaker = self.speakers[speaker]
        elif isinstance(speaker, (str, Path)):
            path = Path(speaker)
            if not path.is_file():
                known = f"; known speakers: {' '.join(sorted(self.speakers))}" if self.speakers else ""
                raise DataError(f"neither a speaker of the model's table nor an x-vector file (.npy){known}", path)
            speaker = np.load(path, allow_pickle=False)
        vector = torch.as_tensor(np.asarray(speaker, dtype=np.float32).reshape(-1), device=self.device)
        if vector.numel() != self.speaker_dim:
            raise DataError(f"a speaker x-vector has {self.speaker_dim} values, got {vector.numel()}")
        return vector[None]

    @torch.no_grad()
    def generate(
        self,
        audio: AudioInput,
        speaker: SpeakerInput = None,
        rate: Optional[int] = None,
        return_attention: bool = False,
        vocode: bool = True,
    ) -> ConversionResult:
        """One source utterance (a file path or (L,) waveform) -> the output mel, waveform (with the
        vocoder, when ``vocode``), stop probabilities and (if asked) cross-attention."""
        wav = load_input_audio(audio, rate)
        return self.generate_batch([wav], None if speaker is None else [speaker], return_attention, vocode)[0]

    @torch.no_grad()
    def generate_batch(
        self,
        waveforms: Sequence[np.ndarray],
        speakers: Optional[Sequence[SpeakerInput]] = None,
        return_attention: bool = False,
        vocode: bool = True,
    ) -> List[ConversionResult]:
        """B source waveforms ((L_b,) float32 at 16 kHz) -> B results, generated together on the cache.

        The waveforms are zero-padded to the longest one; the conv front end's group norm sees
        that padding, so an utterance's output in a batch differs slightly from its output alone.
        """
        lengths = torch.tensor([len(w) for w in waveforms], dtype=torch.long, device=self.device)
        batch = torch.zeros(len(waveforms), int(lengths.max()), device=self.device)
        for row, wav in enumerate(waveforms):
            batch[row, : len(wav)] = torch.as_tensor(wav, device=self.device)
        speaker = None
        if self.uses_speaker_embedding and (speakers is not None or not self.speaker_optional):
            if speakers is None or len(speakers) != len(waveforms):
                raise DataError("this model needs the target speaker's x-vector for every utterance (speaker=...)")
            speaker = torch.cat([self._speaker(s) for s in speakers])
        enc = self.net.encode(batch, lengths if len(waveforms) > 1 else None)
        torch.manual_seed(self.seed)
        # a resynthesis from the source (SE's noisy_phase) needs frame t of the output to be frame t of
        # the source: generate exactly the source's frames instead of stopping on the stop token
        source_lengths = [num_frames(len(w)) for w in waveforms] if self.source_length else None
        fixed_steps = -(-max(source_lengths) // self.reduction_factor) if source_lengths else None
        out = generate_speech(self.net, enc, speaker, threshold=self.threshold, minlenratio=self.minlenratio,
                              maxlenratio=self.maxlenratio, fixed_steps=fixed_steps,
                              return_attention=return_attention)
        results = []
        source_frames = encoder_lengths(enc)
        for row in range(len(waveforms)):
            n = source_lengths[row] if source_lengths else int(out.lengths[row])
            mel = out.mel[row, :n]
            attention = None
            if out.attention is not None:
                steps = n // self.reduction_factor
                attention = out.attention[:, row, :, :steps, : int(source_frames[row])].cpu().numpy()
            stop = out.stop_probs[row, :n].cpu().numpy() if out.stop_probs is not None else np.zeros(n, np.float32)
            wav = self.vocode(mel, waveforms[row]) if vocode and self.vocoder is not None else None
            results.append(ConversionResult(mel.cpu().numpy(), wav, stop, attention))
        return results

    def vocode(self, mel: torch.Tensor, source: np.ndarray) -> np.ndarray:
        """(T, 80) output log-mel (+ the (L,) source, for a resynthesis that keeps its phase) -> waveform."""
        if self.source_length:
            return self.vocoder(mel, source).cpu().numpy()
        return self.vocoder(mel).cpu().numpy()

    def mel(self, audio: AudioInput, speaker: SpeakerInput = None, rate: Optional[int] = None) -> torch.Tensor:
        """(T, 80) log10-mel of the output for one source utterance (a file path or (L,) waveform)."""
        return torch.from_numpy(self.generate(audio, speaker, rate, vocode=False).mel)

    def __call__(self, audio: AudioInput, speaker: SpeakerInput = None, rate: Optional[int] = None) -> np.ndarray:
        """One source utterance -> (N,) float32 waveform at 16 kHz.

        Args:
            audio: a file path, or a (L,) waveform at ``rate`` (default 16 kHz).
            speaker: the target speaker: a name of the packed table, a (D,) x-vector or a ``.npy`` file.
        """
        if self.vocoder is None:
            raise DataError("this Speech2Speech was built with vocoder='none': use .mel()")
        return self.generate(audio, speaker, rate).wav

    convert = __call__
