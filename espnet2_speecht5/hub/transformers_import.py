"""Turn a transformers SpeechT5 folder into an ESPnet experiment of ours: ``config.yaml`` + weights.

A folder written by transformers (e.g. ``microsoft/speecht5_asr`` or ``microsoft/speecht5_tts``)
holds ``config.json``, ``model.safetensors`` (or ``pytorch_model.bin``) and the files of
``SpeechT5Tokenizer`` (``spm_char.model``, ``tokenizer_config.json``, ``added_tokens.json``,
``special_tokens_map.json``). :func:`convert_transformers_folder` writes what our inference
classes read: an ESPnet training ``config.yaml`` (ASRTask or TTSTask) and a full model state
dict (``model.safetensors``).

**Token ids.** transformers numbers tokens as the tokenizer does: the sentencepiece pieces by
their piece id (``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3, characters after them), then the
added tokens (``<mask>``, ``<ctc_blank>``) at the ids the tokenizer files give. Our models speak
ESPnet ids (``<blank>`` 0, ``<unk>`` 1, ..., ``<sos/eos>`` V - 1) and their networks ESPnet ids
with 0 and 1 swapped (:func:`espnet2_speecht5.models.common.id_permutation`). The token list is:

* ``<blank>`` <- the model's padding token (network id 1, transformers' ``pad_token_id``, so the
  sinusoidal positions, which count from the padding id, stay the same);
* ``<unk>`` <- the tokenizer's unknown token;
* every other token of the tokenizer, in transformers' id order, under its own name (``<s>``,
  the characters with ``▁`` as the word boundary, ``<mask>``, ...);
* ``<sos/eos>`` <- ``</s>`` (transformers' end token, which is also the decoder start).

The rows of the text embeddings (and of an untied output projection) are reordered to match, so
that our model computes, for the same text, what transformers computes, logit for logit. Ids we
cannot represent are dropped, with a logged note: embedding rows that no token names, tokens whose
id is outside the embedding, and a second token with a name already taken. The ESPnet tokenizer
of the config is sentencepiece (``token_type: bpe``) on a copy of ``spm_char.model``.

**ASR.** transformers has no CTC head; ours is added with zero weights (a uniform distribution),
marked as untrained in the config's header, the marker file and the log, and ``model_conf`` sets
``ctc_weight: 0.0``; decode with ``ctc_weight=0``. **TTS.** transformers' tokenizer ends the text
with ``</s>``, so ``model_conf`` sets ``append_eos: true``.

**Cache.** The conversion is written into a temporary folder beside ``outdir`` and renamed into
place. ``outdir/transformers_import.json`` records the source files (size and mtime); a later
call for the same, unchanged source returns the existing files without converting again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch

from espnet2_speecht5.checkpoint.convert import check_state, read_hf_folder
from espnet2_speecht5.checkpoint.io import CheckpointError, save_safetensors, save_text
from espnet2_speecht5.checkpoint.pack_keys import pack_keys
from espnet2_speecht5.checkpoint.transformers_targets import TARGETS, TransformersTarget, task_class
from espnet2_speecht5.models.common import NET_PAD_ID, id_permutation
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger(__name__)

ARCHITECTURE_TASKS = {
    "SpeechT5ForSpeechToText": "asr",
    "SpeechT5ForTextToSpeech": "tts",
    "SpeechT5ForSpeechToSpeech": "vc",
}
SPM_FILE = "spm_char.model"
TOKENIZER_FILES = ("tokenizer_config.json", "added_tokens.json", "special_tokens_map.json")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
MARKER = "transformers_import.json"
MARKER_VERSION = 1
CONFIG_NAME = "config.yaml"
MODEL_NAME = "model.safetensors"
# rows indexed by token id, in our network's key names
VOCAB_KEYS = (
    "text_prenet.embed_tokens.weight",
    "text_decoder_prenet.embed_tokens.weight",
    "text_decoder_postnet.lm_head",
)
RESERVED = ("<blank>", "<unk>", "<sos/eos>")
DEFAULT_SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}


# ------------------------------------------------------------------------------ config.json


def read_hf_config(folder: PathLike) -> Dict[str, Any]:
    """``folder/config.json`` as a dict; a one-line :class:`CheckpointError` if missing or broken."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise CheckpointError("no config.json: not a transformers model folder", folder)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"invalid JSON ({err})", path) from None
    if not isinstance(values, dict):
        raise CheckpointError("is not a JSON object", path)
    return values


