#!/usr/bin/env python3
"""Write one Kaldi data directory from one LibriSpeech subset (e.g. ``LibriSpeech/dev-clean``).

A subset is laid out as ``<subset>/<speaker>/<chapter>/``; each chapter folder holds the audio
``<speaker>-<chapter>-<nnnn>.flac`` and one transcript file ``<speaker>-<chapter>.trans.txt``
with a line ``<utterance id> <TRANSCRIPT>`` per utterance.  The directory written holds
``wav.scp`` (absolute paths of the FLAC files, 16 kHz mono), ``text`` (the transcript as
given: upper case, apostrophes kept), ``utt2spk`` and ``spk2utt``.

The speaker of an utterance is ``<speaker>-<chapter>`` by default (one "speaker" per
recording session, as Kaldi and ESPnet prepare LibriSpeech); ``--speaker_unit speaker`` uses
the reader's id alone.  Either way the utterance id starts with it.

Every FLAC needs a transcript line and every transcript line its FLAC; anything else stops
the script with one line naming the file (and the line number).

Example::

    python local/prepare_librispeech.py --src downloads/LibriSpeech/dev-clean --out data/dev_clean
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet2_speecht5.data.kaldi_dir import iter_lines
from espnet2_speecht5.data.splits import Utterance, write_data_dir
from espnet2_speecht5.runtime.errors import DataError

UTT_RE = re.compile(r"^(?P<spk>\d+)-(?P<chapter>\d+)-(?P<index>\d+)$")
SPEAKER_UNITS = ("chapter", "speaker")


def speaker_of(utt: str, unit: str) -> str:
    """``"103-1240-0000"`` -> ``"103-1240"`` (unit ``chapter``) or ``"103"`` (unit ``speaker``)."""
    match = UTT_RE.match(utt)
    if match is None:
        raise ValueError(f"'{utt}' is not a LibriSpeech utterance id <speaker>-<chapter>-<index>")
    if unit == "speaker":
        return match.group("spk")
    return f"{match.group('spk')}-{match.group('chapter')}"


def read_chapter(chapter_dir: Path, unit: str) -> List[Utterance]:
    """The utterances of one ``<speaker>/<chapter>`` folder, checked against its transcript file."""
    spk, chapter = chapter_dir.parent.name, chapter_dir.name
    trans = chapter_dir / f"{spk}-{chapter}.trans.txt"
    flacs = {path.stem: path for path in chapter_dir.glob("*.flac")}
    if not trans.is_file():
        if flacs:
            first = sorted(flacs)[0]
            raise DataError(f"no transcript file {trans.name} for {len(flacs)} FLAC file(s)", flacs[first])
        return []
    utterances: List[Utterance] = []
    seen: Dict[str, int] = {}
    for number, utt, text in iter_lines(trans):
        match = UTT_RE.match(utt)
        if match is None or (match.group("spk"), match.group("chapter")) != (spk, chapter):
            raise DataError(f"utterance id '{utt}' is not {spk}-{chapter}-<index>", trans, number)
        if utt in seen:
            raise DataError(f"utterance listed twice (first on line {seen[utt]})", trans, number, utt)
        seen[utt] = number
        if not text:
            raise DataError("empty transcript", trans, number, utt)
        audio = flacs.get(utt)
        if audio is None:
            raise DataError(f"audio file {chapter_dir / (utt + '.flac')} does not exist", trans, number, utt)
        utterances.append(Utterance(utt=utt, spk=speaker_of(utt, unit), wav=str(audio.resolve()), text=text))
    untranscribed = sorted(set(flacs) - set(seen))
    if untranscribed:
        raise DataError(f"no transcript line in {trans.name} for this FLAC file", flacs[untranscribed[0]])
    return utterances


def read_subset(src: Path, unit: str = "chapter") -> List[Utterance]:
    """Every utterance of the LibriSpeech subset folder ``src`` (``<speaker>/<chapter>/``), sorted by id.

    Raises:
        DataError: a missing folder, transcript or FLAC file, a bad line, or no utterances at all.
    """
    if unit not in SPEAKER_UNITS:
        raise ValueError(f"unit must be one of {SPEAKER_UNITS}, got {unit!r}")
    if not src.is_dir():
        raise DataError("LibriSpeech subset folder does not exist", src)
    utterances: List[Utterance] = []
    for spk_dir in sorted(p for p in src.iterdir() if p.is_dir()):
        for chapter_dir in sorted(p for p in spk_dir.iterdir() if p.is_dir()):
            utterances.extend(read_chapter(chapter_dir, unit))
    if not utterances:
        raise DataError("no <speaker>/<chapter>/*.flac with a .trans.txt found: is this a LibriSpeech subset?", src)
    return sorted(utterances, key=lambda u: u.utt)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: ``--src <LibriSpeech subset> --out <data dir>``; errors are one ``ERROR:`` line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, required=True, help="a subset folder, e.g. LibriSpeech/train-clean-100")
    parser.add_argument("--out", type=Path, required=True, help="data directory to write, e.g. data/train_clean_100")
    parser.add_argument(
        "--speaker_unit",
        choices=SPEAKER_UNITS,
        default="chapter",
        help="speaker id: <speaker>-<chapter> (default) or <speaker>",
    )
    args = parser.parse_args(argv)
    try:
        utterances = read_subset(args.src, args.speaker_unit)
        written = write_data_dir(args.out, utterances)
    except DataError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    speakers = len({u.spk for u in utterances})
    print(f"{args.out}: {len(utterances)} utterances, {speakers} speaker(s); files: {' '.join(written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
