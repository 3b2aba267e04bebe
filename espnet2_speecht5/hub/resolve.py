"""Turn a model tag into files on this machine, for every ``from_pretrained``.

A tag is one of:

* a local model-zoo zip (``espnet2.bin.pack`` / stage 12): verified (member names, checksums),
  then unpacked by espnet_model_zoo into the cache, keyed by the zip's content;
* an unpacked folder with ``meta.yaml`` (a stage-13 export folder, an unpacked zip): its configs
  are copied into the cache with their relative file paths made absolute;
* a folder that transformers wrote (``config.json`` + weights, e.g. microsoft/speecht5_asr):
  returned as is; each task converts it (:mod:`espnet2_speecht5.hub.transformers_import`);
* an ``http(s)://`` URL of a zip: downloaded once into the cache, then as a local zip;
* a Hugging Face repository id ``owner/name[@revision]``: taken from huggingface_hub's cache
  when it is there (no network), downloaded otherwise; then as a folder.

When the packed weights exist as ``.safetensors`` beside the ``.pth``, the safetensors file is used.
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Union

import yaml

from espnet2_speecht5.hub.cache import cache_root, offline_mode, short_hash
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger(__name__)

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*(@[A-Za-z0-9_./-]+)?$")
URL = re.compile(r"^https?://", re.IGNORECASE)
WEIGHT_KEYS = ("asr_model_file", "model_file", "lm_file")
INFERENCE_CONFIG_NAME = "inference.yaml"


@dataclass
class ResolvedModel:
    """Where a tag's files are.

    Attributes:
        tag: what the user passed.
        layout: ``espnet`` (meta.yaml and ESPnet configs) or ``transformers`` (config.json).
        root: the folder holding the files (for espnet: where meta.yaml is).
        files: for ``espnet``, meta.yaml's keys (``asr_train_config``, ``asr_model_file``,
            ``train_config``, ``model_file``, ...) mapped to absolute paths; empty for ``transformers``.
    """

    tag: str
    layout: str
    root: Path
    files: Dict[str, str] = field(default_factory=dict)

    def require(self, *keys: str) -> Dict[str, str]:
        """The files under ``keys``; a one-line error naming the first key the model lacks."""
        for key in keys:
            if key not in self.files:
                have = ", ".join(sorted(self.files)) or "nothing"
                raise DataError(f"this model has no {key} (it holds {have}): is it a model of another task?",
                                self.tag)
        return {key: self.files[key] for key in keys}

    def inference_options(self, accepted: Iterable[str]) -> Dict[str, Any]:
        """The packed stage-9 decoding options (``inference.yaml``) that a constructor ``accepted``.

        Stage 12 packs the recipe's inference config, so that a loaded model decodes the way the
        scored results were made; options the class does not take are logged and left out.
        """
        found = sorted(self.root.rglob(INFERENCE_CONFIG_NAME)) if self.layout == "espnet" else []
        if not found:
            return {}
        with found[0].open(encoding="utf-8") as f:
            options = yaml.safe_load(f) or {}
        if not isinstance(options, dict):
            raise DataError("is not a YAML mapping", found[0])
        accepted = set(accepted)
        unused = sorted(k for k in options if k not in accepted)
        if unused:
            logger.info(f"{found[0].name}: options not used by this class: {', '.join(unused)}")
        return {k: v for k, v in options.items() if k in accepted}


def resolve(tag: Union[str, Path], cache_dir: Optional[PathLike] = None) -> ResolvedModel:
    """Find, fetch and unpack ``tag`` (see the module docstring).

    Raises:
        DataError: an unknown tag, an unsafe or damaged archive, or a model that is not cached
            while offline; always one line naming the tag.
    """
    text = str(tag)
    path = Path(text).expanduser()
    cache = cache_root(cache_dir)
    if path.is_file():
        return _from_zip(text, path, cache)
    if path.is_dir():
        return _from_folder(text, path, cache)
    if URL.match(text):
        return _from_zip(text, _download(text, cache), cache)
    if HUB_ID.match(text) and not text.startswith((".", "/")):
        return _from_folder(text, _hub_snapshot(text), cache)
    raise DataError("no such model: not a file, a folder, an http(s) URL or a Hugging Face id owner/name", text)


def converted_transformers(folder: Path, task: str, cache_dir: Optional[PathLike] = None) -> Dict[str, str]:
    """An ESPnet config and weights converted (once, into the cache) from a transformers folder of ``task``."""
    from espnet2_speecht5.hub.transformers_import import convert_transformers_folder, transformers_task

    found = transformers_task(folder)
    if found != task:
        raise DataError(f"is a transformers {found} model, not {task}", folder)
    outdir = cache_root(cache_dir) / "transformers" / short_hash(str(Path(folder).resolve()))
    return convert_transformers_folder(folder, outdir)


# ------------------------------------------------------------------------------------- zips


def _from_zip(tag: str, path: Path, cache: Path) -> ResolvedModel:
    from espnet2_speecht5.checkpoint.archive import unpack_verified

    files = unpack_verified(path, cache / "zips")
    root = _meta_root(Path(next(iter(files.values()))))
    return ResolvedModel(tag, "espnet", root, _prefer_safetensors(files))


def _meta_root(path: Path) -> Path:
    for parent in path.parents:
        if (parent / "meta.yaml").is_file():
            return parent
    return path.parent


# ---------------------------------------------------------------------------------- folders


def _from_folder(tag: str, folder: Path, cache: Path) -> ResolvedModel:
    folder = folder.resolve()
    if (folder / "meta.yaml").is_file():
        return ResolvedModel(tag, "espnet", folder, _prefer_safetensors(_espnet_folder_files(folder, cache)))
    if (folder / "config.json").is_file():
        return ResolvedModel(tag, "transformers", folder)
    raise DataError("holds neither meta.yaml (an ESPnet model) nor config.json (a transformers model)", folder)


def _espnet_folder_files(folder: Path, cache: Path) -> Dict[str, str]:
    """meta.yaml's files, with each config copied into the cache and its relative paths made absolute."""
    from espnet2_speecht5.checkpoint.archive import verify_folder

    meta = verify_folder(folder)
    out = cache / "folders" / short_hash(str(folder))
    files = {key: str(folder / rel) for key, rel in meta.get("files", {}).items()}
    for key, rel in meta.get("yaml_files", {}).items():
        source = folder / rel
        with source.open(encoding="utf-8") as f:
            config = yaml.safe_load(f)
        if not isinstance(config, dict):
            raise DataError("is not a YAML mapping", source)
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_yaml_atomically(_absolute_paths(config, folder), target)
        files[key] = str(target)
    return files


