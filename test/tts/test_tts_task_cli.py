"""TTSTask and the tts_train / tts_inference entry points."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import yaml

from espnet2_speecht5.bin import tts_inference, tts_train

from tts_helpers import NET_CONF


def test_print_config(capsys: pytest.CaptureFixture) -> None:
    tts_train.main(["--print_config"])
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["net_conf"] == {"size": "base"}
    assert config["token_type"] == "char"


def _train_args(exp: Dict[str, Path], out: Path, config: Path) -> List[str]:
    args = ["--config", str(config), "--token_list", str(exp["tokens"]), "--output_dir", str(out)]
    for mode in ("train", "valid"):
        args += [
            f"--{mode}_data_path_and_name_and_type", f"{exp['text']},text,text",
            f"--{mode}_data_path_and_name_and_type", f"{exp['wav_scp']},speech,sound",
            f"--{mode}_data_path_and_name_and_type", f"{exp['xvector']},spembs,kaldi_ark",
            f"--{mode}_shape_file", str(exp["wav_scp"]),
        ]  # fmt: skip
    return args + ["--batch_type", "unsorted", "--batch_size", "2", "--ngpu", "0", "--num_workers", "0"]


def test_unknown_model_conf_key_is_one_line(tts_exp: Dict[str, Path], tmp_path: Path, capsys) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"net_conf": dict(NET_CONF), "model_conf": {"l1_wieght": 1}}), encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        tts_train.main(_train_args(tts_exp, tmp_path / "exp", config) + ["--collect_stats", "true"])
    assert exit_info.value.code == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("ERROR: model_conf: unknown key 'l1_wieght' (allowed: l1_weight, bce_weight")


def test_collect_stats_and_one_epoch(tts_exp: Dict[str, Path], tmp_path: Path, caplog) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"net_conf": dict(NET_CONF), "max_epoch": 1}), encoding="utf-8")
    stats = tmp_path / "stats"
    tts_train.main(_train_args(tts_exp, stats, config) + ["--collect_stats", "true"])
    assert (stats / "train" / "text_shape").read_text().split()[:2] == ["utt0", "6"]
    assert (stats / "train" / "speech_shape").read_text().split()[:2] == ["utt0", str(int(16000 * 0.3))]
    exp = tmp_path / "exp"
    with caplog.at_level(logging.INFO):
        tts_train.main(_train_args(tts_exp, exp, config))
    assert (exp / "1epoch.pth").exists() and (exp / "valid.loss.best.pth").exists()
    # the early-warning samples: generated length and stop step of the first validation utterances
    samples = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch 1 sample ")]
    assert samples and all(" frames" in m and "; target " in m for m in samples), samples


def _decode_args(exp: Dict[str, Path], out: Path, text: Path, xvector: Path) -> List[str]:
    return [
        "--data_path_and_name_and_type", f"{text},text,text",
        "--data_path_and_name_and_type", f"{xvector},spembs,kaldi_ark",
        "--train_config", str(exp["config"]), "--model_file", str(exp["model"]),
        "--output_dir", str(out), "--maxlenratio", "2.0", "--batch_size", "2",
    ]  # fmt: skip


def test_inference_writes_wavs_mels_and_plots(tts_exp: Dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    tts_inference.main(
        _decode_args(tts_exp, out, tts_exp["text"], tts_exp["xvector"])
        + ["--num_plots", "1", "--ref_wav_scp", str(tts_exp["wav_scp"])]
    )
    wavs = dict(line.split() for line in (out / "wav.scp").read_text().splitlines())
    assert sorted(wavs) == ["utt0", "utt1", "utt2"]
    mels = kaldiio.load_scp(str(out / "feats.scp"))
    for key, path in wavs.items():
        audio, rate = sf.read(path)
        assert rate == 16000
        assert len(audio) == 256 * mels[key].shape[0] and mels[key].shape[1] == 80
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["utt0.att.png", "utt0.mel.png"]


def test_one_seed_gives_identical_audio_and_the_deterministic_mode_any_seed(tts_exp: Dict[str, Path],
                                                                             tmp_path: Path) -> None:
    """--seed seeds the pre-net dropout (on at inference by default): the same seed twice gives the same
    audio, another seed other audio; --prenet_dropout false (the deterministic mode) gives one audio for
    every seed. Each run records its mode in generation.yaml, which stage 10 copies into scores.json."""
    from espnet2_speecht5.recipes.merging import generation_record

    def synthesise(name: str, *extra: str) -> Dict[str, np.ndarray]:
        out = tmp_path / name
        tts_inference.main(_decode_args(tts_exp, out, tts_exp["text"], tts_exp["xvector"]) + ["--num_plots", "0",
                                                                                              *extra])
        wavs = dict(line.split() for line in (out / "wav.scp").read_text().splitlines())
        return {key: sf.read(path)[0] for key, path in wavs.items()}

    first, again, other = synthesise("a", "--seed", "7"), synthesise("b", "--seed", "7"), synthesise("c", "--seed", "8")
    assert sorted(first) == ["utt0", "utt1", "utt2"]
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not all(len(first[k]) == len(other[k]) and np.array_equal(first[k], other[k]) for k in first)
    fixed7 = synthesise("d", "--seed", "7", "--prenet_dropout", "false")
    fixed8 = synthesise("e", "--seed", "8", "--prenet_dropout", "false")
    assert all(np.array_equal(fixed7[k], fixed8[k]) for k in fixed7)
    assert generation_record(tmp_path / "a") == {"seed": 7, "prenet_dropout": True, "deterministic": False}
    assert generation_record(tmp_path / "e") == {"seed": 8, "prenet_dropout": False, "deterministic": True}


def test_characters_outside_the_token_list_become_unk_with_a_warning(
    tts_exp: Dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = tmp_path / "text"
    text.write_text("utt0 abc? xyz\nutt1 ab\n", encoding="utf-8")
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING):
        tts_inference.main(_decode_args(tts_exp, out, text, tts_exp["xvector"]) + ["--vocoder", "none"])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # x, y and z are named; the normaliser turned '?', which the token list lacks, into a space
    assert any("outside the token list" in w and "'x'" in w and "'z'" in w and "'?'" not in w for w in warnings)
    assert sorted(kaldiio.load_scp(str(out / "feats.scp"))) == ["utt0", "utt1"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("utt0 abc\nutt1\n", "text:2: utterance 'utt1': empty text"),
        ("utt0 abc\nutt9 ab\n", "utterance 'utt9': no speaker embedding for this utterance"),
    ],
)
def test_bad_input_is_one_line(tts_exp: Dict[str, Path], tmp_path: Path, capsys, text: str, expected: str) -> None:
    path = tmp_path / "text"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        tts_inference.main(_decode_args(tts_exp, tmp_path / "out", path, tts_exp["xvector"]) + ["--vocoder", "none"])
    assert exit_info.value.code == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("ERROR: ") and last.endswith(expected), last
