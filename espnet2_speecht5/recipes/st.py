"""Speech translation: source speech in, target-language text out (SpeechT5's speech-encoder
pre-net, encoder, text decoder over the target vocabulary), scored by sacrebleu.

Stage 5 makes two token lists (the source's, ``--token_type``/``--nbpe``; the target's,
``--tgt_token_type``/``--tgt_nbpe``); the driver trains with the target list as ``--token_list``
and the source list as ``--src_token_list`` (for the optional source CTC). Stage 9 is the ASR
beam search without CTC (``bin/st_inference.py``). Stage 10 scores
``bleu`` and ``chrf`` with sacrebleu; ``--score_args "--lowercase true --remove_punctuation true"``
changes the normalisation, which scores.json and RESULTS.md state.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet2_speecht5.recipes.base import Context, TaskRecipe
from espnet2_speecht5.recipes.files import require
from espnet2_speecht5.runtime.errors import DataError

logger = logging.getLogger(__name__)


def score_options(score_args: str) -> argparse.Namespace:
    """``--lowercase`` and ``--remove_punctuation`` (true/false) from ``--score_args``."""
    from espnet2.utils.types import str2bool

    from espnet2_speecht5.recipes.base import shell_words

    parser = argparse.ArgumentParser(prog="--score_args (st)", add_help=False)
    parser.add_argument("--lowercase", type=str2bool, default=False)
    parser.add_argument("--remove_punctuation", type=str2bool, default=False)
    known, unknown = parser.parse_known_args(shell_words(score_args))
    if unknown:
        raise DataError(f"--score_args: unknown option(s) for st: {' '.join(unknown)} "
                        f"(st takes --lowercase and --remove_punctuation)")
    return known


class STRecipe(TaskRecipe):
    """Speech translation (stages 1-13)."""

    # the vocabulary-sized part of the network: a new target embedding (and its tied output layer)
    TARGET_EMBEDDING_PARTS = ("text_decoder_prenet", "text_decoder_postnet")

    @property
    def shares_pretrained_tokens(self) -> bool:
        """No: the decoder writes the target language, so its embedding starts anew (the official recipe's
        choice) and stage 5 makes both lists from the data, whatever the pre-training model's list."""
        return False

    def pretrained_parts(self, train_config: Optional[Path] = None) -> Tuple[str, ...]:
        """The speech pre-net, the encoder and the decoder of a pre-training model; not its text embedding."""
        parts = tuple(part for part in self.network_parts if part not in self.TARGET_EMBEDDING_PARTS)
        return self.without_new_prenet(parts, train_config)

    def data_options(self, ctx: Context, mode: str, data: Path) -> List[str]:
        if mode == "test":
            return ["--data_path_and_name_and_type", f"{data}/wav.scp,speech,sound", "--batch_size", "1"]
        return [f"--{mode}_data_path_and_name_and_type", f"{data}/wav.scp,speech,sound",
                f"--{mode}_data_path_and_name_and_type", f"{data}/text.tgt,text,text",
                f"--{mode}_data_path_and_name_and_type", f"{data}/text,src_text,text"]

    def score(self, ctx: Context, dset: str, decode_dir: Path, model: str) -> Dict[str, object]:
        from espnet2_speecht5.scoring.sclite import read_text
        from espnet2_speecht5.scoring.scores_file import package_version, write_scores
        from espnet2_speecht5.scoring.translation import score_translations

        options = score_options(ctx.score_args)
        outdir = decode_dir / dset
        refs = read_text(require(ctx.raw(dset) / "text.tgt", 4))
        hyps = read_text(require(outdir / "text", 9))
        scores = score_translations(refs, hyps, options.lowercase, options.remove_punctuation)
        if scores.missing:
            logger.warning(f"{len(scores.missing)} of {scores.sentences} utterances have no translation "
                           f"(scored as empty), e.g. '{scores.missing[0]}'")
        report = outdir / "score_bleu" / "result.txt"
        report.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"BLEU {scores.bleu:.2f} ({scores.bleu_signature})",
                 f"chrF {scores.chrf:.2f} ({scores.chrf_signature})", f"normalisation: {scores.normalisation}", ""]
        lines += [f"{utt}\n  REF: {ref}\n  HYP: {hyps.get(utt, '')}" for utt, ref in refs.items()]
        report.write_text("\n".join(lines) + "\n", encoding="utf-8")
        logger.info(f"{outdir}: BLEU {scores.bleu:.2f}, chrF {scores.chrf:.2f} ({scores.normalisation}); "
                    f"signature {scores.bleu_signature}; report: {report}")
        return write_scores(
            outdir / "scores.json", self.name, dset, str(Path(ctx.task_exp) / model),
            {"bleu": scores.bleu, "chrf": scores.chrf}, self.metrics,
            {"sacrebleu": package_version("sacrebleu")},
            {"bleu_signature": scores.bleu_signature, "chrf_signature": scores.chrf_signature,
             "normalisation": scores.normalisation, "lowercase": scores.lowercase,
             "remove_punctuation": scores.remove_punctuation, "sentences": scores.sentences,
             "missing": len(scores.missing), "bleu_details": scores.bleu_details},
        )

    def results_section(self, exp_dir: Path, rows: Sequence[Tuple[str, Dict[str, object]]]) -> str:
        lines = ["", "### BLEU", "", "|dataset|BLEU|chrF|verbose score|", "|---|---|---|---|"]
        signatures: Dict[str, str] = {}
        for dataset, scores in rows:
            metrics, details = scores["metrics"], scores.get("details", {})
            d = details.get("bleu_details", {})
            precisions = "/".join(f"{p:.1f}" for p in d.get("precisions", []))
            verbose = (f"{precisions} (BP = {d.get('bp', 0):.3f} ratio = {d.get('ratio', 0):.3f} "
                       f"hyp_len = {d.get('hyp_len', 0)} ref_len = {d.get('ref_len', 0)})")
            lines.append(f"|{dataset}|{metrics['bleu']:.2f}|{metrics['chrf']:.2f}|{verbose}|")
            signatures[f"BLEU: `{details.get('bleu_signature', '?')}`; chrF: `{details.get('chrf_signature', '?')}`; "
                       f"{details.get('normalisation', '?')}"] = dataset
        lines.append("")
        lines += [f"sacrebleu signatures ({dataset} and others scored alike): {text}"
                  if len(signatures) > 1 else f"sacrebleu signatures: {text}"
                  for text, dataset in signatures.items()]
        lines.append("Hypotheses and references are detokenised sentences; references are scored as the "
                     "data directory holds them (`text.tgt`).")
        return "\n".join(lines) + "\n"


RECIPE = STRecipe(
    name="st",
    description="speech translation: speech in, text of another language out",
    kind="s2t",
    trained=True,
    espnet_task="espnet2_speecht5.tasks.st:STTask",
    train_module="espnet2_speecht5.bin.st_train",
    inference_module="espnet2_speecht5.bin.st_inference",
    required_files=("wav.scp", "text", "text.tgt", "utt2spk", "spk2utt"),
    text_files=("text", "text.tgt"),
    token_lists="source_target",
    shape_keys=("speech", "text"),
    fold_lengths=(80000, 150),
    vocab_shape_keys=("text",),
    inference_models=("valid.acc.ave.pth", "valid.acc.best.pth", "latest.pth"),
    output="text",
    metrics=("bleu", "chrf"),
    pack_kind="st",
    transformers_class="SpeechT5ForSpeechToText",
)
