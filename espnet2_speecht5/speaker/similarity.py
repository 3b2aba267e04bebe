"""Cosine similarity between speaker embeddings."""

from __future__ import annotations

import numpy as np


def l2_normalize(vectors: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Scale each row of ``vectors`` (shape (n, dim), or one vector of shape (dim,)) to unit length."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, eps)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors of shape (dim,); 0.0 when either is all zeros."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare embeddings of shapes {a.shape} and {b.shape}")
    return float(np.dot(l2_normalize(a), l2_normalize(b)))
