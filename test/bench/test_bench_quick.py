"""bench/run.py --quick: every case runs on both implementations and the report is written.

Only the harness is checked here; no timing is asserted (the numbers of a tiny network mean nothing).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from repo_testing import REPO_ROOT

pytestmark = pytest.mark.slow  # runs every bench case on both sides (~220 s): make test-all

pytest.importorskip("transformers")

# Each table row's label starts with one of these (bench/reporting.py table_rows, --quick sizes).
EXPECTED_ROWS = [
    ("a", "ASR greedy, 1 s audio, 10 tokens"),
    ("b", "ASR beam 5, 10 tokens, ours without CTC"),
    ("b", "ASR beam 5, 10 tokens, ours with CTC 0.3"),
    ("c", "TTS generation, 12 chars -> 20 frames"),
    ("c", "HiFi-GAN vocoder"),
    ("c", "TTS generation + vocoder"),
    ("d", "S2T train step, 2 x 1 s, 10 labels, ours CTC 0"),
    ("d", "S2T train step, ours CTC 0.3"),
    ("e", "TTS train step, 2 x 12 chars"),
    ("e", "TTS train step, ours minus its log-mel extraction"),
]


def table_rows(markdown: str, first_header: str) -> List[Dict[str, str]]:
    """The rows of the markdown table whose header starts with ``| first_header |``, as dicts."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))))
    return rows


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "RESULTS.md"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "run.py"), "--quick", "--threads", "1", "--out", str(out)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


def test_quick_table_has_every_case_for_both_implementations(quick_run: Path):
    text = quick_run.read_text(encoding="utf-8")
    rows = table_rows(text, "case")
    for case, label in EXPECTED_ROWS:
        matching = [r for r in rows if r["case"] == case and r["workload"].startswith(label)]
        assert len(matching) == 1, (case, label, [r["workload"] for r in rows])
        row = matching[0]
        for column in ("ours s", "ref s", "ours peak RSS MB", "ref peak RSS MB"):
            assert float(row[column]) > 0, (label, column, row[column])
        for column in ("ours/ref time", "ours/ref mem"):
            assert math.isfinite(float(row[column])) and float(row[column]) > 0, (label, column, row[column])
        if case in "de":
            assert row["ours MFU"].endswith("%") and row["ref MFU"].endswith("%"), row
    assert "matmul probe" in text
    assert "Decode floor (case a)" in text and "x the floor" in text


def test_quick_report_layout_and_raw_rounds(quick_run: Path):
    text = quick_run.read_text(encoding="utf-8")
    assert "## What each change bought" in text
    assert text.index("## What each change bought") < text.index("<!-- BEGIN bench/run.py output")
    assert "| command | `" in text and "| torch |" in text and "| CPU |" in text
    raw = json.loads(quick_run.with_suffix(".json").read_text(encoding="utf-8"))
    seen = {(entry["case"], entry["impl"]) for entry in raw["rounds"]}
    for case in "abcde":
        assert {(case, "ours"), (case, "ref")} <= seen, case
    assert ("g", "probe") in seen


def test_rerun_keeps_the_changes_section(quick_run: Path, tmp_path: Path):
    """write_results replaces only the run section: rows appended to the changes table survive."""
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    try:
        import reporting
    finally:
        sys.path.remove(str(REPO_ROOT / "bench"))
    copy = tmp_path / "RESULTS.md"
    added = "| 2026-01-01 | abc | kv cache | a | 2.0 | 1.0 | 1.0 | 0.5 | test row |"
    text = quick_run.read_text(encoding="utf-8").replace(
        "|---|---|---|---|---|---|---|---|---|", "|---|---|---|---|---|---|---|---|---|\n" + added, 1
    )
    copy.write_text(text, encoding="utf-8")
    reporting.write_results(copy, "new section")
    result = copy.read_text(encoding="utf-8")
    assert added in result
    assert "new section" in result and "### Medians and ratios" not in result
