"""Stages 1-13 of the driver for --task st on the toy recipe: a one-epoch model with the source
CTC, sacrebleu scores, the ST RESULTS.md table, the zip (st_* keys), ``Speech2Text.from_pretrained``,
``speecht5 translate``, and the export folder that ``SpeechT5ForSpeechToText`` loads.

It checks the driver and the task's plumbing, not what the model learns (mini st1 does that)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
import yaml
from test_driver import make_toy_recipe, run

pytestmark = pytest.mark.recipe_run  # a full recipe run: make test-recipes and CI run it, make test does not

TRAIN = """\
net_conf: {size: tiny, d_model: 16, encoder_layers: 1, decoder_layers: 1, encoder_heads: 2, decoder_heads: 2,
           encoder_ffn_dim: 32, decoder_ffn_dim: 32}
model_conf: {src_ctc_weight: 0.3}
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
DECODE = "beam_size: 2\nctc_weight: 0.0\nmaxlenratio: 0.3\n"


@pytest.fixture(scope="module")
def st_recipe(tmp_path_factory) -> tuple:
    recipe = make_toy_recipe(tmp_path_factory.mktemp("st"), "st")
    (recipe / "conf").mkdir()
    (recipe / "conf" / "train.yaml").write_text(TRAIN)
    (recipe / "conf" / "decode.yaml").write_text(DECODE)
    proc = run(recipe, "--stage", "1", "--stop_stage", "13", "--test_sets", "test", "--inference_nj", "2",
               "--score_args", "--lowercase true")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return recipe, proc


def test_training_reads_the_target_list_and_the_source_list(st_recipe):
    recipe, _ = st_recipe
    exp = recipe / "exp" / "st_train_char"
    config = yaml.safe_load((exp / "config.yaml").read_text())
    target = (recipe / "data" / "token_list" / "tgt_char" / "tokens.txt").read_text().split()
    source = (recipe / "data" / "token_list" / "char" / "tokens.txt").read_text().split()
    assert config["token_list"] == target and config["src_token_list"] == source
    assert "R" in target and "r" in source and "r" not in target  # the toy target is the upper-cased sentence
    state = torch.load(exp / "valid.acc.ave.pth", weights_only=True)
    assert state["src_ctc.ctc_lo.weight"].shape[0] == len(source)


def test_stage_10_scores_bleu_and_chrf_with_the_signature(st_recipe):
    recipe, _ = st_recipe
    decode = recipe / "exp" / "st_train_char" / "decode_valid.acc.ave" / "test"
    scores = json.loads((decode / "scores.json").read_text())
    assert (scores["task"], list(scores["metrics"])) == ("st", ["bleu", "chrf"])
    assert "case:lc" in scores["details"]["bleu_signature"] and scores["details"]["lowercase"] is True
    assert scores["details"]["normalisation"] == "lower-cased, punctuation kept"
    assert scores["details"]["sentences"] == 12 and scores["tools"]["sacrebleu"]
    assert len((decode / "text").read_text().splitlines()) == 12  # two jobs merged
    assert "REF:" in (decode / "score_bleu" / "result.txt").read_text()
    results = (recipe / "RESULTS.md").read_text()
    assert "|dataset|BLEU|chrF|verbose score|" in results
    assert f"|decode_valid.acc.ave/test|{scores['metrics']['bleu']:.2f}|" in results
    assert "case:lc" in results and "lower-cased, punctuation kept" in results


def test_the_zip_loads_with_from_pretrained_and_speecht5_translate(st_recipe, tmp_path: Path):
    recipe, _ = st_recipe
    exp = recipe / "exp" / "st_train_char"
    zip_path = exp / "st_train_char_valid.acc.ave.zip"
    with zipfile.ZipFile(zip_path) as archive:
        meta = yaml.safe_load(archive.read("meta.yaml"))
    assert meta["yaml_files"] == {"st_train_config": "exp/st_train_char/config.yaml"}
    assert meta["files"]["st_model_file"].startswith("exp/st_train_char/")  # valid.acc.ave.pth, resolved
    wav = str(sorted((recipe / "wav").glob("*.wav"))[1])
    code = (
        "from espnet2_speecht5.inference.speech2text import Speech2Text\n"
        f"s2t = Speech2Text.from_pretrained({str(zip_path)!r}, cache_dir={str(tmp_path / 'cache')!r})\n"
        "print('TRANSLATES', s2t.translates, type(s2t.model).__name__)\n"
        f"print('OUT', repr(s2t.transcribe({wav!r})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "TRANSLATES True SpeechT5STModel" in proc.stdout
    cli = [sys.executable, "-m", "espnet2_speecht5.bin.speecht5_cli"]
    proc = subprocess.run([*cli, "translate", "--model", str(zip_path), "--cache_dir", str(tmp_path / "cache"),
                           wav, wav], capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [line.split("\t")[0] for line in proc.stdout.splitlines()] == [wav, wav]
    proc = subprocess.run([*cli, "transcribe", "--model", str(zip_path), "--cache_dir", str(tmp_path / "cache"),
                           wav], capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].endswith("is a translation model: use speecht5 translate")


def test_the_export_folder_loads_in_transformers_with_our_logits(st_recipe):
    import soundfile
    from transformers import SpeechT5FeatureExtractor, SpeechT5ForSpeechToText

    from espnet2_speecht5.export.transformers_export import espnet_files_from_meta, load_trained_model
    from espnet2_speecht5.models.common import espnet_to_net_ids

    recipe, _ = st_recipe
    export = recipe / "exp" / "st_train_char" / "export"
    ours, _ = load_trained_model("st", *espnet_files_from_meta(export, "st"))
    theirs = SpeechT5ForSpeechToText.from_pretrained(export).eval()
    extractor = SpeechT5FeatureExtractor.from_pretrained(export)
    wav, rate = soundfile.read(sorted((recipe / "wav").glob("*.wav"))[1], dtype="float32")
    assert rate == 16000
    inputs = extractor(audio=[wav], sampling_rate=16000, return_tensors="pt")
    prev = torch.tensor([[ours.sos, 3, 4, 5]])
    with torch.no_grad():
        enc, _ = ours.encode(inputs["input_values"], torch.tensor([len(wav)]))
        logits, _ = ours.decoder_logits(enc, prev)
        ref = theirs(**inputs, decoder_input_ids=espnet_to_net_ids(prev, ours.id_perm)).logits
    assert float((ref.index_select(-1, ours.id_perm) - logits).abs().max()) <= 1e-4
    card = (export / "README.md").read_text()
    assert "speecht5 translate" in card and "|dataset|BLEU|chrF|" in card
