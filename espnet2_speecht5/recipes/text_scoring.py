"""Scoring text output with sclite (ASR now; ST's source side later) and its RESULTS.md tables."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet2_speecht5.recipes.base import Context, TaskRecipe
from espnet2_speecht5.recipes.files import require
from espnet2_speecht5.report.results_md import METRIC_ORDER, sclite_tables
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.scoring.sclite import ScliteResult, read_text, score, summary_line
from espnet2_speecht5.scoring.scores_file import write_scores

logger = logging.getLogger(__name__)
_SCLITE_VERSION = re.compile(r"sclite: *([0-9][^\s]*)")


def sclite_version(result_txt: Path) -> str:
    """sclite's version as its report states it (``sclite 2.10``), or ``sclite``."""
    match = _SCLITE_VERSION.search(result_txt.read_text(encoding="utf-8", errors="replace")[:2000])
    return f"sclite {match.group(1)}" if match else "sclite"


def sclite_scores(
    ref_text: Path, hyp_text: Path, outdir: Path, metrics: Sequence[str], token_type: str = "char",
    bpemodel: Optional[str] = None, utt2spk: Optional[Path] = None,
) -> Dict[str, ScliteResult]:
    """sclite's summary per metric (``wer``, ``cer``, ``ter``) with the reports in ``outdir/score_<metric>/``.

    Raises:
        DataError: no reference utterance.
    """
    ref = read_text(ref_text)
    if not ref:
        raise DataError("has no utterance to score", ref_text)
    hyp = read_text(hyp_text)
    missing = sorted(set(ref) - set(hyp))
    if missing:
        logger.warning(f"{len(missing)} of {len(ref)} utterances have no hypothesis (scored as empty), "
                       f"e.g. '{missing[0]}'")
    speakers = read_text(utt2spk) if utt2spk and Path(utt2spk).is_file() else None
    results = {}
    for metric in metrics:
        results[metric] = score(ref, hyp, outdir / f"score_{metric}", metric, token_type, bpemodel, speakers)
        logger.info(f"{outdir}: {summary_line(metric, results[metric])}; report: "
                    f"{outdir / f'score_{metric}' / 'result.txt'}")
    return results


def score_text_set(
    recipe: TaskRecipe, ctx: Context, dset: str, decode_dir: Path, model: str, metrics: Sequence[str]
) -> Dict[str, object]:
    """Stage 10 for text hypotheses: sclite CER and WER (and the token error rate of a bpe model)."""
    outdir = decode_dir / dset
    hyp = require(outdir / "text", 9)
    run: List[str] = [m for m in METRIC_ORDER if m in metrics]
    bpemodel = None
    if ctx.token_type == "bpe":  # a char (word) model's tokens are its characters (words): the TER would repeat
        run.append("ter")
        bpemodel = str(Path(ctx.token_dir) / "bpe.model")
    results = sclite_scores(ctx.raw(dset) / "text", hyp, outdir, run, ctx.token_type, bpemodel,
                            ctx.raw(dset) / "utt2spk")
    return write_scores(
        outdir / "scores.json", recipe.name, dset, str(Path(ctx.task_exp) / model),
        {m: results[m].percent.err for m in metrics}, recipe.metrics,
        {"sclite": sclite_version(outdir / f"score_{run[0]}" / "result.txt")},
        {"sclite": {m: r.percent.as_dict() for m, r in results.items()}},
    )


def sclite_section(rows: Sequence[Tuple[str, Dict[str, object]]]) -> str:
    """One ``### <METRIC>`` table per sclite metric of the rows' ``details.sclite``."""
    return sclite_tables([(dataset, scores["details"].get("sclite", {})) for dataset, scores in rows])
