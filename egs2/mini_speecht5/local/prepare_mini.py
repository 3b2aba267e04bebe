#!/usr/bin/env python3
"""Write data/{train,dev,test} of one task from the generated mini_speecht5 corpus.

The corpus (``espnet2_speecht5.corpus.mini``) splits its sentences into train, dev and test, so
the sentences of the three sets are disjoint for every task; all eight voices read sentences
of every set (seen speakers).  Per task:

* asr, tts: clean speech, ``text`` = English transcript;
* st: as asr, plus ``text.tgt`` = the German (``--tgt_lang de``) or French (``fr``) rendering;
* sid, pretrain: clean speech only (``wav.scp utt2spk spk2utt``);
* vc: parallel pairs ``<src>_<tgt>_<sid>``: ``wav.scp`` source speech, ``wav_tgt.scp`` the
  target voice reading the same sentence, ``utt2spk_tgt`` the target speaker, ``text`` the
  sentence (for the CER of the converted speech). The corpus lists two pairs per sentence
  (``vc_pairs.tsv``); ``--vc_train_pairs all`` trains on every ordered pair of a sentence's
  readers instead (12 per sentence), dev and test keep the listed ones;
* se: ``wav.scp`` noisy copy (generated noise), ``wav_clean.scp`` clean speech, ``text`` the
  transcript (for the CER of the enhanced speech), ``utt2snr`` the SNR in dB. With
  ``--real_noise_list`` also ``test_realnoise``: the test set's clean speech mixed with noise
  recordings (none of them generated noise, so none like the training noise) at the same SNRs,
  its audio in ``<out>/local/test_realnoise``. ``--se_train_copies K`` adds K more noisy copies
  of every training utterance (``<utt>-n<k>``: the next SNRs in rotation, other generated noise
  kinds), its audio in ``<out>/local/se_train_noisy``.

``--task pretrain`` also writes ``data/train_text/text``: the train sentences and the corpus's
text-only sentences (none of them in dev or test), and the held-out text of the dev and test sets,
``data/dev_text/text`` and ``data/test_text/text`` (each of their sentences once).  Pre-training
pairs no speech with text: the held-out text only scores the text denoising.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet2_speecht5.corpus.mini import STAMP, read_tsv
from espnet2_speecht5.data.kaldi_dir import write_map
from espnet2_speecht5.data.splits import SET_NAMES, Utterance, write_data_dir
from espnet2_speecht5.runtime.errors import DataError

TASKS = ("asr", "tts", "st", "vc", "sid", "se", "pretrain")
TEXT_SET = "train_text"
REAL_NOISE_SET = "test_realnoise"

# Per set: the utterances and the extra per-utterance files {name: [(utt, value)]}.
SetData = Tuple[List[Utterance], Dict[str, List[Tuple[str, str]]]]


def all_ordered_pairs(manifest: List[Dict[str, str]], set_name: str) -> List[Tuple[str, str, str, str]]:
    """Every (set, sentence, source, target) among the readers of each sentence of ``set_name``."""
    readers: Dict[str, List[str]] = {}
    for row in manifest:
        if row["set"] == set_name:
            readers.setdefault(row["sentence_id"], []).append(row["speaker"])
    return [(set_name, sentence, source, target) for sentence, speakers in sorted(readers.items())
            for source in sorted(speakers) for target in sorted(speakers) if source != target]


def make_sets(corpus: Path, task: str, tgt_lang: str, vc_train_pairs: str = "listed") -> Dict[str, SetData]:
    """The utterances of each set for ``task``, read from the corpus's TSV files."""
    manifest = read_tsv(corpus / "manifest.tsv")
    sets: Dict[str, SetData] = {name: ([], {}) for name in SET_NAMES}

    def absolute(relative: str) -> str:
        return str((corpus / relative).absolute())

    if task == "vc":
        by_utt = {r["utt"]: r for r in manifest}
        pairs_file = corpus / "vc_pairs.tsv"
        listed = read_tsv(pairs_file)
        for number, pair in enumerate(listed, start=2):
            for name in ("source", "target"):
                if f"{pair[name]}_{pair['sentence_id']}" not in by_utt:
                    raise DataError("pair names an utterance that is not in manifest.tsv", pairs_file, number,
                                    pair["utt"])
        pairs = [(p["set"], p["sentence_id"], p["source"], p["target"]) for p in listed]
        if vc_train_pairs == "all":
            pairs = [p for p in pairs if p[0] != "train"] + all_ordered_pairs(manifest, "train")
        for set_name, sentence, source, target in pairs:
            src, tgt = by_utt[f"{source}_{sentence}"], by_utt[f"{target}_{sentence}"]
            sets[set_name][0].append(
                Utterance(f"{source}_{target}_{sentence}", source, absolute(src["path"]), tgt["en"],
                          absolute(tgt["path"]), target)
            )
        return sets

    for row in manifest:
        utts, extra = sets[row["set"]]
        text = row["en"] if task in ("asr", "tts", "st", "se") else None
        if task == "se":
            utts.append(Utterance(row["utt"], row["speaker"], absolute(row["noisy_path"]), text))
            extra.setdefault("wav_clean.scp", []).append((row["utt"], absolute(row["path"])))
            extra.setdefault("utt2snr", []).append((row["utt"], row["snr_db"]))
        else:
            utts.append(Utterance(row["utt"], row["speaker"], absolute(row["path"]), text))
        if task == "st":
            extra.setdefault("text.tgt", []).append((row["utt"], row[tgt_lang]))
    return sets


