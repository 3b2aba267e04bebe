"""bench/memory_case.py: the live tensor peak of one training step, split into torch's categories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from repo_testing import REPO_ROOT

pytest.importorskip("transformers")


@pytest.mark.parametrize("impl", ["ours", "ref"])
def test_memory_breakdown_of_a_tiny_training_step(impl: str, tmp_path: Path) -> None:
    out = tmp_path / f"{impl}.json"
    args = [sys.executable, str(REPO_ROOT / "bench" / "memory_case.py"), "--case", "d", "--impl", impl,
            "--size", "tiny", "--weights", str(tmp_path / "weights"), "--json", str(out)]  # fmt: skip
    if impl == "ours":
        args += ["--variant", "ctc0"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    numbers = json.loads(out.read_text())
    assert "live tensor peak" in result.stdout
    parameters, optimizer = numbers["parameter"], numbers["optimizer_state"]
    assert parameters > 0 and numbers["activation"] > 0
    # AdamW keeps two moments per parameter, of the parameter's size
    assert optimizer == pytest.approx(2 * parameters, rel=0.05)
    categories = sum(v for k, v in numbers.items() if k not in ("peak", "case"))
    assert numbers["peak"] == pytest.approx(categories, rel=1e-6)
