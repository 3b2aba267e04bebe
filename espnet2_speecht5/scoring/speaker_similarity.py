"""Speaker similarity: the cosine between speaker embeddings of a synthesised wav and its recording.

The embeddings come from a model of ESPnet's speaker task (``espnet2.bin.spk_train``: its
``config.yaml`` and a ``*.pth``), run through ``espnet2.bin.spk_inference.Speech2Embedding`` on
the whole utterance.  The network is built from the config and its weights are loaded with
``torch.load(weights_only=True)`` (:mod:`espnet2_speecht5.checkpoint.weights`).  Signals are
resampled to the model's ``sample_rate`` (16 kHz when the config does not say).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from espnet2_speecht5.checkpoint.weights import load_weights
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

DEFAULT_RATE = 16000


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The cosine of the angle between two (dim,) vectors, in [-1, 1].

    Raises:
        DataError: a vector is all zeros or not finite (its direction is undefined).
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"embeddings of different sizes: {a.shape} and {b.shape}")
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    if not np.isfinite(norms) or norms == 0.0:
        raise DataError("the speaker embedding is zero or not finite")
    return float(np.clip(np.dot(a, b) / norms, -1.0, 1.0))


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


class SpeakerEmbedder:
    """Waveform -> speaker embedding with a trained ESPnet speaker model.

    Args:
        train_config: the ``config.yaml`` of the speaker model's training.
        model_file: its parameters (``*.pth``).
        device: ``cpu`` or ``cuda``.
    """

    def __init__(self, train_config: PathLike, model_file: PathLike, device: str = "cpu") -> None:
        for path, what in ((train_config, "--spk_train_config"), (model_file, "--spk_model_file")):
            if not Path(path).is_file():
                raise DataError(f"{what}: no such file: {path}")
        import yaml
        from espnet2.bin.spk_inference import Speech2Embedding

        try:
            # No model_file here: ESPnet would unpickle it with weights_only=False.
            self.speech2embedding = Speech2Embedding(train_config=str(train_config), model_file=None, device=device)
        except (yaml.YAMLError, TypeError, KeyError, AttributeError, ValueError, AssertionError) as err:
            raise DataError(f"cannot build the speaker model: {_first_line(err)}", train_config) from None
        load_weights(self.speech2embedding.spk_model, model_file)
        self.speech2embedding.spk_model.eval()
        self.rate = int(getattr(self.speech2embedding.spk_train_args, "sample_rate", None) or DEFAULT_RATE)

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        """The (dim,) embedding of one (num_samples,) signal sampled at :attr:`rate`.

        Raises:
            DataError: the network cannot process the signal (e.g. too short for its convolutions).
        """
        speech = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))
        try:
            with torch.no_grad():
                embedding = self.speech2embedding(speech)
        except RuntimeError as err:
            raise DataError(f"the speaker model fails on this signal ({_first_line(err)})") from None
        return embedding.detach().cpu().numpy().reshape(-1)

    def similarity(self, ref_wav: np.ndarray, hyp_wav: np.ndarray) -> float:
        """Cosine between the embeddings of two (num_samples,) signals sampled at :attr:`rate`."""
        return cosine_similarity(self(ref_wav), self(hyp_wav))
