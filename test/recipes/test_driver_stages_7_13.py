"""Stages 7-13 of the driver for --task asr: order, require messages, and one full run.

The full run trains our SpeechT5 ASR model with a network of a few thousand parameters for one
epoch: it checks the driver (statistics, resumable training, parallel decoding, sclite,
RESULTS.md, pack, export), not what the model learns.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
import torch
import yaml
from test_driver import TOY_ASR_SCHEDULE, make_toy_recipe, run

from espnet2_speecht5.checkpoint.archive import verify_archive
from espnet2_speecht5.checkpoint.io import load_checkpoint
from espnet2_speecht5.export.package import check_archive
from espnet2_speecht5.export.transformers_export import espnet_files_from_meta, load_trained_model
from espnet2_speecht5.scoring.sclite import parse_sclite_report

pytestmark = pytest.mark.recipe_run  # a full recipe run: make test-recipes and CI run it, make test does not

TINY_TRAIN = (
    "net_conf: {size: tiny, d_model: 16, encoder_layers: 1, decoder_layers: 1, encoder_heads: 2, decoder_heads: 2,\n"
    "           encoder_ffn_dim: 32, decoder_ffn_dim: 32}\n" + TOY_ASR_SCHEDULE
)
TINY_DECODE = "beam_size: 2\nctc_weight: 0.3\nmaxlenratio: 0.3\n"


@pytest.fixture(scope="module")
def fresh_recipe(tmp_path_factory) -> Path:
    """A toy ASR recipe where no stage has run."""
    return make_toy_recipe(tmp_path_factory.mktemp("fresh"), "asr")


@pytest.mark.parametrize(
    "stage, message",
    [
        (7, "dump/raw/train/wav.scp does not exist: run stage 4 first (--stage 4)"),
        (8, "exp/asr_stats_char/train/speech_shape does not exist: run stage 7 first"),
        (9, "exp/asr_train_char/valid.acc.ave.pth does not exist: run stage 8 first (--stage 8)"),
        (10, "exp/asr_train_char/decode_valid.acc.ave/dev/text does not exist: run stage 9 first"),
        (11, "exp/asr_train_char/decode_valid.acc.ave does not exist: run stage 9 first"),
        (12, "exp/asr_train_char/valid.acc.ave.pth does not exist: run stage 8 first"),
        (13, "exp/asr_train_char/asr_train_char_valid.acc.ave.zip does not exist: run stage 12 first"),
    ],
)
def test_each_stage_names_the_stage_to_run_first(fresh_recipe: Path, stage: int, message: str):
    proc = run(fresh_recipe, "--stage", str(stage), "--stop_stage", str(stage))
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_options_give_one_line(fresh_recipe: Path):
    proc = run(fresh_recipe, "--stage", "9", "--stop_stage", "9", "--lm_file", "/no/such/lm.pth")
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == "ERROR: --lm_file /no/such/lm.pth does not exist"
    proc = run(fresh_recipe, "--stage", "13", "--stop_stage", "13", "--publish", "true")  # gone: the token decides
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == "speecht5.sh: unknown option '--publish' (see --help)"


def test_help_lists_the_new_options(fresh_recipe: Path):
    proc = run(fresh_recipe, "--help")
    for option in ("--ngpu", "--init_param", "--use_lm", "--lm_file", "--inference_model", "--hf_repo"):
        assert option in proc.stdout + proc.stderr
    assert "--publish" not in proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def trained_recipe(tmp_path_factory) -> tuple:
    """The toy recipe after stages 1-13 with a one-epoch model (about a minute)."""
    recipe = make_toy_recipe(tmp_path_factory.mktemp("full"), "asr")
    (recipe / "conf").mkdir()
    (recipe / "conf" / "train.yaml").write_text(TINY_TRAIN)
    (recipe / "conf" / "decode.yaml").write_text(TINY_DECODE)
    proc = run(recipe, "--stage", "1", "--stop_stage", "13", "--test_sets", "test", "--inference_nj", "2")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return recipe, proc


def test_full_run_writes_every_stage_output(trained_recipe):
    recipe, proc = trained_recipe
    exp = recipe / "exp" / "asr_train_char"
    stats = recipe / "exp" / "asr_stats_char"
    for mode in ("train", "valid"):
        assert len((stats / mode / "speech_shape").read_text().splitlines()) == 12
        assert len((stats / mode / "text_shape").read_text().splitlines()) == 12
    assert (exp / "valid.acc.ave.pth").exists() and (exp / "checkpoint.pth").is_file()
    decode = exp / "decode_valid.acc.ave" / "test"
    assert len((decode / "text").read_text().splitlines()) == 12  # two jobs merged
    assert (decode / "logdir" / "asr_inference.2.log").is_file()
    for metric in ("wer", "cer"):
        assert "Sum/Avg" in (decode / f"score_{metric}" / "result.txt").read_text()
    for dset in ("test",):  # stage 10's scores.json, the same shape for every task
        scores = json.loads((exp / "decode_valid.acc.ave" / dset / "scores.json").read_text())
        assert (scores["task"], scores["set"], list(scores["metrics"])) == ("asr", dset, ["cer", "wer"])
        assert scores["model"] == "exp/asr_train_char/valid.acc.ave.pth" and scores["tools"]["sclite"]
        cer = parse_sclite_report((exp / "decode_valid.acc.ave" / dset / "score_cer" / "result.txt").read_text())
        assert scores["metrics"]["cer"] == cer.percent.err and scores["details"]["sclite"]["cer"]["Snt"] == 12
    for n in range(7, 14):
        assert list((recipe / "exp" / "logs").glob(f"stage{n}_*.log"))
    # no --hf_repo: stage 13 lists what it would upload and says how to upload
    assert re.search(r"would upload \d+ files \([0-9.]+ MB\) to owner/name:", proc.stderr)
    assert "not uploaded: no --hf_repo; to upload, pass --hf_repo owner/name" in proc.stderr


def test_results_md_has_a_cer_row_in_the_recipe_and_the_exp(trained_recipe):
    recipe, _ = trained_recipe
    for path in (recipe / "RESULTS.md", recipe / "exp" / "asr_train_char" / "RESULTS.md"):
        text = path.read_text()
        cer = text[text.index("### CER"):]
        assert "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|" in cer
        assert "|decode_valid.acc.ave/test|12|" in cer


def test_pack_makes_a_zip_that_espnet_can_load(trained_recipe, tmp_path: Path):
    recipe, _ = trained_recipe
    exp = recipe / "exp" / "asr_train_char"
    zip_path = exp / "asr_train_char_valid.acc.ave.zip"
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        meta = yaml.safe_load(archive.read("meta.yaml"))
    assert meta["yaml_files"] == {"asr_train_config": "exp/asr_train_char/config.yaml"}
    assert "exp/asr_train_char/RESULTS.md" in names
    # The weights travel as safetensors too, and meta.yaml holds the sha256 of every member.
    assert "exp/asr_train_char/valid.acc.ave.safetensors" in names
    assert set(meta["sha256"]) == set(names) - {"meta.yaml"}
    assert verify_archive(zip_path) == meta
    pth, tensors = load_checkpoint(exp / "valid.acc.ave.pth"), load_checkpoint(exp / "valid.acc.ave.safetensors")
    assert set(tensors) == set(pth) and all(torch.equal(tensors[k], pth[k]) for k in pth)
    stage_log = (recipe / "exp" / "logs" / "stage12_pack.log").read_text()
    assert "sha256 of" in stage_log and "with sha256 checksums: " in stage_log
    unpacked = check_archive(zip_path, tmp_path / "cache")
    # Our Speech2Text builds the model from the unpacked files and decodes one utterance.
    code = textwrap.dedent(
        f"""
        import soundfile
        from espnet2_speecht5.inference.speech2text import Speech2Text
        s2t = Speech2Text(asr_train_config={unpacked['asr_train_config']!r},
                          asr_model_file={unpacked['asr_model_file']!r}, beam_size=1, maxlenratio=0.2)
        wav, rate = soundfile.read({str(next((recipe / 'wav').glob('*.wav')))!r})
        print("HYP", s2t(wav)[0][0])
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "HYP" in proc.stdout
    export = exp / "export"
    assert (export / "meta.yaml").is_file() and (export / "README.md").is_file()
    assert "|dataset|Snt|Wrd|" in (export / "README.md").read_text()


