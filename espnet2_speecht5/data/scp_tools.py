"""Split and filter scp (``<id> <value>``) files: the library behind ``split_scp.py`` and ``filter_scp.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Set, Tuple

from espnet2_speecht5.data.kaldi_dir import atomic_write_text, iter_lines, read_map
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike


def read_raw_lines(path: PathLike) -> Iterator[Tuple[int, str]]:
    """Yield ``(line_number, line)`` for each non-blank line, without its newline, decoded strictly as UTF-8."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError("file does not exist", path) from None
    except IsADirectoryError:
        raise DataError("is a directory, not a file", path) from None
    for number, line_bytes in enumerate(raw.split(b"\n"), start=1):
        try:
            line = line_bytes.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as err:
            key = line_bytes.split(maxsplit=1)[0].decode("utf-8", "replace") if line_bytes.strip() else None
            raise DataError(f"not valid UTF-8 (byte {err.start})", path, number, key) from None
        if line.strip():
            yield number, line


def contiguous_chunks(count: int, num_splits: int) -> List[Tuple[int, int]]:
    """``[(start, end), ...]`` cutting ``count`` items into ``num_splits`` contiguous parts (sizes differ by <= 1)."""
    base, extra = divmod(count, num_splits)
    bounds, start = [], 0
    for i in range(num_splits):
        end = start + base + (1 if i < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


def _speaker_chunks(keys: Sequence[str], utt2spk_path: PathLike, num_splits: int, scp: Path) -> List[Tuple[int, int]]:
    """Contiguous parts that never cut a run of utterances of one speaker."""
    utt2spk = read_map(utt2spk_path)
    runs: List[Tuple[int, int]] = []  # (start, end) of each run of one speaker
    for i, key in enumerate(keys):
        if key not in utt2spk:
            raise DataError(f"utterance is not in {utt2spk_path}", scp, None, key)
        if runs and utt2spk[keys[runs[-1][0]]] == utt2spk[key]:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    if len(runs) < num_splits:
        raise DataError(f"has {len(runs)} speaker run(s), fewer than the {num_splits} splits requested", scp)
    bounds, start_run = [], 0
    for part in range(num_splits):
        remaining_parts = num_splits - part
        if remaining_parts == 1:
            end_run = len(runs)
        else:
            target = runs[start_run][0] + (len(keys) - runs[start_run][0]) / remaining_parts
            end_run = start_run + 1
            # Grow the part while it stays closer to its share and leaves a run for each later part.
            while (
                end_run < len(runs) - (remaining_parts - 1) and runs[end_run][1] - target <= target - runs[end_run][0]
            ):
                end_run += 1
        bounds.append((runs[start_run][0], runs[end_run - 1][1]))
        start_run = end_run
    return bounds


def split_scp(scp: PathLike, outputs: Sequence[PathLike], utt2spk: Optional[PathLike] = None) -> List[int]:
    """Split ``scp`` into ``len(outputs)`` contiguous, non-empty parts, keeping line order.

    With ``utt2spk``, no speaker's (contiguous) utterances are cut between two parts.

    Returns:
        the number of lines written to each output.

    Raises:
        DataError: fewer lines (or speakers) than outputs, or an unreadable line.
    """
    scp = Path(scp)
    if not outputs:
        raise DataError("no outputs to split into", scp)
    lines = list(read_raw_lines(scp))
    if len(lines) < len(outputs):
        raise DataError(f"has {len(lines)} line(s), fewer than the {len(outputs)} splits requested", scp)
    if utt2spk is None:
        bounds = contiguous_chunks(len(lines), len(outputs))
    else:
        bounds = _speaker_chunks([line.split(maxsplit=1)[0] for _, line in lines], utt2spk, len(outputs), scp)
    counts = []
    for out, (start, end) in zip(outputs, bounds):
        atomic_write_text(out, "".join(line + "\n" for _, line in lines[start:end]))
        counts.append(end - start)
    return counts


def pattern_outputs(pattern: str, num_splits: int, placeholder: str = "JOB") -> List[str]:
    """The output paths ``pattern`` names for jobs 1..``num_splits``."""
    if placeholder not in pattern:
        raise DataError(f"--out_pattern '{pattern}' has no {placeholder} to replace")
    return [pattern.replace(placeholder, str(i)) for i in range(1, num_splits + 1)]


def read_id_set(path: PathLike) -> Set[str]:
    """The first column of every non-blank line of ``path``."""
    return {key for _, key, _ in iter_lines(path)}


def filter_scp(ids: Set[str], scp: PathLike, field: int = 1, exclude: bool = False) -> Iterator[str]:
    """Yield the lines of ``scp`` whose ``field``-th field (1-based) is in ``ids`` (not in it with ``exclude``).

    Raises:
        DataError: a line has fewer than ``field`` fields.
    """
    for number, line in read_raw_lines(scp):
        fields = line.split()
        if len(fields) < field:
            raise DataError(f"has {len(fields)} field(s), no field {field}", scp, number, fields[0])
        if (fields[field - 1] in ids) != exclude:
            yield line
