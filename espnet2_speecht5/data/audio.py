"""Audio input/output for data preparation: read ``wav.scp`` entries, down-mix, resample, write FLAC.

A ``wav.scp`` entry is either a file path or a shell command ending in ``|`` that writes a
wav (or any format libsndfile reads) to stdout, as in Kaldi.  Every failure raises
:class:`DataError` naming the utterance and the file, never a bare library exception.
"""

from __future__ import annotations

import io
import math
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from espnet2_speecht5.data.kaldi_dir import naming_the_file
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike


@dataclass
class AudioSource:
    """Where an utterance's audio comes from, for error messages.

    Attributes:
        utt: utterance id.
        entry: the ``wav.scp`` value (a path, or a command ending in ``|``).
        scp: the scp file the entry was read from, if any.
        line: its line number in ``scp``.
    """

    utt: str
    entry: str
    scp: Optional[str] = None
    line: Optional[int] = None

    @property
    def is_pipe(self) -> bool:
        return self.entry.rstrip().endswith("|")

    def error(self, message: str) -> DataError:
        return DataError(message, self.scp, self.line, self.utt)


def read_audio(source: AudioSource, pipe_timeout: float = 600.0) -> Tuple[np.ndarray, int]:
    """Decode one utterance.

    Returns:
        ``(samples, rate)``: float32 array of shape (num_samples,) for mono or
        (num_samples, channels) otherwise, with values in [-1, 1], and the sample rate.

    Raises:
        DataError: the file is missing, unreadable, empty, or has non-finite samples.
    """
    if source.is_pipe:
        command = source.entry.rstrip()[:-1].strip()
        try:
            proc = subprocess.run(
                command, shell=True, capture_output=True, timeout=pipe_timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise source.error(f"command timed out after {pipe_timeout:.0f} s: {command}") from None
        if proc.returncode != 0:
            detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            reason = detail[-1] if detail else f"exit status {proc.returncode}"
            raise source.error(f"command failed ({reason}): {command}")
        if not proc.stdout:
            raise source.error(f"command wrote no audio: {command}")
        handle: Union[str, io.BytesIO] = io.BytesIO(proc.stdout)
        what = f"output of '{command}'"
    else:
        path = source.entry.strip()
        if not os.path.isfile(path):
            raise source.error(f"audio file {path} does not exist")
        if os.path.getsize(path) == 0:
            raise source.error(f"audio file {path} is empty (0 bytes)")
        handle = path
        what = f"audio file {path}"
    try:
        samples, rate = sf.read(handle, dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as err:
        reason = getattr(err, "error_string", None) or (str(err).splitlines()[0] if str(err) else type(err).__name__)
        raise source.error(f"{what} cannot be decoded ({reason})") from None
    if samples.shape[0] == 0:
        raise source.error(f"{what} has no samples")
    if not np.isfinite(samples).all():
        raise source.error(f"{what} contains NaN or infinite samples")
    return samples, int(rate)


def to_mono(samples: np.ndarray) -> Tuple[np.ndarray, bool]:
    """Average the channels of a (num_samples, channels) array.

    Returns:
        ``(mono, was_multichannel)`` with ``mono`` of shape (num_samples,).
    """
    if samples.ndim == 1:
        return samples, False
    if samples.shape[1] == 1:
        return samples[:, 0], False
    return samples.mean(axis=1).astype(np.float32), True


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling of a mono signal of shape (num_samples,) from ``rate_in`` to ``rate_out``."""
    if rate_in == rate_out:
        return samples
    divisor = math.gcd(rate_in, rate_out)
    out = resample_poly(samples, rate_out // divisor, rate_in // divisor)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def write_flac(path: PathLike, samples: np.ndarray, rate: int) -> None:
    """Write a 16-bit FLAC atomically (temporary file in the same folder, then rename).

    The FLAC is encoded in memory and written by Python, so that a failed write (full disk,
    file size limit) is an ``OSError`` naming ``path`` rather than libsndfile's "System error".

    Raises:
        OSError: the file cannot be written; no part of it is left behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded = io.BytesIO()
    sf.write(encoded, samples, rate, format="FLAC", subtype="PCM_16")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".flac")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(encoded.getbuffer())
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise naming_the_file(err, path) from None
        raise
