"""Load HiFi-GAN generator weights from a transformers folder or an official SpeechT5 release checkpoint.

Two layouts are understood:

* transformers (``SpeechT5HifiGan.save_pretrained``): a folder with ``config.json`` and ``model.safetensors``
  (or ``pytorch_model.bin``); layers ``conv_pre``, ``upsampler.{i}``, ``resblocks.{r}.convs1|convs2.{j}``,
  ``conv_post`` and the ``mean``/``scale`` buffers.
* official release (ParallelWaveGAN-style training checkpoint): a torch file whose ``["model"]["generator"]``
  holds ``input_conv``, ``upsamples.{i}.1``, ``blocks.{r}.convs1|convs2.{j}.1`` and ``output_conv.1`` (the
  ``.1`` skips the activation stored at index 0 of each sequential), with weight normalisation kept as
  ``weight_g``/``weight_v``; the normalisation statistics live in a separate ``stats.npy`` of shape (2, 80):
  row 0 the mean, row 1 the scale.

Weight-normalised layers are folded into plain weights. Files are read only with safetensors, weights-only
``torch.load`` and ``numpy.load(allow_pickle=False)``; any unreadable file, missing tensor or wrong shape
raises a one-line ``DataError`` naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch

from espnet2_speecht5.checkpoint.io import load_checkpoint
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike
from espnet2_speecht5.vocoder.hifigan import HifiGanConfig, HifiGanGenerator

TRANSFORMERS_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# Current transformers writes "speecht5_hifigan"; the published microsoft/speecht5_hifigan config predates it.
TRANSFORMERS_MODEL_TYPES = ("speecht5_hifigan", "hifigan")
OFFICIAL_STATS_FILE = "stats.npy"

# Layer prefix in our generator -> layer prefix in the source file.
LayerMap = Dict[str, str]


def fold_weight_norm(magnitude: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """Plain weight of a weight-normalised layer (normalised over every dimension but the first).

    Args:
        magnitude: ``weight_g``, (D0, 1, ..., 1).
        direction: ``weight_v``, (D0, D1, ..., Dk).

    Returns:
        (D0, D1, ..., Dk) weight ``g * v / ||v||``.
    """
    norm = torch.linalg.vector_norm(direction, dim=tuple(range(1, direction.dim())), keepdim=True)
    return direction * (magnitude / norm)


def _our_layers(config: HifiGanConfig):
    """Yields (our prefix, stage, stack, unit, part) for every conv; stage is None for the input/output convs."""
    yield "input_conv", None, None, None, "input"
    for stage in range(len(config.upsample_rates)):
        yield f"stages.{stage}.upsample", stage, None, None, "upsample"
        for stack, dilations in enumerate(config.resblock_dilation_sizes):
            for unit in range(len(dilations)):
                for part in ("dilated", "smooth"):
                    yield f"stages.{stage}.stacks.{stack}.{part}.{unit}", stage, stack, unit, part
    yield "output_conv", None, None, None, "output"


def transformers_layer_map(config: HifiGanConfig) -> LayerMap:
    """Our conv prefixes -> transformers ``SpeechT5HifiGan`` prefixes."""
    per_stage = len(config.resblock_kernel_sizes)
    names: LayerMap = {}
    for ours, stage, stack, unit, part in _our_layers(config):
        if part == "input":
            names[ours] = "conv_pre"
        elif part == "output":
            names[ours] = "conv_post"
        elif part == "upsample":
            names[ours] = f"upsampler.{stage}"
        else:
            convs = "convs1" if part == "dilated" else "convs2"
            names[ours] = f"resblocks.{stage * per_stage + stack}.{convs}.{unit}"
    return names


def official_layer_map(config: HifiGanConfig) -> LayerMap:
    """Our conv prefixes -> official (ParallelWaveGAN-style) generator prefixes."""
    per_stage = len(config.resblock_kernel_sizes)
    names: LayerMap = {}
    for ours, stage, stack, unit, part in _our_layers(config):
        if part == "input":
            names[ours] = "input_conv"
        elif part == "output":
            names[ours] = "output_conv.1"
        elif part == "upsample":
            names[ours] = f"upsamples.{stage}.1"
        else:
            convs = "convs1" if part == "dilated" else "convs2"
            names[ours] = f"blocks.{stage * per_stage + stack}.{convs}.{unit}.1"
    return names


def _tensor(state: Dict[str, Any], name: str, path: Path) -> torch.Tensor:
    value = state.get(name)
    if value is None:
        raise DataError(f"missing tensor '{name}'", path=path)
    if not isinstance(value, torch.Tensor):
        raise DataError(f"entry '{name}' is a {type(value).__name__}, not a tensor", path=path)
    return value


def _layer_weight(state: Dict[str, Any], prefix: str, path: Path) -> torch.Tensor:
    """The plain weight of layer ``prefix``: stored as is, or as weight-norm parts (old or parametrization names)."""
    if f"{prefix}.weight" in state:
        return _tensor(state, f"{prefix}.weight", path)
    for g_name, v_name in (
        (f"{prefix}.weight_g", f"{prefix}.weight_v"),
        (f"{prefix}.parametrizations.weight.original0", f"{prefix}.parametrizations.weight.original1"),
    ):
        if g_name in state or v_name in state:
            return fold_weight_norm(_tensor(state, g_name, path).float(), _tensor(state, v_name, path).float())
    raise DataError(f"missing tensor '{prefix}.weight' (nor weight-norm '{prefix}.weight_g'/'weight_v')", path=path)


def _reject_unexpected(state: Dict[str, Any], layers: LayerMap, path: Path) -> None:
    """A tensor belonging to no mapped layer means the configuration does not describe these weights."""
    known = set(layers.values())
    for name in sorted(state):
        if name in ("mean", "scale"):
            continue
        layer = name.split(".parametrizations.")[0] if ".parametrizations." in name else name.rsplit(".", 1)[0]
        if layer not in known:
            raise DataError(f"unexpected tensor '{name}': the generator configuration does not match", path=path)


def fill_generator(
    generator: HifiGanGenerator,
    state: Dict[str, Any],
    layers: LayerMap,
    mean: torch.Tensor,
    scale: torch.Tensor,
    path: Path,
) -> HifiGanGenerator:
    """Copy the convs named by ``layers`` and the (num_mels,) ``mean``/``scale`` into ``generator``."""
    wanted = generator.state_dict()
    _reject_unexpected(state, layers, path)
    source_of = {"mean": "mean", "scale": "scale"}
    new_state: Dict[str, torch.Tensor] = {"mean": mean.reshape(-1), "scale": scale.reshape(-1)}
    for ours, theirs in layers.items():
        new_state[f"{ours}.weight"] = _layer_weight(state, theirs, path)
        new_state[f"{ours}.bias"] = _tensor(state, f"{theirs}.bias", path)
        source_of[f"{ours}.weight"] = f"{theirs}.weight"
        source_of[f"{ours}.bias"] = f"{theirs}.bias"
    for name, tensor in new_state.items():
        if tuple(tensor.shape) != tuple(wanted[name].shape):
            raise DataError(
                f"tensor '{source_of[name]}' has shape {tuple(tensor.shape)}, expected {tuple(wanted[name].shape)}",
                path=path,
            )
    generator.load_state_dict({k: v.float() for k, v in new_state.items()}, strict=True)
    return generator.eval()


def read_transformers_config(folder: Path) -> HifiGanConfig:
    """The generator sizes from ``folder/config.json``."""
    path = folder / "config.json"
    if not path.is_file():
        raise DataError("missing config.json of a transformers SpeechT5HifiGan folder", path=path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"unreadable JSON ({err})", path=path) from None
    if not isinstance(raw, dict):
        raise DataError("config.json does not hold a JSON object", path=path)
    model_type = raw.get("model_type", TRANSFORMERS_MODEL_TYPES[0])
    if model_type not in TRANSFORMERS_MODEL_TYPES:
        expected = " or ".join(f"'{name}'" for name in TRANSFORMERS_MODEL_TYPES)
        raise DataError(f"model_type is '{model_type}', expected {expected} (a HiFi-GAN vocoder)", path=path)
    try:
        return HifiGanConfig.from_transformers(raw)
    except (TypeError, ValueError) as err:
        raise DataError(f"bad HiFi-GAN configuration ({err})", path=path) from None


def _flat_state(obj: Any, path: Path) -> Dict[str, Any]:
    if not isinstance(obj, dict):
        raise DataError(f"expected a dictionary of tensors, found a {type(obj).__name__}", path=path)
    return obj


def load_transformers_hifigan(folder: PathLike) -> HifiGanGenerator:
    """Generator from a transformers ``SpeechT5HifiGan`` folder (``config.json`` + ``model.safetensors`` or
    ``pytorch_model.bin``), in eval mode."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("not a transformers model folder", path=folder)
    config = read_transformers_config(folder)
    weights = next((folder / name for name in TRANSFORMERS_WEIGHT_FILES if (folder / name).is_file()), None)
    if weights is None:
        raise DataError(f"no weights file ({' or '.join(TRANSFORMERS_WEIGHT_FILES)})", path=folder)
    state = _flat_state(load_checkpoint(weights), weights)
    mean, scale = _tensor(state, "mean", weights), _tensor(state, "scale", weights)
    return fill_generator(HifiGanGenerator(config), state, transformers_layer_map(config), mean, scale, weights)


