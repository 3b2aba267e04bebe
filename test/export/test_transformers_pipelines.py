"""transformers' pipelines on our exports: ``pipeline("automatic-speech-recognition")`` and
``pipeline("text-to-speech")`` load the folder (with its SpeechT5Tokenizer) and run it, no code of ours."""

from __future__ import annotations

from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch
from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig, SpeechT5Tokenizer, pipeline
from transformers_export_helpers import TOKENS, write_experiment

from espnet2_speecht5.export.speecht5_tokenizer import character_model, write_speecht5_tokenizer
from espnet2_speecht5.export.transformers_export import export_transformers, load_trained_model, network_tokens
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.search.greedy import greedy_speech_to_text


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("pipelines")
    out = {}
    for task, seed in (("asr", 3), ("tts", 4)):
        config, model_file = write_experiment(root / task, task, seed=seed)
        if task == "tts":  # the speaker table that stage 12 packs, where the export finds it
            with kaldiio.WriteHelper(f"ark:{root / task / 'spk_xvector.ark'}") as writer:
                writer("spk1", np.linspace(-1, 1, 8).astype(np.float32))
        folder = root / task / "hf"
        if task == "tts":
            folder.mkdir(parents=True)
            (folder / "spk_xvector.ark").write_bytes((root / task / "spk_xvector.ark").read_bytes())
        written = export_transformers(config, model_file, folder, task)
        out[task] = (config, model_file, folder, written)
    return out


def test_the_tokenizer_has_the_network_ids(exports) -> None:
    _, _, folder, written = exports["asr"]
    assert {"spm_char.model", "tokenizer_config.json", "special_tokens_map.json"} <= set(written)
    tokenizer = SpeechT5Tokenizer.from_pretrained(folder)
    net = (folder / "tokens.txt").read_text(encoding="utf-8").splitlines()
    ids = tokenizer("abc de")["input_ids"]
    assert ids == [net.index(t) for t in ["a", "b", "c", "<space>", "d", "e", "<sos/eos>"]]  # eos appended
    assert (tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.eos_token_id) == (1, 0, len(net) - 1)
    assert tokenizer("abz")["input_ids"][2] == 0  # a character outside the list: <unk>
    assert tokenizer.decode(ids, skip_special_tokens=True) == "abc de"


def test_the_asr_pipeline_transcribes_as_our_greedy_decoder(exports) -> None:
    config, model_file, folder, _ = exports["asr"]
    asr = pipeline("automatic-speech-recognition", model=str(folder), device="cpu")
    wav = (0.3 * torch.randn(9600, generator=torch.Generator().manual_seed(5))).numpy()
    text = asr({"raw": wav, "sampling_rate": 16000}, generate_kwargs={"max_length": 15, "min_length": 15,
                                                                         "num_beams": 1})["text"]
    model, _ = load_trained_model("asr", config, model_file)
    ids = greedy_speech_to_text(model.net, torch.from_numpy(wav)[None], max_len=15, min_len=15)[0].tolist()
    net = (folder / "tokens.txt").read_text(encoding="utf-8").splitlines()
    pieces = [net[i] for i in ids[1:] if i not in (0, 1, len(net) - 1)]
    expected = " ".join("".join(" " if p == "<space>" else p for p in pieces).split())
    assert len(pieces) >= 5 and text.strip() == expected, (text, ids)


def test_the_tts_pipeline_synthesises_with_the_exported_speaker_embedding(exports) -> None:
    _, _, folder, written = exports["tts"]
    assert "speaker_embeddings/spk1.npy" in written
    speaker = np.load(folder / "speaker_embeddings" / "spk1.npy")
    assert speaker.shape == (1, 8) and np.allclose(speaker[0], np.linspace(-1, 1, 8))
    # transformers downloads microsoft/speecht5_hifigan by default; offline, give it a (random) HiFi-GAN
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(model_in_dim=80)).eval()
    tts = pipeline("text-to-speech", model=str(folder), vocoder=vocoder, device="cpu")
    out = tts("abc de", forward_params={"speaker_embeddings": torch.from_numpy(speaker),
                                        "maxlenratio": 2.0, "minlenratio": 2.0})
    audio = np.asarray(out["audio"]).reshape(-1)
    assert out["sampling_rate"] == 16000 and np.isfinite(audio).all()
    assert audio.size == 7 * 2 * 256  # 7 input ids (6 characters + eos) x 2 frames each, 256 samples a frame


def test_other_token_types_get_no_tokenizer_and_bad_lists_are_refused(tmp_path: Path) -> None:
    assert write_speecht5_tokenizer(network_tokens(TOKENS), "bpe", tmp_path) == []
    assert not (tmp_path / "spm_char.model").exists()
    with pytest.raises(DataError, match="must start with <unk>, <blank>"):
        character_model(TOKENS)  # ESPnet order, not network order
    with pytest.raises(DataError, match="appears twice"):
        character_model(["<unk>", "<blank>", "<space>", "\u2581", "<sos/eos>"])
