"""Conversions between transformers folders, official fairseq checkpoints and our state dicts.

Our format is a plain torch state dict (``.pth``, what ESPnet's ``--init_param`` reads) with
the keys of :mod:`espnet2_speecht5.nets.compositions`, optionally under a prefix, plus a JSON
sidecar (same name, ``.json``) holding the network kind and our config.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch

from espnet2_speecht5.checkpoint import fairseq_mapping, hf_mapping
from espnet2_speecht5.checkpoint.io import CheckpointError, load_checkpoint, save_safetensors, save_text, save_torch
from espnet2_speecht5.nets.compositions import build_network
from espnet2_speecht5.nets.config import SpeechT5Config

log = logging.getLogger(__name__)

HF_KIND = {v: k for k, v in hf_mapping.HF_ARCHITECTURES.items()}


@dataclass
class Converted:
    """A network's weights with our keys (no prefix), its kind and config, and what was left out."""

    state: Dict[str, torch.Tensor]
    kind: str
    cfg: SpeechT5Config
    skipped: List[str] = field(default_factory=list)
    # the token list of the text rows (a transformers folder's spm_char.model pieces), when known
    tokens: Optional[List[str]] = None


def _list(title: str, keys: List[str]) -> None:
    log.warning("%s (%d):", title, len(keys))
    for key in keys:
        log.warning("  %s", key)


def check_state(
    conv: Converted,
    source: Path,
    unknown: List[str],
    allow_missing: bool = False,
    allow_unexpected: bool = False,
) -> Dict[str, torch.Tensor]:
    """Match converted weights against a freshly built network of the same kind and config.

    Unknown and missing keys are listed (log warnings); the conversion stops with a one-line
    :class:`CheckpointError` naming the first of them unless allowed. A wrong shape always stops it.
    Missing entries, when allowed, keep the fresh network's initial values.

    Returns:
        the complete state dict of our network.
    """
    net = build_network(conv.kind, conv.cfg)
    expected = net.state_dict()
    extra = sorted(set(unknown) | (set(conv.state) - set(expected)))
    missing = sorted(set(expected) - set(conv.state))
    for key in sorted(set(conv.state) & set(expected)):
        if tuple(conv.state[key].shape) != tuple(expected[key].shape):
            raise CheckpointError(
                f"wrong shape for key '{key}': {tuple(conv.state[key].shape)} in the checkpoint, "
                f"{tuple(expected[key].shape)} expected",
                source,
            )
    if extra:
        _list("unexpected keys", extra)
        if not allow_unexpected:
            raise CheckpointError(
                f"unexpected key '{extra[0]}' ({len(extra)} in all, listed above); "
                "pass --allow_unexpected to drop them",
                source,
            )
    if missing:
        _list("missing keys", missing)
        if not allow_missing:
            raise CheckpointError(
                f"missing key '{missing[0]}' ({len(missing)} in all, listed above); "
                "pass --allow_missing to keep fresh initial values",
                source,
            )
    complete = dict(expected)
    complete.update({k: v for k, v in conv.state.items() if k in expected})
    return complete


def _flat_tensors(obj: Any, source: Path) -> Dict[str, torch.Tensor]:
    if not isinstance(obj, dict):
        raise CheckpointError(f"expected a dict of tensors, found {type(obj).__name__}", source)
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"key '{key}' is a {type(value).__name__}, not a tensor", source)
    return obj


