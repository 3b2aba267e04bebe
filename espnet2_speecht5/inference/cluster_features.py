"""Frame features that stage 6 clusters into pre-training labels, one vector per label.

* iteration 1: :class:`MfccFeatures`, 39-dim MFCC (:mod:`espnet2_speecht5.features.mfcc`), a 25 ms
  window every ``hop`` samples (320: 50 Hz, the encoder frame rate; 160: 100 Hz);
* iteration >= 2: :class:`EncoderLayerFeatures`, the output of encoder block ``layer`` (from 1) of a
  previous pre-training model, as HuBERT's second iteration. Its frame count is the model's conv
  frame count, which for SpeechT5's conv stack equals the MFCC frame count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch

from espnet2_speecht5.data.speech_labels import LABEL_HOP, LABEL_WINDOW
from espnet2_speecht5.features.mfcc import MFCC_DIM, mfcc_39
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike


class MfccFeatures:
    """Waveform (L,) -> (frames, 39) MFCC with deltas, normalised per utterance, a frame every ``hop`` samples."""

    dim = MFCC_DIM

    def __init__(self, hop: int = LABEL_HOP) -> None:
        self.hop = hop

    def describe(self) -> Dict[str, object]:
        return {"feature": "mfcc", "feature_dim": self.dim}

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        return mfcc_39(wave, self.hop, LABEL_WINDOW)


class EncoderLayerFeatures:
    """Waveform (L,) -> (frames, d_model): encoder block ``layer`` of a pre-training model.

    Args:
        model_file: the model's weights (a ``*.pth`` of stage 8, read weights-only).
        config: its training ``config.yaml`` (default: ``config.yaml`` beside ``model_file``).
        layer: encoder block, from 1 to the model's ``encoder_layers``.
        device: where to run the model.

    Raises:
        DataError: missing files, weights that do not fit the config, or a layer out of range.
    """

    def __init__(self, model_file: PathLike, config: Optional[PathLike], layer: int, device: str = "cpu") -> None:
        from espnet2_speecht5.checkpoint.weights import load_weights
        from espnet2_speecht5.tasks.pretrain import PretrainTask

        model_file = Path(model_file)
        config = Path(config) if config else model_file.parent / "config.yaml"
        for path, what in ((model_file, "feature model (--feature_model)"), (config, "its config (--feature_config)")):
            if not path.is_file():
                raise DataError(f"the {what} does not exist", path)
        model, _ = PretrainTask.build_model_from_file(str(config), None, device)
        load_weights(model, model_file)
        self.model = model.eval()
        layers = self.model.net.encoder.layers
        if not 1 <= layer <= len(layers):
            raise DataError(f"--feature_layer {layer} is not an encoder block (1 to {len(layers)})", model_file)
        self.layer, self.device = layer, device
        self.dim = self.model.cfg.d_model
        self.model_file, self.config = model_file, config
        self._captured: List[torch.Tensor] = []
        layers[layer - 1].register_forward_hook(lambda _m, _i, out: self._captured.append(out))

    def describe(self) -> Dict[str, object]:
        return {
            "feature": f"encoder layer {self.layer}",
            "feature_dim": self.dim,
            "feature_model": str(self.model_file),
            "feature_config": str(self.config),
        }

    @torch.no_grad()
    def __call__(self, wave: np.ndarray) -> np.ndarray:
        wav = torch.as_tensor(np.asarray(wave, dtype=np.float32).reshape(1, -1), device=self.device)
        lengths = torch.tensor([wav.size(1)], device=self.device)
        net = self.model.net
        self._captured.clear()
        x, valid, _ = net.speech_prenet(wav, lengths)
        net.encoder(x, valid)  # the hook keeps the block's output
        return self._captured[-1][0].float().cpu().numpy()
