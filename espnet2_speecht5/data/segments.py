"""Kaldi ``segments``: utterances cut out of longer recordings.

When a data directory has a ``segments`` file, ``wav.scp`` lists recordings, not utterances::

    segments:  <utt> <recording> <start seconds> <end seconds>
    wav.scp:   <recording> <path or command |>

Every other per-utterance file (``text``, ``utt2spk``, ...) lists the utterances of
``segments``.  An end of ``-1`` means "to the end of the recording", as in Kaldi.  Stage 3
cuts each segment out of its recording (:func:`cut_segment`) and writes it as an utterance
of its own, so the dump directory has no ``segments`` file.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

import numpy as np

from espnet2_speecht5.data.kaldi_dir import iter_lines
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

SEGMENTS = "segments"
# How far (seconds) an end may pass the recording's end: segment lists round their times.
END_SLACK = 0.02


@dataclass(frozen=True)
class Segment:
    """One line of ``segments``.

    Attributes:
        utt: utterance id.
        recording: recording id (a key of ``wav.scp``).
        start: start time in seconds.
        end: end time in seconds, or ``None`` for the end of the recording (``-1`` in the file).
        path: the ``segments`` file.
        line: its line number there.
    """

    utt: str
    recording: str
    start: float
    end: Optional[float]
    path: str
    line: int

    def error(self, message: str) -> DataError:
        return DataError(message, self.path, self.line, self.utt)

    @property
    def span(self) -> str:
        """``"1.50-3.20 s"`` (or ``"1.50 s-end"``), for messages."""
        return f"{self.start:.2f} s-end" if self.end is None else f"{self.start:.2f}-{self.end:.2f} s"

    def check_within(self, duration: float) -> None:
        """Raise :class:`DataError` unless the segment lies inside a recording of ``duration`` seconds."""
        if self.start >= duration:
            raise self.error(
                f"segment {self.span} starts after the end of recording '{self.recording}' ({duration:.2f} s long)"
            )
        if self.end is not None and self.end > duration + END_SLACK:
            raise self.error(
                f"segment {self.span} ends after the end of recording '{self.recording}' ({duration:.2f} s long)"
            )


def parse_segment(path: PathLike, line: int, utt: str, value: str) -> Segment:
    """Parse the value ``<recording> <start> <end>`` of one ``segments`` line.

    Raises:
        DataError: naming the file and line for a wrong field count, a time that is not a
            finite number, a negative start, or an end that is not after the start.
    """
    fields = value.split()
    if len(fields) != 3:
        raise DataError(f"expected '<utt> <recording> <start> <end>', got {len(fields) + 1} field(s)", path, line, utt)
    recording, start_text, end_text = fields
    times = []
    for name, text in (("start", start_text), ("end", end_text)):
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise DataError(f"{name} time '{text}' is not a number of seconds", path, line, utt)
        times.append(number)
    start, end = times
    if start < 0:
        raise DataError(f"start time {start_text} is negative", path, line, utt)
    if end == -1:
        return Segment(utt, recording, start, None, str(path), line)
    if end <= start:
        raise DataError(f"end time {end_text} is not after the start time {start_text}", path, line, utt)
    return Segment(utt, recording, start, end, str(path), line)


def read_segments(path: PathLike) -> Dict[str, Segment]:
    """Read and check a ``segments`` file (ids unique; see :func:`parse_segment` for the values)."""
    segments: Dict[str, Segment] = {}
    for number, utt, value in iter_lines(path):
        if utt in segments:
            raise DataError(f"duplicate id (first at line {segments[utt].line})", path, number, utt)
        segments[utt] = parse_segment(path, number, utt, value)
    if not segments:
        raise DataError("file has no lines", path)
    return segments


def check_recordings_listed(
    segments: Mapping[str, Segment], recordings: Mapping[str, object], wav_scp: PathLike
) -> None:
    """Every segment's recording is a key of ``wav.scp``."""
    for segment in segments.values():
        if segment.recording not in recordings:
            raise segment.error(f"recording '{segment.recording}' is not in {wav_scp}")


def file_duration(entry: str) -> Optional[float]:
    """Duration in seconds of a ``wav.scp`` value that is a readable file; ``None`` for a pipe or
    a file that cannot be read (stage 3 reports those when it decodes them)."""
    import soundfile as sf

    entry = entry.strip()
    if entry.endswith("|") or not os.path.isfile(entry):
        return None
    try:
        info = sf.info(entry)
    except (sf.LibsndfileError, RuntimeError, ValueError):
        return None
    return info.frames / info.samplerate if info.samplerate > 0 else None


def cut_segment(samples: np.ndarray, rate: int, segment: Segment) -> np.ndarray:
    """The samples of ``segment`` in a recording.

    Args:
        samples: the recording, (num_samples,) or (num_samples, channels).
        rate: its sample rate.
        segment: the part to cut.

    Returns:
        ``samples[start:end]`` (same number of dimensions), the end clipped to the recording
        when it passes it by at most :data:`END_SLACK`.

    Raises:
        DataError: naming the ``segments`` line, when the segment lies outside the recording.
    """
    duration = samples.shape[0] / rate
    segment.check_within(duration)
    first = int(round(segment.start * rate))
    last = samples.shape[0] if segment.end is None else min(int(round(segment.end * rate)), samples.shape[0])
    if last <= first:
        raise segment.error(f"segment {segment.span} has no samples at {rate} Hz")
    return samples[first:last]


def segmented(data_dir: PathLike) -> bool:
    """Whether ``data_dir`` cuts its utterances out of recordings (has a ``segments`` file)."""
    return (Path(data_dir) / SEGMENTS).is_file()


def scale_segment_times(value: str, factor: float) -> Tuple[str, str, str]:
    """``<recording> <start> <end>`` of a recording played ``factor`` times faster: times divided by it."""
    recording, start, end = value.split()
    new_end = end if float(end) == -1 else f"{float(end) / factor:.3f}"
    return recording, f"{float(start) / factor:.3f}", new_end
