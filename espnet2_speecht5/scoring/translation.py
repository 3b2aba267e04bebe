"""Stage 10 of ST: corpus BLEU and chrF of detokenised translations with sacrebleu.

Both metrics are sacrebleu's, on whole sentences as the decoder wrote them (no tokenisation of
ours). Two options change the text, and both are stated in ``scores.json`` and RESULTS.md:

* ``lowercase``: sacrebleu's own case-insensitive mode (its signature says ``case:lc``);
* ``remove_punctuation``: Unicode punctuation is deleted from hypotheses and references alike
  (the signature does not record this, so the report does).

References are otherwise used exactly as the data directory holds them: no token is ever
removed from a reference (an empty reference line is an error of the data, not something to skip).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Dict, List, Mapping

from espnet2_speecht5.runtime.errors import DataError


@dataclass
class TranslationScores:
    """Corpus scores of one set.

    Attributes:
        bleu, chrf: sacrebleu's corpus BLEU and chrF (0-100).
        bleu_signature, chrf_signature: sacrebleu's signatures of the two metrics.
        lowercase, remove_punctuation: the options in effect.
        sentences: number of references; missing: references without a hypothesis (scored as empty).
        bleu_details: brevity penalty, length ratio, hypothesis and reference lengths, n-gram precisions.
    """

    bleu: float
    chrf: float
    bleu_signature: str
    chrf_signature: str
    lowercase: bool
    remove_punctuation: bool
    sentences: int
    missing: List[str] = field(default_factory=list)
    bleu_details: Dict[str, object] = field(default_factory=dict)

    @property
    def normalisation(self) -> str:
        """``case-sensitive, punctuation kept`` and the like, for reports."""
        case = "lower-cased" if self.lowercase else "case-sensitive"
        punct = "punctuation removed" if self.remove_punctuation else "punctuation kept"
        return f"{case}, {punct}"


def strip_punctuation(text: str) -> str:
    """``text`` without Unicode punctuation (categories P*), with runs of spaces collapsed."""
    kept = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    return " ".join(kept.split())


def score_translations(
    references: Mapping[str, str],
    hypotheses: Mapping[str, str],
    lowercase: bool = False,
    remove_punctuation: bool = False,
) -> TranslationScores:
    """sacrebleu corpus BLEU and chrF of ``hypotheses`` against ``references`` (both keyed by utterance).

    Utterances are scored in the references' order; a reference without a hypothesis counts as an
    empty translation (listed in ``missing``), a hypothesis without a reference is ignored.

    Raises:
        DataError: no reference, or an empty one.
    """
    import sacrebleu

    if not references:
        raise DataError("no reference translation to score")
    for utt, ref in references.items():
        if not ref.strip():
            raise DataError("empty reference translation", None, None, utt)
    keys = list(references)
    refs = [references[k] for k in keys]
    hyps = [hypotheses.get(k, "") for k in keys]
    if remove_punctuation:
        refs = [strip_punctuation(r) for r in refs]
        hyps = [strip_punctuation(h) for h in hyps]
    bleu_metric = sacrebleu.metrics.BLEU(lowercase=lowercase)
    chrf_metric = sacrebleu.metrics.CHRF(lowercase=lowercase)
    bleu = bleu_metric.corpus_score(hyps, [refs])
    chrf = chrf_metric.corpus_score(hyps, [refs])
    return TranslationScores(
        bleu=round(float(bleu.score), 2),
        chrf=round(float(chrf.score), 2),
        bleu_signature=str(bleu_metric.get_signature()),
        chrf_signature=str(chrf_metric.get_signature()),
        lowercase=lowercase,
        remove_punctuation=remove_punctuation,
        sentences=len(keys),
        missing=[k for k in keys if k not in hypotheses],
        bleu_details=dict(
            bp=round(float(bleu.bp), 4), ratio=round(float(bleu.sys_len / max(bleu.ref_len, 1)), 4),
            hyp_len=int(bleu.sys_len), ref_len=int(bleu.ref_len), precisions=[round(p, 2) for p in bleu.precisions],
        ),
    )
