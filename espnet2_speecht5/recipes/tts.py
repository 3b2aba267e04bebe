"""TTS: text and a speaker x-vector in, speech out; scored by MCD, an ASR model's CER/WER and speaker similarity."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import yaml

from espnet2_speecht5.recipes.base import Context, TaskRecipe, shell_words
from espnet2_speecht5.recipes.files import require
from espnet2_speecht5.recipes.merging import generation_record
from espnet2_speecht5.runtime.errors import DataError

logger = logging.getLogger(__name__)
TTS_NOTE = "\nCER and WER: the synthesised speech recognised by an ASR model; sclite's details follow.\n"
CEILINGS = {
    "recordings": "the ASR model on the recordings themselves",
    "copy_synthesis": "the ASR model on the recordings' Griffin-Lim copy synthesis (their log-mel, stage 9's vocoder)",
}


class TTSRecipe(TaskRecipe):
    """Multi-speaker speech synthesis (stages 1-13)."""

    def xvectors(self, ctx: Context, data: Path) -> Path:
        return Path(ctx.xvector_dir) / data.name / "xvector.scp"

    def require_inputs(self, ctx: Context, dset: str) -> None:
        require(self.xvectors(ctx, ctx.raw(dset)), 6)

    def data_options(self, ctx: Context, mode: str, data: Path) -> List[str]:
        spk = require(self.xvectors(ctx, data), 6)
        if mode == "test":
            # the batch size comes from the decoding config; plots draw the recording above the synthesis
            return ["--data_path_and_name_and_type", f"{data}/text,text,text",
                    "--data_path_and_name_and_type", f"{spk},spembs,kaldi_ark", "--ref_wav_scp", f"{data}/wav.scp"]
        key = f"--{mode}_data_path_and_name_and_type"
        return [key, f"{data}/text,text,text", key, f"{data}/wav.scp,speech,sound", key, f"{spk},spembs,kaldi_ark"]

    def scorer_args(self, ctx: Context, dset: str, decode_dir: Path) -> List[str]:
        """The arguments of the TTS scorer for one set: the ASR model that transcribes, the speaker model."""
        ref = ctx.raw(dset)
        args = ["--ref_scp", str(ref / "wav.scp"), "--hyp_scp", str(require(decode_dir / dset / "wav.scp", 9)),
                "--ref_text", str(ref / "text"), "--utt2spk", str(ref / "utt2spk")]
        args += asr_model_args(ctx) + speaker_model_args(ctx)
        return args + ["--outdir", str(decode_dir / dset), *shell_words(ctx.score_args)]

    def score(self, ctx: Context, dset: str, decode_dir: Path, model: str) -> Dict[str, object]:
        from espnet2_speecht5.recipes.text_scoring import sclite_version
        from espnet2_speecht5.scoring.sclite import parse_sclite_report
        from espnet2_speecht5.scoring.scores_file import package_version, write_scores
        from espnet2_speecht5.scoring.tts_scorer import main as score_tts
        from espnet2_speecht5.scoring.tts_summary import SUMMARY_FILE, read_summary

        args = self.scorer_args(ctx, dset, decode_dir)
        score_tts(args)
        outdir = decode_dir / dset
        summary = read_summary(outdir / SUMMARY_FILE)
        ceilings = {}
        if summary["cer"] is not None:
            for name, ceiling_args in self.ceiling_args(ctx, dset, decode_dir).items():
                logger.info(f"stage 10: {dset}: ceiling: {CEILINGS[name]}")
                score_tts(ceiling_args)
                ceiling = read_summary(Path(ceiling_args[ceiling_args.index("--outdir") + 1]) / SUMMARY_FILE)
                ceilings[name] = {key: ceiling[key] for key in ("cer", "wer", "mcd_mean", "mcd_std")}
        sclite = {}
        tools = {"pyworld": package_version("pyworld"), "pysptk": package_version("pysptk")}
        for metric in ("wer", "cer"):
            report = outdir / f"score_{metric}" / "result.txt"
            if summary[metric] is not None and report.is_file():
                sclite[metric] = parse_sclite_report(report.read_text(encoding="utf-8"), str(report)).percent.as_dict()
                tools["sclite"] = sclite_version(report)
        tools.update(model_tools(args))
        metrics = {"mcd": summary["mcd_mean"], "cer": summary["cer"], "wer": summary["wer"],
                   "spk_sim": summary["speaker_similarity"]}
        details = {"mcd_std": summary["mcd_std"], "utterances": summary["utterances"], "sclite": sclite,
                   "generation": generation_record(outdir), "ceilings": ceilings}
        return write_scores(outdir / "scores.json", self.name, dset, str(Path(ctx.task_exp) / model), metrics,
                            self.metrics, tools, details)

    def ceiling_args(self, ctx: Context, dset: str, decode_dir: Path) -> Dict[str, List[str]]:
        """The scorer's arguments for what the ASR model makes of the recordings themselves and, when stage 9
        used Griffin-Lim, of their Griffin-Lim copy synthesis (written here): the best the synthesis can score."""
        from espnet2_speecht5.scoring.copy_synthesis import copy_synthesise

        ref, out = ctx.raw(dset), decode_dir / dset
        common = ["--ref_text", str(ref / "text"), "--utt2spk", str(ref / "utt2spk"), *asr_model_args(ctx),
                  *shell_words(ctx.score_args)]
        args = {"recordings": ["--hyp_scp", str(ref / "wav.scp"), "--ref_scp", str(ref / "wav.scp"), "--mcd", "false",
                               "--outdir", str(out / "ceiling_recordings"), *common]}
        vocoder = inference_vocoder(ctx.inference_config)
        if vocoder == "griffin_lim":
            from espnet2_speecht5.vocoder.griffin_lim import GriffinLimVocoder

            options = inference_config(ctx.inference_config).get("vocoder_conf") or {}
            scp = copy_synthesise(ref / "wav.scp", out / "ceiling_copy_synthesis", GriffinLimVocoder(**options))
            args["copy_synthesis"] = ["--hyp_scp", str(scp), "--ref_scp", str(ref / "wav.scp"),
                                      "--outdir", str(out / "ceiling_copy_synthesis"), *common]
        else:
            logger.info(f"stage 10: stage 9 used the vocoder '{vocoder}', not griffin_lim: no copy-synthesis ceiling")
        return args

    def results_section(self, exp_dir: Path, rows: Sequence[Tuple[str, Dict[str, object]]]) -> str:
        from espnet2_speecht5.recipes.text_scoring import sclite_section
        from espnet2_speecht5.report.results_md import tts_ceiling_table, tts_table

        tables = sclite_section(rows)
        return ("\n### TTS\n\n" + tts_table(rows) + tts_ceiling_table(rows)
                + (TTS_NOTE if tables else "") + tables)

    def extra_pack_files(self, ctx: Context) -> List[Path]:
        # the training speakers' mean x-vectors, so that a user can pick a voice by name
        spk = Path(ctx.xvector_dir) / ctx.data_train_set / "spk_xvector.ark"
        return [spk] if spk.is_file() else []


def asr_model_args(ctx: Context) -> List[str]:
    """The scorer's ASR model: ``--asr_model_zip``, ``--asr_exp``, or the ASR recipe beside this one."""
    if ctx.asr_model_zip:
        if not Path(ctx.asr_model_zip).is_file():
            raise DataError("does not exist (--asr_model_zip)", ctx.asr_model_zip)
        args = ["--asr_model_zip", ctx.asr_model_zip]
    else:
        asr_dir = Path(ctx.asr_exp or f"../asr1/exp/asr_train_{token_tag(ctx)}")
        if not (asr_dir / "config.yaml").is_file() or not (asr_dir / ctx.asr_model).is_file():
            raise DataError(f"stage 10 transcribes the generated speech with an ASR model, and "
                            f"{asr_dir / ctx.asr_model} does not exist: train one (cd ../asr1 && ./run.sh "
                            "--stop_stage 8), or pass --asr_exp DIR or --asr_model_zip ZIP")
        args = ["--asr_train_config", str(asr_dir / "config.yaml"), "--asr_model_file", str(asr_dir / ctx.asr_model)]
    sibling = Path("../asr1/conf/decode.yaml")  # the ASR recipe beside this one
    decode_conf = ctx.asr_decode_config or (str(sibling) if sibling.is_file() else "")
    if decode_conf:
        args += ["--asr_decode_config", decode_conf]
    return args


