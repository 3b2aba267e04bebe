"""Stages 12 and 13: what goes into a model-zoo zip, and whether the zip can be loaded back.

ESPnet's packer (``python -m espnet2.bin.pack``) stores the training config, the model file and
any ``--option`` files under their paths relative to the recipe folder, plus a ``meta.yaml``
that names the config and the model.  When espnet_model_zoo unpacks the zip, it rewrites every
config value that equals the path of a packed file into the unpacked location.  A config that
names a file that was not packed (a sentencepiece model, feature statistics) would therefore
point to nowhere on the user's machine; :func:`referenced_files` lists those files so that the
driver can pack them, and :func:`check_archive` unpacks the zip the way users will and checks
that every such value resolves.
"""

from __future__ import annotations

import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import yaml

from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

# Config values that only matter while training: their files stay out of the zip.
TRAINING_ONLY_KEYS = frozenset(
    {
        "train_data_path_and_name_and_type",
        "valid_data_path_and_name_and_type",
        "train_shape_file",
        "valid_shape_file",
        "output_dir",
        "config",
        "init_param",
        "pretrain_path",
        "deepspeed_config",
        "rir_scp",
        "noise_scp",
        "token_list",  # a list of tokens after training; a file path only before
        # pre-training's text corpora and their shapes (tasks/pretrain.py)
        "train_text_data_path_and_name_and_type",
        "valid_text_data_path_and_name_and_type",
        "train_text_shape_file",
        "valid_text_shape_file",
    }
)


def load_yaml(path: PathLike) -> Dict[str, Any]:
    """A YAML mapping from ``path``.

    Raises:
        DataError: the file is missing or does not hold a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("does not exist", path)
    with path.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise DataError("is not a YAML mapping", path)
    return data


def _walk(value: Any, where: Tuple[str, ...] = ()) -> Iterator[Tuple[Tuple[str, ...], str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*where, str(key)))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _walk(item, (*where, str(index)))
    elif isinstance(value, str):
        yield where, value


def path_values(config: Dict[str, Any], base: PathLike = ".") -> List[Tuple[str, str]]:
    """``(dotted key, value)`` for every string value of ``config`` that names an existing file
    (relative to ``base`` or absolute), leaving out the training-only keys."""
    base = Path(base)
    found = []
    for where, value in _walk(config):
        if not where or where[0] in TRAINING_ONLY_KEYS or not value or "\n" in value:
            continue
        candidate = Path(value) if Path(value).is_absolute() else base / value
        try:
            is_file = candidate.is_file()
        except OSError:
            is_file = False
        if is_file:
            found.append((".".join(where), value))
    return found


def referenced_files(configs: List[PathLike], base: PathLike = ".") -> List[str]:
    """The files that the configs name and a packed model needs (each listed once, in order)."""
    files: List[str] = []
    for config in configs:
        for _, value in path_values(load_yaml(config), base):
            if value not in files:
                files.append(value)
    return files


def _lookup(config: Dict[str, Any], dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        if isinstance(value, list):
            value = value[int(part)]
        else:
            value = value[part]
    return value


def check_archive(zip_path: PathLike, cachedir: Optional[PathLike] = None) -> Dict[str, str]:
    """Unpack ``zip_path`` with espnet_model_zoo (offline) and check that it can be loaded.

    The archive is unpacked into ``cachedir`` (kept) or into a temporary folder (removed).

    Checks: the zip holds ``meta.yaml``; every file that meta.yaml names exists after
    unpacking; every config value that named a file when the model was trained (other than
    training-only ones) now names an existing unpacked file.  Returns the downloader's map
    (``asr_train_config``, ``asr_model_file``, ...): absolute paths under ``cachedir``, or paths
    relative to the temporary folder when none is given.

    Raises:
        DataError: any check fails.
    """
    zip_path = Path(zip_path).resolve()
    if not zip_path.is_file():
        raise DataError("does not exist", zip_path)
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        if "meta.yaml" not in names:
            raise DataError("has no meta.yaml: not a model-zoo archive", zip_path)
        meta = yaml.safe_load(archive.read("meta.yaml"))
        packed_configs = {
            key: yaml.safe_load(archive.read(name)) for key, name in meta.get("yaml_files", {}).items()
        }
    from espnet_model_zoo.downloader import ModelDownloader

    own_cache = cachedir is None
    with tempfile.TemporaryDirectory(prefix="speecht5_unpack_") as tmp:
        cache = Path(tmp) if own_cache else Path(cachedir)
        cache = cache.resolve()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Expanding a local model to the cachedir"
            unpacked = ModelDownloader(cache).download_and_unpack(str(zip_path))
        for key, path in unpacked.items():
            if not Path(path).exists():
                raise DataError(f"meta.yaml names {key} = {path}, which is not in the archive", zip_path)
        for key, original in packed_configs.items():
            config = load_yaml(unpacked[key])
            for dotted, value in _file_like_values(original, names):
                resolved = _lookup(config, dotted)
                if not (isinstance(resolved, str) and Path(resolved).is_file()):
                    raise DataError(f"{key}: {dotted} = {value} does not resolve after unpacking "
                                    f"(the file was not packed)", zip_path)
            for dotted, value in _unpacked_file_values(original, names):
                raise DataError(f"{key}: {dotted} = {value} names a file that the archive lacks", zip_path)
        if own_cache:  # the folder goes away: report where the files sit inside it
            return {key: str(Path(path).relative_to(cache)) for key, path in unpacked.items()}
        return {key: str(path) for key, path in unpacked.items()}


def _file_like_values(config: Dict[str, Any], names: List[str]) -> Iterator[Tuple[str, str]]:
    """Values of ``config`` that are the names of packed files."""
    packed = {str(Path(n)) for n in names}
    for where, value in _walk(config):
        if where and where[0] not in TRAINING_ONLY_KEYS and value and str(Path(value)) in packed:
            yield ".".join(where), value


def _unpacked_file_values(config: Dict[str, Any], names: List[str]) -> Iterator[Tuple[str, str]]:
    """Values under keys that always name a file at inference time but that were not packed."""
    packed = {str(Path(n)) for n in names}
    for dotted in ("bpemodel", "normalize_conf.stats_file"):
        try:
            value = _lookup(config, dotted)
        except (KeyError, IndexError, ValueError, TypeError):
            continue
        if isinstance(value, str) and value and str(Path(value)) not in packed:
            yield dotted, value


def extract(zip_path: PathLike, outdir: PathLike) -> List[str]:
    """Unzip ``zip_path`` into ``outdir`` as it is (the layout Hugging Face model repos of ESPnet use).

    The archive is checked first (:func:`espnet2_speecht5.checkpoint.archive.verify_archive`: member
    names, symlinks, meta.yaml, checksums), so nothing is written for a refused archive.
    """
    from espnet2_speecht5.checkpoint.archive import verify_archive

    verify_archive(zip_path)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(outdir)
        return archive.namelist()
