"""k-means for pre-training labels: fit with scikit-learn's MiniBatchKMeans (or faiss), assign in numpy.

Fitting is seeded; assignment is the nearest centroid in float64 numpy, so labels depend only on the
centroids (not on the library that fitted them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

import numpy as np

logger = logging.getLogger(__name__)
BACKENDS = ("auto", "sklearn", "faiss")


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class KMeansResult:
    """Centroids (K, D) float32, the backend that fitted them, and the fit set's inertia (sum and per frame)."""

    centroids: np.ndarray
    backend: str
    inertia: float
    inertia_per_frame: float


def assign(features: np.ndarray, centroids: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """(N, D) features -> (N,) index of the nearest centroid (squared Euclidean distance)."""
    feats = np.asarray(features, dtype=np.float64)
    cents = np.asarray(centroids, dtype=np.float64)
    squared = (cents**2).sum(axis=1)
    out = np.empty(len(feats), dtype=np.int64)
    for start in range(0, len(feats), chunk):
        block = feats[start : start + chunk]
        out[start : start + chunk] = np.argmin(squared[None, :] - 2.0 * block @ cents.T, axis=1)
    return out


def inertia_of(features: np.ndarray, centroids: np.ndarray) -> float:
    """Sum over frames of the squared distance to the nearest centroid."""
    feats = np.asarray(features, dtype=np.float64)
    nearest = np.asarray(centroids, dtype=np.float64)[assign(feats, centroids)]
    return float(((feats - nearest) ** 2).sum())


def fit_kmeans(
    features: np.ndarray,
    n_clusters: int,
    seed: int,
    backend: str = "auto",
    batch_size: int = 10000,
    max_iter: int = 100,
    n_init: int = 3,
) -> KMeansResult:
    """Fit ``n_clusters`` centroids on (N, D) ``features``.

    ``backend``: ``sklearn`` (MiniBatchKMeans, k-means++ init), ``faiss`` (faiss.Kmeans), or ``auto``
    (faiss when it can be imported, else scikit-learn).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    if backend == "auto":
        backend = "faiss" if faiss_available() else "sklearn"
    feats = np.ascontiguousarray(features, dtype=np.float32)
    if backend == "faiss":
        import faiss

        km = faiss.Kmeans(feats.shape[1], n_clusters, niter=max_iter, nredo=n_init, seed=seed, verbose=False)
        km.train(feats)
        centroids = np.asarray(km.centroids, dtype=np.float32)
    else:
        from sklearn.cluster import MiniBatchKMeans

        km = MiniBatchKMeans(
            n_clusters=n_clusters,
            init="k-means++",
            batch_size=batch_size,
            max_iter=max_iter,
            n_init=n_init,
            max_no_improvement=100,
            reassignment_ratio=0.0,
            random_state=seed,
        )
        km.fit(feats)
        centroids = km.cluster_centers_.astype(np.float32)
    inertia = inertia_of(feats, centroids)
    return KMeansResult(centroids, backend, inertia, inertia / max(len(feats), 1))


def subsample_rows(features: np.ndarray, limit: Optional[int], seed: int) -> np.ndarray:
    """At most ``limit`` rows of ``features``, drawn without replacement (seeded), in their original order."""
    if limit is None or limit <= 0 or len(features) <= limit:
        return features
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(features), size=limit, replace=False))
    return features[keep]
