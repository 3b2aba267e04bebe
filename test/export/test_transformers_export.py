"""export_transformers: tiny random ASR / TTS / VC models written as transformers folders, loaded with
``from_pretrained`` and compared with our models (max abs difference 1e-4)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from transformers import (
    SpeechT5FeatureExtractor,
    SpeechT5ForSpeechToSpeech,
    SpeechT5ForSpeechToText,
    SpeechT5ForTextToSpeech,
)
from transformers.models.speecht5 import modeling_speecht5
from transformers_export_helpers import TOKENS, write_experiment

from espnet2_speecht5.export.transformers_export import export_transformers, load_trained_model
from espnet2_speecht5.features.log_mel import log_mel
from espnet2_speecht5.models.common import espnet_to_net_ids, id_permutation, make_targets
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.search.greedy import greedy_speech_to_text

TOL = 1e-4
V = len(TOKENS)
PERM = id_permutation(V)


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}"
    return float((a - b).abs().max())


@pytest.fixture(scope="module")
def asr_export(tmp_path_factory: pytest.TempPathFactory):
    """(our model loaded from config + .pth, the exported folder, the names export_transformers returned)."""
    root = tmp_path_factory.mktemp("asr_export")
    config, model_file = write_experiment(root, "asr", seed=3)
    written = export_transformers(config, model_file, root / "hf", "asr")
    model, _ = load_trained_model("asr", config, model_file)
    return model, root / "hf", written


@pytest.fixture(scope="module")
def tts_export(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("tts_export")
    config, model_file = write_experiment(root, "tts", seed=4)
    written = export_transformers(config, model_file, root / "hf", "tts")
    model, _ = load_trained_model("tts", config, model_file)
    model.net.speech_decoder_prenet.always_dropout = False  # our pre-net dropout off at inference
    return model, root / "hf", written


@pytest.fixture
def no_hf_prenet_dropout(monkeypatch):
    """transformers applies its speech-decoder pre-net dropout even in eval mode: make it the identity
    (as test/nets/hf_oracle.py does), to compare with our model with its dropout off."""
    monkeypatch.setattr(modeling_speecht5.SpeechT5SpeechDecoderPrenet, "_consistent_dropout", lambda self, x, p: x)


def waveforms(lengths=(8000, 6400), seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return [0.3 * torch.randn(n, generator=gen) for n in lengths]


def test_asr_folder_has_every_file_and_no_ctc_head(asr_export):
    _, folder, written = asr_export
    assert sorted(written) == sorted(p.name for p in folder.iterdir())
    with safe_open(folder / "model.safetensors", "pt") as f:
        keys = list(f.keys())
    assert keys and not [k for k in keys if "ctc" in k]
    tokens = (folder / "tokens.txt").read_text(encoding="utf-8").splitlines()
    assert tokens == [TOKENS[int(PERM[i])] for i in range(V)]
    assert tokens[:2] == ["<unk>", "<blank>"] and tokens[-1] == "<sos/eos>"


def test_asr_teacher_forced_logits_match(asr_export):
    model, folder, _ = asr_export
    hf = SpeechT5ForSpeechToText.from_pretrained(folder).eval()
    extractor = SpeechT5FeatureExtractor.from_pretrained(folder)
    wavs = waveforms()
    inputs = extractor(audio=[w.numpy() for w in wavs], sampling_rate=16000, padding=True, return_tensors="pt")
    lengths = torch.tensor([len(w) for w in wavs])
    # the extractor passes the waveform through unchanged (our ASR model reads it raw), padded with zeros
    assert torch.equal(inputs["input_values"][1, :6400], wavs[1]) and inputs["attention_mask"].sum(1).tolist() == [
        8000, 6400]
    prev = torch.tensor([[V - 1, 3, 4, 2, 5, 6, 1], [V - 1, 7, 2, 0, -1, -1, -1]])  # ESPnet ids, -1 = padding
    with torch.no_grad():
        enc, _ = model.encode(inputs["input_values"], lengths)
        ours, _ = model.decoder_logits(enc, prev)  # ESPnet id order
        theirs = hf(**inputs, decoder_input_ids=espnet_to_net_ids(prev, PERM)).logits  # network id order
    assert max_diff(theirs.index_select(-1, PERM), ours) <= TOL


def test_asr_greedy_generate_gives_our_ids(asr_export):
    model, folder, _ = asr_export
    hf = SpeechT5ForSpeechToText.from_pretrained(folder).eval()
    extractor = SpeechT5FeatureExtractor.from_pretrained(folder)
    assert (hf.generation_config.decoder_start_token_id, hf.generation_config.eos_token_id) == (V - 1, V - 1)
    assert hf.generation_config.pad_token_id == 1
    wavs = waveforms(seed=1)
    inputs = extractor(audio=[w.numpy() for w in wavs], sampling_rate=16000, padding=True, return_tensors="pt")
    steps = 12
    with torch.no_grad():
        theirs = hf.generate(**inputs, max_length=steps + 1, min_length=steps + 1, num_beams=1, do_sample=False)
    ours = greedy_speech_to_text(model.net, inputs["input_values"], inputs["attention_mask"].sum(1),
                                 max_len=steps + 1, min_len=steps + 1)
    assert ours.shape == (2, steps + 1)
    assert torch.equal(theirs, ours), f"\n{theirs}\n{ours}"
    # tokens.txt reads transformers' ids as our token list reads ESPnet's
    tokens = (folder / "tokens.txt").read_text(encoding="utf-8").splitlines()
    assert [[tokens[i] for i in row] for row in theirs.tolist()] == [
        [TOKENS[i] for i in row] for row in PERM[ours].tolist()]


def test_tts_teacher_forced_mel_and_stop_match(tts_export, no_hf_prenet_dropout):
    model, folder, written = tts_export
    assert sorted(written) == sorted(p.name for p in folder.iterdir())
    hf = SpeechT5ForTextToSpeech.from_pretrained(folder).eval()
    gen = torch.Generator().manual_seed(5)
    text = torch.tensor([[3, 4, 2, 5, 6, 7], [7, 6, 5, 0, -1, -1]])  # ESPnet ids, -1 = padding
    text_lengths = torch.tensor([6, 4])
    mel = torch.randn(2, 11, 80, generator=gen)
    targets = make_targets(mel, torch.tensor([11, 8]), model.reduction_factor)
    spk = torch.randn(2, 8, generator=gen)
    tokens, token_lengths = model.net_tokens(text, text_lengths)
    token_mask = (torch.arange(tokens.size(1))[None, :] < token_lengths[:, None]).long()
    prev_mask = (torch.arange(targets.prev_mel.size(1))[None, :] < targets.steps[:, None]).long()
    with torch.no_grad():
        out = model.net(tokens, token_lengths, targets.prev_mel, targets.steps, spk)
        ref = hf.speecht5(input_values=tokens, attention_mask=token_mask, decoder_input_values=targets.prev_mel,
                          decoder_attention_mask=prev_mask, speaker_embeddings=spk)
        before, after, stop = hf.speech_decoder_postnet(ref.last_hidden_state)
    diffs = {"before": max_diff(before, out.mel_before), "after": max_diff(after, out.mel_after),
             "stop": max_diff(stop, out.stop_logits)}
    assert all(d <= TOL for d in diffs.values()), diffs


@pytest.fixture(scope="module")
def vc_export(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("vc_export")
    config, model_file = write_experiment(root, "vc", seed=6)
    written = export_transformers(config, model_file, root / "hf", "vc")
    model, _ = load_trained_model("vc", config, model_file)
    model.net.speech_decoder_prenet.always_dropout = False
    return model, root / "hf", written


def test_vc_teacher_forced_mel_and_stop_match(vc_export, no_hf_prenet_dropout):
    model, folder, written = vc_export
    assert sorted(written) == sorted(p.name for p in folder.iterdir())
    hf = SpeechT5ForSpeechToSpeech.from_pretrained(folder).eval()
    gen = torch.Generator().manual_seed(7)
    wavs = waveforms((8000, 6400), seed=7)
    speech = torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True)
    lengths = torch.tensor([len(w) for w in wavs])
    mel = torch.randn(2, 11, 80, generator=gen)
    targets = make_targets(mel, torch.tensor([11, 8]), model.reduction_factor)
    spk = torch.randn(2, 8, generator=gen)
    wav_mask = (torch.arange(speech.size(1))[None, :] < lengths[:, None]).long()
    prev_mask = (torch.arange(targets.prev_mel.size(1))[None, :] < targets.steps[:, None]).long()
    with torch.no_grad():
        enc = model.net.encode(speech, lengths)
        out = model.net.decode(enc, targets.prev_mel, targets.steps, spk)
        ref = hf.speecht5(input_values=speech, attention_mask=wav_mask, decoder_input_values=targets.prev_mel,
                          decoder_attention_mask=prev_mask, speaker_embeddings=spk)
        before, after, stop = hf.speech_decoder_postnet(ref.last_hidden_state)
    diffs = {"before": max_diff(before, out.mel_before), "after": max_diff(after, out.mel_after),
             "stop": max_diff(stop, out.stop_logits)}
    assert all(d <= TOL for d in diffs.values()), diffs


def test_tts_feature_extractor_computes_our_log_mel(tts_export):
    _, folder, _ = tts_export
    extractor = SpeechT5FeatureExtractor.from_pretrained(folder)
    t = np.arange(12000) / 16000
    wav = (0.4 * np.sin(2 * np.pi * 330 * t) + 0.05 * np.random.default_rng(0).standard_normal(t.size))
    theirs = extractor(audio_target=wav.astype(np.float32), sampling_rate=16000, return_tensors="pt")["input_values"]
    ours = log_mel(torch.from_numpy(wav.astype(np.float32)))
    assert max_diff(theirs[0], ours) <= TOL
    config = json.loads((folder / "preprocessor_config.json").read_text())
    assert config["do_normalize"] is False and config["feature_extractor_type"] == "SpeechT5FeatureExtractor"


def test_wrong_task_or_missing_file_is_one_line(tmp_path: Path):
    config, model_file = write_experiment(tmp_path, "asr")
    with pytest.raises(DataError) as err:
        export_transformers(config, model_file, tmp_path / "out", "sid")
    assert "task 'sid'" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(DataError) as err:  # an ASR model file read as an ST model: its CTC head does not fit
        export_transformers(config, model_file, tmp_path / "out", "st")
    assert str(err.value).startswith(str(model_file)) and "unknown parameter 'ctc.ctc_lo.weight'" in str(err.value)
    with pytest.raises(DataError) as err:
        export_transformers(config, tmp_path / "missing.pth", tmp_path / "out", "asr")
    assert str(err.value).startswith(str(tmp_path / "missing.pth")) and "\n" not in str(err.value)
    with pytest.raises(DataError) as err:  # an ASR model file read as a TTS model
        export_transformers(config, model_file, tmp_path / "out", "tts")
    assert str(err.value).startswith(str(model_file)) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()
