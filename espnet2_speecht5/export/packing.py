"""Pack a trained model the way stage 12 does, from Python or ``speecht5 pack``.

The zip is ESPnet's (``espnet2.main_funcs.pack_funcs.pack``: meta.yaml + the files under their
paths relative to the recipe folder), with the weights also as safetensors, the files the config
names (sentencepiece model, feature statistics), sha256 checksums in meta.yaml, and a final check
that espnet_model_zoo unpacks it with every config path resolved.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path
from typing import Iterator, List, Optional, Sequence

from espnet2_speecht5.data.errors import DataError
from espnet2_speecht5.hub.cache import PathLike

logger = logging.getLogger(__name__)

MODEL_KEYS = {"asr": ("asr_train_config", "asr_model_file"), "tts": ("train_config", "model_file")}


@contextlib.contextmanager
def _working_dir(path: Path) -> Iterator[None]:
    here = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(here)


def _relative(path: PathLike, base: Path, what: str) -> str:
    """``path`` relative to ``base``; files outside it would be packed under absolute names."""
    resolved = Path(path).resolve()
    if not resolved.exists():
        raise DataError(f"{what}: no such file", path)
    try:
        return str(resolved.relative_to(base))
    except ValueError:
        raise DataError(f"{what} is outside {base}: run from the recipe folder (or pass base_dir) so that "
                        "the zip stores relative paths", path) from None


def pack_model(
    task: str,
    train_config: PathLike,
    model_file: PathLike,
    out: PathLike,
    options: Sequence[PathLike] = (),
    base_dir: Optional[PathLike] = None,
) -> Path:
    """Write the model-zoo zip ``out`` and return its path.

    Args:
        task: ``asr`` or ``tts`` (the meta.yaml keys differ).
        train_config, model_file: the experiment's ``config.yaml`` and ``*.pth``.
        options: more files or folders to carry (RESULTS.md, images/, inference.yaml, ...).
        base_dir: the folder the stored paths are relative to (default: the current folder).

    Raises:
        DataError: an unknown task, a missing file, or a file outside ``base_dir``.
    """
    if task not in MODEL_KEYS:
        raise DataError(f"cannot pack task '{task}': choose one of {', '.join(MODEL_KEYS)}")
    from espnet2.main_funcs.pack_funcs import pack

    from espnet2_speecht5.bin.export_model import to_safetensors
    from espnet2_speecht5.export.archive import add_checksums
    from espnet2_speecht5.export.package import check_archive, referenced_files

    base = Path(base_dir or ".").resolve()
    out = Path(out).resolve()
    config = _relative(train_config, base, "the training config")
    model = _relative(model_file, base, "the model file")
    tensors = (base / model).with_suffix(".safetensors")
    if not tensors.is_file() or (base / model).stat().st_mtime > tensors.stat().st_mtime:
        to_safetensors(base / model, tensors)
    with _working_dir(base):
        extra: List[str] = [str(tensors.relative_to(base))]
        extra += [_relative(f, base, "a file the config names") for f in referenced_files([config])]
        extra += [_relative(f, base, "--option") for f in options]
        config_key, model_key = MODEL_KEYS[task]
        with contextlib.redirect_stdout(io.StringIO()):  # pack prints "Generate: <path>"
            pack(files={model_key: model}, yaml_files={config_key: config}, option=list(dict.fromkeys(extra)),
                 outpath=str(out))
    digests = add_checksums(out)
    check_archive(out)
    logger.info(f"packed {out} ({out.stat().st_size / 1e6:.1f} MB, {len(digests) + 1} files, sha256 checked)")
    return out


def packed_task(meta: dict) -> str:
    """``asr`` or ``tts`` from a meta.yaml's config key."""
    for task, (config_key, _) in MODEL_KEYS.items():
        if config_key in meta.get("yaml_files", {}):
            return task
    raise DataError(f"meta.yaml names no known training config ({', '.join(meta.get('yaml_files', {}))})")


def export_folder(zip_path: PathLike, outdir: PathLike, corpus: str = "unknown", results: Optional[PathLike] = None,
                  hf_repo: str = "") -> Path:
    """Stage 13 for any zip: the ESPnet + transformers export folder with its model card, then the upload
    (only with ``hf_repo`` and a Hugging Face token; otherwise the files it would upload are listed).

    Args:
        results: RESULTS.md for the card (default: the one packed next to the config).
    """
    import argparse
    import tempfile
    import zipfile

    from espnet2_speecht5.bin.export_model import upload, write_folder
    from espnet2_speecht5.export.archive import verify_archive

    meta = verify_archive(zip_path)
    task = packed_task(meta)
    with tempfile.TemporaryDirectory(prefix="speecht5_export_") as tmp:
        if results is None:
            config_name = meta["yaml_files"][MODEL_KEYS[task][0]]
            wanted = str(Path(config_name).parent / "RESULTS.md")
            with zipfile.ZipFile(zip_path) as archive:
                if wanted not in archive.namelist():
                    raise DataError(f"holds no {wanted}: pass --results", zip_path)
                results = Path(tmp) / "RESULTS.md"
                results.write_bytes(archive.read(wanted))
        write_folder(argparse.Namespace(zip=str(zip_path), results=str(results), task=task, corpus=corpus,
                                        outdir=str(outdir), hf_repo=hf_repo, language=None))
    upload(Path(outdir), hf_repo, private=False)
    return Path(outdir)
