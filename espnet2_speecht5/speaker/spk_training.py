"""Train an ESPnet speaker model on the speakers of a training set with ``espnet2.bin.spk_train``.

ESPnet's speaker trainer classifies the training speakers and, after each epoch, scores
verification trials (pairs of utterances) to pick the best checkpoint by EER.  This module
writes what it reads, under ``<exp>/data``:

* ``train/{wav.scp,utt2spk,spk2utt,speech_shape}``: the training utterances (``speech_shape`` in a
  seeded random order, which ESPnet's ``unsorted`` batches follow);
* ``valid/{trial.scp,trial2.scp,trial_label,speech_shape}``: trials (keys ``utt1*utt2``) among
  :data:`VALID_PER_SPEAKER` utterances per speaker, held out from training for every speaker
  that has at least :data:`MIN_LEFT` other utterances.  When fewer than two speakers can spare
  them (tiny sets), the trials use training utterances instead.  The evaluation sets are never
  touched, so the EER measured on them afterwards stays a held-out number.

It then runs ESPnet's ``espnet2.bin.spk_train`` (through :mod:`espnet2_speecht5.speaker.spk_train_compat`,
which fixes its training crop for NumPy >= 2.4) with ``--config <spk_config>`` and ``--resume true``
(so an interrupted or finished run is continued, not redone), logging to ``<exp>/train.log``.
"""

from __future__ import annotations

import logging
import random
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import soundfile as sf
import yaml

from espnet2_speecht5.data.kaldi_dir import read_map, write_map
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike
from espnet2_speecht5.speaker.datasets import SpeakerSet
from espnet2_speecht5.speaker.model_files import SpkModelFiles, find_checkpoint

VALID_PER_SPEAKER = 2
MIN_LEFT = 3
MAX_VALID_TRIALS = 400


@dataclass
class SpkTrainData:
    """Paths of the prepared lists and their sizes."""

    train_dir: Path
    valid_dir: Path
    num_speakers: int
    num_train: int
    num_valid: int
    held_out: bool


def _num_samples(data: SpeakerSet) -> Dict[str, int]:
    """Samples per utterance: from ``utt2num_samples`` when the directory has one, else from the files."""
    lengths_file = data.path / "utt2num_samples"
    known = read_map(lengths_file) if lengths_file.is_file() else {}
    result: Dict[str, int] = {}
    for utt, source in data.audio.items():
        if source.is_pipe:
            raise source.error("ESPnet speaker training reads audio files, not commands: dump the audio first")
        if utt in known and known[utt].isdigit():
            result[utt] = int(known[utt])
            continue
        try:
            result[utt] = int(sf.info(source.entry).frames)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise source.error(f"cannot read audio file {source.entry} ({err})") from None
    return result


def split_validation(data: SpeakerSet, seed: int = 0) -> Tuple[List[str], List[str], bool]:
    """``(train_utts, valid_utts, held_out)``; see the module docstring."""
    rng = random.Random(seed)
    speakers = data.speakers()
    picks = {spk: rng.sample(utts, VALID_PER_SPEAKER) for spk, utts in speakers.items()
             if len(utts) >= VALID_PER_SPEAKER + MIN_LEFT}  # fmt: skip
    if len(picks) >= 2:
        valid = {u for utts in picks.values() for u in utts}
        return [u for u in data.utterances if u not in valid], [u for u in data.utterances if u in valid], True
    valid_list = [u for utts in speakers.values() for u in utts[:VALID_PER_SPEAKER]]
    return data.utterances, valid_list, False


def _trials(valid: List[str], utt2spk: Dict[str, str], seed: int) -> List[Tuple[str, str, int]]:
    pairs = [(a, b) for k, a in enumerate(valid) for b in valid[k + 1 :]]
    if len(pairs) > MAX_VALID_TRIALS:
        pairs = random.Random(seed).sample(pairs, MAX_VALID_TRIALS)
    return [(a, b, int(utt2spk[a] == utt2spk[b])) for a, b in pairs]


def prepare_training_lists(data: SpeakerSet, workdir: PathLike, seed: int = 0) -> SpkTrainData:
    """Write the training lists and validation trials under ``workdir`` (see the module docstring).

    Raises:
        DataError: fewer than two speakers, no same-speaker validation trial, or unreadable audio.
    """
    speakers = data.speakers()
    if len(speakers) < 2:
        raise DataError(f"speaker training needs at least 2 speakers, set '{data.name}' has {len(speakers)}", data.path)
    lengths = _num_samples(data)
    train_utts, valid_utts, held_out = split_validation(data, seed)
    trials = _trials(valid_utts, data.utt2spk, seed)
    if not any(label for _, _, label in trials) or all(label for _, _, label in trials):
        raise DataError("speaker training needs 2 utterances of at least one speaker for validation trials", data.path)
    train_dir, valid_dir = Path(workdir) / "train", Path(workdir) / "valid"
    write_map(train_dir / "wav.scp", {u: data.audio[u].entry for u in train_utts})
    write_map(train_dir / "utt2spk", {u: data.utt2spk[u] for u in train_utts})
    # ESPnet's unsorted batches follow this file's order: shuffled, so that every batch mixes speakers
    # (single-speaker batches would let batch normalisation erase the very differences to learn).
    shuffled = random.Random(seed).sample(train_utts, len(train_utts))
    write_map(train_dir / "speech_shape", [(u, str(lengths[u])) for u in shuffled], sort=False)
    spk2utt: Dict[str, List[str]] = {}
    for utt in sorted(train_utts, key=lambda u: u.encode("utf-8")):
        spk2utt.setdefault(data.utt2spk[utt], []).append(utt)
    write_map(train_dir / "spk2utt", {spk: " ".join(utts) for spk, utts in spk2utt.items()})
    keys = [f"{a}*{b}" for a, b, _ in trials]
    write_map(valid_dir / "trial.scp", [(k, data.audio[a].entry) for k, (a, _, _) in zip(keys, trials)], sort=False)
    write_map(valid_dir / "trial2.scp", [(k, data.audio[b].entry) for k, (_, b, _) in zip(keys, trials)], sort=False)
    write_map(valid_dir / "trial_label", [(k, str(lab)) for k, (_, _, lab) in zip(keys, trials)], sort=False)
    write_map(valid_dir / "speech_shape", [(k, str(lengths[a])) for k, (a, _, _) in zip(keys, trials)], sort=False)
    return SpkTrainData(train_dir, valid_dir, len(spk2utt), len(train_utts), len(valid_utts), held_out)


