"""transformers SpeechT5 folders converted into our ESPnet experiments: same outputs, one-line errors, a cache."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import sentencepiece as spm
import torch
import yaml
from transformers import SpeechT5Config as HFConfig
from transformers import SpeechT5ForSpeechToText, SpeechT5ForTextToSpeech, SpeechT5Tokenizer
from transformers.models.speecht5 import modeling_speecht5

from espnet2_speecht5.checkpoint.io import CheckpointError
from espnet2_speecht5.hub.transformers_import import (
    MARKER,
    HFVocabulary,
    convert_transformers_folder,
    read_hf_vocabulary,
    token_mapping,
    transformers_task,
)
from espnet2_speecht5.inference.speech2text import Speech2Text
from espnet2_speecht5.inference.text2speech import Text2Speech
from espnet2_speecht5.nets.compositions import shift_mel_right

from repo_testing import randomise_norms

SENTENCES = [
    "the pen is red",
    "a cat sat on the mat",
    "hello world",
    "we like big dogs",
    "the quick brown fox jumps over a lazy dog",
    "pack my box with five dozen liquor jugs",
]
UNSEEN = "the 7 red pens"  # the digit is not in the tokenizer's vocabulary
TOL = 1e-4
MAX_TOKENS = 12
TINY = dict(
    hidden_size=32,
    encoder_layers=1,
    encoder_attention_heads=2,
    encoder_ffn_dim=48,
    decoder_layers=2,
    decoder_attention_heads=2,
    decoder_ffn_dim=48,
    conv_dim=(8, 8, 8),
    conv_kernel=(10, 8, 8),
    conv_stride=(5, 8, 8),
    num_conv_pos_embeddings=8,
    num_conv_pos_embedding_groups=2,
    speech_decoder_prenet_units=16,
    speech_decoder_postnet_units=16,
    speech_decoder_postnet_layers=2,
    speaker_embedding_dim=8,
    hidden_dropout=0.0,
    attention_dropout=0.0,
    activation_dropout=0.0,
    positional_dropout=0.0,
    encoder_layerdrop=0.0,
    decoder_layerdrop=0.0,
    feat_proj_dropout=0.0,
    speech_decoder_postnet_dropout=0.0,
)


def save_tokenizer(folder: Path) -> SpeechT5Tokenizer:
    """A SpeechT5Tokenizer on a sentencepiece char model trained here (pieces <s> <pad> </s> <unk> first,
    as in spm_char.model), with the added <mask> and <ctc_blank> of the released tokenizers; saved to ``folder``."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES),
        model_writer=model,
        model_type="char",
        vocab_size=31,
        bos_id=0,
        pad_id=1,
        eos_id=2,
        unk_id=3,
        character_coverage=1.0,
        minloglevel=2,
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spm_char.model").write_bytes(model.getvalue())
    tokenizer = SpeechT5Tokenizer(str(folder / "spm_char.model"))
    tokenizer.add_special_tokens({"mask_token": "<mask>"})
    tokenizer.add_tokens(["<ctc_blank>"])
    tokenizer.save_pretrained(str(folder))
    return tokenizer


def hf_config(vocab_size: int, **changes) -> HFConfig:
    return HFConfig(vocab_size=vocab_size, **{**TINY, **changes})




def to_hf_ids(tokens: List[str], tokenizer: SpeechT5Tokenizer) -> List[int]:
    """Our token names -> transformers ids (our <blank> is its padding, our <sos/eos> its </s>)."""
    special = {"<blank>": tokenizer.pad_token_id, "<sos/eos>": tokenizer.eos_token_id}
    return [special[t] if t in special else tokenizer.convert_tokens_to_ids(t) for t in tokens]


