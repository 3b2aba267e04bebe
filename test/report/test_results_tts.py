"""RESULTS.md for TTS experiments: the table built from stage 10's scores.json (score_tts's summary inside)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest

from espnet2_speecht5.recipes import get_recipe
from espnet2_speecht5.recipes.steps import results_text
from espnet2_speecht5.report.results_md import TABLE_HEADER, TTS_TABLE_HEADER, merge_into
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.scoring.sclite import find_sclite, score
from espnet2_speecht5.scoring.scores_file import collect_scores, write_scores
from espnet2_speecht5.scoring.tts_summary import make_summary


def write_tts_scores(folder: Path, summary: Dict[str, object], sclite=None) -> None:
    """scores.json as the TTS recipe writes it from a score_tts summary."""
    metrics = {"mcd": summary["mcd_mean"], "cer": summary["cer"], "wer": summary["wer"],
               "spk_sim": summary["speaker_similarity"]}
    write_scores(folder / "scores.json", "tts", folder.name, "exp/m.pth", metrics, get_recipe("tts").metrics, {},
                 {"mcd_std": summary["mcd_std"], "utterances": summary["utterances"], "sclite": sclite or {}})


def make_results_md(exp: Path, repo=None, date=None) -> str:
    return results_text(exp, repo="/nonexistent", date=date)


def tts_rows(text: str) -> List[List[str]]:
    """The cells of the TTS table's data rows."""
    table = text[text.index(TTS_TABLE_HEADER):]
    rows = []
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append(line.strip("|").split("|"))
    return rows


@pytest.fixture()
def tts_exp(tmp_path: Path) -> Dict[str, object]:
    """A TTS experiment with two test sets: one scored with every metric, one with MCD only."""
    exp = tmp_path / "exp" / "tts_train_char"
    full = make_summary(3, mcd=[5.0, 6.5, 7.25], cer=12.34, wer=30.0, similarities=[0.9, 0.8, 0.7])
    mcd_only = make_summary(2, mcd=[4.0, 4.5])
    for dset, summary in (("test", full), ("dev", mcd_only)):
        write_tts_scores(exp / "decode_tts_valid.loss.ave" / dset, summary)
    return {"exp": exp, "full": full, "mcd_only": mcd_only}


def test_one_row_per_test_set_with_the_summary_values(tts_exp: Dict[str, object]):
    text = make_results_md(tts_exp["exp"], repo=None, date="Mon Jan 01 00:00:00 UTC 2026")
    assert "## Environments" in text and "### TTS" in text
    assert TABLE_HEADER not in text  # no sclite report: no ASR tables
    rows = tts_rows(text)
    assert [row[0] for row in rows] == ["decode_tts_valid.loss.ave/dev", "decode_tts_valid.loss.ave/test"]
    dev, test = rows
    full = tts_exp["full"]
    assert test[1] == f"{full['mcd_mean']:.2f} ± {full['mcd_std']:.2f}"
    assert float(test[2]) == pytest.approx(full["cer"], abs=0.05)
    assert float(test[3]) == pytest.approx(full["wer"], abs=0.05)
    assert float(test[4]) == pytest.approx(full["speaker_similarity"], abs=5e-4)
    assert int(test[5]) == full["utterances"]
    assert dev[2:5] == ["-", "-", "-"] and int(dev[5]) == tts_exp["mcd_only"]["utterances"]


def test_tts_table_sits_beside_the_sclite_tables_and_merges(tts_exp: Dict[str, object]):
    find_sclite()
    exp = tts_exp["exp"]
    test_dir = exp / "decode_tts_valid.loss.ave" / "test"
    sclite = {m: score({"u1": "a b c"}, {"u1": "a b d"}, test_dir / f"score_{m}", m).percent.as_dict()
              for m in ("cer", "wer")}
    write_tts_scores(test_dir, tts_exp["full"], sclite)
    text = make_results_md(exp, repo=None)
    assert text.index("### TTS") < text.index("### WER") < text.index("### CER")
    merged = merge_into("# RESULTS\n## Environments\n- old\n\n## exp/asr_other\n### WER\n|x|\n", text)
    assert merged.count("### TTS") == 1 and "## exp/asr_other" in merged


def test_malformed_scores_file_is_named(tts_exp: Dict[str, object]):
    bad = tts_exp["exp"] / "decode_tts_valid.loss.ave" / "dev" / "scores.json"
    bad.write_text('{"task": "tts", "metrics": {}}', encoding="utf-8")
    with pytest.raises(DataError, match="not a stage-10 scores.json") as err:
        collect_scores(tts_exp["exp"])
    assert err.value.path == str(bad)
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="not JSON"):
        collect_scores(tts_exp["exp"])


def test_ceiling_table_lists_the_recordings_and_their_copy_synthesis(tts_exp: Dict[str, object]):
    """details.ceilings of scores.json becomes a second table; sets without ceilings get no row."""
    folder = tts_exp["exp"] / "decode_tts_valid.loss.ave" / "test"
    summary = tts_exp["full"]
    metrics = {"mcd": summary["mcd_mean"], "cer": summary["cer"], "wer": summary["wer"],
               "spk_sim": summary["speaker_similarity"]}
    ceilings = {"recordings": {"cer": 20.84, "wer": 56.4, "mcd_mean": None, "mcd_std": None},
                "copy_synthesis": {"cer": 31.25, "wer": 70.0, "mcd_mean": 3.456, "mcd_std": 0.5}}
    write_scores(folder / "scores.json", "tts", "test", "exp/m.pth", metrics, get_recipe("tts").metrics, {},
                 {"mcd_std": summary["mcd_std"], "utterances": 3, "sclite": {}, "ceilings": ceilings})
    text = make_results_md(tts_exp["exp"])
    header = "|dataset|recordings CER (%)|recordings WER (%)|copy synthesis CER (%)|"
    assert header in text and text.index(TTS_TABLE_HEADER) < text.index(header)
    rows = [line for line in text[text.index(header):].splitlines()[2:] if line.startswith("|")]
    assert rows == ["|decode_tts_valid.loss.ave/test|20.8|56.4|31.2|70.0|3.46 ± 0.50|"]
    write_tts_scores(folder, summary)  # no ceilings (no ASR model): no table
    assert header not in make_results_md(tts_exp["exp"])
