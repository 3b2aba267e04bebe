"""The ``speecht5`` command: pack, unpack, transcribe, synthesize, identify and convert."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from espnet2_speecht5.bin.speecht5_cli import main
from espnet2_speecht5.checkpoint.archive import verify_archive
from espnet2_speecht5.inference.speech2text import Speech2Text
from espnet2_speecht5.runtime.errors import DataError

from hub_helpers import SPEAKER_TOKENS, tone, write_asr_exp, write_sid_exp, write_tts_exp

DECODE = dict(beam_size=3, ctc_weight=0.3, maxlenratio=0.3, minlenratio=0.2)


@pytest.fixture(scope="module")
def asr_recipe(tmp_path_factory: pytest.TempPathFactory):
    recipe = tmp_path_factory.mktemp("cli_recipe")
    exp = write_asr_exp(recipe, seed=3)
    (exp["exp"] / "inference.yaml").write_text(yaml.safe_dump(DECODE))
    wavs = []
    for index, freq in enumerate((220.0, 330.0)):
        wavs.append(recipe / f"utt{index}.wav")
        sf.write(wavs[-1], tone(0.4, freq), 16000)
    return recipe, exp, wavs


def test_pack_writes_a_verified_zip_with_safetensors_and_the_inference_options(asr_recipe, monkeypatch):
    recipe, exp, _ = asr_recipe
    monkeypatch.chdir(recipe)
    main(["pack", "--task", "asr", "--train_config", "exp/asr_tiny/config.yaml", "--model_file",
          "exp/asr_tiny/model.pth", "--option", "exp/asr_tiny/inference.yaml", "--option", "exp/asr_tiny/RESULTS.md",
          "--out", "asr.zip"])
    meta = verify_archive(recipe / "asr.zip")
    assert meta["files"] == {"asr_model_file": "exp/asr_tiny/model.pth"}
    assert set(meta["sha256"]) == {"exp/asr_tiny/config.yaml", "exp/asr_tiny/model.pth",
                                   "exp/asr_tiny/model.safetensors", "exp/asr_tiny/inference.yaml",
                                   "exp/asr_tiny/RESULTS.md"}


def test_pack_refuses_a_file_outside_the_recipe_folder(asr_recipe, tmp_path: Path, monkeypatch):
    recipe, exp, _ = asr_recipe
    outside = tmp_path / "RESULTS.md"
    outside.write_text("x")
    monkeypatch.chdir(recipe)
    with pytest.raises(DataError, match="outside"):
        main(["pack", "--task", "asr", "--train_config", "exp/asr_tiny/config.yaml", "--model_file",
              "exp/asr_tiny/model.pth", "--option", str(outside), "--out", str(tmp_path / "x.zip")])


def test_transcribe_prints_one_line_per_file_and_names_a_bad_one(asr_recipe, capsys, tmp_path: Path):
    recipe, exp, wavs = asr_recipe
    zip_path = recipe / "asr.zip"
    if not zip_path.is_file():
        pytest.fail("run with test_pack_writes_a_verified_zip_with_safetensors_and_the_inference_options first")
    missing = tmp_path / "missing.wav"
    with pytest.raises(DataError, match="1 of the inputs failed"):
        main(["transcribe", "--model", str(zip_path), "--cache_dir", str(tmp_path / "c"), str(wavs[0]),
              str(missing), str(wavs[1])])
    out, err = capsys.readouterr()
    direct = Speech2Text(exp["config"], exp["model"], **DECODE)  # the packed inference.yaml's options
    assert out.splitlines() == [f"{w}\t{direct.transcribe(w)}" for w in wavs]
    errors = [line for line in err.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and str(missing) in errors[0]
    main(["transcribe", "--model", str(zip_path), "--cache_dir", str(tmp_path / "c"), str(wavs[0])])
    assert capsys.readouterr().out == direct.transcribe(wavs[0]) + "\n"  # one file: the text alone


def test_unpack_extracts_a_verified_zip_and_refuses_a_zip_slip(asr_recipe, tmp_path: Path):
    import zipfile

    recipe, _, _ = asr_recipe
    main(["unpack", str(recipe / "asr.zip"), "--outdir", str(tmp_path / "out")])
    assert (tmp_path / "out" / "meta.yaml").is_file() and (tmp_path / "out/exp/asr_tiny/model.safetensors").is_file()
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("meta.yaml", "files: {}\nyaml_files: {}\n")
        archive.writestr("../escaped.txt", "x")
    with pytest.raises(DataError, match="escaped.txt"):
        main(["unpack", str(evil), "--outdir", str(tmp_path / "evil_out")])
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "evil_out").exists()


def test_synthesize_writes_wavs_for_a_text_and_for_a_text_file(tmp_path: Path, monkeypatch):
    recipe = tmp_path / "tts_recipe"
    exp = write_tts_exp(recipe)
    monkeypatch.chdir(recipe)
    (exp["exp"] / "inference.yaml").write_text(yaml.safe_dump({"maxlenratio": 2.0, "minlenratio": 0.5}))
    main(["pack", "--task", "tts", "--train_config", "exp/tts_tiny/config.yaml", "--model_file",
          "exp/tts_tiny/model.pth", "--option", "exp/tts_tiny/inference.yaml", "--option",
          "dump/xvector/train/spk_xvector.ark", "--out", "tts.zip"])
    main(["synthesize", "--model", "tts.zip", "--cache_dir", "c", "--text", "abc de", "--speaker", "bert",
          "--out", "one.wav"])
    wav, rate = sf.read("one.wav")
    assert rate == 16000 and wav.size > 0
    (tmp_path / "lines.txt").write_text("first abc\nsecond ed cba\n")
    main(["synthesize", "--model", "tts.zip", "--cache_dir", "c", "--text_file", str(tmp_path / "lines.txt"),
          "--outdir", "many"])
    assert sorted(p.name for p in Path("many").iterdir()) == ["first.wav", "second.wav"]
    (tmp_path / "bad.txt").write_text("first abc\nlonely\n")
    with pytest.raises(DataError, match=r"bad.txt:2: expected '<name> <text>'"):
        main(["synthesize", "--model", "tts.zip", "--text_file", str(tmp_path / "bad.txt"), "--outdir", "x"])


def test_identify_prints_the_best_labels(tmp_path: Path, capsys, monkeypatch):
    recipe = tmp_path / "sid_recipe"
    write_sid_exp(recipe, name="sid_tiny", seed=5)
    monkeypatch.chdir(recipe)
    main(["pack", "--task", "sid", "--train_config", "exp/sid_tiny/config.yaml", "--model_file",
          "exp/sid_tiny/model.pth", "--out", "sid.zip"])
    sf.write("a.wav", tone(), 16000)
    main(["identify", "--model", "sid.zip", "--cache_dir", "c", "--top", "2", "a.wav"])
    line = capsys.readouterr().out.strip()
    path, labels = line.split("\t")
    assert path == "a.wav"
    pairs = [item.rsplit(":", 1) for item in labels.split()]
    assert len(pairs) == 2 and all(label in SPEAKER_TOKENS[2:5] for label, _ in pairs)
    assert float(pairs[0][1]) >= float(pairs[1][1])


def test_convert_writes_the_converted_wav(tmp_path: Path):
    transformers = pytest.importorskip("transformers")
    from espnet2_speecht5.checkpoint.hf_mapping import config_to_hf
    from espnet2_speecht5.nets.config import SpeechT5Config

    values = config_to_hf(SpeechT5Config.tiny(), "s2s")
    values.pop("model_type")
    values.pop("architectures")
    torch.manual_seed(0)
    transformers.SpeechT5ForSpeechToSpeech(transformers.SpeechT5Config(**values)).save_pretrained(tmp_path / "vc")
    sf.write(tmp_path / "src.wav", tone(0.5), 16000)
    np.save(tmp_path / "spk.npy", np.ones(values["speaker_embedding_dim"], dtype=np.float32))
    main(["convert", "--model", str(tmp_path / "vc"), "--source", str(tmp_path / "src.wav"), "--target-speaker",
          str(tmp_path / "spk.npy"), "--out", str(tmp_path / "out.wav")])
    wav, rate = sf.read(tmp_path / "out.wav")
    assert rate == 16000 and wav.size > 0


def test_the_console_script_reports_bad_input_on_one_line(tmp_path: Path):
    cli = Path(sys.executable).parent / "speecht5"
    proc = subprocess.run([str(cli), "transcribe", "--model", str(tmp_path / "nope.zip"), "a.wav"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("ERROR: ")
    assert "nope.zip" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_export_makes_a_folder_for_both_espnet_and_transformers(asr_recipe, tmp_path: Path, caplog, monkeypatch):
    transformers = pytest.importorskip("transformers")
    recipe, exp, wavs = asr_recipe
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no stored token either
    out = tmp_path / "export"
    with caplog.at_level("INFO"):
        main(["export", str(recipe / "asr.zip"), "--outdir", str(out), "--corpus", "tiny"])
    assert {"meta.yaml", "config.json", "model.safetensors", "README.md", "tokens.txt"} <= {
        p.name for p in out.iterdir()}
    assert "would upload" in caplog.text and "no --hf_repo" in caplog.text
    assert "random weights" in (out / "README.md").read_text()  # the packed RESULTS.md is in the card
    hf = transformers.SpeechT5ForSpeechToText.from_pretrained(out)
    assert hf.config.vocab_size == len(yaml.safe_load(exp["config"].read_text())["token_list"])
    # The same folder through our loader: meta.yaml wins over config.json, so the CTC head is there too.
    s2t = Speech2Text.from_pretrained(str(out), cache_dir=tmp_path / "c")
    assert s2t.beam_search.weights["ctc"] == DECODE["ctc_weight"]
    assert s2t.transcribe(wavs[0]) == Speech2Text(exp["config"], exp["model"], **DECODE).transcribe(wavs[0])
