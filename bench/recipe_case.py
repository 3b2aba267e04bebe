"""Case h: the README's main job (``egs2/mini_speecht5/asr1``, stages 1-13) timed end to end.

The recipe runs in a temporary copy of the recipe folder (its own data, dump and exp), with the
offline corpus generated into the same temporary folder, so nothing in the repository changes.
The driver logs ``stage N (name) starts`` with a timestamp; those lines give the time of each stage.
There is no reference for this case: neither transformers nor the fairseq original ships a recipe.

Its section of ``RESULTS.md`` sits between its own markers, so runs of the other cases keep it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

RECIPE = Path("egs2") / "mini_speecht5" / "asr1"
H_BEGIN = "<!-- BEGIN bench/run.py case h: rewritten by every run with --cases h -->"
H_END = "<!-- END bench/run.py case h -->"
GENERATED = ("data", "dump", "exp", "downloads")
_STAGE_START = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) \(speecht5\.sh:\d+\) stage (\d+) \((\w+)\) starts")
_FINISHED = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) \(speecht5\.sh:\d+\) finished stages")


class RecipeError(RuntimeError):
    """The recipe failed; the message names the folder and ends with the driver's last lines."""


def copy_recipe_tree(src: Path, dst: Path) -> Path:
    """A working copy of a recipe folder: files copied, folders and links linked to their real paths,
    generated folders (data, dump, exp, downloads) left out."""
    dst.mkdir(parents=True)
    for entry in sorted(src.iterdir()):
        if entry.name in GENERATED:
            continue
        target = dst / entry.name
        if entry.is_symlink() or entry.is_dir():
            target.symlink_to(entry.resolve())
        else:
            target.write_bytes(entry.read_bytes())
            target.chmod(entry.stat().st_mode)
    return dst


def stage_seconds(driver_log: str) -> List[Tuple[int, str, float]]:
    """(stage, name, seconds) for every stage that started, from the driver's timestamped log lines.

    A stage lasts from its own start line to the next stage's start line (or the final line).
    The timestamps have one-second resolution.
    """
    starts: List[Tuple[int, str, datetime]] = []
    end: Optional[datetime] = None
    for line in driver_log.splitlines():
        match = _STAGE_START.match(line)
        if match:
            starts.append((int(match.group(2)), match.group(3), datetime.fromisoformat(match.group(1))))
        finished = _FINISHED.match(line)
        if finished:
            end = datetime.fromisoformat(finished.group(1))
    out = []
    for i, (number, name, begin) in enumerate(starts):
        stop = starts[i + 1][2] if i + 1 < len(starts) else end
        if stop is not None:
            out.append((number, name, (stop - begin).total_seconds()))
    return out


def run_recipe(repo: Path, tmp: Path) -> Dict[str, Any]:
    """Run stages 1-13 of the mini ASR recipe in a copy under ``tmp``: wall time, stage times, load.

    Raises:
        RecipeError: the driver exited non-zero.
    """
    recipe = copy_recipe_tree(repo / RECIPE, tmp / RECIPE)
    env = dict(os.environ)
    env["MINI_SPEECHT5"] = str(tmp / "corpus" / "mini_speecht5")
    cmd = ["./run.sh", "--stage", "1", "--stop_stage", "13"]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=recipe, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    load_after = os.getloadavg()[0]
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise RecipeError(f"the mini recipe failed (exit {proc.returncode}) in {recipe}\n{tail}")
    return {
        "seconds": seconds,
        "command": shlex.join(cmd),
        "threads": env.get("OMP_NUM_THREADS", "the recipe's default"),
        "stages": [{"stage": n, "name": name, "seconds": s} for n, name, s in stage_seconds(proc.stderr)],
        "load_1min_before": load_before,
        "load_1min_after": load_after,
        "final_lines": [line for line in proc.stderr.splitlines() if "finished stages" in line][-1:],
    }


def render(result: Dict[str, Any], machine_rows: List[Tuple[str, str]], when: str) -> str:
    """The case-h section of RESULTS.md: wall time, the machine, and a table of stage times."""
    out = [f"Run on {when}: `{RECIPE}`, `{result['command']}`, threads: {result['threads']}.", ""]
    out += [f"**Wall time: {result['seconds']:.0f} s ({result['seconds'] / 60:.1f} min)** for stages 1-13, "
            "from generating the offline corpus to the packed and exported model. No reference: neither "
            "transformers nor the fairseq original has a recipe to compare with.", ""]
    out += [f"1-minute load average before / after: {result['load_1min_before']:.2f} / "
            f"{result['load_1min_after']:.2f} (above the thread count means something else used the CPUs).", ""]
    out += ["| machine | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in machine_rows] + [""]
    out += ["| stage | name | seconds | share |", "|---|---|---|---|"]
    total = sum(s["seconds"] for s in result["stages"]) or 1.0
    for s in result["stages"]:
        out.append(f"| {s['stage']} | {s['name']} | {s['seconds']:.0f} | {100 * s['seconds'] / total:.0f}% |")
    return "\n".join(out)
