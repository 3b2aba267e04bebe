"""Stage 6 of pre-training: k-means cluster labels at the label rate for every utterance of the data dirs.

The k-means is fitted on the first data dir (``fit_dir`` to choose another): on a seeded random
``fit_fraction`` of its utterances, at most ``max_fit_frames`` frames (drawn, seeded). Every
utterance of every data dir is then labelled with its nearest centroid and written to
``OUTDIR/<data dir name>/label``, one line ``utt id1 id2 ...`` per utterance, ``label_rate``
labels a second (the training config's ``model_conf.label_rate``; 50 by default): label ``i``
describes the samples ``[hop i, hop i + 400)`` with ``hop = 16000 / label_rate`` (a 25 ms window,
no padding). At 50 Hz (hop 320) that is the frame of SpeechT5's conv feature extractor with the
same index; at ``k`` times 50 Hz (100 Hz: hop 160), label ``k t`` starts where encoder frame ``t``
does; see :mod:`espnet2_speecht5.data.speech_labels`. The hop must be a whole number of samples
that divides 320. Iteration 1 (MFCC) computes its frames at that hop; iterations >= 2 cluster
encoder features (:mod:`espnet2_speecht5.inference.cluster_features`), which come at the encoder
frame rate, so they make 50 Hz labels only.

The info file records the number of clusters, the iteration, the features, the label rate and
hop, the seed, the fit set, the inertia (sum of squared distances to the nearest centroid over the
fit frames, and per frame), how many clusters are used, and the label files; the centroids go
beside it as ``centroids.npy``.
Bad input (an unreadable or too short recording, a rate other than 16 kHz) raises a
:class:`~espnet2_speecht5.runtime.errors.DataError` naming the utterance. The messages name the
options of ``python -m espnet2_speecht5.bin.make_cluster_labels``.
"""

from __future__ import annotations

import datetime
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import yaml
from tqdm import tqdm

from espnet2_speecht5.data.audio import AudioSource, read_audio
from espnet2_speecht5.data.kaldi_dir import atomic_write_text, iter_lines
from espnet2_speecht5.data.speech_labels import FRAME_HOP, LABEL_WINDOW, label_hop
from espnet2_speecht5.features.kmeans import assign, fit_kmeans, subsample_rows
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger(__name__)
SAMPLE_RATE = 16000
Extractor = Callable[[np.ndarray], np.ndarray]


@dataclass
class Request:
    """What to make; the options of ``make_cluster_labels`` (see its ``--help``)."""

    data_dirs: List[PathLike]
    outdir: PathLike
    info: PathLike
    fit_dir: Optional[PathLike] = None
    n_clusters: int = 100
    iteration: int = 1
    label_rate: float = 50.0
    feature_model: Optional[PathLike] = None
    feature_config: Optional[PathLike] = None
    feature_layer: int = 6
    device: str = "cpu"
    seed: int = 0
    fit_fraction: float = 1.0
    max_fit_frames: int = 500000
    backend: str = "auto"
    batch_size: int = 10000
    max_iter: int = 100
    progress: bool = True


def read_scp(data_dir: Path) -> List[Tuple[str, AudioSource]]:
    """The utterances of ``data_dir/wav.scp`` in file order."""
    scp = data_dir / "wav.scp"
    if not scp.is_file():
        raise DataError("does not exist (a data dir needs wav.scp)", scp)
    entries = []
    for number, utt, value in iter_lines(scp):
        if not value:
            raise DataError("no audio on the line", scp, number, utt)
        entries.append((utt, AudioSource(utt, value, str(scp), number)))
    if not entries:
        raise DataError("lists no utterance", scp)
    return entries


def load_wave(source: AudioSource) -> np.ndarray:
    """A 16 kHz mono recording of at least one 25 ms window, as float32 (L,)."""
    samples, rate = read_audio(source)
    if rate != SAMPLE_RATE:
        raise source.error(f"is {rate} Hz; cluster labels need {SAMPLE_RATE} Hz audio (stage 3 resamples)")
    if samples.ndim != 1:
        raise source.error("is not mono (stage 3 down-mixes)")
    if samples.shape[0] < LABEL_WINDOW:
        raise source.error(f"has {samples.shape[0]} samples, fewer than one 25 ms frame ({LABEL_WINDOW})")
    return samples


def hop_of(label_rate: float) -> int:
    """Samples between labels at ``label_rate`` Hz (16 kHz audio); DataError if it is not a whole divisor of 320."""
    try:
        return label_hop(label_rate, SAMPLE_RATE, FRAME_HOP)
    except ValueError as err:
        raise DataError(f"--label_rate {label_rate:g}: {err}") from None


def make_extractor(request: Request, hop: int):
    """The features to cluster: MFCC every ``hop`` samples (iteration 1) or an encoder layer (50 Hz only)."""
    if request.iteration < 1:
        raise DataError(f"--iteration must be 1 or more, not {request.iteration}")
    from espnet2_speecht5.inference.cluster_features import EncoderLayerFeatures, MfccFeatures

    if request.iteration == 1:
        if request.feature_model:
            raise DataError("--feature_model is for iterations >= 2 (iteration 1 clusters MFCC)")
        return MfccFeatures(hop)
    if hop != FRAME_HOP:
        raise DataError(
            f"--label_rate {request.label_rate:g} with --iteration {request.iteration}: iterations >= 2 cluster "
            f"encoder features, which come at the encoder frame rate ({SAMPLE_RATE // FRAME_HOP} Hz); use --label_rate "
            f"{SAMPLE_RATE // FRAME_HOP} (only iteration 1, MFCC, makes labels at other rates)"
        )
    if not request.feature_model:
        raise DataError(
            f"--iteration {request.iteration} needs --feature_model (a model pre-trained on earlier labels)"
        )
    return EncoderLayerFeatures(request.feature_model, request.feature_config, request.feature_layer, request.device)


