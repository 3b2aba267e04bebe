"""Stage 3: ``espnet2_speecht5.bin.dump_audio convert`` and ``merge``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

import pytest
import soundfile as sf
from bin_helpers import AudioSpec, assert_one_line_error, make_data_dir, read_kaldi, run_cli, tone


def dump(data: Path, out: Path, skip_bad_audio: bool = False, nj: int = 1, scps: List[str] = ("wav.scp",)):
    """Run convert on ``data``'s scps split into ``nj`` parts (round robin), then merge."""
    for scp in scps:
        name = scp[: -len(".scp")]
        lines = (data / scp).read_text().splitlines(keepends=True)
        for job in range(1, nj + 1):
            split = out / "split" / f"{name}.{job}.scp"
            split.parent.mkdir(parents=True, exist_ok=True)
            split.write_text("".join(lines[job - 1 :: nj]))
            job_dir = out / "jobs" / name / str(job)
            proc = run_cli("dump_audio", "convert", "--fs", "16000", "--in_scp", str(split), "--outdir", str(job_dir))
            assert proc.returncode == 0, proc.stderr
    return merge(data, out, skip_bad_audio, nj)


def merge(data: Path, out: Path, skip_bad_audio: bool = False, nj: int = 1):
    return run_cli(
        "dump_audio",
        "merge",
        "--fs",
        "16000",
        "--skip_bad_audio",
        str(skip_bad_audio).lower(),
        "--src",
        str(data),
        "--jobs_dir",
        str(out / "jobs"),
        "--nj",
        str(nj),
        "--outdir",
        str(out),
    )


def test_resamples_and_downmixes_to_16k_mono_flac(tmp_path: Path):
    audio: Dict[str, AudioSpec] = {
        "spka_001": tone(0.5, 8000),
        "spka_002": tone(0.3, 16000, channels=2),
        "spkb_001": tone(0.4, 16000),
        "spkb_002": tone(0.25, 44100),
    }
    data = make_data_dir(tmp_path, audio)
    out = tmp_path / "dump"
    proc = dump(data, out, nj=2)
    assert proc.returncode == 0, proc.stderr
    scp = read_kaldi(out / "wav.scp")
    assert list(scp) == sorted(audio)
    lengths = read_kaldi(out / "utt2num_samples")
    for utt, path in scp.items():
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
        assert info.frames == int(lengths[utt])
    assert lengths["spka_001"] == "8000"
    assert lengths["spkb_002"] == str(round(0.25 * 16000))
    report = (out / "dump_report.txt").read_text()
    assert "resampled 1 files from 8000 Hz to 16000 Hz" in report
    assert "resampled 1 files from 44100 Hz to 16000 Hz" in report
    assert "down-mixed 1 multi-channel files to mono" in report
    assert "resampled 1 files from 8000 Hz" in proc.stderr and "down-mixed 1" in proc.stderr
    assert read_kaldi(out / "text") == read_kaldi(data / "text")
    assert read_kaldi(out / "spk2utt") == {"spka": "spka_001 spka_002", "spkb": "spkb_001 spkb_002"}
    assert (out / "bad_audio.txt").read_text() == ""


def test_wav_tgt_is_dumped_too(tmp_path: Path):
    audio = {"spka_001": tone(0.5, 16000), "spka_002": tone(0.3, 16000)}
    tgt = {"spka_001": tone(0.6, 22050), "spka_002": tone(0.2, 16000, channels=2)}
    data = make_data_dir(tmp_path, audio, tgt_audio=tgt)
    out = tmp_path / "dump"
    proc = dump(data, out, scps=["wav.scp", "wav_tgt.scp"])
    assert proc.returncode == 0, proc.stderr
    assert read_kaldi(out / "utt2num_samples_tgt") == {"spka_001": "9600", "spka_002": "3200"}
    for path in read_kaldi(out / "wav_tgt.scp").values():
        assert "/jobs/wav_tgt/" in path and sf.info(path).samplerate == 16000


BAD_KINDS = {
    "missing": "does not exist",
    "corrupt": "cannot be decoded",
    "empty": "is empty",
    "zero_samples": "has no samples",
}


