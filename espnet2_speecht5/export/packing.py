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
from typing import Iterator, List, Mapping, Optional, Sequence, Tuple

from espnet2_speecht5.checkpoint.pack_keys import LM_KEYS, pack_keys, packed_kind
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger(__name__)



@contextlib.contextmanager
def _working_dir(path: Path) -> Iterator[None]:
    here = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(here)


def _relative(path: PathLike, base: Path, what: str) -> str:
    """``path`` relative to ``base``; files outside it would be packed under absolute names.

    Links are kept by name (``valid.acc.ave.pth`` stays that, not the epoch file it points to).
    """
    absolute = Path(os.path.abspath(path))
    if not absolute.exists():
        raise DataError(f"{what}: no such file", path)
    try:
        return str(absolute.relative_to(base))
    except ValueError:
        raise DataError(f"{what} is outside {base}: run from the recipe folder (or pass base_dir) so that "
                        "the zip stores relative paths", path) from None


def to_safetensors(pth: Path, out: Path) -> int:
    """Write the state dict in ``pth`` to ``out`` as safetensors; return the number of tensors.

    The file is read back and must hold the same keys, shapes, dtypes and values.

    Raises:
        DataError: ``pth`` is unreadable or unsafe, not a state dict of tensors, or the copy differs.
    """
    import torch

    from espnet2_speecht5.checkpoint.io import load_checkpoint, save_safetensors

    pth, out = Path(pth), Path(out)
    state = load_checkpoint(pth)
    if isinstance(state, Mapping) and isinstance(state.get("module"), Mapping):
        state = state["module"]  # DeepSpeed layout
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError("is not a state dict of tensors", pth)
    save_safetensors(dict(state), out, metadata={"format": "pt", "source": pth.name})
    again = load_checkpoint(out)
    if set(again) != set(state):
        raise DataError(f"holds other keys than {pth} after the round trip", out)
    for key, value in state.items():
        copy = again[key]
        if copy.shape != value.shape or copy.dtype != value.dtype or not torch.equal(copy, value):
            raise DataError(f"tensor '{key}' differs from {pth} after the round trip", out)
    return len(state)


def pack_model(
    pack_kind: str,
    train_config: PathLike,
    model_file: PathLike,
    out: PathLike,
    options: Sequence[PathLike] = (),
    base_dir: Optional[PathLike] = None,
    lm: Optional[Tuple[PathLike, PathLike]] = None,
) -> Path:
    """Write the model-zoo zip ``out`` and return its path (stage 12 and ``speecht5 pack``).

    Args:
        pack_kind: ESPnet's pack kind (a task recipe's ``pack_kind``), which names the meta.yaml keys.
        train_config, model_file: the experiment's ``config.yaml`` and ``*.pth``.
        options: more files or folders to carry (RESULTS.md, images/, inference.yaml, ...).
        base_dir: the folder the stored paths are relative to (default: the current folder).
        lm: the language model (config, checkpoint) decoding used, if any.

    Raises:
        DataError: an unknown pack kind, a missing file, or a file outside ``base_dir``.
    """
    config_key, model_key = pack_keys(pack_kind)
    from espnet2.main_funcs.pack_funcs import pack

    from espnet2_speecht5.checkpoint.archive import add_checksums
    from espnet2_speecht5.export.package import check_archive, referenced_files

    base = Path(os.path.abspath(base_dir or "."))
    out = Path(out).resolve()
    config = _relative(train_config, base, "the training config")
    model = _relative(model_file, base, "the model file")
    files, yaml_files = {model_key: model}, {config_key: config}
    if lm is not None:
        yaml_files[LM_KEYS[0]] = _relative(lm[0], base, "the LM config")
        files[LM_KEYS[1]] = _relative(lm[1], base, "the LM file")
    tensors = (base / model).with_suffix(".safetensors")
    if not tensors.is_file() or (base / model).stat().st_mtime > tensors.stat().st_mtime:
        to_safetensors(base / model, tensors)
    with _working_dir(base):
        extra: List[str] = [str(tensors.relative_to(base))]
        extra += [_relative(f, base, "a file the config names") for f in referenced_files(list(yaml_files.values()))]
        extra += [_relative(f, base, "--option") for f in options]
        with contextlib.redirect_stdout(io.StringIO()):  # pack prints "Generate: <path>"
            pack(files=files, yaml_files=yaml_files, option=list(dict.fromkeys(extra)), outpath=str(out))
    digests = add_checksums(out)
    check_archive(out)
    logger.info(f"packed {out} ({out.stat().st_size / 1e6:.1f} MB): sha256 of {len(digests)} members in "
                "meta.yaml, checked by unpacking it as espnet_model_zoo does")
    return out


def export_folder(zip_path: PathLike, outdir: PathLike, task: str, corpus: str = "unknown",
                  results: Optional[PathLike] = None, hf_repo: str = "") -> Path:
    """Stage 13 for any zip: the ESPnet + transformers export folder with its model card, then the upload
    (only with ``hf_repo`` and a Hugging Face token; otherwise the files it would upload are listed).

    Args:
        results: RESULTS.md for the card (default: the one packed next to the config).
    """
    import tempfile
    import zipfile

    from espnet2_speecht5.checkpoint.archive import verify_archive
    from espnet2_speecht5.export.folder import write_folder
    from espnet2_speecht5.export.upload import upload

    meta = verify_archive(zip_path)
    with tempfile.TemporaryDirectory(prefix="speecht5_export_") as tmp:
        if results is None:
            config_name = meta["yaml_files"][pack_keys(packed_kind(meta))[0]]
            wanted = str(Path(config_name).parent / "RESULTS.md")
            with zipfile.ZipFile(zip_path) as archive:
                if wanted not in archive.namelist():
                    raise DataError(f"holds no {wanted}: pass --results", zip_path)
                results = Path(tmp) / "RESULTS.md"
                results.write_bytes(archive.read(wanted))
        write_folder(zip_path, results, task, corpus, outdir, hf_repo=hf_repo)
    upload(Path(outdir), hf_repo, private=False)
    return Path(outdir)