def speaker_model_args(ctx: Context) -> List[str]:
    """The scorer's speaker model: the one stage 6 recorded in ``<xvector_dir>/spk_model.yaml``, if any,
    unless ``--score_args`` names an independent one (``--spk_train_config``, ``--spk_model_file``)."""
    if "--spk_model_file" in shell_words(ctx.score_args):
        logger.info("stage 10: speaker similarity with the speaker model of --score_args")
        return []
    spk_record = Path(ctx.xvector_dir) / "spk_model.yaml"
    if not spk_record.is_file():
        logger.info(f"stage 10: no speaker model recorded in {spk_record}: no speaker similarity")
        return []
    spk = yaml.safe_load(spk_record.read_text(encoding="utf-8"))
    return ["--spk_train_config", str(spk["train_config"]), "--spk_model_file", str(spk["model_file"])]


def inference_config(path: str) -> Dict[str, object]:
    """The inference config stage 9 used, as a dict (empty when there is none)."""
    if not path or not Path(path).is_file():
        return {}
    config = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return config if isinstance(config, dict) else {}


def inference_vocoder(path: str) -> str:
    """The vocoder stage 9 synthesised with: ``vocoder`` of the inference config, else Griffin-Lim (the default)."""
    return str(inference_config(path).get("vocoder", "griffin_lim"))


def model_tools(args: List[str]) -> Dict[str, str]:
    """``{"asr_model": ..., "spk_model": ...}``: the models a scorer's arguments name, for scores.json."""
    tools = {}
    for option, name in (("--asr_model_zip", "asr_model"), ("--asr_model_file", "asr_model"),
                         ("--spk_model_file", "spk_model")):
        if option in args:
            tools[name] = args[args.index(option) + 1]
    return tools


def token_tag(ctx: Context) -> str:
    """``char``, ``word`` or ``bpe<N>``: how experiment folders name the token list."""
    return f"bpe{ctx.nbpe}" if ctx.token_type == "bpe" else ctx.token_type


RECIPE = TTSRecipe(
    name="tts",
    description="multi-speaker speech synthesis: text and an x-vector in, speech out",
    kind="t2s",
    trained=True,
    espnet_task="espnet2_speecht5.tasks.tts:TTSTask",
    train_module="espnet2_speecht5.bin.tts_train",
    inference_module="espnet2_speecht5.bin.tts_inference",
    required_files=("wav.scp", "text", "utt2spk", "spk2utt"),
    text_files=("text",),
    token_lists="source",
    aux_targets="speaker_embeddings",
    shape_keys=("text", "speech"),
    fold_lengths=(150, 204800),  # 800 mel frames of 256 samples
    vocab_shape_keys=("text",),
    inference_models=("valid.loss.ave.pth", "valid.loss.best.pth", "latest.pth"),
    output="wav",
    metrics=("mcd", "cer", "wer", "spk_sim"),
    pack_kind="tts",
    transformers_class="SpeechT5ForTextToSpeech",
)