def test_export_folder_loads_in_transformers_with_our_logits(trained_recipe):
    """Stage 13's folder also holds a SpeechT5ForSpeechToText; its logits equal our model's (same id order)."""
    import soundfile
    from transformers import SpeechT5FeatureExtractor, SpeechT5ForSpeechToText

    from espnet2_speecht5.models.common import espnet_to_net_ids

    recipe, _ = trained_recipe
    export = recipe / "exp" / "asr_train_char" / "export"
    ours, _ = load_trained_model("asr", *espnet_files_from_meta(export, "asr"))  # the ESPnet layout
    theirs = SpeechT5ForSpeechToText.from_pretrained(export).eval()
    extractor = SpeechT5FeatureExtractor.from_pretrained(export)
    audio = [soundfile.read(path, dtype="float32") for path in sorted((recipe / "wav").glob("*.wav"))]
    by_length = {len(wav): wav for wav, rate in audio if rate == 16000}
    wavs = [by_length[n] for n in sorted(by_length)[-2:]]  # two 16 kHz waveforms of different lengths
    inputs = extractor(audio=wavs, sampling_rate=16000, padding=True, return_tensors="pt")
    sos = ours.sos
    prev = torch.tensor([[sos, 3, 4, 5, 2], [sos, 6, 2, -1, -1]])
    with torch.no_grad():
        enc, _ = ours.encode(inputs["input_values"], inputs["attention_mask"].sum(1))
        logits, _ = ours.decoder_logits(enc, prev)
        ref = theirs(**inputs, decoder_input_ids=espnet_to_net_ids(prev, ours.id_perm)).logits
    assert float((ref.index_select(-1, ours.id_perm) - logits).abs().max()) <= 1e-4
    tokens = (export / "tokens.txt").read_text(encoding="utf-8").splitlines()
    assert [tokens[int(i)] for i in ours.id_perm] == ours.token_list


