"""Whole-directory operations: fix, combine, copy with prefixes, subset, speaker-map conversion.

The library behind ``utils/fix_data_dir.py``, ``combine_data.py``, ``copy_data_dir.py``,
``subset_data_dir.py``, ``utt2spk_to_spk2utt.py`` and ``spk2utt_to_utt2spk.py``.  Only the
files of ``docs/data_format.md`` (:data:`UTTERANCE_FILES` and ``spk2utt``) are handled; every
writer rewrites ``spk2utt`` from ``utt2spk``.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from espnet2_speecht5.data.kaldi_dir import (
    UTTERANCE_FILES,
    atomic_write_text,
    iter_lines,
    present_utterance_files,
    read_map,
    utt2spk_to_spk2utt,
    write_map,
)
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

BACKUP_DIR = ".backup"
DirFiles = Dict[str, Dict[str, str]]  # file name -> {utt: value}


def _byte_key(text: str) -> bytes:
    return text.encode("utf-8")


# --------------------------------------------------------------------------- speaker maps


def spk2utt_from_lines(path: PathLike) -> Dict[str, List[str]]:
    """Read a ``spk2utt`` file (``<spk> <utt> <utt> ...``)."""
    result: Dict[str, List[str]] = {}
    for number, spk, value in iter_lines(path):
        if spk in result:
            raise DataError("duplicate speaker id", path, number)
        if not value:
            raise DataError(f"speaker '{spk}' has no utterances", path, number)
        result[spk] = value.split()
    return result


def spk2utt_to_utt2spk(spk2utt: Mapping[str, Sequence[str]], source: Optional[PathLike] = None) -> Dict[str, str]:
    """Invert a speaker -> utterances map; an utterance under two speakers is an error."""
    utt2spk: Dict[str, str] = {}
    for spk, utts in spk2utt.items():
        for utt in utts:
            if utt in utt2spk:
                raise DataError(f"listed under speakers '{utt2spk[utt]}' and '{spk}'", source, None, utt)
            utt2spk[utt] = spk
    return dict(sorted(utt2spk.items(), key=lambda kv: _byte_key(kv[0])))


def format_spk2utt(utt2spk: Mapping[str, str]) -> str:
    """``spk2utt`` text for ``utt2spk``."""
    return "".join(f"{spk} {' '.join(utts)}\n" for spk, utts in utt2spk_to_spk2utt(utt2spk).items())


# --------------------------------------------------------------------------- reading and writing


def load_dir(data_dir: PathLike, allow_empty_values: bool = False) -> DirFiles:
    """Read every per-utterance file present in ``data_dir``.

    Without ``utt2spk`` but with ``spk2utt``, ``utt2spk`` is derived from it.  A directory with
    ``segments`` is refused (:class:`DataError`) rather than mishandled.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError("data directory does not exist", data_dir)
    if (data_dir / "segments").is_file():
        # wav.scp is keyed by recording there; treating it per utterance would drop every recording.
        raise DataError(
            "a directory with segments (utterances cut out of recordings) is not handled by the copy, "
            "subset, combine and fix tools yet; run stages 1-3 on it, which cut the segments into utterances",
            data_dir / "segments",
        )
    files = {name: read_map(data_dir / name, allow_empty_values) for name in present_utterance_files(data_dir)}
    if "utt2spk" not in files and (data_dir / "spk2utt").is_file():
        files["utt2spk"] = spk2utt_to_utt2spk(spk2utt_from_lines(data_dir / "spk2utt"), data_dir / "spk2utt")
    if "wav.scp" not in files and "utt2spk" not in files:
        raise DataError("neither wav.scp nor utt2spk exists: not a data directory", data_dir)
    return files


def utterances_of(files: DirFiles) -> List[str]:
    """The utterance ids of a loaded directory (from ``wav.scp``, else ``utt2spk``), in byte order."""
    ref = files.get("wav.scp", files.get("utt2spk", {}))
    return sorted(ref, key=_byte_key)


