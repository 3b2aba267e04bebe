"""Training state that a checkpoint must carry besides the weights, in a weights-only loadable form.

* :func:`capture_random_state` / :func:`restore_random_state`: python ``random``, numpy's global
  generator, torch's CPU generator and, when CUDA is in use, every CUDA generator. Everything is
  stored as ints, floats, strings, tuples and tensors, which ``torch.load(weights_only=True)`` reads.
* :func:`to_plain` / :func:`from_plain`: ESPnet's reporter keeps numpy scalars and
  ``datetime.timedelta`` values, which a weights-only load refuses; they become python numbers
  and a tagged dict, and come back as timedeltas.
"""

from __future__ import annotations

import datetime
import random
from typing import Any, Dict

import numpy as np
import torch

TIMEDELTA_TAG = "__timedelta_seconds__"


def capture_random_state() -> Dict[str, Any]:
    """The current state of every global random generator that training draws from."""
    kind, key, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    version, internal, gauss_next = random.getstate()
    cuda = None
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = list(torch.cuda.get_rng_state_all())
    return {
        "python": (int(version), tuple(int(v) for v in internal), gauss_next),
        "numpy": {
            "kind": str(kind),
            "key": torch.from_numpy(np.asarray(key, dtype=np.int64)),  # (624,) uint32 words, widened
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
        "cuda": cuda,
    }


def restore_random_state(state: Dict[str, Any]) -> None:
    """Put the generators back into a state made by :func:`capture_random_state`.

    CUDA states are restored when CUDA is available (for as many devices as both sides have).
    """
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["kind"],
            numpy_state["key"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available():
        for device, device_state in enumerate(cuda[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(device_state, device)


def to_plain(obj: Any) -> Any:
    """Copy of ``obj`` with numpy scalars as python numbers and timedeltas as tagged dicts (tensors kept)."""
    if isinstance(obj, dict):
        return {key: to_plain(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [to_plain(value) for value in obj]
    if isinstance(obj, tuple):
        return tuple(to_plain(value) for value in obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, datetime.timedelta):
        return {TIMEDELTA_TAG: obj.total_seconds()}
    return obj


def from_plain(obj: Any) -> Any:
    """Inverse of :func:`to_plain` for timedeltas (numbers stay python numbers)."""
    if isinstance(obj, dict):
        if set(obj) == {TIMEDELTA_TAG}:
            return datetime.timedelta(seconds=obj[TIMEDELTA_TAG])
        return {key: from_plain(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [from_plain(value) for value in obj]
    if isinstance(obj, tuple):
        return tuple(from_plain(value) for value in obj)
    return obj
