"""Text normalisation before an ASR model's output is compared with a reference transcript."""

from __future__ import annotations

TEXT_NORMALIZATIONS = ("lower_nopunct", "none")


def normalize_text(text: str, how: str = "lower_nopunct") -> str:
    """Make a transcript comparable with an ASR model's output.

    ``lower_nopunct``: lower case, every character that is neither a letter, a digit, an
    apostrophe nor white space removed, spaces collapsed (``"Ethel Baird, whom."`` ->
    ``"ethel baird whom"``). ``none``: unchanged.
    """
    if how == "none":
        return text
    if how != "lower_nopunct":
        raise ValueError(f"unknown text normalization '{how}' (one of {', '.join(TEXT_NORMALIZATIONS)})")
    kept = "".join(ch for ch in text.lower() if ch.isalnum() or ch == "'" or ch.isspace())
    return " ".join(kept.split())