def write_dir(data_dir: PathLike, files: DirFiles) -> List[str]:
    """Write ``files`` (sorted) and ``spk2utt`` into ``data_dir``; remove stale per-utterance files.

    Returns:
        the names of the files written.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    for stale in (*UTTERANCE_FILES, "spk2utt"):
        if stale not in files and (data_dir / stale).is_file():
            (data_dir / stale).unlink()
    for name, entries in files.items():
        write_map(data_dir / name, entries)
    written = list(files)
    if "utt2spk" in files:
        atomic_write_text(data_dir / "spk2utt", format_spk2utt(files["utt2spk"]))
        written.append("spk2utt")
    return written


def keep_utterances(files: DirFiles, keep: Iterable[str]) -> DirFiles:
    """Restrict every file to the utterances in ``keep``."""
    keep_set = set(keep)
    return {name: {u: v for u, v in entries.items() if u in keep_set} for name, entries in files.items()}


def _same_dir(a: PathLike, b: PathLike) -> bool:
    return Path(a).resolve() == Path(b).resolve()


# --------------------------------------------------------------------------- fix


@dataclass
class FixReport:
    """What :func:`fix_data_dir` did."""

    data_dir: str
    task: str
    kept: int
    removed: Dict[str, str] = field(default_factory=dict)  # utt -> reason
    removed_list: str = ""
    backup_dir: str = ""

    def summary(self, prog: str = "fix_data_dir.py") -> str:
        total = self.kept + len(self.removed)
        return (
            f"{prog}: {self.data_dir}: removed {len(self.removed)} of {total} utterances "
            f"(ids and reasons in {self.removed_list}; originals in {self.backup_dir}); {self.kept} left"
        )


def detect_task(data_dir: PathLike) -> str:
    """Guess the task from the files present: st, vc, se, asr (has text) or sid."""
    data_dir = Path(data_dir)
    has = {name for name in (*UTTERANCE_FILES, "spk2utt") if (data_dir / name).is_file()}
    if "text.tgt" in has:
        return "st"
    if "utt2spk_tgt" in has:
        return "vc"
    if "wav_clean.scp" in has:
        return "se"
    if "text" in has:
        return "asr"
    return "sid"


def fix_data_dir(data_dir: PathLike, task: str, required_files: Sequence[str]) -> FixReport:
    """Sort every file and keep only the utterances that every per-utterance file has, with a value.

    Files the task requires (``required_files``, its recipe's) must exist (``spk2utt`` may be
    missing: it is regenerated).  The originals go to ``DIR/.backup/``, and
    ``DIR/.backup/removed.txt`` lists ``<utt> <reason>``
    for every removed utterance.

    Raises:
        DataError: a missing required file, a duplicate id, unreadable data,
            or no utterance left.
    """
    data_dir = Path(data_dir)
    for name in required_files:
        if name != "spk2utt" and not (data_dir / name).is_file():
            if name == "utt2spk" and (data_dir / "spk2utt").is_file():
                continue
            raise DataError(f"required file for task {task} does not exist", data_dir / name)
    files = load_dir(data_dir, allow_empty_values=True)
    all_utts = set().union(*(set(entries) for entries in files.values()))
    removed: Dict[str, str] = {}
    for utt in sorted(all_utts, key=_byte_key):
        missing = [name for name, entries in files.items() if utt not in entries]
        empty = [name for name, entries in files.items() if utt in entries and not entries[utt]]
        reasons = []
        if missing:
            reasons.append(f"missing from {', '.join(missing)}")
        if empty:
            reasons.append(f"empty value in {', '.join(empty)}")
        if reasons:
            removed[utt] = "; ".join(reasons)
    kept = sorted(all_utts - set(removed), key=_byte_key)
    if not kept:
        raise DataError(f"no utterance is in every file ({', '.join(files)}); nothing would be left", data_dir)
    backup = data_dir / BACKUP_DIR
    backup.mkdir(exist_ok=True)
    for name in (*UTTERANCE_FILES, "spk2utt"):
        if (data_dir / name).is_file():
            shutil.copy2(data_dir / name, backup / name)
    removed_list = backup / "removed.txt"
    atomic_write_text(removed_list, "".join(f"{utt} {reason}\n" for utt, reason in removed.items()))
    write_dir(data_dir, keep_utterances(files, kept))
    return FixReport(str(data_dir), task, len(kept), removed, str(removed_list), str(backup))


# --------------------------------------------------------------------------- combine


def combine_data(out_dir: PathLike, inputs: Sequence[PathLike]) -> Tuple[List[str], List[str], int]:
    """Merge data directories into ``out_dir``.

    Files that every input has are combined; a file only some inputs have is left out and
    named in the returned list.  ``spk2utt`` is regenerated (speakers may span inputs).

    Returns:
        ``(written files, left-out files, number of utterances)``.

    Raises:
        DataError: an utterance id in two inputs (naming both files and lines), or ``out_dir``
            is one of the inputs.
    """
    if not inputs:
        raise DataError("no input directories to combine")
    for src in inputs:
        if _same_dir(src, out_dir):
            raise DataError("output directory is also an input", out_dir)
    loaded: List[Tuple[Path, DirFiles]] = [(Path(src), load_dir(src)) for src in inputs]
    common = [name for name in loaded[0][1] if all(name in files for _, files in loaded)]
    left_out = sorted({name for _, files in loaded for name in files} - set(common))
    first_seen: Dict[str, Dict[str, Path]] = {name: {} for name in common}
    merged: DirFiles = {name: {} for name in common}
    for src, files in loaded:
        for name in common:
            seen = first_seen[name]
            for utt, value in files[name].items():
                if utt in seen:
                    earlier = _line_of(seen[utt] / name, utt)
                    later = _line_of(src / name, utt)
                    raise DataError(
                        f"duplicate utterance id: in {seen[utt] / name}:{earlier} and in {src / name}:{later}",
                        src / name,
                        later,
                        utt,
                    )
                seen[utt] = src
                merged[name][utt] = value
    written = write_dir(out_dir, merged)
    return written, left_out, len(utterances_of(merged))


def _line_of(path: Path, key: str) -> Optional[int]:
    """Line number of ``key`` in ``path`` (for messages)."""
    for number, found, _ in iter_lines(path):
        if found == key:
            return number
    return None


# --------------------------------------------------------------------------- copy


def copy_data_dir(src: PathLike, dst: PathLike, utt_prefix: str = "", spk_prefix: str = "") -> int:
    """Copy a data directory, prefixing utterance ids (every file) and speaker ids (``utt2spk``, ``spk2utt``).

    Target speakers in ``utt2spk_tgt`` keep their ids: they name the speakers of ``wav_tgt.scp``,
    which is not renamed.  Returns the number of utterances.
    """
    if _same_dir(src, dst):
        raise DataError("source and destination are the same directory", dst)
    for prefix, what in ((utt_prefix, "utterance"), (spk_prefix, "speaker")):
        if any(c.isspace() for c in prefix):
            raise DataError(f"{what} prefix '{prefix}' contains whitespace")
    files = load_dir(src)
    out: DirFiles = {}
    for name, entries in files.items():
        renamed = {utt_prefix + utt: value for utt, value in entries.items()}
        if name == "utt2spk":
            renamed = {utt: spk_prefix + spk for utt, spk in renamed.items()}
        out[name] = renamed
    write_dir(dst, out)
    return len(utterances_of(out))


# --------------------------------------------------------------------------- subset


def _read_list(path: PathLike) -> List[Tuple[int, str]]:
    return [(number, key) for number, key, _ in iter_lines(path)]


def select_utterances(
    files: DirFiles,
    first: Optional[int] = None,
    last: Optional[int] = None,
    utt_list: Optional[PathLike] = None,
    spk_list: Optional[PathLike] = None,
    random_n: Optional[int] = None,
    seed: int = 0,
) -> List[str]:
    """The utterances a subset keeps; exactly one selection must be given.

    Raises:
        DataError: more utterances asked for than there are, or a listed utterance or speaker
            that the directory does not have (naming the list file and line).
    """
    chosen = [x is not None for x in (first, last, utt_list, spk_list, random_n)]
    if sum(chosen) != 1:
        raise DataError("give exactly one of --first, --last, --utt_list, --spk_list, --random")
    utts = utterances_of(files)
    count = next((n for n in (first, last, random_n) if n is not None), None)
    if count is not None and not 1 <= count <= len(utts):
        raise DataError(f"cannot take {count} of {len(utts)} utterances")
    if first is not None:
        return utts[:first]
    if last is not None:
        return utts[-last:]
    if random_n is not None:
        return sorted(random.Random(seed).sample(utts, random_n), key=_byte_key)
    known = set(utts)
    if utt_list is not None:
        keep = []
        for number, utt in _read_list(utt_list):
            if utt not in known:
                raise DataError("utterance is not in the source directory", utt_list, number, utt)
            keep.append(utt)
        return sorted(set(keep), key=_byte_key)
    utt2spk = files.get("utt2spk")
    if utt2spk is None:
        raise DataError("--spk_list needs utt2spk in the source directory")
    speakers = set(utt2spk.values())
    wanted = set()
    for number, spk in _read_list(spk_list):  # type: ignore[arg-type]
        if spk not in speakers:
            raise DataError(f"speaker '{spk}' is not in the source directory", spk_list, number)
        wanted.add(spk)
    return [u for u in utts if utt2spk.get(u) in wanted]


def subset_data_dir(src: PathLike, dst: PathLike, **selection) -> int:
    """Write the utterances :func:`select_utterances` picks from ``src`` into ``dst``; returns their number."""
    if _same_dir(src, dst):
        raise DataError("source and destination are the same directory", dst)
    files = load_dir(src)
    keep = select_utterances(files, **selection)
    if not keep:
        raise DataError("the selection is empty", src)
    write_dir(dst, keep_utterances(files, keep))
    return len(keep)
