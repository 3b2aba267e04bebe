"""Transcript normalisation shared by the English ASR recipes and the text they pre-train on.

One rule, so that a pre-training text corpus and the fine-tuning transcripts use the same
characters: lower case, every character other than letters, digits and apostrophes becomes a
space, and apostrophes survive only inside or at the edge of a word.
"""

from __future__ import annotations

import re

_REPEATED_APOSTROPHES = re.compile(r"'{2,}")


def normalize_for_asr(text: str) -> str:
    """Lower-case ``text``; every character but letters, digits and apostrophes becomes a space.

    >>> normalize_for_asr("That's the sub-foreman, explained Thorpe.")
    "that's the sub foreman explained thorpe"
    >>> normalize_for_asr("' '' rock 'n' roll''")
    "rock 'n' roll'"
    """
    text = text.replace("\u2019", "'").lower()
    kept = "".join(c if c.isalnum() or c == "'" else " " for c in text)
    # Apostrophes stay inside and at the edges of words ('em, o'brien, boys'); a lone one goes.
    words = [_REPEATED_APOSTROPHES.sub("'", word) for word in kept.split() if any(c.isalnum() for c in word)]
    return " ".join(words)
