"""The espnet2 voice-conversion task for SpeechT5: a source speaker's speech in, the target speaker's out.

Data: ``speech`` (the source recording, raw 16 kHz waveform, ``sound``), ``speech_tgt`` (the same
sentence read by the target speaker, ``sound``; the model computes its log-mel targets) and
``spembs`` (the target speaker's 512-dim x-vector per utterance, ``kaldi_ark``, made by stage 6).
There is no text, so ``--token_list`` is optional and no preprocessor runs. ``--model_conf``
takes the keyword arguments of :class:`~espnet2_speecht5.models.vc.SpeechT5VCModel`; what the
SpeechT5 tasks share is in :mod:`espnet2_speecht5.tasks.common`.
"""

from __future__ import annotations

from espnet2_speecht5.models.vc import SpeechT5VCModel
from espnet2_speecht5.tasks.common import SpeechT5AbsTask


class VCTask(SpeechT5AbsTask):
    """SpeechT5 VC: source waveform (+ target x-vector) in, the target speaker's 80-bin log-mel out."""

    inputs = ("speech",)
    targets = ("speech_tgt",)
    optional_inputs = ("spembs",)
    reads_text = False
    model_class = SpeechT5VCModel
    model_conf_help = "keyword arguments of SpeechT5VCModel (l1_weight, bce_pos_weight, guided_attn_weight, ...)"
    use_preprocessor_help = "not used: the task reads no text"
