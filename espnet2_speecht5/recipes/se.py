"""Speech enhancement: noisy speech in, the clean speech of the same utterance out.

Data folders hold ``wav.scp`` (the noisy recording), ``wav_clean.scp`` (the clean one), and,
where the corpus has them, ``text`` (the transcript, for the ASR error rates) and ``utt2snr``
(the mixing SNR in dB, for the per-SNR tables). The model takes no speaker embedding unless its
config says ``use_speaker_embedding: true``; stage 6 then embeds the noisy input (``wav.scp``).

Stage 10 scores, per set, three signals with the same models in the same run:

* the enhanced speech: ``cer`` (and ``details.wer``) of the ASR model, ``pesq`` and ``stoi``
  against the clean recording (aligned first: :mod:`espnet2_speecht5.scoring.enhancement`);
* the noisy input: ``cer_noisy``, ``pesq_noisy``, ``stoi_noisy`` (what doing nothing gets);
* the clean recording: ``cer_clean`` (the ASR model's own floor).

``details.per_snr`` repeats every metric per SNR group.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet2_speecht5.data.kaldi_dir import read_map
from espnet2_speecht5.recipes.base import Context, shell_words
from espnet2_speecht5.recipes.files import require
from espnet2_speecht5.recipes.merging import generation_record
from espnet2_speecht5.recipes.tts import TTSRecipe, asr_model_args, model_tools
from espnet2_speecht5.runtime.errors import DataError

logger = logging.getLogger(__name__)
# what stage 10 scores: the name of each signal, its wav.scp in the set's dump, its output folder
SIGNALS = {"enhanced": "", "noisy": "noisy_input", "clean": "clean_reference"}
SE_NOTE = """
CER and WER: each signal recognised by the same ASR model. PESQ: wide-band (P.862.2, `pesq`); STOI: `pystoi`.
Both compare each signal with the clean recording. The enhanced wave is first aligned with the clean one: shifted
by the lag (at most 0.25 s) that maximises the cross-correlation of the two signals' band envelopes (40 mel bands,
2 ms hops), then cut or zero-padded to the clean length. A mel-to-wave vocoder (`griffin_lim`) may shift its
output; the `noisy_phase` resynthesis (the predicted clean mel applied as a gain to the noisy recording's STFT,
keeping its phase) has the recording's samples, so its lag comes out 0. The noisy input is sample-aligned already
and is scored as it is. `len ratio`: the enhanced length over the clean length, before the cut. The vocoder is
`details.generation.vocoder` in each set's scores.json.
"""


class SERecipe(TTSRecipe):
    """Speech enhancement on the speech-to-speech network (stages 1-13)."""

    def uses_speaker_embedding(self, ctx: Context) -> bool:
        """``model_conf.use_speaker_embedding`` of the training config (False when unset)."""
        from espnet2_speecht5.train.checks import config_value_or

        if not ctx.train_config:
            return False
        if not Path(ctx.train_config).is_file():
            raise DataError("does not exist (--train_config)", ctx.train_config)
        value = config_value_or(ctx.train_config, "model_conf.use_speaker_embedding", False)
        if not isinstance(value, bool):
            raise DataError(f"model_conf.use_speaker_embedding must be true or false, not '{value}'", ctx.train_config)
        return value

    def speaker_dirs(self, ctx: Context) -> List[Path]:
        if not self.uses_speaker_embedding(ctx):
            logger.info(f"stage 6: {ctx.train_config} has no model_conf.use_speaker_embedding: true: no x-vectors")
            return []
        logger.info("stage 6: x-vectors of the noisy inputs (wav.scp)")
        return super().speaker_dirs(ctx)

    def require_inputs(self, ctx: Context, dset: str) -> None:
        if self.uses_speaker_embedding(ctx):
            require(self.xvectors(ctx, ctx.raw(dset)), 6)

    def data_options(self, ctx: Context, mode: str, data: Path) -> List[str]:
        spk = [f"{require(self.xvectors(ctx, data), 6)},spembs,kaldi_ark"] if self.uses_speaker_embedding(ctx) else []
        if mode == "test":
            # the plots draw the clean recording above the enhanced mel
            options = ["--data_path_and_name_and_type", f"{data}/wav.scp,speech,sound"]
            for triple in spk:
                options += ["--data_path_and_name_and_type", triple]
            return options + ["--ref_wav_scp", f"{data}/wav_clean.scp"]
        key = f"--{mode}_data_path_and_name_and_type"
        options = [key, f"{data}/wav.scp,speech,sound", key, f"{data}/wav_clean.scp,speech_clean,sound"]
        for triple in spk:
            options += [key, triple]
        return options

    def signal_scp(self, ctx: Context, dset: str, decode_dir: Path, signal: str) -> Path:
        raw = ctx.raw(dset)
        return {"enhanced": require(decode_dir / dset / "wav.scp", 9), "noisy": require(raw / "wav.scp", 4),
                "clean": require(raw / "wav_clean.scp", 4)}[signal]

    def score(self, ctx: Context, dset: str, decode_dir: Path, model: str) -> Dict[str, object]:
        from espnet2_speecht5.recipes.text_scoring import sclite_version
        from espnet2_speecht5.scoring.enhancement import score_quality
        from espnet2_speecht5.scoring.sclite import parse_sclite_report
        from espnet2_speecht5.scoring.scores_file import package_version, write_scores
        from espnet2_speecht5.scoring.tts_scorer import main as score_tts
        from espnet2_speecht5.scoring.tts_summary import SUMMARY_FILE, read_summary

        raw, outdir = ctx.raw(dset), decode_dir / dset
        has_text = (raw / "text").is_file()
        utt2snr = raw / "utt2snr" if (raw / "utt2snr").is_file() else None
        asr = asr_model_args(ctx) if has_text else []
        if not has_text:
            logger.info(f"stage 10: {raw} has no text: no CER or WER")
        tools = {"pesq": package_version("pesq"), "pystoi": package_version("pystoi")}
        asr_scores: Dict[str, Dict[str, Optional[float]]] = {}
        quality: Dict[str, Dict[str, object]] = {}
        sclite: Dict[str, Dict[str, object]] = {}
        for signal, sub in SIGNALS.items():
            scp, signal_dir = self.signal_scp(ctx, dset, decode_dir, signal), outdir / sub
            if has_text:
                logger.info(f"stage 10: {dset}: the ASR model on the {signal} speech")
                args = ["--hyp_scp", str(scp), "--mcd", "false", "--ref_text", str(raw / "text"),
                        "--utt2spk", str(raw / "utt2spk"), *asr, "--outdir", str(signal_dir),
                        *shell_words(ctx.score_args)]
                score_tts(args)
                asr_scores[signal] = read_summary(signal_dir / SUMMARY_FILE)
                tools.update(model_tools(args))
                report = signal_dir / "score_cer" / "result.txt"
                if signal == "enhanced" and report.is_file():
                    tools["sclite"] = sclite_version(report)
                    for metric in ("cer", "wer"):
                        result = signal_dir / f"score_{metric}" / "result.txt"
                        sclite[metric] = parse_sclite_report(result.read_text(encoding="utf-8"),
                                                             str(result)).percent.as_dict()
            if signal != "clean":
                logger.info(f"stage 10: {dset}: PESQ and STOI of the {signal} speech against the clean recording")
                quality[signal] = score_quality(str(scp), str(raw / "wav_clean.scp"), signal_dir / "quality",
                                                str(utt2snr) if utt2snr else None, align=signal == "enhanced")
        per_snr = per_snr_scores(raw, outdir, quality) if utt2snr else {}

        def asr_value(signal: str, metric: str) -> Optional[float]:
            return asr_scores.get(signal, {}).get(metric)

        metrics = {"pesq": quality["enhanced"]["pesq"], "stoi": quality["enhanced"]["stoi"],
                   "cer": asr_value("enhanced", "cer"), "pesq_noisy": quality["noisy"]["pesq"],
                   "stoi_noisy": quality["noisy"]["stoi"], "cer_noisy": asr_value("noisy", "cer"),
                   "cer_clean": asr_value("clean", "cer")}
        details = {"utterances": quality["enhanced"]["utterances"], "wer": asr_value("enhanced", "wer"),
                   "wer_noisy": asr_value("noisy", "wer"), "wer_clean": asr_value("clean", "wer"),
                   "length_ratio": quality["enhanced"]["length_ratio"],
                   "pesq_no_speech": quality["enhanced"]["pesq_no_speech"],
                   "alignment": "enhanced: shifted by the band-envelope cross-correlation lag (at most 0.25 s), then "
                                "cut or zero-padded to the clean length; noisy: as it is (scoring/enhancement.py)",
                   "sclite": sclite, "per_snr": per_snr}
        details["generation"] = generation_record(outdir)  # seed and pre-net dropout of stage 9
        return write_scores(outdir / "scores.json", self.name, dset, str(Path(ctx.task_exp) / model), metrics,
                            self.metrics, tools, details)

    def results_section(self, exp_dir: Path, rows: Sequence[Tuple[str, Dict[str, object]]]) -> str:
        from espnet2_speecht5.recipes.text_scoring import sclite_section

        lines = ["", "### SE", "", "|dataset|utts|PESQ|PESQ noisy|STOI|STOI noisy|CER (%)|CER noisy (%)|"
                 "CER clean (%)|WER (%)|WER noisy (%)|WER clean (%)|len ratio|",
                 "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for dataset, scores in rows:
            m, d = scores["metrics"], scores["details"]
            lines.append(f"|{dataset}|{d.get('utterances', '?')}|{cell(m['pesq'], 2)}|{cell(m['pesq_noisy'], 2)}|"
                         f"{cell(m['stoi'], 3)}|{cell(m['stoi_noisy'], 3)}|{cell(m['cer'], 1)}|"
                         f"{cell(m['cer_noisy'], 1)}|{cell(m['cer_clean'], 1)}|{cell(d.get('wer'), 1)}|"
                         f"{cell(d.get('wer_noisy'), 1)}|{cell(d.get('wer_clean'), 1)}|"
                         f"{cell(d.get('length_ratio'), 2)}|")
        snr_rows = [(dataset, snr, values) for dataset, scores in rows
                    for snr, values in scores["details"].get("per_snr", {}).items()]
        if snr_rows:
            lines += ["", "#### Per SNR", "", "|dataset|SNR (dB)|utts|PESQ|PESQ noisy|STOI|STOI noisy|CER (%)|"
                      "CER noisy (%)|CER clean (%)|", "|---|---|---|---|---|---|---|---|---|---|"]
            for dataset, snr, v in snr_rows:
                lines.append(f"|{dataset}|{snr}|{v['utterances']}|{cell(v['pesq'], 2)}|{cell(v['pesq_noisy'], 2)}|"
                             f"{cell(v['stoi'], 3)}|{cell(v['stoi_noisy'], 3)}|{cell(v.get('cer'), 1)}|"
                             f"{cell(v.get('cer_noisy'), 1)}|{cell(v.get('cer_clean'), 1)}|")
        return "\n".join(lines) + "\n" + SE_NOTE + sclite_section(rows)


def cell(value: object, digits: int) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def per_snr_scores(raw: Path, outdir: Path, quality: Dict[str, Dict[str, object]]) -> Dict[str, Dict[str, object]]:
    """Every metric per SNR group: PESQ/STOI from the quality summaries, CERs by sclite on each group's utterances."""
    from espnet2_speecht5.scoring.enhancement import snr_group
    from espnet2_speecht5.scoring.intelligibility import score_intelligibility
    from espnet2_speecht5.scoring.sclite import read_text
    from espnet2_speecht5.scoring.text_norm import normalize_text

    utt2snr = read_map(raw / "utt2snr")
    groups: Dict[str, List[str]] = {}
    for utt, value in utt2snr.items():
        groups.setdefault(snr_group(value), []).append(utt)
    enhanced_q, noisy_q = quality["enhanced"].get("per_snr", {}), quality["noisy"].get("per_snr", {})
    refs = read_text(raw / "text") if (raw / "text").is_file() else {}
    table: Dict[str, Dict[str, object]] = {}
    for name in enhanced_q:
        utts = groups.get(name, [])
        row: Dict[str, object] = {"utterances": enhanced_q[name]["utterances"], "pesq": enhanced_q[name]["pesq"],
                                  "pesq_noisy": noisy_q.get(name, {}).get("pesq"), "stoi": enhanced_q[name]["stoi"],
                                  "stoi_noisy": noisy_q.get(name, {}).get("stoi")}
        for signal, sub in SIGNALS.items():
            asr_text = outdir / sub / "asr_text"
            if not refs or not asr_text.is_file():
                continue
            hyps = read_text(asr_text)  # an empty recognition is a line with only the id
            ref = {u: normalize_text(refs[u], "lower_nopunct") for u in utts if u in hyps}
            hyp = {u: normalize_text(hyps[u], "lower_nopunct") for u in ref}
            if not ref:
                raise DataError(f"no utterance of SNR group {name} was recognised", asr_text)
            results = score_intelligibility(ref, hyp, outdir / sub / f"snr_{name}")
            suffix = "" if signal == "enhanced" else f"_{signal}"
            row[f"cer{suffix}"] = results["cer"].percent.err
        table[name] = row
    return table


RECIPE = SERecipe(
    name="se",
    description="speech enhancement: noisy speech in, clean speech out",
    kind="s2s",
    trained=True,
    espnet_task="espnet2_speecht5.tasks.se:SETask",
    train_module="espnet2_speecht5.bin.se_train",
    inference_module="espnet2_speecht5.bin.se_inference",
    required_files=("wav.scp", "wav_clean.scp", "utt2spk", "spk2utt"),
    aux_targets="speaker_embeddings",
    shape_keys=("speech", "speech_clean"),
    fold_lengths=(80000, 80000),
    inference_models=("valid.loss.ave.pth", "valid.loss.best.pth", "latest.pth"),
    output="wav",
    metrics=("pesq", "stoi", "cer", "pesq_noisy", "stoi_noisy", "cer_noisy", "cer_clean"),  # and details.wer
    pack_kind="s2st",
    transformers_class="SpeechT5ForSpeechToSpeech",
)
