"""Stages 6-13 of the driver for --task vc on a toy recipe, and what users do with the packed model.

The run trains a VC network of a few thousand parameters for one epoch and scores its output with a
randomly initialised ASR model: it checks the driver's glue (target-side x-vectors, statistics of
source and target, training without a token list, conversion in two jobs, the three scoring
comparisons, RESULTS.md, pack, export), not what the models learn.
"""

from __future__ import annotations

import json
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from test_driver import make_toy_recipe, run
from test_driver_tts import random_asr_exp

pytestmark = pytest.mark.recipe_run  # a full recipe run: make test-recipes and CI run it, make test does not

TINY_VC = textwrap.dedent(
    """\
    net_conf: {size: tiny, d_model: 16, encoder_layers: 1, decoder_layers: 1, encoder_heads: 2, decoder_heads: 2,
               encoder_ffn_dim: 32, decoder_ffn_dim: 32, speech_prenet_units: 16, postnet_units: 16, postnet_layers: 2,
               conv_channels: [8, 8, 8], pos_conv_kernel: 8, pos_conv_groups: 2}
    batch_type: folded
    batch_size: 4
    max_epoch: 1
    num_workers: 0
    num_att_plot: 0
    best_model_criterion: [[valid, loss, min]]
    keep_nbest_models: 1
    optim: adam
    optim_conf: {lr: 0.005}
    """
)
TINY_DECODE = "batch_size: 2\nthreshold: 0.5\nmaxlenratio: 2.0\nvocoder: griffin_lim\nnum_plots: 1\n"


@pytest.fixture(scope="module")
def vc_recipe(tmp_path_factory) -> tuple:
    recipe = make_toy_recipe(tmp_path_factory.mktemp("vc"), "vc")
    (recipe / "conf").mkdir()
    (recipe / "conf" / "train.yaml").write_text(TINY_VC)
    (recipe / "conf" / "decode.yaml").write_text(TINY_DECODE)
    proc = run(recipe, "--stage", "1", "--stop_stage", "5", "--spk_source", "lookup")
    assert proc.returncode == 0, proc.stderr[-3000:]
    chars = sorted({c for line in (recipe / "data" / "train" / "text").read_text().splitlines()
                    for c in line.split(maxsplit=1)[1].replace(" ", "")})
    asr = random_asr_exp(recipe / "asr_exp", ["<blank>", "<unk>", "<space>", *chars, "<sos/eos>"])
    proc = run(recipe, "--stage", "6", "--stop_stage", "13", "--spk_source", "lookup", "--test_sets", "test",
               "--inference_nj", "2", "--asr_exp", str(asr))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    return recipe, proc


