"""Voice conversion: a source speaker's speech in, the same sentence in the target speaker's voice out.

Data folders hold parallel pairs: ``wav.scp`` the source recording, ``wav_tgt.scp`` the target
speaker reading the same sentence, ``utt2spk`` / ``utt2spk_tgt`` the two speakers (and ``text``,
the sentence, when the corpus has transcripts). Stage 6 embeds the target side
(``<dumpdir>/vc_target/<set>``: ``wav.scp`` = the targets, ``utt2spk`` = their speakers), so each
pair gets its target speaker's x-vector. Stage 10 scores three comparisons with the TTS scorer:

* converted vs target recording: ``mcd``, ``cer`` / ``wer`` (an ASR model on the converted
  speech, when the set has ``text``) and ``spk_sim_target``;
* converted vs source recording: ``spk_sim_source``;
* source vs target recording: ``mcd_source``, the MCD of doing nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet2_speecht5.data.kaldi_dir import read_map, write_map, write_spk2utt
from espnet2_speecht5.recipes.base import Context, shell_words
from espnet2_speecht5.recipes.files import require
from espnet2_speecht5.recipes.merging import generation_record
from espnet2_speecht5.recipes.tts import TTSRecipe, asr_model_args, model_tools, speaker_model_args

logger = logging.getLogger(__name__)
TARGET_VIEWS = "vc_target"
COMPARISONS = {"target": "converted vs target", "source": "converted vs source", "baseline": "source vs target"}
VC_NOTE = ("\nmcd: converted vs target recording; mcd_source: source vs target recording (no conversion). "
           "spk_sim: cosine of the speaker model's embeddings of the converted speech and the target (or "
           "source) recording. CER and WER: the converted speech recognised by an ASR model.\n")


class VCRecipe(TTSRecipe):
    """Parallel voice conversion with target-speaker x-vectors (stages 1-13)."""

    def target_view(self, ctx: Context, name: str) -> Path:
        """``<dumpdir>/vc_target/<set>``: the set's target recordings as a data folder (stage 6 embeds it)."""
        raw = ctx.raw(name)
        view = Path(ctx.dumpdir) / TARGET_VIEWS / name
        view.mkdir(parents=True, exist_ok=True)
        write_map(view / "wav.scp", read_map(require(raw / "wav_tgt.scp", 4)))
        write_map(view / "utt2spk", read_map(require(raw / "utt2spk_tgt", 4)))
        write_spk2utt(view)
        return view

    def speaker_dirs(self, ctx: Context) -> List[Path]:
        views = [self.target_view(ctx, name) for name in self.dump_sets(ctx)]
        logger.info(f"stage 6: x-vectors of the target recordings: {', '.join(str(v) for v in views)}")
        return views

    def data_options(self, ctx: Context, mode: str, data: Path) -> List[str]:
        spk = require(self.xvectors(ctx, data), 6)
        if mode == "test":
            # the plots draw the target recording above the conversion
            return ["--data_path_and_name_and_type", f"{data}/wav.scp,speech,sound",
                    "--data_path_and_name_and_type", f"{spk},spembs,kaldi_ark", "--ref_wav_scp", f"{data}/wav_tgt.scp"]
        key = f"--{mode}_data_path_and_name_and_type"
        return [key, f"{data}/wav.scp,speech,sound", key, f"{data}/wav_tgt.scp,speech_tgt,sound",
                key, f"{spk},spembs,kaldi_ark"]

    def comparison_args(self, ctx: Context, dset: str, decode_dir: Path) -> Dict[str, List[str]]:
        """The scorer's arguments of the three comparisons, by name (:data:`COMPARISONS`)."""
        raw, out = ctx.raw(dset), decode_dir / dset
        converted = str(require(out / "wav.scp", 9))
        extra = shell_words(ctx.score_args)
        spk = speaker_model_args(ctx)
        target = ["--hyp_scp", converted, "--ref_scp", str(raw / "wav_tgt.scp"), *spk]
        if (raw / "text").is_file():
            target += ["--ref_text", str(raw / "text"), "--utt2spk", str(raw / "utt2spk_tgt"), *asr_model_args(ctx)]
        else:
            logger.info(f"stage 10: {raw} has no text: no CER or WER")
        args = {"target": target + ["--outdir", str(out)]}
        if spk or "--spk_model_file" in extra:  # the stage-6 model, or an independent one in --score_args
            args["source"] = ["--hyp_scp", converted, "--ref_scp", str(raw / "wav.scp"), "--mcd", "false", *spk,
                              "--outdir", str(out / "vs_source")]
        args["baseline"] = ["--hyp_scp", str(raw / "wav.scp"), "--ref_scp", str(raw / "wav_tgt.scp"),
                            "--outdir", str(out / "source_vs_target")]
        return {name: [*a, *extra] for name, a in args.items()}

    def score(self, ctx: Context, dset: str, decode_dir: Path, model: str) -> Dict[str, object]:
        from espnet2_speecht5.recipes.text_scoring import sclite_version
        from espnet2_speecht5.scoring.sclite import parse_sclite_report
        from espnet2_speecht5.scoring.scores_file import package_version, write_scores
        from espnet2_speecht5.scoring.tts_scorer import main as score_tts
        from espnet2_speecht5.scoring.tts_summary import SUMMARY_FILE, read_summary

        outdir = decode_dir / dset
        summaries: Dict[str, Dict[str, Optional[float]]] = {}
        tools = {"pyworld": package_version("pyworld"), "pysptk": package_version("pysptk")}
        for name, args in self.comparison_args(ctx, dset, decode_dir).items():
            logger.info(f"stage 10: {dset}: {COMPARISONS[name]}")
            score_tts(args)
            summaries[name] = read_summary(Path(args[args.index("--outdir") + 1]) / SUMMARY_FILE)
            tools.update(model_tools(args))
        target, baseline = summaries["target"], summaries["baseline"]
        sclite = {}
        for metric in ("wer", "cer"):
            report = outdir / f"score_{metric}" / "result.txt"
            if target[metric] is not None and report.is_file():
                sclite[metric] = parse_sclite_report(report.read_text(encoding="utf-8"), str(report)).percent.as_dict()
                tools["sclite"] = sclite_version(report)
        if "spk_model" in tools:
            stage6 = speaker_model_args(ctx)
            independent = not stage6 or stage6[-1] != tools["spk_model"]
            tools["spk_model_note"] = ("an independent speaker model (--score_args)" if independent else
                                       "the stage-6 speaker model (trained on this recipe's training targets)")
        metrics = {"mcd": target["mcd_mean"], "mcd_source": baseline["mcd_mean"], "cer": target["cer"],
                   "spk_sim_target": target["speaker_similarity"],
                   "spk_sim_source": summaries.get("source", {}).get("speaker_similarity")}
        details = {"utterances": target["utterances"], "wer": target["wer"], "mcd_std": target["mcd_std"],
                   "mcd_source_std": baseline["mcd_std"], "sclite": sclite,
                   "pairs": pair_counts(read_map(ctx.raw(dset) / "utt2spk"), read_map(ctx.raw(dset) / "utt2spk_tgt"))}
        details["generation"] = generation_record(outdir)  # seed and pre-net dropout of stage 9
        return write_scores(outdir / "scores.json", self.name, dset, str(Path(ctx.task_exp) / model), metrics,
                            self.metrics, tools, details)

    def results_section(self, exp_dir: Path, rows: Sequence[Tuple[str, Dict[str, object]]]) -> str:
        from espnet2_speecht5.recipes.text_scoring import sclite_section

        def cell(value: object, digits: int) -> str:
            return "-" if value is None else f"{float(value):.{digits}f}"

        lines = ["", "### VC", "", "|dataset|pairs|MCD (dB)|MCD source→target (dB)|CER (%)|WER (%)|"
                 "spk sim target|spk sim source|", "|---|---|---|---|---|---|---|---|"]
        for dataset, scores in rows:
            m, d = scores["metrics"], scores["details"]
            mcd = cell(m["mcd"], 2) + (f" ± {d['mcd_std']:.2f}" if m["mcd"] is not None and d.get("mcd_std") else "")
            lines.append(f"|{dataset}|{d.get('utterances', '?')}|{mcd}|{cell(m['mcd_source'], 2)}|{cell(m['cer'], 1)}|"
                         f"{cell(d.get('wer'), 1)}|{cell(m['spk_sim_target'], 3)}|{cell(m['spk_sim_source'], 3)}|")
        models = sorted({(str(s["tools"]["spk_model"]), str(s["tools"].get("spk_model_note", "")))
                         for _, s in rows if s["tools"].get("spk_model")})
        lines += [""] + [f"- speaker model of spk sim: `{model}`: {note}" for model, note in models]
        tables = sclite_section(rows)
        return "\n".join(lines) + "\n" + VC_NOTE + tables


