"""Stage 6 for TTS: one speaker embedding per utterance of every set, from one of three sources.

For each set (named by its directory's basename) it writes ``<outdir>/<set>/xvector.{scp,ark}``
(utterance -> vector) and ``<outdir>/<set>/spk_xvector.{scp,ark}`` (speaker -> vector); which
vector goes where is decided by :mod:`espnet2_speecht5.speaker.assign`.  For the per-utterance
sources it also measures how well the embeddings separate the speakers of the evaluation sets
(:mod:`espnet2_speecht5.speaker.eer`) into ``<outdir>/eer.txt``, and it describes what was made,
and from what, in ``<outdir>/README.txt``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import yaml

from espnet2_speecht5.data.kaldi_dir import atomic_write_text
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.speaker.assign import Assignment, assign_lookup, assign_per_utterance, speaker_means
from espnet2_speecht5.speaker.datasets import SpeakerSet, load_sets
from espnet2_speecht5.speaker.eer import DEFAULT_MAX_TRIALS, EerResult, speaker_eer
from espnet2_speecht5.speaker.embedding_io import EmbeddingFiles, check_vector, write_embeddings
from espnet2_speecht5.speaker.lookup import lookup_table

SOURCES = ("files", "espnet_spk", "lookup")
PerUtterance = Dict[str, Dict[str, np.ndarray]]  # set name -> utt -> (dim,)


@dataclass
class Request:
    """What to make; the options of ``make_speaker_embeddings`` (see its ``--help``)."""

    source: str
    outdir: Path
    train_dir: Path
    eval_dirs: List[Path] = field(default_factory=list)
    average_per_speaker: bool = False
    dim: int = 512
    nj: int = 1
    files: Optional[Path] = None
    spk_model: Optional[Path] = None
    spk_config: Optional[Path] = None
    spk_exp: Optional[Path] = None
    spk_args: str = ""
    max_trials: int = DEFAULT_MAX_TRIALS
    command: Optional[str] = None  # the command line, for README.txt


@dataclass
class Summary:
    """What was written: per set ``(name, utterances, speakers, unseen speakers)``, the EER, the origin."""

    sets: List[Tuple[str, int, int, List[str]]]
    eer: Optional[EerResult]
    origin: str
    train_seconds: Optional[float] = None


def _from_files(req: Request, sets: List[SpeakerSet]) -> Tuple[PerUtterance, str]:
    store = EmbeddingFiles(req.files)
    result: PerUtterance = {}
    for data in sets:
        vectors: Dict[str, np.ndarray] = {}
        for utt, source in data.audio.items():
            if utt not in store:
                raise DataError(f"no embedding for this utterance in {store.path}", source.scp, source.line, utt)
            vectors[utt] = store.load(utt, req.dim)
        result[data.name] = vectors
    return result, store.describe()


def _config_dim(config: Path) -> Optional[int]:
    """The projector's output size written in a speaker config, if any."""
    try:
        tree = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise DataError(f"not valid YAML ({str(err).splitlines()[0]})", config) from None
    size = (tree.get("projector_conf") or {}).get("output_size") if isinstance(tree, dict) else None
    return int(size) if isinstance(size, int) else None


def _from_espnet_spk(req: Request, sets: List[SpeakerSet]) -> Tuple[PerUtterance, str, Optional[float], Any]:
    from espnet2_speecht5.speaker.espnet_spk import SpeakerEmbedder
    from espnet2_speecht5.speaker.extraction import embed_sources
    from espnet2_speecht5.speaker.model_files import resolve_spk_model
    from espnet2_speecht5.speaker.spk_training import train_speaker_model

    seconds = None
    if req.spk_model is not None:
        files = resolve_spk_model(req.spk_model, req.outdir / "spk_model_unpacked")
        origin = f"ESPnet speaker model {req.spk_model} (config {files.config}, weights {files.model})"
    else:
        assert req.spk_config is not None and req.spk_exp is not None, "training needs spk_config and spk_exp"
        config_dim = _config_dim(req.spk_config) if req.spk_config.is_file() else None
        if config_dim is not None and config_dim != req.dim:
            raise DataError(f"projector_conf.output_size is {config_dim}, but --dim is {req.dim}", req.spk_config)
        files, seconds = train_speaker_model(sets[0], req.spk_config, req.spk_exp, req.spk_args, seed=0)
        origin = (
            f"ESPnet speaker model trained here on {sets[0].path} ({len(sets[0].speakers())} speakers) with"
            f" {req.spk_config} into {req.spk_exp} in {seconds:.0f} s (weights {files.model.name})"
        )
    embedder = SpeakerEmbedder(files)
    if embedder.dim is not None and embedder.dim != req.dim:
        raise DataError(f"the speaker model makes {embedder.dim}-dim embeddings, but --dim is {req.dim}", files.config)
    sources = [(data.name, source) for data in sets for source in data.audio.values()]
    logging.info("embedding %d utterances of %s", len(sources), " ".join(str(d.path) for d in sets))
    vectors = embed_sources(files, [source for _, source in sources], req.nj, embedder)
    result: PerUtterance = {data.name: {} for data in sets}
    for (name, source), vector in zip(sources, vectors):
        result[name][source.utt] = check_vector(vector, req.dim, source.utt, files.model)
    return result, origin, seconds, files


