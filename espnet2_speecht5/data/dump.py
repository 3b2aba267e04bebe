"""Stage 3: convert every audio scp of a data directory to mono FLAC at one sample rate.

Two steps, run by ``espnet2_speecht5.bin.dump_audio``:

* :func:`convert_scp` (one job per split of the scp): decode each entry, down-mix to mono,
  resample, write ``<outdir>/data/<utt>.flac``.  It writes in ``outdir``:

  - ``wav.scp``: ``<utt> <absolute flac path>`` for every readable entry;
  - ``utt2num_samples``: ``<utt> <samples>`` at the target rate;
  - ``bad_audio.txt``: ``<utt> <reason>`` for every missing, corrupt or empty entry;
  - ``stats.json``: counts (``total``, ``bad``, ``resampled_from`` = {original rate: files},
    ``downmixed``, ...);
  - ``done.jsonl``: a journal of finished utterances, so that a job that is run again
    (after a crash or a kill) skips them.  FLAC files are written atomically, so a finished
    line in the journal always has its complete file.

  A segmented directory (``segments`` beside ``wav.scp``, see :mod:`espnet2_speecht5.data.segments`)
  is split by segment instead: each job cuts its segments out of the recordings of ``wav.scp``
  (``recordings=``), and every utterance becomes a FLAC of its own.

* :func:`merge_jobs`: gather the job outputs of ``wav.scp`` (and ``wav_tgt.scp``) into the
  dump directory, copy the other per-utterance files, write ``dump_report.txt`` and
  ``bad_audio.txt``, and either stop on bad audio or drop it.  An utterance that is in no
  job output is an error, never a silent loss.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np
from tqdm import tqdm

from espnet2_speecht5.data.audio import AudioSource, read_audio, resample, to_mono, write_flac
from espnet2_speecht5.data.kaldi_dir import (
    AUDIO_FILES,
    UTTERANCE_FILES,
    atomic_write_text,
    iter_lines,
    naming_the_file,
    read_map,
    write_map,
    write_spk2utt,
)
from espnet2_speecht5.data.segments import SEGMENTS, Segment, check_recordings_listed, cut_segment, parse_segment
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger(__name__)

JOURNAL = "done.jsonl"
STATS = "stats.json"
BAD_AUDIO = "bad_audio.txt"
REPORT = "dump_report.txt"


def _byte_order(key: str) -> bytes:
    return key.encode("utf-8")


def flac_name(utt: str) -> str:
    """File name for an utterance's FLAC: the id with ``%``, ``/`` and a leading ``.`` escaped."""
    name = utt.replace("%", "%25").replace("/", "%2F")
    if name.startswith("."):
        name = "%2E" + name[1:]
    return name + ".flac"


def length_file(scp_name: str) -> str:
    """``utt2num_samples`` for ``wav.scp``, ``utt2num_samples_tgt`` for ``wav_tgt.scp``."""
    stem = scp_name[: -len(".scp")] if scp_name.endswith(".scp") else scp_name
    suffix = stem[len("wav") :] if stem.startswith("wav") else f"_{stem}"
    return f"utt2num_samples{suffix}"


def write_pairs(path: PathLike, pairs: Iterable[Tuple[str, str]]) -> None:
    """Write ``<id> <value>`` lines sorted by id (byte order), atomically; an empty value writes ``<id>`` alone."""
    ordered = sorted(pairs, key=lambda kv: _byte_order(kv[0]))
    atomic_write_text(path, "".join(f"{k} {v}\n" if v else f"{k}\n" for k, v in ordered))


# ----------------------------------------------------------------------------- convert


@dataclass
class Converted:
    """One finished utterance (a line of the journal).

    Attributes:
        utt: utterance id.
        entry: the scp value it was converted from.
        fs: the target sample rate.
        path: absolute path of the FLAC file.
        num_samples: its length in samples at ``fs``.
        orig_rate: sample rate of the source.
        channels: channel count of the source.
    """

    utt: str
    entry: str
    fs: int
    path: str
    num_samples: int
    orig_rate: int
    channels: int


def _journal_line(record: Converted) -> str:
    return json.dumps(record.__dict__, ensure_ascii=False) + "\n"