def transformers_task(folder: PathLike) -> str:
    """``asr``, ``tts`` or ``vc`` from the ``architectures`` of ``folder/config.json``.

    Raises:
        CheckpointError: no or broken config.json, or no SpeechT5 architecture in it.
    """
    archs = read_hf_config(folder).get("architectures")
    names = archs if isinstance(archs, list) else [archs]
    tasks = [ARCHITECTURE_TASKS[a] for a in names if isinstance(a, str) and a in ARCHITECTURE_TASKS]
    if not tasks:
        raise CheckpointError(
            f"architectures {archs!r} name no SpeechT5 model (expected one of {', '.join(ARCHITECTURE_TASKS)})",
            Path(folder) / "config.json",
        )
    return tasks[0]


# ------------------------------------------------------------------------------- tokenizer


@dataclass
class HFVocabulary:
    """The tokenizer's numbering: ``names[i]`` is the token with transformers id ``i`` (None: a gap)."""

    names: List[Optional[str]]
    unk_id: int
    eos_id: int
    normalize: bool = False


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"invalid JSON ({err})", path) from None


def _token_text(value: Any) -> Optional[str]:
    """A special-token entry (a string or ``{"content": ...}``) -> its text."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _tokenizer_settings(folder: Path) -> Tuple[Dict[int, str], Dict[str, str], bool]:
    """Added tokens (id -> text), special token texts (``unk_token``, ``eos_token``, ...) and ``normalize``."""
    added: Dict[int, str] = {}
    specials = dict(DEFAULT_SPECIALS)
    normalize = False
    config_path = folder / "tokenizer_config.json"
    if config_path.is_file():
        config = _read_json(config_path)
        if not isinstance(config, dict):
            raise CheckpointError("is not a JSON object", config_path)
        for key, entry in (config.get("added_tokens_decoder") or {}).items():
            text = _token_text(entry)
            if text is None or not str(key).isdigit():
                raise CheckpointError(f"added_tokens_decoder entry {key!r} is not 'id: {{content: ...}}'", config_path)
            added[int(key)] = text
        specials.update({k: _token_text(config[k]) for k in DEFAULT_SPECIALS if _token_text(config.get(k))})
        normalize = bool(config.get("normalize", False))
    added_path = folder / "added_tokens.json"
    if added_path.is_file():
        entries = _read_json(added_path)
        if not isinstance(entries, dict) or not all(isinstance(v, int) for v in entries.values()):
            raise CheckpointError("expected an object {token: id}", added_path)
        added.update({index: text for text, index in entries.items()})
    map_path = folder / "special_tokens_map.json"
    if map_path.is_file():
        entries = _read_json(map_path)
        if isinstance(entries, dict):
            specials.update({k: _token_text(entries[k]) for k in DEFAULT_SPECIALS if _token_text(entries.get(k))})
    return added, specials, normalize


def read_hf_vocabulary(folder: PathLike) -> HFVocabulary:
    """The token numbering of the folder's ``SpeechT5Tokenizer``, read from its files.

    Pieces of ``spm_char.model`` keep their piece ids; added tokens take the ids of
    ``tokenizer_config.json`` (``added_tokens_decoder``) and ``added_tokens.json``.

    Raises:
        CheckpointError: no or broken ``spm_char.model``, broken JSON, or an unknown/end token
            that the vocabulary does not hold.
    """
    import sentencepiece as spm

    folder = Path(folder)
    spm_path = folder / SPM_FILE
    if not spm_path.is_file():
        raise CheckpointError(f"no {SPM_FILE} (the SpeechT5Tokenizer's sentencepiece model)", folder)
    processor = spm.SentencePieceProcessor()
    try:
        processor.Load(str(spm_path))
    except (OSError, RuntimeError) as err:
        raise CheckpointError(f"not a sentencepiece model ({str(err).strip().splitlines()[0]})", spm_path) from None
    added, specials, normalize = _tokenizer_settings(folder)
    size = max([processor.get_piece_size()] + [i + 1 for i in added])
    names: List[Optional[str]] = [None] * size
    for index in range(processor.get_piece_size()):
        names[index] = processor.id_to_piece(index)
    for index, text in added.items():
        names[index] = text
    ids = _first_ids(names)
    for key in ("unk_token", "eos_token"):
        if specials[key] not in ids:
            raise CheckpointError(f"the tokenizer's {key} {specials[key]!r} is not in its vocabulary", folder)
    return HFVocabulary(names, ids[specials["unk_token"]], ids[specials["eos_token"]], normalize)


def _first_ids(names: List[Optional[str]]) -> Dict[str, int]:
    ids: Dict[str, int] = {}
    for index, name in enumerate(names):
        if name is not None:
            ids.setdefault(name, index)
    return ids


@dataclass
class TokenMapping:
    """Our ESPnet token list and, for each ESPnet id, the transformers id it stands for.

    ``dropped`` lists (transformers id, why) for the ids left out.
    """

    token_list: List[str]
    hf_ids: List[int]
    dropped: List[Tuple[int, str]] = field(default_factory=list)

    def net_rows(self) -> torch.Tensor:
        """(V,) long: for each network id, the transformers id whose embedding row it takes."""
        espnet_of_net = id_permutation(len(self.hf_ids))  # an involution: also network id -> ESPnet id
        return torch.tensor(self.hf_ids, dtype=torch.long)[espnet_of_net]


def token_mapping(vocab: HFVocabulary, vocab_size: int, pad_id: int) -> TokenMapping:
    """Build the ESPnet token list for a model of ``vocab_size`` rows whose padding id is ``pad_id``.

    Raises:
        CheckpointError (without a path; the caller adds it): padding, unknown and end ids that
            coincide or lie outside the embedding.
    """
    fixed = {"<blank>": pad_id, "<unk>": vocab.unk_id, "<sos/eos>": vocab.eos_id}
    if len(set(fixed.values())) < 3:
        raise CheckpointError(f"the padding, unknown and end tokens must differ, got ids {fixed}")
    for name, index in fixed.items():
        if not 0 <= index < vocab_size:
            raise CheckpointError(f"the id {index} taken for {name} is outside the {vocab_size}-row embedding")
    tokens, hf_ids, dropped = ["<blank>", "<unk>"], [pad_id, vocab.unk_id], []
    taken = set(RESERVED)
    for index in range(max(vocab_size, len(vocab.names))):
        if index in fixed.values():
            continue
        name = vocab.names[index] if index < len(vocab.names) else None
        if index >= vocab_size:
            dropped.append((index, f"token {name!r} is outside the {vocab_size}-row embedding"))
        elif name is None:
            dropped.append((index, "no token of the tokenizer has this id"))
        elif name in taken:
            dropped.append((index, f"the name {name!r} is already taken"))
        else:
            tokens.append(name)
            hf_ids.append(index)
            taken.add(name)
    tokens.append("<sos/eos>")
    hf_ids.append(vocab.eos_id)
    return TokenMapping(tokens, hf_ids, dropped)


def permute_vocab_rows(state: Dict[str, torch.Tensor], rows: torch.Tensor) -> Dict[str, torch.Tensor]:
    """A copy of our network ``state`` whose token-indexed tensors (V_hf, D) keep ``rows`` (V,), in that order."""
    out = dict(state)
    for key in VOCAB_KEYS:
        if key in out:
            out[key] = out[key].index_select(0, rows).clone()
    return out


# ---------------------------------------------------------------------------------- configs


def _net_conf(cfg: SpeechT5Config) -> Dict[str, Any]:
    """Our ``net_conf``: every network field of ``cfg`` except those the token list decides."""
    from espnet2_speecht5.tasks.common import NET_CONF_RESERVED

    values = {k: v for k, v in cfg.to_dict().items() if k not in NET_CONF_RESERVED}
    return {"size": "base", **values}


def _model_conf(target: TransformersTarget) -> Dict[str, Any]:
    """The model options of a converted folder: the task's defaults, no CTC in decoding (its head is untrained)."""
    if target.text_decoder:
        from espnet2_speecht5.tasks.asr import DEFAULT_MODEL_CONF

        return {**DEFAULT_MODEL_CONF, "ctc_weight": 0.0}
    return {"append_eos": True, "use_speaker_embedding": True, "prenet_dropout_at_inference": True}


