"""Build the offline ``mini_speecht5`` corpus: template sentences read by espeak-ng voices, plus noisy copies.

Layout of the corpus root (paths inside the TSV files are relative to the root)::

    wav/<spk>/<spk>_<sid>.flac     clean speech, 16 kHz mono FLAC, peak 0.3
    noisy/<spk>/<spk>_<sid>.flac   the same utterance with generated noise at a known SNR
    manifest.tsv                   one row per utterance (speaker, gender, sentence, texts, paths, SNR, noise)
    sentences.tsv                  one row per sentence: id, set, template, en/de/fr text, readers
    vc_pairs.tsv                   parallel source -> target pairs for voice conversion
    text_only.tsv                  extra sentences (none in dev or test) for text pre-training
    speakers.tsv                   the espeak-ng voice behind each speaker
    .done                          JSON of the configuration, written last

Sentences are split into train, dev and test (disjoint).  Each sentence is read by
``readers`` of the voices, chosen in rotation so that every voice reads sentences of every set
and each sentence has female and male readers.  ``build_corpus`` returns at once when ``.done``
holds the same configuration; otherwise it removes its own earlier output and starts again.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from espnet2_speecht5.corpus.noise import NOISE_KINDS, fit_length, make_noise, measure_snr, mix_at_snr
from espnet2_speecht5.corpus.sentences import Sentence, generate_sentences
from espnet2_speecht5.corpus.synth import SAMPLE_RATE, SPEAKERS, SynthJob, Voice, read_flac, synthesize_all
from espnet2_speecht5.data.audio import write_flac
from espnet2_speecht5.data.kaldi_dir import atomic_write_text
from espnet2_speecht5.data.splits import tail_split
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

VERSION = 1
STAMP = ".done"
MANIFEST_COLUMNS = (
    "utt",
    "speaker",
    "gender",
    "sentence_id",
    "set",
    "template",
    "en",
    "de",
    "fr",
    "path",
    "num_samples",
    "noisy_path",
    "snr_db",
    "noise",
    "noisy_gain",
)
# Everything build_corpus writes; any other entry means the folder is not ours to rewrite.
OWN_ENTRIES = {
    "wav",
    "noisy",
    "manifest.tsv",
    "sentences.tsv",
    "vc_pairs.tsv",
    "text_only.tsv",
    "speakers.tsv",
    STAMP,
    ".lock",
}

@dataclass(frozen=True)
class MiniConfig:
    """What the corpus depends on; the ``.done`` stamp records it.

    Attributes:
        seed: random seed for sentences, noise and SNR choices.
        n_train, n_dev, n_test: sentences per set (each read by ``readers`` voices).
        readers: voices reading each sentence (2 or more, even, at most the number of speakers).
        n_text: extra text-only sentences for pre-training (besides the train sentences).
        snrs: SNRs of the noisy copies, in dB, used in rotation.
        noise_kinds: noise kinds used in rotation.
        speakers: the voices.
    """

    seed: int = 0
    n_train: int = 150
    n_dev: int = 25
    n_test: int = 25
    readers: int = 4
    n_text: int = 1000
    snrs: Tuple[float, ...] = (0.0, 5.0, 10.0, 15.0)
    noise_kinds: Tuple[str, ...] = NOISE_KINDS
    speakers: Tuple[Voice, ...] = SPEAKERS
    version: int = field(default=VERSION)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def check(self) -> None:
        """Raise ValueError on an impossible configuration."""
        n_spk = len(self.speakers)
        if len({v.spk for v in self.speakers}) != n_spk or n_spk < 2:
            raise ValueError("need at least two speakers with distinct ids")
        if self.readers < 2 or self.readers % 2 or self.readers > n_spk:
            raise ValueError(f"readers must be even, at least 2 and at most {n_spk} (got {self.readers})")
        if min(self.n_train, self.n_dev, self.n_test) < 1 or self.n_text < 0:
            raise ValueError("every set needs at least one sentence")
        if not self.snrs or not self.noise_kinds:
            raise ValueError("need at least one SNR and one noise kind")
        unknown = [k for k in self.noise_kinds if k not in NOISE_KINDS]
        if unknown:
            raise ValueError(f"unknown noise kinds {unknown} (expected some of {', '.join(NOISE_KINDS)})")


@dataclass
class Row:
    """One utterance of the manifest (see :data:`MANIFEST_COLUMNS`)."""

    utt: str
    speaker: str
    gender: str
    sentence_id: str
    set: str
    template: str
    en: str
    de: str
    fr: str
    path: str
    num_samples: int = 0
    noisy_path: str = ""
    snr_db: float = 0.0
    noise: str = ""
    noisy_gain: float = 1.0


@dataclass
class Summary:
    """What :func:`build_corpus` made (or found)."""

    root: Path
    sentences: Dict[str, int]
    utterances: Dict[str, int]
    vc_pairs: Dict[str, int]
    speakers: int
    text_only: int
    seconds: float
    reused: bool

    def line(self) -> str:
        """One line for the log."""
        per_set = ", ".join(
            f"{s} {self.sentences[s]} sentences/{self.utterances[s]} utterances/{self.vc_pairs[s]} VC pairs"
            for s in ("train", "dev", "test")
        )
        what = "found an up-to-date corpus in" if self.reused else f"wrote in {self.seconds:.1f} s"
        return (
            f"{what} {self.root}: {self.speakers} speakers; {per_set}; "
            f"{sum(self.utterances.values())} noisy copies; {self.text_only} text-only sentences"
        )


def sentence_ids(count: int) -> List[str]:
    """``s0000``, ``s0001``, ...: ids that sort in byte order as they do numerically."""
    width = max(4, len(str(count - 1)))
    return [f"s{i:0{width}d}" for i in range(count)]


def readers_of(index: int, speakers: Sequence[Voice], readers: int) -> List[Voice]:
    """The voices that read sentence number ``index``: a rotation through ``speakers`` with a
    stride that spreads the readers over the list (female voices first, then male)."""
    n = len(speakers)
    stride = max(1, n // readers)  # stride * readers <= n, so the picks are distinct
    return [speakers[(index + stride * k) % n] for k in range(readers)]


def vc_pairs_of(index: int, voices: Sequence[Voice]) -> List[Tuple[Voice, Voice]]:
    """Source -> target pairs among one sentence's readers: neighbours on even sentences,
    opposite halves (often across genders) on odd ones, so both kinds of pair occur."""
    half = len(voices) // 2
    if index % 2 == 0:
        return [(voices[2 * k], voices[2 * k + 1]) for k in range(half)]
    return [(voices[k], voices[k + half]) if k % 2 == 0 else (voices[k + half], voices[k]) for k in range(half)]


def _tsv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    for row in rows:
        for value in row:
            if "\t" in str(value) or "\n" in str(value):
                raise ValueError(f"value {value!r} has a tab or newline")
    return "".join("\t".join(str(v) for v in line) + "\n" for line in [list(header), *rows])


def read_tsv(path: PathLike) -> List[Dict[str, str]]:
    """Rows of one of the corpus's TSV files as dicts keyed by the header."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError("file does not exist (regenerate the corpus)", path) from None
    if not lines:
        raise DataError("empty file, no header", path)
    header = lines[0].split("\t")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        values = line.split("\t")
        if len(values) != len(header):
            raise DataError(f"{len(values)} columns where the header has {len(header)}", path, number)
        rows.append(dict(zip(header, values)))
    return rows


