"""All 13 stages of egs2/an4/asr1 on the mini AN4 archive: the recipe's smoke test.

The recipe's own configuration (a SpeechT5 network of a few thousand parameters, two epochs on
3 utterances) is used as it is, so this checks the recipe that users run: data preparation
from the archive, training with our ASR task, decoding, sclite scoring, RESULTS.md, the
model-zoo zip and the export folder. It takes about a minute and a half on 2 CPU cores.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from repo_testing import copy_recipe, run_recipe

pytestmark = pytest.mark.slow  # all 13 stages on the shared an4 data (~150 s): make test-all

MINI_AN4 = "mini_an4"


@pytest.fixture(scope="module")
def an4_run(tmp_path_factory, shared_data: Path) -> tuple:
    """egs2/an4/asr1 copied to a temporary folder, after ``./run.sh --stage 1 --stop_stage 13``."""
    if not (shared_data / MINI_AN4).is_dir():
        pytest.skip(f"the shared corpus folder {shared_data / MINI_AN4} is missing")
    recipe = copy_recipe("an4", "asr1", tmp_path_factory.mktemp("an4"))
    proc = run_recipe(
        recipe,
        "--stage", "1", "--stop_stage", "13", "--nj", "2", "--inference_nj", "1",
        env={"AN4": str(shared_data / MINI_AN4)},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return recipe, proc


def test_every_stage_ran(an4_run):
    recipe, proc = an4_run
    for n in range(1, 14):
        assert list((recipe / "exp" / "logs").glob(f"stage{n}_*.log")), f"stage {n} left no log"
    assert "finished stages 1-13 of task asr" in proc.stderr


def test_results_md_has_wer_and_cer_rows_for_both_test_sets(an4_run):
    recipe, _ = an4_run
    text = (recipe / "RESULTS.md").read_text()
    for metric in ("WER", "CER"):
        section = text[text.index(f"### {metric}"):]
        assert "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|" in section
        for dset, n_utts in (("dev", 2), ("test", 2)):
            assert f"/{dset}|{n_utts}|" in section, f"no {metric} row for {dset}"


def test_the_packed_zip_and_the_export_folder_exist(an4_run):
    recipe, proc = an4_run
    exp = recipe / "exp" / "asr_train_char"
    zips = sorted(exp.glob("asr_train_char_*.zip"))
    assert len(zips) == 1, sorted(p.name for p in exp.iterdir())
    with zipfile.ZipFile(zips[0]) as archive:
        names = archive.namelist()
    assert "meta.yaml" in names
    assert "exp/asr_train_char/config.yaml" in names
    assert any(name.endswith(".safetensors") for name in names)
    assert (exp / "export" / "README.md").is_file() and (exp / "export" / "config.json").is_file()
    # No --hf_repo: stage 13 lists what it would upload instead of uploading.
    assert "would upload" in proc.stderr and "not uploaded: no --hf_repo" in proc.stderr