def _absolute_paths(value: Any, folder: Path) -> Any:
    """``value`` with every string that names a file relative to ``folder`` made absolute."""
    if isinstance(value, dict):
        return {k: _absolute_paths(v, folder) for k, v in value.items()}
    if isinstance(value, list):
        return [_absolute_paths(v, folder) for v in value]
    if isinstance(value, str) and value and "\n" not in value and not Path(value).is_absolute():
        candidate = folder / value
        try:
            if candidate.is_file() and candidate.resolve().is_relative_to(folder):
                return str(candidate)
        except OSError:
            return value
    return value


def _write_yaml_atomically(data: Dict[str, Any], target: Path) -> None:
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=target.parent, delete=False, suffix=".tmp") as f:
        yaml.safe_dump(data, f, allow_unicode=True, sort_keys=False)
    Path(f.name).replace(target)


def _prefer_safetensors(files: Dict[str, str]) -> Dict[str, str]:
    out = dict(files)
    for key in WEIGHT_KEYS:
        if key in out and out[key].endswith(".pth"):
            candidate = Path(out[key]).with_suffix(".safetensors")
            if candidate.is_file():
                out[key] = str(candidate)
    return out


# ---------------------------------------------------------------------------------- network


def _download(url: str, cache: Path) -> Path:
    """``url`` saved once under ``<cache>/urls/<hash>/``; later calls return the saved file offline."""
    folder = cache / "urls" / short_hash(url)
    name = Path(url.split("?", 1)[0].rstrip("/")).name or "model.zip"
    target = folder / name
    if target.is_file():
        logger.info(f"{url}: using the cached copy {target}")
        return target
    if offline_mode():
        raise DataError("is not in the cache and the network is off (SPEECHT5_OFFLINE / HF_HUB_OFFLINE)", url)
    import requests
    from tqdm import tqdm

    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.part"
    try:
        with requests.get(url, stream=True, timeout=(10, 60)) as response:
            response.raise_for_status()
            total = int(response.headers.get("content-length", 0)) or None
            with tmp.open("wb") as f, tqdm(total=total, unit="B", unit_scale=True, desc=name) as bar:
                for chunk in response.iter_content(chunk_size=1 << 20):
                    f.write(chunk)
                    bar.update(len(chunk))
    except requests.RequestException as err:
        tmp.unlink(missing_ok=True)
        raise DataError(f"download failed ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})",
                        url) from None
    tmp.replace(target)
    (folder / "url").write_text(url + "\n", encoding="utf-8")
    logger.info(f"{url}: downloaded to {target}")
    return target


def _hub_snapshot(tag: str) -> Path:
    """The local snapshot of a Hugging Face repository: the cached one if any, else a download."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    repo_id, _, revision = tag.partition("@")
    try:
        return Path(snapshot_download(repo_id, revision=revision or None, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        pass
    if offline_mode():
        raise DataError("is not in the Hugging Face cache and the network is off (HF_HUB_OFFLINE)", tag)
    try:
        return Path(snapshot_download(repo_id, revision=revision or None, library_name="espnet2_speecht5"))
    except Exception as err:  # noqa: BLE001 - huggingface_hub raises many kinds; one line for all
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"cannot download from the Hugging Face Hub ({type(err).__name__}: {first})", tag) from None

