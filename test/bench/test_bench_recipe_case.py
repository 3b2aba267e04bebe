"""Case h of the benchmark: stage times parsed from the driver's log, and its own RESULTS.md section.

The recipe itself is not run here (it takes minutes); test/recipes/ runs it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from repo_testing import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "bench"))

import recipe_case  # noqa: E402
import reporting  # noqa: E402

DRIVER_LOG = """\
2026-11-26T10:00:00 (speecht5.sh:761) stage 1 (data) starts; log: exp/logs/stage1_data.log
some output of stage 1
2026-11-26T10:00:30 (speecht5.sh:100) stage 1: done
2026-11-26T10:01:05 (speecht5.sh:761) stage 2 (augment) starts; log: exp/logs/stage2_augment.log
2026-11-26T10:01:05 (speecht5.sh:761) stage 3 (dump) starts; log: exp/logs/stage3_dump.log
2026-11-26T10:11:05 (speecht5.sh:774) finished stages 1-3 of task asr in 665 s
"""


def test_stage_seconds_run_from_each_start_line_to_the_next_and_the_last_to_the_final_line():
    assert recipe_case.stage_seconds(DRIVER_LOG) == [(1, "data", 65.0), (2, "augment", 0.0), (3, "dump", 600.0)]


def test_a_stage_still_running_when_the_log_ends_is_left_out():
    cut = DRIVER_LOG.rsplit("\n", 2)[0]
    assert [n for n, _, _ in recipe_case.stage_seconds(cut)] == [1, 2]


def test_case_h_and_the_network_cases_keep_each_other_in_results_md(tmp_path: Path):
    out = tmp_path / "RESULTS.md"
    reporting.write_results(out, "network table v1")
    h = {"seconds": 700.0, "command": "./run.sh --stage 1 --stop_stage 13", "threads": "1", "load_1min_before": 0.1,
         "load_1min_after": 1.2, "stages": [{"stage": 1, "name": "data", "seconds": 65.0},
                                            {"stage": 8, "name": "train", "seconds": 635.0}]}
    section = recipe_case.render(h, [("CPU", "test cpu")], "2026-11-26 10:00 UTC")
    reporting.write_results(out, section, begin=recipe_case.H_BEGIN, end=recipe_case.H_END, heading="## Case h")
    reporting.write_results(out, "network table v2")
    text = out.read_text(encoding="utf-8")
    assert "network table v2" in text and "network table v1" not in text
    assert "**Wall time: 700 s (11.7 min)**" in text
    assert "| 8 | train | 635 | 91% |" in text
    assert text.index(recipe_case.H_BEGIN) > text.index(reporting.END)
    reporting.write_results(out, section.replace("700 s", "650 s").replace("11.7", "10.8"),
                            begin=recipe_case.H_BEGIN, end=recipe_case.H_END)
    text = out.read_text(encoding="utf-8")
    assert text.count(recipe_case.H_BEGIN) == 1 and "650 s" in text and "700 s" not in text
    assert "network table v2" in text


def test_recipe_copy_links_folders_copies_files_and_leaves_generated_folders_out(tmp_path: Path):
    src = tmp_path / "src"
    (src / "conf").mkdir(parents=True)
    (src / "exp").mkdir()
    (src / "run.sh").write_text("#!/bin/sh\n")
    (src / "run.sh").chmod(0o755)
    dst = recipe_case.copy_recipe_tree(src, tmp_path / "dst")
    assert (dst / "conf").is_symlink() and (dst / "conf").resolve() == (src / "conf").resolve()
    assert not (dst / "run.sh").is_symlink() and (dst / "run.sh").stat().st_mode & 0o111
    assert not (dst / "exp").exists()


def test_decode_floor_line_uses_decoding_time_after_the_encoder():
    def rounds(total: float, encoder: float, floor: float = None) -> list:
        extra = {"encoder": encoder, **({"weights floor": floor} if floor is not None else {})}
        return [{"seconds": {"total": total}, "extra_seconds": extra, "info": {"units": 100, "step_weight_mb": 198.0}}]

    results = {("a", "ours", ""): rounds(2.5, 0.5, 1.0), ("a", "ref", ""): rounds(3.5, 0.5)}
    line = reporting.decode_floor(results)
    # ours 20 ms/token, ref 30 ms/token, floor 10 ms/token
    assert "take 10.0 ms (19.8 GB/s)" in line
    assert "ours 20.0 ms (2.00 x the floor)" in line and "reference 30.0 ms (3.00 x)" in line
    assert "would need 15.0 ms per token, 1.50 x the floor" in line
    assert reporting.decode_floor({("a", "ref", ""): rounds(3.5, 0.5)}) is None