def _task_args(target: TransformersTarget, outdir: Path, mapping: TokenMapping, cfg: SpeechT5Config) -> Dict[str, Any]:
    """The complete training configuration, as ESPnet writes it to config.yaml (final paths of ``outdir``)."""
    from espnet import __version__ as espnet_version

    model_conf = _model_conf(target)
    args = task_class(target).get_parser().parse_args(["--output_dir", str(outdir), "--token_list", "tokens.txt"])
    args.token_list = list(mapping.token_list)
    args.token_type = "bpe"
    args.bpemodel = str(outdir / SPM_FILE)
    args.net_conf = _net_conf(cfg)
    args.model_conf = model_conf
    args.version = espnet_version
    args.distributed = False
    return vars(args)


def _config_text(args: Dict[str, Any], folder: Path, target: TransformersTarget) -> str:
    from espnet2.utils.yaml_no_alias_safe_dump import yaml_no_alias_safe_dump

    header = [f"# converted from the transformers SpeechT5 folder {folder}"]
    if target.untrained_note:
        header.append(f"# {target.untrained_note}")
    return "\n".join(header) + "\n" + yaml_no_alias_safe_dump(args, indent=4, sort_keys=False)


# ------------------------------------------------------------------------------------ cache


def _weights_file(folder: Path) -> Path:
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise CheckpointError(f"no {' or '.join(WEIGHT_FILES)} in the transformers folder", folder)


