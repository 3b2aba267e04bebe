"""Stages 1-13 of the driver for --task sid on a toy recipe (three speakers, one training epoch).

It checks the driver's glue (speaker list, statistics, training, classification in two jobs,
accuracy and the confusion matrix, RESULTS.md, the zip and Speech2Label on it), not what the
model learns.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from test_driver import make_toy_recipe, run

pytestmark = pytest.mark.recipe_run  # a full recipe run: make test-recipes and CI run it, make test does not

TINY_SID = textwrap.dedent(
    """\
    net_conf: {size: tiny, d_model: 16, encoder_layers: 1, decoder_layers: 1, encoder_heads: 2, decoder_heads: 2,
               encoder_ffn_dim: 32, decoder_ffn_dim: 32, conv_channels: [8, 8, 8], pos_conv_kernel: 8,
               pos_conv_groups: 2}
    model_conf: {head: decoder, crop_seconds: 0.5}
    batch_type: folded
    batch_size: 4
    max_epoch: 1
    num_workers: 0
    num_att_plot: 0
    best_model_criterion: [[valid, acc, max]]
    keep_nbest_models: 1
    optim: adam
    optim_conf: {lr: 0.005}
    """
)


@pytest.fixture(scope="module")
def sid_recipe(tmp_path_factory) -> tuple:
    recipe = make_toy_recipe(tmp_path_factory.mktemp("sid"), "sid")
    (recipe / "conf").mkdir()
    (recipe / "conf" / "train.yaml").write_text(TINY_SID)
    proc = run(recipe, "--stage", "1", "--stop_stage", "13", "--inference_nj", "2")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return recipe, proc


def test_every_test_set_gets_labels_scores_and_a_confusion_matrix(sid_recipe):
    recipe, proc = sid_recipe
    decode = recipe / "exp" / "sid_train_word" / "classify_valid.acc.ave"  # the first of the recipe's choices
    for dset in ("dev", "test"):
        ref = dict(line.split() for line in (recipe / "dump/raw" / dset / "utt2spk").read_text().splitlines())
        labels = dict(line.split() for line in (decode / dset / "label").read_text().splitlines())
        assert sorted(labels) == sorted(ref)  # both jobs' outputs, merged
        top5 = (decode / dset / "top5").read_text().splitlines()
        assert all(len(line.split()) == 1 + 3 for line in top5)  # three speakers: the top 5 holds all three
        scores = json.loads((decode / dset / "scores.json").read_text())
        accuracy = 100.0 * sum(labels[u] == s for u, s in ref.items()) / len(ref)
        assert scores["task"] == "sid" and scores["metrics"]["accuracy"] == round(accuracy, 2)
        assert scores["metrics"]["top5"] == 100.0
        assert (decode / dset / "confusion.png").stat().st_size > 1000
    assert "logs: exp/sid_train_word/classify_valid.acc.ave/dev/logdir/sid_inference.*.log" in proc.stderr


def test_results_pack_and_speech2label_on_the_zip(sid_recipe, tmp_path: Path):
    from espnet2_speecht5 import Speech2Label

    recipe, proc = sid_recipe
    results = (recipe / "RESULTS.md").read_text()
    assert "### SID" in results and "- head: decoder" in results
    assert "|classify_valid.acc.ave/test|12|3|" in results
    zip_path = recipe / "exp/sid_train_word/sid_train_word_valid.acc.ave.zip"
    sid = Speech2Label.from_pretrained(str(zip_path), cache_dir=tmp_path / "cache")
    assert sid.labels == ["spka", "spkb", "spkc"]
    wav = (recipe / "dump/raw/test/wav.scp").read_text().split()[1]
    assert sid(wav) in sid.labels
    assert "stage 13: skipped: transformers has no SpeechT5 speaker-identification class" in proc.stderr


def test_one_training_speaker_stops_stage_5_with_one_line(tmp_path: Path):
    recipe = make_toy_recipe(tmp_path, "sid")
    assert run(recipe, "--stage", "1", "--stop_stage", "4").returncode == 0
    utt2spk = recipe / "dump/raw/train/utt2spk"
    utt2spk.write_text("".join(f"{line.split()[0]} spka\n" for line in utt2spk.read_text().splitlines()))
    proc = run(recipe, "--stage", "5", "--stop_stage", "5")
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert errors == [f"ERROR: {utt2spk.relative_to(recipe)}: has 1 speaker: speaker identification needs at "
                      "least two"], proc.stderr[-2000:]
