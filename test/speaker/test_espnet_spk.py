"""``--source espnet_spk`` with a given model, and the ``SpeakerEmbedder`` API for similarity scoring."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from spk_helpers import RATE, make_data_dir, read_utt2spk, voice

from espnet2_speecht5.bin.make_speaker_embeddings import main
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.speaker import SpeakerEmbedder, cosine
from espnet2_speecht5.speaker.embedding_io import read_embedding_scp
from espnet2_speecht5.speaker.model_files import find_checkpoint


@pytest.fixture(scope="module")
def embedder(random_spk_exp: Path) -> SpeakerEmbedder:
    return SpeakerEmbedder.from_spk_model(random_spk_exp)


def test_embed_gives_one_vector_per_waveform(embedder: SpeakerEmbedder):
    wav = voice(1, 0, seconds=1.0)
    vec = embedder.embed(wav, RATE)
    assert vec.shape == (512,) and vec.dtype == np.float32 and np.isfinite(vec).all()
    assert embedder.dim == 512 and embedder.sample_rate == RATE
    np.testing.assert_array_equal(vec, embedder.embed(wav, RATE))  # eval mode: no randomness
    stereo = np.stack([wav, wav], axis=1)
    np.testing.assert_allclose(embedder.embed(stereo, RATE), vec, rtol=1e-5, atol=1e-5)
    other = embedder.embed(voice(2, 0, seconds=1.0), RATE)
    assert not np.allclose(other, vec)
    assert embedder.embed(wav[:1600], RATE).shape == (512,)  # 0.1 s is padded, not an error
    assert embedder.embed(wav[::2], RATE // 2).shape == (512,)  # 8 kHz input is resampled


def test_a_pth_file_beside_its_config_loads(random_spk_exp: Path, embedder: SpeakerEmbedder):
    direct = SpeakerEmbedder.from_spk_model(random_spk_exp / "valid.eer.best.pth")
    wav = voice(0, 3)
    np.testing.assert_array_equal(direct.embed(wav, RATE), embedder.embed(wav, RATE))


def test_cosine():
    a = np.array([1.0, 2.0, 0.0])
    assert cosine(a, 3 * a) == pytest.approx(1.0)
    assert cosine(a, -a) == pytest.approx(-1.0)
    assert cosine(a, np.array([-2.0, 1.0, 5.0])) == pytest.approx(0.0)
    assert cosine(a, np.zeros(3)) == 0.0
    with pytest.raises(ValueError):
        cosine(a, np.ones(4))


def test_packed_zip_loads_the_same_model(random_spk_exp: Path, embedder: SpeakerEmbedder, tmp_path: Path, monkeypatch):
    from espnet2.main_funcs.pack_funcs import pack

    monkeypatch.chdir(random_spk_exp.parent)
    archive = tmp_path / "spk.zip"
    pack(
        files={"model_file": f"{random_spk_exp.name}/valid.eer.best.pth"},
        yaml_files={"train_config": f"{random_spk_exp.name}/config.yaml"},
        outpath=str(archive),
    )
    wav = voice(0, 1)
    np.testing.assert_allclose(SpeakerEmbedder.from_spk_model(archive).embed(wav, RATE), embedder.embed(wav, RATE))


def test_zip_with_an_escaping_member_is_refused(random_spk_exp: Path, tmp_path: Path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(random_spk_exp / "config.yaml", "exp/config.yaml")
        zf.writestr("../escaped.txt", "boom")
    with pytest.raises(DataError, match="refusing to unpack member '../escaped.txt'"):
        SpeakerEmbedder.from_spk_model(archive, unpack_dir=tmp_path / "unpacked")
    assert not (tmp_path / "escaped.txt").exists()


def test_weights_that_do_not_fit_the_config_are_an_error(random_spk_exp: Path, tmp_path: Path):
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "config.yaml").write_text((random_spk_exp / "config.yaml").read_text())
    state = torch.load(random_spk_exp / "valid.eer.best.pth", weights_only=True)
    state.pop(next(iter(state)))
    torch.save(state, exp / "valid.eer.best.pth")
    with pytest.raises(DataError, match="does not fit the network of the config") as err:
        SpeakerEmbedder.from_spk_model(exp)
    assert err.value.path == str(exp / "valid.eer.best.pth")
    torch.save({"not_a_tensor": Path("x")}, exp / "valid.eer.best.pth")  # needs full unpickling
    with pytest.raises(DataError, match="refusing to unpickle") as err:
        SpeakerEmbedder.from_spk_model(exp)
    assert err.value.path == str(exp / "valid.eer.best.pth")


def test_checkpoint_choice(tmp_path: Path):
    for name in ("checkpoint.pth", "3epoch.pth", "10epoch.pth"):
        (tmp_path / name).write_bytes(b"")
    assert find_checkpoint(tmp_path).name == "10epoch.pth"
    (tmp_path / "latest.pth").write_bytes(b"")
    assert find_checkpoint(tmp_path).name == "latest.pth"
    (tmp_path / "valid.eer.best.pth").write_bytes(b"")
    assert find_checkpoint(tmp_path).name == "valid.eer.best.pth"
    for name in os.listdir(tmp_path):
        if name != "checkpoint.pth":
            (tmp_path / name).unlink()
    with pytest.raises(DataError, match="checkpoint.pth"):
        find_checkpoint(tmp_path)


def test_stage6_with_a_given_model(random_spk_exp: Path, tmp_path: Path):
    train = make_data_dir(tmp_path / "data", "train", {"spk0": 3, "spk1": 3, "spk2": 3}, seconds=0.6)
    dev = make_data_dir(tmp_path / "data", "dev", {"spk0": 2, "spk1": 2, "spk2": 2}, seconds=0.6)
    out = tmp_path / "out"
    main(["--source", "espnet_spk", "--spk_model", str(random_spk_exp), "--outdir", str(out),
          "--train_dir", str(train), "--eval_dirs", str(dev), "--nj", "2"])  # fmt: skip
    for name, data in (("train", train), ("dev", dev)):
        utt2spk = read_utt2spk(data)
        got = read_embedding_scp(out / name / "xvector.scp")
        assert sorted(got) == sorted(utt2spk)
        assert all(v.shape == (512,) and v.dtype == np.float32 for v in got.values())
        assert sorted(read_embedding_scp(out / name / "spk_xvector.scp")) == ["spk0", "spk1", "spk2"]
    assert "on 15 trials (dev, 3 speakers)" in (out / "eer.txt").read_text()
    assert "valid.eer.best.pth" in (out / "README.txt").read_text()
    with pytest.raises(DataError, match="512-dim embeddings, but --dim is 256"):
        main(["--source", "espnet_spk", "--spk_model", str(random_spk_exp), "--outdir", str(out),
              "--train_dir", str(train), "--dim", "256"])  # fmt: skip
