"""The espnet2 speaker-identification task for SpeechT5: speech in, one speaker out.

Data: ``speech`` (raw 16 kHz waveform, ``sound``) and ``text``: the speaker of each utterance
(``utt2spk``), read as one word of the speaker token list (``--token_type word``). ``--model_conf``
takes the keyword arguments of :class:`~espnet2_speecht5.models.sid.SpeechT5SIDModel` (``head``,
``crop_seconds``, ...); what the SpeechT5 tasks share is in :mod:`espnet2_speecht5.tasks.common`.
"""

from __future__ import annotations

from typing import Any, Dict

from espnet2_speecht5.models.sid import SpeechT5SIDModel
from espnet2_speecht5.tasks.common import SpeechT5AbsTask

DEFAULT_MODEL_CONF: Dict[str, Any] = dict(head="decoder", lsm_weight=0.0, crop_seconds=3.2, classifier_dropout=0.0)


class SIDTask(SpeechT5AbsTask):
    """SpeechT5 SID: waveform in, a speaker out, trained with cross-entropy."""

    model_class = SpeechT5SIDModel
    default_model_conf = DEFAULT_MODEL_CONF
    model_conf_help = "keyword arguments of SpeechT5SIDModel (head: decoder|pooling, crop_seconds, lsm_weight, ...)"
    token_types = ("word",)
    use_preprocessor_help = "turn the speaker of each utterance into its id"
