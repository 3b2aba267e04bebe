"""PESQ and STOI of enhanced (or noisy) speech against the clean recording (stage 10 of ``--task se``).

Usage::

    python -m espnet2_speecht5.bin.score_se --hyp_scp DECODE/test/wav.scp \\
        --ref_scp dump/raw/test/wav_clean.scp --outdir DECODE/test/quality [--utt2snr dump/raw/test/utt2snr]

Metrics, per utterance and as the mean over a set:

* ``pesq``: wide-band PESQ (ITU-T P.862.2, the ``pesq`` package), MOS-LQO from 1.04 to 4.64;
* ``stoi``: STOI (Taal et al. 2011, the ``pystoi`` package), from 0 to 1 (``--extended true``: ESTOI).

**Alignment.** SpeechT5 generates a log-mel frame sequence and a vocoder turns it into a wave, so
the enhanced signal is neither sample-aligned with the clean one nor exactly as long (the decoder
stops when its stop token fires). Both metrics compare the two signals frame by frame, so each
enhanced wave is aligned before scoring, in three steps:

1. it is resampled to the reference rate (16 kHz);
2. its delay is the lag, within ``--max_shift`` seconds, that maximises the cross-correlation of
   the two signals' band envelopes (log energies of 40 mel bands, 32 ms windows at 2 ms hops, each band's mean
   removed, correlations summed over the bands); the wave is shifted by that lag (a vocoder's
   phase is its own, so the waveforms themselves barely correlate);
3. it is cut or zero-padded at the end to the reference's length.

The lag and the length ratio (enhanced / clean, before step 3) of each utterance are written to
``OUTDIR/alignment``; the set's mean length ratio is in the summary. A noisy input is the clean
signal plus noise, sample-aligned already: ``--align false`` scores it as it is.

``OUTDIR/pesq``, ``OUTDIR/stoi`` hold the per-utterance values and ``OUTDIR/quality.yaml`` the set's
means, overall and per SNR (``--utt2snr``). An utterance in which PESQ finds no speech gets no
PESQ value (a warning names it) and is left out of the PESQ mean; the summary counts such cases.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from espnet2_speecht5.data.kaldi_dir import read_map, write_map
from espnet2_speecht5.runtime.cli import str2bool
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.scoring.wav_pairs import check_same_utterances, load_mono, read_wav_scp

logger = logging.getLogger(__name__)
QUALITY_FILE = "quality.yaml"
PESQ_RATE = 16000  # wide-band PESQ is defined at 16 kHz
ENVELOPE_FRAME_S = 0.002  # the hop of the band envelopes, and so the lag's resolution
ENVELOPE_BANDS = 40


@dataclass
class Alignment:
    """How one signal was placed on its reference: ``lag`` samples (positive: it started late)."""

    lag: int
    length_ratio: float


def band_envelopes(wav: np.ndarray, rate: int) -> np.ndarray:
    """(num_frames, 40) log mel-band energies of ``wav`` (num_samples,) at 2 ms hops, each band's mean removed."""
    import librosa

    hop = max(int(round(ENVELOPE_FRAME_S * rate)), 1)
    mel = librosa.feature.melspectrogram(y=wav.astype(np.float32), sr=rate, n_fft=512, hop_length=hop,
                                         n_mels=ENVELOPE_BANDS, center=True)
    env = np.log(mel.T.astype(np.float64) + 1e-10)
    return env - env.mean(axis=0, keepdims=True)


def estimate_lag(hyp: np.ndarray, ref: np.ndarray, rate: int, max_shift_s: float) -> int:
    """The delay of ``hyp`` against ``ref`` (both (num_samples,) at ``rate``) in samples, a multiple of the
    2 ms hop: the lag that maximises the cross-correlation of the two band envelopes, summed over the bands."""
    from scipy.signal import correlate

    h, r = band_envelopes(hyp, rate), band_envelopes(ref, rate)
    corr = sum(correlate(h[:, band], r[:, band], mode="full") for band in range(h.shape[1]))
    lags = np.arange(-(len(r) - 1), len(h))  # index k of a full correlation is lag k - (len(r) - 1)
    allowed = np.abs(lags) <= int(max_shift_s / ENVELOPE_FRAME_S)
    best = int(lags[allowed][np.argmax(corr[allowed])])
    return best * max(int(round(ENVELOPE_FRAME_S * rate)), 1)


