"""Joint speech/text pre-training: masked prediction of cluster labels, mel reconstruction, text infilling."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import yaml

from espnet2_speecht5.recipes.base import Context, TaskRecipe
from espnet2_speecht5.recipes.files import count_lines, require, split_keys

logger = logging.getLogger(__name__)
MASK = "<mask>"
SPEECH_METRICS = ("acc_mlm", "loss_mlm", "loss_mel_l1", "loss_stop_bce")
TEXT_METRICS = ("loss_text_ce", "acc_text")
PERCENT = ("acc_mlm", "acc_text")
COUNTS = ("utterances", "frames", "masked_frames", "sentences", "tokens")


class PretrainRecipe(TaskRecipe):
    """Pre-training on unlabeled speech (k-means labels of stage 6) and a text corpus."""

    # ---------------------------------------------------------------- the text corpora
    def held_out_text(self, ctx: Context, dset: str) -> Path:
        """The held-out text of a valid or test set ``dset``: ``<dump>/raw/<dset>_text/text``."""
        return ctx.raw(f"{dset}_text") / "text"

    def text_sets(self, ctx: Context) -> List[str]:
        """The text corpora: training text (unless --skip_train), held-out text of the valid and test sets."""
        sets = [] if ctx.flag("skip_train") else [ctx.pretrain_text_set]
        sets += [f"{d}_text" for d in [ctx.valid_set, *ctx.sets("test_sets")] if Path(f"data/{d}_text/text").is_file()]
        return list(dict.fromkeys(sets))

    def check_data(self, ctx: Context) -> None:
        require(Path("data") / ctx.pretrain_text_set / "text", 1)
        if not Path(f"data/{ctx.valid_set}_text/text").is_file():
            logger.info(f"stage 1: no held-out text data/{ctx.valid_set}_text/text: validation scores speech only")

    def filter_extra(self, ctx: Context) -> None:
        """The text corpora without empty sentences, in ``<dump>/raw/<set>/text``."""
        from espnet2_speecht5.data.kaldi_dir import atomic_write_text

        for dset in self.text_sets(ctx):
            src = require(Path("data") / dset / "text", 1)
            lines = src.read_text(encoding="utf-8").splitlines()
            kept = [line for line in lines if len(line.split()) >= 2]
            out = ctx.raw(dset) / "text"
            out.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out, "".join(line + "\n" for line in kept))
            logger.info(f"stage 4: {out}: {len(kept)} of {len(lines)} sentences kept (the others are empty)")

    # ---------------------------------------------------------------- stage 5
    def token_text(self, ctx: Context) -> Path:
        return ctx.raw(ctx.pretrain_text_set) / "text"

    def make_token_lists(self, ctx: Context) -> None:
        super().make_token_lists(ctx)
        # the text infilling's mask symbol, just before <sos/eos> (ESPnet's lists end with it)
        from espnet2_speecht5.data.kaldi_dir import atomic_write_text

        tokens_txt = Path(ctx.token_dir) / "tokens.txt"
        tokens = tokens_txt.read_text(encoding="utf-8").splitlines()
        if MASK not in tokens:
            tokens.insert(len(tokens) - 1, MASK)
            atomic_write_text(tokens_txt, "".join(t + "\n" for t in tokens))
        logger.info(f"stage 5: {tokens_txt}: {len(tokens)} tokens with {MASK}; fine-tune from this model with "
                    "--pretrained_model to share it")

    # ---------------------------------------------------------------- stages 7-9
    def labels(self, ctx: Context, dset: str) -> Path:
        return Path(ctx.label_dir) / dset / "label"

    def require_inputs(self, ctx: Context, dset: str) -> None:
        require(self.labels(ctx, dset), 6)

    def data_options(self, ctx: Context, mode: str, data: Path) -> List[str]:
        key = f"--{mode}_data_path_and_name_and_type"
        return [key, f"{data}/wav.scp,speech,sound", key, f"{require(self.labels(ctx, data.name), 6)},label,text_int"]

    def model_options(self, ctx: Context) -> List[str]:
        info = require(Path(ctx.cluster_dir) / "info.yaml", 6)
        return ["--model_conf", f"num_clusters={yaml.safe_load(info.read_text(encoding='utf-8'))['n_clusters']}"]

    def train_options(self, ctx: Context) -> List[str]:
        """The cluster count, and the training and held-out text corpora with their shapes (stage 7)."""
        stats = Path(ctx.stats_dir) / "text"
        train_shape = require(stats / "train" / f"text_shape.{ctx.token_type}", 7)
        options = self.model_options(ctx) + [
            "--train_text_data_path_and_name_and_type", f"{self.token_text(ctx)},text,text",
            "--train_text_shape_file", str(train_shape), "--text_fold_length", "150"]
        valid_text = self.held_out_text(ctx, ctx.valid_set)
        if valid_text.is_file():
            options += ["--valid_text_data_path_and_name_and_type", f"{valid_text},text,text",
                        "--valid_text_shape_file", str(stats / "valid" / f"text_shape.{ctx.token_type}")]
        return options

    def split_jobs(self, ctx: Context, dset: str, logdir: Path, nj: int) -> int:
        wav_scp = require(ctx.raw(dset) / "wav.scp", 4)
        self.require_inputs(ctx, dset)
        text = self.held_out_text(ctx, dset)
        n = min(nj, count_lines(wav_scp), *([count_lines(text)] if text.is_file() else []))
        split_keys(wav_scp, n, logdir / "keys.JOB.scp")
        if text.is_file():
            split_keys(text, n, logdir / "text_keys.JOB.scp")
        else:
            logger.info(f"stage 9: {dset}: no held-out text ({text}): speech scores only")
        return n

    def inference_args(self, ctx: Context, dset: str, logdir: Path, model: str) -> List[str]:
        exp = Path(ctx.task_exp)
        args = ["evaluate", "--train_config", str(exp / "config.yaml"), "--model_file", str(exp / model),
                "--wav_scp", str(ctx.raw(dset) / "wav.scp"), "--label", str(self.labels(ctx, dset)),
                "--key_file", str(logdir / "keys.JOB.scp")]
        text = self.held_out_text(ctx, dset)
        if text.is_file():
            args += ["--text", str(text), "--text_key_file", str(logdir / "text_keys.JOB.scp")]
        return args + ["--device", "cpu" if ctx.inference_ngpu == "0" else "cuda",
                       "--out", str(logdir / "stats.JOB.yaml")]

    def merge_jobs(self, ctx: Context, logdir: Path, nj: int, outdir: Path) -> None:
        from espnet2_speecht5.recipes.merging import merge_stats

        merge_stats(logdir, nj, outdir)

    # ---------------------------------------------------------------- stages 10-11
    def score(self, ctx: Context, dset: str, decode_dir: Path, model: str) -> Dict[str, object]:
        from espnet2_speecht5.inference.pretrain_scores import read_yaml
        from espnet2_speecht5.scoring.scores_file import write_scores

        sums = read_yaml(require(decode_dir / dset / "scores.yaml", 9))
        metrics = {}
        for name in self.metrics:
            value = sums.get(name)
            metrics[name] = value * 100.0 if value is not None and name in PERCENT else value
        return write_scores(decode_dir / dset / "scores.json", self.name, dset, str(Path(ctx.task_exp) / model),
                            metrics, self.metrics, {}, {"counts": {k: sums.get(k, 0) for k in COUNTS}})

    def results_section(self, exp_dir: Path, rows: Sequence[Tuple[str, Dict[str, object]]]) -> str:
        from espnet2_speecht5.report.pretrain_results import pretrain_section

        return pretrain_section(rows)


RECIPE = PretrainRecipe(
    name="pretrain",
    description="joint speech/text pre-training (masked prediction, mel reconstruction, text infilling)",
    kind=None,
    trained=True,
    espnet_task="espnet2_speecht5.tasks.pretrain:PretrainTask",
    train_module="espnet2_speecht5.bin.pretrain_train",
    inference_module="espnet2_speecht5.bin.pretrain_evaluate",
    required_files=("wav.scp", "utt2spk", "spk2utt"),
    token_lists="source",
    aux_targets="cluster_labels",
    text_corpus=True,
    shape_keys=("speech",),
    fold_lengths=(80000,),
    inference_models=("valid.acc_mlm.ave.pth", "valid.acc_mlm.best.pth", "latest.pth"),
    output="stats",
    metrics=SPEECH_METRICS + TEXT_METRICS,
    pack_kind="ssl",
    uses_inference_config=False,  # it decodes nothing
    transformers_class=None,
    no_export_reason="transformers has no SpeechT5 pre-training model class; the zip is the release "
                     "(fine-tune from it with --pretrained_model)",
    decode_prefix="eval",
)
