"""``speecht5``: use packed SpeechT5 models from the shell.

Every ``--model`` is what ``from_pretrained`` takes: a stage-12 zip, an unpacked or exported
folder, an http(s) URL, a Hugging Face id ``owner/name``, or a transformers SpeechT5 folder.

Usage::

    speecht5 transcribe --model exp/asr/asr_valid.acc.best.zip a.wav b.flac ...   # one line per file
    speecht5 translate --model exp_de/st_train_char/st_train_char_valid.acc.best.zip a.wav ...   # ST: one line per file
    speecht5 synthesize --model exp/tts/tts.zip --text "the pen is red" --out pen.wav [--speaker NAME|x.npy]
    speecht5 synthesize --model exp/tts/tts.zip --text_file lines.txt --outdir wavs/   # "<name> <text>" lines
    speecht5 convert --model microsoft/speecht5_vc --source in.wav --target-speaker x.npy --out out.wav
    speecht5 convert --model exp/vc_train/vc_train_valid.loss.ave.zip --source in.wav --target-speaker slt --out out.wav
    speecht5 enhance --model exp/se_train/se_train_valid.loss.ave.zip --source noisy.wav --out clean.wav
    speecht5 enhance --model exp/se_train/se_train_valid.loss.ave.zip a.wav b.wav --outdir enhanced/
    speecht5 identify --model exp/sid/sid.zip a.wav ...                          # speaker identification
    speecht5 pack --task asr --train_config exp/asr/config.yaml --model_file exp/asr/valid.acc.best.pth --out m.zip
    speecht5 unpack m.zip --outdir m/                                            # verified, then extracted
    speecht5 export m.zip --outdir export/ [--hf_repo owner/name]                 # ESPnet + transformers folder

Files that cannot be read are reported on one line each and the others still run; the exit
status is then 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from espnet2_speecht5.bin.cli import run_main, str2bool
from espnet2_speecht5.recipes import all_recipes, get_recipe
from espnet2_speecht5.runtime.errors import DataError

logger = logging.getLogger("speecht5")


def _add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="zip, folder, URL, Hugging Face id or transformers folder")
    parser.add_argument("--cache_dir", default=None, help="download/unpack cache (default ~/.cache/espnet2_speecht5)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--quantize", action="store_true",
                        help="int8 linear layers: faster CPU inference, at a small cost in quality (see README)")


def _add_vocoder(parser: argparse.ArgumentParser, enhancement: bool = False) -> None:
    choices = ("griffin_lim", "hifigan", "noisy_phase") if enhancement else ("griffin_lim", "hifigan")
    parser.add_argument("--vocoder", default=None, choices=choices,
                        help="default: the packed inference config's, else griffin_lim"
                             + ("; noisy_phase: the predicted clean mel as a gain on the noisy recording, keeping "
                                "its phase and length" if enhancement else ""))
    parser.add_argument("--vocoder_file", default=None, help="HiFi-GAN transformers folder or official checkpoint")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="speecht5", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true", help="also show the libraries' progress logs")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("transcribe", help="speech recognition of audio files")
    _add_model(p)
    p.add_argument("files", nargs="+", help="audio files (any rate/channels; converted to 16 kHz mono)")
    p.add_argument("--beam_size", type=int, default=None, help="default: the packed inference config's")
    p.add_argument("--ctc_weight", type=float, default=None, help="default: the packed inference config's")
    p.add_argument("--names", type=str2bool, default=None,
                   help="print 'file<TAB>text' (default: only with several files)")

    p = sub.add_parser("translate", help="speech translation of audio files (an ST model)")
    _add_model(p)
    p.add_argument("files", nargs="+", help="audio files (any rate/channels; converted to 16 kHz mono)")
    p.add_argument("--beam_size", type=int, default=None, help="default: the packed inference config's")
    p.add_argument("--names", type=str2bool, default=None,
                   help="print 'file<TAB>translation' (default: only with several files)")

    p = sub.add_parser("synthesize", help="text to speech")
    _add_model(p)
    text = p.add_mutually_exclusive_group(required=True)
    text.add_argument("--text", help="one sentence")
    text.add_argument("--text_file", help="lines '<name> <text>'; writes <outdir>/<name>.wav")
    p.add_argument("--out", help="output wav for --text")
    p.add_argument("--outdir", help="output folder for --text_file")
    p.add_argument("--speaker", default=None, help="a packed speaker name or an x-vector .npy (default: the first)")
    p.add_argument("--text_normalizer", default=None, choices=("english", "none"),
                   help="default: the model's (english: numbers, symbols, abbreviations, case and punctuation; "
                        "long text in sentences joined with short pauses)")
    _add_vocoder(p)

    p = sub.add_parser("enhance", help="speech enhancement of audio files (noisy in, clean out)")
    _add_model(p)
    p.add_argument("--source", action="append", default=[], help="a noisy audio file (repeatable)")
    p.add_argument("files", nargs="*", help="more noisy audio files")
    p.add_argument("--out", help="output wav (one input)")
    p.add_argument("--outdir", help="output folder: <input name>.wav for each input")
    p.add_argument("--speaker", default=None,
                   help="an x-vector .npy of the noisy input, for a model trained with use_speaker_embedding")
    _add_vocoder(p, enhancement=True)

    p = sub.add_parser("convert", help="voice conversion of one file")
    _add_model(p)
    p.add_argument("--source", required=True, help="the input audio file")
    p.add_argument("--target-speaker", "--target_speaker", dest="target_speaker", default=None,
                   help="the target speaker: a name of the model's packed speaker table, or an x-vector .npy")
    p.add_argument("--out", required=True, help="output wav")
    _add_vocoder(p)

    p = sub.add_parser("identify", help="speaker identification of audio files")
    _add_model(p)
    p.add_argument("files", nargs="+", help="audio files")
    p.add_argument("--top", type=int, default=1, help="print the k best labels with probabilities")

    p = sub.add_parser("pack", help="pack a trained model as a verified model-zoo zip")
    p.add_argument("--task", required=True, choices=[r.name for r in all_recipes() if r.pack_kind])
    p.add_argument("--train_config", required=True)
    p.add_argument("--model_file", required=True)
    p.add_argument("--option", action="append", default=[], help="another file or folder to pack (repeatable)")
    p.add_argument("--out", required=True, help="the zip to write")
    p.add_argument("--base_dir", default=".", help="stored paths are relative to this folder (the recipe folder)")

    p = sub.add_parser("unpack", help="verify a model zip, then extract it")
    p.add_argument("zip")
    p.add_argument("--outdir", required=True)

    p = sub.add_parser("export", help="a folder for ESPnet and transformers (+ model card); upload with a token")
    p.add_argument("zip", help="a stage-12 zip")
    p.add_argument("--outdir", required=True)
    p.add_argument("--results", default=None, help="RESULTS.md for the card (default: the packed one)")
    p.add_argument("--corpus", default="unknown", help="corpus name for the card")
    p.add_argument("--hf_repo", default="", help="owner/name: upload there when a Hugging Face token is present")
    return parser


# --------------------------------------------------------------------------------- helpers


def _progress(items: List[Any], desc: str) -> Iterable[Any]:
    """``items`` with a progress bar on stderr when there are several."""
    if len(items) < 2:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="file", file=sys.stderr)


def _each(items: List[Any], desc: str, work: Callable[[Any], None], name: Callable[[Any], str] = str) -> int:
    """Run ``work`` on every item; a bad item is reported on one line and the rest still run.

    ``name(item)`` starts that line unless the message already holds it (``""``: nothing).
    Returns the number of failed items.
    """
    failed = 0
    for item in _progress(items, desc):
        try:
            work(item)
        except (DataError, OSError) as err:
            failed += 1
            message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            label = name(item)
            where = "" if not label or label in message else f"{label}: "
            from tqdm import tqdm

            tqdm.write(f"ERROR: {where}{message}", file=sys.stderr)  # above the progress bar, on its own line
    return failed


def _model_options(args: argparse.Namespace) -> Dict[str, Any]:
    """The options every inference class takes from ``_add_model``'s flags."""
    return {"device": args.device, "quantize_model": args.quantize}