def real_noise_set(corpus: Path, out: Path, noise_list: Path, noise_dir: Path, snrs: Sequence[float],
                   seed: int) -> SetData:
    """SE's ``test_realnoise``: the test set's clean speech mixed with the listed noise recordings."""
    from espnet2_speecht5.corpus.real_noise import mix_with_recordings, read_noise_list

    rows = [r for r in read_tsv(corpus / "manifest.tsv") if r["set"] == "test"]
    clean = [(r["utt"], str((corpus / r["path"]).absolute())) for r in rows]
    copies = mix_with_recordings(clean, read_noise_list(noise_list, noise_dir), snrs,
                                 out / "local" / REAL_NOISE_SET, seed)
    utts = [Utterance(r["utt"], r["speaker"], c.path, r["en"]) for r, c in zip(rows, copies)]
    extra = {"wav_clean.scp": clean, "utt2snr": [(c.utt, f"{c.snr_db:g}") for c in copies],
             "utt2noise": [(c.utt, c.noise) for c in copies]}
    return utts, extra


def add_noisy_train_copies(corpus: Path, out: Path, train: SetData, copies: int) -> None:
    """SE: ``copies`` more noisy versions of every training utterance (other SNRs and generated noise kinds),
    as utterances ``<utt>-n<k>`` with the same clean target and text; audio in ``<out>/local/se_train_noisy``."""
    from espnet2_speecht5.corpus.mini import MiniConfig
    from espnet2_speecht5.corpus.real_noise import extra_noisy_copies

    utts, extra = train
    snr_of = dict(extra["utt2snr"])
    clean_of = dict(extra["wav_clean.scp"])
    config = MiniConfig()
    rows = [(u.utt, u.spk, clean_of[u.utt], float(snr_of[u.utt])) for u in utts]
    made = extra_noisy_copies(rows, copies, config.snrs, config.noise_kinds, out / "local" / "se_train_noisy")
    by_utt = {u.utt: u for u in utts}
    for source, copy in made:
        utts.append(Utterance(copy.utt, by_utt[source].spk, copy.path, by_utt[source].text))
        extra["wav_clean.scp"].append((copy.utt, clean_of[source]))
        extra["utt2snr"].append((copy.utt, f"{copy.snr_db:g}"))
    order = sorted(range(len(utts)), key=lambda i: utts[i].utt.encode())
    train[0][:] = [utts[i] for i in order]
    for name in ("wav_clean.scp", "utt2snr"):
        extra[name].sort(key=lambda kv: kv[0].encode())