def source_fingerprint(folder: PathLike) -> Dict[str, Any]:
    """What a conversion depends on: the folder and the size and mtime of each source file."""
    folder = Path(folder).resolve()
    files: Dict[str, Dict[str, int]] = {}
    for path in [_weights_file(folder), folder / "config.json", folder / SPM_FILE] + [
        folder / name for name in TOKENIZER_FILES
    ]:
        if path.is_file():
            stat = path.stat()
            files[path.name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return {"source": str(folder), "files": files}


def _outputs(task: str, outdir: Path) -> Dict[str, str]:
    config_key, model_key = pack_keys(TARGETS[task].pack_kind)
    return {config_key: str(outdir / CONFIG_NAME), model_key: str(outdir / MODEL_NAME)}


def cached_conversion(folder: PathLike, outdir: PathLike) -> Optional[Dict[str, str]]:
    """The outputs of a complete conversion of the unchanged ``folder`` already in ``outdir``, else None."""
    outdir = Path(outdir)
    marker = outdir / MARKER
    if not marker.is_file():
        return None
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict) or record.get("version") != MARKER_VERSION:
        return None
    if record.get("fingerprint") != source_fingerprint(folder) or record.get("task") not in TARGETS:
        return None
    outputs = _outputs(record["task"], outdir.resolve())
    if not all(Path(p).is_file() for p in outputs.values()) or not (outdir / SPM_FILE).is_file():
        return None
    return outputs


def _install(tmp: Path, outdir: Path, folder: Path) -> None:
    """Rename the finished ``tmp`` to ``outdir``, replacing an outdated ``outdir``."""
    old: Optional[Path] = None
    if outdir.exists():
        old = outdir.parent / f".{outdir.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(outdir, old)
    try:
        os.replace(tmp, outdir)
    except OSError:
        # another process installed its conversion in between: keep it if it is complete
        if cached_conversion(folder, outdir) is None:
            if old is not None and not outdir.exists():
                os.replace(old, outdir)
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------------------- conversion


def _check_special_ids(target: TransformersTarget, cfg: SpeechT5Config, vocab: HFVocabulary, config_path: Path) -> None:
    if target.text_decoder and cfg.pad_id != NET_PAD_ID:
        raise CheckpointError(
            f"pad_token_id is {cfg.pad_id}; our speech-to-text network pads (and numbers positions) with {NET_PAD_ID}",
            config_path,
        )
    if vocab.eos_id != cfg.eos_id:
        raise CheckpointError(
            f"eos_token_id {cfg.eos_id} differs from the tokenizer's end token (id {vocab.eos_id})", config_path
        )
    if target.text_decoder and cfg.decoder_start_id != cfg.eos_id:
        raise CheckpointError(
            f"decoder_start_token_id {cfg.decoder_start_id} differs from eos_token_id {cfg.eos_id}; our decoder "
            "starts with <sos/eos>",
            config_path,
        )


def _model_state(
    target: TransformersTarget, config_file: Path, net_state: Dict[str, torch.Tensor], source: Path
) -> Dict[str, torch.Tensor]:
    """Our full ESPnet model state: the network under ``net.``, zeros for what transformers lacks (ASR's CTC
    head), and the model's own constants (the log-mel filterbank of TTS) as the config builds them."""
    model, _ = task_class(target).build_model_from_file(config_file, None, "cpu")
    expected = model.state_dict()
    state = {k: v for k, v in expected.items() if not k.startswith("net.")}
    state.update({f"net.{k}": v for k, v in net_state.items()})
    for key in target.untrained:
        state[key] = torch.zeros_like(expected[key])
    for key in expected:
        if key not in state:
            raise CheckpointError(f"the converted weights lack '{key}'", source)
        if tuple(state[key].shape) != tuple(expected[key].shape):
            raise CheckpointError(
                f"'{key}' has shape {tuple(state[key].shape)}, the config builds {tuple(expected[key].shape)}", source
            )
    unknown = sorted(set(state) - set(expected))
    if unknown:
        raise CheckpointError(f"no place in our model for '{unknown[0]}' ({len(unknown)} in all)", source)
    return {k: state[k].to(expected[k].dtype) for k in expected}