def spk_train_command(
    config: PathLike, exp_dir: PathLike, data: SpkTrainData, extra_args: str = "", num_workers: int = 1
) -> List[str]:
    """The training command line: ESPnet's ``spk_train`` through :mod:`espnet2_speecht5.speaker.spk_train_compat`."""
    t, v = data.train_dir, data.valid_dir
    return [
        sys.executable, "-m", "espnet2_speecht5.speaker.spk_train_compat",
        "--config", str(config),
        "--output_dir", str(exp_dir),
        "--use_preprocessor", "true",
        "--resume", "true",
        "--ngpu", "0",
        "--num_workers", str(num_workers),
        "--train_data_path_and_name_and_type", f"{t}/wav.scp,speech,sound",
        "--train_data_path_and_name_and_type", f"{t}/utt2spk,spk_labels,text",
        "--train_shape_file", f"{t}/speech_shape",
        "--valid_data_path_and_name_and_type", f"{v}/trial.scp,speech,sound",
        "--valid_data_path_and_name_and_type", f"{v}/trial2.scp,speech2,sound",
        "--valid_data_path_and_name_and_type", f"{v}/trial_label,spk_labels,text",
        "--valid_shape_file", f"{v}/speech_shape",
        "--spk2utt", f"{t}/spk2utt",
        "--spk_num", str(data.num_speakers),
        *shlex.split(extra_args),
    ]  # fmt: skip


def _last_error_line(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    for line in reversed(lines):
        if "Error" in line or "error" in line:
            return line[:300]
    return lines[-1][:300] if lines else "no output"


def check_same_config(config: Path, exp_dir: Path) -> None:
    """Refuse to resume an experiment whose saved ``config.yaml`` disagrees with ``config``.

    ``--resume true`` would otherwise carry on (or stop at once, if finished) with the old
    settings and the old weights.
    """
    saved = exp_dir / "config.yaml"
    if not saved.is_file():
        return
    try:
        wanted = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        used = yaml.safe_load(saved.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise DataError(f"not valid YAML ({str(err).splitlines()[0]})", config) from None
    for key, value in wanted.items():
        if key in used and used[key] != value:
            raise DataError(
                f"{exp_dir} was trained with {key}: {used[key]!r}, this config sets {value!r};"
                " remove that folder or choose another --spk_exp",
                config,
            )


def train_speaker_model(
    data: SpeakerSet,
    config: PathLike,
    exp_dir: PathLike,
    extra_args: str = "",
    num_workers: int = 1,
    seed: int = 0,
) -> Tuple[SpkModelFiles, float]:
    """Train (or resume) a speaker model on ``data`` into ``exp_dir``; return its files and the seconds taken.

    Raises:
        DataError: the config is missing or differs from the one ``exp_dir`` was trained with, the
            data is unusable, or ``spk_train`` fails (the message quotes the last error line of
            ``<exp_dir>/train.log``).
    """
    config, exp_dir = Path(config), Path(exp_dir)
    if not config.is_file():
        raise DataError("speaker model config does not exist", config)
    check_same_config(config, exp_dir)
    lists = prepare_training_lists(data, exp_dir / "data", seed)
    how = "held out from training" if lists.held_out else "taken from the training utterances (set too small)"
    logging.info(
        "training a speaker model on %s: %d speakers, %d utterances; %d validation utterances %s",
        data.path, lists.num_speakers, lists.num_train, lists.num_valid, how,
    )  # fmt: skip
    command = spk_train_command(config, exp_dir, lists, extra_args, num_workers)
    log = exp_dir / "train.log"
    logging.info("%s (log: %s)", " ".join(shlex.quote(c) for c in command[1:]), log)
    start = time.time()
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    seconds = time.time() - start
    if proc.returncode != 0:
        raise DataError(f"ESPnet speaker training failed (exit {proc.returncode}): {_last_error_line(log)}", log)
    files = SpkModelFiles(config=exp_dir / "config.yaml", model=find_checkpoint(exp_dir))
    logging.info("speaker model trained in %.0f s: %s", seconds, files.model)
    return files, seconds
