"""What every SpeechT5 espnet2 task shares: :class:`SpeechT5AbsTask` and the configuration checks.

A task (:mod:`~espnet2_speecht5.tasks.asr`, :mod:`~espnet2_speecht5.tasks.tts`,
:mod:`~espnet2_speecht5.tasks.pretrain`) subclasses :class:`SpeechT5AbsTask`, names its model class
and its data, and adds only the options and steps of its own. Shared here:

* the options ``--token_list``, ``--init``, ``--net_conf``, ``--model_conf`` and the text
  preprocessing options (``--use_preprocessor``, ``--token_type``, ``--bpemodel``, ...);
* the token list: read from a file (or taken as a list), checked for ESPnet's layout
  (``<blank>`` first, ``<sos/eos>`` last) and stored in ``args`` (and so in ``config.yaml``);
* ``--net_conf`` (``size: tiny|base`` plus :class:`~espnet2_speecht5.nets.config.SpeechT5Config`
  fields; the vocabulary and special ids come from the token list) and ``--model_conf`` (the keyword
  arguments of the task's model): an unknown key in either stops with a one-line
  :class:`ConfigError` naming it;
* ESPnet's ``CommonPreprocessor`` for the text, ``CommonCollateFn`` (speech padded with 0.0, text
  with -1), model building (``--init``) and :class:`~espnet2_speecht5.train.trainer.SpeechT5Trainer`.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any, Callable, Collection, Dict, List, Optional, Sequence, Tuple, Type

import numpy as np
import torch
from espnet2.tasks.abs_task import AbsTask
from espnet2.torch_utils.initialize import initialize
from espnet2.train.class_choices import ClassChoices
from espnet2.train.collate_fn import CommonCollateFn
from espnet2.train.preprocessor import CommonPreprocessor
from espnet2.utils.nested_dict_action import NestedDictAction
from espnet2.utils.types import str2bool, str_or_none

from espnet2_speecht5.models.common import SpeechT5Model
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.tasks.speech_front import SPEECH_FRONT_CHOICES, add_speech_prenet_argument, install_speech_front
from espnet2_speecht5.train.trainer import SpeechT5Trainer

DEFAULT_NET_CONF: Dict[str, Any] = dict(size="base")
# set from the token list, never from the configuration
NET_CONF_RESERVED = ("vocab_size", "pad_id", "unk_id", "bos_id", "eos_id", "decoder_start_id")
TEXT_NAME = "text"
# the token list of a task without text: ESPnet's layout, nothing between its ends
SPECIAL_TOKENS = ("<blank>", "<unk>", "<sos/eos>")


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


def espnet_token_list(args: argparse.Namespace) -> List[str]:
    """Read ``args.token_list``, check ESPnet's layout, and store the list in ``args`` (and so in config.yaml)."""
    token_list = read_token_list(args.token_list)
    args.token_list = token_list  # stored in config.yaml, so that the experiment is self-contained
    if token_list[0] != "<blank>" or token_list[-1] != "<sos/eos>":
        raise ConfigError("the token list must start with <blank> and end with <sos/eos> (ESPnet's layout)")
    logging.info(f"Vocabulary size: {len(token_list)}")
    return token_list


def check_model_conf(
    conf: Optional[Dict[str, Any]], allowed: Sequence[str], defaults: Optional[Dict[str, Any]] = None
) -> Dict[str, Any]:
    """``conf`` merged onto ``defaults``; a key outside ``allowed`` raises :class:`ConfigError`."""
    conf = dict(conf or {})
    for key in conf:
        if key not in allowed:
            raise ConfigError(f"model_conf: unknown key '{key}' (allowed: {', '.join(allowed)})")
    return {**(defaults or {}), **conf}


def add_network_arguments(
    parser: argparse.ArgumentParser,
    model_conf_default: Dict[str, Any],
    model_help: str,
    token_list_required: bool = True,
) -> None:
    """The options every SpeechT5 task shares: ``--token_list``, ``--init``, ``--net_conf``, ``--model_conf``."""
    group = parser.add_argument_group(description="Task related")
    if token_list_required:
        required = parser.get_default("required")
        required += ["token_list"]
        token_help = "token list file (or a list)"
    else:
        token_help = "not used: this task reads no text (ESPnet's three special tokens stand in)"
    group.add_argument("--token_list", type=str_or_none, default=None, help=token_help)
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