def pair_counts(utt2spk: Dict[str, str], utt2spk_tgt: Dict[str, str]) -> Dict[str, int]:
    """``{"src->tgt": pairs}`` of a set, for scores.json."""
    counts: Dict[str, int] = {}
    for utt, source in utt2spk.items():
        key = f"{source}->{utt2spk_tgt.get(utt, '?')}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


RECIPE = VCRecipe(
    name="vc",
    description="voice conversion: speech in, the same words in another voice out",
    kind="s2s",
    trained=True,
    espnet_task="espnet2_speecht5.tasks.vc:VCTask",
    train_module="espnet2_speecht5.bin.vc_train",
    inference_module="espnet2_speecht5.bin.vc_inference",
    required_files=("wav.scp", "wav_tgt.scp", "utt2spk", "spk2utt", "utt2spk_tgt"),
    aux_targets="speaker_embeddings",
    shape_keys=("speech", "speech_tgt"),
    fold_lengths=(80000, 80000),
    inference_models=("valid.loss.ave.pth", "valid.loss.best.pth", "latest.pth"),
    output="wav",
    metrics=("mcd", "mcd_source", "cer", "spk_sim_target", "spk_sim_source"),  # and details.wer
    pack_kind="s2st",
    transformers_class="SpeechT5ForSpeechToSpeech",
)
