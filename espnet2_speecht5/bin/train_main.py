"""The body of every ``<task>_train`` entry point: run an ESPnet task, one-line configuration errors.

For distributed runs (ranks started by ``espnet2_speecht5.bin.ddp_launch``) the task's trainer
gets the hooks of :mod:`espnet2_speecht5.distributed.epoch_hooks` (an epoch-start barrier, so the
last finished epoch's checkpoint is complete before any rank goes on; the ``SPEECHT5_KILL_RANK``
fault injection for tests), and the process group is destroyed before the process exits.
"""

from __future__ import annotations

import importlib
import re
import sys
from typing import List, Optional, Sequence

from espnet2_speecht5.bin.cli import fail
from espnet2_speecht5.distributed.epoch_hooks import destroy_process_group, with_epoch_hooks
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.quiet_imports import quiet_espnet
from espnet2_speecht5.train.checks import check_training_options, safe_init_param


def one_line(err: DataError) -> str:
    """The one-line message of ``err``.

    A :class:`DataError` raised in a DataLoader worker (``--num_workers`` > 0) comes back re-raised
    by torch with the worker's whole traceback as its message; its last line is
    ``<module>.<Class>: <message>``, and the message is what is returned.
    """
    text = str(err).strip()
    if "\n" not in text:
        return text
    last = text.splitlines()[-1]
    return re.sub(r"^[\w.]+: ", "", last, count=1)


def run_task(module: str, class_name: str, cmd: Optional[List[str]] = None) -> None:
    """Import ``module.class_name`` (an ``AbsTask``) and run its ``main`` on ``cmd``.

    Configuration problems (:class:`DataError`) become one ``ERROR:`` line and exit status 1.
    ``--print_config`` prints to the real stdout (ESPnet binds its default at import time,
    which happens here under :func:`quiet_espnet`). The task's ``trainer`` is wrapped with the
    epoch hooks for the duration of ``main`` only, and a process group that ``main`` set up is
    destroyed when it returns or raises.
    """
    with quiet_espnet():  # keep stdout clean for --print_config
        task = getattr(importlib.import_module(module), class_name)
    args = sys.argv[1:] if cmd is None else cmd
    trainer = task.trainer
    try:
        if "--print_config" in args:
            parsed = task.get_parser().parse_args(args)
            if parsed.print_config:
                task.print_config(file=sys.stdout)
                return
        task.trainer = with_epoch_hooks(trainer)
        task.main(cmd=args)
    except DataError as err:
        fail(one_line(err))
    finally:
        task.trainer = trainer
        destroy_process_group()


def run_checked_task(module: str, class_name: str, cmd: Optional[Sequence[str]] = None) -> None:
    """:func:`run_task` after :func:`~espnet2_speecht5.train.checks.check_training_options`, with
    :func:`~espnet2_speecht5.train.checks.safe_init_param` around it; a failed check is one ``ERROR:``
    line and exit status 1."""
    args = list(sys.argv[1:] if cmd is None else cmd)
    if "--print_config" not in args:
        with quiet_espnet():
            task = getattr(importlib.import_module(module), class_name)
        try:
            check_training_options(task.get_parser(), args)
        except DataError as err:
            fail(str(err))
    with safe_init_param():
        run_task(module, class_name, args)