class SpeechT5AbsTask(AbsTask):
    """The shared part of the SpeechT5 tasks; a task sets the class attributes below and its data names.

    Attributes:
        model_class: the task's model; ``--model_conf`` may set the keys of its ``conf_keys()``.
        default_model_conf: the default of ``--model_conf`` (merged under the given keys).
        model_conf_help: the help text of ``--model_conf``.
        token_types: the choices of ``--token_type``.
        use_preprocessor_help: the help text of ``--use_preprocessor``.
        g2p_help: the help text of ``--g2p``; None: the task takes no grapheme-to-phoneme converter
            (``--g2p`` accepts only none).
        model_errors_are_config_errors: a TypeError or ValueError of the model's constructor becomes
            a one-line ``model_conf:`` :class:`ConfigError`.
        inputs, targets, optional_inputs: the data names of inference, the ones training adds, and
            the optional ones (ESPnet's ``required_data_names`` / ``optional_data_names``).
        reads_text: whether the task tokenises text; without it ``--token_list`` is optional and
            the model gets ESPnet's three special tokens (:data:`SPECIAL_TOKENS`).
        speech_input: whether the network reads speech through a speech-encoder pre-net; such a
            task has ``--speech_prenet`` and ESPnet's ``frontend``, ``specaug`` and ``normalize``
            choices (:mod:`espnet2_speecht5.tasks.speech_front`).
    """

    num_optimizers: int = 1
    class_choices_list: List[ClassChoices] = SPEECH_FRONT_CHOICES
    trainer = SpeechT5Trainer

    model_class: Type[SpeechT5Model] = SpeechT5Model
    default_model_conf: Dict[str, Any] = {}
    model_conf_help: str = "keyword arguments of the model"
    token_types: Tuple[str, ...] = ("char", "bpe", "word")
    use_preprocessor_help: str = "tokenise the text"
    g2p_help: Optional[str] = None
    model_errors_are_config_errors: bool = True
    inputs: Tuple[str, ...] = ("speech",)
    targets: Tuple[str, ...] = (TEXT_NAME,)
    optional_inputs: Tuple[str, ...] = ()
    reads_text: bool = True
    speech_input: bool = True

    # ------------------------------------------------------------------ options
    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser) -> None:
        cls.add_common_arguments(parser)

    @classmethod
    def add_common_arguments(cls, parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
        """The network and text preprocessing options; returns the "Preprocess related" group."""
        add_network_arguments(parser, dict(cls.default_model_conf), cls.model_conf_help, cls.reads_text)
        if cls.speech_input:
            add_speech_prenet_argument(parser)
            front = parser.add_argument_group(description="Speech front end (ESPnet's choices)")
            for choices in cls.class_choices_list:
                # --frontend/--specaug/--normalize and their *_conf, as ESPnet's ASR task has them
                choices.add_arguments(front)
        parser.add_argument(
            "--keep_last_epochs", type=int, default=0,
            help="also keep the models of the last N epochs (in <output_dir>/last_epochs/) and write their "
                 "average, last<N>epochs.ave.pth, when training ends (0: off)",
        )  # fmt: skip
        parser.add_argument(
            "--plot_interval", type=int, default=1,
            help="draw ESPnet's per-epoch images (<output_dir>/images) and attention plots (att_ws) only "
                 "every N epochs and after the last one (1: every epoch, as ESPnet does); the figures "
                 "of stage 11 are drawn from the whole log either way",
        )  # fmt: skip
        parser.add_argument(
            "--epoch_samples", type=str2bool, default=True,
            help="after each validation, decode three validation utterances greedily and log them beside "
                 "their references (text tasks) or their generated length and stop step (speech output), "
                 "warning when every hypothesis is identical or no stop token fires",
        )  # fmt: skip
        parser.add_argument(
            "--trend_patience", type=int, default=5,
            help="warn when the training loss has fallen over this many epochs while validation accuracy "
                 "(loss, without accuracy) did not improve on its earlier best (0: off)",
        )  # fmt: skip
        parser.add_argument(
            "--bf16", type=str2bool, default=False,
            help="run the forward passes of training and validation under bf16 autocast, on the CPU too "
                 "(fast where the CPU has AMX or AVX-512 BF16; weights, gradients and the optimizer stay fp32)",
        )  # fmt: skip
        group = parser.add_argument_group(description="Preprocess related")
        group.add_argument("--use_preprocessor", type=str2bool, default=True, help=cls.use_preprocessor_help)
        group.add_argument("--token_type", type=str, default=cls.token_types[0], choices=list(cls.token_types))
        group.add_argument("--bpemodel", type=str_or_none, default=None, help="sentencepiece model (token_type bpe)")
        group.add_argument("--non_linguistic_symbols", type=str_or_none, default=None, help="file of symbols to keep")
        group.add_argument(
            "--cleaner", type=str_or_none, choices=[None, "tacotron", "jaconv", "vietnamese"], default=None
        )
        if cls.g2p_help is None:
            group.add_argument("--g2p", type=str_or_none, choices=[None], default=None, help="not used by this task")
        else:
            group.add_argument("--g2p", type=str_or_none, default=None, help=cls.g2p_help)
        return group

    # ------------------------------------------------------------------ data
    @classmethod
    def required_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return cls.inputs if inference else cls.inputs + cls.targets

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return cls.optional_inputs

    @classmethod
    def build_collate_fn(
        cls, args: argparse.Namespace, train: bool
    ) -> Callable[[Collection[Tuple[str, Dict[str, np.ndarray]]]], Tuple[List[str], Dict[str, torch.Tensor]]]:
        return CommonCollateFn(float_pad_value=0.0, int_pad_value=-1)

    @classmethod
    def build_preprocess_fn(
        cls, args: argparse.Namespace, train: bool
    ) -> Optional[Callable[[str, Dict[str, np.ndarray]], Dict[str, np.ndarray]]]:
        if not args.use_preprocessor or not cls.reads_text:
            return None
        return cls.text_preprocessor(args, train)

    @classmethod
    def text_preprocessor(cls, args: argparse.Namespace, train: bool) -> CommonPreprocessor:
        """ESPnet's preprocessor, tokenising the ``text`` entry as the options say."""
        return CommonPreprocessor(
            train=train,
            token_type=args.token_type,
            token_list=args.token_list,
            bpemodel=args.bpemodel,
            non_linguistic_symbols=args.non_linguistic_symbols,
            text_cleaner=args.cleaner,
            g2p_type=args.g2p if cls.g2p_help is not None else None,
            speech_volume_normalize=getattr(args, "speech_volume_normalize", None),
            speech_name="speech",
            text_name=TEXT_NAME,
        )

    # ------------------------------------------------------------------ model
    @classmethod
    def check_model_conf(cls, conf: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        """``conf`` merged onto :attr:`default_model_conf`; a key the model does not take raises ConfigError."""
        return check_model_conf(conf, cls.model_class.conf_keys(), cls.default_model_conf)

    @classmethod
    def task_model_kwargs(cls, args: argparse.Namespace) -> Dict[str, Any]:
        """Constructor arguments that the task's own options decide (never ``--model_conf``); none by default."""
        return {}

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> SpeechT5Model:
        if not cls.reads_text and getattr(args, "token_list", None) is None:
            args.token_list = list(SPECIAL_TOKENS)
        token_list = espnet_token_list(args)
        net_config = net_config_from_conf(getattr(args, "net_conf", None))
        model_conf = cls.check_model_conf(getattr(args, "model_conf", None))
        try:
            model = cls.model_class(len(token_list), token_list, net_config, **cls.task_model_kwargs(args),
                                    **model_conf)
        except (TypeError, ValueError) as err:
            if not cls.model_errors_are_config_errors:
                raise
            raise ConfigError(f"model_conf: {err}") from None
        if cls.speech_input:
            install_speech_front(model.net, args)
        if getattr(args, "init", None) is not None:
            initialize(model, args.init)
        return model
