"""Run an ESPnet training entry point as data-parallel ranks on this node (DDP).

Usage::

    python -m espnet2_speecht5.bin.ddp_launch --nproc_per_node 2 --device cpu -- \\
        python -m espnet2_speecht5.bin.asr_train --config conf/train.yaml ...

``--device cpu``: the ranks are CPU processes that average gradients over gloo (``--ngpu 0``).
``--device gpu``: one rank per GPU over NCCL; rank ``i`` sees only the ``i``-th device of
``CUDA_VISIBLE_DEVICES`` (or GPU ``i`` when it is unset).

Without ``--slurm`` every rank is on this machine and they meet through a file in a temporary
folder. With ``--slurm`` this is one task of an ``srun --ntasks-per-node=1`` step (see
``utils/slurm.py --nodes``): the node's rank, the number of nodes and the master address come
from Slurm's variables, the master port from the job id.

ESPnet's ``--batch_size`` stays the global batch: each of the N ranks trains on 1/N of every
mini-batch. When one rank fails, or hangs (no training or validation batch for ``--hang_timeout_s``
seconds, 1800 by default; its heartbeat file goes stale), the others are stopped and the last line
names that rank;
rerunning the same command resumes from the last finished epoch (``--resume true``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from typing import List, Optional

from espnet2_speecht5.distributed.launch import launch
from espnet2_speecht5.distributed.ranks import DEVICES, espnet_rank_args, local_node, rank_envs, slurm_node
from espnet2_speecht5.runtime.cli import run_cli
from espnet2_speecht5.runtime.errors import DataError


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ddp_launch", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nproc_per_node", type=int, default=1, help="ranks on this node (GPUs, or CPU processes)")
    parser.add_argument("--device", choices=DEVICES, default="cpu", help="cpu: gloo; gpu: one GPU per rank, nccl")
    parser.add_argument("--slurm", action="store_true", help="one task of a multi-node srun step (one task per node)")
    parser.add_argument("--grace_s", type=float, default=15.0, help="seconds between SIGTERM and SIGKILL of the ranks")
    parser.add_argument(
        "--hang_timeout_s", type=float, default=1800.0,
        help="stop every rank when one has taken no training or validation batch for this long (0: never); "
             "allow for the longest pause between batches: startup, an epoch's end, checkpoint averaging",
    )  # fmt: skip
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the training command")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(sys.argv[1:] if argv is None else argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise DataError("ddp_launch: no training command (put it after --)")
    if args.slurm:
        plan = slurm_node(os.environ, args.nproc_per_node, args.device)
        return launch(command, rank_envs(plan), espnet_rank_args(args.device, plan.init_method), args.grace_s,
                      hang_timeout_s=args.hang_timeout_s)
    store_dir = tempfile.mkdtemp(prefix="ddp_launch_")
    try:
        plan = local_node(args.nproc_per_node, args.device, os.path.join(store_dir, "store"), os.environ)
        return launch(command, rank_envs(plan), espnet_rank_args(args.device, plan.init_method), args.grace_s,
                      hang_timeout_s=args.hang_timeout_s)
    finally:
        shutil.rmtree(store_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_cli(main))
