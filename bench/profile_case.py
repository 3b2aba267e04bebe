"""Where one benchmark case spends its time: torch.profiler's top operators by self CPU time.

Builds the case exactly as bench/worker.py does (same weights, inputs and threads), runs it once to
warm up, then profiles one run. ``--python`` uses cProfile instead (Python functions by own time).

Examples::

    tools/venv/bin/python bench/profile_case.py --case a --impl ours
    tools/venv/bin/python bench/profile_case.py --case d --impl ours --variant ctc0 --top 15
    tools/venv/bin/python bench/profile_case.py --case c --impl ref --python

The random transformers weights are written once per size to ``--weights`` (default under the
system's temporary folder) and reused.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

import torch
import worker
from workloads import ALL_CASES


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=[c for c in ALL_CASES if c != "g"], required=True)
    parser.add_argument("--impl", choices=("ours", "ref"), required=True)
    parser.add_argument("--variant", default="", help="ours only: ctc0 / ctc0.3 (cases b and d)")
    parser.add_argument("--size", choices=("base", "tiny"), default="base")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--weights", type=Path, default=None, help="prepared weights (made when missing)")
    parser.add_argument("--top", type=int, default=10, help="rows to print")
    parser.add_argument("--python", action="store_true", help="cProfile (Python functions) instead of torch ops")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shapes", action="store_true", help="torch ops grouped by their input shapes too")
    return parser.parse_args(argv)


def ensure_weights(folder: Optional[Path], size: str, seed: int) -> Path:
    """The prepared weights folder, written by worker.prepare when a file is missing."""
    folder = folder or Path(tempfile.gettempdir()) / "speecht5_bench_weights" / f"{size}_seed{seed}"
    if not all((folder / name).is_file() for name in worker.WEIGHT_FILES.values()):
        print(f"writing random {size} weights to {folder}", file=sys.stderr)
        worker.prepare(worker.BASE if size == "base" else worker.QUICK, folder, seed)
    return folder


def torch_profile(bench: worker.Bench, top: int, cuda: bool, shapes: bool = False) -> str:
    """Top operators of one run by self CPU time (and the run's own seconds per part)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities, record_shapes=shapes) as prof:
        seconds = bench.step()
    averages = prof.key_averages(group_by_input_shape=shapes)
    table = averages.table(sort_by="self_cpu_time_total", row_limit=top, max_name_column_width=40)
    return f"seconds under the profiler: {seconds}\n{table}"


def python_profile(bench: worker.Bench, top: int) -> str:
    """Top Python functions of one run by their own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    seconds = bench.step()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return f"seconds under cProfile: {seconds}\n{text.getvalue()}"


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    weights = ensure_weights(args.weights, args.size, args.seed)
    worker_args = worker.parse_args(
        ["--case", args.case, "--impl", args.impl, "--weights", str(weights), "--size", args.size,
         "--device", args.device, "--threads", str(args.threads), "--seed", str(args.seed)]
        + (["--variant", args.variant] if args.variant else [])
    )
    ctx = worker.build_context(worker_args)
    torch.manual_seed(args.seed)
    bench = worker.CASES[args.case](ctx, args.impl, args.variant)
    print(f"warm-up: {bench.step()}", file=sys.stderr)
    if args.python:
        print(python_profile(bench, args.top))
    else:
        print(torch_profile(bench, args.top, ctx.cuda, args.shapes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