def _load_journal(outdir: Path, fs: int) -> Dict[str, Converted]:
    """Finished utterances of an earlier run whose FLAC file still exists (a torn last line is ignored)."""
    journal = outdir / JOURNAL
    done: Dict[str, Converted] = {}
    if not journal.is_file():
        return done
    for line in journal.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = Converted(**json.loads(line))
        except (ValueError, TypeError):
            continue
        if record.fs == fs and os.path.isfile(record.path):
            done[record.utt] = record
    return done


def convert_one(
    source: AudioSource, fs: int, out_path: Path, audio: Optional[Tuple[np.ndarray, int]] = None
) -> Converted:
    """Decode ``source``, down-mix, resample to ``fs`` and write ``out_path`` (FLAC, 16 bit).

    ``audio``: the ``(samples, rate)`` already decoded (a segment cut out of its recording).

    Raises:
        DataError: the audio is missing, unreadable, empty or not finite.
    """
    samples, rate = read_audio(source) if audio is None else audio
    channels = 1 if samples.ndim == 1 else int(samples.shape[1])
    mono, _ = to_mono(samples)  # (num_samples,)
    mono = resample(mono, rate, fs)
    if mono.shape[0] == 0:
        raise source.error(f"audio has no samples left at {fs} Hz")
    write_flac(out_path, mono, fs)
    return Converted(source.utt, source.entry, fs, str(out_path.resolve()), int(mono.shape[0]), rate, channels)


class RecordingCutter:
    """Audio of the segments of one job: each recording is decoded once for its consecutive segments.

    Args:
        recordings_scp: the ``wav.scp`` of the segmented directory (recording id -> path or command).
    """

    def __init__(self, recordings_scp: PathLike) -> None:
        self.scp = Path(recordings_scp)
        self.entries: Dict[str, Tuple[int, str]] = {rec: (n, v) for n, rec, v in iter_lines(self.scp)}
        self._cached: Optional[Tuple[str, Tuple[np.ndarray, int]]] = None

    def entry_of(self, segment: Segment) -> str:
        """The journal's record of a segment: its line value and its recording's ``wav.scp`` value.

        A changed recording path or changed times make the segment be cut again on a rerun.
        """
        return f"{segment.recording} {segment.start} {segment.end} @ {self.entries[segment.recording][1]}"

    def audio(self, segment: Segment) -> Tuple[np.ndarray, int]:
        """``(samples, rate)`` of ``segment``.

        Raises:
            DataError: naming the ``segments`` line: the recording is unreadable (the message names
                its ``wav.scp`` line too) or the segment lies outside it.
        """
        if self._cached is None or self._cached[0] != segment.recording:
            self._cached = None
            number, entry = self.entries[segment.recording]
            try:
                decoded = read_audio(AudioSource(segment.recording, entry, str(self.scp), number))
            except DataError as err:
                raise segment.error(f"recording '{segment.recording}' ({self.scp}:{number}): {err.message}") from None
            self._cached = (segment.recording, decoded)
        samples, rate = self._cached[1]
        return cut_segment(samples, rate, segment), rate


