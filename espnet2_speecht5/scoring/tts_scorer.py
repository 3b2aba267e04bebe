"""Score synthesised speech against the recordings of the same utterances (stage 10 of TTS).

Usage::

    python -m espnet2_speecht5.bin.score_tts --hyp_scp DECODE/test/wav.scp \\
        --ref_scp dump/raw/test/wav.scp --ref_text dump/raw/test/text --utt2spk dump/raw/test/utt2spk \\
        [--asr_train_config ASR/config.yaml --asr_model_file ASR/valid.acc.best.pth \\
         --asr_decode_config conf/decode_asr.yaml | --asr_model_zip asr_model.zip] \\
        [--spk_train_config SPK/config.yaml --spk_model_file SPK/valid.eer.best.pth] \\
        --outdir DECODE/test

Each metric is computed when its inputs are given:

* MCD (``--ref_scp``; ``--mcd false`` turns it off): WORLD + pysptk mel-cepstra, c0 left out,
  frames aligned by DTW (:mod:`espnet2_speecht5.scoring.mcd`); per utterance in ``OUTDIR/mcd``;
* CER and WER (``--ref_text`` and an ASR model): the synthesised speech recognised by a SpeechT5
  ASR model (``OUTDIR/asr_text``), scored by sclite into ``OUTDIR/score_{cer,wer}/result.txt``
  as stage 10 of ASR does;
* speaker similarity (``--ref_scp`` and an ESPnet speaker model): the cosine between the
  speaker embeddings of each synthesised wav and its recording, in ``OUTDIR/spk_similarity``.

``OUTDIR/summary.yaml`` holds {utterances, mcd_mean, mcd_std, cer, wer, speaker_similarity}
(null for a metric not computed).  The synthesised set and every reference file must list the
same utterances; a wav that cannot be read stops the run with one line naming it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, TypeVar

import numpy as np

from espnet2_speecht5.data.audio import AudioSource, resample
from espnet2_speecht5.data.kaldi_dir import read_map, write_map
from espnet2_speecht5.runtime.cli import str2bool
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.scoring.mcd import ALIGNMENTS, DEFAULT_FRAME_PERIOD_MS, DEFAULT_ORDER, F0_METHODS, MCDScorer
from espnet2_speecht5.scoring.sclite import read_text, summary_line
from espnet2_speecht5.scoring.text_norm import TEXT_NORMALIZATIONS, normalize_text
from espnet2_speecht5.scoring.tts_summary import SUMMARY_FILE, make_summary, write_summary
from espnet2_speecht5.scoring.wav_pairs import check_same_utterances, load_mono, read_wav_scp

logger = logging.getLogger(__name__)
T = TypeVar("T")
# ESPnet logs every beam-search step and every embedding at INFO through the root logger.
CHATTY_MODULES = frozenset({"beam_search", "batch_beam_search", "spk_inference"})


class QuietPerUtteranceLogs(logging.Filter):
    """Drop the INFO (and DEBUG) records of :data:`CHATTY_MODULES`; keep warnings and errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.module not in CHATTY_MODULES


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hyp_scp", required=True, help="wav.scp of the synthesised speech")
    parser.add_argument("--ref_scp", help="wav.scp of the recordings (for MCD and speaker similarity)")
    parser.add_argument("--ref_text", help="reference transcripts (Kaldi text), for CER and WER")
    parser.add_argument("--utt2spk", help="utt2spk of the test set, for sclite's per-speaker tables")
    parser.add_argument("--outdir", required=True, help="folder for the per-utterance files and summary.yaml")
    parser.add_argument("--ngpu", type=int, default=0, choices=(0, 1), help="0: CPU; 1: the first GPU")
    group = parser.add_argument_group("MCD")
    group.add_argument("--mcd", type=str2bool, default=True, help="compute the MCD when --ref_scp is given")
    group.add_argument("--mcd_order", type=int, default=DEFAULT_ORDER, help="mel-cepstrum order (besides c0)")
    group.add_argument("--mcd_alpha", type=float, help="all-pass constant [0.42 at 16 kHz, by rate]")
    group.add_argument("--mcd_frame_period", type=float, default=DEFAULT_FRAME_PERIOD_MS, help="frame shift in ms")
    group.add_argument("--f0_method", default="harvest", choices=F0_METHODS, help="WORLD F0 estimator")
    group.add_argument("--mcd_align", default="dtw", choices=ALIGNMENTS, help="frame alignment")
    group = parser.add_argument_group("Intelligibility (ASR)")
    group.add_argument("--asr_train_config", help="config.yaml of a SpeechT5 ASR model")
    group.add_argument("--asr_model_file", help="its parameters (*.pth)")
    group.add_argument("--asr_decode_config", help="decode YAML (beam_size, ctc_weight, penalty, ...)")
    group.add_argument("--asr_model_zip", help="a packed ASR model (espnet2.bin.pack zip) instead")
    group.add_argument("--asr_cachedir", help="where --asr_model_zip is unpacked [OUTDIR/asr_model]")
    group.add_argument(
        "--text_normalization",
        default="lower_nopunct",
        choices=TEXT_NORMALIZATIONS,
        help="applied to the references and the ASR output before scoring (lower case, no punctuation)",
    )
    group = parser.add_argument_group("Speaker similarity")
    group.add_argument("--spk_train_config", help="config.yaml of an ESPnet speaker model (spk task)")
    group.add_argument("--spk_model_file", help="its parameters (*.pth)")
    return parser


