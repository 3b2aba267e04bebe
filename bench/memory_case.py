"""Where one training case's live tensor memory goes: torch.profiler's memory timeline, by category.

Builds the case exactly as bench/worker.py does (same weights, inputs and threads), runs one step
to warm up, then profiles one step with ``profile_memory`` and reports the peak of live tensor
bytes on the device and how that peak splits into torch's categories (parameters, gradients,
optimizer state, activations, temporaries, ...). Unlike the RSS columns of bench/RESULTS.md, this
counts only tensors that are alive, not memory the allocator keeps after they are freed.

Examples::

    tools/venv/bin/python bench/memory_case.py --case d --impl ours --variant ctc0
    tools/venv/bin/python bench/memory_case.py --case d --impl ref
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

import profile_case
import torch
import worker


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=("d", "e"), required=True)
    parser.add_argument("--impl", choices=("ours", "ref"), required=True)
    parser.add_argument("--variant", default="", help="as in bench/run.py: ctc0, ctc0.3, bf16, ctc0+bf16")
    parser.add_argument("--size", choices=("base", "tiny"), default="base")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--weights", type=Path, default=None, help="prepared weights (made when missing)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    return parser.parse_args(argv)


def peak_by_category(prof: torch.profiler.profile, device: str = "cpu") -> Dict[str, float]:
    """MB of live tensors per category at the moment their total peaks, and the total ("peak")."""
    from torch.profiler._memory_profiler import _CATEGORY_TO_INDEX, MemoryProfileTimeline

    timeline = MemoryProfileTimeline(prof._memory_profile())
    _, sizes = timeline._coalesce_timeline(device)
    totals = [sum(row) for row in sizes]
    at = max(range(len(totals)), key=totals.__getitem__)
    names = ["unknown"] + [("unknown" if c is None else c.name.lower()) for c in _CATEGORY_TO_INDEX]
    out: Dict[str, float] = {}
    for name, size in zip(names, sizes[at]):
        out[name] = out.get(name, 0.0) + size / 2**20
    out["peak"] = totals[at] / 2**20
    return out


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    weights = profile_case.ensure_weights(args.weights, args.size, args.seed)
    worker_args = worker.parse_args(
        ["--case", args.case, "--impl", args.impl, "--weights", str(weights), "--size", args.size,
         "--device", "cpu", "--threads", str(args.threads), "--seed", str(args.seed)]
        + (["--variant", args.variant] if args.variant else [])
    )  # fmt: skip
    ctx = worker.build_context(worker_args)
    torch.manual_seed(args.seed)
    bench = worker.CASES[args.case](ctx, args.impl, args.variant)
    bench.step()
    with torch.profiler.profile(profile_memory=True, record_shapes=True, with_stack=True) as prof:
        bench.step()
    numbers = peak_by_category(prof)
    label = f"case {args.case} {args.impl} {args.variant or '-'}"
    print(f"{label}: live tensor peak {numbers['peak']:.0f} MB")
    for name, mb in sorted(numbers.items(), key=lambda kv: -kv[1]):
        if name != "peak" and mb >= 0.5:
            print(f"  {name:16s} {mb:8.0f} MB")
    if args.json:
        args.json.write_text(json.dumps({"case": label, **numbers}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
