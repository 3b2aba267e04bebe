"""The template sentence generator: determinism, distinctness, and correct renderings."""

from __future__ import annotations

import re

import pytest

from espnet2_speecht5.corpus.sentences import (
    COLOURS,
    OBJECTS,
    PLACES,
    PREPOSITIONS,
    french_place,
    generate_sentences,
    german_place,
    vocabulary,
)


def test_same_seed_same_sentences_and_other_seed_differs():
    first = generate_sentences(300, seed=5)
    assert first == generate_sentences(300, seed=5)
    assert first != generate_sentences(300, seed=6)
    assert len({s.en for s in first}) == 300


def test_exclude_and_template_choice():
    excluded = {s.en for s in generate_sentences(50, seed=0)}
    again = generate_sentences(200, seed=0, exclude=excluded)
    assert not excluded & {s.en for s in again}
    times = generate_sentences(20, seed=1, templates=["time"])
    assert all(s.template == "time" and s.en.startswith("it is ") for s in times)


def test_too_many_sentences_from_a_small_template_is_an_error():
    with pytest.raises(ValueError, match="distinct sentences"):
        generate_sentences(100, seed=0, templates=["colour"])  # only 9 objects x 6 colours
    with pytest.raises(ValueError, match="no template"):
        generate_sentences(1, seed=0, templates=["nonsense"])


def test_text_is_lower_case_words_and_the_vocabulary_is_small():
    sentences = generate_sentences(2000, seed=0)
    for s in sentences:
        for lang, text in s.texts().items():
            assert re.fullmatch(r"[a-zäöüßàâçéèêëîïôûù' -]+", text), (lang, text)
            assert text == " ".join(text.split())
    assert len(vocabulary(sentences, "en")) < 80
    assert len(vocabulary(sentences, "de")) < 90
    assert len(vocabulary(sentences, "fr")) < 100


def test_grammar_of_the_renderings():
    table, bed = PLACES[0], PLACES[2]
    on, next_to = PREPOSITIONS[0], PREPOSITIONS[2]
    assert german_place(on, table) == "auf dem tisch"
    assert french_place(on, table) == "sur la table"
    assert french_place(next_to, bed) == "à côté du lit"
    assert french_place(next_to, table) == "à côté de la table"
    white = COLOURS[4]
    assert [white.french(g, p) for g in "mf" for p in (False, True)] == ["blanc", "blancs", "blanche", "blanches"]


def test_every_english_word_choice_shows_in_the_translations():
    """A colour, object or place in the English sentence appears in the German and French ones."""
    for s in generate_sentences(500, seed=2):
        words = s.en.split()
        for colour in COLOURS:
            if colour.en in words:
                assert colour.de in s.de and colour.fr[0].rstrip("e")[:4] in s.fr, s
        for noun in OBJECTS + PLACES:
            if noun.en in words:
                assert noun.de in s.de.split() and noun.fr in s.fr.split(), s
            if noun.en_pl in words:
                assert noun.de_pl in s.de.split() and noun.fr_pl in s.fr.split(), s
