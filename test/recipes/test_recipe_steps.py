"""The serial steps the driver runs through the recipes: merging jobs, scores.json, the report, packing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from espnet2_speecht5.recipes import Context, get_recipe
from espnet2_speecht5.recipes.files import StageInputMissing, split_keys
from espnet2_speecht5.recipes.merging import concat_sorted, merge_text
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.scoring.sclite import find_sclite
from espnet2_speecht5.scoring.scores_file import read_scores, write_scores

from repo_testing import REPO_ROOT


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_jobs_merge_in_byte_order_of_the_ids(tmp_path: Path):
    write(tmp_path / "output.1/1best_recog/text", "b_2 x\nB_1 y\n")
    write(tmp_path / "output.2/1best_recog/text", "a_1 z\n")
    write(tmp_path / "output.1/1best_recog/score", "b_2 -1.0\nB_1 -2.0\n")
    write(tmp_path / "output.2/1best_recog/score", "a_1 -3.0\n")
    merge_text(tmp_path, 2, tmp_path / "out")
    assert (tmp_path / "out" / "text").read_text() == "B_1 y\na_1 z\nb_2 x\n"  # LC_ALL=C sort: upper case first
    assert (tmp_path / "out" / "score").read_text() == "B_1 -2.0\na_1 -3.0\nb_2 -1.0\n"
    assert not (tmp_path / "out" / "token").exists()  # the jobs wrote none


def test_a_missing_job_output_names_stage_9(tmp_path: Path):
    write(tmp_path / "output.1/1best_recog/text", "a x\n")
    with pytest.raises(StageInputMissing, match=r"output.2/1best_recog/text does not exist: run stage 9 first"):
        merge_text(tmp_path, 2, tmp_path / "out")


def test_concat_keeps_utf8_and_counts_lines(tmp_path: Path):
    part = write(tmp_path / "p", "u2 größer\n\nu1 é\n")
    assert concat_sorted([part], tmp_path / "o") == 2
    assert (tmp_path / "o").read_text(encoding="utf-8") == "u1 é\nu2 größer\n"


def test_split_keys_gives_every_job_a_contiguous_part(tmp_path: Path):
    scp = write(tmp_path / "wav.scp", "".join(f"u{i} /a/{i}.wav\n" for i in range(5)))
    split_keys(scp, 2, tmp_path / "log" / "keys.JOB.scp")
    parts = [(tmp_path / "log" / f"keys.{n}.scp").read_text().splitlines() for n in (1, 2)]
    assert [len(p) for p in parts] == [3, 2] and parts[0][0].startswith("u0 ")


def test_scores_json_has_the_fixed_shape_and_names(tmp_path: Path):
    path = tmp_path / "scores.json"
    written = write_scores(path, "asr", "test", "exp/m.pth", {"wer": 6.3, "cer": 3.5}, ("cer", "wer"),
                           {"sclite": "sclite 2.10"})
    assert list(json.loads(path.read_text())) == ["task", "set", "model", "metrics", "tools", "details"]
    assert list(written["metrics"]) == ["cer", "wer"]  # the task's order, whatever the scorer's
    assert read_scores(path)["tools"]["espnet2_speecht5"]
    with pytest.raises(ValueError, match="asr scores must be cer, wer, not cer"):
        write_scores(path, "asr", "test", "m", {"cer": 1.0}, ("cer", "wer"), {})


def test_read_scores_names_the_file(tmp_path: Path):
    with pytest.raises(DataError, match="no scores: run stage 10 first") as err:
        read_scores(tmp_path / "scores.json")
    assert err.value.path == str(tmp_path / "scores.json")


def test_asr_scoring_writes_sclite_reports_and_scores_json(tmp_path: Path, monkeypatch):
    find_sclite()
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "dump/raw/test/text", "s1_a a b c d\ns2_a e f\n")
    write(tmp_path / "dump/raw/test/utt2spk", "s1_a s1\ns2_a s2\n")
    decode = tmp_path / "exp/asr_x/decode_valid.acc.best"
    write(decode / "test" / "text", "s1_a a x c\ns2_a e f\n")
    ctx = Context(task="asr", task_exp="exp/asr_x", token_type="char", inference_config="conf/decode.yaml")
    scores = get_recipe("asr").score(ctx, "test", decode, "valid.acc.best.pth")
    assert scores["metrics"]["wer"] == pytest.approx(33.3)  # 1 substitution and 1 deletion of 6 words
    assert scores["details"]["sclite"]["wer"]["Snt"] == 2 and scores["model"] == "exp/asr_x/valid.acc.best.pth"
    assert (decode / "test" / "score_cer" / "result.txt").is_file()
    assert read_scores(decode / "test" / "scores.json") == json.loads(json.dumps(scores))


def test_recipe_cli_turns_bad_input_into_one_line(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "espnet2_speecht5.recipes", "score", "--task", "asr", "--model", "m.pth", "--set",
         "test", f"--task_exp={tmp_path}/exp", "--inference_config=conf/decode.yaml"],
        capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"ERROR: {tmp_path}/exp/decode_m/test/text does not exist: run stage 9 first (--stage 9)"]


def test_stage_1_of_pretraining_needs_its_text_corpus(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ctx = Context(task="pretrain", pretrain_text_set="train_text", valid_set="dev")
    with pytest.raises(StageInputMissing, match=r"data/train_text/text does not exist: run stage 1 first"):
        get_recipe("pretrain").check_data(ctx)


def test_pretraining_token_list_gets_the_mask_before_sos_eos(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "dump/raw/train_text/text", "t1 a b\nt2 b c\n")
    ctx = Context(task="pretrain", pretrain_text_set="train_text", token_type="char",
                  token_dir="data/token_list/char")
    get_recipe("pretrain").make_token_lists(ctx)
    tokens = (tmp_path / "data/token_list/char/tokens.txt").read_text().splitlines()
    assert tokens[-2:] == ["<mask>", "<sos/eos>"] and tokens[0] == "<blank>"
    get_recipe("pretrain").make_token_lists(ctx)  # a rerun adds no second mask
    assert (tmp_path / "data/token_list/char/tokens.txt").read_text().splitlines().count("<mask>") == 1


def test_stage_5_takes_the_pre_training_list_and_adds_the_new_characters(tmp_path: Path) -> None:
    """--pretrained_model in an ASR recipe: stage 5 writes the pre-training token list plus the characters of
    the training text it lacks (this path once passed its arguments in the wrong order and always stopped)."""
    import yaml

    pre = tmp_path / "pre"
    pre.mkdir()
    tokens = ["<blank>", "<unk>", "<space>", "a", "b", "<mask>", "<sos/eos>"]
    (pre / "config.yaml").write_text(yaml.safe_dump({"token_list": tokens, "token_type": "char",
                                                     "text_batch_ratio": 1}))
    (pre / "model.pth").write_bytes(b"")  # stage 5 reads only the config beside it
    raw = tmp_path / "dump" / "raw" / "train"
    raw.mkdir(parents=True)
    (raw / "text").write_text("u1 ab ba\nu2 abé c\n", encoding="utf-8")
    ctx = Context(task="asr", dumpdir=str(tmp_path / "dump"), expdir=str(tmp_path / "exp"), data_train_set="train",
                  token_type="char", token_dir=str(tmp_path / "tok"), pretrained_model=str(pre / "model.pth"))
    get_recipe("asr").make_token_lists(ctx)
    written = (tmp_path / "tok" / "tokens.txt").read_text(encoding="utf-8").split("\n")
    assert [t for t in written if t] == ["<blank>", "<unk>", "<space>", "a", "b", "<mask>", "é", "c", "<sos/eos>"]
