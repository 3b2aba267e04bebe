"""The espnet2 TTS task for SpeechT5: arguments, preprocessing, collation and model building.

Data: ``text`` (characters, tokenised by ESPnet's ``CommonPreprocessor``), ``speech`` (the raw
16 kHz waveform, ``sound``; the model computes its log-mel targets) and ``spembs`` (a 512-dim
speaker x-vector per utterance, ``kaldi_ark``, made by stage 6). Batches are padded by ESPnet's
``CommonCollateFn`` (speech with 0.0, text with -1).

Configuration (YAML or command line):

* ``--net_conf``: ``size: tiny|base`` plus any :class:`~espnet2_speecht5.nets.config.SpeechT5Config`
  field; the vocabulary and special ids come from the token list.
* ``--model_conf``: the keyword arguments of :class:`~espnet2_speecht5.models.tts.SpeechT5TTSModel`
  (loss weights, ``bce_pos_weight``, guided attention settings, ...).

An unknown key in either stops with a one-line error naming it. What the SpeechT5 tasks share is
in :mod:`espnet2_speecht5.tasks.common`.
"""

from __future__ import annotations

import argparse

from espnet2.utils.nested_dict_action import NestedDictAction

from espnet2_speecht5.models.tts import SpeechT5TTSModel
from espnet2_speecht5.tasks.common import SpeechT5AbsTask
from espnet2_speecht5.text.normalize import DEFAULT_MAX_CHARS, DEFAULT_PAUSE_S, NORMALIZERS


class TTSTask(SpeechT5AbsTask):
    """SpeechT5 TTS: characters (+ speaker x-vector) in, 80-bin log-mel out."""

    inputs = ("text",)
    targets = ("speech",)
    optional_inputs = ("spembs",)
    model_class = SpeechT5TTSModel
    speech_input = False  # speech is the output: no speech-encoder pre-net, no front-end choices
    class_choices_list = []
    model_conf_help = "keyword arguments of SpeechT5TTSModel (l1_weight, bce_pos_weight, guided_attn_weight, ...)"
    token_types = ("char", "bpe", "word", "phn")
    g2p_help = "grapheme-to-phoneme converter (token_type phn)"

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser) -> None:
        super().add_task_arguments(parser)
        group = parser.add_argument_group(description="Synthesis text normalisation")
        group.add_argument(
            "--text_normalizer", type=str, default="english", choices=list(NORMALIZERS),
            help="how Text2Speech, stage 9 and `speecht5 synthesize` normalise text before the tokenizer "
                 "(numbers, symbols, abbreviations, case and punctuation fitted to the token list, long text "
                 "split into sentences); kept in the model's config so that a packed model reads text the "
                 "same way everywhere. Training text is not touched",
        )  # fmt: skip
        group.add_argument(
            "--text_normalizer_conf", action=NestedDictAction, default={},
            help=f"max_chars (the longest piece of a split text, default {DEFAULT_MAX_CHARS}), pause_s "
                 f"(silence between the pieces, default {DEFAULT_PAUSE_S}), sentence_batch (pieces generated "
                 "together, default 8)",
        )  # fmt: skip