def _set(options: Dict[str, Any], **values: Any) -> Dict[str, Any]:
    """``options`` plus the values that were given on the command line (not None)."""
    options.update({k: v for k, v in values.items() if v is not None})
    return options


def _write_wav(path: Path, wav: Any, rate: int) -> None:
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), wav, rate)
    logger.info(f"wrote {path} ({len(wav) / rate:.2f} s)")


# -------------------------------------------------------------------------------- commands


def transcribe(args: argparse.Namespace) -> int:
    from espnet2_speecht5.inference.speech2text import Speech2Text

    translating = args.command == "translate"
    options = _set(_model_options(args), beam_size=args.beam_size,
                   ctc_weight=None if translating else args.ctc_weight)
    asr = Speech2Text.from_pretrained(args.model, cache_dir=args.cache_dir, **options)
    if asr.translates != translating:
        other = "translate" if asr.translates else "transcribe"
        raise DataError(f"is {'a translation' if asr.translates else 'a recognition'} model: use speecht5 {other}",
                        args.model)
    names = args.names if args.names is not None else len(args.files) > 1

    def one(path: str) -> None:
        text = asr.transcribe(path)
        print(f"{path}\t{text}" if names else text, flush=True)

    return _each(args.files, args.command, one)


def _text_lines(path: str) -> List[Tuple[str, str]]:
    lines = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.strip().split(maxsplit=1)
            if len(parts) != 2:
                raise DataError("expected '<name> <text>'", path, number)
            lines.append((parts[0], parts[1]))
    if not lines:
        raise DataError("has no lines", path)
    return lines


