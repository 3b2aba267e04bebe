"""Noisy copies of clean utterances made with recorded noise (a test set of noise the model never heard).

The mini corpus trains SE on noise the project generates (:mod:`espnet2_speecht5.corpus.noise`).
:func:`mix_with_recordings` mixes clean utterances with noise *recordings* instead (dishes, a tap,
an exercise bike, ...), at SNRs used in rotation, each utterance with one recording (in rotation)
from a random offset, looped when the recording is shorter. The SNR is measured as in
:func:`~espnet2_speecht5.corpus.noise.mix_at_snr` (whole-signal energies).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from espnet2_speecht5.corpus.noise import fit_length, mix_at_snr, unit_rms
from espnet2_speecht5.runtime.errors import DataError

logger = logging.getLogger(__name__)
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class NoisyCopy:
    """One mixed utterance: where it was written, its SNR in dB and the noise recording's name."""

    utt: str
    path: str
    snr_db: float
    noise: str


def read_noise_list(list_file: Path, noise_dir: Path) -> List[Path]:
    """The recordings that ``list_file`` names (one path per line, relative to ``noise_dir``; ``#`` comments).

    Raises:
        DataError: an empty list, or a listed file that does not exist (naming the list's line).
    """
    paths: List[Path] = []
    for number, line in enumerate(list_file.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        path = noise_dir / line
        if not path.is_file():
            raise DataError(f"noise recording {path} does not exist (set the noise folder, "
                            "MINI_SPEECHT5_NOISE in db.sh)", list_file, number)
        paths.append(path)
    if not paths:
        raise DataError("lists no noise recording", list_file)
    return paths


def load_noise(path: Path) -> np.ndarray:
    """(num_samples,) float32 mono 16 kHz noise at unit RMS; an unreadable or silent file is a DataError."""
    import soundfile

    from espnet2_speecht5.data.audio import resample, to_mono

    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
        mono, _ = to_mono(samples)
        if rate != SAMPLE_RATE:
            mono = resample(mono, rate, SAMPLE_RATE)
        return unit_rms(np.asarray(mono, dtype=np.float32))
    except (ValueError, RuntimeError) as err:  # soundfile's LibsndfileError is a RuntimeError
        raise DataError(f"unusable noise recording: {err}", path) from None


def mix_with_recordings(
    clean: Sequence[Tuple[str, str]],
    noise_files: Sequence[Path],
    snrs: Sequence[float],
    outdir: Path,
    seed: int = 0,
) -> List[NoisyCopy]:
    """Write ``outdir/<utt>.wav`` (float32) for every ``(utt, clean audio path)``: the clean speech plus recorded noise.

    Utterance ``i`` gets SNR ``snrs[i % len(snrs)]`` and recording ``noise_files[(i // len(snrs)) %
    len(noise_files)]``, so every pair of SNR and recording occurs once the set is long enough.
    """
    import soundfile

    noises: Dict[Path, np.ndarray] = {path: load_noise(path) for path in noise_files}
    rng = np.random.default_rng(seed)
    outdir.mkdir(parents=True, exist_ok=True)
    copies: List[NoisyCopy] = []
    for i, (utt, clean_path) in enumerate(clean):
        speech, rate = soundfile.read(clean_path, dtype="float32", always_2d=False)
        if rate != SAMPLE_RATE or speech.ndim != 1:
            raise DataError(f"utterance '{utt}': expected 16 kHz mono clean speech, got {rate} Hz", clean_path)
        snr = float(snrs[i % len(snrs)])
        source = noise_files[(i // len(snrs)) % len(noise_files)]
        noise = noises[source]
        offset = int(rng.integers(0, max(len(noise) - 1, 1)))
        mixture, _ = mix_at_snr(speech.astype(np.float32), fit_length(noise, len(speech), offset), snr)
        # float samples: no clipping and no rescaling, so the mixture is exactly the clean file plus the noise
        path = outdir / f"{utt}.wav"
        soundfile.write(path, mixture, SAMPLE_RATE, subtype="FLOAT")
        copies.append(NoisyCopy(utt, str(path.absolute()), snr, source.stem))
    logger.info(f"mixed {len(copies)} utterances with {len(noise_files)} noise recordings into {outdir}")
    return copies


def extra_noisy_copies(
    rows: Sequence[Tuple[str, str, str, float]],
    copies: int,
    snrs: Sequence[float],
    kinds: Sequence[str],
    outdir: Path,
    seed: int = 0,
) -> List[Tuple[str, NoisyCopy]]:
    """More noisy versions of training utterances, with the noise the project generates.

    ``rows`` are ``(utt, speaker, clean audio path, snr of the corpus's own copy)``. Copy ``k``
    (1 .. ``copies``) of utterance ``i`` gets the SNR ``k`` places after the corpus copy's in
    ``snrs`` and noise kind ``kinds[(i + k) % len(kinds)]`` (babble: three other speakers'
    utterances of ``rows``), so an utterance's copies differ in SNR and noise. Each is written to
    ``outdir/<utt>-n<k>.wav`` (float32: exactly clean plus noise). Returns ``(source utt, copy)``.
    """
    import soundfile

    from espnet2_speecht5.corpus.noise import make_noise

    outdir.mkdir(parents=True, exist_ok=True)
    made: List[Tuple[str, NoisyCopy]] = []
    for i, (utt, speaker, clean_path, own_snr) in enumerate(rows):
        speech, rate = soundfile.read(clean_path, dtype="float32", always_2d=False)
        if rate != SAMPLE_RATE or speech.ndim != 1:
            raise DataError(f"utterance '{utt}': expected 16 kHz mono clean speech, got {rate} Hz", clean_path)
        base = list(snrs).index(own_snr) if own_snr in snrs else 0
        for k in range(1, copies + 1):
            rng = np.random.default_rng([seed, i, k])
            kind = kinds[(i + k) % len(kinds)]
            talkers = None
            if kind == "babble":
                others = [r for r in rows if r[1] != speaker]
                picks = rng.choice(len(others), size=min(3, len(others)), replace=False)
                talkers = [soundfile.read(others[int(p)][2], dtype="float32")[0] for p in picks]
            snr = float(snrs[(base + k) % len(snrs)])
            noise = make_noise(kind, len(speech), rng, SAMPLE_RATE, talkers)
            mixture, _ = mix_at_snr(speech, noise, snr)
            path = outdir / f"{utt}-n{k}.wav"
            soundfile.write(path, mixture, SAMPLE_RATE, subtype="FLOAT")
            made.append((utt, NoisyCopy(f"{utt}-n{k}", str(path.absolute()), snr, kind)))
    logger.info(f"wrote {len(made)} extra noisy training copies into {outdir}")
    return made
