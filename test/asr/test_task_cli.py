"""ASRTask and the asr_train / asr_inference entry points."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest
import yaml
from asr_helpers import NET_CONF

from espnet2_speecht5.bin import asr_inference, asr_train
from espnet2_speecht5.tasks.asr import ASRTask
from espnet2_speecht5.tasks.common import ConfigError, net_config_from_conf


def test_print_config(capsys: pytest.CaptureFixture) -> None:
    asr_train.main(["--print_config"])
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["net_conf"] == {"size": "base"}
    assert config["model_conf"]["ctc_weight"] == 0.5
    assert config["token_type"] == "char"


def test_net_conf_and_model_conf_checks() -> None:
    cfg = net_config_from_conf(NET_CONF)
    assert (cfg.d_model, cfg.conv_channels) == (32, (8, 8, 8))
    with pytest.raises(ConfigError, match="unknown key 'd_modle'"):
        net_config_from_conf({"size": "tiny", "d_modle": 3})
    with pytest.raises(ConfigError, match="size must be"):
        net_config_from_conf({"size": "huge"})
    with pytest.raises(ConfigError, match="set from the token list"):
        net_config_from_conf({"vocab_size": 10})
    with pytest.raises(ConfigError, match="unknown key 'ctc_wieght'"):
        ASRTask.check_model_conf({"ctc_wieght": 0.3})


def _train_args(exp: Dict[str, Path], out: Path, config: Path) -> list:
    return [
        "--config", str(config), "--token_list", str(exp["tokens"]), "--output_dir", str(out),
        "--train_data_path_and_name_and_type", f"{exp['wav_scp']},speech,sound",
        "--train_data_path_and_name_and_type", f"{exp['text']},text,text",
        "--valid_data_path_and_name_and_type", f"{exp['wav_scp']},speech,sound",
        "--valid_data_path_and_name_and_type", f"{exp['text']},text,text",
        "--train_shape_file", str(exp["wav_scp"]), "--valid_shape_file", str(exp["wav_scp"]),
        "--collect_stats", "true", "--batch_type", "unsorted", "--batch_size", "2", "--ngpu", "0",
    ]  # fmt: skip


def test_unknown_net_conf_key_is_one_line(asr_exp: Dict[str, Path], tmp_path: Path, capsys) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"net_conf": {"size": "tiny", "bogus_field": 1}}), encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        asr_train.main(_train_args(asr_exp, tmp_path / "exp", config))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        err[-1] == "ERROR: net_conf: unknown key 'bogus_field' (see SpeechT5Config in espnet2_speecht5/nets/config.py)"
    )


def test_unknown_top_level_key_is_rejected(asr_exp: Dict[str, Path], tmp_path: Path, capsys) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"max_epochs": 3}), encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        asr_train.main(_train_args(asr_exp, tmp_path / "exp", config))
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"ERROR: {config}:1: unknown key 'max_epochs' (not a training option; did you mean 'max_epoch'?)"
    )


def test_collect_stats_writes_shapes(asr_exp: Dict[str, Path], tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"net_conf": dict(NET_CONF)}), encoding="utf-8")
    out = tmp_path / "stats"
    asr_train.main(_train_args(asr_exp, out, config))
    shapes = (out / "train" / "speech_shape").read_text().split()
    assert shapes[:2] == ["utt0", str(int(16000 * 0.3))]
    assert (out / "train" / "text_shape").read_text().split()[:2] == ["utt0", "6"]


def _decode_args(exp: Dict[str, Path], out: Path) -> list:
    return [
        "--data_path_and_name_and_type", f"{exp['wav_scp']},speech,sound",
        "--asr_train_config", str(exp["config"]), "--asr_model_file", str(exp["model"]),
        "--output_dir", str(out), "--ngpu", "0", "--batch_size", "1", "--num_workers", "0",
    ]  # fmt: skip


def test_inference_writes_1best(asr_exp: Dict[str, Path], tmp_path: Path) -> None:
    keys = tmp_path / "keys.scp"
    keys.write_text("utt0 x\nutt2 x\n", encoding="utf-8")
    decode = tmp_path / "decode.yaml"
    decode.write_text(yaml.safe_dump(dict(beam_size=2, ctc_weight=0.3, maxlenratio=-5.0)), encoding="utf-8")
    out = tmp_path / "out"
    asr_inference.main(_decode_args(asr_exp, out) + ["--key_file", str(keys), "--config", str(decode)])
    for name in ("text", "token", "token_int", "score"):
        lines = (out / "1best_recog" / name).read_text(encoding="utf-8").splitlines()
        assert [line.split(" ")[0] for line in lines] == ["utt0", "utt2"], name
    for line in (out / "1best_recog" / "score").read_text().splitlines():
        float(line.split()[1])


def test_nbest_writes_k_best_lists_that_stage_9_merges_and_the_api_returns(asr_exp: Dict[str, Path],
                                                                             tmp_path: Path) -> None:
    """--nbest 3: <k>best_recog/{text,token,token_int,score} for k = 1..3, scores falling with k; two
    jobs merge into the decode folder as stage 9 does; Speech2Text.nbest_texts gives the same 3."""
    from espnet2_speecht5.inference.speech2text import Speech2Text
    from espnet2_speecht5.recipes.merging import merge_text

    decode = tmp_path / "decode.yaml"
    options = dict(beam_size=4, ctc_weight=0.3, maxlenratio=-5.0, nbest=3)
    decode.write_text(yaml.safe_dump(options), encoding="utf-8")
    logdir = tmp_path / "logdir"
    for job, keys in ((1, "utt0 x\nutt1 x\n"), (2, "utt2 x\n")):
        (tmp_path / f"keys.{job}.scp").write_text(keys, encoding="utf-8")
        asr_inference.main(_decode_args(asr_exp, logdir / f"output.{job}")
                           + ["--key_file", str(tmp_path / f"keys.{job}.scp"), "--config", str(decode)])
    out = tmp_path / "decode" / "test"
    merge_text(logdir, 2, out)
    scores = {}
    for k in (1, 2, 3):
        folder = out if k == 1 else out / f"{k}best_recog"
        for name in ("text", "token", "token_int", "score"):
            keys = [line.split(" ")[0] for line in (folder / name).read_text(encoding="utf-8").splitlines()]
            assert keys == ["utt0", "utt1", "utt2"], (k, name)
        scores[k] = {line.split()[0]: float(line.split()[1]) for line in (folder / "score").read_text().splitlines()}
    for utt in ("utt0", "utt1", "utt2"):
        assert scores[1][utt] >= scores[2][utt] >= scores[3][utt]
    assert not (out / "4best_recog").exists()
    speech2text = Speech2Text(asr_exp["config"], asr_exp["model"], device="cpu", **options)
    wav = asr_exp["wav_scp"].read_text().splitlines()[0].split()[1]
    pairs = speech2text.nbest_texts(wav)
    assert len(pairs) == 3 and all(isinstance(text, str) for text, _ in pairs)
    assert [round(score, 4) for _, score in pairs] == [round(scores[k]["utt0"], 4) for k in (1, 2, 3)]
    texts = {line.split(" ", 1)[0]: line.split(" ", 1)[1] if " " in line else ""
             for line in (out / "2best_recog" / "text").read_text(encoding="utf-8").splitlines()}
    assert texts["utt0"] == pairs[1][0]


def test_bad_lm_file_is_one_line(asr_exp: Dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "no_lm.pth"
    cmd = [sys.executable, "-m", "espnet2_speecht5.bin.asr_inference"] + _decode_args(asr_exp, tmp_path / "o")
    proc = subprocess.run(cmd + ["--lm_file", str(missing)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"ERROR: --lm_file: no such file: {missing}"


def test_bad_model_file_is_one_line(asr_exp: Dict[str, Path], tmp_path: Path, capsys) -> None:
    missing = tmp_path / "none.pth"
    args = _decode_args(asr_exp, tmp_path / "o")
    args[args.index("--asr_model_file") + 1] = str(missing)
    with pytest.raises(SystemExit):
        asr_inference.main(args)
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"ERROR: --asr_model_file: no such file: {missing}"
