#!/usr/bin/env python3
"""Write data/{train,dev,test} for the cathy recipes (one US English female voice, CMU ARCTIC prompts).

Two corpus layouts are read:

* prepared: ``<corpus>/text`` (``arctic_a0001 Transcript...``) and ``<corpus>/wav16k/<id>.flac``;
* upstream (the rhasspy/dataset-voice-cathy repository): ``<corpus>/data/<id>_<timestamp>.wav``
  with a ``.txt`` beside each take.  Several takes of one prompt exist; the latest take wins.

Split by ARCTIC prompt id in byte order (``arctic_a0001`` ... ``arctic_a0593``,
``arctic_b0001`` ... ``arctic_b0539``): the last ``--n_test`` prompts are the test set, the
``--n_dev`` prompts before them the dev set, the rest the train set.

``--task asr`` writes normalised text (lower case, no punctuation but apostrophes inside
words); ``--task tts`` writes the prompt as read, with its case and punctuation.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet2_speecht5.data.kaldi_dir import iter_lines
from espnet2_speecht5.data.splits import Utterance, group_by_set, tail_split, write_sets
from espnet2_speecht5.data.transcripts import normalize_for_asr
from espnet2_speecht5.runtime.errors import DataError

SPEAKER = "cathy"
PROMPT_RE = re.compile(r"^arctic_[a-z]\d{4}$")
TAKE_RE = re.compile(r"^(arctic_[a-z]\d{4})_(\d+)$")
LFS_POINTER = b"version https://git-lfs"


@dataclass(frozen=True)
class Prompt:
    """One recorded ARCTIC prompt: its id, the transcript as read, and the audio file."""

    prompt_id: str
    text: str
    audio: Path


def read_prepared(root: Path) -> List[Prompt]:
    """Read ``text`` and ``wav16k/<id>.flac``; every listed prompt must have its audio."""
    text_file = root / "text"
    prompts = []
    seen: Dict[str, int] = {}
    for number, key, value in iter_lines(text_file):
        if not PROMPT_RE.match(key):
            raise DataError(f"'{key}' is not an ARCTIC prompt id (arctic_a0001)", text_file, number)
        if key in seen:
            raise DataError(f"prompt listed twice (first on line {seen[key]})", text_file, number, key)
        seen[key] = number
        if not value:
            raise DataError("no transcript after the id", text_file, number, key)
        audio = root / "wav16k" / f"{key}.flac"
        if not audio.is_file():
            raise DataError(f"audio file {audio.resolve()} does not exist", text_file, number, key)
        prompts.append(Prompt(key, value, audio))
    return prompts


def _is_lfs_pointer(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(len(LFS_POINTER)) == LFS_POINTER


def read_upstream(root: Path) -> List[Prompt]:
    """Read ``data/<id>_<timestamp>.wav`` and its ``.txt``; keep the latest take of each prompt."""
    data = root / "data"
    latest: Dict[str, Path] = {}
    transcripts: Dict[str, List[Path]] = {}
    for path in sorted(data.iterdir()):
        match = TAKE_RE.match(path.stem)
        if not match:
            continue
        prompt_id = match.group(1)
        if path.suffix == ".wav":
            if prompt_id not in latest or int(TAKE_RE.match(latest[prompt_id].stem).group(2)) < int(match.group(2)):
                latest[prompt_id] = path
        elif path.suffix == ".txt":
            transcripts.setdefault(prompt_id, []).append(path)
    prompts = []
    for prompt_id in sorted(latest):
        audio = latest[prompt_id]
        if _is_lfs_pointer(audio):
            raise DataError("is a Git LFS pointer, not audio: fetch the repository with git lfs", audio)
        own = audio.with_suffix(".txt")
        # The take's own transcript, else the newest transcript of the same prompt.
        candidates = [own] if own.is_file() else sorted(transcripts.get(prompt_id, []), reverse=True)
        if not candidates:
            raise DataError(f"no transcript (.txt) for prompt {prompt_id}", audio)
        text_file = candidates[0]
        text = " ".join(text_file.read_text(encoding="utf-8").split())
        if not text:
            raise DataError("empty transcript", text_file, 1, prompt_id)
        prompts.append(Prompt(prompt_id, text, audio))
    if not prompts:
        raise DataError("no arctic_<id>_<timestamp>.wav takes found", data)
    return prompts


def read_corpus(root: Path) -> List[Prompt]:
    """Read whichever layout ``root`` has."""
    if (root / "text").is_file():
        return read_prepared(root)
    if (root / "data").is_dir():
        return read_upstream(root)
    raise DataError("neither a 'text' file with 'wav16k/' nor an upstream 'data/' folder is here", root)


def make_sets(prompts: Sequence[Prompt], task: str, n_dev: int, n_test: int) -> Dict[str, List[Utterance]]:
    set_of = tail_split((p.prompt_id for p in prompts), n_dev, n_test)
    utterances = [
        Utterance(
            utt=f"{SPEAKER}_{p.prompt_id}",
            spk=SPEAKER,
            wav=str(p.audio.resolve()),
            text=normalize_for_asr(p.text) if task == "asr" else p.text,
        )
        for p in prompts
    ]
    return group_by_set(utterances, set_of, lambda u: u.utt[len(SPEAKER) + 1 :])


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the cathy_arctic folder")
    parser.add_argument("--task", choices=("asr", "tts"), required=True)
    parser.add_argument("--out", type=Path, default=Path("data"), help="where data/<set> go")
    parser.add_argument("--n_dev", type=int, default=50, help="prompts in the dev set")
    parser.add_argument("--n_test", type=int, default=100, help="prompts in the test set")
    args = parser.parse_args(argv)
    try:
        prompts = read_corpus(args.corpus)
        try:
            sets = make_sets(prompts, args.task, args.n_dev, args.n_test)
        except ValueError as err:
            raise DataError(str(err), args.corpus) from None
        write_sets(args.out, sets)
    except DataError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