def test_pack_rewrites_the_safetensors_only_when_the_pth_is_newer(trained_recipe):
    recipe, _ = trained_recipe
    exp = recipe / "exp" / "asr_train_char"
    tensors = exp / "valid.acc.ave.safetensors"
    written = tensors.stat().st_mtime_ns
    proc = run(recipe, "--stage", "12", "--stop_stage", "12")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert tensors.stat().st_mtime_ns == written  # up to date: kept
    earlier = (exp / "valid.acc.ave.pth").stat().st_mtime - 10
    os.utime(tensors, (earlier, earlier))  # as if training had written a new model since
    proc = run(recipe, "--stage", "12", "--stop_stage", "12")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert tensors.stat().st_mtime > earlier + 5  # the .pth is newer: written again
    verify_archive(exp / "asr_train_char_valid.acc.ave.zip")


def test_training_threads_default_to_one_and_follow_the_option(trained_recipe):
    recipe, _ = trained_recipe
    stage_log = recipe / "exp" / "logs" / "stage8_train.log"
    assert "into exp/asr_train_char with 1 CPU thread(s)" in stage_log.read_text()
    again = run(recipe, "--stage", "8", "--stop_stage", "8", "--train_threads", "2")  # finished: resumes, no epoch
    assert again.returncode == 0, again.stderr[-3000:]
    assert "into exp/asr_train_char with 2 CPU thread(s)" in stage_log.read_text()


def test_training_resumes_from_the_checkpoint(trained_recipe):
    recipe, _ = trained_recipe
    proc = run(recipe, "--stage", "8", "--stop_stage", "8", "--train_args", "--max_epoch 2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    exp = recipe / "exp" / "asr_train_char"
    log = (exp / "train.log").read_text()
    assert "The training was resumed using exp/asr_train_char/checkpoint.pth" in log
    assert "2epoch results" in log and "1epoch results" not in log
    assert (exp / "train.log.1").is_file()  # the first run's log is kept
