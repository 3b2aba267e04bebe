"""Stage 13: write a trained model as a folder that ``transformers`` loads.

Files written at the top of the folder (beside the ESPnet model-zoo files, which they do not touch):

* ``config.json`` + ``model.safetensors``: the network (``model.net``) under transformers' names,
  for ``SpeechT5ForSpeechToText`` (task ``asr``) or ``SpeechT5ForTextToSpeech`` (task ``tts``);
* ``preprocessor_config.json``: a ``SpeechT5FeatureExtractor`` with our feature settings: the raw
  waveform without normalisation as the ASR input, our 80-bin log10 mel as the TTS target;
* ``generation_config.json``: the special ids of the network's numbering (unk 0, pad 1,
  bos = eos = decoder start = V - 1);
* ``tokens.txt``: the token list in *network* id order (line i = the token of network id i).

ESPnet ids and network ids differ by one swap (ESPnet ``<blank>`` 0 / ``<unk>`` 1 become network
ids 1 / 0, see :func:`espnet2_speecht5.models.common.id_permutation`), so ESPnet's token list cannot
be used as it is to read transformers' outputs. The ASR model's CTC head has no transformers
counterpart and is left out.

For a character token list, ``spm_char.model`` (+ ``tokenizer_config.json``) is a ``SpeechT5Tokenizer``
whose sentencepiece ids are the network ids (:mod:`espnet2_speecht5.export.speecht5_tokenizer`), so
that ``pipeline("automatic-speech-recognition", model=folder)`` and ``pipeline("text-to-speech", ...)``
run the folder; a TTS export also holds ``speaker_embeddings/<speaker>.npy`` from the packed x-vectors.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import torch
import yaml

from espnet2_speecht5.checkpoint.convert import write_hf_folder
from espnet2_speecht5.checkpoint.io import save_text
from espnet2_speecht5.checkpoint.pack_keys import pack_keys, packed_kind
from espnet2_speecht5.checkpoint.transformers_targets import task_class, transformers_target
from espnet2_speecht5.export.speecht5_tokenizer import write_speecht5_tokenizer
from espnet2_speecht5.features.log_mel import FMAX, FMIN, HOP_LENGTH, MEL_FLOOR, N_FFT, SAMPLE_RATE, WIN_LENGTH, WINDOW
from espnet2_speecht5.models.common import id_permutation
from espnet2_speecht5.nets.config import SpeechT5Config
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger(__name__)

TRANSFORMERS_FILES = (
    "config.json",
    "model.safetensors",
    "preprocessor_config.json",
    "generation_config.json",
    "tokens.txt",
)


def espnet_files_from_meta(folder: PathLike, task: str) -> Tuple[Path, Path]:
    """The training config and model file that an unpacked model-zoo folder's ``meta.yaml`` names.

    Raises:
        DataError: no meta.yaml, or it lacks the task's keys, or a named file is missing.
    """
    transformers_target(task)
    folder = Path(folder)
    meta_path = folder / "meta.yaml"
    if not meta_path.is_file():
        raise DataError("does not exist: not a model-zoo folder", meta_path)
    meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
    config_key, model_key = pack_keys(packed_kind(meta))
    config = (meta.get("yaml_files") or {}).get(config_key)
    model = (meta.get("files") or {}).get(model_key)
    if not config or not model:
        raise DataError(f"names no {config_key} and {model_key} (is this a {task} model?)", meta_path)
    for name in (config, model):
        if not (folder / name).is_file():
            raise DataError(f"names {name}, which is not in the folder", meta_path)
    return folder / config, folder / model


def load_trained_model(task: str, train_config: PathLike, model_file: PathLike) -> Tuple[torch.nn.Module, Any]:
    """Build the task's model from ``config.yaml`` and fill it from ``model_file`` (no code unpickled).

    Returns:
        (model in eval mode on the CPU, the training arguments).
    """
    target = transformers_target(task)
    for path, what in ((train_config, "training config"), (model_file, "model file")):
        if not Path(path).is_file():
            raise DataError(f"does not exist (the {what} to export)", path)
    from espnet2_speecht5.checkpoint.weights import load_weights

    model, args = task_class(target).build_model_from_file(train_config, None, "cpu")
    load_weights(model, model_file)
    return model.eval(), args


def network_tokens(token_list: Sequence[str]) -> List[str]:
    """ESPnet's token list -> the tokens in network id order (``result[net_id]``)."""
    perm = id_permutation(len(token_list))  # an involution: ESPnet id <-> network id
    return [token_list[int(perm[net_id])] for net_id in range(len(token_list))]


def _milliseconds(samples: int) -> int:
    ms = samples * 1000 // SAMPLE_RATE
    if ms * SAMPLE_RATE != samples * 1000:
        raise ValueError(f"{samples} samples are not a whole number of milliseconds at {SAMPLE_RATE} Hz")
    return ms


