"""from_pretrained of the four inference classes, and what each returns for a file or an array."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from espnet2_speecht5 import Speech2Label, Speech2Speech, Speech2Text, Text2Speech
from espnet2_speecht5.runtime.errors import DataError

from hub_helpers import SPEAKER_TOKENS, pack, tone, write_asr_exp, write_sid_exp, write_tts_exp


@pytest.fixture(scope="module")
def asr_zip(tmp_path_factory: pytest.TempPathFactory):
    recipe = tmp_path_factory.mktemp("asr_recipe")
    exp = write_asr_exp(recipe, seed=3)
    return exp, pack(recipe, recipe / "asr.zip", "asr", exp["config"], exp["model"], [exp["exp"] / "RESULTS.md"])


def _hyp(s2t: Speech2Text, wav: np.ndarray):
    text, tokens, ids, _ = s2t(wav)[0]
    return text, ids


def test_speech2text_from_a_zip_decodes_like_the_files_it_was_packed_from(asr_zip, tmp_path: Path):
    exp, zip_path = asr_zip
    wav = tone()
    options = dict(beam_size=3, ctc_weight=0.3, maxlenratio=0.3, minlenratio=0.2)
    before = _hyp(Speech2Text(exp["config"], exp["model"], **options), wav)
    loaded = Speech2Text.from_pretrained(str(zip_path), cache_dir=tmp_path / "cache", **options)
    assert _hyp(loaded, wav) == before
    assert len(before[1]) > 0  # random weights still emit tokens, so the comparison means something
    from espnet_model_zoo.downloader import ModelDownloader

    files = ModelDownloader(tmp_path / "zoo").download_and_unpack(str(zip_path))
    assert _hyp(Speech2Text(**files, **options), wav) == before


def test_transcribe_takes_a_path_or_an_array_at_any_rate(asr_zip, tmp_path: Path):
    _, zip_path = asr_zip
    s2t = Speech2Text.from_pretrained(str(zip_path), cache_dir=tmp_path / "cache", beam_size=3,
                                     maxlenratio=0.3, minlenratio=0.2)
    wav = tone()
    sf.write(tmp_path / "a.wav", wav, 16000)
    from_array = s2t.transcribe(wav)
    assert s2t(wav)[0][1], "no tokens: the comparisons below would be empty"
    assert s2t.transcribe(tmp_path / "a.wav") == from_array == s2t(str(tmp_path / "a.wav"))[0][0]
    # The same signal at 8 kHz in a stereo file is made 16 kHz mono first.
    from espnet2_speecht5.data.audio import resample

    low = resample(wav, 16000, 8000)
    sf.write(tmp_path / "b.wav", np.stack([low, low], axis=1), 8000)
    assert s2t.transcribe(tmp_path / "b.wav") == s2t.transcribe(resample(low, 8000, 16000))
    with pytest.raises(DataError, match="missing.wav"):
        s2t.transcribe(tmp_path / "missing.wav")


def test_the_packed_inference_config_sets_the_defaults(asr_zip, tmp_path: Path):
    exp, _ = asr_zip
    recipe = exp["exp"].parent.parent
    (exp["exp"] / "inference.yaml").write_text(yaml.safe_dump({"beam_size": 2, "ctc_weight": 0.5, "unknown": 1}))
    zip_path = pack(recipe, tmp_path / "with_inference.zip", "asr", exp["config"], exp["model"],
                    [exp["exp"] / "inference.yaml"])
    s2t = Speech2Text.from_pretrained(str(zip_path), cache_dir=tmp_path / "cache")
    assert s2t.beam_search.beam_size == 2 and s2t.beam_search.weights["ctc"] == 0.5
    s2t = Speech2Text.from_pretrained(str(zip_path), cache_dir=tmp_path / "cache", beam_size=4)
    assert s2t.beam_search.beam_size == 4  # what the caller passes wins
    (exp["exp"] / "inference.yaml").unlink()


def test_a_model_of_another_task_is_named(asr_zip, tmp_path: Path):
    _, zip_path = asr_zip
    with pytest.raises(DataError, match="has no train_config") as err:
        Text2Speech.from_pretrained(str(zip_path), cache_dir=tmp_path / "cache")
    assert "\n" not in str(err.value)


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_packed_pickle_that_runs_code_is_refused_by_from_pretrained(asr_zip, tmp_path: Path):
    exp, _ = asr_zip
    marker = tmp_path / "pwned"
    recipe = tmp_path / "evil_recipe"
    evil = write_asr_exp(recipe, name="asr_tiny")
    with evil["model"].open("wb") as f:
        pickle.dump({"net.encoder.weight": _RunsCode(marker)}, f)
    zip_path = pack(recipe, tmp_path / "evil.zip", "asr", evil["config"], evil["model"])
    with pytest.raises(DataError) as err:
        Speech2Text.from_pretrained(str(zip_path), cache_dir=tmp_path / "cache")
    message = str(err.value)
    assert "\n" not in message and "model.pth" in message
    assert not marker.exists(), "unpickling ran the planted code"


def test_text2speech_uses_the_packed_speaker_table(tmp_path: Path):
    recipe = tmp_path / "tts_recipe"
    speakers = {"anna": np.linspace(-1, 1, 8, dtype=np.float32), "bert": np.linspace(1, -2, 8, dtype=np.float32)}
    exp = write_tts_exp(recipe, speakers=speakers)
    zip_path = pack(recipe, tmp_path / "tts.zip", "tts", exp["config"], exp["model"], [exp["speakers"]])
    options = dict(vocoder="griffin_lim", maxlenratio=2.0)
    tts = Text2Speech.from_pretrained(str(zip_path), cache_dir=tmp_path / "cache", **options)
    assert sorted(tts.speakers) == ["anna", "bert"]
    reference = Text2Speech(exp["config"], exp["model"], **options)
    wav = tts.synthesize("abc de", "bert")
    expected = reference(["abc de"], spembs=speakers["bert"][None])[0].wav
    np.testing.assert_allclose(wav, expected, atol=1e-6)
    np.save(tmp_path / "anna.npy", speakers["anna"])
    np.testing.assert_allclose(tts.synthesize("abc de", tmp_path / "anna.npy"), tts.synthesize("abc de"), atol=1e-6)
    with pytest.raises(DataError, match="unknown speaker 'carl'"):
        tts.synthesize("abc de", "carl")


@pytest.fixture(scope="module", params=["decoder", "pooling"])
def sid_zip(tmp_path_factory: pytest.TempPathFactory, request):
    recipe = tmp_path_factory.mktemp("sid_recipe")
    exp = write_sid_exp(recipe, name="sid_tiny", seed=5, head=request.param)
    return exp, pack(recipe, recipe / "sid.zip", "classification", exp["config"], exp["model"])


def test_speech2label_from_a_zip_ranks_the_speakers_as_the_model_scores_them(sid_zip, tmp_path: Path):
    exp, zip_path = sid_zip
    sid = Speech2Label.from_pretrained(str(zip_path), cache_dir=tmp_path / "cache")
    assert sid.labels == ["spk_anna", "spk_bert", "spk_carl"]
    assert sid.head == yaml.safe_load(exp["config"].read_text())["model_conf"]["head"]
    wav = tone(freq=330.0)
    # The reference: the classifier's logits of a model built and loaded from the unpacked files.
    from espnet2_speecht5.inference.speech2label import load_sid_model

    model, _ = load_sid_model(exp["config"], exp["model"])
    with torch.no_grad():
        logits, _ = model.label_logits(torch.from_numpy(wav)[None], torch.tensor([wav.size]))
    assert sid(wav) == SPEAKER_TOKENS[2 + int(logits[0].argmax())]
    top = sid.top(wav, k=3)
    assert [label for label, _ in top] == [SPEAKER_TOKENS[2 + i] for i in logits[0].argsort(descending=True)]
    np.testing.assert_allclose([p for _, p in top], logits[0].softmax(-1).sort(descending=True).values, rtol=1e-5)
    assert abs(sum(p for _, p in top) - 1.0) < 1e-5


def test_speech2label_refuses_an_asr_model(asr_zip, tmp_path: Path):
    _, zip_path = asr_zip
    with pytest.raises(DataError, match="classification_train_config"):
        Speech2Label.from_pretrained(str(zip_path), cache_dir=tmp_path / "cache")


def test_speech2label_refuses_a_transformers_folder(tmp_path: Path):
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text('{"architectures": ["SpeechT5ForSpeechToText"]}')
    with pytest.raises(DataError, match="no SpeechT5 speaker-identification head"):
        Speech2Label.from_pretrained(str(folder), cache_dir=tmp_path / "cache")


def test_speech2speech_from_a_transformers_folder_generates_what_transformers_does(tmp_path: Path, monkeypatch):
    transformers = pytest.importorskip("transformers")
    from transformers.models.speecht5 import modeling_speecht5

    from espnet2_speecht5.checkpoint.hf_mapping import config_to_hf
    from espnet2_speecht5.nets.config import SpeechT5Config

    # transformers' pre-net dropout runs even in eval; both sides run without it here.
    monkeypatch.setattr(modeling_speecht5.SpeechT5SpeechDecoderPrenet, "_consistent_dropout", lambda self, x, p: x)
    values = config_to_hf(SpeechT5Config.tiny().without_dropout(), "s2s")
    values.pop("model_type")
    values.pop("architectures")
    torch.manual_seed(0)
    hf = transformers.SpeechT5ForSpeechToSpeech(transformers.SpeechT5Config(**values)).eval()
    hf.save_pretrained(tmp_path / "vc")
    vc = Speech2Speech.from_pretrained(str(tmp_path / "vc"), cache_dir=tmp_path / "cache", vocoder="none",
                                       prenet_dropout=False, threshold=10.0, maxlenratio=1.0)
    wav = tone(0.5)
    speaker = np.random.default_rng(1).standard_normal(vc.speaker_dim).astype(np.float32)
    ours = vc.mel(wav, speaker)
    with torch.no_grad():
        ref = hf.generate_speech(torch.from_numpy(wav)[None], torch.from_numpy(speaker)[None], threshold=10.0,
                                 maxlenratio=1.0)
    assert ours.shape == ref.shape and ours.shape[0] > 0
    assert float((ours - ref).abs().max()) <= 1e-4
    np.save(tmp_path / "spk.npy", speaker)
    assert torch.equal(vc.mel(wav, tmp_path / "spk.npy"), ours)
    with pytest.raises(DataError, match="x-vector has"):
        vc.mel(wav, speaker[:3])


def test_speech2speech_refuses_the_zip_of_another_task(asr_zip, tmp_path: Path):
    _, zip_path = asr_zip
    assert zipfile.is_zipfile(zip_path)
    with pytest.raises(DataError, match="has no s2st_train_config .*model of another task"):
        Speech2Speech.from_pretrained(str(zip_path), cache_dir=tmp_path / "cache")
