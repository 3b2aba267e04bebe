"""Held-out scores of a pre-training model (stages 9 and 10 of ``--task pretrain``).

* speech (``wav.scp`` + cluster ``label``): masked-prediction accuracy and loss on the masked
  frames (``acc_mlm``, ``loss_mlm``), and the reconstruction losses (``loss_mel_l1``,
  ``loss_stop_bce``);
* text: the denoising cross-entropy and token accuracy (``loss_text_ce``, ``acc_text``).

The model runs in eval mode on one utterance (or sentence) at a time. Its span masks, text noise,
codebook mixing and the always-on speech-decoder pre-net dropout draw from a generator seeded by the
utterance id and ``seed``, so a score does not depend on how the set was split into jobs. Means are
weighted: masked-prediction terms by masked frames, reconstruction terms by frames, text terms by
target tokens (sentence length + 1). A job writes sums and weights (:func:`evaluate_set`); stage 10
adds the jobs up (:func:`merge_sums`) into the means.
"""

from __future__ import annotations

import argparse
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch
import yaml

from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

# reported term -> the weight it is averaged with
SPEECH_TERMS = {"acc_mlm": "masked_frames", "loss_mlm": "masked_frames", "loss_mel_l1": "frames",
                "loss_stop_bce": "frames"}
TEXT_TERMS = {"loss_text_ce": "tokens", "acc_text": "tokens"}
COUNTS = ("utterances", "frames", "masked_frames", "sentences", "tokens")


def load_pretrain_model(train_config: PathLike, model_file: PathLike, device: str = "cpu") -> Tuple[Any, Any]:
    """(model in eval mode, training args) from a pre-training ``config.yaml`` and weights (read weights-only)."""
    from espnet2_speecht5.checkpoint.weights import load_weights
    from espnet2_speecht5.tasks.pretrain import PretrainTask

    for path, what in ((train_config, "training config"), (model_file, "model file")):
        if not Path(path).is_file():
            raise DataError(f"does not exist (the {what})", path)
    model, args = PretrainTask.build_model_from_file(str(train_config), None, device)
    load_weights(model, model_file)
    return model.eval(), args


def utterance_seed(utt: str, seed: int) -> int:
    """A 31-bit seed from the utterance id and ``seed`` (the same on every machine and job)."""
    return (zlib.crc32(utt.encode("utf-8")) ^ (seed * 2654435761)) % (2**31 - 1)


def _loader(args: argparse.Namespace, triples: List[Tuple[str, str, str]], key_file: Optional[str]):
    from espnet2_speecht5.tasks.pretrain import PretrainTask

    return PretrainTask.build_streaming_iterator(
        data_path_and_name_and_type=triples,
        preprocess_fn=PretrainTask.build_preprocess_fn(args, train=False),
        collate_fn=PretrainTask.build_collate_fn(args, train=False),
        key_file=key_file,
        batch_size=1,
        dtype="float32",
        num_workers=0,
        allow_variable_data_keys=False,
        inference=False,
    )


def _new_sums() -> Dict[str, Any]:
    return {"counts": {name: 0 for name in COUNTS}, "sums": {}}


def _add(sums: Dict[str, Any], term: str, value: float, weight: float) -> None:
    if float(weight) <= 0.0:  # e.g. an utterance too short for a masked span
        return
    total = sums["sums"].setdefault(term, [0.0, 0.0])
    total[0] += float(value) * float(weight)
    total[1] += float(weight)


@torch.no_grad()
def evaluate_set(
    model: Any,
    args: argparse.Namespace,
    speech: Optional[Tuple[str, str]] = None,
    text: Optional[str] = None,
    key_file: Optional[str] = None,
    text_key_file: Optional[str] = None,
    seed: int = 0,
    device: str = "cpu",
) -> Dict[str, Any]:
    """Sums and weights of the held-out terms over a speech set (``(wav.scp, label)``) and/or a text file."""
    out = _new_sums()
    counts = out["counts"]
    if speech is not None:
        triples = [(speech[0], "speech", "sound"), (speech[1], "label", "text_int")]
        for keys, batch in _loader(args, triples, key_file):
            torch.manual_seed(utterance_seed(keys[0], seed))
            model.generator = torch.Generator().manual_seed(utterance_seed(keys[0], seed))
            batch = {k: v.to(device) for k, v in batch.items()}
            _, stats, _ = model(**batch)
            # encoder frames: labels at k x the frame rate put every k-th label on a frame
            frames = float(-(-int(batch["label_lengths"][0]) // model.labels_per_frame))
            masked = float(stats["mask_ratio"]) * frames
            counts["utterances"] += 1
            counts["frames"] += frames
            counts["masked_frames"] += masked
            weights = {"frames": frames, "masked_frames": masked}
            for term, weight in SPEECH_TERMS.items():
                _add(out, term, stats[term], weights[weight])
    if text is not None:
        for keys, batch in _loader(args, [(text, "text", "text")], text_key_file):
            torch.manual_seed(utterance_seed(keys[0], seed))
            model.generator = torch.Generator().manual_seed(utterance_seed(keys[0], seed))
            batch = {k: v.to(device) for k, v in batch.items()}
            _, stats, _ = model(**batch)
            tokens = float(batch["text_lengths"][0]) + 1.0
            counts["sentences"] += 1
            counts["tokens"] += tokens
            for term in TEXT_TERMS:
                _add(out, term, stats[term], tokens)
    model.generator = None
    return out


def merge_sums(parts: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Add up job sums and turn them into means: ``{utterances, frames, ..., acc_mlm, loss_mlm, ...}``."""
    total = _new_sums()
    for part in parts:
        for name in COUNTS:
            total["counts"][name] += part["counts"].get(name, 0)
        for term, (value, weight) in part["sums"].items():
            _add(total, term, value / weight if weight else 0.0, weight)
    scores: Dict[str, Any] = {name: round(float(v), 3) if name.endswith("frames") or name == "tokens" else int(v)
                              for name, v in total["counts"].items()}
    for term, (value, weight) in total["sums"].items():
        scores[term] = round(value / weight, 6) if weight > 0 else None
    return scores


def write_yaml(values: Dict[str, Any], path: PathLike) -> None:
    from espnet2_speecht5.checkpoint.io import save_text

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_text(yaml.safe_dump(values, sort_keys=False), path)


def read_yaml(path: PathLike) -> Dict[str, Any]:
    try:
        values = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise DataError(f"cannot read it ({str(err).splitlines()[0]})", path) from None
    if not isinstance(values, dict):
        raise DataError("is not a mapping", path)
    return values