def fit_subset(entries: List[Tuple[str, AudioSource]], fraction: float, seed: int) -> List[Tuple[str, AudioSource]]:
    """A seeded random ``fraction`` of the utterances (at least one), in file order."""
    if not 0.0 < fraction <= 1.0:
        raise DataError(f"--fit_fraction must be in (0, 1], not {fraction}")
    count = max(1, int(round(fraction * len(entries))))
    if count >= len(entries):
        return list(entries)
    chosen = np.sort(np.random.default_rng(seed).choice(len(entries), size=count, replace=False))
    return [entries[i] for i in chosen]


def bar(items, desc: str, enabled: bool):
    return tqdm(items, desc=desc, unit="utt", disable=not enabled, mininterval=2.0, dynamic_ncols=False, ncols=100)


def make_cluster_labels(request: Request) -> Dict[str, object]:
    """Fit k-means, write the label files and the info file (see the module docstring); return the info.

    Raises:
        DataError: bad options or bad input, naming the option, file or utterance.
    """
    if request.n_clusters < 2:
        raise DataError(f"--n_clusters must be 2 or more, not {request.n_clusters}")
    data_dirs = [Path(d) for d in request.data_dirs]
    names = [d.name for d in data_dirs]
    if len(set(names)) != len(names):
        raise DataError(f"--data_dirs have the same folder name twice ({' '.join(names)}): labels would collide")
    fit_dir = Path(request.fit_dir) if request.fit_dir else data_dirs[0]
    progress = request.progress
    hop = hop_of(request.label_rate)
    extractor = make_extractor(request, hop)
    started = time.time()

    # 1. fit
    fit_entries = fit_subset(read_scp(fit_dir), request.fit_fraction, request.seed)
    chunks = [extractor(load_wave(source)) for _, source in bar(fit_entries, f"features {fit_dir.name}", progress)]
    features = np.concatenate(chunks, axis=0)
    total_frames = len(features)
    features = subsample_rows(features, request.max_fit_frames, request.seed)
    if len(features) < request.n_clusters:
        raise DataError(f"{len(features)} frames to fit {request.n_clusters} clusters: too few (use fewer clusters)",
                        fit_dir / "wav.scp")
    logger.info(f"fitting {request.n_clusters} clusters on {len(features)} frames ({features.shape[1]} dims) of "
                f"{len(fit_entries)} utterances of {fit_dir}")
    result = fit_kmeans(features, request.n_clusters, request.seed, request.backend, request.batch_size,
                        request.max_iter)
    logger.info(f"k-means ({result.backend}): inertia {result.inertia:.6g} ({result.inertia_per_frame:.4f} per frame)")
    del features, chunks

    # 2. label every utterance
    outdir = Path(request.outdir)
    written: Dict[str, Dict[str, object]] = {}
    used = np.zeros(request.n_clusters, dtype=np.int64)
    for data_dir in data_dirs:
        lines = []
        frames = 0
        for utt, source in bar(read_scp(data_dir), f"labels {data_dir.name}", progress):
            labels = assign(extractor(load_wave(source)), result.centroids)
            used += np.bincount(labels, minlength=request.n_clusters)
            frames += len(labels)
            lines.append(f"{utt} {' '.join(map(str, labels.tolist()))}\n")
        path = outdir / data_dir.name / "label"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, "".join(lines))
        written[data_dir.name] = {"label": str(path), "utterances": len(lines), "frames": int(frames)}
        logger.info(f"wrote {path}: {len(lines)} utterances, {frames} labels")

    # 3. record
    info_path = Path(request.info)
    info_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(info_path.parent / "centroids.npy", result.centroids)
    info = {
        "n_clusters": request.n_clusters,
        "iteration": request.iteration,
        **extractor.describe(),
        "label_rate": int(request.label_rate) if float(request.label_rate).is_integer() else request.label_rate,
        "label_hop": hop,
        "frame": f"25 ms window every {1000 * hop / SAMPLE_RATE:g} ms (samples [{hop} i, {hop} i + {LABEL_WINDOW}) "
        f"at 16 kHz), no padding",
        "backend": result.backend,
        "seed": request.seed,
        "fit_dir": str(fit_dir),
        "fit_utterances": len(fit_entries),
        "fit_frames": int(min(total_frames, request.max_fit_frames or total_frames)),
        "inertia": round(result.inertia, 6),
        "inertia_per_frame": round(result.inertia_per_frame, 6),
        "clusters_used": int((used > 0).sum()),
        "centroids": str(info_path.parent / "centroids.npy"),
        "labels": written,
        "seconds": round(time.time() - started, 1),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    atomic_write_text(info_path, yaml.safe_dump(info, sort_keys=False, allow_unicode=True))
    logger.info(f"wrote {info_path}: {info['clusters_used']} of {request.n_clusters} clusters used")
    return info
