#!/usr/bin/env python3
"""Write data/{train,dev,test} for parallel voice conversion on CMU ARCTIC.

The corpus folder (``--corpus``) holds one unpacked release per speaker,
``cmu_us_<spk>_arctic/``, each with ``wav/<prompt>.wav`` (16 kHz mono; ``.flac`` is taken when
there is no ``.wav``) and ``etc/txt.done.data``, one prompt a line:
``( arctic_a0001 "Author of the danger trail, Philip Steels, etc." )``.

Every speaker reads the same 1,132 prompts (``arctic_a0001`` ... ``arctic_a0593``,
``arctic_b0001`` ... ``arctic_b0539``), so any two speakers give a parallel pair.

Split (by prompt, the same for every speaker, so no sentence is in two sets): the prompts that
every speaker in use has, sorted in byte order; the last ``--num_test`` are the test set, the
``--num_dev`` before them the dev set, the rest train.  With the full corpus and the defaults
(100, 100) that is the paper's 932/100/100: train ``arctic_a0001`` ... ``arctic_b0339``, dev
``arctic_b0340`` ... ``arctic_b0439``, test ``arctic_b0440`` ... ``arctic_b0539``.

Pairs (``src:tgt``, commas between them; ``all`` is every ordered pair of two different
``--speakers``): ``--train_pairs`` (default ``all``: the 12 ordered pairs of bdl, clb, rms,
slt), ``--dev_pairs`` (default: the train pairs) and ``--test_pairs`` (default
``bdl:slt,clb:slt``, the two directions the paper reports).

Each set gets, per (pair, prompt), the utterance ``<src>_<tgt>_<prompt>`` (``bdl_slt_arctic_a0001``):
``wav.scp`` and ``utt2spk`` (source recording and speaker), ``wav_tgt.scp`` and ``utt2spk_tgt``
(target recording and speaker), ``text`` (the target speaker's transcript of the prompt; the
words are the same on both sides) and ``spk2utt``.

Bad input stops the script with one line naming the file (and line): a speaker folder, its
``etc/txt.done.data`` or its ``wav/`` missing, a malformed or repeated line in
``txt.done.data``.  A prompt that some speaker in use does not list or has no recording of is
dropped for every speaker, with one warning line per speaker saying how many and which first.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet2_speecht5.data.splits import Utterance, tail_split, write_sets
from espnet2_speecht5.runtime.cli import run_cli
from espnet2_speecht5.runtime.errors import DataError

PAPER_SPEAKERS = "bdl,clb,rms,slt"
DEFAULT_TRAIN_PAIRS = "all"
DEFAULT_TEST_PAIRS = "bdl:slt,clb:slt"
# Speaker names become the first part of "<src>_<tgt>_<prompt>": letters and digits only.
SPEAKER_RE = re.compile(r"^[A-Za-z0-9]+$")
# ( <prompt id> "<transcript>" ) with free spacing; the id has no space, quote, bracket or slash.
TXT_LINE_RE = re.compile(r'^\(\s*([^\s"()/]+)\s+"(.*)"\s*\)$')
AUDIO_SUFFIXES = (".wav", ".flac")

Pair = Tuple[str, str]


@dataclass
class Speaker:
    """One speaker's release: its folder, transcripts and recordings (by prompt id)."""

    name: str
    folder: Path
    txt: Path
    text: Dict[str, str]
    audio: Dict[str, Path]


def speaker_folder(corpus: Path, spk: str) -> Path:
    return corpus / f"cmu_us_{spk}_arctic"


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got '{value}'")
    return number


def parse_speakers(spec: str) -> List[str]:
    speakers = spec.replace(",", " ").split()
    for spk in speakers:
        if not SPEAKER_RE.match(spk):
            raise DataError(f"--speakers: '{spk}' is not a speaker name (letters and digits, as in cmu_us_bdl_arctic)")
    if len(set(speakers)) < 2:
        raise DataError(f"--speakers needs at least two different speakers for 'all', got '{spec}'")
    return list(dict.fromkeys(speakers))


