"""SpeechT5 for ESPnet2: tasks, models and recipe entry points.

The inference classes are importable from the top level (loaded on first use)::

    from espnet2_speecht5 import Speech2Text
    asr = Speech2Text.from_pretrained("exp/asr_train_char/asr_train_char_valid.acc.best.zip")
    print(asr.transcribe("speech.wav"))
"""

from importlib import import_module
from typing import Any

from espnet2_speecht5.runtime import lazy_typecheck

__version__ = "0.1.0"

# Before anything imports ESPnet: typeguard instruments its functions on first call, not at import
# (about 6 s less per process start; see runtime/lazy_typecheck.py).
lazy_typecheck.install()

_LAZY = {
    "Speech2Text": "espnet2_speecht5.inference.speech2text",
    "Text2Speech": "espnet2_speecht5.inference.text2speech",
    "Speech2Speech": "espnet2_speecht5.inference.speech2speech",
    "Speech2Label": "espnet2_speecht5.inference.speech2label",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'espnet2_speecht5' has no attribute '{name}'")


__all__ = ["__version__", *_LAZY]