@dataclass
class Plan:
    """What to compute, decided from the arguments before any model loads."""

    mcd: bool
    asr: bool
    spk: bool
    text_normalization: str = "lower_nopunct"
    ref_sources: Optional[Dict[str, AudioSource]] = None
    ref_text: Optional[Dict[str, str]] = None
    utt2spk: Optional[Dict[str, str]] = None
    hyp_sources: Dict[str, AudioSource] = field(default_factory=dict)


def make_plan(args: argparse.Namespace) -> Plan:
    """Check that the arguments fit together and that the input files list the same utterances."""
    asr = bool(args.asr_model_zip or args.asr_train_config or args.asr_model_file)
    if args.asr_model_zip and (args.asr_train_config or args.asr_model_file):
        raise DataError("give --asr_model_zip or --asr_train_config with --asr_model_file, not both")
    if not args.asr_model_zip and asr and not (args.asr_train_config and args.asr_model_file):
        raise DataError("--asr_train_config and --asr_model_file go together")
    spk = bool(args.spk_train_config or args.spk_model_file)
    if spk and not (args.spk_train_config and args.spk_model_file):
        raise DataError("--spk_train_config and --spk_model_file go together")
    if spk and not args.ref_scp:
        raise DataError("speaker similarity needs the recordings: give --ref_scp")
    if asr and not args.ref_text:
        raise DataError("CER and WER need the reference transcripts: give --ref_text")
    if args.ref_text and not asr:
        logger.warning("--ref_text without an ASR model: no CER or WER")
    plan = Plan(mcd=bool(args.ref_scp) and args.mcd, asr=asr, spk=spk, text_normalization=args.text_normalization)
    if not (plan.mcd or plan.asr or plan.spk):
        raise DataError("nothing to score: give --ref_scp (MCD, speaker similarity) and/or "
                        "--ref_text with an ASR model (CER, WER)")
    plan.hyp_sources = read_wav_scp(args.hyp_scp)
    if args.ref_scp:
        plan.ref_sources = read_wav_scp(args.ref_scp)
        check_same_utterances(plan.hyp_sources, args.hyp_scp, plan.ref_sources, args.ref_scp)
    if asr:
        plan.ref_text = {
            utt: normalize_text(text, args.text_normalization) for utt, text in read_text(args.ref_text).items()
        }
        check_same_utterances(plan.hyp_sources, args.hyp_scp, plan.ref_text, args.ref_text)
    if args.utt2spk:
        plan.utt2spk = read_map(args.utt2spk)
    return plan


def build_recogniser(args: argparse.Namespace, outdir: Path, device: str):
    """The ASR model of the arguments (files, or a zip unpacked under ``--asr_cachedir``)."""
    from espnet2_speecht5.runtime.quiet_imports import quiet_espnet
    from espnet2_speecht5.scoring.intelligibility import Recogniser, read_decode_config

    options = read_decode_config(args.asr_decode_config)
    config, model_file = args.asr_train_config, args.asr_model_file
    if args.asr_model_zip:
        from espnet2_speecht5.scoring.model_zip import unpack_model_zip

        cachedir = Path(args.asr_cachedir) if args.asr_cachedir else outdir / "asr_model"
        files = unpack_model_zip(args.asr_model_zip, cachedir, ("asr_train_config", "asr_model_file"))
        config, model_file = files["asr_train_config"], files["asr_model_file"]
    with quiet_espnet():
        return Recogniser(config, model_file, options, device)


def build_embedder(args: argparse.Namespace, device: str):
    from espnet2_speecht5.runtime.quiet_imports import quiet_espnet
    from espnet2_speecht5.scoring.speaker_similarity import SpeakerEmbedder

    with quiet_espnet():
        return SpeakerEmbedder(args.spk_train_config, args.spk_model_file, device)