def _log_notes(mapping: TokenMapping, vocab: HFVocabulary, target: TransformersTarget, folder: Path) -> None:
    for index, why in mapping.dropped:
        logger.warning("%s: transformers token id %d is left out of our token list: %s", folder, index, why)
    if vocab.normalize:
        logger.warning("%s: the tokenizer spells out numbers (normalize: true); our tokenizer does not", folder)
    if target.untrained_note:
        logger.warning("%s: transformers has no counterpart: %s", folder, target.untrained_note)


def _write_conversion(target: TransformersTarget, folder: Path, tmp: Path, outdir: Path) -> Dict[str, Any]:
    """Convert ``folder`` into ``tmp`` (configs name the final ``outdir``); returns the marker record."""
    config_path = folder / "config.json"
    weights = _weights_file(folder)
    conv, unknown = read_hf_folder(folder, kind=target.kind)
    vocab = read_hf_vocabulary(folder)
    _check_special_ids(target, conv.cfg, vocab, config_path)
    try:
        mapping = token_mapping(vocab, conv.cfg.vocab_size, conv.cfg.pad_id)
    except CheckpointError as err:
        raise CheckpointError(err.message, config_path) from None
    net_state = permute_vocab_rows(check_state(conv, weights, unknown), mapping.net_rows())
    _log_notes(mapping, vocab, target, folder)

    shutil.copyfile(folder / SPM_FILE, tmp / SPM_FILE)
    args = _task_args(target, outdir, mapping, conv.cfg)
    save_text(_config_text(args, folder, target), tmp / CONFIG_NAME)
    state = _model_state(target, tmp / CONFIG_NAME, net_state, weights)
    metadata = {"format": "pt", "source": str(folder)}
    if target.untrained:
        metadata["untrained"] = " ".join(target.untrained)
    save_safetensors(state, tmp / MODEL_NAME, metadata=metadata)
    return {
        "version": MARKER_VERSION,
        "task": target.task,
        "fingerprint": source_fingerprint(folder),
        "untrained": list(target.untrained),
        "dropped_tokens": [{"id": index, "why": why} for index, why in mapping.dropped],
        "espnet_to_transformers_ids": mapping.hf_ids,
    }


def convert_transformers_folder(folder: PathLike, outdir: PathLike) -> Dict[str, str]:
    """Convert a transformers SpeechT5 ASR or TTS folder into ``outdir`` (skipped when already done).

    Args:
        folder: config.json, model.safetensors or pytorch_model.bin, and the tokenizer files.
        outdir: where config.yaml, model.safetensors, spm_char.model and the marker go.

    Returns:
        ASR: ``{"asr_train_config": ..., "asr_model_file": ...}``; TTS: ``{"train_config": ...,
        "model_file": ...}`` (absolute paths), the keyword arguments of Speech2Text / Text2Speech.

    Raises:
        CheckpointError: a broken or incomplete folder (one line naming the file), or a
            SpeechToSpeech (vc) folder, which this converter does not handle.
    """
    folder = Path(folder).resolve()
    outdir = Path(outdir).absolute()
    task = transformers_task(folder)
    if task not in TARGETS or not TARGETS[task].importable:
        raise CheckpointError(
            f"a SpeechT5ForSpeechToSpeech ({task}) folder is not converted into an ESPnet experiment; "
            "Speech2Speech reads it directly (espnet2_speecht5.checkpoint.convert.read_hf_folder)",
            folder / "config.json",
        )
    _weights_file(folder)
    cached = cached_conversion(folder, outdir)
    if cached is not None:
        logger.info("%s: already converted in %s", folder, outdir)
        return cached
    outdir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.tmp-", dir=outdir.parent))
    try:
        record = _write_conversion(TARGETS[task], folder, tmp, outdir)
        save_text(json.dumps(record, indent=2) + "\n", tmp / MARKER)
        _install(tmp, outdir, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    logger.info("%s: converted to %s", folder, outdir)
    return _outputs(task, outdir)
