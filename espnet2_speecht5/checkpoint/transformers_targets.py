"""Which of our tasks a transformers SpeechT5 class corresponds to, for export (stage 13) and import (hub).

One row per task that transformers has a class for; the task recipes name the same classes (a test
checks that). Strings only, so that both sides read it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

from espnet2_speecht5.runtime.errors import DataError

CTC_HEAD = ("ctc.ctc_lo.weight", "ctc.ctc_lo.bias")


@dataclass(frozen=True)
class TransformersTarget:
    """One task's bridge to transformers.

    Attributes:
        task: our task.
        kind: the network (``s2t``, ``t2s``, ``s2s``).
        hf_class: the transformers class that loads the export.
        pack_kind: ESPnet's pack kind of the task's zip (names its meta.yaml keys).
        task_class: ``module:Class`` of the ESPnet task that builds the model.
        text_decoder: the network decodes text: its pad and start ids must be transformers', and
            ``generation_config.json`` carries the longest output.
        untrained: our parameters transformers has no counterpart for, and what that means.
        importable: the hub's converter turns the task's transformers folders into an ESPnet
            experiment (vc, se: no; ``Speech2Speech`` reads those folders directly).
    """

    task: str
    kind: str
    hf_class: str
    pack_kind: str
    task_class: str
    text_decoder: bool
    untrained: Tuple[str, ...] = ()
    untrained_note: str = ""
    importable: bool = True


TARGETS: Dict[str, TransformersTarget] = {
    "asr": TransformersTarget("asr", "s2t", "SpeechT5ForSpeechToText", "asr", "espnet2_speecht5.tasks.asr:ASRTask",
                              text_decoder=True, untrained=CTC_HEAD,
                              untrained_note="the CTC head (ctc.ctc_lo) is untrained (zero weights): decode with "
                                             "ctc_weight 0"),
    # a transformers SpeechT5ForSpeechToText folder imports as ASR (it cannot say it translates)
    "st": TransformersTarget("st", "s2t", "SpeechT5ForSpeechToText", "st", "espnet2_speecht5.tasks.st:STTask",
                             text_decoder=True, importable=False),
    "tts": TransformersTarget("tts", "t2s", "SpeechT5ForTextToSpeech", "tts", "espnet2_speecht5.tasks.tts:TTSTask",
                              text_decoder=False),
    "vc": TransformersTarget("vc", "s2s", "SpeechT5ForSpeechToSpeech", "s2st", "espnet2_speecht5.tasks.vc:VCTask",
                             text_decoder=False, importable=False),
    "se": TransformersTarget("se", "s2s", "SpeechT5ForSpeechToSpeech", "s2st", "espnet2_speecht5.tasks.se:SETask",
                             text_decoder=False, importable=False),
}


def transformers_target(task: str) -> TransformersTarget:
    """The row of ``task``; a task without one raises a one-line DataError."""
    if task not in TARGETS:
        raise DataError(f"no transformers model for task '{task}': only {', '.join(TARGETS)} can be exported")
    return TARGETS[task]


def task_class(target: TransformersTarget):
    """The target's ESPnet task class, imported without ESPnet's start-up noise (nltk download attempts)."""
    import importlib

    from espnet2_speecht5.runtime.quiet_imports import quiet_espnet

    module, name = target.task_class.split(":")
    with quiet_espnet():
        return getattr(importlib.import_module(module), name)
