"""Template sentences in English with German and French renderings built from the same choices.

Each template picks words from small bilingual dictionaries (colours, objects, places,
prepositions, numbers, clock times) and renders the same choice in three languages, applying
the little grammar each needs (German article gender and case, adjective endings and plurals;
French gender agreement, plural forms and ``de + le -> du``).  So every translation is right
and a small model can learn the mapping.  All text is lower case without punctuation.

>>> s = generate_sentences(1, seed=3)[0]
>>> sorted(s.texts())
['de', 'en', 'fr']
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

LANGUAGES = ("en", "de", "fr")


@dataclass(frozen=True)
class Noun:
    """A noun in three languages: singular, plural and grammatical gender."""

    en: str
    en_pl: str
    de: str
    de_pl: str
    de_gender: str  # m, f or n
    fr: str
    fr_pl: str
    fr_gender: str  # m or f


@dataclass(frozen=True)
class Colour:
    """A colour adjective: English, German stem, French forms (m, f, m plural, f plural)."""

    en: str
    de: str
    fr: Tuple[str, str, str, str]

    def french(self, gender: str, plural: bool = False) -> str:
        return self.fr[(2 if plural else 0) + (1 if gender == "f" else 0)]


@dataclass(frozen=True)
class Preposition:
    """A preposition of place (German takes the dative; French ``de`` merges with ``le``)."""

    en: str
    de: str
    fr: str


COLOURS = (
    Colour("red", "rot", ("rouge", "rouge", "rouges", "rouges")),
    Colour("green", "grün", ("vert", "verte", "verts", "vertes")),
    Colour("blue", "blau", ("bleu", "bleue", "bleus", "bleues")),
    Colour("black", "schwarz", ("noir", "noire", "noirs", "noires")),
    Colour("white", "weiß", ("blanc", "blanche", "blancs", "blanches")),
    Colour("yellow", "gelb", ("jaune", "jaune", "jaunes", "jaunes")),
)
OBJECTS = (
    Noun("cup", "cups", "tasse", "tassen", "f", "tasse", "tasses", "f"),
    Noun("box", "boxes", "kiste", "kisten", "f", "boîte", "boîtes", "f"),
    Noun("book", "books", "buch", "bücher", "n", "livre", "livres", "m"),
    Noun("ball", "balls", "ball", "bälle", "m", "ballon", "ballons", "m"),
    Noun("key", "keys", "schlüssel", "schlüssel", "m", "clé", "clés", "f"),
    Noun("hat", "hats", "hut", "hüte", "m", "chapeau", "chapeaux", "m"),
    Noun("pen", "pens", "stift", "stifte", "m", "stylo", "stylos", "m"),
    Noun("bag", "bags", "tasche", "taschen", "f", "sac", "sacs", "m"),
    Noun("apple", "apples", "apfel", "äpfel", "m", "pomme", "pommes", "f"),
)
# Places start with a consonant in French, so no elision (l') is ever needed.
PLACES = (
    Noun("table", "tables", "tisch", "tische", "m", "table", "tables", "f"),
    Noun("chair", "chairs", "stuhl", "stühle", "m", "chaise", "chaises", "f"),
    Noun("bed", "beds", "bett", "betten", "n", "lit", "lits", "m"),
    Noun("floor", "floors", "boden", "böden", "m", "sol", "sols", "m"),
    Noun("desk", "desks", "schreibtisch", "schreibtische", "m", "bureau", "bureaux", "m"),
    Noun("sofa", "sofas", "sofa", "sofas", "n", "canapé", "canapés", "m"),
)
PREPOSITIONS = (
    Preposition("on", "auf", "sur"),
    Preposition("under", "unter", "sous"),
    Preposition("next to", "neben", "à côté de"),
    Preposition("behind", "hinter", "derrière"),
    Preposition("in front of", "vor", "devant"),
)
# Counts for plurals: (english, german, french).
COUNTS = (
    ("two", "zwei", "deux"),
    ("three", "drei", "trois"),
    ("four", "vier", "quatre"),
    ("five", "fünf", "cinq"),
    ("six", "sechs", "six"),
    ("seven", "sieben", "sept"),
    ("eight", "acht", "huit"),
    ("nine", "neun", "neuf"),
)
# Clock hours: (english, german before "uhr", french with "heure(s)").
HOURS = (
    ("one", "ein", "une heure"),
    ("two", "zwei", "deux heures"),
    ("three", "drei", "trois heures"),
    ("four", "vier", "quatre heures"),
    ("five", "fünf", "cinq heures"),
    ("six", "sechs", "six heures"),
    ("seven", "sieben", "sept heures"),
    ("eight", "acht", "huit heures"),
    ("nine", "neun", "neuf heures"),
    ("ten", "zehn", "dix heures"),
    ("eleven", "elf", "onze heures"),
    ("twelve", "zwölf", "douze heures"),
)
MINUTES = (
    ("ten", "zehn", "dix"),
    ("fifteen", "fünfzehn", "quinze"),
    ("twenty", "zwanzig", "vingt"),
    ("thirty", "dreißig", "trente"),
    ("forty", "vierzig", "quarante"),
    ("fifty", "fünfzig", "cinquante"),
)

DE_NOMINATIVE = {"m": "der", "f": "die", "n": "das"}
DE_DATIVE = {"m": "dem", "f": "der", "n": "dem"}
FR_ARTICLE = {"m": "le", "f": "la"}


@dataclass(frozen=True)
class Sentence:
    """One sentence in three languages and the template that made it."""

    template: str
    en: str
    de: str
    fr: str

    def texts(self) -> Dict[str, str]:
        """``{"en": ..., "de": ..., "fr": ...}``."""
        return {"en": self.en, "de": self.de, "fr": self.fr}

    def text(self, lang: str) -> str:
        """The sentence in ``lang`` (one of :data:`LANGUAGES`)."""
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language '{lang}' (expected one of {', '.join(LANGUAGES)})")
        return self.texts()[lang]


def french_place(prep: Preposition, place: Noun) -> str:
    """``sur la table``, ``à côté du lit``: the French preposition, article and place."""
    if prep.fr.endswith(" de"):
        article = "du" if place.fr_gender == "m" else "de la"
        return f"{prep.fr[:-3]} {article} {place.fr}"
    return f"{prep.fr} {FR_ARTICLE[place.fr_gender]} {place.fr}"


def german_place(prep: Preposition, place: Noun) -> str:
    """``auf dem tisch``: the German preposition with the dative article and the place."""
    return f"{prep.de} {DE_DATIVE[place.de_gender]} {place.de}"


def _location(rng: random.Random) -> Sentence:
    colour, obj, prep, place = rng.choice(COLOURS), rng.choice(OBJECTS), rng.choice(PREPOSITIONS), rng.choice(PLACES)
    return Sentence(
        "location",
        f"the {colour.en} {obj.en} is {prep.en} the {place.en}",
        f"{DE_NOMINATIVE[obj.de_gender]} {colour.de}e {obj.de} ist {german_place(prep, place)}",
        f"{FR_ARTICLE[obj.fr_gender]} {obj.fr} {colour.french(obj.fr_gender)} est {french_place(prep, place)}",
    )


def _request(rng: random.Random) -> Sentence:
    count, colour, obj = rng.choice(COUNTS), rng.choice(COLOURS), rng.choice(OBJECTS)
    return Sentence(
        "request",
        f"bring me {count[0]} {colour.en} {obj.en_pl}",
        f"bring mir {count[1]} {colour.de}e {obj.de_pl}",
        f"apporte-moi {count[2]} {obj.fr_pl} {colour.french(obj.fr_gender, plural=True)}",
    )


def _seeing(rng: random.Random) -> Sentence:
    count, obj, prep, place = rng.choice(COUNTS), rng.choice(OBJECTS), rng.choice(PREPOSITIONS), rng.choice(PLACES)
    return Sentence(
        "seeing",
        f"i see {count[0]} {obj.en_pl} {prep.en} the {place.en}",
        f"ich sehe {count[1]} {obj.de_pl} {german_place(prep, place)}",
        f"je vois {count[2]} {obj.fr_pl} {french_place(prep, place)}",
    )


def _colour(rng: random.Random) -> Sentence:
    obj, colour = rng.choice(OBJECTS), rng.choice(COLOURS)
    return Sentence(
        "colour",
        f"the {obj.en} is {colour.en}",
        f"{DE_NOMINATIVE[obj.de_gender]} {obj.de} ist {colour.de}",
        f"{FR_ARTICLE[obj.fr_gender]} {obj.fr} est {colour.french(obj.fr_gender)}",
    )


def _time(rng: random.Random) -> Sentence:
    hour, minute = rng.choice(HOURS), rng.choice(MINUTES)
    return Sentence(
        "time",
        f"it is {hour[0]} {minute[0]}",
        f"es ist {hour[1]} uhr {minute[1]}",
        f"il est {hour[2]} {minute[2]}",
    )


# (name, weight, maker); the weights favour the templates with many distinct sentences.
TEMPLATES: Tuple[Tuple[str, float, Callable[[random.Random], Sentence]], ...] = (
    ("location", 0.35, _location),
    ("seeing", 0.25, _seeing),
    ("request", 0.2, _request),
    ("colour", 0.1, _colour),
    ("time", 0.1, _time),
)


def generate_sentences(
    count: int, seed: int, exclude: Iterable[str] = (), templates: Optional[Sequence[str]] = None
) -> List[Sentence]:
    """``count`` distinct sentences, the same for the same ``seed``.

    Args:
        count: how many sentences.
        seed: random seed; the output depends on nothing else.
        exclude: English sentences that must not be returned (e.g. the dev and test sentences).
        templates: names of the templates to use (default: all of :data:`TEMPLATES`).

    Raises:
        ValueError: the templates cannot make ``count`` distinct sentences outside ``exclude``.
    """
    chosen = [t for t in TEMPLATES if templates is None or t[0] in templates]
    if not chosen:
        raise ValueError(f"no template among {templates}: expected some of {[t[0] for t in TEMPLATES]}")
    rng = random.Random(seed)
    seen = set(exclude)
    makers = [t[2] for t in chosen]
    weights = [t[1] for t in chosen]
    out: List[Sentence] = []
    attempts = 0
    while len(out) < count:
        attempts += 1
        if attempts > 200 * count + 10000:
            raise ValueError(f"could only make {len(out)} distinct sentences out of the {count} asked for")
        sentence = rng.choices(makers, weights)[0](rng)
        if sentence.en in seen:
            continue
        seen.add(sentence.en)
        out.append(sentence)
    return out


def vocabulary(sentences: Iterable[Sentence], lang: str = "en") -> List[str]:
    """Sorted distinct words of ``sentences`` in ``lang``."""
    return sorted({word for s in sentences for word in s.text(lang).split()})
