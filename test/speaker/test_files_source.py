"""``--source files``: Kaldi ark/scp and folders of <utt>.npy, per-speaker averaging, and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import kaldiio
import numpy as np
import pytest
from spk_helpers import make_data_dir, one_error_line, read_utt2spk, run_cli

from espnet2_speecht5.bin.make_speaker_embeddings import main
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.speaker.embedding_io import read_embedding_scp

DIM = 16


@pytest.fixture
def sets(tmp_path: Path) -> Dict[str, Path]:
    """train: spk1 x4, spk2 x4; dev: spk1 x2, spk2 x2."""
    return {
        "train": make_data_dir(tmp_path / "data", "train", {"spk1": 4, "spk2": 4}, seconds=0.1),
        "dev": make_data_dir(tmp_path / "data", "dev", {"spk1": 2, "spk2": 2}, seconds=0.1),
    }


def random_vectors(utts, seed: int = 0, dim: int = DIM) -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {u: rng.standard_normal(dim).astype(np.float32) for u in utts}


def all_utts(sets: Dict[str, Path]):
    return [u for d in sets.values() for u in read_utt2spk(d)]


def write_ark(path: Path, vectors: Dict[str, np.ndarray]) -> Path:
    with kaldiio.WriteHelper(f"ark,scp:{path},{path.with_suffix('.scp')}") as writer:
        for utt, vec in vectors.items():
            writer(utt, vec)
    return path


def cli_args(sets: Dict[str, Path], files: Path, outdir: Path, *extra: str):
    return [
        "--source", "files", "--files", str(files), "--dim", str(DIM), "--outdir", str(outdir),
        "--train_dir", str(sets["train"]), "--eval_dirs", str(sets["dev"]), *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("suffix", [".ark", ".scp"])
def test_kaldi_input_is_copied_per_utterance(sets, tmp_path: Path, suffix: str):
    given = random_vectors(all_utts(sets))
    ark = write_ark(tmp_path / "given.ark", given)
    out = tmp_path / "out"
    main(cli_args(sets, ark.with_suffix(suffix), out))
    for name, data in sets.items():
        utt2spk = read_utt2spk(data)
        got = read_embedding_scp(out / name / "xvector.scp")
        assert sorted(got) == sorted(utt2spk)
        for utt, vec in got.items():
            assert vec.dtype == np.float32 and vec.shape == (DIM,)
            np.testing.assert_array_equal(vec, given[utt])
        spk = read_embedding_scp(out / name / "spk_xvector.scp")
        assert sorted(spk) == sorted(set(utt2spk.values()))
        for s, vec in spk.items():  # without averaging: the mean over this set's own utterances
            mine = np.mean([given[u] for u, su in utt2spk.items() if su == s], axis=0)
            np.testing.assert_allclose(vec, mine, rtol=1e-5, atol=1e-6)
    n_dev = len(read_utt2spk(sets["dev"]))
    eer_line = (out / "eer.txt").read_text()
    assert f"on {n_dev * (n_dev - 1) // 2} trials (dev, 2 speakers)" in eer_line
    readme = (out / "README.txt").read_text()
    assert str(ark.with_suffix(suffix)) in readme and "files" in readme


def test_npy_folder_with_averaging_and_an_unseen_speaker(tmp_path: Path):
    train = make_data_dir(tmp_path / "data", "train", {"spk1": 3, "spk2": 3}, seconds=0.1)
    dev = make_data_dir(tmp_path / "data", "dev", {"spk1": 2, "spk3": 2}, seconds=0.1)
    utt2spk = {**read_utt2spk(train), **read_utt2spk(dev)}
    given = random_vectors(utt2spk, seed=3)
    folder = tmp_path / "npy"
    for utt, vec in given.items():
        sub = folder / utt2spk[utt]  # one subfolder per speaker, as some releases ship them
        sub.mkdir(parents=True, exist_ok=True)
        np.save(sub / f"{utt}.npy", vec[None, :] if utt.endswith("_0") else vec)  # (1, dim) is accepted too
    out = tmp_path / "out"
    main([
        "--source", "files", "--files", str(folder), "--dim", str(DIM), "--outdir", str(out),
        "--train_dir", str(train), "--eval_dirs", str(dev), "--average_per_speaker", "true",
    ])  # fmt: skip
    train_mean = {
        s: np.mean([given[u] for u, su in read_utt2spk(train).items() if su == s], axis=0) for s in ("spk1", "spk2")
    }
    for name, data in (("train", train), ("dev", dev)):
        got = read_embedding_scp(out / name / "xvector.scp")
        assert sorted(got) == sorted(read_utt2spk(data))
        for utt, vec in got.items():
            spk = utt2spk[utt]
            expected = given[utt] if spk == "spk3" else train_mean[spk]
            np.testing.assert_allclose(vec, expected, rtol=1e-5, atol=1e-6)
    dev_spk = read_embedding_scp(out / "dev" / "spk_xvector.scp")
    np.testing.assert_allclose(dev_spk["spk1"], train_mean["spk1"], rtol=1e-5, atol=1e-6)
    spk3_mean = np.mean([given[u] for u in read_utt2spk(dev) if u.startswith("spk3")], axis=0)
    np.testing.assert_allclose(dev_spk["spk3"], spk3_mean, rtol=1e-5, atol=1e-6)
    assert "speakers unseen in training: spk3" in (out / "README.txt").read_text()


def test_missing_utterance_is_a_one_line_error_naming_it(sets, tmp_path: Path):
    given = random_vectors(all_utts(sets))
    folder = tmp_path / "npy"
    folder.mkdir()
    for utt, vec in given.items():
        if utt != "spk2_dev_1":
            np.save(folder / f"{utt}.npy", vec)
    line = one_error_line(run_cli(*cli_args(sets, folder, tmp_path / "out")))
    assert "spk2_dev_1" in line and str(sets["dev"] / "wav.scp") in line and str(folder) in line


def test_wrong_dimension_names_the_utterance_and_file(sets, tmp_path: Path):
    given = random_vectors(all_utts(sets))
    given["spk1_train_2"] = np.zeros(DIM + 1, dtype=np.float32)
    folder = tmp_path / "npy"
    folder.mkdir()
    for utt, vec in given.items():
        np.save(folder / f"{utt}.npy", vec)
    with pytest.raises(DataError) as err:
        main(cli_args(sets, folder, tmp_path / "out"))
    assert err.value.utt == "spk1_train_2"
    assert err.value.path == str(folder / "spk1_train_2.npy")
    assert f"({DIM + 1},)" in str(err.value) and f"expected {DIM} values" in str(err.value)


def test_non_finite_values_in_an_ark_name_the_utterance(sets, tmp_path: Path):
    given = random_vectors(all_utts(sets))
    given["spk2_dev_0"][3] = np.nan
    ark = write_ark(tmp_path / "given.ark", given)
    with pytest.raises(DataError, match="NaN or infinite") as err:
        main(cli_args(sets, ark.with_suffix(".scp"), tmp_path / "out"))
    assert err.value.utt == "spk2_dev_0" and err.value.line is not None


def test_two_npy_files_for_one_utterance_are_refused(sets, tmp_path: Path):
    folder = tmp_path / "npy"
    for sub in ("a", "b"):
        (folder / sub).mkdir(parents=True)
        np.save(folder / sub / "spk1_train_0.npy", np.zeros(DIM, dtype=np.float32))
    with pytest.raises(DataError, match="two files for one utterance") as err:
        main(cli_args(sets, folder, tmp_path / "out"))
    assert err.value.utt == "spk1_train_0"
