"""Unpack a packed ESPnet model (``espnet2.bin.pack`` zip) after checking its member names.

espnet_model_zoo's ``ModelDownloader`` writes each member to ``<cachedir>/<member name>``, so a
name that is absolute or climbs out with ``..`` could write anywhere.  :func:`unpack_model_zip`
refuses such archives before the downloader sees them, then lets it unpack (it also rewrites the
packed config's file paths to the unpacked copies).
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Dict, Sequence, Union

from espnet2_speecht5.data.errors import DataError

PathLike = Union[str, Path]


def unsafe_member(name: str) -> bool:
    """Whether an archive member name is absolute or goes up a folder (``..``), on any platform."""
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or name.startswith(("/", "\\")):
        return True
    return ".." in posix.parts or ".." in windows.parts


def check_members(zip_path: PathLike) -> None:
    """Fail unless ``zip_path`` is a readable zip with a ``meta.yaml`` and only safe member names.

    Raises:
        DataError: naming the archive and the first unsafe member.
    """
    zip_path = Path(zip_path)
    if not zip_path.is_file():
        raise DataError("no such model archive", zip_path)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as err:
        raise DataError(f"not a zip archive ({err})", zip_path) from None
    for name in names:
        if unsafe_member(name):
            raise DataError(f"refusing the unsafe member name '{name}' (absolute or with '..')", zip_path)
    if "meta.yaml" not in names:
        raise DataError("has no meta.yaml: not a packed ESPnet model", zip_path)


def unpack_model_zip(zip_path: PathLike, cachedir: PathLike, required: Sequence[str] = ()) -> Dict[str, str]:
    """Unpack ``zip_path`` under ``cachedir``; return meta.yaml's files as ``{key: unpacked path}``.

    Args:
        required: keys that must be present, e.g. ``("asr_train_config", "asr_model_file")``.

    Raises:
        DataError: an unsafe or malformed archive, or a required key that meta.yaml lacks.
    """
    check_members(zip_path)
    from espnet_model_zoo.downloader import ModelDownloader

    Path(cachedir).mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Expanding a local model to the cachedir"
            unpacked = ModelDownloader(str(cachedir)).download_and_unpack(str(Path(zip_path).resolve()))
    except (KeyError, AssertionError, RuntimeError, TypeError) as err:
        raise DataError(f"malformed meta.yaml ({type(err).__name__}: {err})", zip_path) from None
    missing = [key for key in required if key not in unpacked]
    if missing:
        raise DataError(f"meta.yaml names no {missing[0]}", zip_path)
    return {key: str(value) for key, value in unpacked.items()}
