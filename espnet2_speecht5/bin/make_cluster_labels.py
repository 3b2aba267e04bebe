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
labels a second; the info file and ``centroids.npy`` beside it record how. See
:mod:`espnet2_speecht5.inference.cluster_labels`.
Bad input (an unreadable or too short recording, a rate other than 16 kHz) stops with one
``ERROR:`` line naming the utterance.
"""

from __future__ import annotations

import argparse
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.features.kmeans import BACKENDS
from espnet2_speecht5.inference.cluster_labels import Request, make_cluster_labels


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


def main(argv: Optional[List[str]] = None) -> None:
    args = vars(get_parser().parse_args(argv))
    args["progress"] = args["progress"] == "true"
    make_cluster_labels(Request(**args))


if __name__ == "__main__":
    run_main(main)
