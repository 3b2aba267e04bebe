"""Speaker identification: speech in, one speaker out (SpeechT5's encoder, one decoder step as pooling).

The token list is the training set's speakers (stage 5, ``--token_type word``); stage 9 writes the
best speaker and the five best per utterance; stage 10 scores accuracy and top-5 accuracy and
draws a confusion matrix (``<decode dir>/<set>/confusion.png``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet2_speecht5.recipes.base import Context, TaskRecipe
from espnet2_speecht5.recipes.files import require
from espnet2_speecht5.runtime.errors import DataError

logger = logging.getLogger(__name__)

HEAD_NAMES = {
    "decoder": "decoder (one decoder step from a zero input cross-attends to the encoder: SpeechT5's SID head)",
    "pooling": "pooling (mean and standard deviation of the encoder frames, then a linear layer)",
}


def read_yaml(path: Path) -> dict:
    import yaml

    try:
        content = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise DataError(f"cannot read it ({err.strerror})", path) from None
    except yaml.YAMLError as err:
        raise DataError(f"is not YAML ({str(err).splitlines()[0]})", path) from None
    if not isinstance(content, dict):
        raise DataError("is not a YAML mapping", path)
    return content


def model_head(config: dict) -> str:
    """The head of a training config (the model's default: decoder)."""
    return str((config.get("model_conf") or {}).get("head", "decoder"))


class SIDRecipe(TaskRecipe):
    """Closed-set speaker identification (stages 1-13)."""

    def make_token_lists(self, ctx: Context) -> None:
        from espnet2_speecht5.text.token_list import make_speaker_list

        if ctx.token_type != "word":
            raise DataError(f"task sid reads one speaker per utterance as a word: run it with --token_type word, "
                            f"not {ctx.token_type}")
        utt2spk = require(ctx.raw(ctx.data_train_set) / "utt2spk", 4)
        _, count = make_speaker_list(utt2spk, Path(ctx.token_dir))
        if count < 2:
            raise DataError(f"has {count} speaker: speaker identification needs at least two", utt2spk)

    def data_options(self, ctx: Context, mode: str, data: Path) -> List[str]:
        if mode == "test":
            return ["--data_path_and_name_and_type", f"{data}/wav.scp,speech,sound"]
        return [f"--{mode}_data_path_and_name_and_type", f"{data}/wav.scp,speech,sound",
                f"--{mode}_data_path_and_name_and_type", f"{data}/utt2spk,text,text"]

    def pretrained_parts(self, train_config: Optional[Path] = None) -> Tuple[str, ...]:
        parts = self.network_parts
        if train_config is not None and model_head(read_yaml(train_config)) == "pooling":
            parts = tuple(part for part in parts if part != "decoder")  # the pooling head has no decoder
        return self.without_new_prenet(parts, train_config)

    def score(self, ctx: Context, dset: str, decode_dir: Path, model: str) -> Dict[str, object]:
        from espnet2_speecht5.scoring.scores_file import package_version, write_scores
        from espnet2_speecht5.scoring.sid_scorer import plot_confusion, score_labels

        outdir = decode_dir / dset
        config = read_yaml(require(Path(ctx.task_exp) / "config.yaml", 8))
        tokens = [str(t) for t in config.get("token_list") or []]
        speakers = [t for t in tokens if t not in ("<blank>", "<unk>", "<sos/eos>")]
        result = score_labels(require(ctx.raw(dset) / "utt2spk", 4), require(outdir / "label", 9),
                              outdir / "top5" if (outdir / "top5").is_file() else None, speakers)
        png = plot_confusion(result, outdir / "confusion.png", f"{Path(ctx.task_exp).name} {dset}")
        logger.info(f"stage 10: {dset}: accuracy {result.accuracy:.2f}%, top-5 {result.top5:.2f}% of "
                    f"{result.utterances} utterances; confusion matrix: {png}")
        details = {"utterances": result.utterances, "correct": result.correct, "correct_top5": result.correct_top5,
                   "missing": result.missing, "unknown_speakers": result.unknown_speakers,
                   "unknown_examples": result.unknown_examples, "speakers": len(speakers),
                   "head": model_head(config), "confusion_png": str(png)}
        return write_scores(outdir / "scores.json", self.name, dset, str(Path(ctx.task_exp) / model),
                            {"accuracy": round(result.accuracy, 2), "top5": round(result.top5, 2)}, self.metrics,
                            {"matplotlib": package_version("matplotlib")}, details)

    def results_section(self, exp_dir: Path, rows: Sequence[Tuple[str, Dict[str, object]]]) -> str:
        heads = sorted({str(scores["details"].get("head", "?")) for _, scores in rows})
        lines = ["", "### SID", ""]
        lines += [f"- head: {HEAD_NAMES.get(head, head)}" for head in heads]
        lines += ["", "|dataset|Snt|speakers|accuracy (%)|top-5 (%)|not in training|",
                  "|---|---|---|---|---|---|"]
        notes = []
        for dataset, scores in rows:
            metrics, details = scores["metrics"], scores["details"]
            unknown = int(details.get("unknown_speakers", 0))
            lines.append(f"|{dataset}|{details.get('utterances', '?')}|{details.get('speakers', '?')}|"
                         f"{metrics['accuracy']:.2f}|{metrics['top5']:.2f}|{unknown}|")
            if unknown:
                notes.append(f"- {dataset}: {unknown} utterance(s) of a speaker the model was not trained on, "
                             f"counted as errors (e.g. `{details['unknown_examples'][0]}`)")
            missing = int(details.get("missing", 0))
            if missing:
                notes.append(f"- {dataset}: {missing} utterance(s) without an output, counted as errors")
        lines += [""] + notes if notes else []
        lines.append("")
        lines.append("Confusion matrices: `<dataset>/confusion.png` under the experiment folder.")
        return "\n".join(lines) + "\n"


RECIPE = SIDRecipe(
    name="sid",
    description="speaker identification: speech in, a speaker label out",
    kind="s2c",
    trained=True,
    espnet_task="espnet2_speecht5.tasks.sid:SIDTask",
    train_module="espnet2_speecht5.bin.sid_train",
    inference_module="espnet2_speecht5.bin.sid_inference",
    required_files=("wav.scp", "utt2spk", "spk2utt"),
    token_lists="speakers",
    shape_keys=("speech",),
    fold_lengths=(80000,),
    inference_models=("valid.acc.ave.pth", "valid.acc.best.pth", "latest.pth"),
    output="label",
    metrics=("accuracy", "top5"),
    pack_kind="classification",
    uses_inference_config=False,
    no_export_reason="transformers has no SpeechT5 speaker-identification class",
    decode_prefix="classify",
)
