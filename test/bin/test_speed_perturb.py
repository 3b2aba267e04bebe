"""Stage 2: ``espnet2_speecht5.bin.speed_perturb``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bin_helpers import assert_one_line_error, make_data_dir, read_kaldi, run_cli, tone

from espnet2_speecht5.data.audio import AudioSource, read_audio

pytestmark = pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")


def test_ids_prefixed_and_lengths_scaled(tmp_path: Path):
    audio = {"spka_001": tone(1.0, 16000), "spkb_001": tone(0.5, 8000)}
    data = make_data_dir(tmp_path, audio, tgt_audio={"spka_001": tone(0.8, 16000), "spkb_001": tone(0.4, 16000)})
    # One entry as a pipe, to check that pipes are perturbed too.
    scp = read_kaldi(data / "wav.scp")
    scp["spkb_001"] = f"sox {scp['spkb_001']} -t wav - |"
    (data / "wav.scp").write_text("".join(f"{u} {v}\n" for u, v in scp.items()))
    (data / "utt2num_samples").write_text("spka_001 16000\nspkb_001 4000\n")
    out = tmp_path / "data" / "train_sp"
    proc = run_cli("speed_perturb", "--factors", "0.9 1.0 1.1", str(data), str(out))
    assert proc.returncode == 0, proc.stderr
    wav = read_kaldi(out / "wav.scp")
    expected = sorted(f"{p}{u}" for p in ("", "sp0.9-", "sp1.1-") for u in audio)
    assert list(wav) == sorted(expected, key=str.encode)
    assert wav["spka_001"] == scp["spka_001"]  # factor 1 keeps id and audio
    assert read_kaldi(out / "utt2spk")["sp0.9-spkb_001"] == "sp0.9-spkb"
    assert read_kaldi(out / "spk2utt")["sp1.1-spka"] == "sp1.1-spka_001"
    assert read_kaldi(out / "text")["sp1.1-spkb_001"] == read_kaldi(data / "text")["spkb_001"]
    assert not (out / "utt2num_samples").exists()  # lengths change; stage 3 measures them
    for path in out.iterdir():
        ids = [line.split()[0] for line in path.read_text().splitlines()]
        assert ids == sorted(ids, key=str.encode), path.name
    for name in ("wav.scp", "wav_tgt.scp"):
        entries = read_kaldi(out / name)
        for utt in ("spka_001", "spkb_001"):
            base, rate = read_audio(AudioSource(utt, entries[utt]))
            for factor in (0.9, 1.1):
                samples, rate2 = read_audio(AudioSource(utt, entries[f"sp{factor}-{utt}"]))
                assert rate2 == rate
                assert abs(len(samples) - len(base) / factor) <= 0.01 * len(base), (name, utt, factor)


def test_bad_factor_is_a_one_line_error(tmp_path: Path):
    data = make_data_dir(tmp_path, {"spka_001": tone(0.2, 16000)})
    proc = run_cli("speed_perturb", "--factors", "0.9 fast", str(data), str(tmp_path / "out"))
    assert_one_line_error(proc, "speed factor 'fast' is not a number")


def test_incomplete_file_names_it(tmp_path: Path):
    data = make_data_dir(tmp_path, {"spka_001": tone(0.2, 16000), "spka_002": tone(0.2, 16000)})
    (data / "text").write_text("spka_001 hi\n")
    proc = run_cli("speed_perturb", "--factors", "0.9 1.0", str(data), str(tmp_path / "out"))
    assert_one_line_error(proc, str(data / "text"), "spka_002")
