"""Use a training ``config.yaml`` from outside the recipe folder that wrote it.

ESPnet writes the files a model needs at inference time into its config as paths relative to the
recipe folder (``normalize_conf.stats_file: exp/asr_stats_char/train/feats_stats.npz``,
``bpemodel: data/token_list/bpe_unigram100/bpe.model``). Another recipe that loads the model, for
example a TTS recipe scoring its speech with ``../asr1/exp/asr_train_char``, runs in a different
folder, where those paths name nothing. :func:`config_for_this_folder` finds each such file beside
the config's own recipe (the nearest ancestor folder of ``config.yaml`` where it exists) and, when
one had to be found there, returns a copy of the config with absolute paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from espnet2_speecht5.runtime.types import PathLike

# Options that name a file the model needs when it is built for inference.
FILE_OPTIONS: Tuple[Tuple[str, ...], ...] = (("bpemodel",), ("normalize_conf", "stats_file"))


def _get(config: Dict[str, Any], keys: Tuple[str, ...]) -> Optional[str]:
    value: Any = config
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value if isinstance(value, str) and value else None


def _set(config: Dict[str, Any], keys: Tuple[str, ...], value: str) -> None:
    for key in keys[:-1]:
        config = config[key]
    config[keys[-1]] = value


def resolved_file_options(config_path: PathLike, config: Dict[str, Any]) -> Dict[Tuple[str, ...], str]:
    """The file options of ``config`` that name nothing from the working folder but an existing
    file from an ancestor folder of ``config_path``: ``{keys: absolute path}``."""
    found: Dict[Tuple[str, ...], str] = {}
    ancestors = Path(config_path).resolve().parents
    for keys in FILE_OPTIONS:
        value = _get(config, keys)
        if value is None or Path(value).is_absolute() or Path(value).exists():
            continue
        for folder in ancestors:
            if (folder / value).is_file():
                found[keys] = str(folder / value)
                break
    return found


def config_for_this_folder(config_path: PathLike, workdir: PathLike) -> Path:
    """``config_path``, or a copy written into ``workdir`` whose relative file options point at the
    files beside the recipe that wrote it (see the module docstring)."""
    import yaml

    config_path = Path(config_path)
    with open(config_path, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    if not isinstance(config, dict):
        return config_path
    found = resolved_file_options(config_path, config)
    if not found:
        return config_path
    for keys, path in found.items():
        _set(config, keys, path)
    copy = Path(workdir) / config_path.name
    with open(copy, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False, allow_unicode=True)
    return copy
