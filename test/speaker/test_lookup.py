"""``--source lookup``: a fixed vector per training speaker; unknown speakers are refused."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import numpy as np
from spk_helpers import make_data_dir, one_error_line, read_utt2spk, run_cli

from espnet2_speecht5.bin.make_speaker_embeddings import main
from espnet2_speecht5.speaker.embedding_io import read_embedding_scp
from espnet2_speecht5.speaker.lookup import lookup_table, speaker_vector


def test_vectors_are_fixed_unit_and_distinct():
    a = speaker_vector("cam4", 512)
    assert a.dtype == np.float32 and a.shape == (512,)
    np.testing.assert_array_equal(a, speaker_vector("cam4", 512))
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    # a speaker's vector does not depend on which other speakers there are, or their order
    np.testing.assert_array_equal(lookup_table(["zz", "cam4"])["cam4"], lookup_table(["cam4", "b"])["cam4"])
    names = [f"spk{k}" for k in range(12)]
    vectors = [speaker_vector(n, 512) for n in names]
    for u, v in itertools.combinations(vectors, 2):
        assert abs(float(u @ v)) < 0.25  # random directions in 512-d are nearly orthogonal
    assert speaker_vector("x", 7).shape == (7,)


def test_vector_follows_the_documented_recipe():
    """Rebuild one vector from the recipe in lookup.py's docstring (SHAKE-256 + Box-Muller)."""
    dim = 6
    raw = hashlib.shake_256(b"speecht5-speaker:alice").digest(8 * dim)
    u = (np.frombuffer(raw, dtype="<u8").astype(np.float64) + 0.5) / 2.0**64
    normals = []
    for k in range(0, dim, 2):
        r = np.sqrt(-2 * np.log(u[k]))
        normals.append((r * np.cos(2 * np.pi * u[k + 1]), r * np.sin(2 * np.pi * u[k + 1])))
    expected = np.array([c for c, _ in normals] + [s for _, s in normals])
    np.testing.assert_allclose(speaker_vector("alice", dim), expected / np.linalg.norm(expected), rtol=1e-6)


def test_every_utterance_gets_its_speakers_vector(tmp_path: Path):
    train = make_data_dir(tmp_path / "data", "train", {"spk1": 3, "spk2": 2}, seconds=0.1)
    dev = make_data_dir(tmp_path / "data", "dev", {"spk2": 2}, seconds=0.1)
    out = tmp_path / "out"
    (out).mkdir()
    (out / "eer.txt").write_text("stale\n")
    main(["--source", "lookup", "--outdir", str(out), "--train_dir", str(train), "--eval_dirs", str(dev),
          "--dim", "32", "--average_per_speaker", "true"])  # fmt: skip
    for name, data in (("train", train), ("dev", dev)):
        utt2spk = read_utt2spk(data)
        got = read_embedding_scp(out / name / "xvector.scp")
        assert sorted(got) == sorted(utt2spk)
        for utt, vec in got.items():
            np.testing.assert_array_equal(vec, speaker_vector(utt2spk[utt], 32))
        spk = read_embedding_scp(out / name / "spk_xvector.scp")
        assert sorted(spk) == sorted(set(utt2spk.values()))
    assert not (out / "eer.txt").exists()  # no EER for lookup vectors, and no stale one left behind
    assert "lookup" in (out / "README.txt").read_text()


def test_unknown_speaker_in_an_eval_set_is_named(tmp_path: Path):
    train = make_data_dir(tmp_path / "data", "train", {"spk1": 2, "spk2": 2}, seconds=0.1)
    test = make_data_dir(tmp_path / "data", "test", {"spk1": 1, "spk7": 1}, seconds=0.1)
    proc = run_cli("--source", "lookup", "--outdir", str(tmp_path / "out"), "--train_dir", str(train),
                   "--eval_dirs", str(test))  # fmt: skip
    line = one_error_line(proc)
    assert "'spk7'" in line and "'test'" in line and "spk7_test_0" in line
    assert not (tmp_path / "out" / "train" / "xvector.scp").exists()  # nothing half-written