def is_done(root: PathLike, config: MiniConfig) -> bool:
    """Whether ``root`` holds a finished corpus made with ``config``."""
    stamp = Path(root) / STAMP
    try:
        return json.loads(stamp.read_text(encoding="utf-8")) == json.loads(config.to_json())
    except (OSError, ValueError):
        return False


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``root/.lock`` (two recipes generating at once wait for each other)."""
    with open(root / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _clear(root: Path) -> None:
    foreign = sorted(p.name for p in root.iterdir() if p.name not in OWN_ENTRIES and not p.name.startswith("."))
    if foreign:
        raise DataError(
            f"not a mini_speecht5 corpus folder (has {', '.join(foreign[:3])}); choose an empty folder", root
        )
    (root / STAMP).unlink(missing_ok=True)
    for name in ("wav", "noisy"):
        if (root / name).is_dir():
            shutil.rmtree(root / name)


def plan(config: MiniConfig) -> Tuple[List[Tuple[str, str, Sentence, List[Voice]]], List[Sentence]]:
    """Sentences with their ids, sets and readers, and the text-only sentences.

    Returns:
        ``([(sentence_id, set, sentence, readers), ...], text_only)``.
    """
    total = config.n_train + config.n_dev + config.n_test
    sentences = generate_sentences(total, config.seed)
    ids = sentence_ids(total)
    set_of = tail_split(ids, config.n_dev, config.n_test)
    planned = [
        (sid, set_of[sid], s, readers_of(i, config.speakers, config.readers))
        for i, (sid, s) in enumerate(zip(ids, sentences))
    ]
    text_only = generate_sentences(config.n_text, config.seed + 1_000_003, exclude=[s.en for s in sentences])
    return planned, text_only


def _noisy_copy(root: Path, row: Row, talkers: Sequence[Path], rng: np.random.Generator) -> None:
    """Write ``row``'s noisy copy and fill in its gain (1 unless the mix had to be scaled to avoid clipping)."""
    clean = read_flac(root / row.path)
    others = [read_flac(p) for p in talkers] if row.noise == "babble" else None
    noise = make_noise(row.noise, clean.shape[0], rng, SAMPLE_RATE, others)
    mixture, _ = mix_at_snr(clean, fit_length(noise, clean.shape[0]), row.snr_db)
    peak = float(np.max(np.abs(mixture)))
    if peak > 0.99:
        row.noisy_gain = round(0.99 / peak, 6)
        mixture = mixture * np.float32(row.noisy_gain)
    write_flac(root / row.noisy_path, mixture, SAMPLE_RATE)


