"""The espnet2 task for SpeechT5 joint pre-training: unlabeled speech with cluster labels, and text.

**Data.** Two corpora of different sizes:

* speech (ESPnet's usual ``--{train,valid}_data_path_and_name_and_type`` and shape files):
  ``wav.scp,speech,sound`` (16 kHz) and ``label,label,text_int`` (stage 6's k-means cluster ids at
  ``model_conf.label_rate``, 50 Hz by default or a whole multiple of it such as 100 Hz,
  ``utt id1 id2 ...``);
* text (``--{train,valid}_text_data_path_and_name_and_type text,text,text`` and
  ``--{train,valid}_text_shape_file``): one sentence per line, ``id words...``, tokenised like the
  fine-tuning tasks (char or bpe, the same token list), no ``<sos/eos>`` added here: the model
  adds it and does the noising.

**Batches.** Speech and text form separate mini-batches (text sized by ``--text_batch_type``,
``--text_batch_size`` / ``--text_batch_bins``); a training epoch is one pass over the speech
batches with ``--text_batch_ratio`` text batches per speech batch, interleaved by step index
(:mod:`espnet2_speecht5.train.interleave`), so that all DDP ranks run the same modality at the
same step. Validation runs all held-out speech batches (masked-prediction accuracy ``acc_mlm``)
and then all held-out text batches (denoising loss ``loss_text_ce``). Training speech is randomly
cropped to ``--max_speech_samples`` samples from a multiple of the encoder hop (320 samples), and
its labels from the same point in time.

**Checks.** A count of labels on encoder frames (``ceil(labels / k)`` at ``k`` labels per frame)
more than ``label_length_tolerance`` (model_conf, 2) away from the conv frame count, or a label
outside ``[0, num_clusters)``, stops with one line naming the utterance. A text corpus or text shape file
without a line stops with one line naming the file.

**Configuration**: ``--net_conf`` (``size: tiny|base`` + SpeechT5Config fields) and ``--model_conf``
(keyword arguments of :class:`~espnet2_speecht5.models.pretrain.SpeechT5PretrainModel`: loss
weights, ``num_clusters``, codebook settings, ...). The token list must contain ``<mask>``.
``unused_parameters`` defaults to true (a speech batch leaves the text nets unused and vice versa).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from espnet2.iterators.abs_iter_factory import AbsIterFactory
from espnet2.samplers.build_batch_sampler import BATCH_TYPES
from espnet2.train.distributed_utils import DistributedOption
from espnet2.utils.types import int_or_none, str2triple_str

from espnet2_speecht5.data.speech_labels import (
    check_label_count,
    crop_speech_and_labels,
    label_hop,
    labels_per_frame,
)
from espnet2_speecht5.models.pretrain import SpeechT5PretrainModel
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.tasks.common import TEXT_NAME, ConfigError, SpeechT5AbsTask, net_config_from_conf
from espnet2_speecht5.train.interleave import InterleavedIterFactory, text_steps

SPEECH_NAMES = ("speech", "label")


def check_has_a_line(path: str, what: str) -> None:
    """``path`` exists and has a non-blank line (reads up to the first one); DataError naming it if not."""
    try:
        with open(path, encoding="utf-8", errors="replace") as lines:
            if any(line.strip() for line in lines):
                return
    except FileNotFoundError:
        raise DataError(f"does not exist ({what})", path) from None
    raise DataError(f"has no lines ({what} is empty; leave the text options out to pre-train on speech only)", path)


class PretrainPreprocessor:
    """Per utterance: check and crop speech with its labels; tokenise text.

    Args:
        train: crop speech (training only).
        text: ESPnet's preprocessor for the ``text`` entry (None: text is left as it is).
        kernels, strides: the conv feature extractor, to count encoder frames.
        num_clusters: labels must lie in ``[0, num_clusters)``.
        tolerance: the largest accepted ``|frames - labels on frames|``.
        max_speech_samples: training crop length (0: no crop).
        max_text_tokens: longer token sequences are cut to this many (0: no cut).
        label_hop: samples between labels (``sample_rate / label_rate``; default: the conv stack's
            stride, i.e. one label per encoder frame); the stride must be a multiple of it.
    """

    def __init__(
        self,
        train: bool,
        text: Optional[Callable[[str, Dict[str, Any]], Dict[str, Any]]],
        kernels: Sequence[int],
        strides: Sequence[int],
        num_clusters: int,
        tolerance: int = 2,
        max_speech_samples: int = 0,
        max_text_tokens: int = 0,
        label_hop: Optional[int] = None,
    ) -> None:
        self.train = train
        self.text = text
        self.kernels, self.strides = tuple(kernels), tuple(strides)
        self.num_clusters = num_clusters
        self.tolerance = tolerance
        self.max_speech_samples = max_speech_samples
        self.max_text_tokens = max_text_tokens
        self.frame_hop = int(np.prod(self.strides))
        self.label_hop = self.frame_hop if label_hop is None else int(label_hop)
        labels_per_frame(self.label_hop, self.frame_hop)  # ValueError unless the stride is a multiple of the hop

    def __call__(self, uid: str, data: Dict[str, Any]) -> Dict[str, Any]:
        if "label" in data:
            if "speech" not in data:
                raise DataError("has cluster labels but no speech", utt=uid)
            speech = data["speech"]
            labels = np.asarray(data["label"]).reshape(-1).astype(np.int64)
            check_label_count(
                uid, speech.shape[0], labels.size, self.kernels, self.strides, self.tolerance, hop=self.label_hop
            )
            if labels.size and (labels.min() < 0 or labels.max() >= self.num_clusters):
                bad = int(labels[(labels < 0) | (labels >= self.num_clusters)][0])
                raise DataError(f"cluster label {bad} is outside [0, {self.num_clusters}) (num_clusters)", utt=uid)
            if self.train and self.max_speech_samples > 0:
                rng = np.random.default_rng(np.random.randint(0, 2**31 - 1))  # from ESPnet's seeded global state
                speech, labels = crop_speech_and_labels(
                    speech, labels, self.max_speech_samples, rng, hop=self.label_hop, frame_hop=self.frame_hop
                )
            data["speech"], data["label"] = speech, labels
        if self.text is not None and TEXT_NAME in data:
            data = self.text(uid, data)
            if self.max_text_tokens > 0 and len(data[TEXT_NAME]) > self.max_text_tokens:
                data[TEXT_NAME] = data[TEXT_NAME][: self.max_text_tokens]
        return data


def steps_per_epoch(factory: AbsIterFactory) -> int:
    """Batches per epoch of an ESPnet sequence iterator factory."""
    fixed = getattr(factory, "num_iters_per_epoch", None)
    if fixed:
        return int(fixed)
    sampler = getattr(factory, "sampler", None)
    if sampler is None:
        raise ConfigError(f"pre-training needs iterator_type 'sequence' (got a {type(factory).__name__})")
    return len(sampler)


class PretrainTask(SpeechT5AbsTask):
    """SpeechT5 joint pre-training: masked prediction and reconstruction of speech, denoising of text."""

    model_class = SpeechT5PretrainModel
    model_conf_help = "keyword arguments of SpeechT5PretrainModel (num_clusters, loss weights, codebook_prob, ...)"
    use_preprocessor_help = "tokenise the text, crop speech"

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = cls.add_common_arguments(parser)
        group.add_argument(
            "--max_speech_samples", type=int, default=250000, help="training crop of speech in samples (0: none)"
        )
        group.add_argument(
            "--max_text_tokens", type=int_or_none, default=None,
            help="cut longer token sequences (default: the network's max_text_positions - 2)",
        )

        group = parser.add_argument_group(description="Text corpus for the text objectives")
        for mode in ("train", "valid"):
            group.add_argument(
                f"--{mode}_text_data_path_and_name_and_type", type=str2triple_str, action="append", default=[],
                help=f"{mode} text corpus, e.g. data/train_text/text,text,text (several: one data set)",
            )
            group.add_argument(
                f"--{mode}_text_shape_file", type=str, action="append", default=[],
                help=f"shape file of the {mode} text corpus (stage 7)",
            )
        group.add_argument(
            "--text_batch_ratio", type=float, default=1.0,
            help="text batches per speech batch in training (1: alternate; 0.5: one after every second)",
        )
        group.add_argument("--text_batch_type", type=str, default="folded", choices=list(BATCH_TYPES))
        group.add_argument("--text_batch_size", type=int, default=32, help="sentences per text batch (folded, ...)")
        group.add_argument("--text_batch_bins", type=int, default=100000, help="tokens x vocabulary per batch (numel)")
        group.add_argument("--text_fold_length", type=int, default=150, help="fold length of the text (folded)")
        # a speech batch leaves the text nets without gradient and vice versa; nothing to plot
        parser.set_defaults(unused_parameters=True, num_att_plot=0)

    # ------------------------------------------------------------------ data
    @classmethod
    def required_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return ("speech",) if inference else SPEECH_NAMES

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return (TEXT_NAME,)

    @classmethod
    def check_task_requirements(
        cls, dataset: Any, allow_variable_data_keys: bool, train: bool, inference: bool = False
    ) -> None:
        """A data set is speech (``speech`` + ``label``) or text (``text``): the two corpora are read apart."""
        names = set(dataset.names())
        needed = {"speech"} if inference else set(SPEECH_NAMES)
        if not (needed <= names or TEXT_NAME in names):
            raise ConfigError(
                f"a pre-training data set needs {' and '.join(sorted(needed))} (speech) or text; got {sorted(names)}"
            )
        if not allow_variable_data_keys:
            unknown = names - set(SPEECH_NAMES) - {TEXT_NAME}
            if unknown:
                raise ConfigError(f"unknown data name(s) {sorted(unknown)} (pre-training reads speech, label, text)")

    @classmethod
    def build_preprocess_fn(
        cls, args: argparse.Namespace, train: bool
    ) -> Optional[Callable[[str, Dict[str, np.ndarray]], Dict[str, np.ndarray]]]:
        if not args.use_preprocessor:
            return None
        text = cls.text_preprocessor(args, train)
        net = net_config_from_conf(getattr(args, "net_conf", None))
        conf = cls.check_model_conf(getattr(args, "model_conf", None))
        max_text = getattr(args, "max_text_tokens", None)
        max_text = max_text if max_text is not None else net.max_text_positions - 2
        try:  # the labels' hop from the model's label rate (the model checks the rate itself too)
            hop = label_hop(
                float(conf.get("label_rate", 50.0)), int(conf.get("sample_rate", 16000)), net.samples_per_frame
            )
        except ValueError as err:
            raise ConfigError(f"model_conf: label_rate: {err}") from None
        return PretrainPreprocessor(
            train=train,
            text=text,
            kernels=net.conv_kernels,
            strides=net.conv_strides,
            num_clusters=int(conf.get("num_clusters", 500)),
            tolerance=int(conf.get("label_length_tolerance", 2)),
            max_speech_samples=getattr(args, "max_speech_samples", 0),
            max_text_tokens=max_text,
            label_hop=hop,
        )

    # ------------------------------------------------------------------ iterators
    @classmethod
    def build_text_iter_factory(
        cls,
        args: argparse.Namespace,
        distributed_option: DistributedOption,
        mode: str,
        num_iters_per_epoch: Optional[int],
    ) -> AbsIterFactory:
        """The text corpus's batches for ``mode`` (train or valid), sized by the ``--text_batch_*`` options."""
        data = getattr(args, f"{mode}_text_data_path_and_name_and_type")
        shapes = getattr(args, f"{mode}_text_shape_file")
        if not shapes:
            raise ConfigError(f"--{mode}_text_shape_file is required with --{mode}_text_data_path_and_name_and_type")
        for path, _, _ in data:
            check_has_a_line(path, f"--{mode}_text_data_path_and_name_and_type: the text corpus")
        for path in shapes:
            check_has_a_line(path, f"--{mode}_text_shape_file: the shape file of the text corpus (stage 7)")
        options = dataclasses.replace(
            cls.build_iter_options(args, distributed_option, mode),
            data_path_and_name_and_type=list(data),
            shape_files=list(shapes),
            batch_type=args.text_batch_type,
            batch_size=args.text_batch_size,
            batch_bins=args.text_batch_bins,
            num_batches=None,
            num_iters_per_epoch=num_iters_per_epoch,
        )
        text_args = argparse.Namespace(**vars(args))
        text_args.fold_length = [args.text_fold_length]
        return cls.build_sequence_iter_factory(args=text_args, iter_options=options, mode=f"{mode} text")

    @classmethod
    def build_iter_factory(
        cls,
        args: argparse.Namespace,
        distributed_option: DistributedOption,
        mode: str,
        kwargs: Optional[dict] = None,
    ) -> AbsIterFactory:
        """Speech batches (ESPnet's factory) interleaved with text batches for ``train`` and ``valid``."""
        speech = super().build_iter_factory(args, distributed_option, mode, kwargs)
        if mode not in ("train", "valid"):
            return speech
        if not getattr(args, f"{mode}_text_data_path_and_name_and_type"):
            logging.info(f"[{mode}] no text corpus: speech batches only")
            return InterleavedIterFactory(speech, None, 0.0)
        if mode == "valid":
            text = cls.build_text_iter_factory(args, distributed_option, mode, None)
            return InterleavedIterFactory(speech, text, 0.0, sequential=True)
        speech_steps = steps_per_epoch(speech)
        steps = text_steps(speech_steps, args.text_batch_ratio)
        if steps == 0:
            logging.warning(f"[train] --text_batch_ratio {args.text_batch_ratio}: no text batch in an epoch")
            return InterleavedIterFactory(speech, None, 0.0)
        text = cls.build_text_iter_factory(args, distributed_option, mode, steps)
        logging.info(
            f"[train] an epoch: {speech_steps} speech and {steps} text batches (--text_batch_ratio "
            f"{args.text_batch_ratio}), interleaved by step"
        )
        return InterleavedIterFactory(speech, text, args.text_batch_ratio)

    # ------------------------------------------------------------------ model
    @classmethod
    def build_optimizers(cls, args: argparse.Namespace, model: torch.nn.Module) -> List[torch.optim.Optimizer]:
        """ESPnet's optimizer, with a post-step hook that advances the codebook temperature per update."""
        optimizers = super().build_optimizers(args, model)
        if isinstance(model, SpeechT5PretrainModel):
            optimizers[0].register_step_post_hook(model.on_optimizer_step)
        return optimizers