def feature_extractor_config(cfg: SpeechT5Config) -> Dict[str, Any]:
    """``preprocessor_config.json`` of a ``SpeechT5FeatureExtractor`` that matches our features.

    ``audio=`` gives the ASR input: the raw 16 kHz waveform, not normalised (our ASR model reads it
    as it is). ``audio_target=`` gives the TTS target of :mod:`espnet2_speecht5.features.log_mel`.
    """
    if N_FFT != WIN_LENGTH or WINDOW != "hann":
        raise ValueError("transformers' feature extractor needs n_fft == win_length and a Hann window")
    return {
        "feature_extractor_type": "SpeechT5FeatureExtractor",
        "feature_size": 1,
        "sampling_rate": SAMPLE_RATE,
        "padding_value": 0.0,
        "padding_side": "right",
        "do_normalize": False,
        "return_attention_mask": True,
        "num_mel_bins": cfg.num_mel_bins,
        "hop_length": _milliseconds(HOP_LENGTH),
        "win_length": _milliseconds(WIN_LENGTH),
        "win_function": "hann_window",
        "fmin": FMIN,
        "fmax": FMAX,
        "mel_floor": MEL_FLOOR,
    }


def generation_config(cfg: SpeechT5Config, task: str) -> Dict[str, Any]:
    """``generation_config.json``: the network's special ids (and, for ASR, the longest output)."""
    out: Dict[str, Any] = {
        "bos_token_id": cfg.bos_id,
        "decoder_start_token_id": cfg.decoder_start_id,
        "eos_token_id": cfg.eos_id,
        "pad_token_id": cfg.pad_id,
    }
    if transformers_target(task).text_decoder:
        out["max_length"] = cfg.max_text_positions  # the text decoder's positions
    return out


def fbank_export_refusal(train_config: PathLike) -> str:
    """Why a model has no transformers export ("" if it has one): the fbank speech pre-net has no
    counterpart in transformers' SpeechT5, whose speech encoder reads the waveform with the conv pre-net."""
    import yaml

    try:
        config = yaml.safe_load(Path(train_config).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return ""  # load_trained_model reports an unreadable config
    if isinstance(config, dict) and config.get("speech_prenet", "conv") == "fbank":
        return ("no transformers export: speech_prenet fbank (ESPnet's front end and subsampling) has no counterpart "
                "in transformers' SpeechT5, whose speech encoder reads the waveform through the conv pre-net")
    return ""


def export_transformers(train_config: PathLike, model_file: PathLike, outdir: PathLike, task: str) -> List[str]:
    """Write the transformers files of a trained ``asr`` or ``tts`` model at the top of ``outdir``.

    Args:
        train_config: the training ``config.yaml``.
        model_file: the trained parameters (``*.pth``, a state dict of the ESPnet model).
        outdir: the folder (created if needed; other files in it are kept).
        task: ``asr`` (``SpeechT5ForSpeechToText``) or ``tts`` (``SpeechT5ForTextToSpeech``).

    Returns:
        the names of the written files, relative to ``outdir``.

    Raises:
        DataError: another task, a missing file, or weights that do not fit the config.
    """
    target = transformers_target(task)
    refusal = fbank_export_refusal(train_config)
    if refusal:
        raise DataError(refusal, train_config)
    model, args = load_trained_model(task, train_config, model_file)
    net = model.net
    outdir = Path(outdir)
    write_hf_folder(net.state_dict(), target.kind, net.cfg, outdir)
    save_text(json.dumps(feature_extractor_config(net.cfg), indent=2) + "\n", outdir / "preprocessor_config.json")
    save_text(json.dumps(generation_config(net.cfg, task), indent=2) + "\n", outdir / "generation_config.json")
    token_list = list(model.token_list or args.token_list)
    save_text("\n".join(network_tokens(token_list)) + "\n", outdir / "tokens.txt")
    written = list(TRANSFORMERS_FILES)
    if target.text_decoder or task == "tts":  # text in or out: a SpeechT5Tokenizer for transformers' pipelines
        written += write_speecht5_tokenizer(network_tokens(token_list), getattr(args, "token_type", "char"), outdir)
    if task == "tts":
        written += write_speaker_embeddings(outdir)
    logger.info(f"{outdir}: {target.hf_class} files ({', '.join(written)}); tokens.txt is in network id order")
    if target.untrained:
        logger.info(f"{', '.join(target.untrained)}: no transformers counterpart, left out of model.safetensors")
    elif getattr(getattr(model.net, "speech_decoder_prenet", None), "always_dropout", True) is False:
        logger.warning("the model turns its speech-decoder pre-net dropout off at inference; transformers "
                       "always applies it")
    return written


def write_speaker_embeddings(outdir: Path) -> List[str]:
    """``speaker_embeddings/<speaker>.npy`` ((1, D) float32) for each speaker of the packed x-vector table
    (``spk_xvector.ark``, stage 12), the ``speaker_embeddings`` that transformers' TTS pipeline takes."""
    import numpy as np

    from espnet2_speecht5.inference.text2speech import SPEAKER_TABLE_NAME, read_speaker_table

    tables = sorted(outdir.rglob(SPEAKER_TABLE_NAME))
    if not tables:
        return []
    folder = outdir / "speaker_embeddings"
    folder.mkdir(exist_ok=True)
    names = []
    for speaker, vector in sorted(read_speaker_table(tables[0]).items()):
        np.save(folder / f"{speaker}.npy", np.asarray(vector, dtype=np.float32).reshape(1, -1))
        names.append(f"speaker_embeddings/{speaker}.npy")
    return names
