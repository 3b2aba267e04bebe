"""speecht5.sh --task pretrain through stages 1-13 on the toy recipe, then ASR fine-tuning from its zip
(--pretrained_model) and the pre-trained-versus-scratch comparison script. About six minutes on 2 cores:
marked slow."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import zipfile
from pathlib import Path

import pytest
import torch
import yaml
from test_driver import TOY_ASR_SCHEDULE, make_toy_recipe, run

from espnet2_speecht5.checkpoint.io import load_checkpoint

pytestmark = pytest.mark.slow

NET_CONF = """net_conf: {size: tiny, d_model: 16, encoder_layers: 1, decoder_layers: 1, encoder_heads: 2,
           decoder_heads: 2, encoder_ffn_dim: 32, decoder_ffn_dim: 32, conv_channels: [8, 8, 8], postnet_layers: 2}
"""
PRETRAIN_TRAIN = NET_CONF + textwrap.dedent(
    """\
    model_conf: {num_clusters: 50, latent_vars: 4, final_dim: 8}
    batch_type: folded
    batch_size: 4
    text_batch_type: folded
    text_batch_size: 4
    text_batch_ratio: 1.0
    max_epoch: 1
    num_workers: 0
    best_model_criterion: [[valid, acc_mlm, max]]
    keep_nbest_models: 1
    optim: adam
    optim_conf: {lr: 0.001}
    """
)
ASR_TRAIN = NET_CONF + TOY_ASR_SCHEDULE


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> tuple:
    recipe = make_toy_recipe(tmp_path_factory.mktemp("pretrain"), "pretrain")
    (recipe / "conf").mkdir()
    (recipe / "conf" / "train.yaml").write_text(PRETRAIN_TRAIN)
    (recipe / "data" / "dev_text").mkdir(parents=True)
    (recipe / "data" / "dev_text" / "text").write_text("d001 red cup\nd002\nd003 two blue balls\n")
    proc = run(recipe, "--stage", "1", "--stop_stage", "13", "--n_clusters", "4", "--inference_nj", "2")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return recipe, proc


def test_stages_5_to_8_make_tokens_labels_shapes_and_a_model(pretrained):
    recipe, proc = pretrained
    tokens = (recipe / "data" / "token_list" / "char" / "tokens.txt").read_text().split()
    assert tokens[-2:] == ["<mask>", "<sos/eos>"] and tokens.count("<mask>") == 1
    assert "stage 4: dump/raw/dev_text/text: 2 of 3 sentences kept" in proc.stderr
    info = yaml.safe_load((recipe / "exp" / "clusters_iter1" / "info.yaml").read_text())
    assert (info["n_clusters"], info["iteration"], info["feature"]) == (4, 1, "mfcc")
    for dset in ("train", "dev", "test"):
        labels = (recipe / "dump" / "labels_iter1" / dset / "label").read_text().splitlines()
        assert len(labels) == 12
    stats = recipe / "exp" / "pretrain_stats_char"
    assert len((stats / "train" / "speech_shape").read_text().splitlines()) == 12
    assert len((stats / "text" / "train" / "text_shape.char").read_text().splitlines()) == 20
    assert len((stats / "text" / "valid" / "text_shape.char").read_text().splitlines()) == 2
    config = yaml.safe_load((recipe / "exp" / "pretrain_train_char" / "config.yaml").read_text())
    assert config["model_conf"]["num_clusters"] == 4  # stage 6's count, over the config's 50
    assert config["train_text_data_path_and_name_and_type"] == [["dump/raw/train_text/text", "text", "text"]]
    log = (recipe / "exp" / "pretrain_train_char" / "train.log").read_text()
    assert "an epoch: 3 speech and 3 text batches" in log
    assert "loss_text_ce" in log.split("1epoch results:")[1].split("[valid]")[1]


def test_stages_9_to_13_score_report_pack_and_skip_the_export(pretrained):
    recipe, proc = pretrained
    exp = recipe / "exp" / "pretrain_train_char"
    evals = exp / "eval_valid.acc_mlm.ave"
    dev = yaml.safe_load((evals / "dev" / "scores.yaml").read_text())
    assert dev["utterances"] == 12 and dev["sentences"] == 2 and 0 <= dev["acc_mlm"] <= 1
    test = yaml.safe_load((evals / "test" / "scores.yaml").read_text())
    assert test["utterances"] == 12 and test["sentences"] == 0 and "loss_text_ce" not in test
    assert "stage 9: test: no held-out text" in proc.stderr
    assert (evals / "dev" / "logdir" / "stats.2.yaml").is_file()  # two jobs
    scores = json.loads((evals / "dev" / "scores.json").read_text())
    assert scores["task"] == "pretrain" and scores["metrics"]["acc_mlm"] == pytest.approx(dev["acc_mlm"] * 100)
    assert json.loads((evals / "test" / "scores.json").read_text())["metrics"]["acc_text"] is None
    results = (recipe / "RESULTS.md").read_text()
    row = next(line for line in results.splitlines() if line.startswith("|eval_valid.acc_mlm.ave/dev|"))
    assert row.split("|")[2:4] == ["12", f"{dev['acc_mlm'] * 100:.1f}"]
    zip_path = exp / "pretrain_train_char_valid.acc_mlm.ave.zip"
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        meta = yaml.safe_load(archive.read("meta.yaml"))
    assert meta["yaml_files"] == {"ssl_train_config": "exp/pretrain_train_char/config.yaml"}
    # ESPnet's packer stores the checkpoint that the model's link points to
    model_name = (exp / "valid.acc_mlm.ave.pth").resolve().name
    assert meta["files"]["ssl_model_file"] == f"exp/pretrain_train_char/{model_name}"
    assert not [n for n in names if n.startswith("dump/") or "text_shape" in n]  # training data stays out
    assert "stage 13: skipped: transformers has no SpeechT5 pre-training model class" in proc.stderr


def test_asr_fine_tuning_starts_from_the_packed_model(pretrained, tmp_path: Path):
    pre_recipe, _ = pretrained
    zip_path = pre_recipe / "exp" / "pretrain_train_char" / "pretrain_train_char_valid.acc_mlm.ave.zip"
    recipe = make_toy_recipe(tmp_path, "asr")
    (recipe / "conf").mkdir()
    (recipe / "conf" / "train.yaml").write_text(ASR_TRAIN)
    proc = run(recipe, "--stage", "1", "--stop_stage", "8", "--pretrained_model", str(zip_path))
    assert proc.returncode == 0, proc.stderr[-4000:]
    tokens = (recipe / "data" / "token_list" / "char" / "tokens.txt").read_text().split()
    assert tokens == (pre_recipe / "data" / "token_list" / "char" / "tokens.txt").read_text().split()
    exp = recipe / "exp" / "asr_train_char"
    init = load_checkpoint(exp / "pretrained_init.pth")
    log = (exp / "train.log").read_text()
    assert f"pretrained_init.pth:net:net: loaded {len(init)} of" in log
    pre = load_checkpoint(pre_recipe / "exp" / "pretrain_train_char" / "valid.acc_mlm.ave.pth")
    assert all(torch.equal(value, pre[key]) for key, value in init.items())


def test_finetune_compare_trains_both_initialisations_and_reports(pretrained):
    """utils/finetune_compare.sh on the toy recipe (its own local/data.sh as the ASR recipe's): one seed,
    6 labelled utterances."""
    recipe, _ = pretrained
    (recipe / "conf" / "finetune.yaml").write_text(ASR_TRAIN)
    (recipe / "conf" / "decode.yaml").write_text("beam_size: 2\nctc_weight: 0.3\nmaxlenratio: 0.3\n")
    command = ["utils/finetune_compare.sh", "--asr_recipe", ".", "--seeds", "0", "--num_utts", "6",
               "--train_config", "conf/finetune.yaml", "--decode_config", "conf/decode.yaml"]
    proc = subprocess.run(command, cwd=recipe, capture_output=True, text=True, timeout=900, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-4000:]
    work = recipe / "exp" / "finetune_compare"
    assert len((work / "data" / "train6" / "text").read_text().splitlines()) == 6
    pre_log = (work / "runs" / "pretrained_seed0" / "asr_pretrained_seed0" / "train.log").read_text()
    scratch_log = (work / "runs" / "scratch_seed0" / "asr_scratch_seed0" / "train.log").read_text()
    assert "pretrained_init.pth:net:net: loaded" in pre_log and "pretrained_init" not in scratch_log
    assert "--seed 0" in pre_log.splitlines()[0] and "--seed 0" in scratch_log.splitlines()[0]
    report = (work / "RESULTS.md").read_text()
    assert report in proc.stdout
    rows = [line for line in report.splitlines() if line.startswith(("| pretrained | 0 |", "| scratch | 0 |"))]
    assert len(rows) == 2
    assert "seed(s); CER reduction (scratch - pre-trained) per seed:" in report
    assert (work / "valid_acc.png").stat().st_size > 0
    # a rerun scores nothing again
    again = subprocess.run(command, cwd=recipe, capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert again.returncode == 0, again.stderr[-4000:]
    assert "run pretrained_seed0: scored already" in again.stderr and "training and scoring" not in again.stderr