def synthesize(args: argparse.Namespace) -> int:
    from espnet2_speecht5.inference.text2speech import Text2Speech

    if args.text is not None and not args.out:
        raise DataError("--text needs --out x.wav")
    if args.text_file is not None and not args.outdir:
        raise DataError("--text_file needs --outdir")
    jobs = [("", args.text)] if args.text is not None else _text_lines(args.text_file)
    options = _set(_model_options(args), vocoder=args.vocoder, vocoder_file=args.vocoder_file,
                   text_normalizer=args.text_normalizer)
    tts = Text2Speech.from_pretrained(args.model, cache_dir=args.cache_dir, **options)

    def one(job: Tuple[str, str]) -> None:
        name, text = job
        out = Path(args.out) if not name else Path(args.outdir) / f"{name}.wav"
        _write_wav(out, tts.synthesize(text, args.speaker), tts.sample_rate)

    return _each(jobs, "synthesize", one, name=lambda job: job[0])  # a --text_file line's name; "" for --text


def convert(args: argparse.Namespace) -> int:
    from espnet2_speecht5.inference.speech2speech import Speech2Speech

    options = _set(_model_options(args), vocoder=args.vocoder, vocoder_file=args.vocoder_file)
    vc = Speech2Speech.from_pretrained(args.model, cache_dir=args.cache_dir, **options)
    _write_wav(Path(args.out), vc(args.source, args.target_speaker), vc.sample_rate)
    return 0


def enhance(args: argparse.Namespace) -> int:
    from espnet2_speecht5.inference.speech2speech import Speech2Speech

    sources = [*args.source, *args.files]
    if not sources:
        raise DataError("give a noisy audio file (--source FILE or FILE ...)")
    if (args.out is None) == (args.outdir is None):
        raise DataError("give --out (one input) or --outdir (one wav per input), not both")
    if args.out is not None and len(sources) > 1:
        raise DataError(f"{len(sources)} inputs and one --out: use --outdir")
    options = _set(_model_options(args), vocoder=args.vocoder, vocoder_file=args.vocoder_file)
    se = Speech2Speech.from_pretrained(args.model, cache_dir=args.cache_dir, **options)
    if se.uses_speaker_embedding and not se.speaker_optional and args.speaker is None:
        raise DataError(f"{args.model} was trained with the x-vector of the noisy input: give --speaker x.npy")

    def one(path: str) -> None:
        out = Path(args.out) if args.out else Path(args.outdir) / (Path(path).stem + ".wav")
        _write_wav(out, se(path, args.speaker), se.sample_rate)

    return _each(sources, "enhance", one)


