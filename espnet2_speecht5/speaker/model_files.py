"""Find the config and the weights of an ESPnet speaker model: experiment folder, .pth, or packed zip.

``--spk_model`` may be

* an experiment folder of ``espnet2.bin.spk_train`` (``config.yaml`` and ``*.pth``): the weights
  are the first of :data:`CHECKPOINT_PREFERENCE` that exists, else the highest ``<N>epoch.pth``,
  else the only other ``.pth`` (never ``checkpoint.pth``, which holds the optimiser state too);
* a ``.pth`` file with ``config.yaml`` beside it;
* a zip made by ``espnet2.bin.pack spk``.  It is unpacked with :mod:`zipfile` after checking that
  no member path is absolute or climbs out with ``..``; ``meta.yaml`` names the config and the
  weights, and paths inside the config that name members of the zip are made absolute.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, List, Optional, Set

import yaml

from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

CHECKPOINT_PREFERENCE = ("valid.eer.best.pth", "valid.eer.ave.pth", "valid.loss.best.pth", "latest.pth")
_EPOCH = re.compile(r"^(\d+)epoch\.pth$")


@dataclass(frozen=True)
class SpkModelFiles:
    """The two files :class:`espnet2.tasks.spk.SpeakerTask` needs to rebuild a model."""

    config: Path
    model: Path


def find_checkpoint(exp_dir: PathLike) -> Path:
    """The model weights of an experiment folder (see the module docstring)."""
    exp_dir = Path(exp_dir)
    for name in CHECKPOINT_PREFERENCE:
        if (exp_dir / name).is_file():
            return exp_dir / name
    epochs = sorted((int(m.group(1)), p) for p in exp_dir.glob("*.pth") if (m := _EPOCH.match(p.name)))
    if epochs:
        return epochs[-1][1]
    others = sorted(p for p in exp_dir.glob("*.pth") if p.name != "checkpoint.pth")
    if len(others) == 1:
        return others[0]
    if not others:
        raise DataError("no model weights (*.pth other than checkpoint.pth) in the speaker model folder", exp_dir)
    names = ", ".join(p.name for p in others)
    raise DataError(f"several model weights ({names}); pass the .pth file itself as --spk_model", exp_dir)


def _config_beside(model: Path) -> SpkModelFiles:
    config = model.parent / "config.yaml"
    if not config.is_file():
        raise DataError("no config.yaml beside the speaker model weights", model)
    return SpkModelFiles(config=config, model=model)


def _check_member(name: str, archive: Path) -> None:
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or re.match(r"^[A-Za-z]:", name):
        raise DataError(f"refusing to unpack member '{name}': absolute or '..' path", archive)


def safe_unzip(archive: PathLike, dest: PathLike) -> List[str]:
    """Extract ``archive`` into ``dest`` after checking every member path; return the member names."""
    archive = Path(archive)
    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            for name in names:
                _check_member(name, archive)
            zf.extractall(dest)
    except zipfile.BadZipFile as err:
        raise DataError(f"not a valid zip file ({err})", archive) from None
    return names


def _absolutize(node: Any, members: Set[str], root: Path) -> Any:
    """Replace every string of a YAML tree that names a member of the zip by its unpacked path."""
    if isinstance(node, dict):
        return {k: _absolutize(v, members, root) for k, v in node.items()}
    if isinstance(node, list):
        return [_absolutize(v, members, root) for v in node]
    if isinstance(node, str) and node in members:
        return str(root / node)
    return node


def unpack_spk_zip(archive: PathLike, dest: PathLike) -> SpkModelFiles:
    """Unpack a packed speaker model into ``dest`` (emptied first) and return its files."""
    archive, dest = Path(archive), Path(dest).resolve()
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    names = safe_unzip(archive, dest)
    members = {n for n in names if not n.endswith("/")}
    meta = dest / "meta.yaml"
    if meta.is_file():
        info = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
        try:
            config_name, model_name = str(info["yaml_files"]["train_config"]), str(info["files"]["model_file"])
        except (KeyError, TypeError):
            raise DataError("meta.yaml lacks yaml_files.train_config or files.model_file", archive) from None
        for name in (config_name, model_name):
            _check_member(name, archive)
        found = SpkModelFiles(config=dest / config_name, model=dest / model_name)
    else:
        configs = sorted(n for n in members if PurePosixPath(n).name == "config.yaml")
        if len(configs) != 1:
            raise DataError(f"expected meta.yaml or exactly one config.yaml in the zip, found {len(configs)}", archive)
        found = SpkModelFiles(config=dest / configs[0], model=find_checkpoint((dest / configs[0]).parent))
    for path in (found.config, found.model):
        if not path.is_file():
            raise DataError(f"the zip does not contain {path.relative_to(dest)}", archive)
    tree = yaml.safe_load(found.config.read_text(encoding="utf-8"))
    found.config.write_text(yaml.safe_dump(_absolutize(tree, members, dest), sort_keys=False), encoding="utf-8")
    return found


def resolve_spk_model(path: PathLike, unpack_dir: Optional[PathLike] = None) -> SpkModelFiles:
    """The config and weights of ``path`` (folder, .pth or zip; zips are unpacked into ``unpack_dir``)."""
    path = Path(path)
    if path.is_dir():
        config = path / "config.yaml"
        if not config.is_file():
            raise DataError("no config.yaml in the speaker model folder", path)
        return SpkModelFiles(config=config, model=find_checkpoint(path))
    if not path.is_file():
        raise DataError("speaker model does not exist", path)
    if path.suffix == ".pth":  # before the zip test: torch saves .pth files as zip archives too
        return _config_beside(path)
    if zipfile.is_zipfile(path):
        if unpack_dir is None:
            raise ValueError("a zipped speaker model needs a folder to unpack into")
        return unpack_spk_zip(path, unpack_dir)
    raise DataError("expected an ESPnet speaker experiment folder, a .pth file or a packed .zip", path)