@pytest.mark.parametrize("kind", sorted(BAD_KINDS))
def test_bad_audio_stops_with_one_line(tmp_path: Path, kind: str):
    audio = {"spka_001": tone(0.3, 16000), "spka_002": kind, "spkb_001": tone(0.3, 16000)}
    data = make_data_dir(tmp_path, audio)
    out = tmp_path / "dump"
    proc = dump(data, out, skip_bad_audio=False)
    line = assert_one_line_error(
        proc, f"{data / 'wav.scp'}:2: utterance 'spka_002'", BAD_KINDS[kind], "1 file(s)", str(out / "bad_audio.txt")
    )
    assert "--skip_bad_audio true" in line
    assert "spka_002" in (out / "bad_audio.txt").read_text()
    assert not (out / "wav.scp").exists()


def test_bad_audio_is_dropped_and_listed_with_skip(tmp_path: Path):
    audio: Dict[str, AudioSpec] = {
        "spka_001": tone(0.3, 16000),
        "spka_002": "missing",
        "spka_003": "corrupt",
        "spkb_001": "empty",
        "spkb_002": tone(0.3, 16000),
    }
    data = make_data_dir(tmp_path, audio)
    out = tmp_path / "dump"
    proc = dump(data, out, skip_bad_audio=True, nj=2)
    assert proc.returncode == 0, proc.stderr
    kept = ["spka_001", "spkb_002"]
    for name in ("wav.scp", "utt2num_samples", "text", "utt2spk"):
        assert list(read_kaldi(out / name)) == kept, name
    assert read_kaldi(out / "spk2utt") == {"spka": "spka_001", "spkb": "spkb_002"}
    bad = read_kaldi(out / "bad_audio.txt")
    assert sorted(bad) == ["spka_002", "spka_003", "spkb_001"]
    assert bad["spka_002"].startswith(f"{data / 'wav.scp'}:2: ") and "does not exist" in bad["spka_002"]
    report = (out / "dump_report.txt").read_text()
    assert "bad audio: 3 file(s), dropped" in report
    for utt in bad:
        assert utt in report


def test_convert_resumes_without_redoing_finished_files(tmp_path: Path):
    audio = {f"spka_{i:03d}": tone(0.2, 8000) for i in range(4)}
    data = make_data_dir(tmp_path, audio)
    job = tmp_path / "job"
    args = ["convert", "--fs", "16000", "--in_scp", str(data / "wav.scp"), "--outdir", str(job)]
    assert run_cli("dump_audio", *args).returncode == 0
    flacs = sorted((job / "data").glob("*.flac"))
    assert len(flacs) == 4
    mtimes = {p: p.stat().st_mtime_ns for p in flacs}
    # A killed job: one file lost and the job's outputs not written yet.
    flacs[-1].unlink()
    (job / "wav.scp").unlink()
    proc = run_cli("dump_audio", *args)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((job / "stats.json").read_text())
    assert (stats["reused"], stats["converted"], stats["resampled_from"]) == (3, 1, {"8000": 4})
    for path in flacs[:-1]:
        assert path.stat().st_mtime_ns == mtimes[path]
    assert flacs[-1].is_file() and len(read_kaldi(job / "wav.scp")) == 4


def test_utterance_missing_from_job_output_is_an_error(tmp_path: Path):
    audio = {"spka_001": tone(0.2, 16000), "spka_002": tone(0.2, 16000), "spka_003": tone(0.2, 16000)}
    data = make_data_dir(tmp_path, audio)
    out = tmp_path / "dump"
    assert dump(data, out).returncode == 0
    job_scp = out / "jobs" / "wav" / "1" / "wav.scp"
    kept = [line for line in job_scp.read_text().splitlines(keepends=True) if "spka_002" not in line]
    job_scp.write_text("".join(kept))
    assert_one_line_error(merge(data, out), f"{data / 'wav.scp'}:2: utterance 'spka_002'", "in no job output")
    # A job that never finished.
    assert_one_line_error(merge(data, out, nj=2), "job 2 of 2 did not finish", str(data / "wav.scp"))
