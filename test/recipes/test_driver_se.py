"""Stages 1-13 of the driver for --task se on a toy recipe, and what users do with the packed model.

The run trains an SE network of a few thousand parameters for one epoch and scores its output with a
randomly initialised ASR model: it checks the driver's glue (no x-vectors by default, statistics of
noisy and clean speech, enhancement in two jobs, the three-way scoring with per-SNR tables,
RESULTS.md, pack, export), not what the models learn.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from test_driver import make_toy_recipe, run
from test_driver_tts import random_asr_exp
from test_driver_vc import TINY_DECODE, TINY_VC

pytestmark = pytest.mark.recipe_run  # a full recipe run: make test-recipes and CI run it, make test does not

TINY_SE = TINY_VC + "model_conf: {use_speaker_embedding: false}\n"


@pytest.fixture(scope="module")
def se_recipe(tmp_path_factory) -> tuple:
    recipe = make_toy_recipe(tmp_path_factory.mktemp("se"), "se")
    (recipe / "conf").mkdir()
    (recipe / "conf" / "train.yaml").write_text(TINY_SE)
    (recipe / "conf" / "decode.yaml").write_text(TINY_DECODE)
    proc = run(recipe, "--stage", "1", "--stop_stage", "5")
    assert proc.returncode == 0, proc.stderr[-3000:]
    chars = sorted({c for line in (recipe / "data" / "train" / "text").read_text().splitlines()
                    for c in line.split(maxsplit=1)[1].replace(" ", "")})
    asr = random_asr_exp(recipe / "asr_exp", ["<blank>", "<unk>", "<space>", *chars, "<sos/eos>"])
    proc = run(recipe, "--stage", "6", "--stop_stage", "13", "--test_sets", "test", "--inference_nj", "2",
               "--asr_exp", str(asr))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    return recipe, proc


def test_full_se_run_writes_every_stage_output(se_recipe) -> None:
    recipe, proc = se_recipe
    assert "stage 6: skipped: the model of conf/train.yaml takes no speaker embedding" in proc.stderr
    assert not (recipe / "dump" / "xvector").exists()
    exp, stats = recipe / "exp" / "se_train", recipe / "exp" / "se_stats"
    assert (stats / "train" / "speech_shape").is_file() and (stats / "train" / "speech_clean_shape").is_file()
    assert (exp / "valid.loss.ave.pth").is_file()
    decode = exp / "decode_valid.loss.ave" / "test"
    wavs = (decode / "wav.scp").read_text().splitlines()
    assert len(wavs) == 12 and all(Path(line.split()[1]).is_file() for line in wavs)  # two jobs merged
    scores = json.loads((decode / "scores.json").read_text())
    assert (scores["task"], list(scores["metrics"])) == (
        "se", ["pesq", "stoi", "cer", "pesq_noisy", "stoi_noisy", "cer_noisy", "cer_clean"])
    metrics, details = scores["metrics"], scores["details"]
    # the toy set's "noisy" and clean audio are the same files: doing nothing is perfect
    assert metrics["stoi_noisy"] == pytest.approx(1.0, abs=1e-3)
    assert metrics["cer_noisy"] == metrics["cer_clean"] and details["wer_noisy"] == details["wer_clean"]
    assert -1 <= metrics["stoi"] <= 1 and metrics["cer"] >= 0 and details["wer"] >= 0  # STOI is a correlation
    assert set(details["per_snr"]) == {"0", "5"}  # utt2snr's groups
    assert details["generation"]["seed"] == 0 and isinstance(details["generation"]["deterministic"], bool)
    assert sum(group["utterances"] for group in details["per_snr"].values()) == 12
    assert all(group["cer_clean"] == group["cer_noisy"] for group in details["per_snr"].values())
    assert {"pesq", "pystoi", "sclite", "asr_model"} <= set(scores["tools"])
    for sub in ("noisy_input", "clean_reference"):
        assert (decode / sub / "asr_text").is_file() and (decode / sub / "score_cer" / "result.txt").is_file()
    assert (decode / "quality" / "pesq").is_file() and (decode / "noisy_input" / "quality" / "stoi").is_file()
    results = (recipe / "RESULTS.md").read_text()
    assert "### SE" in results and "#### Per SNR" in results and "|decode_valid.loss.ave/test|0|" in results
    assert "band envelopes" in results  # how the enhanced speech was aligned
    (zip_path,) = exp.glob("*.zip")
    with zipfile.ZipFile(zip_path) as archive:
        meta = archive.read("meta.yaml").decode()
    assert "s2st_train_config" in meta and "s2st_model_file" in meta


def test_packed_model_enhances_from_python_and_the_shell(se_recipe, tmp_path: Path) -> None:
    from espnet2_speecht5.bin import speecht5_cli
    from espnet2_speecht5.inference.speech2speech import Speech2Speech

    recipe, _ = se_recipe
    (zip_path,) = (recipe / "exp" / "se_train").glob("*.zip")
    noisy = (recipe / "dump" / "raw" / "test" / "wav.scp").read_text().split("\n")[0].split()[1]
    se = Speech2Speech.from_pretrained(str(zip_path), cache_dir=tmp_path / "cache")
    assert se.maxlenratio == 2.0 and se.uses_speaker_embedding is False
    wav = se(noisy)
    assert wav.ndim == 1 and wav.size > 0 and np.isfinite(wav).all()
    out = tmp_path / "enhanced.wav"
    speecht5_cli.main(["enhance", "--model", str(zip_path), "--source", noisy, "--out", str(out),
                       "--cache_dir", str(tmp_path / "cache")])
    audio, rate = sf.read(out)
    assert rate == 16000 and audio.size > 0


def test_se_export_folder_loads_in_transformers(se_recipe, tmp_path: Path, monkeypatch) -> None:
    """Stage 13's folder holds a SpeechT5ForSpeechToSpeech whose mel equals our model's under teacher
    forcing, with no speaker embedding (pre-net dropout off on both sides); `speecht5 export` of the zip
    recognises an SE model, not a VC one."""
    from transformers import SpeechT5ForSpeechToSpeech
    from transformers.models.speecht5 import modeling_speecht5

    from espnet2_speecht5.bin import speecht5_cli
    from espnet2_speecht5.export.transformers_export import espnet_files_from_meta, load_trained_model

    recipe, _ = se_recipe
    export = recipe / "exp" / "se_train" / "export"
    ours, _ = load_trained_model("se", *espnet_files_from_meta(export, "se"))
    ours.net.speech_decoder_prenet.always_dropout = False
    monkeypatch.setattr(modeling_speecht5.SpeechT5SpeechDecoderPrenet, "_consistent_dropout", lambda self, x, p: x)
    theirs = SpeechT5ForSpeechToSpeech.from_pretrained(export).eval()
    gen = torch.Generator().manual_seed(0)
    speech = 0.3 * torch.randn(1, 8000, generator=gen)
    prev = torch.randn(1, 4, 80, generator=gen)
    with torch.no_grad():
        out = ours.net.decode(ours.net.encode(speech, None), prev, None, None)
        ref = theirs(input_values=speech, decoder_input_values=prev).spectrogram
    assert ref.shape == out.mel_after.shape and float((ref - out.mel_after).abs().max()) <= 1e-4
    card = (export / "README.md").read_text(encoding="utf-8")
    assert "speech enhancement" in card and "speecht5 enhance" in card and "pipeline_tag: audio-to-audio" in card
    (zip_path,) = (recipe / "exp" / "se_train").glob("*.zip")
    speecht5_cli.main(["export", str(zip_path), "--outdir", str(tmp_path / "exported"),
                       "--results", str(recipe / "RESULTS.md")])
    assert "speech enhancement" in (tmp_path / "exported" / "README.md").read_text(encoding="utf-8")
