#!/usr/bin/env python3
"""Write data/{train,dev,test} for single-speaker speech enhancement from a WHAM! 16 kHz tree.

WHAM!'s scripts write, per mode (``max`` or ``min``) and set (``tr``, ``cv``, ``tt``)::

    <WHAM>/wav16k/<mode>/<set>/mix_single/<name>.wav   speaker 1 of a wsj0-2mix pair plus WHAM! noise
    <WHAM>/wav16k/<mode>/<set>/s1/<name>.wav           speaker 1 alone: the clean reference

``<name>`` is ``<wsj0 utt 1>_<gain 1>_<wsj0 utt 2>_<gain 2>``. Each data folder holds ``wav.scp``
(``mix_single``), ``wav_clean.scp`` (``s1``), ``utt2spk`` (the wsj0 speaker: the first three
characters of the utterance id) and, with ``--wsj0`` (the wsj0 release, whose ``.dot`` files hold
the prompts), ``text``: the transcript of speaker 1's utterance, for the ASR error rates of stage 10.

The mode: ``max`` (the default) keeps each mixture as long as its longer utterance, so ``s1`` is
speaker 1's whole utterance and its transcript matches the audio. ``min`` cuts each mixture to the
shorter utterance, so the transcript may say more than the audio: use it for PESQ / STOI only.

The WSJ transcripts mark noises (``[door_slam]``), spoken punctuation (``\\,COMMA``), fragments
(``*ha*``) and unread words (``<the>``); the ``text`` written here drops the markers and
punctuation words, keeps fragments' letters and upper-cases nothing (stage 10 scores lower case).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet2_speecht5.data.kaldi_dir import write_map
from espnet2_speecht5.data.splits import Utterance, write_data_dir
from espnet2_speecht5.runtime.errors import DataError

SETS = {"tr": "train", "cv": "dev", "tt": "test"}
DOT_LINE = re.compile(r"^(?P<text>.*)\((?P<utt>[0-9a-z]{8})\)\s*$", re.IGNORECASE)


def clean_transcript(text: str) -> str:
    """A WSJ prompt without its markers: noises, spoken punctuation, fragment marks, unread words."""
    words = []
    for word in text.split():
        if word.startswith("[") or word.startswith("\\") or (word.startswith("<") and word.endswith(">")):
            continue  # a noise, a spoken punctuation mark, a word the speaker left out
        word = word.replace("*", "").replace("~", "").replace(":", "").replace("!", "")
        word = word.strip(".") if not re.fullmatch(r"([a-z]\.)+", word, re.IGNORECASE) else word
        if word:
            words.append(word.lower())
    return " ".join(words)


def read_dot_files(wsj0: Path) -> Dict[str, Tuple[str, Path, int]]:
    """``{wsj0 utt id: (clean transcript, .dot file, line)}`` of every ``*.dot`` under ``wsj0``.

    Raises:
        DataError: no .dot file at all, or a line that is not ``<prompt> (<utt id>)``.
    """
    prompts: Dict[str, Tuple[str, Path, int]] = {}
    files = sorted(wsj0.rglob("*.dot"))
    if not files:
        raise DataError("holds no .dot transcript files (expected the wsj0 release, e.g. "
                        "<wsj0>/11-1.1/wsj0/transcrp/dots/...)", wsj0)
    for dot in files:
        for number, line in enumerate(dot.read_text(encoding="latin-1").splitlines(), start=1):
            if not line.strip():
                continue
            match = DOT_LINE.match(line.strip())
            if match is None:
                raise DataError("not a '<prompt> (<utterance id>)' line", dot, number)
            prompts[match["utt"].lower()] = (clean_transcript(match["text"]), dot, number)
    return prompts


def set_folder(wham: Path, mode: str, set_code: str) -> Path:
    """``<wham>/wav16k/<mode>/<set>``; ``wham`` may also be the ``wav16k`` or ``wav16k/<mode>`` folder itself."""
    for candidate in (wham / "wav16k" / mode / set_code, wham / mode / set_code, wham / set_code):
        if (candidate / "mix_single").is_dir():
            return candidate
    raise DataError(f"has no wav16k/{mode}/{set_code}/mix_single: not a WHAM! tree made at 16 kHz in mode "
                    f"'{mode}' (run WHAM!'s create_wham_from_scratch.py with --fs 16k --mode {mode})", wham)


def make_set(folder: Path, prompts: Optional[Dict[str, Tuple[str, Path, int]]]) -> List[Tuple[Utterance, str]]:
    """``(utterance, clean wav)`` of every ``mix_single`` wav of one WHAM! set folder."""
    mixtures = sorted((folder / "mix_single").glob("*.wav"))
    if not mixtures:
        raise DataError("has no .wav files", folder / "mix_single")
    rows: List[Tuple[Utterance, str]] = []
    for mix in mixtures:
        clean = folder / "s1" / mix.name
        if not clean.is_file():
            raise DataError(f"mixture {mix.name} has no clean speaker-1 file", clean)
        first = mix.stem.split("_")[0].lower()
        if len(first) != 8:
            raise DataError("is not named <wsj0 utt>_<gain>_<wsj0 utt>_<gain>.wav", mix)
        speaker = first[:3]
        text = None
        if prompts is not None:
            if first not in prompts:
                raise DataError(f"speaker 1's utterance {first} has no transcript in the wsj0 .dot files", mix)
            text = prompts[first][0]
            if not text:
                where = f"{prompts[first][1]}:{prompts[first][2]}"
                raise DataError(f"speaker 1's utterance {first} has an empty transcript ({where})", mix)
        utt = f"{speaker}_{mix.stem}"
        rows.append((Utterance(utt, speaker, str(mix.absolute()), text), str(clean.absolute())))
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wham", type=Path, required=True, help="the WHAM! output folder (holding wav16k/)")
    parser.add_argument("--wsj0", type=Path, help="the wsj0 release, for the transcripts (text); none: no text")
    parser.add_argument("--mode", choices=("max", "min"), default="max", help="WHAM!'s length mode (see above)")
    parser.add_argument("--out", type=Path, default=Path("data"), help="where data/<set> go")
    args = parser.parse_args(argv)
    try:
        prompts = read_dot_files(args.wsj0) if args.wsj0 is not None else None
        for code, name in SETS.items():
            rows = make_set(set_folder(args.wham, args.mode, code), prompts)
            written = write_data_dir(args.out / name, [u for u, _ in rows])
            write_map(args.out / name / "wav_clean.scp", [(u.utt, clean) for u, clean in rows])
            speakers = len({u.spk for u, _ in rows})
            files = " ".join(sorted([*written, "wav_clean.scp"]))
            print(f"{args.out / name}: {len(rows)} utterances, {speakers} speakers; files: {files}", file=sys.stderr)
    except DataError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