def waveform(seed: int = 3, samples: int = 8000) -> torch.Tensor:
    return 0.3 * torch.randn(samples, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def asr_folder(tmp_path_factory: pytest.TempPathFactory):
    """A random transformers SpeechT5ForSpeechToText + tokenizer folder, its model, tokenizer and conversion."""
    root = tmp_path_factory.mktemp("hf_asr")
    folder = root / "speecht5_asr"
    tokenizer = save_tokenizer(folder)
    torch.manual_seed(0)
    # larger initial weights than transformers' 0.02: greedy decoding then depends on the input
    model = SpeechT5ForSpeechToText(hf_config(len(tokenizer), initializer_range=0.3)).eval()
    randomise_norms(model)
    with torch.no_grad():
        # tokens transformers' decode() leaves out: keep their logits small, so that greedy decoding
        # of the random model writes characters (the logits test below still sees every row)
        embed = model.speecht5.decoder.prenet.embed_tokens.weight
        for token in ("<s>", "<unk>", "<mask>", "<ctc_blank>"):
            embed[tokenizer.convert_tokens_to_ids(token)] *= 0.01
    model.save_pretrained(str(folder))
    files = convert_transformers_folder(folder, root / "cache" / "asr")
    return dict(folder=folder, model=model, tokenizer=tokenizer, files=files, root=root)


@pytest.fixture(scope="module")
def tts_folder(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("hf_tts")
    folder = root / "speecht5_tts"
    tokenizer = save_tokenizer(folder)
    torch.manual_seed(1)
    model = SpeechT5ForTextToSpeech(hf_config(len(tokenizer), initializer_range=0.3)).eval()
    randomise_norms(model)
    model.save_pretrained(str(folder))
    files = convert_transformers_folder(folder, root / "cache" / "tts")
    return dict(folder=folder, model=model, tokenizer=tokenizer, files=files)


@pytest.fixture
def no_hf_prenet_dropout(monkeypatch: pytest.MonkeyPatch) -> None:
    """transformers' speech-decoder pre-net drops units even in eval mode: make it the identity."""
    monkeypatch.setattr(modeling_speecht5.SpeechT5SpeechDecoderPrenet, "_consistent_dropout", lambda self, x, p: x)


# ------------------------------------------------------------------------------------- ASR


def test_task_names(asr_folder, tts_folder) -> None:
    assert transformers_task(asr_folder["folder"]) == "asr"
    assert transformers_task(tts_folder["folder"]) == "tts"
    assert set(asr_folder["files"]) == {"asr_train_config", "asr_model_file"}
    assert set(tts_folder["files"]) == {"train_config", "model_file"}


def test_asr_config_is_a_complete_espnet_config(asr_folder) -> None:
    config = yaml.safe_load(Path(asr_folder["files"]["asr_train_config"]).read_text(encoding="utf-8"))
    tokenizer = asr_folder["tokenizer"]
    assert config["token_type"] == "bpe"
    assert Path(config["bpemodel"]).read_bytes() == (asr_folder["folder"] / "spm_char.model").read_bytes()
    assert config["model_conf"]["ctc_weight"] == 0.0
    assert config["net_conf"]["d_model"] == 32 and config["net_conf"]["decoder_layers"] == 2
    tokens = config["token_list"]
    assert tokens[0] == "<blank>" and tokens[1] == "<unk>" and tokens[-1] == "<sos/eos>"
    # every transformers id has exactly one of our tokens
    assert sorted(to_hf_ids(tokens, tokenizer)) == list(range(len(tokenizer)))
    # ESPnet's own training defaults are there too (written from the task's parser)
    assert {"optim", "batch_type", "max_epoch", "seed"} <= set(config)
    marker = json.loads((Path(asr_folder["files"]["asr_model_file"]).parent / MARKER).read_text(encoding="utf-8"))
    assert marker["untrained"] == ["ctc.ctc_lo.weight", "ctc.ctc_lo.bias"]


def test_asr_greedy_search_matches_transformers_generate(asr_folder) -> None:
    files, tokenizer = asr_folder["files"], asr_folder["tokenizer"]
    wav = waveform(seed=0)
    speech2text = Speech2Text(**files, beam_size=1, ctc_weight=0.0, maxlenratio=-MAX_TOKENS)
    text, tokens, _, hyp = speech2text(wav)[0]
    with torch.no_grad():
        ref = (
            asr_folder["model"]
            .generate(input_values=wav[None], num_beams=1, do_sample=False, max_new_tokens=MAX_TOKENS)[0]
            .tolist()
        )
    eos = tokenizer.eos_token_id
    assert ref[0] == eos  # the decoder starts with </s>
    ref_tokens = ref[1:-1] if ref[-1] == eos and len(ref) > 1 else ref[1:]
    ours = to_hf_ids([speech2text.token_list[int(i)] for i in hyp.yseq[1:-1]], tokenizer)
    assert len(ref_tokens) >= 3 and len(set(ref_tokens)) >= 2, "the random model should write a few tokens"
    assert ours == ref_tokens
    assert to_hf_ids(tokens, tokenizer) == ref_tokens
    assert text == tokenizer.decode(ref, skip_special_tokens=True)


def teacher_forced_diff(files: Dict[str, str], hf_model, tokenizer) -> float:
    """Max |our logits - transformers' logits| over our tokens, for a text with an unknown character."""
    speech2text = Speech2Text(**files, beam_size=1, ctc_weight=0.0)
    model = speech2text.model
    ref_prev = [tokenizer.eos_token_id] + tokenizer(UNSEEN).input_ids[:-1]
    assert tokenizer.unk_token_id in ref_prev  # the digit is unknown to the tokenizer
    hf_of = torch.tensor(to_hf_ids(speech2text.token_list, tokenizer))
    espnet_of = {int(h): e for e, h in enumerate(hf_of)}
    prev = torch.tensor([[espnet_of[h] for h in ref_prev]])
    wav = waveform(seed=5)[None]
    with torch.no_grad():
        ref = hf_model(input_values=wav, decoder_input_ids=torch.tensor([ref_prev])).logits
        enc, _ = model.encode(wav, torch.tensor([wav.size(1)]))
        logits, _ = model.decoder_logits(enc, prev)
    return float((logits - ref[..., hf_of]).abs().max())


def test_asr_teacher_forced_logits_match(asr_folder) -> None:
    diff = teacher_forced_diff(asr_folder["files"], asr_folder["model"], asr_folder["tokenizer"])
    assert diff <= TOL, diff


def test_embedding_rows_without_a_token_are_dropped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A model with two more rows than the tokenizer has tokens: those rows are left out, the rest still match."""
    folder = tmp_path / "padded_vocab"
    tokenizer = save_tokenizer(folder)
    torch.manual_seed(4)
    model = SpeechT5ForSpeechToText(hf_config(len(tokenizer) + 2, initializer_range=0.3)).eval()
    model.save_pretrained(str(folder))
    with caplog.at_level("WARNING"):
        files = convert_transformers_folder(folder, tmp_path / "out")
    marker = json.loads((tmp_path / "out" / MARKER).read_text(encoding="utf-8"))
    extra = [len(tokenizer), len(tokenizer) + 1]
    assert [entry["id"] for entry in marker["dropped_tokens"]] == extra
    assert all(f"transformers token id {i} is left out" in caplog.text for i in extra)
    tokens = yaml.safe_load(Path(files["asr_train_config"]).read_text(encoding="utf-8"))["token_list"]
    assert len(tokens) == len(tokenizer)
    diff = teacher_forced_diff(files, model, tokenizer)
    assert diff <= TOL, diff


def test_token_mapping_leaves_out_what_it_cannot_name() -> None:
    names = ["<s>", "<pad>", "</s>", "<unk>", "a", "a", None, "<blank>", "b", "c"]
    mapping = token_mapping(HFVocabulary(names, unk_id=3, eos_id=2), vocab_size=9, pad_id=1)
    assert mapping.token_list == ["<blank>", "<unk>", "<s>", "a", "b", "<sos/eos>"]
    assert mapping.hf_ids == [1, 3, 0, 4, 8, 2]
    assert [index for index, _ in mapping.dropped] == [5, 6, 7, 9]
    # network ids swap ESPnet's 0 and 1: network row 0 is <unk>, row 1 the padding
    assert mapping.net_rows().tolist() == [3, 1, 0, 4, 8, 2]
    with pytest.raises(CheckpointError, match="must differ"):
        token_mapping(HFVocabulary(names, unk_id=1, eos_id=2), vocab_size=9, pad_id=1)


def test_released_tokenizer_layout_is_read_like_transformers(tmp_path: Path) -> None:
    """The layout of microsoft/speecht5_*: added_tokens.json and special_tokens_map.json, an old tokenizer_config."""
    folder = tmp_path / "released"
    save_tokenizer(tmp_path / "new")
    folder.mkdir()
    shutil.copyfile(tmp_path / "new" / "spm_char.model", folder / "spm_char.model")
    pieces = spm.SentencePieceProcessor(model_file=str(folder / "spm_char.model")).get_piece_size()
    mask = {"content": "<mask>", "lstrip": True, "normalized": True, "rstrip": False, "single_word": False}
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
    (folder / "added_tokens.json").write_text(json.dumps({"<ctc_blank>": pieces + 1, "<mask>": pieces}))
    (folder / "special_tokens_map.json").write_text(json.dumps({**specials, "mask_token": mask}))
    config = {**specials, "mask_token": {**mask, "__type": "AddedToken"}, "model_max_length": 600}
    config.update(sp_model_kwargs={}, tokenizer_class="SpeechT5Tokenizer")
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    tokenizer = SpeechT5Tokenizer.from_pretrained(str(folder))
    vocab = read_hf_vocabulary(folder)
    assert {name: i for i, name in enumerate(vocab.names)} == tokenizer.get_vocab()
    assert (vocab.unk_id, vocab.eos_id) == (tokenizer.unk_token_id, tokenizer.eos_token_id)


# ------------------------------------------------------------------------------------- TTS


def test_tts_tokenizer_gives_transformers_ids(tts_folder) -> None:
    tokenizer = tts_folder["tokenizer"]
    tts = Text2Speech(**tts_folder["files"], vocoder="none")
    assert tts.model.append_eos
    for text in (SENTENCES[0], UNSEEN):  # as the text comes (the normaliser off): the same ids as transformers'
        ours = [tts.token_list[i] for i in tts.token_ids(text, normalized=True)] + ["<sos/eos>"]
        assert to_hf_ids(ours, tokenizer) == tokenizer(text).input_ids
    # the normaliser (on by default) spells the digit that transformers' tokenizer turns into <unk>
    assert tts.normalize(UNSEEN) == "the seven red pens"
    ours = [tts.token_list[i] for i in tts.token_ids(UNSEEN)] + ["<sos/eos>"]
    assert to_hf_ids(ours, tokenizer) == tokenizer("the seven red pens").input_ids


def test_tts_teacher_forced_mel_matches_transformers(tts_folder, no_hf_prenet_dropout) -> None:
    tokenizer = tts_folder["tokenizer"]
    tts = Text2Speech(**tts_folder["files"], vocoder="none", prenet_dropout=False)
    model = tts.model
    ids = torch.tensor([tts.token_ids(SENTENCES[1])])
    gen = torch.Generator().manual_seed(2)
    speaker = torch.randn(1, 8, generator=gen)
    prev = shift_mel_right(torch.randn(1, 12, 80, generator=gen), 2)
    with torch.no_grad():
        ref = tts_folder["model"].speecht5(
            input_values=torch.tensor([tokenizer(SENTENCES[1]).input_ids]),
            decoder_input_values=prev,
            speaker_embeddings=speaker,
        )
        before, after, stop = tts_folder["model"].speech_decoder_postnet(ref.last_hidden_state)
        tokens, lengths = model.net_tokens(ids, torch.tensor([ids.size(1)]))
        out = model.net(tokens, lengths, prev, None, speaker)
    diffs = {
        "mel_before": float((before - out.mel_before).abs().max()),
        "mel_after": float((after - out.mel_after).abs().max()),
        "stop": float((stop - out.stop_logits).abs().max()),
    }
    assert max(diffs.values()) <= TOL, diffs


# ------------------------------------------------------------------------------ bad folders


def _broken_copy(source: Path, target: Path, defect: str) -> Path:
    shutil.copytree(source, target)
    config = target / "config.json"
    if defect == "broken config.json":
        config.write_text('{"architectures": ["SpeechT5ForSpeechToText"], ', encoding="utf-8")
    elif defect == "missing weights":
        (target / "model.safetensors").unlink()
    elif defect == "unknown architecture":
        values = json.loads(config.read_text(encoding="utf-8"))
        values["architectures"] = ["BertForMaskedLM"]
        config.write_text(json.dumps(values), encoding="utf-8")
    elif defect == "speech-to-speech":
        values = json.loads(config.read_text(encoding="utf-8"))
        values["architectures"] = ["SpeechT5ForSpeechToSpeech"]
        config.write_text(json.dumps(values), encoding="utf-8")
    elif defect == "missing tokenizer":
        (target / "spm_char.model").unlink()
    return target


@pytest.mark.parametrize(
    "defect, names, words",
    [
        ("broken config.json", "config.json", "invalid JSON"),
        ("missing weights", "bad", "no model.safetensors or pytorch_model.bin"),
        ("unknown architecture", "config.json", "BertForMaskedLM"),
        ("speech-to-speech", "config.json", "SpeechT5ForSpeechToSpeech (vc)"),
        ("missing tokenizer", "bad", "no spm_char.model"),
    ],
)
def test_bad_folder_gives_one_line_error(asr_folder, tmp_path: Path, defect: str, names: str, words: str) -> None:
    folder = _broken_copy(asr_folder["folder"], tmp_path / "bad", defect)
    outdir = tmp_path / "cache" / "out"
    with pytest.raises(CheckpointError) as err:
        convert_transformers_folder(folder, outdir)
    message = str(err.value)
    assert "\n" not in message
    assert names in message and words in message
    assert not outdir.exists()
    leftovers = list(outdir.parent.iterdir()) if outdir.parent.exists() else []
    assert leftovers == []


def test_task_of_a_bad_folder_is_one_line(asr_folder, tmp_path: Path) -> None:
    folder = _broken_copy(asr_folder["folder"], tmp_path / "bad", "unknown architecture")
    with pytest.raises(CheckpointError, match=r"config\.json: architectures \['BertForMaskedLM'\]"):
        transformers_task(folder)
    assert transformers_task(_broken_copy(asr_folder["folder"], tmp_path / "vc", "speech-to-speech")) == "vc"


# ------------------------------------------------------------------------------------ cache


def _stamp(path: Path) -> Dict[str, int]:
    stat = path.stat()
    return {"inode": stat.st_ino, "mtime_ns": stat.st_mtime_ns}


def test_second_conversion_is_skipped_and_a_changed_source_converted_again(asr_folder, tmp_path: Path) -> None:
    folder = tmp_path / "source"
    shutil.copytree(asr_folder["folder"], folder)
    outdir = tmp_path / "cache" / "asr"
    first = convert_transformers_folder(folder, outdir)
    marker = outdir / MARKER
    before = {name: _stamp(outdir / name) for name in (MARKER, "model.safetensors", "config.yaml")}

    again = convert_transformers_folder(folder, outdir)
    assert again == first
    assert {name: _stamp(outdir / name) for name in before} == before

    weights = folder / "model.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    third = convert_transformers_folder(folder, outdir)
    assert third == first
    assert _stamp(marker) != before[MARKER]
    record = json.loads(marker.read_text(encoding="utf-8"))
    assert record["fingerprint"]["files"]["model.safetensors"]["mtime_ns"] == stat.st_mtime_ns + 10**9
    assert sorted(p.name for p in outdir.parent.iterdir()) == ["asr"]  # no temporary folders left


# ---------------------------------------------------------------------------- from_pretrained


def test_from_pretrained_converts_a_transformers_folder_on_the_fly(asr_folder, tts_folder, tmp_path: Path) -> None:
    """The folder itself is the tag: converted into the cache, no CTC (weight 0), same text as transformers."""
    from espnet2_speecht5.inference.text2speech import Text2Speech

    wav = waveform(seed=0)
    s2t = Speech2Text.from_pretrained(str(asr_folder["folder"]), cache_dir=tmp_path / "cache", beam_size=1,
                                      ctc_weight=0.3, maxlenratio=-MAX_TOKENS)
    assert s2t.beam_search.weights["ctc"] == 0.0
    with torch.no_grad():
        ref = asr_folder["model"].generate(input_values=wav[None], num_beams=1, do_sample=False,
                                           max_new_tokens=MAX_TOKENS)[0]
    assert s2t.transcribe(wav.numpy()) == asr_folder["tokenizer"].decode(ref, skip_special_tokens=True)
    assert list((tmp_path / "cache" / "transformers").glob(f"*/{MARKER}")), "nothing converted into the cache"
    tts = Text2Speech.from_pretrained(str(tts_folder["folder"]), cache_dir=tmp_path / "cache", vocoder="none",
                                      prenet_dropout=False, maxlenratio=2.0)
    direct = Text2Speech(**tts_folder["files"], vocoder="none", prenet_dropout=False, maxlenratio=2.0)
    speaker = np.linspace(-1, 1, tts.model.net.cfg.speaker_embedding_dim, dtype=np.float32)[None]
    np.testing.assert_allclose(tts(["a cab"], spembs=speaker)[0].mel, direct(["a cab"], spembs=speaker)[0].mel,
                               atol=1e-6)
