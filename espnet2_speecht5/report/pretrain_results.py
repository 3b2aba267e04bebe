"""Stage 11 of ``--task pretrain``: RESULTS.md with the held-out scores of stage 10.

One table, one row per evaluated set (``<eval dir>/<set>/scores.yaml``)::

    |dataset|utterances|masked-prediction acc (%)|masked-prediction loss|mel L1|stop BCE|sentences|
    text denoising CE|text acc (%)|

(one line in the file).

The header and the merge into the recipe's RESULTS.md are those of the other tasks
(:mod:`espnet2_speecht5.report.results_md`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from espnet2_speecht5.report.results_md import GENERATED_MARK, environment_header, section_heading

PathLike = Union[str, Path]
SCORES_FILE = "scores.yaml"
HEADER = ("|dataset|utterances|masked-prediction acc (%)|masked-prediction loss|mel L1|stop BCE|sentences|"
          "text denoising CE|text acc (%)|")
RULE = "|---|---|---|---|---|---|---|---|---|"


def collect_pretrain_scores(exp_dir: PathLike) -> List[Tuple[str, Dict[str, Any]]]:
    """``[(<eval dir>/<set>, scores), ...]`` from ``exp_dir/*/*/scores.yaml``, sorted."""
    from espnet2_speecht5.inference.pretrain_scores import read_yaml

    paths = sorted(Path(exp_dir).glob(f"*/*/{SCORES_FILE}"))
    return [(f"{p.parents[1].name}/{p.parent.name}", read_yaml(p)) for p in paths]


def _cell(value: Optional[float], scale: float = 1.0, digits: int = 3) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


def pretrain_table(rows: Sequence[Tuple[str, Dict[str, Any]]]) -> str:
    lines = [HEADER, RULE]
    for dataset, s in rows:
        speech = s.get("utterances", 0) > 0
        text = s.get("sentences", 0) > 0
        cells = [
            dataset,
            str(s.get("utterances", 0)),
            _cell(s.get("acc_mlm") if speech else None, 100.0, 1),
            _cell(s.get("loss_mlm") if speech else None),
            _cell(s.get("loss_mel_l1") if speech else None),
            _cell(s.get("loss_stop_bce") if speech else None),
            str(s.get("sentences", 0)),
            _cell(s.get("loss_text_ce") if text else None),
            _cell(s.get("acc_text") if text else None, 100.0, 1),
        ]
        lines.append("|" + "|".join(cells) + "|")
    return "\n".join(lines) + "\n"


def make_pretrain_results_md(
    exp_dir: PathLike,
    repo: Optional[PathLike],
    model_file: Optional[str] = None,
    config: Optional[str] = None,
    extra_lines: Sequence[str] = (),
    date: Optional[str] = None,
) -> str:
    """The whole RESULTS.md text for one pre-training experiment folder."""
    rows = collect_pretrain_scores(exp_dir)
    body = section_heading(exp_dir, model_file, config, extra_lines) + "\n### Pre-training (held-out)\n\n"
    body += pretrain_table(rows)
    body += ("\nMasked prediction: accuracy and cross-entropy of the cluster label on masked frames; mel L1 and "
             "stop BCE: the speech decoder's reconstruction; text: BART-style denoising of held-out sentences. "
             "Frame- or token-weighted means, one utterance at a time with seeded masks.\n")
    return f"{GENERATED_MARK}\n# RESULTS\n{environment_header(repo, date)}\n{body}"