def text_only_lines(corpus: Path, lang: str = "en") -> List[Tuple[str, str]]:
    """``(id, sentence)`` for the pre-training text: train sentences, then the text-only ones."""
    lines = [(r["sentence_id"], r[lang]) for r in read_tsv(corpus / "sentences.tsv") if r["set"] == "train"]
    lines += [(r["text_id"], r[lang]) for r in read_tsv(corpus / "text_only.tsv")]
    return lines


def heldout_text_lines(corpus: Path, set_name: str, lang: str = "en") -> List[Tuple[str, str]]:
    """``(id, sentence)`` of the sentences of a held-out set (``dev`` or ``test``), each once."""
    return [(r["sentence_id"], r[lang]) for r in read_tsv(corpus / "sentences.tsv") if r["set"] == set_name]


def write_all(out: Path, sets: Dict[str, SetData]) -> None:
    for name, (utts, extra) in sets.items():
        data_dir = out / name
        written = write_data_dir(data_dir, utts)
        for file_name, pairs in extra.items():
            write_map(data_dir / file_name, pairs)
        files = " ".join(sorted([*written, *extra]))
        speakers = len({u.spk for u in utts})
        print(f"{data_dir}: {len(utts)} utterances, {speakers} speaker(s); files: {files}", file=sys.stderr)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the generated corpus folder (MINI_SPEECHT5)")
    parser.add_argument("--task", choices=TASKS, required=True)
    parser.add_argument("--tgt_lang", choices=("de", "fr"), default="de", help="st: language of text.tgt")
    parser.add_argument("--vc_train_pairs", choices=("listed", "all"), default="listed",
                        help="vc: the training pairs of vc_pairs.tsv, or every ordered pair of a sentence's readers")
    parser.add_argument("--se_train_copies", type=int, default=0,
                        help="se: this many more noisy copies of each training utterance (generated noise)")
    parser.add_argument("--real_noise_list", type=Path,
                        help="se: noise recordings (paths relative to --real_noise_dir) for the test_realnoise set")
    parser.add_argument("--real_noise_dir", type=Path, help="se: the folder --real_noise_list is relative to")
    parser.add_argument("--out", type=Path, default=Path("data"), help="where data/<set> go")
    args = parser.parse_args(argv)
    try:
        corpus = args.corpus.absolute()
        if not (corpus / STAMP).is_file():
            raise DataError(
                f"no {STAMP} stamp: the corpus is missing or unfinished; run "
                "python -m espnet2_speecht5.bin.make_mini_corpus --outdir <this folder>",
                corpus,
            )
        sets = make_sets(corpus, args.task, args.tgt_lang, args.vc_train_pairs)
        if args.task == "se" and args.se_train_copies > 0:
            add_noisy_train_copies(corpus, args.out, sets["train"], args.se_train_copies)
        if args.task == "se" and args.real_noise_list is not None:
            if args.real_noise_dir is None:
                raise DataError("--real_noise_list needs --real_noise_dir (the folder its paths are relative to)")
            snrs = sorted({float(value) for _, value in sets["test"][1]["utt2snr"]})
            sets[REAL_NOISE_SET] = real_noise_set(corpus, args.out, args.real_noise_list, args.real_noise_dir, snrs,
                                                  seed=1)
        write_all(args.out, sets)
        if args.task == "pretrain":
            lines = text_only_lines(corpus)
            write_map(args.out / TEXT_SET / "text", lines)
            print(f"{args.out / TEXT_SET}: {len(lines)} sentences; files: text", file=sys.stderr)
            for held_out in ("dev", "test"):
                held = heldout_text_lines(corpus, held_out)
                write_map(args.out / f"{held_out}_text" / "text", held)
                where = args.out / f"{held_out}_text"
                print(f"{where}: {len(held)} held-out sentences; files: text", file=sys.stderr)
    except DataError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
