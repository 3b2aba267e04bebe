"""Speaker-id lookup table: a fixed pseudo-random unit vector per speaker, for single-corpus training.

The vector of speaker ``s`` depends only on its id and the dimension, never on the other
speakers, the order of the data or the library versions:

1. ``SHAKE-256("speecht5-speaker:" + s)`` gives ``8 * n`` bytes (``n`` = ``dim`` rounded up to
   an even number), read as ``n`` unsigned 64-bit little-endian integers ``k`` and mapped to
   uniform numbers ``u = (k + 0.5) / 2**64`` in (0, 1);
2. the Box-Muller transform turns each pair ``(u[2i], u[2i+1])`` into ``r cos(t)`` and ``r sin(t)``
   with ``r = sqrt(-2 ln u[2i])``, ``t = 2 pi u[2i+1]``: the cosines of all pairs, then the sines,
   cut to ``dim`` values;
3. the vector is scaled to unit length.

Random unit vectors in 512 dimensions are nearly orthogonal (cosine about +-0.04), so every
training speaker gets a distinct code, as a speaker-id embedding table would, without training.
"""

from __future__ import annotations

import hashlib
from typing import Dict, Iterable

import numpy as np

SALT = "speecht5-speaker:"


def speaker_vector(speaker: str, dim: int = 512) -> np.ndarray:
    """The lookup vector of ``speaker``: float32, shape (dim,), unit L2 norm."""
    if dim < 1:
        raise ValueError(f"dim must be positive, got {dim}")
    pairs = (dim + 1) // 2
    raw = hashlib.shake_256((SALT + speaker).encode("utf-8")).digest(16 * pairs)
    ints = np.frombuffer(raw, dtype="<u8").astype(np.float64)
    uniform = (ints + 0.5) / 2.0**64  # strictly inside (0, 1)
    u1, u2 = uniform[0::2], uniform[1::2]
    radius = np.sqrt(-2.0 * np.log(u1))
    normal = np.concatenate([radius * np.cos(2 * np.pi * u2), radius * np.sin(2 * np.pi * u2)])[:dim]
    return (normal / np.linalg.norm(normal)).astype(np.float32)


def lookup_table(speakers: Iterable[str], dim: int = 512) -> Dict[str, np.ndarray]:
    """Speaker id -> :func:`speaker_vector`, for each distinct speaker."""
    return {spk: speaker_vector(spk, dim) for spk in dict.fromkeys(speakers)}
