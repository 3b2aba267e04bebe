"""ST scoring: sacrebleu BLEU and chrF, the options, and what happens to missing or empty lines."""

from __future__ import annotations

import pytest
import sacrebleu

from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.scoring.translation import score_translations, strip_punctuation

REFS = {"u1": "Das ist ein kleines Haus.", "u2": "Ich sehe den roten Ball!", "u3": "Wir gehen nach Hause."}
HYPS = {"u1": "das ist ein kleines Haus", "u2": "Ich sehe den roten Ball!", "u3": "Wir gehen heim."}


def test_bleu_and_chrf_are_sacrebleus_corpus_scores_in_reference_order():
    scores = score_translations(REFS, {k: HYPS[k] for k in reversed(list(HYPS))})
    refs = list(REFS.values())
    hyps = [HYPS[k] for k in REFS]
    assert scores.bleu == round(sacrebleu.corpus_bleu(hyps, [refs]).score, 2)
    assert scores.chrf == round(sacrebleu.corpus_chrf(hyps, [refs]).score, 2)
    assert scores.bleu_signature.startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert "case:mixed" in scores.chrf_signature
    assert scores.normalisation == "case-sensitive, punctuation kept" and scores.sentences == 3
    assert 0 < scores.bleu < 100 and scores.bleu_details["hyp_len"] > 0


def test_lowercase_and_punctuation_options_raise_the_score_and_are_recorded():
    plain = score_translations(REFS, HYPS)
    lower = score_translations(REFS, HYPS, lowercase=True)
    both = score_translations(REFS, HYPS, lowercase=True, remove_punctuation=True)
    assert "case:lc" in lower.bleu_signature
    assert plain.bleu < lower.bleu < both.bleu
    assert both.normalisation == "lower-cased, punctuation removed"
    assert strip_punctuation("Haus .  Ja!") == "Haus Ja"


def test_a_perfect_system_scores_100_and_a_missing_hypothesis_counts_as_empty():
    assert score_translations(REFS, REFS).bleu == 100.0
    partial = score_translations(REFS, {"u1": REFS["u1"], "u2": REFS["u2"]})
    assert partial.missing == ["u3"] and partial.bleu < 100.0


def test_an_empty_reference_is_an_error_naming_the_utterance():
    with pytest.raises(DataError, match="utterance 'u2': empty reference translation"):
        score_translations({"u1": "ja", "u2": " "}, {"u1": "ja"})