def at_rate(wav: np.ndarray, rate: int, target: int) -> np.ndarray:
    """(num_samples,) float64 signal resampled from ``rate`` to ``target`` Hz."""
    if rate == target:
        return wav
    return resample(wav.astype(np.float32), rate, target).astype(np.float64)


def for_utterance(utt: str, source: AudioSource, compute: Callable[..., T], *inputs: object) -> T:
    """``compute(*inputs)``; a :class:`DataError` that names no utterance gets ``utt`` and its scp line."""
    try:
        return compute(*inputs)
    except DataError as err:
        if err.utt is not None:
            raise
        raise DataError(err.message, err.path or source.scp, err.line if err.path else source.line, utt) from None


def score_utterances(args: argparse.Namespace, plan: Plan, outdir: Path) -> Dict[str, Dict[str, object]]:
    """Per-utterance values: ``{"mcd": {utt: dB}, "asr_text": {utt: text}, "spk_similarity": {utt: cos}}``."""
    from tqdm import tqdm

    device = "cuda" if args.ngpu > 0 else "cpu"
    mcd_scorer = MCDScorer(args.mcd_order, args.mcd_alpha, args.mcd_frame_period, args.f0_method, args.mcd_align)
    recogniser = build_recogniser(args, outdir, device) if plan.asr else None
    embedder = build_embedder(args, device) if plan.spk else None
    values: Dict[str, Dict[str, object]] = {"mcd": {}, "asr_text": {}, "spk_similarity": {}}
    warned_rates = False
    for utt in tqdm(sorted(plan.hyp_sources), desc="score_tts", unit="utt", file=sys.stderr, disable=None):
        hyp_source = plan.hyp_sources[utt]
        hyp_wav, hyp_rate = load_mono(hyp_source)
        ref_wav = ref_rate = None
        if plan.ref_sources is not None and (plan.mcd or plan.spk):
            ref_wav, ref_rate = load_mono(plan.ref_sources[utt])
            if ref_rate != hyp_rate and not warned_rates:
                logger.warning(f"{utt}: synthesised at {hyp_rate} Hz, recorded at {ref_rate} Hz: "
                               f"the MCD resamples the synthesised speech to {ref_rate} Hz")
                warned_rates = True
        if plan.mcd:
            hyp_for_mcd = at_rate(hyp_wav, hyp_rate, ref_rate)
            values["mcd"][utt] = for_utterance(utt, hyp_source, mcd_scorer, ref_wav, hyp_for_mcd, ref_rate)
        if recogniser is not None:
            speech = at_rate(hyp_wav, hyp_rate, recogniser.rate)
            values["asr_text"][utt] = for_utterance(utt, hyp_source, recogniser, speech)
        if embedder is not None:
            ref_in = at_rate(ref_wav, ref_rate, embedder.rate)
            hyp_in = at_rate(hyp_wav, hyp_rate, embedder.rate)
            values["spk_similarity"][utt] = for_utterance(utt, hyp_source, embedder.similarity, ref_in, hyp_in)
    return values


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    for handler in logging.getLogger().handlers:
        handler.addFilter(QuietPerUtteranceLogs())
    plan = make_plan(args)
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    values = score_utterances(args, plan, outdir)
    mcd: Dict[str, float] = values["mcd"]  # type: ignore[assignment]
    sims: Dict[str, float] = values["spk_similarity"]  # type: ignore[assignment]
    if mcd:
        write_map(outdir / "mcd", {utt: f"{value:.4f}" for utt, value in mcd.items()})
    if sims:
        write_map(outdir / "spk_similarity", {utt: f"{value:.4f}" for utt, value in sims.items()})
    cer = wer = None
    if plan.asr:
        from espnet2_speecht5.scoring.intelligibility import score_intelligibility

        asr_text: Dict[str, str] = values["asr_text"]  # type: ignore[assignment]
        write_map(outdir / "asr_text", asr_text)
        hyps = {utt: normalize_text(text, plan.text_normalization) for utt, text in asr_text.items()}
        results = score_intelligibility(plan.ref_text, hyps, outdir, plan.utt2spk)
        for metric, result in results.items():
            report = outdir / f"score_{metric}" / "result.txt"
            logger.info(f"{outdir}: {summary_line(metric, result)}; report: {report}")
        cer, wer = results["cer"].percent.err, results["wer"].percent.err
    summary = make_summary(len(plan.hyp_sources), list(mcd.values()), cer, wer, list(sims.values()))
    write_summary(outdir / SUMMARY_FILE, summary)
    logger.info(f"{outdir / SUMMARY_FILE}: " + ", ".join(f"{k} {v}" for k, v in summary.items() if v is not None))


