"""The espnet2 speech-enhancement task for SpeechT5: noisy speech in, the clean speech out.

Data: ``speech`` (the noisy recording, raw 16 kHz waveform, ``sound``), ``speech_clean`` (the
clean recording of the same utterance, ``sound``; the model computes its log-mel targets) and,
only with ``model_conf: {use_speaker_embedding: true}``, ``spembs`` (the x-vector of the noisy
input, ``kaldi_ark``, made by stage 6). There is no text, so ``--token_list`` is optional and no
preprocessor runs. ``--model_conf`` takes the keyword arguments of
:class:`~espnet2_speecht5.models.se.SpeechT5SEModel`.
"""

from __future__ import annotations

from espnet2_speecht5.models.se import SpeechT5SEModel
from espnet2_speecht5.tasks.common import SpeechT5AbsTask


class SETask(SpeechT5AbsTask):
    """SpeechT5 SE: noisy waveform (+ optional x-vector) in, the clean 80-bin log-mel out."""

    inputs = ("speech",)
    targets = ("speech_clean",)
    optional_inputs = ("spembs",)
    reads_text = False
    model_class = SpeechT5SEModel
    # written into every config.yaml, so that a loader that builds the VC network reads it too
    default_model_conf = {"use_speaker_embedding": False}
    model_conf_help = ("keyword arguments of SpeechT5SEModel (l1_weight, guided_attn_weight, "
                       "use_speaker_embedding, ...)")
    use_preprocessor_help = "not used: the task reads no text"
