"""The SE recipe's own steps: the speaker-embedding switch (stage 6, the data of stages 7-9) and the
noisy-copy mixer of the mini recipe's recorded-noise test set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet2_speecht5.corpus.noise import measure_snr
from espnet2_speecht5.corpus.real_noise import mix_with_recordings, read_noise_list
from espnet2_speecht5.recipes import Context, get_recipe
from espnet2_speecht5.runtime.errors import DataError


def make_sets(root: Path, model_conf: str) -> Context:
    for name in ("train", "dev", "test"):
        raw = root / "dump" / "raw" / name
        raw.mkdir(parents=True)
        (raw / "wav.scp").write_text(f"a_1 /noisy/{name}/a1.wav\n")
        (raw / "wav_clean.scp").write_text(f"a_1 /clean/{name}/a1.wav\n")
        (raw / "utt2spk").write_text("a_1 a\n")
    (root / "train.yaml").write_text(f"max_epoch: 1\n{model_conf}")
    return Context(task="se", dumpdir=str(root / "dump"), data_train_set="train", valid_set="dev",
                   test_sets="dev test", xvector_dir=str(root / "dump" / "xvector"),
                   train_config=str(root / "train.yaml"), task_exp=str(root / "exp" / "se_train"))


@pytest.mark.parametrize("model_conf", ["", "model_conf: {use_speaker_embedding: false}\n"])
def test_without_the_switch_nothing_is_embedded_or_read(tmp_path: Path, model_conf: str) -> None:
    ctx = make_sets(tmp_path, model_conf)
    recipe = get_recipe("se")
    assert recipe.speaker_dirs(ctx) == []
    raw = ctx.raw("train")
    assert recipe.data_options(ctx, "train", raw) == [
        "--train_data_path_and_name_and_type", f"{raw}/wav.scp,speech,sound",
        "--train_data_path_and_name_and_type", f"{raw}/wav_clean.scp,speech_clean,sound"]  # fmt: skip
    test = recipe.data_options(ctx, "test", ctx.raw("test"))
    assert "spembs" not in " ".join(test) and test[-2:] == ["--ref_wav_scp", f"{ctx.raw('test')}/wav_clean.scp"]
    recipe.require_inputs(ctx, "test")  # no x-vectors needed


def test_with_the_switch_stage_6_embeds_the_noisy_input(tmp_path: Path) -> None:
    ctx = make_sets(tmp_path, "model_conf: {use_speaker_embedding: true}\n")
    recipe = get_recipe("se")
    assert [d.name for d in recipe.speaker_dirs(ctx)] == ["train", "dev", "test"]  # the dump folders: wav.scp
    with pytest.raises(DataError, match=r"xvector/train/xvector.scp does not exist: run stage 6 first"):
        recipe.data_options(ctx, "train", ctx.raw("train"))
    spk = tmp_path / "dump" / "xvector" / "train"
    spk.mkdir(parents=True)
    (spk / "xvector.scp").write_text("a_1 x.ark:1\n")
    options = recipe.data_options(ctx, "train", ctx.raw("train"))
    assert options[-1] == f"{spk / 'xvector.scp'},spembs,kaldi_ark"


def test_a_switch_that_is_not_a_boolean_is_one_line(tmp_path: Path) -> None:
    ctx = make_sets(tmp_path, "model_conf: {use_speaker_embedding: maybe}\n")
    with pytest.raises(DataError, match="use_speaker_embedding must be true or false, not 'maybe'"):
        get_recipe("se").speaker_dirs(ctx)


def test_recorded_noise_is_mixed_at_the_asked_snrs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    clean = []
    for i in range(4):
        path = tmp_path / f"u{i}.flac"
        sf.write(path, 0.2 * np.sin(2 * np.pi * 200 * np.arange(8000) / 16000) * (1 + i), 16000)
        clean.append((f"u{i}", str(path)))
    noise_dir = tmp_path / "noise"
    noise_dir.mkdir()
    sf.write(noise_dir / "short.wav", 0.05 * rng.standard_normal(3000), 16000)  # shorter than speech: looped
    sf.write(noise_dir / "stereo.wav", 0.05 * rng.standard_normal((20000, 2)), 8000)  # down-mixed, resampled
    (tmp_path / "noise.list").write_text("# comment\nshort.wav\nstereo.wav  # two channels\n")
    files = read_noise_list(tmp_path / "noise.list", noise_dir)
    copies = mix_with_recordings(clean, files, [0.0, 10.0], tmp_path / "out", seed=1)
    assert [(c.snr_db, c.noise) for c in copies] == [(0.0, "short"), (10.0, "short"), (0.0, "stereo"),
                                                     (10.0, "stereo")]
    for (_utt, path), copy in zip(clean, copies):
        speech, _ = sf.read(path)
        mixed, rate = sf.read(copy.path)
        assert rate == 16000 and mixed.shape == speech.shape
        assert measure_snr(speech, mixed) == pytest.approx(copy.snr_db, abs=1e-3)


def test_a_missing_noise_recording_names_the_list_line(tmp_path: Path) -> None:
    (tmp_path / "noise.list").write_text("a.wav\nmissing.wav\n")
    (tmp_path / "a.wav").write_bytes(b"")
    with pytest.raises(DataError) as err:
        read_noise_list(tmp_path / "noise.list", tmp_path)
    assert f"{tmp_path / 'noise.list'}:2" in str(err.value) and "missing.wav does not exist" in str(err.value)


def test_extra_training_copies_take_the_next_snrs_and_other_noise_kinds(tmp_path: Path) -> None:
    from espnet2_speecht5.corpus.real_noise import extra_noisy_copies

    rows = []
    for i, spk in enumerate(["a", "b", "c", "d"]):
        path = tmp_path / f"{spk}_1.flac"
        sf.write(path, 0.2 * np.sin(2 * np.pi * (150 + 40 * i) * np.arange(6000) / 16000), 16000)
        rows.append((f"{spk}_1", spk, str(path), 5.0))
    made = extra_noisy_copies(rows, 2, [0.0, 5.0, 10.0, 15.0], ["white", "babble", "hum"], tmp_path / "out")
    assert [copy.utt for _, copy in made] == ["a_1-n1", "a_1-n2", "b_1-n1", "b_1-n2", "c_1-n1", "c_1-n2",
                                              "d_1-n1", "d_1-n2"]
    assert {copy.snr_db for _, copy in made} == {10.0, 15.0}  # the two SNRs after the corpus copy's 5 dB
    assert [copy.noise for source, copy in made if source == "a_1"] == ["babble", "hum"]
    for source, copy in made:
        clean, _ = sf.read(dict((r[0], r[2]) for r in rows)[source])
        mixed, _ = sf.read(copy.path)
        assert measure_snr(clean, mixed) == pytest.approx(copy.snr_db, abs=1e-3)
