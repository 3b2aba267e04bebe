"""What the stage driver needs to know about one task: :class:`TaskRecipe` and its :class:`Context`.

A recipe holds the task's facts as fields (data files, token lists, shapes, checkpoints, packing,
export) and its per-task steps as methods (data triples, model options, merging the parallel
jobs, scoring, the RESULTS.md section). ``speecht5.sh`` reads the fields once through
``python -m espnet2_speecht5.recipes env`` and calls the methods through the same module, so the
shell never compares the task name.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet2_speecht5.data.kaldi_dir import AUDIO_FILES
from espnet2_speecht5.recipes import merging
from espnet2_speecht5.recipes.files import count_lines, require, split_keys
from espnet2_speecht5.runtime.errors import DataError

logger = logging.getLogger(__name__)

# How many token lists stage 5 makes, and from what.
TOKEN_LISTS = ("none", "source", "source_target", "speakers")
# What stage 6 makes.
AUX_TARGETS = ("none", "speaker_embeddings", "cluster_labels")
# What one inference job writes, and so how stage 9 merges the jobs.
OUTPUTS = ("text", "wav", "label", "stats")


@dataclass
class Context:
    """The driver's settings that the hooks read: folders, sets and options, as ``speecht5.sh`` has them.

    ``speecht5.sh`` passes every field as ``--<name>=<value>``; the values are its shell strings.
    """

    task: str = ""
    fs: str = "16000"
    dumpdir: str = "dump"
    expdir: str = "exp"
    data_train_set: str = ""
    valid_set: str = ""
    test_sets: str = ""
    skip_train: str = "false"
    token_type: str = "char"
    bpemode: str = "unigram"
    nbpe: str = "100"
    tgt_token_type: str = "char"
    tgt_bpemode: str = "unigram"
    tgt_nbpe: str = "100"
    token_list_dir: str = "data/token_list"
    token_dir: str = ""
    tgt_token_dir: str = ""
    pretrain_text_set: str = "train_text"
    pretrained_model: str = ""
    xvector_dir: str = ""
    label_dir: str = ""
    cluster_dir: str = ""
    stats_dir: str = ""
    task_exp: str = ""
    inference_config: str = ""
    inference_ngpu: str = "0"
    use_lm: str = "false"
    lm_model_file: str = ""
    lm_model_config: str = ""
    asr_exp: str = ""
    asr_model: str = "valid.acc.best.pth"
    asr_model_zip: str = ""
    asr_decode_config: str = ""
    score_args: str = ""
    hf_repo: str = ""
    corpus: str = ""
    train_config: str = ""

    @classmethod
    def field_names(cls) -> List[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def raw(self, dset: str) -> Path:
        """The filtered dump of ``dset`` (stage 4)."""
        return Path(self.dumpdir) / "raw" / dset

    def sets(self, name: str) -> List[str]:
        return getattr(self, name).split()

    def flag(self, name: str) -> bool:
        return getattr(self, name) == "true"


def shell_words(value: str) -> List[str]:
    """Options given to the driver as one string (``--score_args "--f0_method dio"``)."""
    import shlex

    return shlex.split(value)


@dataclass(frozen=True)
class TaskRecipe:
    """One task, as the stage driver sees it. Subclasses override the hooks their task needs.

    Attributes:
        name: the ``--task`` value.
        description: one line for ``--help`` and the README.
        kind: the network (``s2t``, ``t2s``, ``s2s``; None for the joint pre-training network).
        trained: whether stages 6-13 exist for the task (the others stop there with one line).
        espnet_task: ``module:Class`` of the task's espnet2 ``AbsTask``.
        train_module, inference_module: ``python -m`` entry points of stages 7-8 and 9.
        required_files: the Kaldi files every data directory of the task has.
        text_files: files whose entries must be non-empty (stage 4 drops the utterance otherwise).
        token_lists: what stage 5 makes (:data:`TOKEN_LISTS`).
        aux_targets: what stage 6 makes (:data:`AUX_TARGETS`).
        text_corpus: whether training also reads an unpaired text corpus (its own shapes in stage 7).
        shape_keys, fold_lengths: the data names the sampler batches by, with their fold lengths.
        vocab_shape_keys: shape files that get the vocabulary size appended (``batch_type: numel``).
        inference_models: checkpoints that stages 9-12 use, the first one present (unless --inference_model).
        output: what one inference job writes (:data:`OUTPUTS`).
        metrics: the fixed metric names of ``scores.json`` (error rates and accuracy in percent).
        pack_kind: the ``espnet2.bin.pack`` kind, which names the meta.yaml keys.
        uses_inference_config: whether stage 9's decoding options travel in the zip (inference.yaml).
        transformers_class: the transformers class that loads the export, or None ...
        no_export_reason: ... and then why.
        decode_prefix: how decode folders are named (``decode``: after the decoding config; ``eval``: not).
    """

    name: str
    description: str
    kind: Optional[str]
    trained: bool = False
    espnet_task: str = ""
    train_module: str = ""
    inference_module: str = ""
    required_files: Tuple[str, ...] = ("wav.scp", "utt2spk", "spk2utt")
    text_files: Tuple[str, ...] = ()
    token_lists: str = "none"
    aux_targets: str = "none"
    text_corpus: bool = False
    shape_keys: Tuple[str, ...] = ()
    fold_lengths: Tuple[int, ...] = ()
    vocab_shape_keys: Tuple[str, ...] = ()
    inference_models: Tuple[str, ...] = ("latest.pth",)
    output: str = "text"
    metrics: Tuple[str, ...] = ()
    pack_kind: Optional[str] = None
    uses_inference_config: bool = True
    transformers_class: Optional[str] = None
    no_export_reason: str = ""
    decode_prefix: str = "decode"
    extra_env: Dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.token_lists not in TOKEN_LISTS:
            raise ValueError(f"{self.name}: token_lists must be one of {TOKEN_LISTS}")
        if self.aux_targets not in AUX_TARGETS:
            raise ValueError(f"{self.name}: aux_targets must be one of {AUX_TARGETS}")
        if self.output not in OUTPUTS:
            raise ValueError(f"{self.name}: output must be one of {OUTPUTS}")
        if len(self.shape_keys) != len(self.fold_lengths):
            raise ValueError(f"{self.name}: one fold length per shape key")
        if self.trained and self.transformers_class is None and not self.no_export_reason:
            raise ValueError(f"{self.name}: say why there is no transformers export")

    # ---------------------------------------------------------------- derived facts
    @property
    def network_parts(self) -> Tuple[str, ...]:
        """The JointNetwork parts this task's network has, read off ``nets.compositions``."""
        from espnet2_speecht5.nets.compositions import network_parts

        if self.kind is None:
            raise DataError(f"task '{self.name}' trains the whole joint network; it has no fine-tuning network")
        return network_parts(self.kind)

    def pretrained_parts(self, train_config: Optional[Path] = None) -> Tuple[str, ...]:
        """The parts that stage 8 takes from a pre-training model (``--pretrained_model``): the network's own,
        less the speech pre-net where the training config replaces it (``speech_prenet: fbank``)."""
        return self.without_new_prenet(self.network_parts, train_config)

    @staticmethod
    def without_new_prenet(parts: Tuple[str, ...], train_config: Optional[Path]) -> Tuple[str, ...]:
        """``parts`` less ``speech_prenet`` when ``train_config`` has the fbank pre-net (logged)."""
        from espnet2_speecht5.train.checks import config_value_or

        if train_config is None or "speech_prenet" not in parts:
            return parts
        if config_value_or(str(train_config), "speech_prenet", "conv") != "fbank":
            return parts
        logger.info(f"{train_config}: speech_prenet: fbank: the speech pre-net is new (ESPnet's front end and "
                    "subsampling); the pre-trained model's conv pre-net is left out")
        return tuple(part for part in parts if part != "speech_prenet")

    @property
    def shares_pretrained_tokens(self) -> bool:
        """Whether fine-tuning keeps the pre-training model's token list (text tokens; not a speaker list)."""
        return self.token_lists in ("source", "source_target")

    @property
    def meta_keys(self) -> Tuple[str, str]:
        """The meta.yaml keys of the training config and the model file of the packed zip."""
        from espnet2_speecht5.checkpoint.pack_keys import pack_keys

        if self.pack_kind is None:
            raise DataError(f"task '{self.name}' has no packed model yet")
        return pack_keys(self.pack_kind)

    def env(self) -> Dict[str, str]:
        """The settings ``speecht5.sh`` reads once (shell variable -> value)."""
        values = {
            "recipe_trained": "true" if self.trained else "false",
            "recipe_train_module": self.train_module,
            "recipe_inference_module": self.inference_module,
            "audio_files": " ".join(AUDIO_FILES),
            "text_files": " ".join(self.text_files),
            "token_lists": self.token_lists,
            "aux_targets": self.aux_targets,
            "text_corpus": "true" if self.text_corpus else "false",
            "shape_keys": " ".join(self.shape_keys),
            "vocab_shape_keys": " ".join(self.vocab_shape_keys),
            "fold_lengths": " ".join(str(n) for n in self.fold_lengths),
            "inference_models": " ".join(self.inference_models),
            "uses_inference_config": "true" if self.uses_inference_config else "false",
            "model_prefix": "",
        }
        if self.pack_kind is not None:
            values["model_prefix"] = self.meta_keys[0][: -len("train_config")]
        values.update(self.extra_env)
        return values

    # ---------------------------------------------------------------- stage 1 and 4
    def check_data(self, ctx: Context) -> None:
        """Stage 1: inputs beyond the data directories (none for most tasks)."""

    def filter_extra(self, ctx: Context) -> None:
        """Stage 4: extra corpora to filter (none for most tasks)."""

    # ---------------------------------------------------------------- stage 5
    def make_token_lists(self, ctx: Context) -> None:
        """Stage 5: the task's token lists (:attr:`token_lists`)."""
        from espnet2_speecht5.text.token_list import make_speaker_list

        train = ctx.raw(ctx.data_train_set)
        if self.token_lists == "none":
            logger.info(f"stage 5: skipped: task {self.name} has no text output")
            return
        if self.token_lists == "speakers":
            make_speaker_list(require(train / "utt2spk", 4), Path(ctx.token_list_dir) / "spk")
            return
        if ctx.pretrained_model and self.shares_pretrained_tokens:
            self._pretrained_token_list(ctx)
        else:
            source_text = self.token_text(ctx)
            make_tokens(ctx.token_type, ctx.bpemode, ctx.nbpe, require(source_text, 4), Path(ctx.token_dir))
        if self.token_lists == "source_target":
            make_tokens(ctx.tgt_token_type, ctx.tgt_bpemode, ctx.tgt_nbpe, require(train / "text.tgt", 4),
                        Path(ctx.tgt_token_dir))

    def token_text(self, ctx: Context) -> Path:
        """The text the source token list is made from."""
        return ctx.raw(ctx.data_train_set) / "text"

    def _pretrained_token_list(self, ctx: Context) -> None:
        # the pre-training model's list, so that its text embeddings carry over
        from espnet2_speecht5.checkpoint.pretrained_init import write_token_list

        write_token_list(ctx.pretrained_model, Path(ctx.expdir) / "pretrained_model", Path(ctx.token_dir),
                         ctx.token_type, extend_with=require(self.token_text(ctx), 4))

    # ---------------------------------------------------------------- stage 6
    def dump_sets(self, ctx: Context) -> List[str]:
        """The training, validation and test sets, each once, in that order."""
        names: List[str] = []
        for name in [ctx.data_train_set, ctx.valid_set, *ctx.sets("test_sets")]:
            if name and name not in names:
                names.append(name)
        return names

    def speaker_dirs(self, ctx: Context) -> List[Path]:
        """Stage 6 (speaker embeddings): data folders whose utterances get an x-vector, the training set first."""
        return [require(ctx.raw(name) / "wav.scp", 4).parent for name in self.dump_sets(ctx)]

    # ---------------------------------------------------------------- stages 7-9: what the jobs read
    def data_options(self, ctx: Context, mode: str, data: Path) -> List[str]:
        """ESPnet's data triples for ``mode`` (train, valid or test) of the dump folder ``data``."""
        raise NotImplementedError(f"task {self.name} has no training data options yet")

    def require_inputs(self, ctx: Context, dset: str) -> None:
        """Inputs beyond the dump that the task reads for ``dset`` (x-vectors, labels)."""

    def model_options(self, ctx: Context) -> List[str]:
        """Model options that earlier stages decide (stages 7 and 8)."""
        return []

    def train_options(self, ctx: Context) -> List[str]:
        """Options of stage 8 beyond the data triples and shapes."""
        return self.model_options(ctx)

    def normalize_options(self, ctx: Context, stage: int) -> List[str]:
        """``normalize: global_mvn`` in the training config without a ``stats_file``: stage 7 collects the
        statistics without it (``--normalize none``), stage 8 reads them (``<stats_dir>/train/feats_stats.npz``)."""
        from espnet2_speecht5.train.checks import config_value_or

        if not ctx.train_config or not Path(ctx.train_config).is_file():
            return []
        if config_value_or(ctx.train_config, "normalize") != "global_mvn":
            return []
        if config_value_or(ctx.train_config, "normalize_conf.stats_file") is not None:
            return []  # the config names its own statistics
        if stage == 7:
            return ["--normalize", "none"]
        stats = require(Path(ctx.stats_dir) / "train" / "feats_stats.npz", 7)
        return ["--normalize_conf", f"stats_file={stats}"]

    # ---------------------------------------------------------------- stage 9
    def decode_dir(self, ctx: Context, model: str) -> Path:
        """``<exp>/decode[_<config>]_<model>[_lm_<lm>]``: where stage 9 writes and stage 10 scores."""
        exp = Path(ctx.task_exp)
        stem = model[: -len(".pth")] if model.endswith(".pth") else model
        if self.decode_prefix != "decode":
            return exp / f"{self.decode_prefix}_{stem}"
        tag = Path(ctx.inference_config).stem
        if not tag.startswith("decode"):
            tag = f"decode_{tag}"
        tag += f"_{stem}"
        if ctx.flag("use_lm"):
            lm = Path(ctx.lm_model_file)
            lm_dir = lm.parent.name
            tag += f"_lm_{lm_dir[3:] if lm_dir.startswith('lm_') else lm_dir}_{lm.stem}"
        return exp / tag

    def split_jobs(self, ctx: Context, dset: str, logdir: Path, nj: int) -> int:
        """Split ``dset`` into at most ``nj`` jobs' key files in ``logdir``; the number of jobs."""
        wav_scp = require(ctx.raw(dset) / "wav.scp", 4)
        self.require_inputs(ctx, dset)
        n = min(nj, count_lines(wav_scp))
        split_keys(wav_scp, n, logdir / "keys.JOB.scp")
        return n

    def inference_args(self, ctx: Context, dset: str, logdir: Path, model: str) -> List[str]:
        """The arguments of one inference job (``JOB`` is replaced by the job runner)."""
        exp = Path(ctx.task_exp)
        prefix = self.env()["model_prefix"]
        args = ["--ngpu", ctx.inference_ngpu, *self.data_options(ctx, "test", ctx.raw(dset)),
                "--key_file", str(logdir / "keys.JOB.scp"),
                f"--{prefix}train_config", str(exp / "config.yaml"), f"--{prefix}model_file", str(exp / model)]
        if ctx.flag("use_lm"):
            args += ["--lm_train_config", ctx.lm_model_config, "--lm_file", ctx.lm_model_file]
        if self.uses_inference_config:
            args += ["--config", ctx.inference_config]
        return args + ["--output_dir", str(logdir / "output.JOB")]

    def merge_jobs(self, ctx: Context, logdir: Path, nj: int, outdir: Path) -> None:
        """Stage 9: the jobs' outputs as one set of files in ``outdir``."""
        getattr(merging, f"merge_{self.output}")(logdir, nj, outdir)

    # ---------------------------------------------------------------- stages 10-13
    def score(self, ctx: Context, dset: str, decode_dir: Path, model: str) -> Dict[str, object]:
        """Stage 10: score one set; returns the ``scores.json`` content it wrote."""
        raise NotImplementedError(f"task {self.name} has no scorer yet")

    def results_section(self, exp_dir: Path, rows: Sequence[Tuple[str, Dict[str, object]]]) -> str:
        """Stage 11: the task's tables in RESULTS.md, from ``(decode dir/set, scores.json)`` rows."""
        raise NotImplementedError(f"task {self.name} has no RESULTS.md section yet")

    def extra_pack_files(self, ctx: Context) -> List[Path]:
        """Stage 12: files beyond the model, its config and what the config names."""
        return []


def make_tokens(token_type: str, bpemode: str, nbpe: str, text: Path, outdir: Path) -> None:
    """One token list (``char``, ``word`` or sentencepiece ``bpe`` of ``bpemode``) from a Kaldi text file."""
    from espnet2_speecht5.text.token_list import make_token_list

    kind = bpemode if token_type == "bpe" else token_type
    size = 0
    if token_type == "bpe":
        try:
            size = int(nbpe)
        except ValueError:
            raise DataError(f"--nbpe must be an integer, not '{nbpe}'") from None
    make_token_list(kind, text, outdir, nbpe=size)
