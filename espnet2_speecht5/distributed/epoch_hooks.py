"""What the training entry point adds to ESPnet's trainer for distributed runs.

* **Epoch-start barrier.** Rank 0 writes ``checkpoint.pth`` after an epoch while the other ranks
  go straight on to the next one. A barrier at the start of every epoch holds them until rank 0
  has finished writing, so whichever rank fails during epoch N+1, the checkpoint of epoch N is
  complete and a rerun resumes from it.
* **Fault injection (tests).** With ``SPEECHT5_KILL_RANK=<rank>:<epoch>`` in the environment,
  that rank sends itself SIGKILL as that epoch starts (after the barrier), as the kernel's OOM
  killer would.
* **Shutdown.** :func:`destroy_process_group` tears the process group down at exit; ESPnet
  leaves it to the interpreter's exit otherwise.
"""

from __future__ import annotations

import os
import signal
from typing import Any, Optional, Tuple

import torch

from espnet2_speecht5.runtime.errors import DataError

KILL_ENV = "SPEECHT5_KILL_RANK"


def kill_request(environ: Optional[dict] = None) -> Optional[Tuple[int, int]]:
    """``(rank, epoch)`` from ``SPEECHT5_KILL_RANK=<rank>:<epoch>``, or None when unset.

    Raises:
        DataError: the variable is set but not two integers separated by a colon.
    """
    value = (os.environ if environ is None else environ).get(KILL_ENV, "").strip()
    if not value:
        return None
    rank, sep, epoch = value.partition(":")
    if not sep or not rank.strip().isdigit() or not epoch.strip().isdigit():
        raise DataError(f"{KILL_ENV} must be <rank>:<epoch>, e.g. 1:2, not '{value}'")
    return int(rank), int(epoch)


def _rank(distributed_option: Any) -> int:
    return int(distributed_option.dist_rank or 0) if distributed_option.distributed else 0


def with_epoch_hooks(trainer: type) -> type:
    """A subclass of ESPnet trainer class ``trainer`` whose ``train_one_epoch`` starts with the hooks."""
    kill = kill_request()

    class EpochHooks(trainer):  # type: ignore[misc, valid-type]
        @classmethod
        def train_one_epoch(cls, *args: Any, **kwargs: Any) -> bool:
            option = kwargs["distributed_option"]
            if option.distributed:
                torch.distributed.barrier()
            if kill is not None and kill == (_rank(option), kwargs["reporter"].epoch):
                os.kill(os.getpid(), signal.SIGKILL)
            return super().train_one_epoch(*args, **kwargs)

    EpochHooks.__name__ = EpochHooks.__qualname__ = f"{trainer.__name__}WithEpochHooks"
    return EpochHooks


def destroy_process_group() -> bool:
    """Destroy the default process group if this process has one; True when it did."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
        return True
    return False
