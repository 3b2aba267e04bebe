"""Training a speaker model in stage 6: the lists ESPnet reads, the crop fix, and a tiny end-to-end run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from spk_helpers import make_data_dir, read_utt2spk, run_cli, tiny_spk_conf

from espnet2_speecht5.data.kaldi_dir import read_map
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.speaker.datasets import load_set
from espnet2_speecht5.speaker.embedding_io import read_embedding_scp
from espnet2_speecht5.speaker.spk_train_compat import install_fix
from espnet2_speecht5.speaker.spk_training import check_same_config, prepare_training_lists

from repo_testing import REPO_ROOT


def test_training_lists_hold_out_validation_utterances(tmp_path: Path):
    data = load_set(make_data_dir(tmp_path / "data", "train", {"spk1": 6, "spk2": 6, "spk3": 5}, seconds=0.1))
    lists = prepare_training_lists(data, tmp_path / "lists")
    assert lists.held_out and lists.num_speakers == 3
    train_utts = set(read_map(lists.train_dir / "wav.scp"))
    shape_order = list(read_map(lists.train_dir / "speech_shape"))
    assert sorted(shape_order) == sorted(train_utts) and shape_order != sorted(train_utts)  # shuffled
    trials = read_map(lists.valid_dir / "trial_label")
    valid_utts = {u for key in trials for u in key.split("*")}
    assert len(valid_utts) == 6 and not (valid_utts & train_utts)
    assert train_utts | valid_utts == set(data.utterances)
    assert len(trials) == 6 * 5 // 2
    for key, label in trials.items():
        a, b = key.split("*")
        assert label == str(int(data.utt2spk[a] == data.utt2spk[b]))
    assert read_map(lists.valid_dir / "trial.scp")[f"{a}*{b}"] == data.audio[a].entry
    assert read_map(lists.valid_dir / "trial2.scp")[f"{a}*{b}"] == data.audio[b].entry
    assert read_map(lists.train_dir / "spk2utt").keys() == {"spk1", "spk2", "spk3"}

    tiny = load_set(make_data_dir(tmp_path / "data2", "train", {"spk1": 2, "spk2": 2}, seconds=0.1))
    small = prepare_training_lists(tiny, tmp_path / "lists2")
    assert not small.held_out and small.num_train == 4  # too few to hold out: trials reuse training utterances


def test_an_experiment_trained_with_other_settings_is_not_resumed(tmp_path: Path):
    config = tmp_path / "train_spk.yaml"
    config.write_text(yaml.safe_dump({"max_epoch": 8, "encoder_conf": {"ndim": 128}}))
    exp = tmp_path / "exp"
    exp.mkdir()
    check_same_config(config, exp)  # nothing trained yet
    (exp / "config.yaml").write_text(yaml.safe_dump({"max_epoch": 8, "encoder_conf": {"ndim": 128}, "seed": 0}))
    check_same_config(config, exp)  # same settings: resuming is fine
    (exp / "config.yaml").write_text(yaml.safe_dump({"max_epoch": 8, "encoder_conf": {"ndim": 64}}))
    with pytest.raises(DataError, match="encoder_conf") as err:
        check_same_config(config, exp)
    assert err.value.path == str(config) and str(exp) in str(err.value)


def test_training_crop_works_with_this_numpy(tmp_path: Path):
    install_fix()
    from espnet2.train.preprocessor import SpkPreprocessor

    spk2utt = tmp_path / "spk2utt"
    spk2utt.write_text("a u1\nb u2\n")
    pre = SpkPreprocessor(train=True, target_duration=0.5, spk2utt=str(spk2utt), sample_rate=16000,
                          rir_apply_prob=0.0, noise_apply_prob=0.0)  # fmt: skip
    long = np.arange(20000, dtype=np.float32)
    out = pre("u1", {"speech": long, "spk_labels": "b"})
    assert out["speech"].shape == (8000,) and np.all(np.diff(out["speech"]) == 1)  # one contiguous crop
    assert out["spk_labels"].tolist() == [1]
    short = np.arange(3000, dtype=np.float32)
    out = pre("u1", {"speech": short, "spk_labels": "a"})
    assert out["speech"].shape == (8000,) and set(np.unique(out["speech"])) <= set(short.tolist())


def test_stage6_trains_a_tiny_model_and_embeds_every_set(tmp_path: Path):
    train = make_data_dir(tmp_path / "dump", "train", {"spk0": 6, "spk1": 6, "spk2": 6}, seconds=0.6)
    dev = make_data_dir(tmp_path / "dump", "dev", {"spk0": 2, "spk1": 2, "spk2": 2}, seconds=0.6)
    conf = tiny_spk_conf(dim=512)
    for key in ("spk_num", "init", "input_size"):
        conf.pop(key)
    conf.update(optim="adam", optim_conf={"lr": 0.001}, max_epoch=1, batch_type="unsorted", batch_size=4,
                num_att_plot=0, best_model_criterion=[["valid", "eer", "min"]], keep_nbest_models=1)  # fmt: skip
    config = tmp_path / "train_spk.yaml"
    config.write_text(yaml.safe_dump(conf))
    out, exp = tmp_path / "xvector", tmp_path / "exp" / "spk"
    proc = run_cli("--source", "espnet_spk", "--spk_config", str(config), "--spk_exp", str(exp),
                   "--outdir", str(out), "--train_dir", str(train), "--eval_dirs", str(dev),
                   "--average_per_speaker", "true")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (exp / "config.yaml").is_file() and (exp / "valid.eer.best.pth").exists()
    assert "1epoch results" in (exp / "train.log").read_text()
    for name, data in (("train", train), ("dev", dev)):
        utt2spk = read_utt2spk(data)
        got = read_embedding_scp(out / name / "xvector.scp")
        assert sorted(got) == sorted(utt2spk)
        assert all(v.shape == (512,) and np.isfinite(v).all() for v in got.values())
        for utt, vec in got.items():  # averaged: one vector per speaker
            same = [got[u] for u, s in utt2spk.items() if s == utt2spk[utt]]
            assert all(np.array_equal(vec, other) for other in same)
    assert "on 15 trials (dev, 3 speakers)" in (out / "eer.txt").read_text()
    assert "trained here" in (out / "README.txt").read_text()
    assert "EER" in proc.stdout


@pytest.mark.parametrize("config", sorted(REPO_ROOT.glob("egs2/*/*/conf/train_spk*.yaml")),
                         ids=lambda p: f"{p.parents[2].name}/{p.parents[1].name}")
def test_every_recipe_speaker_config_is_one_espnet_spk_train_accepts(config: Path, capsys) -> None:
    """A key ESPnet's speaker task does not know (plot_interval was one) stops stage 6 of TTS and VC."""
    from espnet2_speecht5.speaker.spk_train_compat import main as spk_train

    with pytest.raises(SystemExit) as exit_info:
        spk_train(["--config", str(config), "--print_config"])
    assert exit_info.value.code in (0, None), capsys.readouterr().err[-500:]