def build_corpus(
    root: PathLike,
    config: MiniConfig = MiniConfig(),
    nj: Optional[int] = None,
    on_progress: Optional[Callable[[int, int], None]] = None,
) -> Summary:
    """Make (or find up to date) the corpus in ``root``.

    Args:
        root: corpus folder; created if missing; must be empty or an earlier corpus.
        config: what to make.
        nj: parallel jobs (default: one per CPU core).
        on_progress: called as ``on_progress(done, total)`` while audio is written.

    Raises:
        DataError: bad configuration, a foreign folder, or a failed synthesis (one-line message).
    """
    try:
        config.check()
    except ValueError as err:
        raise DataError(f"bad corpus configuration: {err}") from None
    root = Path(root).absolute()
    start = time.monotonic()
    if is_done(root, config):  # no lock needed (the corpus may be read-only)
        return summarize(root, config, time.monotonic() - start, reused=True)
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root):
        if is_done(root, config):
            return summarize(root, config, time.monotonic() - start, reused=True)
        _clear(root)
        try:
            _build(root, config, nj, on_progress)
        except (RuntimeError, ValueError) as err:
            raise DataError(f"corpus generation failed: {err}", root) from None
        atomic_write_text(root / STAMP, config.to_json() + "\n")
    return summarize(root, config, time.monotonic() - start, reused=False)


