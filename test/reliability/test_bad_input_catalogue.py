"""Catalogue of bad inputs: for each one, what the user sees.

Every case runs a real entry point and checks that the bad input gives either one ``ERROR:``
line that names the file, line or utterance, with exit status 1 and no traceback, or a skip that
is counted and reported, with the good utterances still written. ``utils/validate_data_dir.py``,
the driver and the disk-full dump run as commands; the other ``espnet2_speecht5.bin`` entry points
run their ``main`` in this process, under the same error wrapper as on the command line, so that
the interpreter start and ESPnet's import are paid once. The same table is in docs/bad_inputs.md.

| # | case | stage: entry point | what the user sees (`ERROR: ...` line and exit 1, unless said otherwise) |
| --- | --- | --- | --- |
| 1 | duplicate utterance id | 1: validate_data_dir | `data/train/text:4: utterance 'spkb_001': duplicate id (...)` |
| 2 | unsorted `wav.scp` | 1: validate_data_dir | `data/train/wav.scp:2: utterance 'spka_002': not sorted: ...` |
| 3 | wav.scp, text differ | 1: validate_data_dir | `text: utterance 'spkb_001': not in this file, but in wav.scp:3` |
| 4 | transcript not UTF-8 | 1: validate_data_dir | `.../text:2: utterance 'spka_002': not valid UTF-8 (byte 15)` |
| 5 | empty data dir | 1: validate_data_dir | `.../wav.scp: required file for task asr does not exist` / `no lines` |
| 6 | corrupt audio | 3: dump_audio | `.../wav.scp:3: utterance 'spkb_corrupt': audio file ... cannot be decoded` |
| 7 | zero-length audio (0 bytes) | 3: dump_audio | as 6, `audio file ... is empty (0 bytes)` |
| 8 | audio header, no samples | 3: dump_audio | as 6, `... has no samples` |
| 9 | NaN samples | 3: dump_audio | as 6, `... contains NaN or infinite samples` |
| 10 | missing audio file | 3: dump_audio | as 6, `audio file ... does not exist`; for 6-10 no dump dir is written |
| 11 | bad audio, skip on | 3: dump_audio | skip: `dropped 5 utterance(s) with bad audio`; each in `bad_audio.txt` |
| 12 | 8 kHz audio (real speech) | 3: dump_audio | `resampled 1 files from 8000 Hz to 16000 Hz`, log and report |
| 13 | full disk in dump | 3: dump_audio | `File too large: .../data/spka_002.flac`; no partial file; rerun resumes |
| 14 | 20-minute utterance | 4: filter_data | train: dropped, `too long: 1200 s > 20 s`; test: kept, counted, listed |
| 15 | empty transcript | 4: filter_data | skip: `kept 2 of 3 (1 dropped; ...)`; `spka_002 empty text in text` |
| 16 | no transcript at all | 5: make_token_list | `.../text: has no transcript to make a token list from (...)` |
| 17 | unknown YAML key | 8: asr_train | `train.yaml:2: unknown key 'max_epochs' (...; did you mean 'max_epoch'?)` |
| 18 | wrong type in train YAML | 8: asr_train | `train.yaml:2: max_epoch: 1.5 is not a valid int` |
| 19 | value not a choice | 8: asr_train | `train.yaml:2: optim: 'adamm' is not one of: adam, adamw, ...` |
| 20 | YAML that does not parse | 8: asr_train | `train.yaml:3: not valid YAML: ...` |
| 21 | missing config file | 8: asr_train | `conf/nope.yaml: no such configuration file (--config)` |
| 22 | missing token list | 8: asr_train | `.../tokens.txt: no such token list file (--token_list; stage 5 makes it)` |
| 23 | token list format | 8: asr_train | `tokens.txt:1: the first token must be <blank> ...`; `...:6: ... twice` |
| 24 | init_param wrong size | 8: asr_train | `other_size.pth: parameter '...' has shape (...), the model's is (...)` |
| 25 | init_param unsafe pickle | 8: asr_train | `evil.pth: refusing to unpickle global 'posix.system': ...` |
| 26 | non-finite loss | 8: asr_train | skip: a warning per batch; `epoch 1: skipped 1 update(s) with a non-finite` |
| 27 | 8 kHz to a 16 kHz model | 9: asr_inference | log: `utterance 'seven': resampled from 8000 Hz to 16000 Hz` |
| 28 | missing audio at decoding | 9: asr_inference | `wav.scp:2: utterance 'utt1': audio file ... does not exist` |
| 29 | truncated checkpoint | 9: asr_inference | `model.pth: truncated or corrupt checkpoint file (...)` |
| 30 | model of another size | 9: asr_inference | `model.pth: parameter '...' has shape (...), the config builds ...` |
| 31 | unknown speaker name | 9: speecht5 CLI | `unknown speaker 'zoe': not a packed speaker name (anna, bert) ...` |
| 32 | only unknown tokens | 9: tts_inference | `utterance 'utt1': no token of the text is in the model's token list` |
| 33 | `--stage 8`, fresh copy | run.sh | `exp/asr_stats_char/train/speech_shape does not exist: run stage 7 first` |
| 34 | labels do not fit audio | 8: pretrain_train | `utterance 'trainutt_03': 32 cluster labels for 8914 samples ...` |
| 35 | cluster label 99 of 8 | 8: pretrain_train | `utterance 'trainutt_02': cluster label 99 is outside [0, 8) (...)` |
| 36 | `label_rate: 75` in config | 8: pretrain_train | `model_conf: labels at 75 Hz do not match the encoder ...` |
| 37 | `--label_rate 75` | 6: make_cluster_labels | `--label_rate 75: labels at 75 Hz do not fit the encoder ...` |
| 38 | not a pre-training model | 5, 8: pretrained_init | `asr.zip: is not a pre-training model (meta.yaml names ...)` |
| 39 | token list not the model's | 8: pretrained_init | accepted, rows moved: `token list: ... added 1 (z) ...` |
| 40 | empty text corpus | 8: pretrain_train | `.../train/text: has no lines (...: the text corpus is empty; ...)` |
| 41 | one training speaker | 5: sid recipe | `.../train/utt2spk: has 1 speaker: speaker identification needs ...` |
| 42 | test speaker not in training | 10: sid recipe | an error; RESULTS.md: `1 utterance(s) of a speaker ...` |

Budget: the whole module runs in under 90 s on 2 CPU cores.
"""

