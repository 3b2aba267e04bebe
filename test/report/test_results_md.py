"""RESULTS.md (stage 11, from the scores.json of stage 10) and the model card (stage 13)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from espnet2_speecht5.export.model_card import model_card
from espnet2_speecht5.recipes.steps import results_text
from espnet2_speecht5.report.results_md import GENERATED_MARK, TABLE_HEADER, merge_into
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.scoring.sclite import find_sclite, score
from espnet2_speecht5.scoring.scores_file import write_scores

from repo_testing import REPO_ROOT


@pytest.fixture()
def scored_exp(tmp_path: Path) -> Path:
    """An experiment folder with stage 10's scores.json (from sclite) for two decode folders and two sets."""
    find_sclite()  # installed by tools/install.sh; fails, not skips, when it is missing
    exp = tmp_path / "exp" / "asr_train_char"
    ref = {"s1_u1": "a b c d", "s2_u1": "e f"}
    hyps = {"test": {"s1_u1": "a x c", "s2_u1": "e f"}, "dev": {"s1_u1": "a b c d", "s2_u1": "e f"}}
    for decode in ("decode_valid.acc.ave", "decode_valid.acc.ave_lm_train_lm_char_valid.loss.ave"):
        for dset, hyp in hyps.items():
            results = {m: score(ref, hyp, exp / decode / dset / f"score_{m}", m) for m in ("cer", "wer")}
            write_scores(exp / decode / dset / "scores.json", "asr", dset, "exp/m.pth",
                         {m: r.percent.err for m, r in results.items()}, ("cer", "wer"), {},
                         {"sclite": {m: r.percent.as_dict() for m, r in results.items()}})
    return exp


def make_results_md(exp: Path, repo=None, model_file=None, config=None, date="Mon Jan 01 00:00:00 UTC 2026") -> str:
    return results_text(exp, model_file, config, repo=str(repo) if repo else "/nonexistent", date=date)


def test_tables_have_espnet_columns_and_one_row_per_decode_and_set(scored_exp: Path):
    text = make_results_md(scored_exp, repo=REPO_ROOT, model_file="exp/m.pth", config="conf/train.yaml",
                           date="Mon Jan 01 00:00:00 UTC 2026")
    assert text.count(TABLE_HEADER) == 2
    assert TABLE_HEADER == "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|"
    wer = text[text.index("### WER"):text.index("### CER")]
    rows = [line for line in wer.splitlines() if line.startswith("|decode")]
    assert [row.split("|")[1] for row in rows] == [
        "decode_valid.acc.ave/dev", "decode_valid.acc.ave/test",
        "decode_valid.acc.ave_lm_train_lm_char_valid.loss.ave/dev",
        "decode_valid.acc.ave_lm_train_lm_char_valid.loss.ave/test",
    ]
    # ref 6 words; test: 1 sub + 1 del -> Corr 66.7, Sub 16.7, Del 16.7, Err 33.3, S.Err 50.0
    assert rows[1] == "|decode_valid.acc.ave/test|2|6|66.7|16.7|16.7|0.0|33.3|50.0|"
    assert "- model: `exp/m.pth`" in text and "- config: `conf/train.yaml`" in text


def test_environment_header(scored_exp: Path):
    text = make_results_md(scored_exp, repo=REPO_ROOT, date="Mon Jan 01 00:00:00 UTC 2026")
    assert text.startswith(GENERATED_MARK + "\n# RESULTS\n## Environments\n")
    assert "- date: `Mon Jan 01 00:00:00 UTC 2026`" in text
    assert re.search(r"^- python version: `3\.\d+\.\d+", text, re.MULTILINE)
    assert re.search(r"^- espnet version: `espnet \d+", text, re.MULTILINE)
    assert re.search(r"^- pytorch version: `pytorch \d+\.\d+", text, re.MULTILINE)
    assert re.search(r"^- espnet2_speecht5 git hash: `([0-9a-f]{40}(-dirty)?|unknown)`", text, re.MULTILINE)


def test_metric_tables_come_in_espnet_order(scored_exp: Path):
    text = make_results_md(scored_exp)
    assert text.index("### WER") < text.index("### CER") and "### TER" not in text


def test_no_scores_names_the_stage(tmp_path: Path):
    (tmp_path / "exp").mkdir()
    with pytest.raises(DataError, match=r"no \*/\*/scores.json under .*run stage 10 first"):
        results_text(tmp_path / "exp")


def test_recipe_copy_replaces_its_own_section_and_keeps_others(scored_exp: Path):
    other = "# RESULTS\n## Environments\n- old\n\n## exp/asr_other\n### WER\n|x|\n\n## exp/asr_train_char\nstale\n"
    new = make_results_md(scored_exp, repo=None)
    merged = merge_into(other.replace("exp/asr_train_char", str(scored_exp)), new)
    assert "stale" not in merged and "- old" not in merged
    assert "## exp/asr_other" in merged
    assert merged.count(f"## {scored_exp}\n") == 1
    assert merge_into("", new).count("### WER") == 1


def test_model_card_has_front_matter_results_and_usage(scored_exp: Path):
    results = make_results_md(scored_exp, repo=None)
    card = model_card("asr", "mini_speecht5", "asr_train_char", results, "owner/model")
    assert card.startswith("---\nlibrary_name: espnet\n")
    assert "pipeline_tag: automatic-speech-recognition" in card
    assert "### Environments" in card and "#### WER" in card and TABLE_HEADER in card
    assert 'from_pretrained("owner/model")' in card
