"""Stages 6-13 of the driver for --task tts on a toy recipe.

The run trains a TTS network of a few thousand parameters for one epoch and scores its output
with a randomly initialised ASR model: it checks the driver's glue (speaker embeddings,
statistics, training, batched synthesis in two jobs, MCD / CER scoring, RESULTS.md, pack),
not what the models learn.
"""

from __future__ import annotations

import json
import textwrap
import zipfile
from pathlib import Path

import pytest
import torch
import yaml
from test_driver import make_toy_recipe, run

from espnet2_speecht5.models.asr import SpeechT5ASRModel
from espnet2_speecht5.tasks.common import net_config_from_conf

pytestmark = pytest.mark.recipe_run  # a full recipe run: make test-recipes and CI run it, make test does not

TINY_TTS = textwrap.dedent(
    """\
    net_conf: {size: tiny, d_model: 16, encoder_layers: 1, decoder_layers: 1, encoder_heads: 2, decoder_heads: 2,
               encoder_ffn_dim: 32, decoder_ffn_dim: 32, speech_prenet_units: 16, postnet_units: 16, postnet_layers: 2}
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
TINY_DECODE = "batch_size: 4\nthreshold: 0.5\nmaxlenratio: 2.0\nvocoder: griffin_lim\nnum_plots: 1\n"
ASR_NET = dict(
    size="tiny", d_model=16, encoder_layers=1, decoder_layers=1, encoder_heads=2, decoder_heads=2,
    encoder_ffn_dim=32, decoder_ffn_dim=32, conv_channels=[8, 8, 8], pos_conv_kernel=8, pos_conv_groups=2,
)  # fmt: skip


def random_asr_exp(root: Path, tokens: list) -> Path:
    """config.yaml + model.pth of an untrained ASR model over ``tokens`` (stage 10 only needs one)."""
    root.mkdir(parents=True)
    torch.manual_seed(0)
    model = SpeechT5ASRModel(len(tokens), tokens, net_config_from_conf(ASR_NET))
    torch.save(model.state_dict(), root / "valid.acc.best.pth")
    config = dict(
        token_list=tokens, token_type="char", bpemodel=None, use_preprocessor=True, non_linguistic_symbols=None,
        cleaner=None, g2p=None, net_conf=ASR_NET, model_conf={}, init=None,
    )  # fmt: skip
    (root / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def tts_recipe(tmp_path_factory) -> tuple:
    recipe = make_toy_recipe(tmp_path_factory.mktemp("tts"), "tts")
    (recipe / "conf").mkdir()
    (recipe / "conf" / "train.yaml").write_text(TINY_TTS)
    (recipe / "conf" / "decode.yaml").write_text(TINY_DECODE)
    proc = run(recipe, "--stage", "1", "--stop_stage", "5", "--spk_source", "lookup")
    assert proc.returncode == 0, proc.stderr[-3000:]
    tokens = (recipe / "data" / "token_list" / "char" / "tokens.txt").read_text().split()
    asr = random_asr_exp(recipe / "asr_exp", tokens)
    proc = run(recipe, "--stage", "6", "--stop_stage", "13", "--spk_source", "lookup", "--test_sets", "test",
               "--inference_nj", "2", "--asr_exp", str(asr))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    return recipe, proc


def test_stage_7_needs_the_speaker_embeddings(tmp_path: Path) -> None:
    recipe = make_toy_recipe(tmp_path, "tts")
    (recipe / "conf").mkdir()
    (recipe / "conf" / "train.yaml").write_text(TINY_TTS)
    assert run(recipe, "--stage", "1", "--stop_stage", "5").returncode == 0
    proc = run(recipe, "--stage", "7", "--stop_stage", "7")
    assert proc.returncode != 0
    assert "dump/xvector/train/xvector.scp does not exist: run stage 6 first (--stage 6)" in proc.stderr


def test_stage_10_without_an_asr_model_says_how_to_get_one(tts_recipe) -> None:
    recipe, _ = tts_recipe
    proc = run(recipe, "--stage", "10", "--stop_stage", "10", "--test_sets", "test", "--asr_exp", "/no/asr")
    assert proc.returncode != 0
    assert "ERROR: stage 10 transcribes the generated speech with an ASR model, and /no/asr/valid.acc.best.pth" \
        " does not exist" in proc.stderr


def test_full_tts_run_writes_every_stage_output(tts_recipe) -> None:
    recipe, proc = tts_recipe
    for dset in ("train", "dev", "test"):
        lines = (recipe / "dump" / "xvector" / dset / "xvector.scp").read_text().splitlines()
        assert len(lines) == 12
    exp = recipe / "exp" / "tts_train_char"
    assert (exp / "valid.loss.ave.pth").is_file()  # the average of the best checkpoints by valid loss
    decode = exp / "decode_valid.loss.ave" / "test"
    wavs = (decode / "wav.scp").read_text().splitlines()
    assert len(wavs) == 12  # two jobs merged
    assert all(Path(line.split()[1]).is_file() for line in wavs)
    plots = decode / "plots"
    assert list(plots.glob("*.mel.png")) and list(plots.glob("*.att.png"))
    assert {p.stem for p in plots.glob("*.wav")} == {p.name[: -len(".mel.png")] for p in plots.glob("*.mel.png")}
    summary = yaml.safe_load((decode / "summary.yaml").read_text())
    assert summary["utterances"] == 12 and summary["mcd_mean"] > 0 and summary["cer"] >= 0
    assert "Sum/Avg" in (decode / "score_cer" / "result.txt").read_text()
    scores = json.loads((decode / "scores.json").read_text())
    assert (scores["task"], list(scores["metrics"])) == ("tts", ["mcd", "cer", "wer", "spk_sim"])
    assert scores["metrics"]["mcd"] == summary["mcd_mean"] and scores["metrics"]["cer"] == summary["cer"]
    assert scores["metrics"]["spk_sim"] is None  # lookup embeddings: no speaker model
    assert scores["details"]["utterances"] == 12 and "asr_model" in scores["tools"]
    # stage 9's seed and pre-net dropout mode (the defaults: seed 0, dropout on), copied by stage 10
    assert scores["details"]["generation"] == {"seed": 0, "prenet_dropout": True, "deterministic": False}
    # the ceilings: the same ASR model on the recordings and on their Griffin-Lim copy synthesis
    ceilings = scores["details"]["ceilings"]
    assert sorted(ceilings) == ["copy_synthesis", "recordings"]
    assert ceilings["recordings"]["cer"] >= 0 and ceilings["recordings"]["mcd_mean"] is None
    assert ceilings["copy_synthesis"]["cer"] >= 0 and ceilings["copy_synthesis"]["mcd_mean"] > 0
    copies = (decode / "ceiling_copy_synthesis" / "wav.scp").read_text().splitlines()
    assert len(copies) == 12 and all(Path(line.split()[1]).is_file() for line in copies)
    assert (decode / "ceiling_recordings" / "score_cer" / "result.txt").is_file()
    results = (recipe / "RESULTS.md").read_text()
    assert "|dataset|MCD (dB)|CER (%)|" in results and "decode_valid.loss.ave/test" in results
    assert "|dataset|recordings CER (%)|" in results
    zips = list(exp.glob("*.zip"))
    assert len(zips) == 1
    with zipfile.ZipFile(zips[0]) as archive:
        names = archive.namelist()
    assert any(n.endswith(".pth") for n in names) and "meta.yaml" in names and any("config.yaml" in n for n in names)
    assert "no speaker model recorded" in proc.stderr  # lookup embeddings: similarity is skipped, and said so


def test_tts_export_folder_loads_in_transformers(tts_recipe, monkeypatch) -> None:
    """Stage 13's folder holds the ESPnet layout and a SpeechT5ForTextToSpeech whose mel equals our model's
    under teacher forcing (speech-decoder pre-net dropout off on both sides)."""
    from transformers import SpeechT5ForTextToSpeech
    from transformers.models.speecht5 import modeling_speecht5

    from espnet2_speecht5.export.transformers_export import espnet_files_from_meta, load_trained_model

    recipe, _ = tts_recipe
    export = recipe / "exp" / "tts_train_char" / "export"
    ours, _ = load_trained_model("tts", *espnet_files_from_meta(export, "tts"))
    ours.net.speech_decoder_prenet.always_dropout = False
    # transformers applies its pre-net dropout even in eval mode: the identity instead (as test/nets does)
    monkeypatch.setattr(modeling_speecht5.SpeechT5SpeechDecoderPrenet, "_consistent_dropout", lambda self, x, p: x)
    theirs = SpeechT5ForTextToSpeech.from_pretrained(export).eval()
    gen = torch.Generator().manual_seed(0)
    tokens = torch.arange(2, min(8, ours.vocab_size - 1))[None, :]  # network ids of ordinary tokens
    prev = torch.randn(1, 4, 80, generator=gen)
    spk = torch.randn(1, ours.net.cfg.speaker_embedding_dim, generator=gen)
    with torch.no_grad():
        out = ours.net(tokens, None, prev, None, spk)
        ref = theirs(input_ids=tokens, decoder_input_values=prev, speaker_embeddings=spk).spectrogram
    assert ref.shape == out.mel_after.shape and float((ref - out.mel_after).abs().max()) <= 1e-4
    card = (export / "README.md").read_text(encoding="utf-8")
    assert "Text2Speech.from_pretrained(" in card and "SpeechT5ForTextToSpeech.from_pretrained(" in card
    assert "pipeline_tag: text-to-speech" in card
