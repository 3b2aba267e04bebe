"""PESQ / STOI scoring of enhanced speech (scoring/enhancement.py): alignment, the metrics, the files, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.scoring import enhancement
from espnet2_speecht5.scoring.enhancement import align_to_reference, estimate_lag, pesq_wb, score_quality, stoi_score

RATE = 16000


@pytest.fixture(scope="module")
def pair(shared_data: Path):
    """A real recording and its copy with babble at 0 dB (../shared/data/se_pairs/pesq)."""
    clean, rate = sf.read(shared_data / "se_pairs" / "pesq" / "speech.wav")
    noisy, rate_noisy = sf.read(shared_data / "se_pairs" / "pesq" / "speech_bab_0dB.wav")
    assert rate == rate_noisy == RATE
    n = min(len(clean), len(noisy))
    return clean[:n], noisy[:n]


@pytest.mark.parametrize("delay", [800, -480, 0])
def test_lag_of_a_delayed_copy_is_found(pair, delay: int) -> None:
    clean, _ = pair
    shifted = np.concatenate([np.zeros(delay), clean]) if delay >= 0 else clean[-delay:]
    lag = estimate_lag(shifted, clean, RATE, max_shift_s=0.25)
    assert abs(lag - delay) <= 32  # the 2 ms hop of the envelopes
    aligned, info = align_to_reference(shifted, clean, RATE)
    assert aligned.shape == clean.shape and info.lag == lag
    assert stoi_score(clean, aligned, RATE) > 0.9  # misaligned by more than a frame, it falls far below


def test_a_delay_beyond_max_shift_is_not_taken(pair) -> None:
    clean, _ = pair
    shifted = np.concatenate([np.zeros(RATE // 2), clean])  # 0.5 s late
    assert abs(estimate_lag(shifted, clean, RATE, max_shift_s=0.1)) <= 0.1 * RATE


def test_pesq_and_stoi_rank_clean_above_noisy(pair) -> None:
    clean, noisy = pair
    assert pesq_wb(clean, clean, RATE) > 4.5  # the scale's top is 4.64
    noisy_pesq = pesq_wb(clean, noisy, RATE)
    assert 1.0 <= noisy_pesq < 2.0  # babble at 0 dB
    assert stoi_score(clean, clean, RATE) > 0.99
    assert stoi_score(clean, noisy, RATE) < 0.9


def test_pesq_of_silence_is_none() -> None:
    ref = 0.1 * np.sin(2 * np.pi * 300 * np.arange(RATE) / RATE)
    assert pesq_wb(ref, np.zeros(RATE), RATE) is None


def write_set(folder: Path, signals: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for utt, wav in sorted(signals.items()):
        path = folder / f"{utt}.wav"
        sf.write(path, wav, RATE)
        lines.append(f"{utt} {path}\n")
    (folder / "wav.scp").write_text("".join(lines))
    return folder / "wav.scp"


def test_score_quality_writes_per_utterance_values_and_per_snr_means(pair, tmp_path: Path) -> None:
    clean, noisy = pair
    refs = write_set(tmp_path / "clean", {"u1": clean, "u2": clean, "u3": clean})
    # u1: a delayed, 10 % longer copy of the clean speech; u2, u3: the noisy copy
    late = np.concatenate([np.zeros(1600), clean, np.zeros(len(clean) // 10 - 1600)])
    hyps = write_set(tmp_path / "hyp", {"u1": late, "u2": noisy, "u3": noisy})
    (tmp_path / "utt2snr").write_text("u1 15.0\nu2 0.0\nu3 0\n")
    summary = score_quality(str(hyps), str(refs), tmp_path / "out", str(tmp_path / "utt2snr"))
    pesq = {line.split()[0]: float(line.split()[1]) for line in (tmp_path / "out" / "pesq").read_text().splitlines()}
    assert pesq["u1"] > 4.0 and pesq["u2"] == pesq["u3"] < 2.0  # aligned, u1 scores as clean speech
    alignment = {line.split()[0]: dict(kv.split("=") for kv in line.split()[1:])
                 for line in (tmp_path / "out" / "alignment").read_text().splitlines()}
    assert abs(int(alignment["u1"]["lag_samples"]) - 1600) <= 32 and alignment["u1"]["length_ratio"] == "1.100"
    assert summary["utterances"] == 3 and summary["pesq_no_speech"] == 0
    assert summary["per_snr"]["0"]["utterances"] == 2 and summary["per_snr"]["15"]["utterances"] == 1
    assert summary["per_snr"]["15"]["pesq"] == pytest.approx(pesq["u1"], abs=1e-3)
    assert yaml.safe_load((tmp_path / "out" / "quality.yaml").read_text()) == summary
    # a noisy input is scored as it is (align=False): the same values, lag 0
    again = score_quality(str(hyps), str(refs), tmp_path / "noisy", align=False)
    assert "u2 lag_samples=0" in (tmp_path / "noisy" / "alignment").read_text()
    assert again["utterances"] == 3


def test_a_missing_enhanced_utterance_is_named(pair, tmp_path: Path) -> None:
    clean, _ = pair
    refs = write_set(tmp_path / "clean", {"u1": clean, "u2": clean})
    hyps = write_set(tmp_path / "hyp", {"u1": clean})
    with pytest.raises(DataError, match=r"utterance 'u2'.*has no synthesised counterpart"):
        score_quality(str(hyps), str(refs), tmp_path / "out")


def test_a_reference_at_the_wrong_rate_is_one_line(tmp_path: Path) -> None:
    wav = 0.1 * np.random.default_rng(0).standard_normal(8000)
    sf.write(tmp_path / "ref.wav", wav, 8000)
    (tmp_path / "ref.scp").write_text(f"u1 {tmp_path / 'ref.wav'}\n")
    (tmp_path / "hyp.scp").write_text(f"u1 {tmp_path / 'ref.wav'}\n")
    with pytest.raises(DataError) as err:
        score_quality(str(tmp_path / "hyp.scp"), str(tmp_path / "ref.scp"), tmp_path / "out")
    message = str(err.value)
    assert "ref.scp:1" in message and "'u1'" in message and "8000 Hz" in message and "\n" not in message


def test_the_cli_scores_a_noisy_input_as_it_is(pair, tmp_path: Path) -> None:
    clean, noisy = pair
    refs = write_set(tmp_path / "clean", {"u1": clean})
    hyps = write_set(tmp_path / "hyp", {"u1": noisy})
    summary = enhancement.main(["--hyp_scp", str(hyps), "--ref_scp", str(refs), "--outdir", str(tmp_path / "o"),
                                "--align", "false"])
    assert summary["pesq"] < 2.0 and (tmp_path / "o" / "stoi").is_file()