def read_stats(path: PathLike, num_mels: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """(mean (num_mels,), scale (num_mels,)) from a ``stats.npy`` holding an array of shape (2, ...)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("missing HiFi-GAN statistics file (mean and scale, shape (2, n_mels))", path=path)
    try:
        stats = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"truncated or corrupt .npy statistics file ({err})", path=path) from None
    if not isinstance(stats, np.ndarray) or stats.shape[:1] != (2,) or stats[0].size != num_mels:
        raise DataError(f"statistics must have shape (2, {num_mels}), found {getattr(stats, 'shape', '?')}", path=path)
    if not np.issubdtype(stats.dtype, np.floating):
        raise DataError(f"statistics must be floating point, found {stats.dtype}", path=path)
    mean = torch.from_numpy(np.ascontiguousarray(stats[0].reshape(-1), dtype=np.float32))
    scale = torch.from_numpy(np.ascontiguousarray(stats[1].reshape(-1), dtype=np.float32))
    return mean, scale


def _official_generator_state(raw: Any, path: Path) -> Dict[str, Any]:
    """The generator's state dict inside a training checkpoint (``["model"]["generator"]``), or the file itself."""
    state = _flat_state(raw, path)
    model = state.get("model")
    if isinstance(model, dict) and isinstance(model.get("generator"), dict):
        return model["generator"]
    if isinstance(state.get("generator"), dict):
        return state["generator"]
    if any(key.startswith("input_conv.") for key in state):
        return state
    raise DataError("no HiFi-GAN generator found (expected ['model']['generator'])", path=path)


def load_official_hifigan(
    checkpoint: PathLike, stats: Optional[PathLike] = None, config: Optional[HifiGanConfig] = None
) -> HifiGanGenerator:
    """Generator from an official SpeechT5 HiFi-GAN checkpoint and its statistics, in eval mode.

    Args:
        checkpoint: the torch training checkpoint (weights-only loadable).
        stats: the (2, num_mels) ``.npy`` statistics; default ``stats.npy`` beside the checkpoint.
        config: generator sizes; default the released vocoder's.
    """
    checkpoint = Path(checkpoint)
    config = config or HifiGanConfig()
    state = _official_generator_state(load_checkpoint(checkpoint), checkpoint)
    stats_path = Path(stats) if stats is not None else checkpoint.parent / OFFICIAL_STATS_FILE
    mean, scale = read_stats(stats_path, config.num_mels)
    return fill_generator(HifiGanGenerator(config), state, official_layer_map(config), mean, scale, checkpoint)


def load_hifigan(path: PathLike, stats: Optional[PathLike] = None) -> HifiGanGenerator:
    """A folder is read as a transformers ``SpeechT5HifiGan``; a file as an official checkpoint (+ ``stats``)."""
    path = Path(path)
    if path.is_dir():
        if stats is not None:
            raise DataError("a statistics file is only used with an official checkpoint, not a folder", path=path)
        return load_transformers_hifigan(path)
    if path.is_file():
        return load_official_hifigan(path, stats)
    raise DataError("no such HiFi-GAN folder or checkpoint file", path=path)
