#!/usr/bin/env python3
"""Write one Kaldi data directory from one or more LibriTTS subsets (e.g. ``LibriTTS/dev-clean``).

A subset is laid out as ``<subset>/<speaker>/<chapter>/``; each chapter folder holds the audio
``<speaker>_<chapter>_<paragraph>_<sentence>.wav`` (24 kHz) and, beside each, the transcript in
two forms: ``.normalized.txt`` (numbers and abbreviations spelled out) and ``.original.txt``
(the book's text).  This script reads the normalized one.

The directory written holds ``wav.scp`` (absolute paths), ``text`` (the normalized
transcript, lower-cased unless ``--lowercase false``, whitespace collapsed), ``utt2spk`` and
``spk2utt``.  The speaker is the reader (the ``<speaker>`` folder).  Utterance ids are
``<speaker>-<LibriTTS id>`` (``19-19_198_000000_000000``): LibriTTS ids start with the speaker
and ``_``, which sorts after digits, so speaker 198's utterances would sort before speaker 19's;
with ``-`` the utterances sort in the same order as their speakers, as Kaldi's tools expect.

A wav file whose transcript is missing or empty is skipped; the summary line counts them.
A missing subset folder, a file name that does not match its folders, or an unreadable
transcript stops the script with one line naming the file.

Example::

    python local/prepare_libritts.py --out data/train_460 \\
        downloads/LibriTTS/train-clean-100 downloads/LibriTTS/train-clean-360
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

from espnet2_speecht5.data.splits import Utterance, write_data_dir
from espnet2_speecht5.runtime.errors import DataError

TEXT_SUFFIX = ".normalized.txt"


@dataclass
class Skipped:
    """Wav files left out for want of a transcript."""

    missing: List[str] = field(default_factory=list)
    empty: List[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.missing) + len(self.empty)


def utterance_id(speaker: str, libritts_id: str) -> str:
    """``("19", "19_198_000000_000000")`` -> ``"19-19_198_000000_000000"``."""
    return f"{speaker}-{libritts_id}"


def read_transcript(path: Path) -> Optional[str]:
    """The transcript in ``path`` with whitespace collapsed; None when the file does not exist."""
    if not path.is_file():
        return None
    try:
        return " ".join(path.read_text(encoding="utf-8").split())
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8"
        raise DataError(f"cannot read the transcript ({reason})", path) from None


def read_chapter(chapter_dir: Path, lowercase: bool, skipped: Skipped) -> List[Utterance]:
    """The transcribed utterances of one ``<speaker>/<chapter>`` folder."""
    speaker, chapter = chapter_dir.parent.name, chapter_dir.name
    utterances = []
    for wav in sorted(chapter_dir.glob("*.wav")):
        if not wav.stem.startswith(f"{speaker}_{chapter}_"):
            raise DataError(f"file name does not start with {speaker}_{chapter}_ (its speaker and chapter)", wav)
        text = read_transcript(wav.with_name(wav.stem + TEXT_SUFFIX))
        utt = utterance_id(speaker, wav.stem)
        if text is None:
            skipped.missing.append(utt)
            continue
        if not text:
            skipped.empty.append(utt)
            continue
        text = text.lower() if lowercase else text
        utterances.append(Utterance(utt=utt, spk=speaker, wav=str(wav.resolve()), text=text))
    return utterances


def read_subset(src: Path, lowercase: bool, skipped: Skipped) -> List[Utterance]:
    """Every transcribed utterance of the LibriTTS subset folder ``src``.

    Raises:
        DataError: the folder does not exist or holds no ``<speaker>/<chapter>/*.wav``.
    """
    if not src.is_dir():
        raise DataError("LibriTTS subset folder does not exist", src)
    utterances: List[Utterance] = []
    found_audio = False
    for speaker_dir in sorted(p for p in src.iterdir() if p.is_dir()):
        for chapter_dir in sorted(p for p in speaker_dir.iterdir() if p.is_dir()):
            before = skipped.total
            chapter = read_chapter(chapter_dir, lowercase, skipped)
            found_audio = found_audio or bool(chapter) or skipped.total > before
            utterances.extend(chapter)
    if not found_audio:
        raise DataError("no <speaker>/<chapter>/*.wav found: is this a LibriTTS subset?", src)
    return utterances


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: ``--out <data dir> <subset folder>...``; errors are one ``ERROR:`` line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="data directory to write, e.g. data/train_460")
    parser.add_argument("--lowercase", choices=("true", "false"), default="true", help="lower-case the text [true]")
    parser.add_argument("subsets", type=Path, nargs="+", help="LibriTTS subset folders, e.g. LibriTTS/dev-clean")
    args = parser.parse_args(argv)
    skipped = Skipped()
    try:
        utterances: List[Utterance] = []
        for src in args.subsets:
            utterances.extend(read_subset(src, args.lowercase == "true", skipped))
        if not utterances:
            raise DataError(f"every one of the {skipped.total} wav files lacks a transcript", args.subsets[0])
        utterances.sort(key=lambda u: u.utt.encode("utf-8"))
        write_data_dir(args.out, utterances)
    except DataError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    speakers = len({u.spk for u in utterances})
    print(
        f"{args.out}: {len(utterances)} utterances, {speakers} speaker(s); "
        f"skipped {skipped.total} without a transcript ({len(skipped.missing)} missing, {len(skipped.empty)} empty)"
    )
    for kind, utts in (("missing", skipped.missing), ("empty", skipped.empty)):
        if utts:
            print(f"{args.out}: {kind} {TEXT_SUFFIX}: {' '.join(sorted(utts)[:5])}{' ...' if len(utts) > 5 else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
