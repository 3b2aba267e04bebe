"""The espnet2 ASR task for SpeechT5: arguments, preprocessing, collation and model building.

Data: ``speech`` (raw 16 kHz waveform, ``sound``) and ``text`` (tokenised by ESPnet's
``CommonPreprocessor``: char, word or sentencepiece ``bpe``). Batches are padded by ESPnet's
``CommonCollateFn`` (speech with 0.0, text with -1).

Configuration (YAML or command line):

* ``--net_conf``: ``size: tiny|base`` plus any :class:`~espnet2_speecht5.nets.config.SpeechT5Config`
  field (e.g. ``d_model: 96``); the vocabulary and special ids come from the token list.
* ``--model_conf``: the keyword arguments of :class:`~espnet2_speecht5.models.asr.SpeechT5ASRModel`
  (``ctc_weight``, ``lsm_weight``, ...).

An unknown key in either stops with a one-line error naming it. To start from a converted
checkpoint (``convert_checkpoint.py`` writes a state dict of the network without prefix), pass
``--init_param model.pth::net`` (file, no source prefix, destination attribute ``net``), with
``--ignore_init_mismatch true`` if the vocabularies differ. What the SpeechT5 tasks share is in
:mod:`espnet2_speecht5.tasks.common`.
"""

from __future__ import annotations

import argparse
from typing import Any, Dict

from espnet2_speecht5.models.asr import SpeechT5ASRModel
from espnet2_speecht5.tasks.common import SpeechT5AbsTask

DEFAULT_MODEL_CONF: Dict[str, Any] = dict(
    ctc_weight=0.5,
    lsm_weight=0.1,
    length_normalized_loss=False,
    ctc_dropout=0.0,
    report_cer=False,
    report_wer=False,
    sym_space="<space>",
    sym_blank="<blank>",
    ignore_id=-1,
)


class ASRTask(SpeechT5AbsTask):
    """SpeechT5 ASR: waveform in, tokens out, with joint CTC/attention training."""

    model_class = SpeechT5ASRModel
    default_model_conf = DEFAULT_MODEL_CONF
    model_conf_help = "keyword arguments of SpeechT5ASRModel (ctc_weight, lsm_weight, ...)"
    # the model's own ValueError (e.g. ctc_weight outside [0, 1]) is raised as it is
    model_errors_are_config_errors = False

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = cls.add_common_arguments(parser)
        group.add_argument("--speech_volume_normalize", type=float, default=None, help="scale the peak to this value")
