"""Stage 6 of pre-training: k-means cluster labels at the label rate for every utterance of the data dirs.

Usage::

    # iteration 1: MFCC features (39-dim with deltas)
    python -m espnet2_speecht5.bin.make_cluster_labels --iteration 1 --n_clusters 100 \\
        --data_dirs dump/raw/train dump/raw/dev dump/raw/test --outdir dump/labels_iter1 \\
        --info exp/clusters_iter1/info.yaml
    # iteration 2: encoder block 6 of the model pre-trained on the iteration-1 labels
    python -m espnet2_speecht5.bin.make_cluster_labels --iteration 2 --n_clusters 500 \\
        --feature_model exp/pretrain_train_bpe100/valid.acc_mlm.best.pth --feature_layer 6 \\
        --data_dirs dump/raw/train dump/raw/dev --outdir dump/labels_iter2 --info exp/clusters_iter2/info.yaml

The k-means is fitted on the first data dir (``--fit_dir`` to choose another): on a seeded random
``--fit_fraction`` of its utterances, at most ``--max_fit_frames`` frames (drawn, seeded). Every
utterance of every data dir is then labelled with its nearest centroid and written to
``OUTDIR/<data dir name>/label``, one line ``utt id1 id2 ...`` per utterance, ``--label_rate``
labels a second (the training config's ``model_conf.label_rate``; 50 by default): label ``i``
describes the samples ``[hop i, hop i + 400)`` with ``hop = 16000 / label_rate`` (a 25 ms window,
no padding). At 50 Hz (hop 320) that is the frame of SpeechT5's conv feature extractor with the
same index; at ``k`` times 50 Hz (100 Hz: hop 160), label ``k t`` starts where encoder frame ``t``
does; see :mod:`espnet2_speecht5.data.speech_labels`. The hop must be a whole number of samples
that divides 320. Iteration 1 (MFCC) computes its frames at that hop; iterations >= 2 cluster
encoder features, which come at the encoder frame rate, so they make 50 Hz labels only.

The info file records the number of clusters, the iteration, the features, the label rate and
hop, the seed, the fit set, the inertia (sum of squared distances to the nearest centroid over the
fit frames, and per frame), how many clusters are used, and the label files; the centroids go
beside it as ``centroids.npy``.
Bad input (an unreadable or too short recording, a rate other than 16 kHz) stops with one
``ERROR:`` line naming the utterance.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import yaml
from tqdm import tqdm

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.data.audio import AudioSource, read_audio
from espnet2_speecht5.data.errors import DataError
from espnet2_speecht5.data.kaldi_dir import atomic_write_text, iter_lines
from espnet2_speecht5.data.speech_labels import FRAME_HOP, LABEL_WINDOW, label_hop
from espnet2_speecht5.features.kmeans import BACKENDS, assign, fit_kmeans, subsample_rows

logger = logging.getLogger(__name__)
SAMPLE_RATE = 16000
Extractor = Callable[[np.ndarray], np.ndarray]


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dirs", nargs="+", required=True, help="data dirs with wav.scp (16 kHz)")
    parser.add_argument("--fit_dir", help="the data dir to fit k-means on [the first of --data_dirs]")
    parser.add_argument("--outdir", required=True, help="labels go to OUTDIR/<data dir name>/label")
    parser.add_argument("--info", required=True, help="the info YAML to write (centroids.npy goes beside it)")
    parser.add_argument("--n_clusters", type=int, default=100, help="number of clusters [100]")
    parser.add_argument("--iteration", type=int, default=1, help="1: MFCC features; >= 2: --feature_model [1]")
    parser.add_argument(
        "--label_rate", type=float, default=50.0,
        help="labels per second, the training config's model_conf.label_rate: 50 or a whole multiple whose "
        "hop 16000 / rate divides 320 (100, 200, ...); iterations >= 2 make 50 only [50]",
    )
    parser.add_argument("--feature_model", help="iteration >= 2: the pre-trained model (*.pth)")
    parser.add_argument("--feature_config", help="its config.yaml [beside --feature_model]")
    parser.add_argument("--feature_layer", type=int, default=6, help="iteration >= 2: encoder block, from 1 [6]")
    parser.add_argument("--device", default="cpu", help="device of the feature model [cpu]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fit subset and of k-means [0]")
    parser.add_argument("--fit_fraction", type=float, default=1.0, help="fraction of fit-dir utterances [1.0]")
    parser.add_argument("--max_fit_frames", type=int, default=500000, help="most frames to fit on (0: all)")
    parser.add_argument("--backend", default="auto", choices=BACKENDS, help="k-means library [auto: faiss if found]")
    parser.add_argument("--batch_size", type=int, default=10000, help="MiniBatchKMeans batch size [10000]")
    parser.add_argument("--max_iter", type=int, default=100, help="k-means iterations [100]")
    parser.add_argument("--progress", default="true", choices=("true", "false"), help="show progress bars")
    return parser


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


def make_extractor(args: argparse.Namespace, hop: int):
    """The features to cluster: MFCC every ``hop`` samples (iteration 1) or an encoder layer (50 Hz only)."""
    if args.iteration < 1:
        raise DataError(f"--iteration must be 1 or more, not {args.iteration}")
    from espnet2_speecht5.features.cluster_features import EncoderLayerFeatures, MfccFeatures

    if args.iteration == 1:
        if args.feature_model:
            raise DataError("--feature_model is for iterations >= 2 (iteration 1 clusters MFCC)")
        return MfccFeatures(hop)
    if hop != FRAME_HOP:
        raise DataError(
            f"--label_rate {args.label_rate:g} with --iteration {args.iteration}: iterations >= 2 cluster encoder "
            f"features, which come at the encoder frame rate ({SAMPLE_RATE // FRAME_HOP} Hz); use --label_rate "
            f"{SAMPLE_RATE // FRAME_HOP} (only iteration 1, MFCC, makes labels at other rates)"
        )
    if not args.feature_model:
        raise DataError(f"--iteration {args.iteration} needs --feature_model (a model pre-trained on earlier labels)")
    return EncoderLayerFeatures(args.feature_model, args.feature_config, args.feature_layer, args.device)


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


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    if args.n_clusters < 2:
        raise DataError(f"--n_clusters must be 2 or more, not {args.n_clusters}")
    data_dirs = [Path(d) for d in args.data_dirs]
    names = [d.name for d in data_dirs]
    if len(set(names)) != len(names):
        raise DataError(f"--data_dirs have the same folder name twice ({' '.join(names)}): labels would collide")
    fit_dir = Path(args.fit_dir) if args.fit_dir else data_dirs[0]
    progress = args.progress == "true"
    hop = hop_of(args.label_rate)
    extractor = make_extractor(args, hop)
    started = time.time()

    # 1. fit
    fit_entries = fit_subset(read_scp(fit_dir), args.fit_fraction, args.seed)
    chunks = [extractor(load_wave(source)) for _, source in bar(fit_entries, f"features {fit_dir.name}", progress)]
    features = np.concatenate(chunks, axis=0)
    total_frames = len(features)
    features = subsample_rows(features, args.max_fit_frames, args.seed)
    if len(features) < args.n_clusters:
        raise DataError(f"{len(features)} frames to fit {args.n_clusters} clusters: too few (use fewer clusters)",
                        fit_dir / "wav.scp")
    logger.info(f"fitting {args.n_clusters} clusters on {len(features)} frames ({features.shape[1]} dims) of "
                f"{len(fit_entries)} utterances of {fit_dir}")
    result = fit_kmeans(features, args.n_clusters, args.seed, args.backend, args.batch_size, args.max_iter)
    logger.info(f"k-means ({result.backend}): inertia {result.inertia:.6g} ({result.inertia_per_frame:.4f} per frame)")
    del features, chunks

    # 2. label every utterance
    outdir = Path(args.outdir)
    written: Dict[str, Dict[str, object]] = {}
    used = np.zeros(args.n_clusters, dtype=np.int64)
    for data_dir in data_dirs:
        lines = []
        frames = 0
        for utt, source in bar(read_scp(data_dir), f"labels {data_dir.name}", progress):
            labels = assign(extractor(load_wave(source)), result.centroids)
            used += np.bincount(labels, minlength=args.n_clusters)
            frames += len(labels)
            lines.append(f"{utt} {' '.join(map(str, labels.tolist()))}\n")
        path = outdir / data_dir.name / "label"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, "".join(lines))
        written[data_dir.name] = {"label": str(path), "utterances": len(lines), "frames": int(frames)}
        logger.info(f"wrote {path}: {len(lines)} utterances, {frames} labels")

    # 3. record
    info_path = Path(args.info)
    info_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(info_path.parent / "centroids.npy", result.centroids)
    info = {
        "n_clusters": args.n_clusters,
        "iteration": args.iteration,
        **extractor.describe(),
        "label_rate": int(args.label_rate) if float(args.label_rate).is_integer() else args.label_rate,
        "label_hop": hop,
        "frame": f"25 ms window every {1000 * hop / SAMPLE_RATE:g} ms (samples [{hop} i, {hop} i + {LABEL_WINDOW}) "
        f"at 16 kHz), no padding",
        "backend": result.backend,
        "seed": args.seed,
        "fit_dir": str(fit_dir),
        "fit_utterances": len(fit_entries),
        "fit_frames": int(min(total_frames, args.max_fit_frames or total_frames)),
        "inertia": round(result.inertia, 6),
        "inertia_per_frame": round(result.inertia_per_frame, 6),
        "clusters_used": int((used > 0).sum()),
        "centroids": str(info_path.parent / "centroids.npy"),
        "labels": written,
        "seconds": round(time.time() - started, 1),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    atomic_write_text(info_path, yaml.safe_dump(info, sort_keys=False, allow_unicode=True))
    logger.info(f"wrote {info_path}: {info['clusters_used']} of {args.n_clusters} clusters used")


if __name__ == "__main__":
    run_main(main)
