"""Fine-tuning from a pre-training model of this toolkit (``--task pretrain``): its token list and the
network parameters that the fine-tuning network has.

A pre-training model is either the zip of its stage 12 (``ssl_train_config`` / ``ssl_model_file`` in
meta.yaml; verified and unpacked with :func:`espnet2_speecht5.checkpoint.archive.unpack_verified`) or a
``*.pth`` of its stage 8 with ``config.yaml`` beside it.

Its network (:class:`~espnet2_speecht5.nets.joint.JointNetwork`, attribute ``net``) holds every
pre-net and post-net; a fine-tuning network holds some of them under the same names. The
parameters of those parts (a recipe's ``network_parts``) are kept, under ``net.``, so that ESPnet loads them
with ``--init_param <file>:net:net`` and still checks every key and shape; the other parts, the
masked-prediction head, the quantiser and the label embeddings are left out.

Stage 5 takes the pre-training token list (:func:`write_token_list`), extended, for characters, by
the characters of the fine-tuning text that it lacks. :func:`fine_tuning_state` accepts any token
list: tokens of both keep their text-embedding rows, new ones start at the mean row and the log
lists what was added and dropped (:mod:`espnet2_speecht5.checkpoint.token_rows`).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import yaml

from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger(__name__)

PRETRAIN_KEYS = ("ssl_train_config", "ssl_model_file")


def locate(pretrained: PathLike, cache_dir: PathLike) -> Tuple[Path, Path]:
    """(config.yaml, model file) of a pre-training zip (unpacked under ``cache_dir``) or ``*.pth``.

    Raises:
        DataError: a missing file, a zip that is not a pre-training model, or a failed archive check.
    """
    pretrained = Path(pretrained)
    if not pretrained.is_file():
        raise DataError("does not exist (--pretrained_model: a pre-training zip of stage 12, or a *.pth)", pretrained)
    if pretrained.suffix == ".zip":
        from espnet2_speecht5.checkpoint.archive import unpack_verified

        unpacked = unpack_verified(pretrained, cache_dir)
        if not all(key in unpacked for key in PRETRAIN_KEYS):
            raise DataError(f"is not a pre-training model (meta.yaml names {', '.join(sorted(unpacked))}, "
                            f"not {' and '.join(PRETRAIN_KEYS)})", pretrained)
        return Path(unpacked["ssl_train_config"]), Path(unpacked["ssl_model_file"])
    config = pretrained.parent / "config.yaml"
    if not config.is_file():
        raise DataError(f"has no config.yaml beside it ({config})", pretrained)
    return config, pretrained


def read_config(config: Path) -> Dict[str, Any]:
    try:
        values = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise DataError(f"cannot read the training config: {str(err).splitlines()[0]}", config) from None
    if not isinstance(values, dict) or not isinstance(values.get("token_list"), list):
        raise DataError("is not a training config with a token list", config)
    return values


def write_token_list(pretrained: PathLike, cache_dir: PathLike, outdir: PathLike, token_type: str,
                     extend_with: Optional[PathLike] = None) -> List[str]:
    """Write the pre-training token list to ``outdir/tokens.txt`` (and its ``bpe.model``) and return it.

    ``extend_with``: a Kaldi ``text`` file (``<utt> <text>`` lines) of the fine-tuning data; for
    ``token_type: char``, its characters that the pre-training list lacks are added before
    ``<sos/eos>`` (logged), so that a new language's letters get their own tokens instead of ``<unk>``.

    Raises:
        DataError: another token type than ``token_type``, or a sentencepiece model that is not there.
    """
    config_path, _ = locate(pretrained, cache_dir)
    config = read_config(config_path)
    if "text_batch_ratio" not in config:  # an option only the pre-training task has
        raise DataError("is not a pre-training model (its config.yaml has no pre-training options; "
                        f"{config_path})", pretrained)
    if config.get("token_type") != token_type:
        raise DataError(f"was trained with --token_type {config.get('token_type')}, not {token_type} "
                        f"(pass --token_type {config.get('token_type')})", pretrained)
    tokens = [str(t) for t in config["token_list"]]
    pretrained_count = len(tokens)
    if extend_with is not None and token_type == "char":
        tokens = extended_char_list(tokens, Path(extend_with), pretrained)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    from espnet2_speecht5.text.token_list import write_token_list as write_tokens

    write_tokens(outdir / "tokens.txt", tokens)
    if token_type == "bpe":
        model = config.get("bpemodel")
        if not model or not Path(model).is_file():
            raise DataError(f"names the sentencepiece model {model}, which is not there (use the packed zip of "
                            "stage 12, which carries it)", config_path)
        shutil.copyfile(model, outdir / "bpe.model")
    added = f" and {len(tokens) - pretrained_count} new characters" if len(tokens) > pretrained_count else ""
    logger.info(f"{outdir / 'tokens.txt'}: the {pretrained_count} tokens of the pre-training model {pretrained}{added}")
    return tokens


def extended_char_list(tokens: List[str], text: Path, pretrained: PathLike) -> List[str]:
    """``tokens`` plus the characters of ``text`` (a Kaldi text file) they lack, before ``<sos/eos>``."""
    from espnet2_speecht5.data.kaldi_dir import iter_lines

    known = set(tokens) | {" "}
    new: List[str] = []
    for _, _, transcript in iter_lines(text):
        for char in transcript:
            if char not in known:
                known.add(char)
                new.append(char)
    if not new:
        return tokens
    logger.info(f"stage 5: {len(new)} characters of {text} are not in the token list of {pretrained}; added: "
                f"{' '.join(new)}")
    end = tokens.index("<sos/eos>") if "<sos/eos>" in tokens else len(tokens)
    return tokens[:end] + new + tokens[end:]


def fine_tuning_state(
    pretrained: PathLike, cache_dir: PathLike, parts: Sequence[str], token_list: Optional[List[str]] = None
) -> Dict[str, torch.Tensor]:
    """The ``net.<part>.*`` parameters of the pre-training model for a network of ``parts``.

    Args:
        parts: the fine-tuning network's parts (a recipe's ``network_parts``), e.g. ``speech_prenet``.

    Raises:
        DataError: weights that are not a pre-training model's.
    """
    from espnet2_speecht5.checkpoint.io import load_checkpoint

    config_path, model_file = locate(pretrained, cache_dir)
    state = load_checkpoint(model_file)
    if not isinstance(state, dict) or not any(key.startswith("net.") for key in state):
        raise DataError("holds no 'net.*' parameters: not a model of this toolkit", model_file)
    if not any(key.startswith("prediction_head.") for key in state):
        raise DataError("is not a pre-training model (no masked-prediction head)", model_file)
    kept = {key: value for key, value in state.items() if key.startswith("net.") and key.split(".")[1] in parts}
    logger.info(f"{model_file}: {len(kept)} of {len(state)} parameters belong to the fine-tuning network "
                f"({', '.join(parts)})")
    if token_list is not None:
        pretrained_tokens = [str(t) for t in read_config(config_path)["token_list"]]
        if token_list != pretrained_tokens:
            from espnet2_speecht5.checkpoint.token_rows import describe, remap_token_rows

            try:
                kept, change = remap_token_rows(kept, pretrained_tokens, token_list)
            except ValueError as err:
                raise DataError(str(err), model_file) from None
            logger.info(f"{pretrained}: {describe(change)}")
    return kept
