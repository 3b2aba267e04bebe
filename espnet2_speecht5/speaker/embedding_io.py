"""Read speaker embeddings from files the user gives, and write them as a Kaldi ark + scp.

Accepted inputs (``--files``):

* a Kaldi ``*.scp`` whose values point into arks (``utt path.ark:offset``), read with kaldiio;
* a Kaldi ``*.ark`` (binary or text), read whole;
* a folder of ``<utt>.npy`` files (subfolders are searched too), as in the official SpeechT5
  release of CMU ARCTIC x-vectors.

Every vector is checked: a 1-D array of ``dim`` finite numbers (a leading axis of size 1, as in
``(1, 512)``, is dropped).  Vectors come out as float32 arrays of shape (dim,).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Iterable, Mapping, Optional, Tuple, Union

import kaldiio
import numpy as np

from espnet2_speecht5.data.kaldi_dir import iter_lines
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike


def check_vector(
    value: object,
    dim: int,
    utt: str,
    path: Optional[PathLike] = None,
    line: Optional[int] = None,
) -> np.ndarray:
    """Return ``value`` as a float32 array of shape (dim,), or raise a DataError naming ``utt``."""
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise DataError(f"embedding is not a real-valued array (dtype {array.dtype})", path, line, utt)
    while array.ndim > 1 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1 or array.shape[0] != dim:
        raise DataError(f"embedding has shape {tuple(np.shape(value))}, expected {dim} values", path, line, utt)
    if not np.isfinite(array).all():
        raise DataError("embedding has NaN or infinite values", path, line, utt)
    return array.astype(np.float32)


class EmbeddingFiles:
    """Embeddings the user provides, indexed by utterance id (see the module docstring).

    ``load(utt, dim)`` reads and checks one vector; nothing is read before it is asked for,
    except a bare ``.ark``, which has no index and is read whole.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self._scp: Dict[str, Tuple[int, str]] = {}
        self._npy: Dict[str, Path] = {}
        self._ark: Dict[str, np.ndarray] = {}
        if self.path.is_dir():
            self.kind = "npy"
            self._index_npy()
        elif not self.path.is_file():
            raise DataError("embedding file or folder does not exist", self.path)
        elif self.path.suffix == ".scp":
            self.kind = "scp"
            self._index_scp()
        elif self.path.suffix == ".ark":
            self.kind = "ark"
            self._read_ark()
        else:
            raise DataError("expected a Kaldi .scp or .ark file, or a folder of <utt>.npy files", self.path)
        if len(self) == 0:
            raise DataError(f"no embeddings found (read as {self.kind})", self.path)

    def __len__(self) -> int:
        return len(self._scp) + len(self._npy) + len(self._ark)

    def __contains__(self, utt: str) -> bool:
        return utt in self._scp or utt in self._npy or utt in self._ark

    def describe(self) -> str:
        what = {"npy": "folder of .npy files", "scp": "Kaldi scp", "ark": "Kaldi ark"}[self.kind]
        return f"{what} {self.path} ({len(self)} embeddings)"

    def load(self, utt: str, dim: int) -> np.ndarray:
        """The checked vector of ``utt``, shape (dim,), float32.

        Raises:
            DataError: ``utt`` has no embedding, or it cannot be read, or it fails :func:`check_vector`.
        """
        if utt in self._ark:
            return check_vector(self._ark[utt], dim, utt, self.path)
        if utt in self._npy:
            npy = self._npy[utt]
            try:
                value = np.load(npy, allow_pickle=False)
            except (OSError, ValueError) as err:
                raise DataError(f"cannot read ({err})", npy, None, utt) from None
            return check_vector(value, dim, utt, npy)
        if utt in self._scp:
            line, where = self._scp[utt]
            try:
                value = kaldiio.load_mat(where)
            except Exception as err:  # kaldiio raises many kinds on a bad offset or a missing ark
                reason = str(err).splitlines()[0] if str(err) else type(err).__name__
                raise DataError(f"cannot read '{where}' ({reason})", self.path, line, utt) from None
            return check_vector(value, dim, utt, self.path, line)
        raise DataError(f"no embedding in {self.path}", None, None, utt)

    def _index_scp(self) -> None:
        for number, utt, where in iter_lines(self.path):
            if utt in self._scp:
                raise DataError("duplicate id", self.path, number, utt)
            if not where:
                raise DataError("no ark location", self.path, number, utt)
            self._scp[utt] = (number, where)

    def _index_npy(self) -> None:
        for root, _dirs, files in sorted(os.walk(self.path)):
            for name in sorted(files):
                if not name.endswith(".npy"):
                    continue
                utt = name[: -len(".npy")]
                file = Path(root) / name
                if utt in self._npy:
                    raise DataError(f"two files for one utterance: {self._npy[utt]} and {file}", self.path, None, utt)
                self._npy[utt] = file

    def _read_ark(self) -> None:
        try:
            for utt, value in kaldiio.load_ark(str(self.path)):
                if utt in self._ark:
                    raise DataError("duplicate id in ark", self.path, None, utt)
                self._ark[utt] = np.asarray(value)
        except DataError:
            raise
        except Exception as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise DataError(f"cannot read the ark ({reason})", self.path) from None


def write_embeddings(outdir: PathLike, name: str, vectors: Union[Mapping[str, np.ndarray], Iterable]) -> Path:
    """Write ``outdir/<name>.ark`` and ``outdir/<name>.scp``, ids in byte order; return the scp path.

    The scp holds the absolute ark path.  It is written under a temporary name and renamed
    last, so an scp that exists always points at a complete ark.
    """
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    items = dict(vectors)
    ark = outdir / f"{name}.ark"
    scp = outdir / f"{name}.scp"
    tmp_scp = outdir / f".{name}.scp.tmp"
    if scp.exists():
        scp.unlink()
    with kaldiio.WriteHelper(f"ark,scp:{ark},{tmp_scp}") as writer:
        for key in sorted(items, key=lambda k: k.encode("utf-8")):
            writer(key, np.asarray(items[key], dtype=np.float32))
    os.replace(tmp_scp, scp)
    return scp


def read_embedding_scp(path: PathLike) -> Dict[str, np.ndarray]:
    """All vectors of a Kaldi scp, in file order (no checks; for tests and reports)."""
    return {key: np.asarray(value) for key, value in kaldiio.load_scp(str(path)).items()}
