#!/usr/bin/env python3
"""Write data/{train,dev,test} for the FSDD recipes (spoken digits, 8 kHz).

The corpus folder holds ``recordings/<digit>_<speaker>_<index>.wav`` (or ``.flac``), or is
that ``recordings`` folder itself.  ``wav.scp`` points at these files as they are; stage 3
resamples them to 16 kHz.

Both tasks split by recording index, the same way for every speaker and digit: indices
``0-4`` are the test set (FSDD's own test split), ``5-9`` the dev set, and the rest
(``10-49``) the train set.  Every speaker and every digit is in every set.

* ``--task asr``: ``text`` is the digit as an English word (``zero`` ... ``nine``).
* ``--task sid``: no ``text``; the label is the speaker in ``utt2spk``.

Utterance ids are ``<speaker>_<digit>_<index>``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet2_speecht5.data.splits import SET_NAMES, Utterance, write_sets
from espnet2_speecht5.runtime.errors import DataError

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
NAME_RE = re.compile(r"^([0-9])_([A-Za-z0-9]+)_([0-9]+)$")
AUDIO_SUFFIXES = (".wav", ".flac")
TEST_INDICES = range(0, 5)
DEV_INDICES = range(5, 10)


def find_recordings(corpus: Path) -> Path:
    """``<corpus>/recordings``, or ``corpus`` itself when it holds the audio files."""
    if (corpus / "recordings").is_dir():
        return corpus / "recordings"
    if corpus.is_dir() and any(p.suffix in AUDIO_SUFFIXES for p in corpus.iterdir()):
        return corpus
    raise DataError("no recordings/ folder with FSDD audio files here", corpus)


def set_of_index(index: int) -> str:
    if index in TEST_INDICES:
        return "test"
    if index in DEV_INDICES:
        return "dev"
    return "train"


def make_sets(recordings: Path, task: str) -> Dict[str, List[Utterance]]:
    sets: Dict[str, List[Utterance]] = {name: [] for name in SET_NAMES}
    seen: Dict[str, Path] = {}
    for path in sorted(recordings.iterdir()):
        if path.suffix not in AUDIO_SUFFIXES:
            continue
        match = NAME_RE.match(path.stem)
        if not match:
            raise DataError("file name is not <digit>_<speaker>_<index> (7_jackson_32.wav)", path)
        digit, speaker, index = match.group(1), match.group(2), int(match.group(3))
        utt = f"{speaker}_{digit}_{index}"
        if utt in seen:
            raise DataError(f"the same recording as {seen[utt].name}", path)
        seen[utt] = path
        sets[set_of_index(index)].append(
            Utterance(
                utt=utt,
                spk=speaker,
                wav=str(path.resolve()),
                text=DIGIT_WORDS[int(digit)] if task == "asr" else None,
            )
        )
    if not seen:
        raise DataError("no .wav or .flac files", recordings)
    return sets


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the FSDD folder (with recordings/)")
    parser.add_argument("--task", choices=("asr", "sid"), required=True)
    parser.add_argument("--out", type=Path, default=Path("data"), help="where data/<set> go")
    args = parser.parse_args(argv)
    try:
        recordings = find_recordings(args.corpus)
        sets = make_sets(recordings, args.task)
        for name, utterances in sets.items():
            if not utterances:
                raise DataError(
                    f"no recordings fall in the {name} set (indices: test 0-4, dev 5-9, train 10+)", recordings
                )
        write_sets(args.out, sets)
    except DataError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