def test_full_vc_run_writes_every_stage_output(vc_recipe) -> None:
    recipe, proc = vc_recipe
    for dset in ("train", "dev", "test"):
        view = recipe / "dump" / "vc_target" / dset  # stage 6 embeds the target recordings
        assert (view / "wav.scp").read_text() == (recipe / "dump" / "raw" / dset / "wav_tgt.scp").read_text()
        assert len((recipe / "dump" / "xvector" / dset / "xvector.scp").read_text().splitlines()) == 12
    assert not (recipe / "data" / "token_list").exists() or not any((recipe / "data" / "token_list").iterdir())
    exp = recipe / "exp" / "vc_train"  # no token type in the name of a task without text
    stats = recipe / "exp" / "vc_stats"
    assert (stats / "train" / "speech_shape").is_file() and (stats / "train" / "speech_tgt_shape").is_file()
    assert (exp / "valid.loss.ave.pth").is_file()
    decode = exp / "decode_valid.loss.ave" / "test"
    wavs = (decode / "wav.scp").read_text().splitlines()
    assert len(wavs) == 12  # two jobs merged
    assert all(Path(line.split()[1]).is_file() for line in wavs)
    assert list((decode / "plots").glob("*.mel.png")) and list((decode / "plots").glob("*.att.png"))
    scores = json.loads((decode / "scores.json").read_text())
    assert (scores["task"], list(scores["metrics"])) == ("vc", ["mcd", "mcd_source", "cer", "spk_sim_target",
                                                                "spk_sim_source"])
    metrics = scores["metrics"]
    assert metrics["mcd"] > 0 and metrics["cer"] >= 0 and scores["details"]["wer"] >= 0
    # the toy pairs' source and target are the same recording: the do-nothing MCD is zero
    assert metrics["mcd_source"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["spk_sim_target"] is None and metrics["spk_sim_source"] is None  # lookup: no speaker model
    assert "no speaker model recorded" in proc.stderr
    assert scores["details"]["pairs"] == {"spka->spka": 4, "spkb->spka": 4, "spkc->spka": 4}
    assert (decode / "source_vs_target" / "summary.yaml").is_file()
    results = (recipe / "RESULTS.md").read_text()
    assert "### VC" in results and "|MCD (dB)|MCD source→target (dB)|" in results
    assert "decode_valid.loss.ave/test" in results
    zips = list(exp.glob("*.zip"))
    assert len(zips) == 1
    with zipfile.ZipFile(zips[0]) as archive:
        names = archive.namelist()
        meta = archive.read("meta.yaml").decode()
    assert "s2st_train_config" in meta and "s2st_model_file" in meta
    assert any(n.endswith("inference.yaml") for n in names)


def test_packed_model_converts_from_python_and_the_shell(vc_recipe, tmp_path: Path) -> None:
    from espnet2_speecht5.bin import speecht5_cli
    from espnet2_speecht5.inference.speech2speech import Speech2Speech

    recipe, _ = vc_recipe
    (zip_path,) = (recipe / "exp" / "vc_train").glob("*.zip")
    source = (recipe / "dump" / "raw" / "test" / "wav.scp").read_text().split("\n")[0].split()[1]
    xvector = tmp_path / "spka.npy"
    np.save(xvector, np.ones(512, dtype=np.float32) / np.sqrt(512))
    vc = Speech2Speech.from_pretrained(str(zip_path), cache_dir=tmp_path / "cache")
    assert vc.maxlenratio == 2.0  # the packed decoding options
    wav = vc(source, str(xvector))
    assert wav.ndim == 1 and wav.size > 0 and np.isfinite(wav).all()
    out = tmp_path / "converted.wav"
    speecht5_cli.main(["convert", "--model", str(zip_path), "--source", source, "--target-speaker",
                       str(xvector), "--out", str(out), "--cache_dir", str(tmp_path / "cache")])
    audio, rate = sf.read(out)
    assert rate == 16000 and audio.size > 0


def test_vc_export_folder_loads_in_transformers(vc_recipe, monkeypatch) -> None:
    """Stage 13's folder holds a SpeechT5ForSpeechToSpeech whose mel equals our model's under teacher
    forcing (speech-decoder pre-net dropout off on both sides)."""
    from transformers import SpeechT5ForSpeechToSpeech
    from transformers.models.speecht5 import modeling_speecht5

    from espnet2_speecht5.export.transformers_export import espnet_files_from_meta, load_trained_model

    recipe, _ = vc_recipe
    export = recipe / "exp" / "vc_train" / "export"
    ours, _ = load_trained_model("vc", *espnet_files_from_meta(export, "vc"))
    ours.net.speech_decoder_prenet.always_dropout = False
    monkeypatch.setattr(modeling_speecht5.SpeechT5SpeechDecoderPrenet, "_consistent_dropout", lambda self, x, p: x)
    theirs = SpeechT5ForSpeechToSpeech.from_pretrained(export).eval()
    gen = torch.Generator().manual_seed(0)
    speech = 0.3 * torch.randn(1, 8000, generator=gen)
    prev = torch.randn(1, 4, 80, generator=gen)
    spk = torch.randn(1, ours.net.cfg.speaker_embedding_dim, generator=gen)
    with torch.no_grad():
        out = ours.net.decode(ours.net.encode(speech, None), prev, None, spk)
        ref = theirs(input_values=speech, decoder_input_values=prev, speaker_embeddings=spk).spectrogram
    assert ref.shape == out.mel_after.shape and float((ref - out.mel_after).abs().max()) <= 1e-4
    card = (export / "README.md").read_text(encoding="utf-8")
    assert "Speech2Speech.from_pretrained(" in card and "SpeechT5ForSpeechToSpeech.from_pretrained(" in card
    assert "pipeline_tag: audio-to-audio" in card
