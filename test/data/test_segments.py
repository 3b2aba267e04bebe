"""Kaldi ``segments``: parsing, validation, the cut of stage 3's jobs and speed perturbation."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import soundfile as sf

from espnet2_speecht5.data.dump import convert_scp, merge_jobs
from espnet2_speecht5.data.perturb import speed_perturb_dir
from espnet2_speecht5.data.segments import cut_segment, parse_segment, read_segments
from espnet2_speecht5.data.validate import validate_data_dir
from espnet2_speecht5.runtime.errors import DataError

RATE = 16000


def write_segmented_dir(root: Path, segments: List[Tuple[str, str, str, str]], rate: int = RATE) -> Path:
    """Two recordings of 2 s (rec1) and 3 s (rec2) with distinct sample values, and ``segments``."""
    data = root / "data"
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    scp = []
    for rec, seconds in (("rec1", 2.0), ("rec2", 3.0)):
        path = root / f"{rec}.wav"
        sf.write(path, (0.5 * rng.uniform(-1, 1, int(seconds * rate))).astype(np.float32), rate, subtype="FLOAT")
        scp.append(f"{rec} {path}\n")
    (data / "wav.scp").write_text("".join(scp))
    (data / "segments").write_text("".join(f"{u} {r} {s} {e}\n" for u, r, s, e in segments))
    (data / "text").write_text("".join(f"{u} hello number {i}\n" for i, (u, *_) in enumerate(segments)))
    (data / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u, *_ in segments))
    spk2utt: Dict[str, List[str]] = {}
    for u, *_ in segments:
        spk2utt.setdefault(u.split("-")[0], []).append(u)
    (data / "spk2utt").write_text("".join(f"{s} {' '.join(us)}\n" for s, us in sorted(spk2utt.items())))
    return data


GOOD = [
    ("rec1-000", "rec1", "0.00", "0.75"),
    ("rec1-001", "rec1", "0.80", "2.00"),
    ("rec2-000", "rec2", "0.10", "1.25"),
    ("rec2-001", "rec2", "1.50", "-1"),
]


def test_a_segment_line_is_parsed_and_an_end_of_minus_one_means_the_recording_end(tmp_path: Path):
    seg = parse_segment("segments", 4, "u1", "rec1 1.5 -1")
    assert (seg.recording, seg.start, seg.end) == ("rec1", 1.5, None)
    samples = np.arange(3 * RATE, dtype=np.float32)
    assert cut_segment(samples, RATE, seg).shape[0] == int(1.5 * RATE)
    seg = parse_segment("segments", 1, "u2", "rec1 0.5 1.0")
    assert np.array_equal(cut_segment(samples, RATE, seg), samples[8000:16000])


@pytest.mark.parametrize(
    "value, message",
    [
        ("rec1 1.5 1.0", "end time 1.0 is not after the start time 1.5"),
        ("rec1 1.0 1.0", "end time 1.0 is not after the start time 1.0"),
        ("rec1 -0.5 1.0", "start time -0.5 is negative"),
        ("rec1 abc 1.0", "start time 'abc' is not a number of seconds"),
        ("rec1 0.0 nan", "end time 'nan' is not a number of seconds"),
        ("rec1 0.0", "expected '<utt> <recording> <start> <end>', got 3 field(s)"),
    ],
)
def test_a_bad_segment_line_names_the_file_the_line_and_the_utterance(value: str, message: str):
    with pytest.raises(DataError) as err:
        parse_segment("data/train/segments", 7, "u7", value)
    assert str(err.value) == f"data/train/segments:7: utterance 'u7': {message}"


def test_read_segments_rejects_a_repeated_id(tmp_path: Path):
    path = tmp_path / "segments"
    path.write_text("a r 0 1\na r 1 2\n")
    with pytest.raises(DataError, match=r"segments:2: utterance 'a': duplicate id \(first at line 1\)"):
        read_segments(path)


def test_a_segmented_dir_validates_against_the_segments_not_the_recordings(tmp_path: Path):
    data = write_segmented_dir(tmp_path, GOOD)
    report = validate_data_dir(data, "asr", ["wav.scp", "text", "utt2spk"], check_audio=True)
    assert report.num_utterances == 4 and report.num_speakers == 2
    assert report.audio_checked == 2  # two recordings decoded, not four segments
    assert "segments" in report.files


def test_the_two_bad_segment_cases_name_the_segments_file_and_line(tmp_path: Path):
    after_the_end = [*GOOD[:3], ("rec2-001", "rec2", "1.50", "3.40")]
    data = write_segmented_dir(tmp_path / "outside", after_the_end)
    with pytest.raises(DataError) as err:
        validate_data_dir(data, "asr", ["wav.scp"])
    assert str(err.value) == (
        f"{data}/segments:4: utterance 'rec2-001': segment 1.50-3.40 s ends after the end of recording "
        f"'rec2' (3.00 s long)"
    )
    assert len(str(err.value).splitlines()) == 1

    reversed_times = [GOOD[0], ("rec1-001", "rec1", "1.80", "0.90"), *GOOD[2:]]
    data = write_segmented_dir(tmp_path / "reversed", reversed_times)
    with pytest.raises(DataError) as err:
        validate_data_dir(data, "asr", ["wav.scp"])
    assert str(err.value) == f"{data}/segments:2: utterance 'rec1-001': end time 0.90 is not after the start time 1.80"


def test_a_segment_of_an_unknown_recording_or_a_start_past_the_end_is_named(tmp_path: Path):
    data = write_segmented_dir(tmp_path / "unknown", [*GOOD[:3], ("rec2-001", "rec9", "0.0", "1.0")])
    with pytest.raises(DataError, match=r"segments:4: utterance 'rec2-001': recording 'rec9' is not in .*wav.scp"):
        validate_data_dir(data, "asr", ["wav.scp"])
    data = write_segmented_dir(tmp_path / "late", [*GOOD[:3], ("rec2-001", "rec2", "3.5", "-1")])
    with pytest.raises(DataError, match=r"segments:4: .* starts after the end of recording 'rec2' \(3.00 s long\)"):
        validate_data_dir(data, "asr", ["wav.scp"])


def test_a_transcript_of_a_segment_that_does_not_exist_is_caught(tmp_path: Path):
    data = write_segmented_dir(tmp_path, GOOD)
    with open(data / "text", "a") as f:
        f.write("rec3-000 stray line\n")
    with pytest.raises(DataError, match=r"utterance 'rec3-000': not in this file, but in .*text:5"):
        validate_data_dir(data, "asr", ["wav.scp"])


def dump(data: Path, out: Path, nj: int = 2, skip_bad_audio: bool = False) -> Dict[str, int]:
    lines = (data / "segments").read_text().splitlines(keepends=True)
    parts = [lines[: len(lines) // 2], lines[len(lines) // 2 :]] if nj == 2 else [lines]
    for job, part in enumerate(parts, start=1):
        split = out / "split" / f"segments.{job}"
        split.parent.mkdir(parents=True, exist_ok=True)
        split.write_text("".join(part))
        convert_scp(split, out / "jobs" / "wav" / str(job), 8000, recordings=data / "wav.scp")
    return merge_jobs(data, out / "jobs", nj, out, 8000, skip_bad_audio=skip_bad_audio)


def test_stage_3_cuts_each_segment_out_of_its_recording_and_resamples_it(tmp_path: Path):
    data = write_segmented_dir(tmp_path, GOOD)
    out = tmp_path / "dump"
    assert dump(data, out) == {"utterances": 4, "bad": 0}
    lengths = dict(line.split() for line in (out / "utt2num_samples").read_text().splitlines())
    assert lengths == {"rec1-000": "6000", "rec1-001": "9600", "rec2-000": "9200", "rec2-001": "12000"}
    assert not (out / "segments").exists()
    assert (out / "text").read_text().splitlines()[1] == "rec1-001 hello number 1"
    # The 8 kHz copy of rec2-000 is the 8 kHz copy of its part of rec2 (0.10-1.25 s).
    from espnet2_speecht5.data.audio import resample

    recording, _ = sf.read(tmp_path / "rec2.wav", dtype="float32")
    expected = resample(recording[1600:20000], RATE, 8000)
    flac = dict(line.split() for line in (out / "wav.scp").read_text().splitlines())["rec2-000"]
    got, rate = sf.read(flac, dtype="float32")
    assert rate == 8000 and got.shape == expected.shape
    assert np.abs(got - expected).max() < 2e-4  # 16-bit FLAC


def test_a_segment_outside_a_piped_recording_is_reported_at_its_segments_line_by_stage_3(tmp_path: Path):
    data = write_segmented_dir(tmp_path, GOOD)
    # A pipe is not measured by validation; stage 3 decodes it and finds the segment outside it.
    (data / "wav.scp").write_text(f"rec1 cat {tmp_path / 'rec1.wav'} |\nrec2 cat {tmp_path / 'rec2.wav'} |\n")
    (data / "segments").write_text("".join(f"{u} {r} {s} {e}\n" for u, r, s, e in [*GOOD[:3],
                                                                              ("rec2-001", "rec2", "1.5", "4.0")]))
    validate_data_dir(data, "asr", ["wav.scp"])
    with pytest.raises(DataError) as err:
        dump(data, tmp_path / "dump")
    message = str(err.value)
    assert message.startswith(
        f"{data}/segments:4: utterance 'rec2-001': segment 1.50-4.00 s ends after the end of recording 'rec2'"
    )
    assert len(message.splitlines()) == 1
    assert dump(data, tmp_path / "dump", skip_bad_audio=True) == {"utterances": 3, "bad": 1}


def test_a_rerun_of_a_job_reuses_finished_segments_and_recuts_changed_ones(tmp_path: Path):
    data = write_segmented_dir(tmp_path, GOOD)
    out = tmp_path / "dump"
    split = out / "segments.1"
    split.parent.mkdir(parents=True)
    split.write_text((data / "segments").read_text())
    stats = convert_scp(split, out / "job", RATE, recordings=data / "wav.scp")
    assert (stats["converted"], stats["reused"]) == (4, 0)
    split.write_text((data / "segments").read_text().replace("rec1 0.80 2.00", "rec1 0.80 1.90"))
    stats = convert_scp(split, out / "job", RATE, recordings=data / "wav.scp")
    assert (stats["converted"], stats["reused"]) == (1, 3)
    lengths = dict(line.split() for line in (out / "job" / "utt2num_samples").read_text().splitlines())
    assert lengths["rec1-001"] == str(int(1.1 * RATE))


def test_speed_perturbation_plays_the_recordings_faster_and_shrinks_the_segment_times(tmp_path: Path):
    data = write_segmented_dir(tmp_path, GOOD)
    counts = speed_perturb_dir(data, tmp_path / "sp", [("1.0", 1.0), ("0.8", 0.8)])
    assert counts["segments"] == 8 and counts["wav.scp"] == 4
    segments = dict(line.split(maxsplit=1) for line in (tmp_path / "sp" / "segments").read_text().splitlines())
    assert segments["rec1-001"] == "rec1 0.80 2.00"
    assert segments["sp0.8-rec1-001"] == "sp0.8-rec1 1.000 2.500"
    assert segments["sp0.8-rec2-001"] == "sp0.8-rec2 1.875 -1"
    wav_scp = dict(line.split(maxsplit=1) for line in (tmp_path / "sp" / "wav.scp").read_text().splitlines())
    assert wav_scp["sp0.8-rec2"].endswith("speed 0.8 |")
    report = validate_data_dir(tmp_path / "sp", "asr", ["wav.scp"])
    assert report.num_utterances == 8


def test_the_data_dir_tools_refuse_a_segmented_dir_instead_of_dropping_its_recordings(tmp_path: Path):
    from espnet2_speecht5.data.datadir_ops import subset_data_dir

    data = write_segmented_dir(tmp_path, GOOD)
    with pytest.raises(DataError, match=r"segments: a directory with segments .* is not handled by the copy"):
        subset_data_dir(data, tmp_path / "sub", first=2)
    assert (data / "wav.scp").read_text().count("\n") == 2
