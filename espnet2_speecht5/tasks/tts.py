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

An unknown key in either stops with a one-line error naming it.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, Collection, Dict, List, Optional, Tuple

import numpy as np
import torch
from espnet2.tasks.abs_task import AbsTask
from espnet2.torch_utils.initialize import initialize
from espnet2.train.class_choices import ClassChoices
from espnet2.train.collate_fn import CommonCollateFn
from espnet2.train.preprocessor import CommonPreprocessor
from espnet2.utils.types import str2bool, str_or_none

from espnet2_speecht5.models.tts import SpeechT5TTSModel
from espnet2_speecht5.tasks.asr import ConfigError, add_network_arguments, espnet_token_list, net_config_from_conf
from espnet2_speecht5.train.trainer import SpeechT5Trainer


def check_tts_model_conf(conf: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Check the ``model_conf`` keys against :class:`SpeechT5TTSModel`; an unknown one raises ConfigError."""
    conf = dict(conf or {})
    allowed = SpeechT5TTSModel.conf_keys()
    for key in conf:
        if key not in allowed:
            raise ConfigError(f"model_conf: unknown key '{key}' (allowed: {', '.join(allowed)})")
    return conf


class TTSTask(AbsTask):
    """SpeechT5 TTS: characters (+ speaker x-vector) in, 80-bin log-mel out."""

    num_optimizers: int = 1
    class_choices_list: List[ClassChoices] = []
    trainer = SpeechT5Trainer

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser) -> None:
        add_network_arguments(
            parser, {}, "keyword arguments of SpeechT5TTSModel (l1_weight, bce_pos_weight, guided_attn_weight, ...)"
        )

        group = parser.add_argument_group(description="Preprocess related")
        group.add_argument("--use_preprocessor", type=str2bool, default=True, help="tokenise the text")
        group.add_argument("--token_type", type=str, default="char", choices=["char", "bpe", "word", "phn"])
        group.add_argument("--bpemodel", type=str_or_none, default=None, help="sentencepiece model (token_type bpe)")
        group.add_argument("--non_linguistic_symbols", type=str_or_none, default=None, help="file of symbols to keep")
        group.add_argument(
            "--cleaner", type=str_or_none, choices=[None, "tacotron", "jaconv", "vietnamese"], default=None
        )
        group.add_argument(
            "--g2p", type=str_or_none, default=None, help="grapheme-to-phoneme converter (token_type phn)"
        )

    @classmethod
    def build_collate_fn(
        cls, args: argparse.Namespace, train: bool
    ) -> Callable[[Collection[Tuple[str, Dict[str, np.ndarray]]]], Tuple[List[str], Dict[str, torch.Tensor]]]:
        return CommonCollateFn(float_pad_value=0.0, int_pad_value=-1)

    @classmethod
    def build_preprocess_fn(
        cls, args: argparse.Namespace, train: bool
    ) -> Optional[Callable[[str, Dict[str, np.ndarray]], Dict[str, np.ndarray]]]:
        if not args.use_preprocessor:
            return None
        return CommonPreprocessor(
            train=train,
            token_type=args.token_type,
            token_list=args.token_list,
            bpemodel=args.bpemodel,
            non_linguistic_symbols=args.non_linguistic_symbols,
            text_cleaner=args.cleaner,
            g2p_type=args.g2p,
            speech_name="speech",
            text_name="text",
        )

    @classmethod
    def required_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return ("text",) if inference else ("text", "speech")

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return ("spembs",) if inference else ("spembs",)

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> SpeechT5TTSModel:
        token_list = espnet_token_list(args)
        net_config = net_config_from_conf(getattr(args, "net_conf", None))
        model_conf = check_tts_model_conf(getattr(args, "model_conf", None))
        try:
            model = SpeechT5TTSModel(len(token_list), token_list, net_config, **model_conf)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"model_conf: {err}") from None
        if getattr(args, "init", None) is not None:
            initialize(model, args.init)
        return model