def convert_scp(
    in_scp: PathLike,
    outdir: PathLike,
    fs: int,
    progress: Optional[bool] = None,
    recordings: Optional[PathLike] = None,
) -> Dict[str, object]:
    """Convert every entry of ``in_scp``; see the module docstring for the files written in ``outdir``.

    Entries finished by an earlier run (same scp value, same ``fs``, FLAC present) are skipped.
    Bad audio is recorded in ``bad_audio.txt``, not raised: :func:`merge_jobs` decides.

    Args:
        in_scp: an audio scp (``<utt> <path or command |>``), or, with ``recordings``, a
            ``segments`` file (``<utt> <recording> <start> <end>``, a split of one).
        recordings: the ``wav.scp`` of a segmented directory: each segment is cut out of its
            recording there (a segment outside its recording is bad audio naming its line).

    Returns:
        the counts written to ``stats.json``.
    """
    in_scp, outdir = Path(in_scp), Path(outdir)
    cutter = RecordingCutter(recordings) if recordings is not None else None
    entries: List[Tuple[int, str, str]] = []
    seen: Dict[str, int] = {}
    for number, utt, value in iter_lines(in_scp):
        if utt in seen:
            raise DataError(f"duplicate id (first on line {seen[utt]})", in_scp, number, utt)
        seen[utt] = number
        entries.append((number, utt, value))
    data_dir = outdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    earlier = _load_journal(outdir, fs)
    done: Dict[str, Converted] = {}
    bad: Dict[str, str] = {}
    reused = 0
    if progress is None:
        progress = sys.stderr.isatty()
    bar = tqdm(entries, desc=str(in_scp), unit="file", disable=not progress, file=sys.stderr)
    try:
        with open(outdir / JOURNAL, "a", encoding="utf-8") as journal:
            for number, utt, value in bar:
                segment: Optional[Segment] = None
                if cutter is not None:
                    segment = parse_segment(in_scp, number, utt, value)
                    check_recordings_listed({utt: segment}, cutter.entries, cutter.scp)
                    value = cutter.entry_of(segment)
                record = earlier.get(utt)
                if record is not None and record.entry == value:
                    done[utt] = record
                    reused += 1
                    continue
                if not value:
                    bad[utt] = "no audio path or command on the line"
                    continue
                source = AudioSource(utt, value, str(in_scp), number)
                try:
                    audio = cutter.audio(segment) if cutter is not None and segment is not None else None
                    record = convert_one(source, fs, data_dir / flac_name(utt), audio)
                except DataError as err:
                    bad[utt] = err.message
                    logger.warning("bad audio: %s", err)
                    continue
                done[utt] = record
                journal.write(_journal_line(record))
                journal.flush()
    except OSError as err:
        # A full disk: write_flac names the FLAC it could not write; otherwise the journal failed.
        raise naming_the_file(err, outdir / JOURNAL) from None
    # Compact the journal to this run's utterances.
    atomic_write_text(outdir / JOURNAL, "".join(_journal_line(r) for r in done.values()))

    resampled: Dict[str, int] = {}
    for record in done.values():
        if record.orig_rate != fs:
            resampled[str(record.orig_rate)] = resampled.get(str(record.orig_rate), 0) + 1
    stats: Dict[str, object] = {
        "in_scp": str(in_scp),
        "fs": fs,
        "total": len(entries),
        "done": len(done),
        "converted": len(done) - reused,
        "reused": reused,
        "bad": len(bad),
        "resampled_from": dict(sorted(resampled.items(), key=lambda kv: int(kv[0]))),
        "downmixed": sum(1 for r in done.values() if r.channels > 1),
    }
    write_pairs(outdir / "utt2num_samples", ((u, str(r.num_samples)) for u, r in done.items()))
    write_pairs(outdir / BAD_AUDIO, bad.items())
    atomic_write_text(outdir / STATS, json.dumps(stats, indent=2) + "\n")
    # wav.scp last: its presence marks a finished job.
    write_pairs(outdir / "wav.scp", ((u, r.path) for u, r in done.items()))
    logger.info(
        "%s: %d files: %d converted, %d already done, %d bad; resampled %s; down-mixed %d",
        in_scp,
        len(entries),
        stats["converted"],
        reused,
        len(bad),
        ", ".join(f"{n} from {rate} Hz" for rate, n in sorted(resampled.items())) or "none",
        stats["downmixed"],
    )
    return stats


# ----------------------------------------------------------------------------- merge


@dataclass
class ScpSummary:
    """Merged counts for one audio scp."""

    scp: str
    total: int = 0
    done: int = 0
    bad: int = 0
    resampled_from: Dict[str, int] = field(default_factory=dict)
    downmixed: int = 0


@dataclass
class BadAudio:
    """One unreadable entry: where it is and why."""

    utt: str
    scp: str
    line: int
    reason: str

    def error(self) -> DataError:
        return DataError(self.reason, self.scp, self.line, self.utt)