from __future__ import annotations

import json
import logging
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from bad_input_helpers import (
    ASR_NET,
    CHAR_TOKENS,
    assert_one_line_error,
    call_main,
    error_lines,
    make_data_dir,
    noise,
    one_error_line,
    pack,
    pretrain_data,
    read_kaldi,
    run_entry,
    run_python_module,
    tone,
    write_asr_exp,
    write_tts_exp,
    write_wav_scp,
)

from espnet2_speecht5.bin import asr_inference, asr_train, pretrain_train, speecht5_cli, tts_inference
from espnet2_speecht5.checkpoint.io import load_checkpoint
from espnet2_speecht5.inference.audio_input import load_input_audio
from espnet2_speecht5.inference.speech2text import Speech2Text
from espnet2_speecht5.runtime.cli import run_cli as run_cli_in_process

from repo_testing import REPO_ROOT, copy_recipe, run_recipe

GOOD = ("spka_001", "spka_002", "spkb_001")

# ---------------------------------------------------------------------------------- stage 1


def _validate(data: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO_ROOT / "utils" / "validate_data_dir.py"), "--task", "asr",
                           str(data)], capture_output=True, text=True, timeout=60)


def _lines(path: Path) -> List[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


@pytest.fixture(scope="module")
def stage1_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid asr data directory (3 utterances of 2 speakers) to copy and damage."""
    data = make_data_dir(tmp_path_factory.mktemp("stage1"), {u: tone(0.3, 16000) for u in GOOD})
    assert _validate(data).returncode == 0
    return data


def _damaged(stage1_dir: Path, tmp_path: Path) -> Path:
    data = tmp_path / "data" / "train"
    shutil.copytree(stage1_dir, data)
    return data


def test_01_duplicate_utterance_id(stage1_dir: Path, tmp_path: Path):
    data = _damaged(stage1_dir, tmp_path)
    (data / "text").write_text("".join(_lines(data / "text")) + "spkb_001 hello again\n", encoding="utf-8")
    assert_one_line_error(_validate(data), f"{data / 'text'}:4", "utterance 'spkb_001'", "duplicate id")


def test_02_unsorted_wav_scp(stage1_dir: Path, tmp_path: Path):
    data = _damaged(stage1_dir, tmp_path)
    (data / "wav.scp").write_text("".join(reversed(_lines(data / "wav.scp"))), encoding="utf-8")
    assert_one_line_error(_validate(data), f"{data / 'wav.scp'}:2", "utterance 'spka_002'", "not sorted")


def test_03_wav_scp_and_text_disagree(stage1_dir: Path, tmp_path: Path):
    data = _damaged(stage1_dir, tmp_path)
    (data / "text").write_text("".join(_lines(data / "text")[:2]), encoding="utf-8")
    assert_one_line_error(_validate(data), f"{data / 'text'}: utterance 'spkb_001': not in this file",
                          f"{data / 'wav.scp'}:3")


def test_04_transcript_not_utf8(stage1_dir: Path, tmp_path: Path):
    data = _damaged(stage1_dir, tmp_path)
    (data / "text").write_bytes((data / "text").read_bytes().replace(b"hello 002", b"h\xe9llo"))
    assert_one_line_error(_validate(data), f"{data / 'text'}:2", "utterance 'spka_002'", "not valid UTF-8")


def test_05_empty_data_dir(tmp_path: Path):
    data = tmp_path / "data" / "train"
    data.mkdir(parents=True)
    assert_one_line_error(_validate(data), f"{data / 'wav.scp'}: required file for task asr does not exist")
    for name in ("wav.scp", "text", "utt2spk", "spk2utt"):
        (data / name).write_text("")
    assert_one_line_error(_validate(data), f"{data / 'wav.scp'}: file has no lines")


# ---------------------------------------------------------------------------------- stage 3


def _dump(capsys, data: Path, out: Path, skip_bad_audio: bool = False):
    """Stage 3 for one data directory in one job: ``dump_audio convert`` then ``merge``; returns both results."""
    jobs = out.parent / f"{out.name}_jobs"
    convert = run_entry(capsys, "dump_audio", "convert", "--fs", "16000", "--in_scp", str(data / "wav.scp"),
                        "--outdir", str(jobs / "wav" / "1"))
    merge = run_entry(capsys, "dump_audio", "merge", "--fs", "16000", "--skip_bad_audio",
                      str(skip_bad_audio).lower(), "--src", str(data), "--jobs_dir", str(jobs), "--nj", "1",
                      "--outdir", str(out))
    return convert, merge


def _write_nan_wav(path: Path) -> None:
    samples = noise(0.3)
    samples[100:200] = np.nan
    sf.write(path, samples, 16000, subtype="FLOAT")


BAD_AUDIO = {
    "corrupt": "cannot be decoded",
    "empty": "is empty (0 bytes)",
    "zero_samples": "has no samples",
    "nan": "contains NaN or infinite samples",
    "missing": "does not exist",
}


def _bad_audio_dir(root: Path, kinds: List[str]) -> Path:
    """Good utterances ``spka_001``, ``spka_002`` and one ``spkb_<kind>`` per bad kind."""
    audio: Dict[str, object] = {"spka_001": tone(0.3, 16000), "spka_002": tone(0.4, 16000)}
    for kind in kinds:
        audio[f"spkb_{kind}"] = tone(0.3, 16000) if kind == "nan" else kind
    data = make_data_dir(root, audio)
    for kind in kinds:
        if kind == "nan":
            _write_nan_wav(root / "wavs" / "train" / "spkb_nan.wav")
    return data


@pytest.mark.parametrize("kind", list(BAD_AUDIO))
def test_06_to_10_bad_audio_stops_stage_3_in_one_line(tmp_path: Path, capsys, kind: str):
    data = _bad_audio_dir(tmp_path, [kind])
    out = tmp_path / "dump" / "raw" / "org" / "train"
    convert, merge = _dump(capsys, data, out)
    assert convert.returncode == 0, convert.stderr  # a job records bad audio; the merge decides
    bad = f"spkb_{kind}"
    line = assert_one_line_error(merge, f"{data / 'wav.scp'}:3: utterance '{bad}'", BAD_AUDIO[kind],
                                 f"listed in {out / 'bad_audio.txt'}")
    assert str(tmp_path / "wavs" / "train" / f"{bad}.wav") in line
    assert not (out / "wav.scp").exists(), "a stopped stage must not leave a dump directory that looks complete"
    assert list(read_kaldi(out / "bad_audio.txt")) == [bad]
    assert "stage stopped (--skip_bad_audio false)" in (out / "dump_report.txt").read_text()
    job = tmp_path / "dump" / "raw" / "org" / "train_jobs" / "wav" / "1"
    assert sorted(read_kaldi(job / "wav.scp")) == ["spka_001", "spka_002"]  # the good audio was converted


def test_11_skip_bad_audio_counts_and_lists_every_drop(tmp_path: Path, capsys, caplog):
    data = _bad_audio_dir(tmp_path, list(BAD_AUDIO))
    out = tmp_path / "dump" / "raw" / "org" / "train"
    convert, merge = _dump(capsys, data, out, skip_bad_audio=True)
    assert convert.returncode == 0 and merge.returncode == 0, merge.stderr
    assert f"dropped 5 utterance(s) with bad audio; see {out / 'bad_audio.txt'}" in caplog.messages
    assert sorted(read_kaldi(out / "wav.scp")) == ["spka_001", "spka_002"]
    assert sorted(read_kaldi(out / "text")) == ["spka_001", "spka_002"]
    listed = read_kaldi(out / "bad_audio.txt")
    assert sorted(listed) == sorted(f"spkb_{kind}" for kind in BAD_AUDIO)
    for kind, reason in BAD_AUDIO.items():
        assert reason in listed[f"spkb_{kind}"] and f"{data / 'wav.scp'}:" in listed[f"spkb_{kind}"]
    report = (out / "dump_report.txt").read_text()
    assert "bad audio: 5 file(s), dropped (--skip_bad_audio true)" in report
    assert "utterances written: 2" in report


def test_12_eight_khz_speech_is_resampled_and_reported(shared_data: Path, tmp_path: Path, capsys, caplog):
    digit = shared_data / "fsdd" / "recordings" / "3_george_0.flac"
    frames = sf.info(digit).frames
    assert sf.info(digit).samplerate == 8000
    data = make_data_dir(tmp_path, {"spka_001": tone(0.3, 16000)})
    (data / "wav.scp").write_text(f"spka_001 {tmp_path / 'wavs' / 'train' / 'spka_001.wav'}\nspkb_001 {digit}\n")
    (data / "text").write_text("spka_001 hello\nspkb_001 three\n")
    (data / "utt2spk").write_text("spka_001 spka\nspkb_001 spkb\n")
    (data / "spk2utt").write_text("spka spka_001\nspkb spkb_001\n")
    out = tmp_path / "dump" / "raw" / "org" / "train"
    with caplog.at_level(logging.INFO):
        convert, merge = _dump(capsys, data, out)
    assert convert.returncode == 0 and merge.returncode == 0, merge.stderr
    assert f"{data / 'wav.scp'}: resampled 1 files from 8000 Hz to 16000 Hz" in caplog.messages
    assert "resampled 1 files from 8000 Hz to 16000 Hz" in (out / "dump_report.txt").read_text()
    assert int(read_kaldi(out / "utt2num_samples")["spkb_001"]) == 2 * frames
    assert sf.info(read_kaldi(out / "wav.scp")["spkb_001"]).samplerate == 16000


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))


def test_13_full_disk_during_dump_names_the_file_and_leaves_no_partial_output(tmp_path: Path, capsys):
    # ENOSPC needs a full file system; a file size limit makes the kernel refuse the write the same way
    # (EFBIG), in the real dump process. The first file fits, the second (2 s of noise) does not.
    data = make_data_dir(tmp_path, {"spka_001": tone(0.2, 16000), "spka_002": (noise(2.0), 16000)})
    job = tmp_path / "dump" / "jobs" / "wav" / "1"
    args = ("convert", "--fs", "16000", "--in_scp", str(data / "wav.scp"), "--outdir", str(job))
    proc = run_python_module("espnet2_speecht5.bin.dump_audio", *args, preexec_fn=_limit_file_size)
    assert proc.returncode == 1
    one_error_line(proc.stderr, f"File too large: {job / 'data' / 'spka_002.flac'}")
    assert sorted(p.name for p in (job / "data").iterdir()) == ["spka_001.flac"]  # no partial or temporary file
    assert [line.split('"utt": "')[1].split('"')[0] for line in (job / "done.jsonl").read_text().splitlines()] == [
        "spka_001"]
    assert not (job / "wav.scp").exists(), "the job must not look finished"
    merge = run_entry(capsys, "dump_audio", "merge", "--fs", "16000", "--src", str(data), "--jobs_dir",
                      str(tmp_path / "dump" / "jobs"), "--nj", "1", "--outdir", str(tmp_path / "dump" / "train"))
    assert_one_line_error(merge, "job 1 of 1 did not finish", str(job / "wav.scp"))
    again = run_entry(capsys, "dump_audio", *args)  # space again: the rerun keeps spka_001, converts spka_002
    assert again.returncode == 0, again.stderr
    stats = json.loads((job / "stats.json").read_text())
    assert (stats["converted"], stats["reused"], stats["bad"]) == (1, 1, 0)
    assert sorted(read_kaldi(job / "wav.scp")) == ["spka_001", "spka_002"]


# ---------------------------------------------------------------------------------- stages 4-5


def _dumped_dir(root: Path, seconds: Dict[str, float], text: Dict[str, str]) -> Path:
    """A stage-3 output directory: only utt2num_samples matters to stage 4 (the audio is not read)."""
    data = root / "dump" / "raw" / "org" / "train"
    data.mkdir(parents=True)
    utts = sorted(seconds)
    (data / "wav.scp").write_text("".join(f"{u} {root / (u + '.flac')}\n" for u in utts))
    (data / "utt2num_samples").write_text("".join(f"{u} {int(seconds[u] * 16000)}\n" for u in utts))
    (data / "text").write_text("".join(f"{u} {text[u]}\n" for u in utts))
    (data / "utt2spk").write_text("".join(f"{u} {u.split('_')[0]}\n" for u in utts))
    return data


def test_14_extremely_long_utterance_is_dropped_from_training_and_reported_in_test_sets(tmp_path: Path, capsys):
    src = _dumped_dir(tmp_path, {"spka_001": 2.0, "spka_002": 1200.0, "spkb_001": 3.0},
                      {"spka_001": "a", "spka_002": "b", "spkb_001": "c"})
    train, test = tmp_path / "dump" / "raw" / "train", tmp_path / "dump" / "raw" / "test"
    proc = run_entry(capsys, "filter_data", "--filter_duration", "true", "--text_files", "text", str(src), str(train))
    assert proc.returncode == 0, proc.stderr
    assert f"kept 2 of 3 (1 dropped; see {train / 'filter_report.txt'})" in proc.stdout
    assert "spka_002 too long: 1200 s > 20 s" in (train / "filter_report.txt").read_text()
    assert sorted(read_kaldi(train / "wav.scp")) == ["spka_001", "spkb_001"]
    proc = run_entry(capsys, "filter_data", "--filter_duration", "false", "--text_files", "text", str(src), str(test))
    assert proc.returncode == 0, proc.stderr
    assert "kept 3 of 3 (0 dropped, 1 kept outside the duration range; see" in proc.stdout
    report = (test / "filter_report.txt").read_text()
    assert "kept 1 utterance(s) outside 0.1 s to 20 s (duration is not filtered in this set):" in report
    assert "spka_002 too long: 1200 s > 20 s" in report
    assert sorted(read_kaldi(test / "wav.scp")) == ["spka_001", "spka_002", "spkb_001"]


def test_15_empty_transcript_is_dropped_counted_and_listed(tmp_path: Path, capsys):
    src = _dumped_dir(tmp_path, {u: 1.0 for u in GOOD}, {"spka_001": "a b", "spka_002": " ", "spkb_001": "c"})
    dst = tmp_path / "dump" / "raw" / "train"
    proc = run_entry(capsys, "filter_data", "--text_files", "text", str(src), str(dst))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert f"kept 2 of 3 (1 dropped; see {dst / 'filter_report.txt'})" in proc.stdout
    assert "spka_002 empty text in text" in (dst / "filter_report.txt").read_text()
    assert read_kaldi(dst / "text") == {"spka_001": "a b", "spkb_001": "c"}


def test_16_no_transcript_for_the_token_list(tmp_path: Path, capsys):
    text = tmp_path / "text"
    text.write_text("spka_001\nspka_002   \n")
    proc = run_entry(capsys, "make_token_list", "--token_type", "char", "--text_file", str(text), "--outdir",
                     str(tmp_path / "tokens"))
    assert_one_line_error(proc, f"{text}: has no transcript to make a token list from")
    assert not (tmp_path / "tokens" / "tokens.txt").exists()


# ---------------------------------------------------------------------------------- stage 8

TRAIN_CONF = dict(net_conf=dict(ASR_NET), model_conf=dict(ctc_weight=0.3), max_epoch=1, num_att_plot=0,
                  use_tensorboard=False, best_model_criterion=[["valid", "loss", "min"]], keep_nbest_models=1)


@pytest.fixture(scope="module")
def train_data(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """Token list, three training utterances (the middle one also as a NaN variant), one for validation."""
    root = tmp_path_factory.mktemp("train_data")
    (root / "tokens.txt").write_text("".join(f"{t}\n" for t in CHAR_TOKENS), encoding="utf-8")
    wavs = [(f"utt{i}", noise(0.3, seed=i), 16000) for i in range(3)]
    train = write_wav_scp(root / "wav", "train.scp", wavs)
    _write_nan_wav(root / "wav" / "nan.wav")
    lines = _lines(train)
    (root / "train_nan.scp").write_text(lines[0] + f"utt1 {root / 'wav' / 'nan.wav'}\n" + lines[2])
    (root / "valid.scp").write_text(lines[0])
    (root / "text").write_text("".join(f"utt{i} abc de\n" for i in range(3)), encoding="utf-8")
    (root / "train.yaml").write_text(yaml.safe_dump(TRAIN_CONF), encoding="utf-8")
    return dict(root=root, tokens=root / "tokens.txt", train=train, train_nan=root / "train_nan.scp",
                valid=root / "valid.scp", text=root / "text", config=root / "train.yaml")


def _train_args(data: Dict[str, Path], out: Path, config: Path, train_scp: Path = None, tokens: Path = None) -> list:
    train_scp = train_scp or data["train"]
    return [
        "--config", str(config), "--token_list", str(tokens or data["tokens"]), "--output_dir", str(out),
        "--train_data_path_and_name_and_type", f"{train_scp},speech,sound",
        "--train_data_path_and_name_and_type", f"{data['text']},text,text",
        "--valid_data_path_and_name_and_type", f"{data['valid']},speech,sound",
        "--valid_data_path_and_name_and_type", f"{data['text']},text,text",
        "--train_shape_file", str(train_scp), "--valid_shape_file", str(data["valid"]),
        "--batch_type", "unsorted", "--batch_size", "1", "--ngpu", "0", "--num_workers", "0",
    ]  # fmt: skip


def _config_with(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "train.yaml"
    config.write_text(f"net_conf: {ASR_NET}\n{text}", encoding="utf-8")
    return config


@pytest.mark.parametrize(
    "case, line",
    [
        ("max_epochs: 3\n", ":2: unknown key 'max_epochs' (not a training option; did you mean 'max_epoch'?)"),
        ("max_epoch: 1.5\n", ":2: max_epoch: 1.5 is not a valid int"),
        ("optim: adamm\n", ":2: optim: 'adamm' is not one of: adam, adamw, sgd"),
        ("max_epoch: 3\n  batch_size: [\n", ":3: not valid YAML: "),
    ],
    ids=["17_unknown_key", "18_wrong_type", "19_not_a_choice", "20_not_yaml"],
)
def test_17_to_20_bad_training_yaml_is_one_line(train_data, tmp_path: Path, capsys, case: str, line: str):
    config = _config_with(tmp_path, case)
    code, _, err = call_main(asr_train.main, _train_args(train_data, tmp_path / "exp", config), capsys)
    assert code == 1
    one_error_line(err, f"ERROR: {config}{line}")
    assert not (tmp_path / "exp").exists(), "nothing may start before the configuration is checked"


def test_21_missing_config_file(train_data, tmp_path: Path, capsys):
    missing = tmp_path / "conf" / "nope.yaml"
    code, _, err = call_main(asr_train.main, _train_args(train_data, tmp_path / "exp", missing), capsys)
    assert code == 1
    one_error_line(err, f"ERROR: {missing}: no such configuration file (--config)")


def test_22_missing_token_list(train_data, tmp_path: Path, capsys):
    missing = tmp_path / "data" / "token_list" / "char" / "tokens.txt"
    args = _train_args(train_data, tmp_path / "exp", train_data["config"], tokens=missing)
    code, _, err = call_main(asr_train.main, args, capsys)
    assert code == 1
    one_error_line(err, f"ERROR: {missing}: no such token list file (--token_list; stage 5 makes it)")


@pytest.mark.parametrize(
    "tokens, line",
    [
        (CHAR_TOKENS[3:] + CHAR_TOKENS[:3], ":1: the first token must be <blank> (ESPnet's layout), not 'a'"),
        (CHAR_TOKENS[:5] + ["a"] + CHAR_TOKENS[5:], ":6: token 'a' is listed twice (first on line 4)"),
    ],
    ids=["no_blank_first", "token_twice"],
)
def test_23_token_list_in_the_wrong_format(train_data, tmp_path: Path, capsys, tokens: List[str], line: str):
    path = tmp_path / "tokens.txt"
    path.write_text("".join(f"{t}\n" for t in tokens), encoding="utf-8")
    args = _train_args(train_data, tmp_path / "exp", train_data["config"], tokens=path)
    code, _, err = call_main(asr_train.main, args, capsys)
    assert code == 1
    one_error_line(err, f"ERROR: {path}{line}")


def test_24_init_param_of_another_network_size(train_data, tmp_path: Path, capsys):
    from espnet2_speecht5.models.asr import SpeechT5ASRModel
    from espnet2_speecht5.tasks.common import net_config_from_conf

    other = SpeechT5ASRModel(len(CHAR_TOKENS), list(CHAR_TOKENS), net_config_from_conf({**ASR_NET, "d_model": 16}))
    path = tmp_path / "other_size.pth"
    torch.save(other.state_dict(), path)
    args = _train_args(train_data, tmp_path / "exp", train_data["config"]) + ["--init_param", str(path)]
    code, _, err = call_main(asr_train.main, args, capsys)
    assert code == 1
    line = one_error_line(err, f"ERROR: {path}: parameter '", "the model's is", "another network size")
    assert "(16" in line and "(32" in line, line
    assert not (tmp_path / "exp" / "checkpoint.pth").exists()


class _RunsCode:
    """Pickles as a call of os.system; unpickling it would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_25_init_param_pickle_that_would_run_code(train_data, tmp_path: Path, capsys):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pth"
    torch.save({"net.encoder.weight": _RunsCode(marker)}, path)  # saving calls __reduce__, nothing runs
    args = _train_args(train_data, tmp_path / "exp", train_data["config"]) + ["--init_param", str(path)]
    code, _, err = call_main(asr_train.main, args, capsys)
    assert code == 1
    one_error_line(err, f"ERROR: {path}: refusing to unpickle global 'posix.system'")
    assert not marker.exists(), "the planted code ran"


def test_26_non_finite_loss_batch_is_skipped_and_training_goes_on(train_data, tmp_path: Path, capsys, caplog):
    out = tmp_path / "exp"
    with caplog.at_level(logging.INFO):
        code, _, err = call_main(asr_train.main, _train_args(train_data, out, train_data["config"],
                                                             train_scp=train_data["train_nan"]), capsys)
    assert code == 0 and "Traceback" not in err, err
    messages = [r.getMessage() for r in caplog.records]
    skipped = [m for m in messages if m == "The grad norm is nan. Skipping updating the model."]
    assert len(skipped) == 1, messages  # one bad batch of three
    counted = [m for m in messages if m.startswith("epoch 1: skipped")]
    assert counted == ["epoch 1: skipped 1 update(s) with a non-finite loss or gradient (those batches are left out "
                       "of the epoch's statistics)"], messages
    results = [m for m in messages if m.startswith("1epoch results: [train]")]
    assert len(results) == 1 and "grad_norm=" in results[0] and "total_count=3" in results[0], results
    state = load_checkpoint(out / "1epoch.pth")
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


# ---------------------------------------------------------------------------------- stage 9


@pytest.fixture(scope="module")
def asr_model(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    return write_asr_exp(tmp_path_factory.mktemp("asr_model"), seed=2)


def _decode_args(model: Dict[str, Path], scp: Path, out: Path, model_file: Path = None) -> List[str]:
    return [
        "--data_path_and_name_and_type", f"{scp},speech,sound", "--asr_train_config", str(model["config"]),
        "--asr_model_file", str(model_file or model["model"]), "--output_dir", str(out), "--ngpu", "0",
        "--num_workers", "0", "--beam_size", "2", "--maxlenratio", "-3",
    ]  # fmt: skip


def test_27_eight_khz_speech_to_a_16_khz_model_is_resampled_with_a_log_line(
    shared_data: Path, asr_model, tmp_path: Path, capsys, caplog
):
    digit = shared_data / "fsdd" / "recordings" / "7_jackson_3.flac"
    assert sf.info(digit).samplerate == 8000
    scp = tmp_path / "wav.scp"
    scp.write_text(f"seven {digit}\n")
    with caplog.at_level(logging.INFO):
        code, _, err = call_main(asr_inference.main, _decode_args(asr_model, scp, tmp_path / "out"), capsys)
    assert code == 0, err
    messages = [r.getMessage() for r in caplog.records]
    assert "utterance 'seven': resampled from 8000 Hz to 16000 Hz" in messages
    assert any(m.startswith("1 utterance(s) are not at 16000 Hz (8000 Hz) and are resampled") for m in messages)
    speech2text = Speech2Text(asr_model["config"], asr_model["model"], beam_size=2, maxlenratio=-3)
    expected = speech2text(load_input_audio(digit))[0][1]
    assert read_kaldi(tmp_path / "out" / "1best_recog" / "token")["seven"] == " ".join(expected)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        speech2text.transcribe(digit)
    assert f"{digit}: resampled from 8000 Hz to 16000 Hz" in [r.getMessage() for r in caplog.records]


def test_28_missing_audio_file_at_decoding(asr_model, tmp_path: Path, capsys):
    scp = write_wav_scp(tmp_path, "wav.scp", [("utt0", noise(0.3), 16000)])
    missing = tmp_path / "utt1.wav"
    scp.write_text(scp.read_text() + f"utt1 {missing}\n")
    code, _, err = call_main(asr_inference.main, _decode_args(asr_model, scp, tmp_path / "out"), capsys)
    assert code == 1
    one_error_line(err, f"ERROR: {scp}:2: utterance 'utt1': audio file {missing} does not exist")
    assert not (tmp_path / "out" / "1best_recog").exists()


def test_29_truncated_model_checkpoint(asr_model, tmp_path: Path, capsys):
    truncated = tmp_path / "model.pth"
    data = asr_model["model"].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    scp = write_wav_scp(tmp_path, "wav.scp", [("utt0", noise(0.3), 16000)])
    code, _, err = call_main(asr_inference.main, _decode_args(asr_model, scp, tmp_path / "out", truncated), capsys)
    assert code == 1
    one_error_line(err, f"ERROR: {truncated}: truncated or corrupt checkpoint file")


def test_30_model_checkpoint_of_another_network_size(asr_model, tmp_path: Path, capsys):
    other = write_asr_exp(tmp_path / "other", seed=3)
    conf = yaml.safe_load(other["config"].read_text())
    conf["net_conf"]["decoder_ffn_dim"] = 24
    other["config"].write_text(yaml.safe_dump(conf))
    scp = write_wav_scp(tmp_path, "wav.scp", [("utt0", noise(0.3), 16000)])
    code, _, err = call_main(asr_inference.main, _decode_args(other, scp, tmp_path / "out", asr_model["model"]),
                             capsys)
    assert code == 1
    one_error_line(err, f"ERROR: {asr_model['model']}: parameter '", "the config builds", "24")


def test_31_speaker_missing_from_the_embedding_table(tmp_path: Path, capsys):
    recipe = tmp_path / "tts_recipe"
    exp = write_tts_exp(recipe)
    zip_path = pack(recipe, tmp_path / "tts.zip", "tts", exp["config"], exp["model"], [exp["speakers"]])
    out = tmp_path / "zoe.wav"
    args = ["synthesize", "--model", str(zip_path), "--cache_dir", str(tmp_path / "cache"), "--text", "abc de",
            "--speaker", "zoe", "--out", str(out)]  # fmt: skip
    code, _, err = call_main(lambda argv: run_cli_in_process(speecht5_cli.main, argv), args, capsys)
    assert code == 1 and "Traceback" not in err, err
    assert error_lines(err) == [
        "ERROR: unknown speaker 'zoe': not a packed speaker name (anna, bert) nor a .npy file",
        "ERROR: 1 of the inputs failed (listed above)",
    ]
    assert not out.exists()


def test_32_transcript_with_only_unknown_tokens(tmp_path: Path, capsys):
    exp = write_tts_exp(tmp_path / "tts_recipe")
    text = tmp_path / "text"
    text.write_text("utt0 abc de\nutt1 xyz zy\n", encoding="utf-8")
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path / 'xv.ark'},{tmp_path / 'xv.scp'}") as writer:
        for utt in ("utt0", "utt1"):
            writer(utt, np.ones(8, dtype=np.float32))
    args = ["--data_path_and_name_and_type", f"{text},text,text",
            "--data_path_and_name_and_type", f"{tmp_path / 'xv.scp'},spembs,kaldi_ark",
            "--train_config", str(exp["config"]), "--model_file", str(exp["model"]),
            "--output_dir", str(tmp_path / "out"), "--vocoder", "none", "--maxlenratio", "2.0"]  # fmt: skip
    code, _, err = call_main(tts_inference.main, args, capsys)
    assert code == 1
    one_error_line(err, "ERROR: utterance 'utt1': no token of the text is in the model's token list "
                        "('x', 'y', 'z'): it would be all <unk>")


# ---------------------------------------------------------------------------------- driver


def test_33_stage_8_in_a_fresh_recipe_names_the_stage_to_run(tmp_path: Path):
    recipe = copy_recipe("mini_speecht5", "asr1", tmp_path)
    proc = run_recipe(recipe, "--stage", "8", "--stop_stage", "8", timeout=120)
    assert proc.returncode == 1
    one_error_line(proc.stderr, "ERROR: exp/asr_stats_char/train/speech_shape does not exist: "
                                "run stage 7 first (--stage 7)")
    assert not (recipe / "exp" / "asr_train_char").exists()


# ---------------------------------------------------------------------------------- pre-training (--task pretrain)


@pytest.fixture()
def pretrain_set(tmp_path: Path) -> Dict[str, Path]:
    """``pretrain_data.make_dataset``: speech with 50 Hz labels, text corpora, tokens, shapes, config."""
    return pretrain_data.make_dataset(tmp_path / "data")


def _pretrain(files: Dict[str, Path], out: Path, capsys, *extra: str):
    """``pretrain_train`` on ``files`` in this process: (exit status, stderr)."""
    code, _, err = call_main(pretrain_train.main, pretrain_data.train_args(files, out) + list(extra), capsys)
    return code, err


def _label_lines(path: Path) -> Dict[str, List[str]]:
    return {line.split()[0]: line.split()[1:] for line in path.read_text().splitlines()}


@pytest.mark.parametrize("workers", ["0", "2"], ids=["in_process", "loader_workers"])
def test_34_cluster_labels_that_do_not_fit_the_audio(pretrain_set, tmp_path: Path, capsys, workers: str):
    from espnet2_speecht5.data.speech_labels import conv_frames, label_frames
    from espnet2_speecht5.tasks.common import net_config_from_conf

    lengths = {utt: sf.info(path).frames for utt, path in read_kaldi(pretrain_set["train_wav"]).items()}
    pretrain_data.write_labels(pretrain_set["train_label"], lengths, offset={"trainutt_03": 5})
    samples = lengths["trainutt_03"]
    net = net_config_from_conf(pretrain_data.NET_CONF)
    frames = conv_frames(samples, net.conv_kernels, net.conv_strides)
    code, err = _pretrain(pretrain_set, tmp_path / "exp", capsys, "--num_workers", workers)
    assert code == 1
    one_error_line(err, f"ERROR: utterance 'trainutt_03': {label_frames(samples) + 5} cluster labels for {samples} "
                        f"samples, which give {frames} encoder frames (more than 2 apart: labels must be at 50 Hz")
    assert not list((tmp_path / "exp").glob("*.pth")), "no checkpoint of a run that stopped"


def test_35_cluster_label_outside_the_clusters(pretrain_set, tmp_path: Path, capsys):
    labels = _label_lines(pretrain_set["train_label"])
    labels["trainutt_02"][3] = "99"
    pretrain_set["train_label"].write_text("".join(f"{u} {' '.join(ids)}\n" for u, ids in labels.items()))
    code, err = _pretrain(pretrain_set, tmp_path / "exp", capsys)
    assert code == 1
    one_error_line(err, f"ERROR: utterance 'trainutt_02': cluster label 99 is outside "
                        f"[0, {pretrain_data.NUM_CLUSTERS}) (num_clusters)")
    assert not list((tmp_path / "exp").glob("*.pth"))


def test_36_label_rate_that_is_not_a_multiple_of_the_frame_rate(pretrain_set, tmp_path: Path, capsys):
    conf = yaml.safe_load(pretrain_set["config"].read_text())
    conf["model_conf"]["label_rate"] = 75
    pretrain_set["config"].write_text(yaml.safe_dump(conf))
    code, err = _pretrain(pretrain_set, tmp_path / "exp", capsys)
    assert code == 1
    one_error_line(err, "ERROR: model_conf: labels at 75 Hz do not match the encoder frame rate (16000 / 320 = 50.0 "
                        "Hz): label_rate must be a whole multiple of it (50, 100, ... Hz)")
    assert not (tmp_path / "exp").exists()


def test_37_stage_6_labels_at_a_rate_that_is_not_a_multiple(pretrain_set, tmp_path: Path, capsys):
    train = pretrain_set["train_wav"].parent
    proc = run_entry(capsys, "make_cluster_labels", "--data_dirs", str(train), "--outdir", str(tmp_path / "labels"),
                     "--info", str(tmp_path / "km" / "info.yaml"), "--n_clusters", "4", "--label_rate", "75",
                     "--progress", "false")
    assert_one_line_error(proc, "--label_rate 75: labels at 75 Hz do not fit the encoder frame rate 50 Hz: the "
                                "label rate must be a whole multiple of it")
    assert not (tmp_path / "labels").exists() and not (tmp_path / "km").exists()


@pytest.fixture(scope="module")
def pretrain_model(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """A random pre-training model as stage 8 leaves it: ``exp/model.pth`` with ``config.yaml`` beside it."""
    from espnet2_speecht5.checkpoint.io import save_torch
    from espnet2_speecht5.models.pretrain import SpeechT5PretrainModel
    from espnet2_speecht5.tasks.common import net_config_from_conf

    exp = tmp_path_factory.mktemp("pretrain_model") / "exp"
    exp.mkdir()
    tokens = pretrain_data.token_list()
    torch.manual_seed(0)
    model = SpeechT5PretrainModel(len(tokens), tokens, net_config_from_conf(pretrain_data.NET_CONF),
                                  **pretrain_data.MODEL_CONF)
    save_torch(model.state_dict(), exp / "model.pth")
    (exp / "config.yaml").write_text(yaml.safe_dump({
        "token_list": tokens, "token_type": "char", "net_conf": pretrain_data.NET_CONF,
        "model_conf": pretrain_data.MODEL_CONF}))  # fmt: skip
    (exp / "tokens.txt").write_text("".join(t + "\n" for t in tokens))
    return dict(model=exp / "model.pth", config=exp / "config.yaml", tokens=exp / "tokens.txt")


def _init(capsys, command: str, pretrained: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_entry(capsys, "pretrained_init", command, "--pretrained_model", str(pretrained), "--cache_dir",
                     str(tmp_path / "cache"), *extra)


def test_38_pretrained_model_that_is_not_a_pre_training_model(asr_model, tmp_path: Path, capsys):
    recipe = asr_model["config"].parents[2]
    asr_zip = pack(recipe, tmp_path / "asr.zip", "asr", asr_model["config"], asr_model["model"])
    tokens = ["--token_type", "char", "--outdir", str(tmp_path / "tok")]
    proc = _init(capsys, "tokens", asr_zip, tmp_path, *tokens)
    assert_one_line_error(proc, f"{asr_zip}: is not a pre-training model (meta.yaml names asr_model_file, "
                                "asr_train_config, not ssl_train_config and ssl_model_file)")
    asr_tokens = tmp_path / "tokens.txt"  # the ASR model's own list, so that only the weights are wrong
    asr_tokens.write_text("".join(f"{t}\n" for t in yaml.safe_load(asr_model["config"].read_text())["token_list"]))
    proc = _init(capsys, "params", asr_model["model"], tmp_path, "--task", "asr", "--token_list", str(asr_tokens),
                 "--out", str(tmp_path / "init.pth"))
    assert_one_line_error(proc, f"{asr_model['model']}: is not a pre-training model (no masked-prediction head)")
    proc = _init(capsys, "tokens", asr_model["model"], tmp_path, *tokens)  # an ASR *.pth with its config.yaml
    assert_one_line_error(proc, f"{asr_model['model']}: is not a pre-training model (its config.yaml has no "
                                "pre-training options")
    missing = tmp_path / "pretrain.zip"
    proc = _init(capsys, "tokens", missing, tmp_path, *tokens)
    assert_one_line_error(proc, f"{missing}: does not exist (--pretrained_model: a pre-training zip of stage 12")
    assert not (tmp_path / "tok").exists() and not (tmp_path / "init.pth").exists()


def test_39_fine_tuning_token_list_other_than_the_pre_training_one(pretrain_model, tmp_path: Path, capsys, caplog):
    tokens = pretrain_data.token_list()
    other = tmp_path / "other.txt"
    other.write_text("".join(t + "\n" for t in tokens[:-2] + ["z", "<sos/eos>"]))
    out = tmp_path / "init.pth"
    with caplog.at_level(logging.INFO):
        proc = _init(capsys, "params", pretrain_model["model"], tmp_path, "--task", "asr", "--token_list", str(other),
                     "--out", str(out))
    assert proc.returncode == 0 and out.is_file(), proc.stderr  # a new vocabulary is not bad input any more
    line = next(r.getMessage() for r in caplog.records if "token list:" in r.getMessage())
    assert f"{len(tokens) - 1} tokens keep their rows, added 1 (z)" in line and f"dropped 1 ({tokens[-2]})" in line
    proc = _init(capsys, "params", pretrain_model["model"], tmp_path, "--task", "asr", "--token_list",
                 str(pretrain_model["tokens"]), "--out", str(out))
    assert proc.returncode == 0 and out.is_file(), proc.stderr  # the model's own list is taken


def test_40_empty_text_corpus(pretrain_set, tmp_path: Path, capsys):
    text = pretrain_set["train_text"]
    text.write_text("")
    code, err = _pretrain(pretrain_set, tmp_path / "exp", capsys)
    assert code == 1
    one_error_line(err, f"ERROR: {text}: has no lines (--train_text_data_path_and_name_and_type: the text corpus is "
                        "empty; leave the text options out to pre-train on speech only)")
    pretrain_set["train_text_shape"].write_text("")  # as stage 7 writes it from that text
    code, err = _pretrain(pretrain_set, tmp_path / "exp2", capsys)
    assert code == 1
    one_error_line(err, f"ERROR: {text}: has no lines")
    assert not list((tmp_path / "exp").glob("*.pth")) and not list((tmp_path / "exp2").glob("*.pth"))


def _sid_context(root: Path):
    from espnet2_speecht5.recipes import Context

    return Context(task="sid", dumpdir=str(root / "dump"), expdir=str(root / "exp"), data_train_set="train",
                   token_type="word", token_dir=str(root / "tokens"), task_exp=str(root / "exp" / "sid"))


def test_41_sid_training_set_with_one_speaker(tmp_path: Path):
    from espnet2_speecht5.recipes import get_recipe
    from espnet2_speecht5.runtime.errors import DataError

    ctx = _sid_context(tmp_path)
    utt2spk = ctx.raw("train") / "utt2spk"
    utt2spk.parent.mkdir(parents=True)
    utt2spk.write_text("anna_1 anna\nanna_2 anna\n")
    with pytest.raises(DataError) as err:
        get_recipe("sid").make_token_lists(ctx)
    assert str(err.value) == f"{utt2spk}: has 1 speaker: speaker identification needs at least two"


def test_42_sid_test_speaker_not_in_training(tmp_path: Path):
    import yaml

    from espnet2_speecht5.recipes import get_recipe
    from espnet2_speecht5.recipes.steps import results_text

    ctx = _sid_context(tmp_path)
    recipe = get_recipe("sid")
    decode = recipe.decode_dir(ctx, "m.pth") / "test"
    decode.mkdir(parents=True)
    (Path(ctx.task_exp) / "config.yaml").write_text(yaml.safe_dump({"token_list": ["<blank>", "<unk>", "anna", "bert",
                                                                                     "<sos/eos>"]}))
    ctx.raw("test").mkdir(parents=True)
    (ctx.raw("test") / "utt2spk").write_text("anna_1 anna\nzoe_1 zoe\n")
    (decode / "label").write_text("anna_1 anna\nzoe_1 bert\n")
    scores = recipe.score(ctx, "test", decode.parent, "m.pth")  # no crash: the utterance is scored
    assert scores["metrics"]["accuracy"] == 50.0 and scores["details"]["unknown_speakers"] == 1
    assert "1 utterance(s) of a speaker the model was not trained on, counted as errors (e.g. `zoe_1`)" in \
        results_text(Path(ctx.task_exp), date="today", repo=str(tmp_path))


def test_docs_bad_inputs_holds_this_catalogue():
    """docs/bad_inputs.md shows the same table as this module, and every row has its test here."""
    docs = (REPO_ROOT / "docs" / "bad_inputs.md").read_text(encoding="utf-8")
    rows = [line for line in (__doc__ or "").splitlines() if line.startswith("| ")]
    assert rows == [line for line in docs.splitlines() if line.startswith("| ")]
    numbers = [int(row.split("|")[1]) for row in rows[2:]]
    assert numbers == list(range(1, len(numbers) + 1))
    tested = set()
    for name in globals():
        match = re.match(r"test_(\d+)(?:_to_(\d+))?_", name)
        if match:
            tested.update(range(int(match.group(1)), int(match.group(2) or match.group(1)) + 1))
    assert tested == set(numbers)