def fit_to(wav: np.ndarray, n: int) -> np.ndarray:
    """``wav`` (num_samples,) cut or zero-padded at the end to ``n`` samples."""
    out = np.zeros(n)
    out[: min(n, len(wav))] = wav[:n]
    return out


def align_to_reference(hyp: np.ndarray, ref: np.ndarray, rate: int, max_shift_s: float = 0.25):
    """``hyp`` shifted by its estimated lag and cut or zero-padded to ``len(ref)``; and the :class:`Alignment`."""
    lag = estimate_lag(hyp, ref, rate, max_shift_s)
    ratio = len(hyp) / max(len(ref), 1)
    shifted = hyp[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag), hyp])
    return fit_to(shifted, len(ref)), Alignment(lag=lag, length_ratio=ratio)


def pesq_wb(ref: np.ndarray, deg: np.ndarray, rate: int) -> Optional[float]:
    """Wide-band PESQ of ``deg`` against ``ref`` (both (num_samples,) at 16 kHz); None where it finds no speech."""
    from pesq import NoUtterancesError, PesqError, pesq

    if rate != PESQ_RATE:
        raise DataError(f"wide-band PESQ needs {PESQ_RATE} Hz audio, not {rate} Hz")
    if not np.any(np.abs(deg) > 1e-6):  # the pesq package fails on an all-zero signal instead of saying so
        return None
    try:
        return float(pesq(rate, ref.astype(np.float64), deg.astype(np.float64), "wb"))
    except (NoUtterancesError, PesqError):
        return None


def stoi_score(ref: np.ndarray, deg: np.ndarray, rate: int, extended: bool = False) -> float:
    """STOI (or ESTOI) of ``deg`` against ``ref``, both (num_samples,) at ``rate``."""
    from pystoi import stoi

    return float(stoi(ref, deg, rate, extended=extended))


def mean_or_none(values: Sequence[Optional[float]]) -> Optional[float]:
    kept = [v for v in values if v is not None and math.isfinite(v)]
    return round(float(np.mean(kept)), 4) if kept else None


def snr_group(value: str) -> str:
    """``utt2snr`` value -> the group name of the per-SNR tables (``5.0`` -> ``5``)."""
    try:
        number = float(value)
    except ValueError:
        return value
    return f"{number:g}"


def summarise(pesq: Dict[str, Optional[float]], stoi: Dict[str, float], alignments: Dict[str, Alignment],
              utt2snr: Optional[Dict[str, str]]) -> Dict[str, object]:
    """``quality.yaml``: the means overall and per SNR group."""
    summary: Dict[str, object] = {
        "utterances": len(stoi),
        "pesq": mean_or_none(list(pesq.values())),
        "stoi": mean_or_none(list(stoi.values())),
        "pesq_no_speech": sum(1 for v in pesq.values() if v is None),
        "length_ratio": mean_or_none([a.length_ratio for a in alignments.values()]),
    }
    if utt2snr:
        groups: Dict[str, List[str]] = {}
        for utt in stoi:
            groups.setdefault(snr_group(utt2snr.get(utt, "?")), []).append(utt)
        summary["per_snr"] = {
            name: {"utterances": len(utts), "pesq": mean_or_none([pesq[u] for u in utts]),
                   "stoi": mean_or_none([stoi[u] for u in utts])}
            for name, utts in sorted(groups.items(), key=lambda kv: _snr_order(kv[0]))
        }
    return summary


def _snr_order(name: str) -> float:
    try:
        return float(name)
    except ValueError:
        return float("inf")


