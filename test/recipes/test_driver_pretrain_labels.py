"""Stage 6 of speecht5.sh --task pretrain makes its labels at the training config's model_conf.label_rate."""

from __future__ import annotations

import pytest
import soundfile as sf
import yaml
from test_driver import make_toy_recipe, run

from espnet2_speecht5.data.speech_labels import label_frames

pytestmark = pytest.mark.recipe_run  # a full recipe run: make test-recipes and CI run it, make test does not


def test_stage_6_labels_follow_the_config_label_rate(tmp_path):
    recipe = make_toy_recipe(tmp_path, "pretrain")
    (recipe / "conf").mkdir()
    (recipe / "conf" / "train.yaml").write_text("model_conf: {num_clusters: 50, label_rate: 100}\n")
    proc = run(recipe, "--stage", "1", "--stop_stage", "6", "--n_clusters", "4")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "iteration 1: 4 clusters of MFCC features, labels at 100 Hz (model_conf.label_rate of conf/train.yaml)" \
        in proc.stderr
    info = yaml.safe_load((recipe / "exp" / "clusters_iter1" / "info.yaml").read_text())
    assert (info["label_rate"], info["label_hop"], info["n_clusters"]) == (100, 160, 4)
    scp = (recipe / "dump" / "raw" / "dev" / "wav.scp").read_text().splitlines()
    wavs = dict(line.split(maxsplit=1) for line in scp)
    for line in (recipe / "dump" / "labels_iter1" / "dev" / "label").read_text().splitlines():
        utt, *labels = line.split()
        samples = sf.info(str(recipe / wavs[utt].strip())).frames
        assert len(labels) == label_frames(samples, 160, 400)  # one label per 10 ms

    # an unreadable rate stops stage 6 with one line
    (recipe / "conf" / "train.yaml").write_text("model_conf: {label_rate: 75}\n")
    proc = run(recipe, "--stage", "6", "--stop_stage", "6", "--n_clusters", "4")
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert errors and "--label_rate 75" in errors[0]