def _build(
    root: Path, config: MiniConfig, nj: Optional[int], on_progress: Optional[Callable[[int, int], None]]
) -> None:
    planned, text_only = plan(config)
    rows: List[Row] = []
    pairs: List[Tuple[str, str, str, str, str]] = []
    for index, (sid, set_name, sentence, voices) in enumerate(planned):
        for v in voices:
            utt = f"{v.spk}_{sid}"
            rows.append(
                Row(
                    utt,
                    v.spk,
                    v.gender,
                    sid,
                    set_name,
                    sentence.template,
                    sentence.en,
                    sentence.de,
                    sentence.fr,
                    f"wav/{v.spk}/{utt}.flac",
                    noisy_path=f"noisy/{v.spk}/{utt}.flac",
                )
            )
        for src, tgt in vc_pairs_of(index, voices):
            pairs.append((f"{src.spk}_{tgt.spk}_{sid}", set_name, sid, src.spk, tgt.spk))
    rows.sort(key=lambda r: r.utt.encode("utf-8"))
    pairs.sort(key=lambda p: p[0].encode("utf-8"))
    total = 2 * len(rows)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if on_progress is not None:
            on_progress(done[0], total)

    voice_of = {v.spk: v for v in config.speakers}
    jobs = [SynthJob(r.en, voice_of[r.speaker], root / r.path) for r in rows]
    for row, length in zip(rows, synthesize_all(jobs, nj, tick)):
        row.num_samples = length

    # Noise: SNRs and kinds in rotation (every combination occurs), babble from 3 other
    # utterances of the same set (other speakers, other sentences).
    same_set: Dict[str, List[Row]] = {}
    for r in rows:
        same_set.setdefault(r.set, []).append(r)
    tasks = []
    for i, row in enumerate(rows):
        row.snr_db = float(config.snrs[i % len(config.snrs)])
        row.noise = config.noise_kinds[(i // len(config.snrs)) % len(config.noise_kinds)]
        rng = np.random.default_rng([config.seed, 7, i])
        pool = [r for r in same_set[row.set] if r.speaker != row.speaker and r.sentence_id != row.sentence_id]
        picks = rng.choice(len(pool), size=min(3, len(pool)), replace=False) if pool else []
        talkers = [root / pool[int(k)].path for k in picks]
        tasks.append((row, talkers, rng))
    workers = max(1, nj or os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as executor:
        for _ in executor.map(lambda t: _noisy_copy(root, *t), tasks):
            tick(1)

    text = {
        "manifest.tsv": _tsv(MANIFEST_COLUMNS, [[getattr(r, c) for c in MANIFEST_COLUMNS] for r in rows]),
        "sentences.tsv": _tsv(
            ("sentence_id", "set", "template", "en", "de", "fr", "readers"),
            [(sid, st, s.template, s.en, s.de, s.fr, ",".join(v.spk for v in vs)) for sid, st, s, vs in planned],
        ),
        "vc_pairs.tsv": _tsv(("utt", "set", "sentence_id", "source", "target"), pairs),
        "text_only.tsv": _tsv(
            ("text_id", "en", "de", "fr"), [(f"t{i:05d}", s.en, s.de, s.fr) for i, s in enumerate(text_only)]
        ),
        "speakers.tsv": _tsv(
            ("speaker", "gender", "voice", "pitch", "speed"),
            [(v.spk, v.gender, v.voice, v.pitch, v.speed) for v in config.speakers],
        ),
    }
    for name, content in text.items():
        atomic_write_text(root / name, content)


def summarize(root: Path, config: MiniConfig, seconds: float, reused: bool) -> Summary:
    """Counts of a finished corpus, read from its TSV files."""
    sets = ("train", "dev", "test")
    manifest = read_tsv(root / "manifest.tsv")
    sentences = read_tsv(root / "sentences.tsv")
    pairs = read_tsv(root / "vc_pairs.tsv")
    return Summary(
        root=root,
        sentences={s: sum(r["set"] == s for r in sentences) for s in sets},
        utterances={s: sum(r["set"] == s for r in manifest) for s in sets},
        vc_pairs={s: sum(r["set"] == s for r in pairs) for s in sets},
        speakers=len({r["speaker"] for r in manifest}),
        text_only=len(read_tsv(root / "text_only.tsv")),
        seconds=seconds,
        reused=reused,
    )


def check_noisy_snr(root: PathLike, row: Dict[str, str]) -> float:
    """SNR of a manifest row's noisy file measured against its clean file, in dB."""
    root = Path(root)
    clean = read_flac(root / row["path"]) * np.float32(row["noisy_gain"])
    return measure_snr(clean, read_flac(root / row["noisy_path"]))
