"""Speaker embeddings from an ESPnet speaker model (``espnet2`` spk task: x-vector, ECAPA-TDNN, ...).

The model is rebuilt from its ``config.yaml`` by ESPnet's own
:class:`espnet2.bin.spk_inference.Speech2Embedding`; its weights are then loaded here with
``torch.load(weights_only=True)`` and a strict ``load_state_dict``, so that a checkpoint that
does not match the config is an error instead of a silently half-random model.

Example::

    embedder = SpeakerEmbedder.from_spk_model("exp/spk_xvector")
    vec = embedder.embed(wav, fs)            # shape (512,)
    cosine(vec, embedder.embed(wav2, fs))
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path
from typing import Optional

import numpy as np

from espnet2_speecht5.checkpoint.weights import load_weights
from espnet2_speecht5.data.audio import AudioSource, read_audio, resample, to_mono
from espnet2_speecht5.runtime.types import PathLike
from espnet2_speecht5.speaker.model_files import SpkModelFiles, resolve_spk_model

MIN_SECONDS = 0.5  # shorter input is repeated up to this length (the frame-level convolutions need context)


class SpeakerEmbedder:
    """Turns a waveform into one speaker embedding of shape (dim,) with an ESPnet speaker model."""

    def __init__(self, files: SpkModelFiles, device: str = "cpu") -> None:
        from espnet2_speecht5.runtime.quiet_imports import quiet_espnet

        with quiet_espnet():
            from espnet2.bin.spk_inference import Speech2Embedding

        self.files = files
        self.speech2embedding = Speech2Embedding(train_config=str(files.config), model_file=None, device=device)
        self.model = self.speech2embedding.spk_model
        load_weights(self.model, files.model)  # weights_only loading, every key and shape checked
        self.model.eval()
        args = self.speech2embedding.spk_train_args
        preprocessor_conf = getattr(args, "preprocessor_conf", None) or {}
        self.sample_rate = int(preprocessor_conf.get("sample_rate", getattr(args, "sample_rate", 16000)))
        self.dim = int(self.model.projector.output_size()) if self.model.projector is not None else None

    @classmethod
    def from_spk_model(
        cls, path: PathLike, unpack_dir: Optional[PathLike] = None, device: str = "cpu"
    ) -> SpeakerEmbedder:
        """Load from an experiment folder, a ``.pth`` beside its ``config.yaml``, or a packed zip.

        A zip is unpacked into ``unpack_dir``, or into a temporary folder removed after loading.
        """
        if unpack_dir is None and Path(path).is_file() and Path(path).suffix != ".pth":
            with tempfile.TemporaryDirectory(prefix="spk_model_") as tmp:
                return cls(resolve_spk_model(path, Path(tmp) / "model"), device=device)
        return cls(resolve_spk_model(path, unpack_dir), device=device)

    def embed(self, wav: np.ndarray, fs: int) -> np.ndarray:
        """Embedding of ``wav`` (shape (samples,) or (samples, channels)) sampled at ``fs`` Hz.

        Returns:
            float32 array of shape (dim,).
        """
        wav = np.asarray(wav, dtype=np.float32)
        if wav.ndim == 2:
            wav, _ = to_mono(wav)
        if wav.ndim != 1 or wav.shape[0] == 0:
            raise ValueError(f"expected a non-empty waveform of shape (samples,), got {wav.shape}")
        wav = resample(wav, int(fs), self.sample_rate)
        shortest = int(MIN_SECONDS * self.sample_rate)
        if wav.shape[0] < shortest:
            wav = np.resize(wav, shortest)  # repeats the signal
        previous = logging.root.manager.disable
        logging.disable(logging.INFO)  # Speech2Embedding logs every input length at INFO
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # ESPnet's frontend uses a deprecated autocast
                output = self.speech2embedding(wav)
        finally:
            logging.disable(previous)
        return output.reshape(-1).detach().cpu().numpy().astype(np.float32)

    def embed_source(self, source: AudioSource) -> np.ndarray:
        """Read one ``wav.scp`` entry and embed it; a bad file or bad values name the utterance."""
        wav, fs = read_audio(source)
        vector = self.embed(wav, fs)
        if not np.isfinite(vector).all():
            raise source.error("the speaker model gave NaN or infinite values")
        return vector