def parse_pairs(spec: str, option: str, speakers: Sequence[str]) -> List[Pair]:
    """``all`` (every ordered pair of two different ``speakers``) or ``src:tgt,src:tgt`` (commas or spaces)."""
    if spec.strip() == "all":
        return [(src, tgt) for src in speakers for tgt in speakers if src != tgt]
    pairs: List[Pair] = []
    for item in spec.replace(",", " ").split():
        src, sep, tgt = item.partition(":")
        if not sep or not SPEAKER_RE.match(src) or not SPEAKER_RE.match(tgt) or src == tgt:
            raise DataError(f"{option}: '{item}' is not src:tgt with two different speaker names (e.g. bdl:slt)")
        if (src, tgt) in pairs:
            raise DataError(f"{option}: the pair {item} is listed twice")
        pairs.append((src, tgt))
    if not pairs:
        raise DataError(f"{option} names no pair (give 'all' or src:tgt,src:tgt)")
    return pairs


def read_txt_done_data(txt: Path) -> Dict[str, str]:
    """``{prompt id: transcript}`` from Festival's ``txt.done.data``; blank lines are skipped."""
    if not txt.is_file():
        raise DataError("the transcript file does not exist (is this a cmu_us_<spk>_arctic release?)", txt)
    text: Dict[str, str] = {}
    first_line: Dict[str, int] = {}
    for number, raw in enumerate(txt.read_bytes().split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError as err:
            raise DataError(f"not valid UTF-8 (byte {err.start})", txt, number) from None
        if not line:
            continue
        match = TXT_LINE_RE.match(line)
        if match is None:
            raise DataError(f"expected '( <prompt> \"<transcript>\" )', got '{line}'", txt, number)
        prompt, words = match.group(1), " ".join(match.group(2).split())
        if not words:
            raise DataError(f"prompt {prompt} has an empty transcript", txt, number)
        if prompt in first_line:
            raise DataError(f"prompt {prompt} is already on line {first_line[prompt]}", txt, number)
        first_line[prompt] = number
        text[prompt] = words
    if not text:
        raise DataError("no prompt lines: is this a txt.done.data?", txt)
    return text


def read_speaker(corpus: Path, spk: str) -> Speaker:
    folder = speaker_folder(corpus, spk)
    if not folder.is_dir():
        raise DataError(f"no folder for speaker {spk} (expected {folder.name}/ holding wav/ and etc/)", folder)
    txt = folder / "etc" / "txt.done.data"
    text = read_txt_done_data(txt)
    wav_dir = folder / "wav"
    if not wav_dir.is_dir():
        raise DataError(f"speaker {spk} has no wav/ folder", wav_dir)
    audio: Dict[str, Path] = {}
    for suffix in reversed(AUDIO_SUFFIXES):  # .wav last, so it wins over a .flac of the same prompt
        for path in wav_dir.glob(f"*{suffix}"):
            if path.is_file():
                audio[path.stem] = path.absolute()
    if not audio:
        raise DataError(f"speaker {spk} has no .wav (or .flac) recordings", wav_dir)
    return Speaker(spk, folder, txt, text, audio)


def warn(message: str) -> None:
    print(f"WARNING: {message}", file=sys.stderr)


def common_prompts(speakers: Sequence[Speaker]) -> List[str]:
    """The prompts every speaker lists and has a recording of, in byte order; warn about the rest."""
    listed = sorted({p for s in speakers for p in s.text}, key=str.encode)
    for spk in speakers:
        unlisted = [p for p in listed if p not in spk.text]
        if unlisted:
            warn(
                f"{spk.txt}: {len(unlisted)} prompt(s) that other speakers have are not listed (first: "
                f"{unlisted[0]}); they are dropped for every speaker"
            )
        unrecorded = [p for p in listed if p in spk.text and p not in spk.audio]
        if unrecorded:
            warn(
                f"{spk.folder / 'wav'}: {len(unrecorded)} listed prompt(s) have no recording (first: "
                f"{unrecorded[0]}.wav); they are dropped for every speaker"
            )
    kept = [p for p in listed if all(p in s.text and p in s.audio for s in speakers)]
    differing = [p for p in kept if len({s.text[p] for s in speakers}) > 1]
    if differing:
        warn(
            f"{len(differing)} prompt(s) have different transcripts for different speakers (first: "
            f"{differing[0]}); text uses the target speaker's"
        )
    return kept


def make_sets(
    speakers: Dict[str, Speaker], pairs_of: Dict[str, List[Pair]], set_of: Dict[str, str]
) -> Dict[str, List[Utterance]]:
    """One utterance per (pair of the set, prompt of the set)."""
    sets: Dict[str, List[Utterance]] = {}
    for name, pairs in pairs_of.items():
        prompts = [p for p in sorted(set_of, key=str.encode) if set_of[p] == name]
        sets[name] = [
            Utterance(
                utt=f"{src}_{tgt}_{prompt}",
                spk=src,
                wav=str(speakers[src].audio[prompt]),
                text=speakers[tgt].text[prompt],
                wav_tgt=str(speakers[tgt].audio[prompt]),
                spk_tgt=tgt,
            )
            for src, tgt in pairs
            for prompt in prompts
        ]
    return sets


def describe(pairs: Sequence[Pair]) -> str:
    return " ".join(f"{src}:{tgt}" for src, tgt in pairs)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="folder holding cmu_us_<spk>_arctic/")
    parser.add_argument("--out", type=Path, default=Path("data"), help="where data/<set> go")
    parser.add_argument("--speakers", default=PAPER_SPEAKERS, help="the speakers 'all' pairs up")
    parser.add_argument("--train_pairs", default=DEFAULT_TRAIN_PAIRS, help="'all' or src:tgt,src:tgt")
    parser.add_argument("--dev_pairs", default="", help="'all' or src:tgt,... (empty: the train pairs)")
    parser.add_argument("--test_pairs", default=DEFAULT_TEST_PAIRS, help="'all' or src:tgt,src:tgt")
    parser.add_argument("--num_dev", type=positive_int, default=100, help="prompts in dev")
    parser.add_argument("--num_test", type=positive_int, default=100, help="prompts in test (the last ones)")
    parser.add_argument(
        "--list_speakers", action="store_true", help="print the speakers the pairs need, one a line, and stop"
    )
    args = parser.parse_args(argv)

    speakers_for_all = parse_speakers(args.speakers)
    train = parse_pairs(args.train_pairs, "--train_pairs", speakers_for_all)
    dev = parse_pairs(args.dev_pairs, "--dev_pairs", speakers_for_all) if args.dev_pairs.strip() else train
    test = parse_pairs(args.test_pairs, "--test_pairs", speakers_for_all)
    pairs_of = {"train": train, "dev": dev, "test": test}
    needed = sorted({spk for pairs in pairs_of.values() for pair in pairs for spk in pair}, key=str.encode)
    if args.list_speakers:
        print("\n".join(needed))
        return 0
    if args.corpus is None:
        parser.error("--corpus is required")
    if not args.corpus.is_dir():
        raise DataError("the corpus folder does not exist", args.corpus)

    speakers = {spk: read_speaker(args.corpus, spk) for spk in needed}
    prompts = common_prompts(list(speakers.values()))
    try:
        set_of = tail_split(prompts, args.num_dev, args.num_test)
    except ValueError as err:
        raise DataError(f"{len(prompts)} prompt(s) that all of {' '.join(needed)} have: {err}", args.corpus) from None
    counts = {name: sum(1 for s in set_of.values() if s == name) for name in pairs_of}
    print(
        f"{args.corpus}: {len(prompts)} prompts of {' '.join(needed)}: {counts['train']} train, "
        f"{counts['dev']} dev, {counts['test']} test (the last {args.num_test} in byte order are test, "
        f"the {args.num_dev} before them dev)"
    )
    for name, pairs in pairs_of.items():
        print(f"{name} pairs (source:target): {describe(pairs)}")
    write_sets(args.out, make_sets(speakers, pairs_of, set_of))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
