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
``--ignore_init_mismatch true`` if the vocabularies differ.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any, Callable, Collection, Dict, List, Optional, Tuple

import numpy as np
import torch
from espnet2.tasks.abs_task import AbsTask
from espnet2.torch_utils.initialize import initialize
from espnet2.train.class_choices import ClassChoices
from espnet2.train.collate_fn import CommonCollateFn
from espnet2.train.preprocessor import CommonPreprocessor
from espnet2.utils.nested_dict_action import NestedDictAction
from espnet2.utils.types import str2bool, str_or_none

from espnet2_speecht5.data.errors import DataError
from espnet2_speecht5.models.asr import SpeechT5ASRModel
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.train.trainer import SpeechT5Trainer

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
DEFAULT_NET_CONF: Dict[str, Any] = dict(size="base")
# set from the token list, never from the configuration
NET_CONF_RESERVED = ("vocab_size", "pad_id", "unk_id", "bos_id", "eos_id", "decoder_start_id")


class ConfigError(DataError):
    """A configuration value the task cannot use; printed as one line by the entry points."""


def net_config_from_conf(conf: Optional[Dict[str, Any]]) -> SpeechT5Config:
    """``{"size": "tiny", "d_model": 96, ...}`` -> :class:`SpeechT5Config` (vocabulary set later).

    Raises:
        ConfigError: an unknown size or key, or a key that the token list decides.
    """
    conf = dict(conf or {})
    size = conf.pop("size", "base")
    if size not in ("tiny", "base"):
        raise ConfigError(f"net_conf: size must be 'tiny' or 'base', got {size!r}")
    known = set(SpeechT5Config.base().to_dict())
    for key in conf:
        if key in NET_CONF_RESERVED:
            raise ConfigError(f"net_conf: '{key}' is set from the token list; remove it from net_conf")
        if key not in known:
            raise ConfigError(f"net_conf: unknown key '{key}' (see SpeechT5Config in espnet2_speecht5/nets/config.py)")
    for key, value in list(conf.items()):
        if isinstance(value, list):
            conf[key] = tuple(value)
    try:
        return SpeechT5Config.named(size, **conf)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"net_conf: {err}") from None


def check_model_conf(conf: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Merge ``conf`` onto the defaults; an unknown key raises :class:`ConfigError`."""
    conf = dict(conf or {})
    allowed = SpeechT5ASRModel.conf_keys()
    for key in conf:
        if key not in allowed:
            raise ConfigError(f"model_conf: unknown key '{key}' (allowed: {', '.join(allowed)})")
    return {**DEFAULT_MODEL_CONF, **conf}


def read_token_list(token_list: Any) -> List[str]:
    """A token list given as a file path or a list -> the list of tokens."""
    if isinstance(token_list, str):
        try:
            with open(token_list, encoding="utf-8") as f:
                return [line.rstrip("\n").rstrip() for line in f if line.strip()]
        except OSError as err:
            raise ConfigError(f"cannot read the token list: {err.strerror}", token_list) from None
    if isinstance(token_list, (list, tuple)):
        return list(token_list)
    raise ConfigError("--token_list is required (a file with one token per line)")


def add_network_arguments(parser: argparse.ArgumentParser, model_conf_default: Dict[str, Any], model_help: str) -> None:
    """The options every SpeechT5 task shares: ``--token_list``, ``--init``, ``--net_conf``, ``--model_conf``."""
    group = parser.add_argument_group(description="Task related")
    required = parser.get_default("required")
    required += ["token_list"]
    group.add_argument("--token_list", type=str_or_none, default=None, help="token list file (or a list)")
    group.add_argument(
        "--init",
        type=lambda x: str_or_none(x.lower()),
        default=None,
        choices=[None, "chainer", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"],
        help="re-initialise all parameters this way (default: the network's own initialisation)",
    )
    group.add_argument(
        "--net_conf",
        action=NestedDictAction,
        default=dict(DEFAULT_NET_CONF),
        help="network: size (tiny|base) plus SpeechT5Config fields to override",
    )
    group.add_argument("--model_conf", action=NestedDictAction, default=model_conf_default, help=model_help)


def espnet_token_list(args: argparse.Namespace) -> List[str]:
    """Read ``args.token_list``, check ESPnet's layout, and store the list in ``args`` (and so in config.yaml)."""
    token_list = read_token_list(args.token_list)
    args.token_list = token_list  # stored in config.yaml, so that the experiment is self-contained
    if token_list[0] != "<blank>" or token_list[-1] != "<sos/eos>":
        raise ConfigError("the token list must start with <blank> and end with <sos/eos> (ESPnet's layout)")
    logging.info(f"Vocabulary size: {len(token_list)}")
    return token_list


class ASRTask(AbsTask):
    """SpeechT5 ASR: waveform in, tokens out, with joint CTC/attention training."""

    num_optimizers: int = 1
    class_choices_list: List[ClassChoices] = []
    trainer = SpeechT5Trainer

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser) -> None:
        add_network_arguments(
            parser, dict(DEFAULT_MODEL_CONF), "keyword arguments of SpeechT5ASRModel (ctc_weight, lsm_weight, ...)"
        )

        group = parser.add_argument_group(description="Preprocess related")
        group.add_argument("--use_preprocessor", type=str2bool, default=True, help="tokenise the text")
        group.add_argument("--token_type", type=str, default="char", choices=["char", "bpe", "word"])
        group.add_argument("--bpemodel", type=str_or_none, default=None, help="sentencepiece model (token_type bpe)")
        group.add_argument("--non_linguistic_symbols", type=str_or_none, default=None, help="file of symbols to keep")
        group.add_argument(
            "--cleaner", type=str_or_none, choices=[None, "tacotron", "jaconv", "vietnamese"], default=None
        )
        group.add_argument("--g2p", type=str_or_none, choices=[None], default=None, help="not used by this task")
        group.add_argument("--speech_volume_normalize", type=float, default=None, help="scale the peak to this value")

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
            g2p_type=None,
            speech_volume_normalize=getattr(args, "speech_volume_normalize", None),
            speech_name="speech",
            text_name="text",
        )

    @classmethod
    def required_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return ("speech",) if inference else ("speech", "text")

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return ()

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> SpeechT5ASRModel:
        token_list = espnet_token_list(args)
        vocab_size = len(token_list)
        net_config = net_config_from_conf(getattr(args, "net_conf", None))
        model_conf = check_model_conf(getattr(args, "model_conf", None))
        model = SpeechT5ASRModel(vocab_size, token_list, net_config, **model_conf)
        if getattr(args, "init", None) is not None:
            initialize(model, args.init)
        return model
