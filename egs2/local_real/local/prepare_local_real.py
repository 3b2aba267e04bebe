#!/usr/bin/env python3
"""Write the pre-training data of local_real: every real recording at hand, and English text.

Speech (no transcripts are written: pre-training reads audio only), from the folder of
``--data_root`` (``../shared/data`` beside the repository) and the cathy training set that
``--cathy_train`` names (the data directory that ``egs2/cathy/local/prepare_cathy.py`` wrote, so
that the cathy dev and test prompts stay out by the very rule the cathy recipes split by):

======================  ================================================  ==================
corpus                  files                                             held out for dev
======================  ================================================  ==================
cathy (train only)      the wav.scp of ``--cathy_train``                  none
vcc2016                 ``vcc2016/vcc2016_training/<SPK>/<sentence>.*``   the last 5 sentences
fsdd (8 kHz)            ``fsdd/recordings/<digit>_<speaker>_<n>.*``       take 0 of each digit
librispeech excerpts    ``librispeech_test_other_10spk/<spk>/<utt>.*``    the first of each speaker
ljspeech_32 (22.05 kHz) ``ljspeech_32/wavs/<id>.*``                       the last 2 clips
======================  ================================================  ==================

Stage 3 resamples everything to 16 kHz. Utterance ids are ``<corpus>_<speaker>_<name>``.

Text: the LJ Speech transcripts (``text/ljspeech_filelists``: train and test lists to train_text,
the val list to dev_text) and the English side of Multi30k (``text/multi30k_task1_raw``: train.en
to train_text, val.en to dev_text), normalised as cathy's ASR transcripts are
(:func:`espnet2_speecht5.data.transcripts.normalize_for_asr`). Exact duplicates are written once,
and a sentence equal to a transcript in ``--exclude_text`` (the cathy dev and test text) is left
out. Writes ``<out>/train``, ``<out>/dev`` (wav.scp, utt2spk, spk2utt), ``<out>/train_text/text``
and ``<out>/dev_text/text``.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from espnet2_speecht5.data.kaldi_dir import iter_lines, write_map
from espnet2_speecht5.data.splits import Utterance, write_sets
from espnet2_speecht5.data.transcripts import normalize_for_asr
from espnet2_speecht5.runtime.errors import DataError

AUDIO_SUFFIXES = (".flac", ".wav")
VCC_DEV_SENTENCES = 5  # the last sentence numbers, for every speaker
LJ_DEV_CLIPS = 2
FSDD_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)$")

Split = Tuple[List[Utterance], List[Utterance]]  # (train, dev)


def audio_files(folder: Path) -> List[Path]:
    """The audio files directly in ``folder``, by name; a missing or empty folder is an error."""
    if not folder.is_dir():
        raise DataError("folder not found", folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise DataError(f"no {'/'.join(AUDIO_SUFFIXES)} files", folder)
    return files


def utterance(corpus: str, speaker: str, name: str, path: Path) -> Utterance:
    spk = f"{corpus}_{speaker}"
    return Utterance(utt=f"{spk}_{name}", spk=spk, wav=str(path.resolve()))


def read_cathy_train(data_dir: Path) -> Split:
    """Every utterance of a cathy training data directory (its wav.scp and utt2spk)."""
    speakers = {key: value for _, key, value in iter_lines(data_dir / "utt2spk")}
    utts = []
    for number, key, value in iter_lines(data_dir / "wav.scp"):
        if key not in speakers:
            raise DataError("utterance missing from utt2spk", data_dir / "wav.scp", number, key)
        utts.append(Utterance(utt=key, spk=speakers[key], wav=value))
    if not utts:
        raise DataError("empty wav.scp", data_dir / "wav.scp")
    return utts, []


def read_vcc2016(root: Path) -> Split:
    folder = root / "vcc2016" / "vcc2016_training"
    speakers = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if not speakers:
        raise DataError("no speaker folders (SF1, TM1, ...)", folder)
    sentences = sorted({p.stem for spk in speakers for p in audio_files(spk)})
    held_out = set(sentences[-VCC_DEV_SENTENCES:])
    train, dev = [], []
    for spk in speakers:
        for path in audio_files(spk):
            (dev if path.stem in held_out else train).append(utterance("vcc", spk.name, path.stem, path))
    return train, dev


def read_fsdd(root: Path) -> Split:
    folder = root / "fsdd" / "recordings"
    train, dev = [], []
    for path in audio_files(folder):
        match = FSDD_NAME.match(path.stem)
        if not match:
            raise DataError("not named <digit>_<speaker>_<take>", path)
        digit, speaker, take = match.groups()
        (dev if take == "0" else train).append(utterance("fsdd", speaker, f"{digit}_{take}", path))
    return train, dev


def read_librispeech_excerpts(root: Path) -> Split:
    folder = root / "librispeech_test_other_10spk"
    speakers = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if not speakers:
        raise DataError("no speaker folders", folder)
    train, dev = [], []
    for spk in speakers:
        for index, path in enumerate(audio_files(spk)):
            (dev if index == 0 else train).append(utterance("ls", spk.name, path.stem, path))
    return train, dev


def read_ljspeech_clips(root: Path) -> Split:
    files = audio_files(root / "ljspeech_32" / "wavs")
    utts = [utterance("lj", "lj", path.stem, path) for path in files]
    return utts[:-LJ_DEV_CLIPS], utts[-LJ_DEV_CLIPS:]


SPEECH_READERS: Dict[str, Callable[[Path], Split]] = {
    "vcc2016": read_vcc2016,
    "fsdd": read_fsdd,
    "librispeech": read_librispeech_excerpts,
    "ljspeech": read_ljspeech_clips,
}


def ljspeech_sentences(path: Path) -> Iterator[Tuple[str, str]]:
    """``(id, transcript)`` of an LJ Speech filelist (``<dir>/<id>.wav|<transcript>``)."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            if "|" not in line:
                raise DataError("expected '<audio path>|<transcript>'", path, number)
            audio, text = line.split("|", 1)
            yield f"lj_{Path(audio).stem}", text


