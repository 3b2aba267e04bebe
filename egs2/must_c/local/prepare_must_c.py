#!/usr/bin/env python3
"""Write Kaldi data directories for EN->X speech translation from a MuST-C release.

MuST-C (v1 and later) ships one folder per language pair, ``en-<lang>/data/<split>/``, with::

    wav/<talk>.wav              one recording per TED talk (16 kHz)
    txt/<split>.yaml            one entry per segment: {duration, offset, speaker_id, wav, ...}
    txt/<split>.en              the English transcript of each segment, line by line
    txt/<split>.<lang>          its translation, line by line

The three text files are parallel: line n of ``.en`` and ``.<lang>`` belong to entry n of the
YAML list. Each split becomes ``<out>/<split>.en-<lang>/`` with Kaldi's ``segments`` (so stage 3
cuts the segments out of the talks), ``wav.scp`` (one line per talk), ``text`` (English),
``text.tgt`` (the translation), ``utt2spk`` and ``spk2utt`` (the talk is the speaker, as in
ESPnet's MuST-C recipe). Utterance ids are ``<talk>_<start>_<end>`` in centiseconds. Text is kept
exactly as released (case and punctuation: BLEU is scored on it). A segment whose transcript or
translation is empty, or whose id repeats another's, is left out and counted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

from espnet2_speecht5.data.kaldi_dir import write_map, write_spk2utt
from espnet2_speecht5.runtime.errors import DataError

SPLITS = ("train", "dev", "tst-COMMON", "tst-HE")


def read_lines(path: Path) -> List[str]:
    """The lines of a text file (split on newlines only: a line may hold any other character)."""
    if not path.is_file():
        _missing(path)
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError as err:
        raise DataError(f"not valid UTF-8 (byte {err.start})", path) from None
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _missing(path: Path) -> List[str]:
    raise DataError("does not exist (is MUST_C the folder that holds en-<lang>/data/?)", path)


def read_segment_list(path: Path) -> List[Dict[str, object]]:
    """The YAML list of a split (MuST-C writes one flow mapping per line)."""
    if not path.is_file():
        _missing(path)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        entries = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except yaml.YAMLError as err:
        raise DataError(f"is not a MuST-C segment list ({str(err).splitlines()[0]})", path) from None
    if not isinstance(entries, list):
        raise DataError("is not a YAML list of segments", path)
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not {"offset", "duration", "wav"} <= set(entry):
            raise DataError(f"entry {number} lacks offset, duration or wav", path, number)
    return entries


def prepare_split(root: Path, lang: str, split: str, out: Path) -> Tuple[int, Dict[str, int]]:
    """Write ``out`` for one split; returns (segments written, {reason: segments left out})."""
    txt = root / f"en-{lang}" / "data" / split / "txt"
    wav_dir = root / f"en-{lang}" / "data" / split / "wav"
    entries = read_segment_list(txt / f"{split}.yaml")
    english = read_lines(txt / f"{split}.en")
    target = read_lines(txt / f"{split}.{lang}")
    for name, lines in ((f"{split}.en", english), (f"{split}.{lang}", target)):
        if len(lines) != len(entries):
            raise DataError(f"has {len(lines)} lines but {split}.yaml lists {len(entries)} segments", txt / name)
    segments: Dict[str, str] = {}
    text: Dict[str, str] = {}
    text_tgt: Dict[str, str] = {}
    utt2spk: Dict[str, str] = {}
    recordings: Dict[str, str] = {}
    dropped: Dict[str, int] = {}
    for number, (entry, en, tgt) in enumerate(zip(entries, english, target), start=1):
        talk = Path(str(entry["wav"])).stem
        start, duration = float(entry["offset"]), float(entry["duration"])  # type: ignore[arg-type]
        utt = f"{talk}_{round(start * 100):07d}_{round((start + duration) * 100):07d}"
        reason = None
        if not en.strip() or not tgt.strip():
            reason = "empty transcript or translation"
        elif utt in segments:
            reason = "same talk, start and end as another segment"
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        wav = wav_dir / str(entry["wav"])
        if talk not in recordings:
            if not wav.is_file():
                raise DataError(f"segment {number} names {wav}, which does not exist", txt / f"{split}.yaml", number)
            recordings[talk] = str(wav.resolve())
        segments[utt] = f"{talk} {start:.3f} {start + duration:.3f}"
        text[utt] = " ".join(en.split())
        text_tgt[utt] = " ".join(tgt.split())
        utt2spk[utt] = talk
    if not segments:
        raise DataError("no segment left to write", txt / f"{split}.yaml")
    out.mkdir(parents=True, exist_ok=True)
    for name, values in (("segments", segments), ("wav.scp", recordings), ("text", text),
                         ("text.tgt", text_tgt), ("utt2spk", utt2spk)):
        write_map(out / name, values)
    write_spk2utt(out)
    return len(segments), dropped


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--must_c", required=True, help="the MuST-C folder that holds en-<lang>/")
    parser.add_argument("--tgt_lang", required=True, help="target language, e.g. de or fr")
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), help="MuST-C splits to prepare")
    parser.add_argument("--out", default="data", help="where the data directories go")
    args = parser.parse_args(argv)
    root = Path(args.must_c)
    for split in args.splits:
        out = Path(args.out) / f"{split}.en-{args.tgt_lang}"
        written, dropped = prepare_split(root, args.tgt_lang, split, out)
        left = "; ".join(f"{n} left out: {reason}" for reason, n in dropped.items()) or "none left out"
        print(f"prepare_must_c.py: {out}: {written} segments ({left})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from espnet2_speecht5.runtime.cli import run_cli

    sys.exit(run_cli(main))