def read_hf_folder(folder: Path, kind: Optional[str] = None) -> Tuple[Converted, List[str]]:
    """A transformers SpeechT5 folder (config.json + model.safetensors or pytorch_model.bin)."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise CheckpointError("no config.json in the transformers folder", folder)
    try:
        hf_cfg = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"invalid JSON ({err})", config_path) from None
    if kind is None:
        archs = hf_cfg.get("architectures") or []
        kinds = [HF_KIND[a] for a in archs if a in HF_KIND]
        if not kinds:
            raise CheckpointError(f"cannot tell the network from architectures {archs}; pass --net", config_path)
        kind = kinds[0]
    weights = folder / "model.safetensors"
    if not weights.is_file():
        weights = folder / "pytorch_model.bin"
    if not weights.is_file():
        raise CheckpointError("no model.safetensors or pytorch_model.bin in the transformers folder", folder)
    state = _flat_tensors(load_checkpoint(weights), weights)
    cfg = hf_mapping.config_from_hf(hf_cfg)
    ours, unknown = hf_mapping.hf_to_ours(state, cfg)
    return Converted(ours, kind, cfg, tokens=read_spm_tokens(folder)), unknown


SPM_FILE = "spm_char.model"  # what SpeechT5Tokenizer saves


def read_spm_tokens(folder: Path) -> Optional[List[str]]:
    """The pieces of a transformers folder's ``spm_char.model``, by id (its text rows' token list), or None."""
    model = folder / SPM_FILE
    if not model.is_file():
        log.info("%s has no %s: the converted checkpoint names no token list", folder, SPM_FILE)
        return None
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor()
    try:
        processor.LoadFromFile(str(model))
    except (OSError, RuntimeError) as err:
        raise CheckpointError(f"not a sentencepiece model ({str(err).splitlines()[0]})", model) from None
    return [processor.IdToPiece(i) for i in range(processor.GetPieceSize())]


def read_fairseq(
    path: Path, flavour: str, kind: Optional[str] = None, overrides: Optional[Dict[str, Any]] = None
) -> Tuple[Converted, List[str]]:
    """An official fairseq SpeechT5 checkpoint (``{'model': state_dict, 'cfg'/'args': ...}``).

    ``flavour`` is the release's task; ``kind`` the network to keep (a task recipe's, or chosen for pretrain).
    """
    obj = load_checkpoint(path)
    state = obj.get("model", obj) if isinstance(obj, dict) else obj
    state = _flat_tensors(state, path)
    if kind is None:
        raise CheckpointError(f"a '{flavour}' checkpoint holds every net: choose one with --net", path)
    try:
        cfg = fairseq_mapping.config_from_fairseq(state, overrides)
    except KeyError as err:
        raise CheckpointError(f"missing key '{err.args[0]}'", path) from None
    except (TypeError, ValueError) as err:
        raise CheckpointError(str(err), path) from None
    ours, unknown, skipped = fairseq_mapping.fairseq_to_ours(state, kind, cfg)
    if flavour != "pretrain":
        # fine-tuned checkpoints hold no pre-training heads; report any as unexpected
        unknown += [k for k in skipped if any(re.search(p, k) for p in fairseq_mapping.PRETRAIN_ONLY)]
    return Converted(ours, kind, cfg, skipped), unknown


def sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def write_ours(state: Dict[str, torch.Tensor], kind: str, cfg: SpeechT5Config, out: Path, prefix: str = "",
               tokens: Optional[List[str]] = None) -> None:
    """Write ``out`` (plain state dict, keys under ``prefix``) and its JSON sidecar, both atomically.

    ``tokens``: the token list of the text rows, kept in the sidecar (``token_list``) so that
    fine-tuning with another list can move the rows by token (:mod:`espnet2_speecht5.checkpoint.token_rows`).
    """
    if prefix and not prefix.endswith("."):
        prefix += "."
    save_torch({prefix + k: v.detach().clone() for k, v in state.items()}, out)
    meta = {"format": "espnet2_speecht5", "network": kind, "prefix": prefix, "config": cfg.to_dict()}
    if tokens is not None:
        meta["token_list"] = list(tokens)
    save_text(json.dumps(meta, indent=2) + "\n", sidecar(out))


def read_ours(path: Path, config: Optional[Path] = None, prefix: Optional[str] = None) -> Tuple[Converted, List[str]]:
    """Our ``.pth`` (or ``.safetensors``) with its JSON sidecar (or an explicit ``config`` JSON).

    ``prefix`` (default: the sidecar's) selects the network's keys, e.g. in an ESPnet model checkpoint.
    """
    meta_path = config or sidecar(path)
    if not meta_path.is_file():
        raise CheckpointError("no JSON sidecar with the network kind and config (pass --config)", meta_path)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        cfg = SpeechT5Config.from_dict(meta["config"])
        kind = meta["network"]
        prefix = meta.get("prefix", "") if prefix is None else prefix
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"invalid sidecar ({err})", meta_path) from None
    if prefix and not prefix.endswith("."):
        prefix += "."
    state = _flat_tensors(load_checkpoint(path), path)
    stripped = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    unknown = [k for k in state if not k.startswith(prefix)]
    return Converted(stripped, kind, cfg, tokens=meta.get("token_list")), unknown


def sidecar_tokens(path: Path) -> Optional[List[str]]:
    """The ``token_list`` of the JSON sidecar beside ``path``, or None (no sidecar, or none in it)."""
    meta_path = sidecar(Path(path))
    if not meta_path.is_file():
        return None
    try:
        tokens = json.loads(meta_path.read_text(encoding="utf-8")).get("token_list")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as err:
        raise CheckpointError(f"invalid sidecar ({err})", meta_path) from None
    return [str(t) for t in tokens] if isinstance(tokens, list) else None


def write_hf_folder(state: Dict[str, torch.Tensor], kind: str, cfg: SpeechT5Config, folder: Path) -> None:
    """Write config.json + model.safetensors loadable by ``SpeechT5For*.from_pretrained``."""
    hf_state, unknown = hf_mapping.ours_to_hf(state)
    if unknown:
        raise CheckpointError(f"no transformers name for key '{unknown[0]}'", folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_safetensors(hf_state, folder / "model.safetensors")
    save_text(json.dumps(hf_mapping.config_to_hf(cfg, kind), indent=2) + "\n", folder / "config.json")
