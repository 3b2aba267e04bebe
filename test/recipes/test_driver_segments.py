"""Stages 1-5 of egs2/TEMPLATE/speecht5.sh on data directories with Kaldi ``segments``."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import soundfile as sf

from repo_testing import REPO_ROOT

# local/data.sh of the toy recipe: per set, 2 recordings of 3 s by 2 speakers (one at 8 kHz, one
# stereo), each cut into 3 utterances; BAD=<case> writes one bad line into data/train/segments.
MAKE_DATA = textwrap.dedent(
    '''
    import os
    import sys
    from pathlib import Path

    import numpy as np
    import soundfile as sf

    root = Path(sys.argv[1])
    bad = os.environ.get("BAD", "")
    rng = np.random.default_rng(0)
    words = ["red", "green", "blue", "cup", "box", "ball"]
    spans = [("0.00", "0.90"), ("1.00", "1.95"), ("2.05", "-1")]
    for name in ["train", "dev", "test"]:
        d = root / "data" / name
        d.mkdir(parents=True, exist_ok=True)
        wav, seg, text, utt2spk = [], [], [], []
        for spk, rate, channels in (("spka", 16000, 1), ("spkb", 8000, 2)):
            rec = f"{spk}-{name}"
            t = np.arange(3 * rate) / rate
            tone = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(t.size)
            path = root / "wav" / f"{rec}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, np.stack([tone] * channels, axis=1) if channels > 1 else tone, rate)
            wav.append(f"{rec} {path}")
            for i, (start, end) in enumerate(spans):
                utt = f"{rec}-{i:02d}"
                seg.append(f"{utt} {rec} {start} {end}")
                text.append(f"{utt} {' '.join(rng.choice(words, 3))}")
                utt2spk.append(f"{utt} {spk}")
        if name == "train" and bad == "reversed":
            seg[4] = "spkb-train-01 spkb-train 1.95 1.00"
        if name == "train" and bad == "outside":
            seg[4] = "spkb-train-01 spkb-train 1.00 3.50"
        for fname, rows in (("wav.scp", wav), ("segments", seg), ("text", text), ("utt2spk", utt2spk)):
            (d / fname).write_text("".join(row + "\\n" for row in sorted(rows)))
        (d / "spk2utt").write_text("".join(
            f"{s} {' '.join(sorted(u.split()[0] for u in utt2spk if u.endswith(s)))}\\n" for s in ("spka", "spkb")))
    '''
)


def make_segmented_recipe(root: Path) -> Path:
    recipe = root / "egs2" / "toyseg" / "asr1"
    (recipe / "local").mkdir(parents=True)
    for name in ("speecht5.sh", "path.sh", "cmd.sh"):
        (recipe / name).symlink_to(REPO_ROOT / "egs2" / "TEMPLATE" / name)
    (recipe / "utils").symlink_to(REPO_ROOT / "utils")
    (recipe / "local" / "make_data.py").write_text(MAKE_DATA)
    (recipe / "local" / "data.sh").write_text(
        '#!/usr/bin/env bash\nset -euo pipefail\npython local/make_data.py "$(pwd)"\n'
    )
    (recipe / "local" / "data.sh").chmod(0o755)
    (recipe / "run.sh").write_text(
        "#!/usr/bin/env bash\nset -euo pipefail\n"
        './speecht5.sh --task asr --train_set train --valid_set dev --test_sets "dev test" --nj 2 "$@"\n'
    )
    (recipe / "run.sh").chmod(0o755)
    return recipe


def run(recipe: Path, *args: str, bad: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(["./run.sh", *args], cwd=recipe, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "BAD": bad})


def test_a_segmented_data_dir_runs_stages_1_to_5_with_speed_perturbation(tmp_path: Path):
    recipe = make_segmented_recipe(tmp_path)
    proc = run(recipe, "--stage", "1", "--stop_stage", "5", "--speed_perturb_factors", "0.9 1.0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (recipe / "exp" / "logs" / "stage3_dump.log").read_text()
    assert "stage 3: data/train_sp/segments: 12 utterances in 2 jobs" in log
    dumped = recipe / "dump" / "raw" / "train_sp"
    lengths = dict(line.split() for line in (dumped / "utt2num_samples").read_text().splitlines())
    assert len(lengths) == 12
    # 1.00-1.95 s at 16 kHz; the 0.9 copy of the recording is 1/0.9 as long, and so is the segment
    # (its times are written to the millisecond: 1.111-2.167 s).
    assert lengths["spka-train-01"] == "15200"
    assert abs(int(lengths["sp0.9-spka-train-01"]) - 15200 / 0.9) <= 0.002 * 16000
    # "-1": to the end of the 3 s recording (the 8 kHz stereo one is resampled and down-mixed).
    assert lengths["spkb-train-02"] == str(48000 - 32800)
    flac = dict(line.split() for line in (dumped / "wav.scp").read_text().splitlines())["spkb-train-02"]
    info = sf.info(flac)
    assert (info.samplerate, info.channels) == (16000, 1)
    cut, _ = sf.read(flac)
    recording, rate = sf.read(recipe / "wav" / "spka-train.wav")
    assert rate == 16000
    first, _ = sf.read(dict(line.split() for line in (dumped / "wav.scp").read_text().splitlines())["spka-train-00"])
    assert np.abs(first - recording[:14400]).max() < 1e-3 and cut.shape[0] == 15200
    assert (recipe / "data" / "token_list" / "char" / "tokens.txt").is_file()
    assert len((recipe / "dump" / "raw" / "test" / "text").read_text().splitlines()) == 6


def test_the_two_bad_segment_cases_stop_stage_1_with_one_line_naming_the_file_and_line(tmp_path: Path):
    recipe = make_segmented_recipe(tmp_path)
    proc = run(recipe, "--stage", "1", "--stop_stage", "1", bad="reversed")
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert errors[0].endswith(
        "ERROR: data/train/segments:5: utterance 'spkb-train-01': end time 1.00 is not after the start time 1.95"
    ), proc.stderr[-2000:]
    proc = run(recipe, "--stage", "1", "--stop_stage", "1", bad="outside")
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert errors[0].endswith(
        "ERROR: data/train/segments:5: utterance 'spkb-train-01': segment 1.00-3.50 s ends after the end of "
        "recording 'spkb-train' (3.00 s long)"
    ), proc.stderr[-2000:]