def score_quality(hyp_scp: str, ref_scp: str, outdir: Path, utt2snr: Optional[str] = None,
                  max_shift: float = 0.25, extended: bool = False, align: bool = True) -> Dict[str, object]:
    """Score every utterance of ``hyp_scp`` against ``ref_scp``; writes the files above, returns the summary.

    Raises:
        DataError: the two files list different utterances, or a wav cannot be read (names it).
    """
    from tqdm import tqdm

    hyps, refs = read_wav_scp(hyp_scp), read_wav_scp(ref_scp)
    check_same_utterances(hyps, hyp_scp, refs, ref_scp)
    snrs = read_map(utt2snr) if utt2snr else None
    pesq: Dict[str, Optional[float]] = {}
    stoi: Dict[str, float] = {}
    alignments: Dict[str, Alignment] = {}
    for utt in tqdm(sorted(hyps), desc="pesq/stoi", unit="utt", file=sys.stderr, disable=None):
        ref, rate = load_mono(refs[utt])
        if rate != PESQ_RATE:
            raise DataError(f"clean reference at {rate} Hz; wide-band PESQ needs {PESQ_RATE} Hz", refs[utt].scp,
                            refs[utt].line, utt)
        hyp, _ = load_mono(hyps[utt], rate)
        if align:
            aligned, alignments[utt] = align_to_reference(hyp, ref, rate, max_shift)
        else:  # sample-aligned already (a noisy input): only the length is made equal
            aligned, alignments[utt] = fit_to(hyp, len(ref)), Alignment(lag=0, length_ratio=len(hyp) / len(ref))
        pesq[utt] = pesq_wb(ref, aligned, rate)
        if pesq[utt] is None:
            logger.warning(f"{utt}: PESQ found no speech in {hyps[utt].entry}: no PESQ for this utterance")
        stoi[utt] = stoi_score(ref, aligned, rate, extended)
    outdir.mkdir(parents=True, exist_ok=True)
    write_map(outdir / "pesq", {u: "nan" if v is None else f"{v:.4f}" for u, v in pesq.items()})
    write_map(outdir / "stoi", {u: f"{v:.4f}" for u, v in stoi.items()})
    write_map(outdir / "alignment", {u: f"lag_samples={a.lag} length_ratio={a.length_ratio:.3f}"
                                     for u, a in alignments.items()})
    summary = summarise(pesq, stoi, alignments, snrs)
    import yaml

    (outdir / QUALITY_FILE).write_text(yaml.safe_dump(summary, sort_keys=False), encoding="utf-8")
    logger.info(f"{outdir / QUALITY_FILE}: pesq {summary['pesq']}, stoi {summary['stoi']} "
                f"over {summary['utterances']} utterances")
    return summary


def read_quality(path: Path) -> Dict[str, object]:
    import yaml

    if not path.is_file():
        raise DataError("does not exist: run the PESQ/STOI scoring first", path)
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hyp_scp", required=True, help="wav.scp of the enhanced (or noisy) speech")
    parser.add_argument("--ref_scp", required=True, help="wav.scp of the clean recordings (16 kHz)")
    parser.add_argument("--outdir", required=True, type=Path, help="where pesq, stoi, alignment and quality.yaml go")
    parser.add_argument("--utt2snr", help="the SNR of each utterance, for the per-SNR means")
    parser.add_argument("--max_shift", type=float, default=0.25, help="largest delay searched, in seconds")
    parser.add_argument("--extended", type=str2bool, default=False, help="ESTOI instead of STOI")
    parser.add_argument("--align", type=str2bool, default=True,
                        help="align each signal with its reference first (false: a noisy input, aligned already)")
    return parser


def main(argv: Optional[List[str]] = None) -> Dict[str, object]:
    args = get_parser().parse_args(argv)
    return score_quality(args.hyp_scp, args.ref_scp, args.outdir, args.utt2snr, args.max_shift, args.extended,
                         args.align)