def identify(args: argparse.Namespace) -> int:
    from espnet2_speecht5.inference.speech2label import Speech2Label

    sid = Speech2Label.from_pretrained(args.model, cache_dir=args.cache_dir, device=args.device,
                                      quantize_model=args.quantize)

    def one(path: str) -> None:
        best = sid.top(path, args.top)
        print(path + "\t" + " ".join(f"{label}:{prob:.3f}" for label, prob in best), flush=True)

    return _each(args.files, "identify", one)


def pack(args: argparse.Namespace) -> int:
    from espnet2_speecht5.export.packing import pack_model

    out = pack_model(get_recipe(args.task).pack_kind, args.train_config, args.model_file, args.out, args.option,
                     args.base_dir)
    logger.info(f"packed {out}")
    return 0


def unpack(args: argparse.Namespace) -> int:
    from espnet2_speecht5.export.package import extract

    names = extract(args.zip, args.outdir)
    logger.info(f"{args.zip}: verified and extracted {len(names)} files into {args.outdir}")
    return 0


def export(args: argparse.Namespace) -> int:
    from espnet2_speecht5.checkpoint.archive import verify_archive
    from espnet2_speecht5.checkpoint.pack_keys import packed_kind
    from espnet2_speecht5.export.packing import export_folder

    meta = verify_archive(args.zip)
    kind = packed_kind(meta)
    tasks = [r for r in all_recipes() if r.pack_kind == kind and r.transformers_class]
    if not tasks:
        raise DataError(f"a packed '{kind}' model has no transformers export", args.zip)
    task = tasks[0] if len(tasks) == 1 else task_of_packed_config(args.zip, meta, tasks)
    export_folder(args.zip, args.outdir, task.name, corpus=args.corpus, results=args.results, hf_repo=args.hf_repo)
    return 0


def task_of_packed_config(zip_path: str, meta: dict, tasks: List[Any]) -> Any:
    """Of several tasks that pack the same kind (vc, se: ``s2st``), the one whose data names the zip's
    training config reads (``speech_tgt`` or ``speech_clean``)."""
    import zipfile

    import yaml

    from espnet2_speecht5.checkpoint.pack_keys import pack_keys

    config_key = pack_keys(tasks[0].pack_kind)[0]
    member = str(meta["yaml_files"][config_key])
    with zipfile.ZipFile(zip_path) as archive:
        config = yaml.safe_load(archive.read(member)) or {}
    names = {str(entry[1]) for entry in config.get("train_data_path_and_name_and_type") or [] if len(entry) > 1}
    for recipe in tasks:
        if set(recipe.shape_keys) <= names:
            return recipe
    raise DataError(f"its training config reads {', '.join(sorted(names)) or 'no data'}, which fits none of the "
                    f"tasks {', '.join(r.name for r in tasks)}", zip_path)


COMMANDS: Dict[str, Callable[[argparse.Namespace], int]] = {
    "transcribe": transcribe,
    "translate": transcribe,
    "synthesize": synthesize,
    "convert": convert,
    "enhance": enhance,
    "identify": identify,
    "pack": pack,
    "unpack": unpack,
    "export": export,
}


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    if not args.verbose:  # ESPnet's beam search logs every step at INFO on the root logger
        logging.getLogger().setLevel(logging.WARNING)
        for name in ("speecht5", "espnet2_speecht5"):
            logging.getLogger(name).setLevel(logging.INFO)
    failed = COMMANDS[args.command](args)
    if failed:
        raise DataError(f"{failed} of the inputs failed (listed above)")


def console_main() -> None:
    """The ``speecht5`` console script."""
    run_main(main)


if __name__ == "__main__":
    console_main()