def _merge_one_scp(
    src: Path, scp_name: str, jobs_dir: Path, nj: int, fs: int
) -> Tuple[Dict[str, str], Dict[str, str], List[BadAudio], ScpSummary]:
    """Gather the ``nj`` job outputs of ``src/scp_name``.

    Returns:
        ``(flac paths, lengths, bad entries, summary)``, the first two keyed by utterance.
    """
    # A segmented directory's utterances (and their line numbers) are those of ``segments``.
    src_scp = src / SEGMENTS if scp_name == "wav.scp" and (src / SEGMENTS).is_file() else src / scp_name
    line_of = {utt: number for number, utt, _ in iter_lines(src_scp)}
    name = scp_name[: -len(".scp")]
    paths: Dict[str, str] = {}
    lengths: Dict[str, str] = {}
    reasons: Dict[str, str] = {}
    summary = ScpSummary(scp=str(src_scp), total=len(line_of))
    for job in range(1, nj + 1):
        job_dir = jobs_dir / name / str(job)
        for needed in ("wav.scp", "utt2num_samples", BAD_AUDIO, STATS):
            if not (job_dir / needed).is_file():
                raise DataError(
                    f"job {job} of {nj} did not finish: {job_dir / needed} is missing "
                    f"(see the job's log, then run stage 3 again)",
                    src_scp,
                )
        stats = json.loads((job_dir / STATS).read_text(encoding="utf-8"))
        if int(stats.get("fs", -1)) != fs:
            raise DataError(f"job output {job_dir} was made for {stats.get('fs')} Hz, not --fs {fs}; run stage 3 again")
        for utt, path in read_map(job_dir / "wav.scp").items():
            if utt in line_of:
                paths[utt] = path
        for utt, value in read_map(job_dir / "utt2num_samples").items():
            if utt in line_of:
                lengths[utt] = value
        for _, utt, reason in iter_lines(job_dir / BAD_AUDIO):
            if utt in line_of:
                reasons[utt] = reason or "unreadable audio"
        for rate, count in stats.get("resampled_from", {}).items():
            summary.resampled_from[rate] = summary.resampled_from.get(rate, 0) + int(count)
        summary.downmixed += int(stats.get("downmixed", 0))

    missing = [u for u in line_of if u not in paths and u not in reasons]
    if missing:
        shown = ", ".join(f"'{u}'" for u in missing[:10]) + (", ..." if len(missing) > 10 else "")
        raise DataError(
            f"{len(missing)} utterance(s) are in no job output under {jobs_dir / name} "
            f"(did a job fail? see its log, then run stage 3 again): {shown}",
            src_scp,
            line_of[missing[0]],
            missing[0],
        )
    for utt, path in paths.items():
        if utt not in lengths:
            raise DataError(f"no length in the job output for {path}", src_scp, line_of[utt], utt)
        if not os.path.isfile(path):
            raise DataError(f"dumped file {path} has disappeared; run stage 3 again", src_scp, line_of[utt], utt)
    bad = [BadAudio(u, str(src_scp), line_of[u], r) for u, r in reasons.items() if u not in paths]
    summary.done = len(paths)
    summary.bad = len(bad)
    return paths, lengths, bad, summary


def _copy_per_utterance_file(src_file: Path, dst_file: Path, drop: set) -> int:
    pairs = [(utt, value) for _, utt, value in iter_lines(src_file) if utt not in drop]
    write_pairs(dst_file, pairs)
    return len(pairs)


def _report_lines(
    src: Path, outdir: Path, fs: int, summaries: List[ScpSummary], bad: List[BadAudio], skip_bad_audio: bool, kept: int
) -> List[str]:
    lines = [f"stage 3 dump report: {src} -> {outdir} ({fs} Hz mono 16-bit FLAC)", ""]
    for s in summaries:
        lines.append(f"{s.scp}: {s.total} utterances: {s.done} converted, {s.bad} bad audio")
        for rate, count in sorted(s.resampled_from.items(), key=lambda kv: int(kv[0])):
            lines.append(f"  resampled {count} files from {rate} Hz to {fs} Hz")
        at_rate = s.done - sum(s.resampled_from.values())
        lines.append(f"  {at_rate} files were already at {fs} Hz")
        lines.append(f"  down-mixed {s.downmixed} multi-channel files to mono")
    lines.append("")
    if bad:
        action = "dropped (--skip_bad_audio true)" if skip_bad_audio else "stage stopped (--skip_bad_audio false)"
        lines.append(f"bad audio: {len(bad)} file(s), {action}; also in {outdir / BAD_AUDIO}")
        lines.extend(f"  {b.utt} {b.scp}:{b.line}: {b.reason}" for b in bad)
    else:
        lines.append("bad audio: none")
    lines.append(f"utterances written: {kept}")
    return lines


