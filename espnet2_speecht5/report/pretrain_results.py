"""The RESULTS.md section of ``--task pretrain``: the held-out scores of stage 10.

One table, one row per evaluated set (``<eval dir>/<set>/scores.json``)::

    |dataset|utterances|masked-prediction acc (%)|masked-prediction loss|mel L1|stop BCE|sentences|
    text denoising CE|text acc (%)|

(one line in the file).

"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

HEADER = ("|dataset|utterances|masked-prediction acc (%)|masked-prediction loss|mel L1|stop BCE|sentences|"
          "text denoising CE|text acc (%)|")
RULE = "|---|---|---|---|---|---|---|---|---|"


def _cell(value: Optional[float], digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def pretrain_table(rows: Sequence[Tuple[str, Dict[str, Any]]]) -> str:
    """The held-out table from ``(eval dir/set, scores.json)`` rows (accuracies in percent)."""
    lines = [HEADER, RULE]
    for dataset, scores in rows:
        m, counts = scores["metrics"], scores.get("details", {}).get("counts", {})
        speech = counts.get("utterances", 0) > 0
        text = counts.get("sentences", 0) > 0
        cells = [
            dataset,
            str(counts.get("utterances", 0)),
            _cell(m.get("acc_mlm") if speech else None, 1),
            _cell(m.get("loss_mlm") if speech else None),
            _cell(m.get("loss_mel_l1") if speech else None),
            _cell(m.get("loss_stop_bce") if speech else None),
            str(counts.get("sentences", 0)),
            _cell(m.get("loss_text_ce") if text else None),
            _cell(m.get("acc_text") if text else None, 1),
        ]
        lines.append("|" + "|".join(cells) + "|")
    return "\n".join(lines) + "\n"


def pretrain_section(rows: Sequence[Tuple[str, Dict[str, Any]]]) -> str:
    """``### Pre-training (held-out)``: the table and what its columns mean."""
    return ("\n### Pre-training (held-out)\n\n" + pretrain_table(rows)
            + "\nMasked prediction: accuracy and cross-entropy of the cluster label on masked frames; mel L1 and "
            "stop BCE: the speech decoder's reconstruction; text: BART-style denoising of held-out sentences. "
            "Frame- or token-weighted means, one utterance at a time with seeded masks.\n")
