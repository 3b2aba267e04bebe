"""``scores.json``: what stage 10 measured on one set, the same shape for every task.

    {"task": "asr", "set": "test", "model": "exp/asr_train_char/valid.acc.best.pth",
     "metrics": {"cer": 4.1, "wer": 7.2},
     "tools": {"sclite": "sclite: 2.10 TK Version 1.3", "espnet2_speecht5": "0.1.0"},
     "details": {"sclite": {"cer": {"Snt": 100, "Wrd": 2752, "Corr": 96.8, ...}}}}

``metrics`` holds the task's fixed names (a recipe's ``metrics``), error rates and accuracies in
percent, None where a metric could not be computed. ``details`` carries what RESULTS.md shows
besides (sclite's summary rows, spreads, counts). Stage 11 builds RESULTS.md from these files only.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from espnet2_speecht5.data.kaldi_dir import atomic_write_text
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

SCORES_FILE = "scores.json"
KEYS = ("task", "set", "model", "metrics", "tools")


def package_version(name: str) -> str:
    """The installed version of a Python package, or ``unknown``."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def write_scores(
    path: PathLike,
    task: str,
    set_name: str,
    model: str,
    metrics: Dict[str, Optional[float]],
    expected: Sequence[str],
    tools: Dict[str, str],
    details: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """Write ``scores.json``; ``metrics`` must have exactly the ``expected`` names (in that order).

    Raises:
        ValueError: a metric missing or extra (a scorer that drifted from its task's names).
    """
    if set(metrics) != set(expected):
        raise ValueError(f"{task} scores must be {', '.join(expected)}, not {', '.join(metrics)}")
    content = {
        "task": task,
        "set": set_name,
        "model": model,
        "metrics": {name: metrics[name] for name in expected},
        "tools": {"espnet2_speecht5": package_version("espnet2_speecht5"), **tools},
        "details": details or {},
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(content, indent=2) + "\n")
    return content


def read_scores(path: PathLike) -> Dict[str, Any]:
    """A ``scores.json``, checked for its keys.

    Raises:
        DataError: missing, not JSON, or not a stage-10 scores file.
    """
    path = Path(path)
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("no scores: run stage 10 first (--stage 10)", path) from None
    except json.JSONDecodeError as err:
        raise DataError(f"not JSON ({err.msg}, line {err.lineno})", path) from None
    if not isinstance(content, dict) or any(key not in content for key in KEYS) \
            or not isinstance(content["metrics"], dict):
        raise DataError(f"not a stage-10 scores.json (it needs {', '.join(KEYS)})", path)
    content.setdefault("details", {})
    return content


def collect_scores(exp_dir: PathLike) -> List[Tuple[str, Dict[str, Any]]]:
    """``[(<decode dir>/<set>, scores), ...]`` of ``exp_dir/*/*/scores.json``, sorted by folder then set."""
    return [(f"{path.parents[1].name}/{path.parent.name}", read_scores(path))
            for path in sorted(Path(exp_dir).glob(f"*/*/{SCORES_FILE}"))]
