"""Read and write Kaldi data-directory files (``<id> <value>`` per line).

The layout is described in ``docs/data_format.md``.  All readers decode UTF-8 strictly and
raise :class:`DataError` with the file and line number on any malformed line.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Tuple, Union

from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

# Per-utterance files a data directory may hold (``spk2utt`` is per speaker).
UTTERANCE_FILES = (
    "wav.scp",
    "text",
    "utt2spk",
    "text.tgt",
    "wav_tgt.scp",
    "wav_clean.scp",
    "utt2spk_tgt",
    "utt2snr",
    "utt2num_samples",
    "utt2num_samples_tgt",
    "utt2num_samples_clean",
)
# Audio of an utterance: its input, and the second recording of a pair (vc: the target speaker
# reading the same sentence; se: the clean speech under the noisy input).
AUDIO_FILES = ("wav.scp", "wav_tgt.scp", "wav_clean.scp")



def iter_lines(path: PathLike) -> Iterator[Tuple[int, str, str]]:
    """Yield ``(line_number, id, value)`` for each non-blank line of a Kaldi map file.

    ``value`` is the rest of the line after the first run of whitespace, stripped of the
    newline; it may be empty (the caller decides whether that is an error).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError("file does not exist", path) from None
    for number, line_bytes in enumerate(raw.split(b"\n"), start=1):
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError as err:
            key = line_bytes.split(maxsplit=1)[0].decode("utf-8", "replace") if line_bytes.strip() else None
            raise DataError(f"not valid UTF-8 (byte {err.start})", path, number, key) from None
        line = line.rstrip("\r")
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        key = parts[0]
        value = parts[1].strip() if len(parts) > 1 else ""
        yield number, key, value


def read_map(path: PathLike, allow_empty_values: bool = False) -> Dict[str, str]:
    """Read a Kaldi map file into an insertion-ordered dict.

    Raises :class:`DataError` on a duplicate id or, unless ``allow_empty_values``, on a line
    that has an id and nothing else.
    """
    result: Dict[str, str] = {}
    for number, key, value in iter_lines(path):
        if key in result:
            raise DataError("duplicate id", path, number, key)
        if not value and not allow_empty_values:
            raise DataError("empty value", path, number, key)
        result[key] = value
    return result


def write_map(path: PathLike, items: Union[Mapping[str, str], Iterable[Tuple[str, str]]], sort: bool = True) -> None:
    """Write ``<id> <value>`` lines atomically (temporary file, then rename), sorted by id."""
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    if sort:
        pairs.sort(key=lambda kv: kv[0].encode("utf-8"))
    atomic_write_text(path, "".join(f"{k} {v}\n" for k, v in pairs))


def naming_the_file(err: OSError, path: PathLike) -> OSError:
    """``err`` with ``path`` as its file name, so that the one-line message says which output failed.

    A failed ``write`` (disk full, file size limit) raises an ``OSError`` without a file name.
    """
    if err.filename is not None:
        return err
    return OSError(err.errno, err.strerror or str(err), str(path))


def atomic_write_text(path: PathLike, content: str) -> None:
    """Write ``content`` to ``path`` through a temporary file and ``os.replace``.

    Raises:
        OSError: naming ``path`` (for example a full disk); the temporary file is removed and
            an existing ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise naming_the_file(err, path) from None
        raise


def utt2spk_to_spk2utt(utt2spk: Mapping[str, str]) -> Dict[str, List[str]]:
    """Group utterances by speaker; speakers and their utterances come out sorted."""
    spk2utt: Dict[str, List[str]] = {}
    for utt in sorted(utt2spk, key=lambda u: u.encode("utf-8")):
        spk2utt.setdefault(utt2spk[utt], []).append(utt)
    return dict(sorted(spk2utt.items(), key=lambda kv: kv[0].encode("utf-8")))


def write_spk2utt(data_dir: PathLike) -> None:
    """(Re)write ``spk2utt`` from ``utt2spk`` in ``data_dir``."""
    data_dir = Path(data_dir)
    spk2utt = utt2spk_to_spk2utt(read_map(data_dir / "utt2spk"))
    write_map(data_dir / "spk2utt", {spk: " ".join(utts) for spk, utts in spk2utt.items()})


def present_utterance_files(data_dir: PathLike) -> List[str]:
    """Names of the per-utterance files (from :data:`UTTERANCE_FILES`) present in ``data_dir``."""
    data_dir = Path(data_dir)
    return [name for name in UTTERANCE_FILES if (data_dir / name).is_file()]
