#!/usr/bin/env python3
"""Write data/{train,dev,test} for the AN4 recipe from an unpacked AN4 folder.

The folder (``an4/``) holds ``etc/an4_train.transcription`` and ``etc/an4_test.transcription``,
one utterance a line, ``[<s>] WORDS [</s>] (<prompt>-<speaker>-<channel>)``, and the audio as
``wav/an4_clstk/<speaker>/<id>.sph`` (train) and ``wav/an4test_clstk/<speaker>/<id>.sph`` (test).
The full CMU AN4 and the mini subset that ESPnet ships for smoke tests have this layout.

The test set is ``an4_test``.  The dev set is held out of ``an4_train`` by speaker: counting
from the last speaker in id order, every ``--dev_speaker_step``-th speaker (at least one) goes
to dev with all their utterances, so that dev speakers are not in train.

``text`` is the transcript without the ``<s>``/``</s>`` markers, in the corpus's upper case.
Utterance ids are ``<speaker>-<prompt>-<channel>``.  ``wav.scp`` names the ``.sph`` files,
or a ``sox ... -t wav - |`` command for a file that soundfile cannot read.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import soundfile as sf

from espnet2_speecht5.data.splits import Utterance, write_sets
from espnet2_speecht5.runtime.errors import DataError

LINE_RE = re.compile(r"^(?P<text>.*?)\s*\((?P<id>[^()\s]+)\)\s*$")
ID_RE = re.compile(r"^(?P<prompt>[^-]+)-(?P<spk>[^-]+)-(?P<channel>[^-]+)$")
MARKERS = {"<s>", "</s>", "<sil>"}
PARTS = {"train": "an4_clstk", "test": "an4test_clstk"}


def audio_entry(path: Path, transcription: Path, number: int, utt: str) -> str:
    """The ``wav.scp`` value for ``path``: the file itself, or a sox pipe when soundfile cannot read it."""
    try:
        sf.info(str(path))
        return str(path)
    except RuntimeError:  # soundfile's LibsndfileError
        if shutil.which("sox") is None:
            raise DataError(
                f"soundfile cannot read {path} and sox is not installed", transcription, number, utt
            ) from None
        return f"sox {shlex.quote(str(path))} -t wav - |"


def read_transcription(root: Path, part: str) -> List[Utterance]:
    """Parse ``etc/an4_<part>.transcription``; each line's audio file must exist."""
    transcription = root / "etc" / f"an4_{part}.transcription"
    if not transcription.is_file():
        raise DataError("transcription file does not exist", transcription)
    utterances: List[Utterance] = []
    seen: Dict[str, int] = {}
    for number, raw in enumerate(transcription.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        match = LINE_RE.match(raw)
        if not match:
            raise DataError("no utterance id in parentheses at the end of the line", transcription, number)
        file_id = match.group("id")
        parts = ID_RE.match(file_id)
        if not parts:
            raise DataError(f"utterance id '{file_id}' is not <prompt>-<speaker>-<channel>", transcription, number)
        spk = parts.group("spk")
        utt = f"{spk}-{parts.group('prompt')}-{parts.group('channel')}"
        if utt in seen:
            raise DataError(f"utterance listed twice (first on line {seen[utt]})", transcription, number, utt)
        seen[utt] = number
        words = [w for w in match.group("text").split() if w not in MARKERS]
        if not words:
            raise DataError("empty transcript", transcription, number, utt)
        audio = (root / "wav" / PARTS[part] / spk / f"{file_id}.sph").resolve()
        if not audio.is_file():
            raise DataError(f"audio file {audio} does not exist", transcription, number, utt)
        utterances.append(
            Utterance(utt=utt, spk=spk, wav=audio_entry(audio, transcription, number, utt), text=" ".join(words))
        )
    if not utterances:
        raise DataError("no utterances", transcription)
    return utterances


def hold_out_dev(train: Sequence[Utterance], step: int) -> Dict[str, List[Utterance]]:
    """Split ``train`` into train and dev by speaker (every ``step``-th speaker from the last)."""
    speakers = sorted({u.spk for u in train}, key=lambda s: s.encode("utf-8"))
    if len(speakers) < 2:
        raise DataError(f"cannot hold out a dev speaker: the training set has {len(speakers)} speaker(s)")
    dev_speakers = {spk for i, spk in enumerate(reversed(speakers)) if i % step == 0}
    return {
        "train": [u for u in train if u.spk not in dev_speakers],
        "dev": [u for u in train if u.spk in dev_speakers],
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--an4_root", type=Path, required=True, help="the unpacked an4/ folder")
    parser.add_argument("--out", type=Path, default=Path("data"), help="where data/<set> go")
    parser.add_argument("--dev_speaker_step", type=int, default=10, help="every N-th training speaker goes to dev")
    args = parser.parse_args(argv)
    if args.dev_speaker_step < 1:
        parser.error("--dev_speaker_step must be at least 1")
    try:
        sets = hold_out_dev(read_transcription(args.an4_root, "train"), args.dev_speaker_step)
        sets["test"] = read_transcription(args.an4_root, "test")
        write_sets(args.out, sets)
    except DataError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
