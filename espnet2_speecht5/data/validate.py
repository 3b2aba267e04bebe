"""Check a Kaldi data directory against ``docs/data_format.md``: the library behind ``validate_data_dir.py``.

:func:`validate_data_dir` raises :class:`DataError` for the first defect, naming the file, the
line and the utterance (or speaker); on success it returns a :class:`ValidationReport`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet2_speecht5.data.kaldi_dir import AUDIO_FILES, iter_lines, present_utterance_files
from espnet2_speecht5.data.segments import (
    SEGMENTS,
    Segment,
    check_recordings_listed,
    file_duration,
    parse_segment,
)
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

EXPECTED_RATE = 16000
TEXT_FILES = ("text", "text.tgt")

# One parsed file: id -> (line number, value), in file order.
Entries = Dict[str, Tuple[int, str]]


@dataclass
class ValidationReport:
    """What :func:`validate_data_dir` found in a valid directory."""

    data_dir: str
    task: str
    num_utterances: int
    num_speakers: int
    files: List[str]
    audio_checked: int = 0
    other_rate: int = 0
    multichannel: int = 0
    rates: Dict[int, int] = field(default_factory=dict)

    def summary(self, prog: str = "validate_data_dir.py") -> str:
        """``validate_data_dir.py: data/train: ok (task asr, 120 utterances, 6 speakers)``."""
        return (
            f"{prog}: {self.data_dir}: ok (task {self.task}, {self.num_utterances} utterances, "
            f"{self.num_speakers} speakers)"
        )

    def audio_summary(self, prog: str = "validate_data_dir.py") -> str:
        """Counts from ``check_audio``: decoded files, other sample rates, multi-channel files."""
        rates = ", ".join(f"{n} at {r} Hz" for r, n in sorted(self.rates.items()) if r != EXPECTED_RATE)
        return (
            f"{prog}: {self.data_dir}: audio: {self.audio_checked} file(s) decoded; "
            f"{self.other_rate} with sample rate != {EXPECTED_RATE} Hz{' (' + rates + ')' if rates else ''}; "
            f"{self.multichannel} multi-channel (stage 3 resamples and down-mixes them)"
        )


def _empty_value_message(name: str) -> str:
    if name in TEXT_FILES:
        return "empty transcript" if name == "text" else "empty translation"
    if name in AUDIO_FILES:
        return "empty audio entry (no path or command)"
    return "empty value"


def read_checked(path: Path) -> Entries:
    """Parse one file: strict UTF-8, no empty value, unique ids, ids sorted in byte order."""
    entries: Entries = {}
    previous: Optional[str] = None
    for number, key, value in iter_lines(path):
        if key in entries:
            raise DataError(f"duplicate id (first at line {entries[key][0]})", path, number, key)
        if not value:
            raise DataError(_empty_value_message(path.name), path, number, key)
        if previous is not None and key.encode("utf-8") < previous.encode("utf-8"):
            raise DataError(
                f"not sorted: id comes after '{previous}' (sort in byte order: LC_ALL=C sort)", path, number, key
            )
        entries[key] = (number, value)
        previous = key
    if not entries:
        raise DataError("file has no lines", path)
    return entries


def _check_values(path: Path, entries: Entries) -> None:
    """Per-file value checks that do not need other files."""
    if path.name.startswith("utt2num_samples"):
        for key, (number, value) in entries.items():
            if not value.isdigit() or int(value) <= 0:
                raise DataError(f"number of samples '{value}' is not a positive integer", path, number, key)
    elif path.name == "utt2snr":
        for key, (number, value) in entries.items():
            try:
                ok = math.isfinite(float(value))
            except ValueError:
                ok = False
            if not ok:
                raise DataError(f"SNR '{value}' is not a number", path, number, key)
    elif path.name in ("utt2spk", "utt2spk_tgt"):
        for key, (number, value) in entries.items():
            if len(value.split()) != 1:
                raise DataError(f"speaker '{value}' is not a single id", path, number, key)


def _check_same_utterances(data_dir: Path, files: Dict[str, Entries], reference_name: str = "wav.scp") -> None:
    """Every per-utterance file lists exactly the utterances of ``reference_name``.

    That is ``wav.scp``, or ``segments`` when the directory has one (``wav.scp`` then lists recordings).
    """
    reference = files[reference_name]
    ref_path = data_dir / reference_name
    for name, entries in files.items():
        if name in (reference_name, "wav.scp"):
            continue
        path = data_dir / name
        for utt, (number, _) in reference.items():
            if utt not in entries:
                raise DataError(f"not in this file, but in {ref_path}:{number}", path, None, utt)
        for utt, (number, _) in entries.items():
            if utt not in reference:
                raise DataError(f"not in this file, but in {path}:{number}", ref_path, None, utt)


def _check_speakers(data_dir: Path, utt2spk: Entries, spk2utt: Entries) -> int:
    """``utt2spk`` and ``spk2utt`` describe the same mapping; returns the number of speakers."""
    utt2spk_path, spk2utt_path = data_dir / "utt2spk", data_dir / "spk2utt"
    listed: Dict[str, Tuple[str, int]] = {}
    for spk, (number, value) in spk2utt.items():
        for utt in value.split():
            if utt in listed:
                raise DataError(
                    f"speaker '{spk}' lists utterance '{utt}', which speaker '{listed[utt][0]}' "
                    f"(line {listed[utt][1]}) lists too",
                    spk2utt_path,
                    number,
                )
            listed[utt] = (spk, number)
            if utt not in utt2spk:
                raise DataError(
                    f"speaker '{spk}' lists utterance '{utt}', which is not in {utt2spk_path}", spk2utt_path, number
                )
            if utt2spk[utt][1] != spk:
                raise DataError(
                    f"speaker '{spk}' lists utterance '{utt}', but {utt2spk_path}:{utt2spk[utt][0]} gives "
                    f"speaker '{utt2spk[utt][1]}'",
                    spk2utt_path,
                    number,
                )
    for utt, (number, spk) in utt2spk.items():
        if utt not in listed:
            if spk in spk2utt:
                detail = f"its speaker '{spk}' at {spk2utt_path}:{spk2utt[spk][0]} does not list it"
            else:
                detail = f"its speaker '{spk}' is not in {spk2utt_path}"
            raise DataError(detail, utt2spk_path, number, utt)
    return len(spk2utt)


def _read_segments(data_dir: Path, files: Dict[str, Entries]) -> Dict[str, Segment]:
    """Check ``segments``: its values, its recordings (keys of ``wav.scp``), and, for recordings
    that are plain files, that each segment lies inside its recording (read from the header)."""
    path = data_dir / SEGMENTS
    wav_scp = data_dir / "wav.scp"
    others = [name for name in AUDIO_FILES if name != "wav.scp" and name in files]
    if others:
        raise DataError(
            f"a directory with {SEGMENTS} cuts wav.scp only; {others[0]} cannot be segmented (give each "
            f"utterance its own recording instead)",
            data_dir / others[0],
        )
    segments = {utt: parse_segment(path, number, utt, value) for utt, (number, value) in files[SEGMENTS].items()}
    check_recordings_listed(segments, files["wav.scp"], wav_scp)
    durations: Dict[str, Optional[float]] = {}
    for segment in segments.values():
        if segment.recording not in durations:
            durations[segment.recording] = file_duration(files["wav.scp"][segment.recording][1])
        duration = durations[segment.recording]
        if duration is not None:
            segment.check_within(duration)
    return segments


def _check_audio(data_dir: Path, files: Dict[str, Entries], report: ValidationReport,
                 segments: Optional[Dict[str, Segment]] = None) -> None:
    """Decode every entry of each audio scp; count other sample rates and multi-channel files.

    With ``segments``, ``wav.scp`` holds recordings: each is decoded once and every segment of
    it is checked to lie inside it.
    """
    # Imported here: numpy/scipy/soundfile are slow to load and only needed for this check.
    from espnet2_speecht5.data.audio import AudioSource, read_audio

    by_recording: Dict[str, List[Segment]] = {}
    for segment in (segments or {}).values():
        by_recording.setdefault(segment.recording, []).append(segment)
    for name in AUDIO_FILES:
        if name not in files:
            continue
        path = data_dir / name
        for utt, (number, entry) in files[name].items():
            samples, rate = read_audio(AudioSource(utt, entry, str(path), number))
            for segment in by_recording.get(utt, []):
                segment.check_within(samples.shape[0] / rate)
            report.audio_checked += 1
            report.rates[rate] = report.rates.get(rate, 0) + 1
            if rate != EXPECTED_RATE:
                report.other_rate += 1
            if samples.ndim > 1 and samples.shape[1] > 1:
                report.multichannel += 1


def validate_data_dir(
    data_dir: PathLike, task: str, required_files: Sequence[str], check_audio: bool = False
) -> ValidationReport:
    """Check ``data_dir`` for ``task``, whose directories have ``required_files`` (its recipe's).

    Raises:
        DataError: the first defect found, naming the file, line and utterance.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError("data directory does not exist", data_dir)
    for name in required_files:
        if not (data_dir / name).is_file():
            raise DataError(f"required file for task {task} does not exist", data_dir / name)
    names = present_utterance_files(data_dir)
    if (data_dir / SEGMENTS).is_file():
        names.append(SEGMENTS)
    files: Dict[str, Entries] = {}
    for name in names:
        files[name] = read_checked(data_dir / name)
        _check_values(data_dir / name, files[name])
    spk2utt = read_checked(data_dir / "spk2utt")
    segments = _read_segments(data_dir, files) if SEGMENTS in files else None
    reference = SEGMENTS if segments is not None else "wav.scp"
    _check_same_utterances(data_dir, files, reference)
    num_speakers = _check_speakers(data_dir, files["utt2spk"], spk2utt)
    report = ValidationReport(str(data_dir), task, len(files[reference]), num_speakers, [*names, "spk2utt"])
    if check_audio:
        _check_audio(data_dir, files, report, segments)
    return report
