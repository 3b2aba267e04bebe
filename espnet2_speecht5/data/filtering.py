"""Stage 4: copy a dumped data directory, dropping utterances that training cannot use.

An utterance of ``wav.scp`` is dropped, with a line in ``filter_report.txt``, when

* one of the required text files (``--text_files``) lacks it, or its value is empty or only
  whitespace (``empty text in text``);
* another per-utterance file of the directory lacks it, or has an empty value for it;
* duration filtering is on and ``utt2num_samples / fs`` (or the ``_tgt`` length) lies outside
  ``[min_duration, max_duration]`` (``too short: 0.05 s < 0.1 s``).

With duration filtering off (evaluation sets), such utterances are kept, but counted in the
summary line and listed in the report, so that a very long test utterance is known before
decoding it.

Lines of other files whose utterance is not in ``wav.scp`` are reported too.  The audio scp
values are copied as they are (the audio is not copied).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet2_speecht5.data.dump import length_file, write_pairs
from espnet2_speecht5.data.kaldi_dir import AUDIO_FILES, UTTERANCE_FILES, atomic_write_text, iter_lines, write_spk2utt
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger(__name__)

REPORT = "filter_report.txt"


@dataclass
class FilterResult:
    """What :func:`filter_data_dir` did.

    Attributes:
        total: utterances in the input ``wav.scp``.
        kept: utterances written.
        dropped: ``{utterance: reason}`` in byte order of the id.
        orphans: ``{file name: ids}`` of lines whose utterance is not in ``wav.scp``.
        outside: ``{utterance: reason}`` of kept utterances outside the duration range (only
            when duration filtering is off).
    """

    total: int
    kept: int
    dropped: Dict[str, str]
    orphans: Dict[str, List[str]]
    outside: Dict[str, str] = field(default_factory=dict)


def _read_lines(path: Path) -> Dict[str, Tuple[int, str]]:
    """``{utt: (line number, value)}``; a repeated id is an error."""
    result: Dict[str, Tuple[int, str]] = {}
    for number, utt, value in iter_lines(path):
        if utt in result:
            raise DataError(f"duplicate id (first on line {result[utt][0]})", path, number, utt)
        result[utt] = (number, value)
    return result


def _by_id(reasons: Dict[str, str]) -> Dict[str, str]:
    return dict(sorted(reasons.items(), key=lambda kv: kv[0].encode()))


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") if value else "0"


def filter_data_dir(
    src: PathLike,
    dst: PathLike,
    fs: int = 16000,
    min_duration: float = 0.1,
    max_duration: float = 20.0,
    filter_duration: bool = True,
    text_files: Sequence[str] = (),
) -> FilterResult:
    """Write the filtered copy of ``src`` to ``dst`` and ``dst/filter_report.txt``.

    Raises:
        DataError: ``src`` has no ``wav.scp``, a listed text file is missing, a length is not
            an integer, or no utterance is left.
    """
    src, dst = Path(src), Path(dst)
    if not (src / "wav.scp").is_file():
        raise DataError("wav.scp is missing", src)
    if src.resolve() == dst.resolve():
        raise DataError("the output directory must differ from the input directory", dst)
    if fs <= 0 or min_duration < 0 or max_duration <= min_duration:
        raise DataError(f"bad filter settings: fs={fs}, min_duration={min_duration}, max_duration={max_duration}")
    text_files = list(dict.fromkeys(text_files))
    for name in text_files:
        if not (src / name).is_file():
            raise DataError(f"text file {name} is missing (it is required for this task)", src)
    names = [name for name in UTTERANCE_FILES if (src / name).is_file()]
    names += [name for name in text_files if name not in names]
    files = {name: _read_lines(src / name) for name in names}
    if filter_duration and "utt2num_samples" not in files:
        raise DataError("utt2num_samples is missing: duration filtering needs it (run stage 3)", src)
    utts = list(files["wav.scp"])
    dropped: Dict[str, str] = {}
    outside: Dict[str, str] = {}

    def drop(utt: str, reason: str) -> None:
        dropped.setdefault(utt, reason)

    def out_of_range(utt: str, reason: str) -> None:
        if filter_duration:
            drop(utt, reason)
        else:
            outside.setdefault(utt, reason)

    for utt in utts:
        for name in names:
            entry = files[name].get(utt)
            if entry is None:
                drop(utt, f"no line in {name}")
            elif not entry[1].strip():
                drop(utt, f"empty text in {name}" if name in text_files else f"empty value in {name}")
        for scp in AUDIO_FILES:
            lengths = files.get(length_file(scp))
            if scp not in files or lengths is None or utt not in lengths:
                continue
            number, value = lengths[utt]
            try:
                samples = int(value)
            except ValueError:
                raise DataError(f"length '{value}' is not an integer", src / length_file(scp), number, utt) from None
            seconds = samples / fs
            what = "" if scp == "wav.scp" else " target"
            if seconds < min_duration:
                out_of_range(utt, f"too short{what}: {_seconds(seconds)} s < {_seconds(min_duration)} s")
            elif seconds > max_duration:
                out_of_range(utt, f"too long{what}: {_seconds(seconds)} s > {_seconds(max_duration)} s")

    wav_utts = set(utts)
    orphans = {name: [u for u in files[name] if u not in wav_utts] for name in names}
    orphans = {name: ids for name, ids in orphans.items() if ids}
    kept = [u for u in utts if u not in dropped]

    dst.mkdir(parents=True, exist_ok=True)
    outside = {utt: reason for utt, reason in outside.items() if utt not in dropped}
    result = FilterResult(len(utts), len(kept), _by_id(dropped), orphans, _by_id(outside))
    atomic_write_text(dst / REPORT, _report(src, dst, result, fs, min_duration, max_duration, filter_duration, names))
    if not kept:
        raise DataError(f"all {len(utts)} utterances were dropped; see {dst / REPORT}", src)

    keep = set(kept)
    for name in names:
        write_pairs(dst / name, ((u, v) for u, (_, v) in files[name].items() if u in keep))
    if "utt2spk" in names:
        write_spk2utt(dst)
    elif (src / "spk2utt").is_file():
        atomic_write_text(dst / "spk2utt", (src / "spk2utt").read_text(encoding="utf-8"))
    for name in UTTERANCE_FILES:
        if name not in names and (dst / name).exists():
            (dst / name).unlink()
    return result


def _report(
    src: Path,
    dst: Path,
    result: FilterResult,
    fs: int,
    min_duration: float,
    max_duration: float,
    filter_duration: bool,
    names: List[str],
) -> str:
    duration = (
        f"{_seconds(min_duration)} s to {_seconds(max_duration)} s at {fs} Hz" if filter_duration else "not filtered"
    )
    lines = [
        f"stage 4 filter report: {src} -> {dst}",
        f"files: {' '.join(names)}",
        f"duration: {duration}",
        f"kept {result.kept} of {result.total} utterances ({len(result.dropped)} dropped)",
    ]
    counts: Dict[str, int] = {}
    for reason in result.dropped.values():
        kind = reason.split(":")[0]
        counts[kind] = counts.get(kind, 0) + 1
    lines += [f"  {n} {kind}" for kind, n in sorted(counts.items())]
    lines.append("")
    lines.append("dropped utterances:" if result.dropped else "dropped utterances: none")
    lines += [f"{utt} {reason}" for utt, reason in result.dropped.items()]
    if result.outside:
        lines.append("")
        lines.append(
            f"kept {len(result.outside)} utterance(s) outside {_seconds(min_duration)} s to "
            f"{_seconds(max_duration)} s (duration is not filtered in this set):"
        )
        lines += [f"{utt} {reason}" for utt, reason in result.outside.items()]
    for name, ids in result.orphans.items():
        lines.append("")
        lines.append(f"{len(ids)} line(s) of {name} have no utterance in wav.scp and were not copied:")
        lines += ids
    return "\n".join(lines) + "\n"


def summary_line(src: PathLike, dst: PathLike, result: FilterResult, prefix: Optional[str] = "filter_data") -> str:
    """``filter_data: IN -> OUT: kept 118 of 120 (2 dropped; see OUT/filter_report.txt)``."""
    head = f"{prefix}: " if prefix else ""
    outside = f", {len(result.outside)} kept outside the duration range" if result.outside else ""
    return (
        f"{head}{src} -> {dst}: kept {result.kept} of {result.total} "
        f"({len(result.dropped)} dropped{outside}; see {Path(dst) / REPORT})"
    )