def _measure_eer(req: Request, sets: List[SpeakerSet], per_utt: PerUtterance) -> Optional[EerResult]:
    eval_sets = sets[1:]
    if not eval_sets:
        logging.info("no evaluation sets (--eval_dirs): no EER")
        return None
    vectors: Dict[str, np.ndarray] = {}
    utt2spk: Dict[str, str] = {}
    for data in eval_sets:
        for utt in data.utterances:
            if utt not in vectors:
                vectors[utt] = per_utt[data.name][utt]
                utt2spk[utt] = data.utt2spk[utt]
    try:
        return speaker_eer(vectors, utt2spk, [d.name for d in eval_sets], req.max_trials)
    except ValueError as err:
        logging.warning("no EER on %s: %s", " ".join(d.name for d in eval_sets), err)
        return None


def _readme(req: Request, summary: Summary) -> str:
    if req.source == "lookup":
        vectors = "its speaker's fixed lookup vector (see espnet2_speecht5/speaker/lookup.py)"
        spk_vectors = "the speaker's lookup vector"
    elif req.average_per_speaker:
        vectors = (
            "its speaker's mean over the training set's utterances (utterances of speakers unseen in training"
            " keep their own embeddings)"
        )
        spk_vectors = "the speaker's mean over the training set (over this set for speakers unseen in training)"
    else:
        vectors = "the utterance's own embedding"
        spk_vectors = "the speaker's mean over this set's utterances"
    lines = [
        f"Speaker embeddings (spembs) by espnet2_speecht5.bin.make_speaker_embeddings, {datetime.now():%Y-%m-%d %H:%M}",
        f"source: {req.source}: {summary.origin}",
        f"vectors: {req.dim}-dim float32, Kaldi ark + scp (read as kaldi_ark)",
        f"<set>/xvector.scp: per utterance, {vectors}",
        f"<set>/spk_xvector.scp: per speaker, {spk_vectors}",
        "sets:",
    ]
    for name, n_utt, n_spk, unseen in summary.sets:
        note = f"; speakers unseen in training: {' '.join(unseen)}" if unseen else ""
        lines.append(f"  {name}: {n_utt} utterances, {n_spk} speakers{note}")
    if summary.eer is not None:
        lines.append(f"speaker separation (cosine trials between held-out utterances): {summary.eer.line()} (eer.txt)")
    if req.command:
        lines.append(f"command: {req.command}")
    return "\n".join(lines) + "\n"


def make_speaker_embeddings(req: Request) -> Summary:
    """Make the embeddings of the training set and the evaluation sets; see the module docstring.

    Raises:
        DataError: bad input, named by file, line, utterance or speaker.
    """
    if req.source not in SOURCES:
        raise ValueError(f"unknown source '{req.source}' (one of {', '.join(SOURCES)})")
    sets = load_sets(req.train_dir, req.eval_dirs)
    train = sets[0]
    per_utt: Optional[PerUtterance] = None
    seconds = None
    model_files = None
    if req.source == "lookup":
        table = lookup_table(train.speakers(), req.dim)
        origin = f"lookup table of the {len(table)} speakers of {train.path}"
        assignments = {d.name: assign_lookup(d, table) for d in sets}
    else:
        if req.source == "files":
            per_utt, origin = _from_files(req, sets)
        else:
            per_utt, origin, seconds, model_files = _from_espnet_spk(req, sets)
        means = speaker_means(per_utt[train.name], train.utt2spk) if req.average_per_speaker else None
        assignments = {d.name: assign_per_utterance(d, per_utt[d.name], means) for d in sets}
    results = []
    for data in sets:
        chosen: Assignment = assignments[data.name]
        out = req.outdir / data.name
        write_embeddings(out, "xvector", chosen.utterances)
        write_embeddings(out, "spk_xvector", chosen.speakers)
        if chosen.unseen:
            logging.warning(
                "%s: speakers unseen in training keep per-utterance embeddings: %s", data.name, " ".join(chosen.unseen)
            )
        logging.info("%s: %d utterances, %d speakers -> %s/xvector.scp", data.name, len(chosen.utterances),
                     len(chosen.speakers), out)  # fmt: skip
        results.append((data.name, len(chosen.utterances), len(chosen.speakers), chosen.unseen))
    eer = _measure_eer(req, sets, per_utt) if per_utt is not None else None
    eer_file = req.outdir / "eer.txt"
    if eer is not None:
        atomic_write_text(eer_file, eer.line() + "\n")
        logging.info("%s (%s)", eer.line(), eer_file)
    elif eer_file.exists():
        eer_file.unlink()
    # The speaker model, for stage 10's speaker similarity of synthesised speech.
    model_record = req.outdir / "spk_model.yaml"
    if model_files is not None:
        atomic_write_text(
            model_record,
            f"train_config: {Path(model_files.config).resolve()}\nmodel_file: {Path(model_files.model).resolve()}\n",
        )
    elif model_record.exists():
        model_record.unlink()
    summary = Summary(sets=results, eer=eer, origin=origin, train_seconds=seconds)
    atomic_write_text(req.outdir / "README.txt", _readme(req, summary))
    return summary
