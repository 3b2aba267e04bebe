"""English text normalisation for synthesis: any text in, what the model's token list can say out.

A TTS model only says the characters of its token list. Without normalisation, ``$42.50`` or
``2nd`` would reach the network as ``<unk>`` tokens (or be dropped by a tokenizer), and a text of
3,000 characters would be generated as one utterance far longer than anything seen in training.
:class:`EnglishNormalizer` turns text into sayable words, in this order:

1. Unicode punctuation to ASCII (curly quotes, dashes, ellipsis; NFKC for the rest);
2. symbols to words: ``%`` percent, ``&`` and, ``@`` at, ``+`` plus, ``=`` equals, ``°`` degrees,
   ``#5`` number five, ``10:30`` ten thirty, ``10:05`` ten oh five, ``10:00`` ten o'clock;
3. abbreviations: titles (Mr., Mrs., Dr., St., Prof., Capt., ...), e.g., i.e., etc., vs., and
   No. before a number;
4. numbers, spelled by ``inflect``: money (``$42.50`` forty-two dollars fifty cents; pounds,
   euros), thousands separators (``1,200`` one thousand two hundred), decimals digit by digit
   (``3.14`` three point one four), ordinals (``2nd`` second), decades (``1990s`` nineteen
   nineties), and four-digit numbers from 1100 to 2099 read as years (``2025`` twenty twenty-five,
   ``1905`` nineteen oh five, ``2007`` two thousand seven);
5. letters outside the token list are transliterated (``é`` -> ``e``, by ``unidecode``); those in it
   (a token list with accented letters) are kept;
6. case: to the case of the token list's letters, when it has only one;
7. punctuation the token list lacks: ``! ? ; :`` become ``,`` or ``.`` when the token list has them
   (else a space), hyphens and slashes a space, quotes and brackets are removed;
8. white space collapsed.

What is still outside the token list after this is reported by :meth:`EnglishNormalizer.unsayable`
(Text2Speech logs it in one warning line); it is never dropped silently.

:meth:`EnglishNormalizer.sentences` splits long text at sentence boundaries with ``sentencex``
(Wikimedia's sentence segmenter), normalises each sentence, and cuts one longer than ``max_chars``
further at commas, then spaces, so that every piece is an utterance of a length the model was
trained on.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable, List, Optional, Sequence, Set, Tuple

NORMALIZERS = ("english", "none")
DEFAULT_MAX_CHARS = 200
DEFAULT_PAUSE_S = 0.3

_UNICODE_PUNCTUATION = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": " - ", "\u2014": " - ", "\u2212": "-", "\u2026": "...", "\u00a0": " ",
}  # fmt: skip
_SYMBOLS: Tuple[Tuple[re.Pattern, str], ...] = (
    (re.compile(r"#\s*(?=\d)"), " number "),
    (re.compile(r"\b(\d{1,2}):00\b"), r" \1 o'clock "),
    (re.compile(r"\b(\d{1,2}):0(\d)\b"), r" \1 oh \2 "),
    (re.compile(r"\b(\d{1,2}):(\d{2})\b"), r" \1 \2 "),
    (re.compile(r"%"), " percent "),
    (re.compile(r"&"), " and "),
    (re.compile(r"@"), " at "),
    (re.compile(r"\+"), " plus "),
    (re.compile(r"="), " equals "),
    (re.compile(r"°\s*[cC]\b"), " degrees celsius "),
    (re.compile(r"°\s*[fF]\b"), " degrees fahrenheit "),
    (re.compile(r"°"), " degrees "),
)
_ABBREVIATIONS: Tuple[Tuple[re.Pattern, str], ...] = tuple(
    (re.compile(rf"\b{short}\.", re.IGNORECASE), full)
    for short, full in (
        (r"e\.g", "for example"), (r"i\.e", "that is"), ("etc", "et cetera"), ("vs", "versus"),
        ("mrs", "missus"), ("mr", "mister"), ("ms", "miz"), ("dr", "doctor"), ("prof", "professor"),
        ("st", "saint"), ("jr", "junior"), ("sr", "senior"), ("capt", "captain"), ("gen", "general"),
        ("lt", "lieutenant"), ("sgt", "sergeant"), ("col", "colonel"), ("rev", "reverend"), ("hon", "honourable"),
        ("co", "company"), ("ltd", "limited"), ("inc", "incorporated"), ("ft", "feet"), ("approx", "approximately"),
    )
) + ((re.compile(r"\bno\.\s*(?=\d)", re.IGNORECASE), "number "),)  # fmt: skip
_CURRENCIES = (("$", "dollar", "cent"), ("£", "pound", "penny"), ("€", "euro", "cent"))
_MONEY = re.compile(r"([$£€])\s*(\d[\d,]*)(?:\.(\d{1,2}))?\b")
_SEPARATED = re.compile(r"\b\d{1,3}(?:,\d{3})+\b")
_DECIMAL = re.compile(r"\b(\d+)\.(\d+)\b")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.IGNORECASE)
_DECADE = re.compile(r"\b(\d{2}|\d{4})'?s\b")
_NUMBER = re.compile(r"\d+")
_LETTER = re.compile(r"[^\W\d_]")


class NumberSpeller:
    """Digits to English words with ``inflect`` (money, separators, decimals, ordinals, decades, years)."""

    def __init__(self) -> None:
        import inflect

        self.engine = inflect.engine()

    def cardinal(self, digits: str) -> str:
        return self.engine.number_to_words(int(digits), comma="")

    def year_or_cardinal(self, digits: str) -> str:
        """``2025`` twenty twenty-five; ``1900`` nineteen hundred; ``2007`` two thousand seven; else a cardinal."""
        value = int(digits)
        if len(digits) != 4 or not 1100 <= value <= 2099 or 2000 <= value <= 2009:
            if 2000 <= value <= 2009 and len(digits) == 4:
                return self.engine.number_to_words(value, comma="", andword="")
            return self.cardinal(digits)
        high, low = divmod(value, 100)
        if low == 0:
            return f"{self.cardinal(str(high))} hundred"
        tail = self.cardinal(str(low)) if low >= 10 else f"oh {self.cardinal(str(low))}"
        return f"{self.cardinal(str(high))} {tail}"

    def money(self, match: re.Match) -> str:
        symbol, whole, fraction = match.group(1), match.group(2).replace(",", ""), match.group(3)
        _, unit, small = next(c for c in _CURRENCIES if c[0] == symbol)
        words = [f"{self.cardinal(whole)} {self.engine.plural(unit, int(whole))}"]
        if fraction:
            cents = int(fraction.ljust(2, "0"))
            if cents:
                small_word = "pence" if small == "penny" and cents != 1 else self.engine.plural(small, cents)
                words.append(f"{self.cardinal(str(cents))} {small_word}")
        return " " + " ".join(words) + " "

    def decade(self, match: re.Match) -> str:
        return " " + _plural_of_words(self.year_or_cardinal(match.group(1))) + " "

    def __call__(self, text: str) -> str:
        text = _MONEY.sub(self.money, text)
        text = _SEPARATED.sub(lambda m: self.cardinal(m.group(0).replace(",", "")), text)
        text = _DECIMAL.sub(lambda m: f"{self.cardinal(m.group(1))} point "
                                      + " ".join(self.cardinal(d) for d in m.group(2)), text)
        text = _ORDINAL.sub(lambda m: self.engine.number_to_words(self.engine.ordinal(int(m.group(1))), comma=""),
                            text)
        text = _DECADE.sub(self.decade, text)
        return _NUMBER.sub(lambda m: self.year_or_cardinal(m.group(0)), text)


def _plural_of_words(words: str) -> str:
    """'nineteen ninety' -> 'nineteen nineties'; 'eighty' -> 'eighties'."""
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


class EnglishNormalizer:
    """``normalizer(text) -> text`` of sayable words for a model with ``token_list``.

    Args:
        token_list: the model's tokens (characters for ``token_type: char``; ``<space>`` counts as a space).
        max_chars: the longest piece :meth:`sentences` returns.
    """

    def __init__(self, token_list: Sequence[str], max_chars: int = DEFAULT_MAX_CHARS) -> None:
        if max_chars < 20:
            raise ValueError(f"max_chars must be at least 20, got {max_chars}")
        self.spell_numbers = NumberSpeller()
        self.max_chars = max_chars
        self.chars: Set[str] = {t for t in token_list if len(t) == 1}
        if "<space>" in token_list:
            self.chars.add(" ")
        # a character token list: letters, case and punctuation are fitted to it (a bpe, word or
        # phoneme list has no single characters to fit to: only symbols, abbreviations and numbers)
        self.fits_characters = len(self.chars) > 1
        letters = {c for c in self.chars if _LETTER.match(c)}
        lower, upper = any(c.islower() for c in letters), any(c.isupper() for c in letters)
        self.case = "lower" if lower and not upper else "upper" if upper and not lower else None

    # ------------------------------------------------------------------ steps
    def _letters(self, text: str) -> str:
        from unidecode import unidecode

        out = []
        for char in text:
            if char in self.chars or char.lower() in self.chars or char.upper() in self.chars or ord(char) < 128:
                out.append(char)
            else:
                out.append(unidecode(char) or char)
        return "".join(out)

    def _punctuation(self, text: str) -> str:
        def replace(chars: Iterable[str], *preferred: str) -> None:
            nonlocal text
            target = next((p for p in preferred if p in self.chars), " ")
            for char in chars:
                if char not in self.chars:
                    text = text.replace(char, target)

        replace("!?", ".", ",")
        replace(";:", ",", ".")
        replace("-/\\_|~", " ")
        replace("\"()[]{}<>*^`", "")
        if "'" not in self.chars:
            text = text.replace("'", "")
        if "." not in self.chars:
            text = text.replace(".", " ")
        if "," not in self.chars:
            text = text.replace(",", " ")
        return text

    def __call__(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", "".join(_UNICODE_PUNCTUATION.get(c, c) for c in text))
        for pattern, words in _SYMBOLS:
            text = pattern.sub(words, text)
        for pattern, words in _ABBREVIATIONS:
            text = pattern.sub(words, text)
        text = self.spell_numbers(text)
        if self.fits_characters:
            text = self._letters(text)
            if self.case == "lower":
                text = text.lower()
            elif self.case == "upper":
                text = text.upper()
            text = self._punctuation(text)
        text = re.sub(r"\s+", " ", text).strip()
        return re.sub(r"\s+([,.])", r"\1", text)

    def unsayable(self, text: str) -> Set[str]:
        """The characters of (normalised) ``text`` that the token list lacks."""
        return {c for c in text if c not in self.chars} if self.fits_characters else set()

    # ------------------------------------------------------------------ long text
    def sentences(self, text: str) -> List[str]:
        """Raw ``text`` -> its sentences, normalised, each cut to at most ``max_chars`` (counted after
        normalisation: ``$42.50`` is 31 characters once spelled out)."""
        from sentencex import segment

        pieces: List[str] = []
        for sentence in segment("en", text):
            pieces.extend(self._shorter(self(sentence.strip())))
        return [p for p in pieces if p]

    def _shorter(self, sentence: str) -> List[str]:
        """Split a sentence longer than ``max_chars``: at commas where possible, else at spaces."""
        if len(sentence) <= self.max_chars:
            return [sentence]
        for separator in (", ", " "):
            chunks = sentence.split(separator)
            if separator == ", ":  # the comma stays with the words before it
                chunks = [chunk + "," for chunk in chunks[:-1]] + chunks[-1:]
            parts, current = [], ""
            for chunk in chunks:
                candidate = f"{current} {chunk}" if current else chunk
                if len(candidate) <= self.max_chars or not current:
                    current = candidate
                else:
                    parts.append(current)
                    current = chunk
            parts.append(current)
            if all(len(p) <= self.max_chars for p in parts):
                return parts
        # one "word" longer than max_chars (no spaces): cut it
        return [sentence[i : i + self.max_chars] for i in range(0, len(sentence), self.max_chars)]


def build_text_normalizer(kind: str, token_list: Sequence[str], **options: Any) -> Optional[EnglishNormalizer]:
    """``english`` -> :class:`EnglishNormalizer`; ``none`` -> None (the text goes to the tokenizer as it is)."""
    if kind in (None, "none"):
        return None
    if kind == "english":
        return EnglishNormalizer(token_list, **options)
    raise ValueError(f"unknown text_normalizer '{kind}'; choose one of: {', '.join(NORMALIZERS)}")
