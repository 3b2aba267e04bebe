"""Run ``espnet2.bin.spk_train`` with a fix for ESPnet 202511's training crop under NumPy >= 2.4.

ESPnet's ``SpkPreprocessor`` picks the start of the random training crop as a one-element
array and converts it with ``int(...)``; NumPy 2.4 made that conversion an error, so every
training batch fails in the data loader.  When (and only when) the installed NumPy refuses
that conversion, this module replaces the training branch of the crop with an equivalent one
that uses a plain integer (same wrap-padding of short utterances, same uniform start, same
augmentation call); the validation branch stays ESPnet's own.  Then it calls ESPnet's
``spk_train`` main with the command-line arguments unchanged::

    python -m espnet2_speecht5.speaker.spk_train_compat --config conf/train_spk.yaml ...
"""

from __future__ import annotations

import random
import sys
from typing import Dict, List, Optional

import numpy as np


def numpy_rejects_array_to_int() -> bool:
    """True when ``int()`` of a one-element 1-D array raises (NumPy >= 2.4)."""
    try:
        int(np.array([np.int64(1)]))
    except TypeError:
        return True
    return False


def _crop_for_training(self, data: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Training crop of ``data["speech"]`` (shape (samples,)) to ``self.target_duration`` samples."""
    audio = data["speech"]
    length = self.target_duration
    if len(audio) < length:
        audio = np.pad(audio, (0, length - len(audio) + 1), "wrap")  # repeat a short utterance
    start = int(random.random() * (len(audio) - length))
    data["speech"] = audio[start : start + length]
    if self.noise_apply_prob > 0 or self.rir_apply_prob > 0:
        data["speech"] = self._apply_data_augmentation(data["speech"])
    return data


def install_fix() -> bool:
    """Patch ``SpkPreprocessor`` if this NumPy needs it; return whether it was patched."""
    if not numpy_rejects_array_to_int():
        return False
    from espnet2_speecht5.runtime.quiet_imports import quiet_espnet

    with quiet_espnet():
        from espnet2.train.preprocessor import SpkPreprocessor

    if getattr(SpkPreprocessor, "_speecht5_fixed", False):
        return True
    original = SpkPreprocessor._speech_process

    def speech_process(self, data):
        return _crop_for_training(self, data) if self.train else original(self, data)

    SpkPreprocessor._speech_process = speech_process
    SpkPreprocessor._speecht5_fixed = True
    return True


def main(argv: Optional[List[str]] = None) -> None:
    install_fix()
    from espnet2_speecht5.runtime.quiet_imports import quiet_espnet

    with quiet_espnet():
        from espnet2.bin.spk_train import main as spk_train_main

    spk_train_main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
