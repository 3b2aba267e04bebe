"""Embed many utterances with an ESPnet speaker model, here or in ``nj`` worker processes.

Each worker loads the model once and uses one torch thread; the utterances are split into
contiguous chunks, and the result keeps the input order.  Starting a worker costs a few
seconds (importing ESPnet and torch), so small jobs run in this process.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from typing import List, Optional, Sequence

import numpy as np
import torch

from espnet2_speecht5.data.audio import AudioSource
from espnet2_speecht5.speaker.espnet_spk import SpeakerEmbedder
from espnet2_speecht5.speaker.model_files import SpkModelFiles

MIN_PER_JOB = 2000  # a worker takes ~10-20 s to start (ESPnet import); an utterance ~15 ms to embed

_WORKER_EMBEDDER: Optional[SpeakerEmbedder] = None


def _start_worker(files: SpkModelFiles) -> None:
    global _WORKER_EMBEDDER
    torch.set_num_threads(1)
    _WORKER_EMBEDDER = SpeakerEmbedder(files)


def _embed_chunk(sources: List[AudioSource]) -> List[np.ndarray]:
    assert _WORKER_EMBEDDER is not None, "worker not initialised"
    return [_WORKER_EMBEDDER.embed_source(s) for s in sources]


def _chunks(items: Sequence[AudioSource], count: int) -> List[List[AudioSource]]:
    size = max(1, -(-len(items) // count))
    return [list(items[k : k + size]) for k in range(0, len(items), size)]


def embed_sources(
    files: SpkModelFiles,
    sources: Sequence[AudioSource],
    nj: int = 1,
    embedder: Optional[SpeakerEmbedder] = None,
) -> List[np.ndarray]:
    """One embedding of shape (dim,) per source, in input order.

    Uses at most ``nj`` worker processes and at most one per :data:`MIN_PER_JOB` utterances;
    with one job the work runs here, reusing ``embedder`` if given.
    """
    start = time.time()
    jobs = max(1, min(nj, len(sources) // MIN_PER_JOB))
    if jobs == 1:
        model = embedder or SpeakerEmbedder(files)
        vectors = [model.embed_source(s) for s in sources]
    else:
        context = multiprocessing.get_context("spawn")  # no fork after torch has started its threads
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker, initargs=(files,)) as pool:
            vectors = [v for part in pool.map(_embed_chunk, _chunks(sources, jobs * 4)) for v in part]
    logging.info("embedded %d utterances in %.1f s with %d job(s)", len(sources), time.time() - start, jobs)
    return vectors
