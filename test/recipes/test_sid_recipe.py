"""The SID recipe's serial steps on hand-made folders: speaker list, merging stage 9's jobs, scoring, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from espnet2_speecht5.recipes import Context, get_recipe
from espnet2_speecht5.recipes.steps import results_text
from espnet2_speecht5.runtime.errors import DataError

SPEAKERS = ["anna", "bert", "carl"]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def context(root: Path, **values: str) -> Context:
    settings = dict(task="sid", dumpdir=str(root / "dump"), expdir=str(root / "exp"), data_train_set="train",
                    test_sets="test", token_type="word", token_dir=str(root / "data/token_list/word"),
                    task_exp=str(root / "exp/sid_train_word"))
    return Context(**{**settings, **values})


def hand_made_decode_folder(root: Path) -> Context:
    """Six test utterances (one of a speaker the model never saw), classified by two jobs."""
    ctx = context(root)
    exp = Path(ctx.task_exp)
    tokens = ["<blank>", "<unk>", *SPEAKERS, "<sos/eos>"]
    write(exp / "config.yaml", yaml.safe_dump({"token_list": tokens, "model_conf": {"head": "decoder"}}))
    write(ctx.raw("test") / "utt2spk",
          "anna_1 anna\nanna_2 anna\nbert_1 bert\nbert_2 bert\ncarl_1 carl\ndora_1 dora\n")
    logdir = root / "logdir"
    # job 1: anna_1 right, anna_2 -> bert (anna second), bert_1 right
    write(logdir / "output.1/label", "anna_1 anna\nanna_2 bert\nbert_1 bert\n")
    write(logdir / "output.1/top5", "anna_1 anna:0.9 bert:0.1\nanna_2 bert:0.6 anna:0.3 carl:0.1\n"
                                    "bert_1 bert:0.8 carl:0.2\n")
    # job 2: bert_2 -> carl (bert not in its top 5), carl_1 right, dora_1 (unknown speaker) -> anna
    write(logdir / "output.2/label", "bert_2 carl\ncarl_1 carl\ndora_1 anna\n")
    write(logdir / "output.2/top5", "bert_2 carl:0.7 anna:0.3\ncarl_1 carl:1.0\ndora_1 anna:0.5 bert:0.5\n")
    recipe = get_recipe("sid")
    recipe.merge_jobs(ctx, logdir, 2, recipe.decode_dir(ctx, "valid.acc.best.pth") / "test")
    return ctx


def test_stage_10_accuracy_agrees_with_the_merged_stage_9_labels(tmp_path: Path):
    ctx = hand_made_decode_folder(tmp_path)
    recipe = get_recipe("sid")
    decode = recipe.decode_dir(ctx, "valid.acc.best.pth")
    assert decode.name == "classify_valid.acc.best"
    labels = dict(line.split() for line in (decode / "test/label").read_text().splitlines())
    assert list(labels) == sorted(labels)  # merged in byte order
    ref = dict(line.split() for line in (ctx.raw("test") / "utt2spk").read_text().splitlines())
    expected = 100.0 * sum(labels[utt] == spk for utt, spk in ref.items()) / len(ref)

    scores = recipe.score(ctx, "test", decode, "valid.acc.best.pth")

    on_disk = json.loads((decode / "test/scores.json").read_text())
    assert on_disk == json.loads(json.dumps(scores))
    assert on_disk["metrics"] == {"accuracy": round(expected, 2), "top5": round(100.0 * 4 / 6, 2)}
    assert on_disk["metrics"]["accuracy"] == 50.0  # anna_1, bert_1, carl_1 of six
    details = on_disk["details"]
    assert (details["utterances"], details["unknown_speakers"], details["unknown_examples"]) == (6, 1, ["dora_1"])
    assert details["head"] == "decoder" and details["speakers"] == 3
    png = decode / "test/confusion.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000


def test_the_report_names_the_head_and_counts_untrained_speakers(tmp_path: Path):
    ctx = hand_made_decode_folder(tmp_path)
    recipe = get_recipe("sid")
    recipe.score(ctx, "test", recipe.decode_dir(ctx, "valid.acc.best.pth"), "valid.acc.best.pth")
    text = results_text(Path(ctx.task_exp), date="today", repo=str(tmp_path))
    assert "- head: decoder (one decoder step" in text
    assert "|classify_valid.acc.best/test|6|3|50.00|66.67|1|" in text
    assert "1 utterance(s) of a speaker the model was not trained on, counted as errors (e.g. `dora_1`)" in text


def test_stage_5_writes_the_speakers_in_espnet_layout(tmp_path: Path):
    ctx = context(tmp_path)
    write(ctx.raw("train") / "utt2spk", "bert_1 bert\nanna_1 anna\nanna_2 anna\nZed_1 Zed\n")
    get_recipe("sid").make_token_lists(ctx)
    tokens = (Path(ctx.token_dir) / "tokens.txt").read_text().split()
    assert tokens == ["<blank>", "<unk>", "Zed", "anna", "bert", "<sos/eos>"]


def test_one_training_speaker_stops_stage_5_with_one_line(tmp_path: Path):
    ctx = context(tmp_path)
    write(ctx.raw("train") / "utt2spk", "anna_1 anna\nanna_2 anna\n")
    with pytest.raises(DataError) as err:
        get_recipe("sid").make_token_lists(ctx)
    message = str(err.value)
    assert "\n" not in message and "utt2spk" in message and "needs at least two" in message


def test_a_text_token_type_is_refused(tmp_path: Path):
    ctx = context(tmp_path, token_type="char")
    write(ctx.raw("train") / "utt2spk", "anna_1 anna\nbert_1 bert\n")
    with pytest.raises(DataError, match="--token_type word"):
        get_recipe("sid").make_token_lists(ctx)


def test_the_pooling_head_takes_no_decoder_from_a_pretrained_model(tmp_path: Path):
    recipe = get_recipe("sid")
    assert recipe.pretrained_parts() == ("speech_prenet", "encoder", "decoder")
    config = write(tmp_path / "train.yaml", "model_conf:\n    head: pooling\n")
    assert recipe.pretrained_parts(config) == ("speech_prenet", "encoder")
    assert not recipe.shares_pretrained_tokens


def test_stage_9_jobs_get_the_classification_model_and_no_decoding_config(tmp_path: Path):
    ctx = context(tmp_path, inference_config="conf/decode.yaml")
    args = get_recipe("sid").inference_args(ctx, "test", tmp_path / "log", "valid.acc.best.pth")
    assert "--config" not in args
    assert args[args.index("--classification_model_file") + 1].endswith("sid_train_word/valid.acc.best.pth")
    assert f"{ctx.raw('test')}/wav.scp,speech,sound" in args
