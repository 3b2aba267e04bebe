#!/usr/bin/env python3
"""Write data/{train,dev,test} for VoxCeleb1 speaker identification from the official split.

Inputs:

* ``--root``: the folder that holds ``wav/<speaker>/<video>/<utt>.wav`` (16 kHz).
* ``--split_file``: the identification split ``iden_split.txt``, one line per recording,
  ``<set> <speaker>/<video>/<utt>.wav``, where set 1 is train, 2 validation (our ``dev``) and
  3 test.  The official file has 153,516 lines over 1,251 speakers, every speaker in all three sets.

Each recording becomes the utterance ``<speaker>-<video>-<utt>`` (``id10001-1zcIwhmdeo4-00001``)
of speaker ``<speaker>``; every set gets ``wav.scp``, ``utt2spk`` and ``spk2utt``, sorted in
byte order.  ``--max_utts_per_speaker N`` keeps the first N lines of each speaker in each set
(in the order of the split file), for a quick run.

Identification is closed-set: every dev and test speaker must have training utterances.
Bad input stops the script with one line naming the file (and line) at fault.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet2_speecht5.data.splits import SET_NAMES, Utterance, write_sets
from espnet2_speecht5.runtime.cli import run_cli
from espnet2_speecht5.runtime.errors import DataError

# The number at the start of each split line, and the set it stands for.
SET_OF_NUMBER = {"1": "train", "2": "dev", "3": "test"}
# <speaker>/<video>/<utt>.wav: three non-empty parts without slashes or whitespace.
RELATIVE_RE = re.compile(r"^([^/\s]+)/([^/\s]+)/([^/\s]+)\.wav$")

Entry = Tuple[int, str, str, str]  # (line number, speaker, utterance id, path relative to wav/)


def non_negative_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got '{value}'")
    return number


def read_split(split_file: Path) -> Dict[str, List[Entry]]:
    """Parse ``iden_split.txt`` into ``{set name: [entry, ...]}`` in file order."""
    if not split_file.is_file():
        raise DataError("the split file does not exist", split_file)
    sets: Dict[str, List[Entry]] = {name: [] for name in SET_NAMES}
    first_line_of: Dict[str, int] = {}
    for number, raw in enumerate(split_file.read_bytes().split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as err:
            raise DataError(f"not valid UTF-8 (byte {err.start})", split_file, number) from None
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise DataError(
                f"expected '<set> <speaker>/<video>/<utt>.wav', got {len(fields)} field(s): '{line.strip()}'",
                split_file,
                number,
            )
        set_number, relative = fields
        if set_number not in SET_OF_NUMBER:
            raise DataError(
                f"unknown set number '{set_number}' (1 = train, 2 = validation, 3 = test)", split_file, number
            )
        match = RELATIVE_RE.match(relative)
        if match is None:
            raise DataError(f"'{relative}' is not <speaker>/<video>/<utt>.wav", split_file, number)
        speaker, video, utt = match.groups()
        utt_id = f"{speaker}-{video}-{utt}"
        if utt_id in first_line_of:
            raise DataError(
                f"utterance id {utt_id} already comes from line {first_line_of[utt_id]}", split_file, number
            )
        first_line_of[utt_id] = number
        sets[SET_OF_NUMBER[set_number]].append((number, speaker, utt_id, relative))
    if not first_line_of:
        raise DataError("the split file has no lines: is this iden_split.txt?", split_file)
    for number, name in SET_OF_NUMBER.items():
        if not sets[name]:
            raise DataError(f"no line for set {number} ({name})", split_file)
    return sets


def keep_first(entries: Sequence[Entry], per_speaker: int) -> List[Entry]:
    """The first ``per_speaker`` entries of each speaker (all of them when 0), in order."""
    if per_speaker == 0:
        return list(entries)
    counts: Dict[str, int] = {}
    kept = []
    for entry in entries:
        speaker = entry[1]
        if counts.get(speaker, 0) < per_speaker:
            counts[speaker] = counts.get(speaker, 0) + 1
            kept.append(entry)
    return kept


def check_closed_set(sets: Dict[str, List[Entry]], split_file: Path) -> None:
    """Every dev and test speaker must be a training speaker."""
    train_speakers = {entry[1] for entry in sets["train"]}
    unseen = []
    for name in ("dev", "test"):
        for speaker in sorted({entry[1] for entry in sets[name]}, key=str.encode):
            if speaker not in train_speakers:
                unseen.append((speaker, name))
    if unseen:
        speaker, name = unseen[0]
        raise DataError(
            f"closed-set identification needs every dev and test speaker in train (set 1), but "
            f"{len(unseen)} are not; the first: {speaker} ({name})",
            split_file,
        )


def make_utterances(sets: Dict[str, List[Entry]], wav_dir: Path, split_file: Path) -> Dict[str, List[Utterance]]:
    """The utterances of each set; every listed wav must exist."""
    missing: List[Entry] = []
    result: Dict[str, List[Utterance]] = {}
    for name, entries in sets.items():
        utterances = []
        for entry in entries:
            _, speaker, utt_id, relative = entry
            path = wav_dir / relative
            if not path.is_file():
                missing.append(entry)
            utterances.append(Utterance(utt=utt_id, spk=speaker, wav=str(path)))
        result[name] = utterances
    if missing:
        first = min(missing)
        raise DataError(
            f"{len(missing)} listed wav file(s) do not exist under {wav_dir}; the first: {first[3]}",
            split_file,
            first[0],
        )
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="folder with wav/<speaker>/<video>/<utt>.wav")
    parser.add_argument("--split_file", type=Path, default=None, help="iden_split.txt [<root>/iden_split.txt]")
    parser.add_argument("--outdir", type=Path, default=Path("data"), help="where data/<set> go")
    parser.add_argument(
        "--max_utts_per_speaker",
        type=non_negative_int,
        default=0,
        help="keep the first N utterances of each speaker in each set (0: all)",
    )
    args = parser.parse_args(argv)
    split_file = args.split_file if args.split_file is not None else args.root / "iden_split.txt"
    wav_dir = (args.root / "wav").absolute()
    if not wav_dir.is_dir():
        raise DataError("no wav/ folder here: set --root to the folder that holds wav/<speaker>/...", args.root)
    sets = read_split(split_file)
    total = sum(len(entries) for entries in sets.values())
    if args.max_utts_per_speaker:
        sets = {name: keep_first(entries, args.max_utts_per_speaker) for name, entries in sets.items()}
        kept = sum(len(entries) for entries in sets.values())
        print(
            f"{split_file}: keeping {kept} of {total} lines (at most {args.max_utts_per_speaker} per speaker and set)"
        )
    else:
        print(f"{split_file}: {total} lines")
    check_closed_set(sets, split_file)
    write_sets(args.outdir, make_utterances(sets, wav_dir, split_file))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
