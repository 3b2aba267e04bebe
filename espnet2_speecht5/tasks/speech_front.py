"""ESPnet's speech front ends in the SpeechT5 tasks whose input is speech (asr, st, sid, vc, se, pretrain).

Options (YAML or command line), as in ESPnet's ASR task:

* ``--speech_prenet conv|fbank``: ``conv`` (the default) is SpeechT5's waveform pre-net, the only
  one that loads the released checkpoints and exports to transformers; ``fbank`` is an ESPnet front
  end, then normalisation, then ESPnet's ``Conv2dSubsampling2`` to 20 ms frames
  (:class:`~espnet2_speecht5.nets.fbank_prenet.FbankSpeechPrenet`), then the same encoder.
* ``--frontend default|s3prl`` with ``--frontend_conf``: ESPnet's ``DefaultFrontend`` (STFT and
  log-mel; here ``fs: 16k, n_fft: 512, win_length: 400, hop_length: 160, n_mels: 80`` unless the
  config says otherwise, so that the subsampling lands on 20 ms) or ``S3prlFrontend`` (needs the
  ``s3prl`` package, which downloads its upstream model on first use). Only with ``fbank``, where
  ``default`` is taken when none is named.
* ``--specaug specaug`` with ``--specaug_conf``: ESPnet's SpecAugment, in training, on the
  front-end features (``fbank``) or on the conv features (``conv``: its frequency masks then mask
  conv channels).
* ``--normalize global_mvn|utterance_mvn`` with ``--normalize_conf``: only with ``fbank``;
  ``global_mvn`` reads the ``feats_stats.npz`` that stage 7 collects (the driver passes
  ``stats_file``).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any, Dict, List, Optional

import torch
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet2.asr.frontend.default import DefaultFrontend
from espnet2.asr.frontend.s3prl import S3prlFrontend
from espnet2.asr.specaug.abs_specaug import AbsSpecAug
from espnet2.asr.specaug.specaug import SpecAug
from espnet2.layers.abs_normalize import AbsNormalize
from espnet2.layers.global_mvn import GlobalMVN
from espnet2.layers.utterance_mvn import UtteranceMVN
from espnet2.train.class_choices import ClassChoices
from torch import nn

from espnet2_speecht5.runtime.errors import DataError

SPEECH_PRENETS = ("conv", "fbank")
# DefaultFrontend settings that make 20 ms frames after the x2 subsampling at 16 kHz
FBANK_FRONTEND_DEFAULTS: Dict[str, Any] = dict(fs=16000, n_fft=512, win_length=400, hop_length=160, n_mels=80)

frontend_choices = ClassChoices(
    name="frontend",
    classes=dict(default=DefaultFrontend, s3prl=S3prlFrontend),
    type_check=AbsFrontend,
    default=None,
    optional=True,
)
specaug_choices = ClassChoices(
    name="specaug",
    classes=dict(specaug=SpecAug),
    type_check=AbsSpecAug,
    default=None,
    optional=True,
)
normalize_choices = ClassChoices(
    name="normalize",
    classes=dict(global_mvn=GlobalMVN, utterance_mvn=UtteranceMVN),
    type_check=AbsNormalize,
    default=None,
    optional=True,
)
SPEECH_FRONT_CHOICES: List[ClassChoices] = [frontend_choices, specaug_choices, normalize_choices]


class FrontConfigError(DataError):
    """A front-end option the task cannot use; printed as one line by the entry points."""


def add_speech_prenet_argument(parser: argparse.ArgumentParser) -> None:
    """``--speech_prenet conv|fbank`` (the ClassChoices add their own options through AbsTask)."""
    parser.add_argument(
        "--speech_prenet", type=str, default="conv", choices=list(SPEECH_PRENETS),
        help="speech-encoder pre-net: conv (SpeechT5's waveform convolutions; loads the released checkpoints "
             "and exports to transformers) or fbank (the ESPnet frontend, normalize and specaug choices, then "
             "Conv2dSubsampling2 to 20 ms frames)",
    )  # fmt: skip


def _build(choices: ClassChoices, name: Optional[str], conf: Optional[Dict[str, Any]]) -> Optional[nn.Module]:
    if name is None:
        return None
    try:
        return choices.get_class(name)(**(conf or {}))
    except ImportError as err:
        raise FrontConfigError(f"{choices.name}: {name} needs a package that is not installed ({err})") from None
    except (TypeError, ValueError, FileNotFoundError) as err:
        raise FrontConfigError(f"{choices.name}_conf: {str(err).splitlines()[0]}") from None


def build_speech_front(args: argparse.Namespace) -> Dict[str, Optional[nn.Module]]:
    """The ESPnet modules that ``args`` chooses: ``frontend``, ``specaug``, ``normalize`` (None where unset).

    For ``--speech_prenet fbank`` without a frontend, ``default`` is chosen and written back to
    ``args`` (and so to config.yaml), with :data:`FBANK_FRONTEND_DEFAULTS` under ``frontend_conf``.

    Raises:
        FrontConfigError: a front end or normalisation with the conv pre-net, a missing statistics
            file, a package that is not installed, or options the ESPnet class refuses.
    """
    prenet = getattr(args, "speech_prenet", "conv")
    frontend_name = getattr(args, "frontend", None)
    normalize_name = getattr(args, "normalize", None)
    if prenet == "conv":
        if frontend_name is not None:
            raise FrontConfigError(f"frontend: {frontend_name} is used only with speech_prenet: fbank "
                                   "(the conv pre-net reads the waveform itself)")
        if normalize_name is not None:
            raise FrontConfigError(f"normalize: {normalize_name} is used only with speech_prenet: fbank")
        frontend = None
    else:
        if frontend_name is None:
            args.frontend = frontend_name = "default"
        if frontend_name == "default":
            args.frontend_conf = {**FBANK_FRONTEND_DEFAULTS, **(getattr(args, "frontend_conf", None) or {})}
        if frontend_name == "s3prl":
            import importlib.util

            if importlib.util.find_spec("s3prl") is None:  # ESPnet's class would print two lines, then raise
                raise FrontConfigError("frontend: s3prl needs the s3prl package, which is not installed "
                                       "(pip install s3prl; it downloads its upstream model on first use)")
            logging.warning("frontend: s3prl downloads its upstream model on first use (network access needed)")
        if normalize_name == "global_mvn" and not (getattr(args, "normalize_conf", None) or {}).get("stats_file"):
            raise FrontConfigError("normalize: global_mvn needs normalize_conf.stats_file (the feats_stats.npz of "
                                   "stage 7; speecht5.sh passes it)")
        frontend = _build(frontend_choices, frontend_name, getattr(args, "frontend_conf", None))
    return dict(
        frontend=frontend,
        specaug=_build(specaug_choices, getattr(args, "specaug", None), getattr(args, "specaug_conf", None)),
        normalize=_build(normalize_choices, normalize_name, getattr(args, "normalize_conf", None))
        if frontend is not None
        else None,
    )


def install_speech_front(net: nn.Module, args: argparse.Namespace) -> None:
    """Put the chosen front end into ``net`` (any network with a ``speech_prenet``).

    ``conv``: SpecAugment (if chosen) acts on the conv pre-net's features. ``fbank``: the conv pre-net
    is replaced by :class:`~espnet2_speecht5.nets.fbank_prenet.FbankSpeechPrenet` (new parameters).
    """
    from espnet2_speecht5.nets.fbank_prenet import FbankSpeechPrenet

    parts = build_speech_front(args)
    if parts["frontend"] is None:
        net.speech_prenet.specaug = parts["specaug"]
        return
    check_statistics_width(parts["normalize"], parts["frontend"].output_size(), args)
    net.speech_prenet = FbankSpeechPrenet(net.cfg, parts["frontend"], parts["normalize"], parts["specaug"])
    logging.info(f"speech pre-net: fbank ({type(parts['frontend']).__name__}, "
                 f"{type(parts['normalize']).__name__ if parts['normalize'] is not None else 'no'} normalisation, "
                 f"{'SpecAugment' if parts['specaug'] is not None else 'no SpecAugment'}, Conv2dSubsampling2)")


def check_statistics_width(normalize: Optional[nn.Module], width: int, args: argparse.Namespace) -> None:
    """A ``global_mvn`` whose statistics are of other features (the raw waveform's, from a stage 7 of the
    conv pre-net) would broadcast silently; refuse it.

    Raises:
        FrontConfigError: the statistics' width differs from the front end's feature width.
    """
    mean = getattr(normalize, "mean", None)
    if isinstance(mean, torch.Tensor) and mean.numel() != width:
        stats_file = (getattr(args, "normalize_conf", None) or {}).get("stats_file")
        raise FrontConfigError(f"has statistics of {mean.numel()}-dimensional features, but the frontend makes "
                               f"{width} (collect them again: stage 7 with this training config)", stats_file)
