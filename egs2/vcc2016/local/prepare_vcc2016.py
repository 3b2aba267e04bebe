#!/usr/bin/env python3
"""Write data/{train,dev,test} for the VCC 2016 recipes (parallel speech, no transcripts).

The corpus folder holds ``vcc2016_training/<speaker>/<sentence>.wav`` (or ``.flac``), or is
that ``vcc2016_training`` folder itself.  Speakers are the folders named ``S``/``T``, ``F``/``M``
and a number (SF1, TM1, ...): ``S`` source, ``T`` target.  Every speaker reads the same
sentences, numbered by file name.

Split by sentence id in numeric order: the last ``--test_fraction`` of the sentences are the
test set, the ``--dev_fraction`` before them the dev set, the rest the train set, so that no
sentence is in two sets.

* ``--task vc``: one utterance ``<src>_<tgt>_<sentence>`` per source/target pair and sentence;
  ``wav.scp`` and ``utt2spk`` are the source side, ``wav_tgt.scp`` and ``utt2spk_tgt`` the
  target side.  ``--vc_pairs all`` pairs every source speaker with every target speaker; or
  list pairs as ``SF1:TM1,SM1:TF1``.
* ``--task sid``: one utterance ``<speaker>_<sentence>`` per recording, all speakers in every set.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet2_speecht5.data.splits import Utterance, fraction_counts, group_by_set, tail_split, write_sets
from espnet2_speecht5.runtime.errors import DataError

SPEAKER_RE = re.compile(r"^[ST][FM]\d+$")
SENTENCE_RE = re.compile(r"^\d+$")
AUDIO_SUFFIXES = (".wav", ".flac")

Recordings = Dict[str, Dict[str, Path]]  # speaker -> sentence id -> audio file


def find_training_dir(corpus: Path) -> Path:
    """The folder whose sub-folders are the speakers."""
    for candidate in (corpus / "vcc2016_training", corpus):
        if candidate.is_dir() and any(SPEAKER_RE.match(p.name) for p in candidate.iterdir() if p.is_dir()):
            return candidate
    raise DataError("no speaker folders (SF1, TM1, ...) here or in vcc2016_training/", corpus)


def read_recordings(training_dir: Path) -> Recordings:
    """Map every speaker folder to its sentences; all speakers must read the same sentences."""
    recordings: Recordings = {}
    for spk_dir in sorted(p for p in training_dir.iterdir() if p.is_dir() and SPEAKER_RE.match(p.name)):
        sentences: Dict[str, Path] = {}
        for path in sorted(spk_dir.iterdir()):
            if path.suffix not in AUDIO_SUFFIXES:
                continue
            if not SENTENCE_RE.match(path.stem):
                raise DataError("audio file name is not a sentence number (100001.wav)", path)
            if path.stem in sentences:
                raise DataError(f"two audio files for sentence {path.stem} ({sentences[path.stem].name})", path)
            sentences[path.stem] = path
        if not sentences:
            raise DataError("speaker folder holds no .wav or .flac files", spk_dir)
        recordings[spk_dir.name] = sentences
    all_ids = sorted({sid for sentences in recordings.values() for sid in sentences})
    for spk, sentences in recordings.items():
        missing = [sid for sid in all_ids if sid not in sentences]
        if missing:
            others = next(s for s in recordings if missing[0] in recordings[s])
            raise DataError(
                f"sentence {missing[0]} is missing ({len(missing)} missing in all) but {others} has it",
                training_dir / spk,
            )
    return recordings


def parse_pairs(spec: str, speakers: Sequence[str], where: Path) -> List[Tuple[str, str]]:
    """``all`` (every source speaker to every target speaker) or ``SRC:TGT,SRC:TGT`` (commas or spaces)."""
    if spec.strip() == "all":
        sources = [s for s in speakers if s.startswith("S")]
        targets = [s for s in speakers if s.startswith("T")]
        if not sources or not targets:
            raise DataError(
                f"--vc_pairs all needs source (S*) and target (T*) speakers; found {' '.join(speakers)}", where
            )
        return [(s, t) for s in sources for t in targets]
    pairs = []
    for item in spec.replace(",", " ").split():
        src, sep, tgt = item.partition(":")
        if not sep or not src or not tgt or src == tgt:
            raise DataError(f"--vc_pairs: '{item}' is not SRC:TGT with two different speakers")
        for spk in (src, tgt):
            if spk not in speakers:
                raise DataError(f"--vc_pairs: speaker {spk} is not in the corpus ({' '.join(speakers)})", where)
        pairs.append((src, tgt))
    if not pairs:
        raise DataError("--vc_pairs is empty")
    return pairs


def make_sets(
    recordings: Recordings, task: str, pairs: Sequence[Tuple[str, str]], dev_fraction: float, test_fraction: float
) -> Dict[str, List[Utterance]]:
    sentence_ids = sorted({sid for sentences in recordings.values() for sid in sentences}, key=int)
    # Numbers of equal width sort the same in byte and numeric order; zero-pad to make sure.
    width = max(len(s) for s in sentence_ids)
    n_dev, n_test = fraction_counts(len(sentence_ids), dev_fraction, test_fraction)
    set_of = tail_split((s.zfill(width) for s in sentence_ids), n_dev, n_test)
    utterances: List[Utterance] = []
    if task == "vc":
        for src, tgt in pairs:
            for sid in sentence_ids:
                utterances.append(
                    Utterance(
                        utt=f"{src}_{tgt}_{sid.zfill(width)}",
                        spk=src,
                        wav=str(recordings[src][sid].resolve()),
                        wav_tgt=str(recordings[tgt][sid].resolve()),
                        spk_tgt=tgt,
                    )
                )
    else:
        for spk, sentences in recordings.items():
            for sid in sentence_ids:
                utterances.append(
                    Utterance(utt=f"{spk}_{sid.zfill(width)}", spk=spk, wav=str(sentences[sid].resolve()))
                )
    return group_by_set(utterances, set_of, lambda u: u.utt.rsplit("_", 1)[1])


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="folder with vcc2016_training/")
    parser.add_argument("--task", choices=("vc", "sid"), required=True)
    parser.add_argument("--out", type=Path, default=Path("data"), help="where data/<set> go")
    parser.add_argument("--vc_pairs", default="all", help="vc: 'all' or 'SF1:TM1,SM1:TF1,...'")
    parser.add_argument("--dev_fraction", type=float, default=0.1, help="share of sentences in dev")
    parser.add_argument("--test_fraction", type=float, default=0.1, help="share of sentences in test")
    args = parser.parse_args(argv)
    try:
        training_dir = find_training_dir(args.corpus)
        recordings = read_recordings(training_dir)
        pairs = parse_pairs(args.vc_pairs, list(recordings), training_dir) if args.task == "vc" else []
        if pairs:
            print(f"vc pairs (source:target): {' '.join(f'{s}:{t}' for s, t in pairs)}")
        try:
            sets = make_sets(recordings, args.task, pairs, args.dev_fraction, args.test_fraction)
        except ValueError as err:
            raise DataError(str(err), training_dir) from None
        write_sets(args.out, sets)
    except DataError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
