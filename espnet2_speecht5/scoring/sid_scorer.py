"""Score speaker identification: accuracy, top-5 accuracy and a per-speaker confusion matrix.

Inputs are Kaldi-style files: the reference ``utt2spk``, stage 9's ``label`` (``<utt> <speaker>``)
and ``top5`` (``<utt> <speaker>:<probability> ...``). Every reference utterance counts: one with
no output, or whose speaker the model never saw in training (an open-set utterance in a
closed-set test), is an error, and the report says how many there were.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from espnet2_speecht5.data.kaldi_dir import iter_lines
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger(__name__)


@dataclass
class SIDScores:
    """accuracy and top5 in percent over ``utterances``; ``confusion[i, j]``: reference i, output j."""

    utterances: int
    correct: int
    correct_top5: int
    missing: int
    unknown_speakers: int
    unknown_examples: List[str]
    speakers: List[str]
    confusion: np.ndarray = field(repr=False)

    @property
    def accuracy(self) -> float:
        return 100.0 * self.correct / self.utterances

    @property
    def top5(self) -> float:
        return 100.0 * self.correct_top5 / self.utterances


def read_map(path: PathLike) -> Dict[str, str]:
    """``<utt> <value>`` lines -> dict (the value may be empty)."""
    return {utt: value for _, utt, value in iter_lines(path)}


def parse_top(value: str) -> List[str]:
    """``"spk_a:0.91 spk_b:0.05"`` -> ``["spk_a", "spk_b"]`` (a speaker may itself hold ':')."""
    return [item.rsplit(":", 1)[0] for item in value.split()]


def score_labels(
    ref_utt2spk: PathLike, hyp_label: PathLike, hyp_top5: Optional[PathLike], known_speakers: Sequence[str]
) -> SIDScores:
    """Compare stage 9's outputs with the reference.

    Args:
        known_speakers: the model's speakers (its training list): the rows and columns of the
            confusion matrix, with one more row for reference speakers outside it.

    Raises:
        DataError: an empty reference.
    """
    ref = read_map(ref_utt2spk)
    if not ref:
        raise DataError("has no utterance to score", ref_utt2spk)
    hyp = read_map(hyp_label)
    top = {utt: parse_top(value) for utt, value in read_map(hyp_top5).items()} if hyp_top5 else {}
    known = list(known_speakers)
    index = {spk: i for i, spk in enumerate(known)}
    confusion = np.zeros((len(known) + 1, len(known)), dtype=np.int64)  # last row: unknown reference speakers
    correct = correct_top5 = missing = 0
    unknown: List[str] = []
    for utt, spk in ref.items():
        out = hyp.get(utt)
        if out is None:
            missing += 1
        if spk not in index:
            unknown.append(utt)
        row = index.get(spk, len(known))
        if out in index:
            confusion[row, index[out]] += 1
        correct += int(out == spk and spk in index)
        correct_top5 += int(spk in index and spk in top.get(utt, [out] if out else [])[:5])
    if missing:
        logger.warning(f"{missing} of {len(ref)} utterances of {ref_utt2spk} have no output in {hyp_label} "
                       "(scored as errors)")
    if unknown:
        logger.warning(f"{len(unknown)} of {len(ref)} utterances of {ref_utt2spk} have a speaker the model was not "
                       f"trained on (scored as errors), e.g. '{unknown[0]}'")
    return SIDScores(len(ref), correct, correct_top5, missing, len(unknown), unknown[:5], known, confusion)


def plot_confusion(scores: SIDScores, png: PathLike, title: str) -> Path:
    """Draw the confusion matrix (rows: reference, columns: output; counts in the cells when few)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = scores.confusion if scores.unknown_speakers else scores.confusion[:-1]
    rows = scores.speakers + (["(not trained)"] if scores.unknown_speakers else [])
    n = len(scores.speakers)
    size = min(4 + 0.35 * n, 30)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(matrix, cmap="Blues", aspect="auto", interpolation="nearest")
    fig.colorbar(image, ax=ax, label="utterances")
    if n <= 40:
        ax.set_xticks(range(n), scores.speakers, rotation=90, fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        if n <= 20:
            threshold = matrix.max() / 2 if matrix.size else 0
            for (i, j), count in np.ndenumerate(matrix):
                if count:
                    ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                            color="white" if count > threshold else "black")
    ax.set_xlabel("identified speaker")
    ax.set_ylabel("true speaker")
    ax.set_title(f"{title}: accuracy {scores.accuracy:.1f}% of {scores.utterances}")
    fig.tight_layout()
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png