def multi30k_sentences(path: Path, split: str) -> Iterator[Tuple[str, str]]:
    """``(id, caption)`` of one gzipped Multi30k side, one caption per line."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            yield f"m30k_{split}_{number:05d}", line.strip()


def normalised_corpus(
    sentences: Iterable[Tuple[str, str]], excluded: Set[str], seen: Set[str], counts: Counter
) -> List[Tuple[str, str]]:
    """Normalise, drop empty, excluded and already-seen sentences (counted in ``counts``)."""
    kept = []
    for key, raw in sentences:
        text = normalize_for_asr(raw)
        if not text:
            counts["empty"] += 1
        elif text in excluded:
            counts["excluded"] += 1
        elif text in seen:
            counts["duplicate"] += 1
        else:
            seen.add(text)
            kept.append((key, text))
    return kept


def read_text_sets(root: Path, excluded: Set[str]) -> Tuple[Dict[str, List[Tuple[str, str]]], Counter]:
    lj = root / "text" / "ljspeech_filelists"
    m30k = root / "text" / "multi30k_task1_raw"
    for needed in (lj / "ljs_audio_text_train_filelist.txt", m30k / "train.en.gz"):
        if not needed.is_file():
            raise DataError("text corpus file not found", needed)
    counts: Counter = Counter()
    seen: Set[str] = set()
    # dev first, so that a sentence in both lists stays held out
    dev = normalised_corpus(
        [*ljspeech_sentences(lj / "ljs_audio_text_val_filelist.txt"), *multi30k_sentences(m30k / "val.en.gz", "val")],
        excluded, seen, counts,
    )
    train = normalised_corpus(
        [
            *ljspeech_sentences(lj / "ljs_audio_text_train_filelist.txt"),
            *ljspeech_sentences(lj / "ljs_audio_text_test_filelist.txt"),
            *multi30k_sentences(m30k / "train.en.gz", "train"),
        ],
        excluded, seen, counts,
    )
    return {"train_text": train, "dev_text": dev}, counts


def read_excluded(paths: Sequence[Path]) -> Set[str]:
    """The transcripts of Kaldi ``text`` files, normalised."""
    return {normalize_for_asr(value) for path in paths for _, _, value in iter_lines(path)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_root", type=Path, required=True, help="the real-speech folder (../shared/data)")
    parser.add_argument("--cathy_train", type=Path, required=True, help="cathy's train data directory")
    parser.add_argument("--exclude_text", type=Path, nargs="*", default=[],
                        help="Kaldi text files whose sentences stay out of the text corpus (cathy dev, test)")
    parser.add_argument("--out", type=Path, default=Path("data"), help="where data/<set> go")
    args = parser.parse_args(argv)
    try:
        train, dev = read_cathy_train(args.cathy_train)
        summary = [f"cathy {len(train)}+0"]
        for name, reader in SPEECH_READERS.items():
            corpus_train, corpus_dev = reader(args.data_root)
            train += corpus_train
            dev += corpus_dev
            summary.append(f"{name} {len(corpus_train)}+{len(corpus_dev)}")
        print(f"speech (train+dev utterances): {', '.join(summary)}")
        text_sets, counts = read_text_sets(args.data_root, read_excluded(args.exclude_text))
        # everything is read and checked before anything is written
        write_sets(args.out, {"train": train, "dev": dev})
        for name, sentences in text_sets.items():
            write_map(args.out / name / "text", sentences)
            print(f"{args.out / name}/text: {len(sentences)} sentences")
        print(f"text left out: {counts['duplicate']} duplicates, {counts['excluded']} equal to an excluded "
              f"transcript, {counts['empty']} empty after normalisation")
    except DataError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