def merge_jobs(
    src: PathLike, jobs_dir: PathLike, nj: int, outdir: PathLike, fs: int, skip_bad_audio: bool = False
) -> Dict[str, int]:
    """Merge the convert jobs of ``src``'s audio scps into the dump directory ``outdir``.

    Writes ``wav.scp`` (and ``wav_tgt.scp``), ``utt2num_samples`` (and ``utt2num_samples_tgt``),
    copies of ``src``'s other per-utterance files, ``spk2utt``, ``bad_audio.txt`` and
    ``dump_report.txt``.

    Raises:
        DataError: bad audio while ``skip_bad_audio`` is false (naming the first bad utterance,
            its scp line and the reason), a job output that is missing or incomplete, or no
            utterance left.

    Returns:
        ``{"utterances": kept, "bad": bad count}``.
    """
    src, jobs_dir, outdir = Path(src), Path(jobs_dir), Path(outdir)
    if nj < 1:
        raise DataError(f"--nj must be at least 1, not {nj}")
    scps = [name for name in AUDIO_FILES if (src / name).is_file()]
    if "wav.scp" not in scps:
        raise DataError("wav.scp is missing", src)
    merged = {name: _merge_one_scp(src, name, jobs_dir, nj, fs) for name in scps}
    bad = sorted((b for name in scps for b in merged[name][2]), key=lambda b: (_byte_order(b.utt), b.scp))
    drop = {b.utt for b in bad}
    kept = sum(1 for utt in merged["wav.scp"][0] if utt not in drop)
    summaries = [merged[name][3] for name in scps]

    outdir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(outdir / BAD_AUDIO, "".join(f"{b.utt} {b.scp}:{b.line}: {b.reason}\n" for b in bad))
    report = _report_lines(src, outdir, fs, summaries, bad, skip_bad_audio, kept if skip_bad_audio or not bad else 0)
    atomic_write_text(outdir / REPORT, "\n".join(report) + "\n")
    for s in summaries:
        for rate, count in sorted(s.resampled_from.items(), key=lambda kv: int(kv[0])):
            logger.info("%s: resampled %d files from %s Hz to %d Hz", s.scp, count, rate, fs)
        logger.info("%s: down-mixed %d multi-channel files to mono", s.scp, s.downmixed)
    if bad and not skip_bad_audio:
        first = bad[0]
        raise DataError(
            f"{first.reason} (bad audio: {len(bad)} file(s) in all, listed in {outdir / BAD_AUDIO}; "
            f"fix them or rerun with --skip_bad_audio true to drop them)",
            first.scp,
            first.line,
            first.utt,
        )
    if bad:
        logger.warning("dropped %d utterance(s) with bad audio; see %s", len(bad), outdir / BAD_AUDIO)
    if kept == 0:
        raise DataError(f"no utterance is left after dropping bad audio; see {outdir / BAD_AUDIO}", src)

    written: List[str] = []
    for name in scps:
        paths, lengths, _, _ = merged[name]
        write_map(outdir / name, {u: p for u, p in paths.items() if u not in drop})
        write_map(outdir / length_file(name), {u: n for u, n in lengths.items() if u in paths and u not in drop})
        written += [name, length_file(name)]
    for name in UTTERANCE_FILES:
        if name in written or name.startswith("utt2num_samples") or name in AUDIO_FILES:
            continue
        if (src / name).is_file():
            _copy_per_utterance_file(src / name, outdir / name, drop)
            written.append(name)
    if (outdir / "utt2spk").is_file():
        write_spk2utt(outdir)
    elif (src / "spk2utt").is_file():
        atomic_write_text(outdir / "spk2utt", (src / "spk2utt").read_text(encoding="utf-8"))
    for name in UTTERANCE_FILES:
        if name not in written and (outdir / name).exists():
            (outdir / name).unlink()
    logger.info(
        "%s -> %s: %d utterances written (%s); report: %s", src, outdir, kept, " ".join(written), outdir / REPORT
    )
    return {"utterances": kept, "bad": len(bad)}
