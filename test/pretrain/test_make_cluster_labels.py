"""Stage 6 of pre-training: make_cluster_labels on generated recordings (MFCC and encoder-layer features)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from pretrain_data import MODEL_CONF, NET_CONF, token_list, write_wavs

from espnet2_speecht5.bin import make_cluster_labels
from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.data.speech_labels import conv_frames, label_frames, labels_on_frames
from espnet2_speecht5.features.kmeans import assign
from espnet2_speecht5.runtime.errors import DataError

BASE_CONV = ((10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2))  # SpeechT5 base's feature extractor


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> Dict[str, object]:
    root = tmp_path_factory.mktemp("clusters")
    return {
        "root": root,
        "train": write_wavs(root / "train", "a", 6, seed=1),
        "dev": write_wavs(root / "dev", "b", 3, seed=2),
    }


def read_labels(path: Path) -> Dict[str, List[int]]:
    out = {}
    for line in path.read_text().splitlines():
        utt, *ids = line.split()
        out[utt] = [int(i) for i in ids]
    return out


def run(root: Path, out: str, *extra: str) -> Dict[str, object]:
    make_cluster_labels.main([
        "--data_dirs", str(root / "train"), str(root / "dev"), "--outdir", str(root / out / "labels"),
        "--info", str(root / out / "clusters" / "info.yaml"), "--n_clusters", "5", "--progress", "false", *extra,
    ])  # fmt: skip
    return yaml.safe_load((root / out / "clusters" / "info.yaml").read_text())


def test_mfcc_labels_one_per_frame_with_info(sets):
    root = sets["root"]
    info = run(root, "it1", "--seed", "3")
    for name in ("train", "dev"):
        labels = read_labels(root / "it1" / "labels" / name / "label")
        assert list(labels) == list(sets[name])  # every utterance, in wav.scp order
        for utt, samples in sets[name].items():
            # 50 Hz, 25 ms windows without padding: the base conv stack's frame count
            assert len(labels[utt]) == label_frames(samples) == conv_frames(samples, *BASE_CONV)
            assert all(0 <= i < 5 for i in labels[utt])
        assert info["labels"][name]["utterances"] == len(sets[name])
        assert info["labels"][name]["frames"] == sum(label_frames(n) for n in sets[name].values())
    assert (info["n_clusters"], info["iteration"], info["feature"], info["feature_dim"]) == (5, 1, "mfcc", 39)
    assert info["seed"] == 3 and info["fit_utterances"] == 6
    assert (info["label_rate"], info["label_hop"]) == (50, 320) and "every 20 ms (samples [320 i" in info["frame"]
    assert info["fit_frames"] == info["labels"]["train"]["frames"]
    assert info["inertia"] > 0 and info["inertia_per_frame"] == pytest.approx(info["inertia"] / info["fit_frames"],
                                                                              rel=1e-4)
    # the labels are the nearest of the saved centroids
    centroids = np.load(root / "it1" / "clusters" / "centroids.npy")
    assert centroids.shape == (5, 39)
    utt, samples = next(iter(sets["dev"].items()))
    wave, _ = sf.read(root / "dev" / "wav" / f"{utt}.flac", dtype="float32")
    from espnet2_speecht5.features.mfcc import mfcc_39

    assert assign(mfcc_39(wave), centroids).tolist() == read_labels(root / "it1" / "labels" / "dev" / "label")[utt]


def test_same_seed_same_labels(sets):
    root = sets["root"]
    run(root, "s1", "--seed", "7", "--fit_fraction", "0.5")
    run(root, "s2", "--seed", "7", "--fit_fraction", "0.5")
    for name in ("train", "dev"):
        first, second = (root / run_name / "labels" / name / "label" for run_name in ("s1", "s2"))
        assert first.read_text() == second.read_text()
    assert np.array_equal(np.load(root / "s1" / "clusters" / "centroids.npy"),
                          np.load(root / "s2" / "clusters" / "centroids.npy"))
    info = yaml.safe_load((root / "s1" / "clusters" / "info.yaml").read_text())
    assert info["fit_utterances"] == 3


def test_bad_recording_is_one_line_naming_the_utterance(tmp_path: Path, capsys):
    write_wavs(tmp_path / "d", "u", 3)
    sf.write(tmp_path / "d" / "wav" / "u_01.flac", np.zeros(8000, dtype=np.float32), 8000)
    argv = ["--data_dirs", str(tmp_path / "d"), "--outdir", str(tmp_path / "o"), "--info", str(tmp_path / "i.yaml"),
            "--n_clusters", "2", "--progress", "false"]
    with pytest.raises(SystemExit) as exit_info:
        run_main(make_cluster_labels.main, argv)
    assert exit_info.value.code == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ERROR")]
    assert err == [f"ERROR: {tmp_path / 'd' / 'wav.scp'}:2: utterance 'u_01': is 8000 Hz; cluster labels need "
                   "16000 Hz audio (stage 3 resamples)"]
    (tmp_path / "d" / "wav" / "u_01.flac").write_bytes(b"not audio")
    with pytest.raises(DataError, match="utterance 'u_01': audio file .* cannot be decoded"):
        make_cluster_labels.main(argv)
    with pytest.raises(DataError, match="--iteration 2 needs --feature_model"):
        make_cluster_labels.main(argv + ["--iteration", "2"])
    assert not (tmp_path / "o").exists()


def test_iteration_two_clusters_an_encoder_layer(sets, tmp_path: Path):
    from espnet2_speecht5.checkpoint.io import save_torch
    from espnet2_speecht5.inference.cluster_features import EncoderLayerFeatures
    from espnet2_speecht5.tasks.pretrain import PretrainTask

    config = {"token_list": token_list(), "net_conf": NET_CONF, "model_conf": MODEL_CONF, "init": None}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    model, _ = PretrainTask.build_model_from_file(str(tmp_path / "config.yaml"), None, "cpu")
    save_torch(model.state_dict(), tmp_path / "model.pth")
    root = sets["root"]
    info = run(root, "it2", "--iteration", "2", "--feature_model", str(tmp_path / "model.pth"), "--feature_layer", "1")
    assert (info["iteration"], info["feature"], info["feature_dim"]) == (2, "encoder layer 1", 16)
    cfg = model.cfg
    labels = read_labels(root / "it2" / "labels" / "dev" / "label")
    for utt, samples in sets["dev"].items():
        assert len(labels[utt]) == conv_frames(samples, cfg.conv_kernels, cfg.conv_strides)
    # the features are the first block's output of the model in eval mode
    extractor = EncoderLayerFeatures(tmp_path / "model.pth", None, 1)
    utt = next(iter(sets["dev"]))
    wave, _ = sf.read(root / "dev" / "wav" / f"{utt}.flac", dtype="float32")
    seen = []
    model.eval().net.encoder.layers[0].register_forward_hook(lambda _m, _i, out: seen.append(out))
    with torch.no_grad():
        x, valid, _ = model.net.speech_prenet(torch.tensor(wave)[None], torch.tensor([len(wave)]))
        model.net.encoder(x, valid)
    assert np.allclose(extractor(wave), seen[0][0].numpy(), atol=1e-6)
    with pytest.raises(DataError, match="--feature_layer 3 is not an encoder block"):
        EncoderLayerFeatures(tmp_path / "model.pth", None, 3)


def test_label_rate_100_makes_a_label_every_160_samples(sets):
    from espnet2_speecht5.features.mfcc import mfcc_39

    root = sets["root"]
    info = run(root, "r100", "--seed", "3", "--label_rate", "100")
    for name in ("train", "dev"):
        labels = read_labels(root / "r100" / "labels" / name / "label")
        assert list(labels) == list(sets[name])
        for utt, samples in sets[name].items():
            assert len(labels[utt]) == label_frames(samples, 160, 400)
            # every second label starts on a frame of the base conv stack, one per frame
            assert labels_on_frames(len(labels[utt]), 2) == conv_frames(samples, *BASE_CONV)
        assert info["labels"][name]["frames"] == sum(label_frames(n, 160) for n in sets[name].values())
    assert (info["label_rate"], info["label_hop"]) == (100, 160)
    assert info["frame"] == "25 ms window every 10 ms (samples [160 i, 160 i + 400) at 16 kHz), no padding"
    # the labels are the nearest centroids of MFCC frames every 160 samples
    centroids = np.load(root / "r100" / "clusters" / "centroids.npy")
    utt = next(iter(sets["dev"]))
    wave, _ = sf.read(root / "dev" / "wav" / f"{utt}.flac", dtype="float32")
    written = read_labels(root / "r100" / "labels" / "dev" / "label")[utt]
    assert assign(mfcc_39(wave, 160, 400), centroids).tolist() == written


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--label_rate", "100", "--iteration", "2"],
         r"--label_rate 100 with --iteration 2: iterations >= 2 cluster encoder features, which come at the "
         r"encoder frame rate \(50 Hz\); use --label_rate 50"),
        (["--label_rate", "75"], r"--label_rate 75: labels at 75 Hz do not fit the encoder frame rate 50 Hz"),
        (["--label_rate", "25"], r"--label_rate 25: labels at 25 Hz do not fit"),
    ],
)  # fmt: skip
def test_label_rate_errors_are_one_line(sets, tmp_path: Path, capsys, extra: List[str], message: str):
    root = sets["root"]
    argv = ["--data_dirs", str(root / "dev"), "--outdir", str(tmp_path / "o"), "--info", str(tmp_path / "i.yaml"),
            "--n_clusters", "2", "--progress", "false", *extra]
    with pytest.raises(SystemExit) as exit_info:
        run_main(make_cluster_labels.main, argv)
    assert exit_info.value.code == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ERROR")]
    assert len(err) == 1 and re.match("ERROR: " + message, err[0]), err
    assert not (tmp_path / "o").exists() and not (tmp_path / "i.yaml").exists()
