"""Stage 9: the outputs of the parallel inference jobs (``<logdir>/output.<n>/``) as one set of files.

One function per kind of output (:data:`espnet2_speecht5.recipes.base.OUTPUTS`): text hypotheses,
synthesised waveforms, labels, or held-out statistics. Files are merged sorted by utterance id in
byte order (Kaldi's ``LC_ALL=C sort``) and written atomically.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from espnet2_speecht5.data.kaldi_dir import atomic_write_text
from espnet2_speecht5.recipes.files import count_lines, require

logger = logging.getLogger(__name__)

TEXT_FILES = ("text", "token", "token_int", "score")
# what GeneratedSetWriter (inference/speech_set_writer.py) writes beside a generated set's wav.scp
GENERATION_FILE = "generation.yaml"
WAV_FILES = ("wav.scp", "feats.scp", "speech_shape")
LABEL_FILES = ("label", "top5")


def _job_dirs(logdir: Path, nj: int) -> List[Path]:
    return [Path(logdir) / f"output.{n}" for n in range(1, nj + 1)]


def concat_sorted(parts: List[Path], out: Path) -> int:
    """Write the lines of ``parts`` to ``out``, sorted by their first field (bytes); the line count."""
    lines: List[bytes] = []
    for part in parts:
        lines += [line for line in part.read_bytes().split(b"\n") if line.strip()]
    lines.sort(key=lambda line: (line.split(maxsplit=1)[0], line))
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, b"".join(line + b"\n" for line in lines).decode("utf-8"))
    return len(lines)


def _merge_named(logdir: Path, nj: int, outdir: Path, subdir: str, names: tuple, required: str) -> None:
    jobs = _job_dirs(logdir, nj)
    for name in names:
        if not (jobs[0] / subdir / name).is_file():
            continue
        concat_sorted([require(job / subdir / name, 9) for job in jobs], outdir / name)
    n = count_lines(require(outdir / required, 9))
    logger.info(f"stage 9: {outdir.parent.name}/{outdir.name}: {n} lines in {outdir / required}")


def merge_text(logdir: Path, nj: int, outdir: Path) -> None:
    """ASR and ST: ``1best_recog/{text,token,token_int,score}`` of every job into ``outdir``, and with
    ``--nbest N`` each ``<k>best_recog`` (k = 2..N) into ``outdir/<k>best_recog``."""
    _merge_named(logdir, nj, outdir, "1best_recog", TEXT_FILES, "text")
    jobs = _job_dirs(logdir, nj)
    k = 2
    while any((job / f"{k}best_recog").is_dir() for job in jobs):  # a job may have no k-th hypothesis
        for name in TEXT_FILES:
            parts = [job / f"{k}best_recog" / name for job in jobs if (job / f"{k}best_recog" / name).is_file()]
            if parts:
                concat_sorted(parts, outdir / f"{k}best_recog" / name)
        k += 1
    if k > 2:
        logger.info(f"stage 9: {outdir.parent.name}/{outdir.name}: also 2best_recog .. {k - 1}best_recog")


def merge_label(logdir: Path, nj: int, outdir: Path) -> None:
    """SID: the label and the top-5 labels of every job."""
    _merge_named(logdir, nj, outdir, ".", LABEL_FILES, "label")


def merge_wav(logdir: Path, nj: int, outdir: Path) -> None:
    """TTS, VC, SE: one wav.scp/feats.scp per set; the plots together, with the plotted utterances' audio."""
    jobs = _job_dirs(logdir, nj)
    for name in WAV_FILES:
        concat_sorted([require(job / name, 9) for job in jobs], outdir / name)
    plots = outdir / "plots"
    shutil.rmtree(plots, ignore_errors=True)
    plots.mkdir(parents=True)
    for job in jobs:
        for png in sorted((job / "plots").glob("*.png")):
            shutil.copyfile(png, plots / png.name)
    generation = jobs[0] / GENERATION_FILE  # the same seed and mode in every job
    if generation.is_file():
        shutil.copyfile(generation, outdir / GENERATION_FILE)
    wavs = dict(line.split(maxsplit=1) for line in (outdir / "wav.scp").read_text(encoding="utf-8").splitlines()
                if line.strip())
    for png in sorted(plots.glob("*.mel.png")):
        utt = png.name[: -len(".mel.png")]
        if utt in wavs:  # the plotted utterance's audio beside its picture, to listen to
            shutil.copyfile(wavs[utt].strip(), plots / f"{utt}.wav")
    logger.info(f"stage 9: {outdir}: {len(wavs)} waveforms in {outdir / 'wav.scp'} (files under "
                f"{logdir}/output.*/wav); samples and plots in {plots}")


def generation_record(outdir: Path) -> Optional[Dict[str, Any]]:
    """Stage 10: how stage 9 generated a set (``seed``, ``prenet_dropout``, ``deterministic``), for
    ``details.generation`` of its scores.json; None for a set generated before this was recorded."""
    path = Path(outdir) / GENERATION_FILE
    if not path.is_file():
        return None
    values = yaml.safe_load(path.read_text(encoding="utf-8"))
    return values if isinstance(values, dict) else None


def merge_stats(logdir: Path, nj: int, outdir: Path) -> None:
    """Pre-training: the jobs' held-out sums as frame- and token-weighted means in ``scores.yaml``."""
    from espnet2_speecht5.inference.pretrain_scores import merge_sums, read_yaml, write_yaml

    parts = [read_yaml(require(Path(logdir) / f"stats.{n}.yaml", 9)) for n in range(1, nj + 1)]
    write_yaml(merge_sums(parts), outdir / "scores.yaml")
    logger.info(f"stage 9: {outdir}: held-out means of {nj} jobs in {outdir / 'scores.yaml'}")
