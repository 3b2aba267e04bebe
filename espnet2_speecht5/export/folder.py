"""Stage 13: the export folder of a packed model (its ESPnet files, the transformers files, a model card)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import List, Optional

from espnet2_speecht5.checkpoint.io import save_text
from espnet2_speecht5.export.model_card import card_details, model_card
from espnet2_speecht5.export.package import extract, load_yaml
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger(__name__)
PACKAGE_REPO = Path(__file__).resolve().parents[2]  # the repository of this package: its git commit goes into the card


def write_folder(
    zip_path: PathLike,
    results: PathLike,
    task: str,
    corpus: str,
    outdir: PathLike,
    hf_repo: str = "",
    language: Optional[str] = None,
) -> None:
    """The zip's contents as they are (ESPnet layout), the transformers files of the model that its
    meta.yaml names, and README.md; ``outdir`` is replaced. Run it from the recipe folder so that the
    card can count the training utterances.

    Args:
        zip_path: the packed model (stage 12).
        results: the experiment's RESULTS.md (stage 11), quoted in the card.
        task: the driver's task, e.g. ``asr``.
        corpus: the recipe's corpus name.
        outdir: the export folder (replaced).
        hf_repo: the Hub repository the card should name (``owner/name``); none: the local paths.
        language: ISO language code for the card.

    Raises:
        DataError: a missing zip or RESULTS.md, or a zip the export cannot read.
    """
    zip_path, outdir, results = Path(zip_path), Path(outdir), Path(results)
    if not zip_path.is_file():
        raise DataError("does not exist: run stage 12 first (--stage 12)", zip_path)
    if not results.is_file():
        raise DataError("does not exist: run stage 11 first (--stage 11)", results)
    if outdir.exists():
        shutil.rmtree(outdir)
    # imported here: they import espnet, which prints to stdout (the output of ``export_model files``)
    from espnet2_speecht5.export.transformers_export import (
        espnet_files_from_meta,
        export_transformers,
        fbank_export_refusal,
    )
    from espnet2_speecht5.report.results_md import git_description

    names = extract(zip_path, outdir)
    train_config, model_file = espnet_files_from_meta(outdir, task)
    refusal = fbank_export_refusal(train_config)
    if refusal:  # the ESPnet side still goes out: the zip's files and the card
        logger.warning(f"{train_config}: {refusal}; the folder holds the ESPnet model only")
        written: List[str] = []
    else:
        written = export_transformers(train_config, model_file, outdir, task)
    exp_name = zip_path.parent.name
    model_ref = hf_repo or str(zip_path.resolve())
    details = card_details(load_yaml(train_config), ".", commit=git_description(PACKAGE_REPO)[0],
                           transformers=not refusal,
                           folder_ref=hf_repo or str(outdir.resolve()), speaker_default=speaker_default(task))
    card = model_card(task, corpus, exp_name, results.read_text(encoding="utf-8"), model_ref,
                      language=language, details=details)
    save_text(card, outdir / "README.md")
    logger.info(f"export folder {outdir}: {len(names)} files from {zip_path.name} (ESPnet layout), "
                f"{', '.join(written) or 'no files'} (transformers) and README.md")


def speaker_default(task: str) -> bool:
    """Whether the task's model takes a speaker embedding when its config does not say (se: no; tts, vc: yes)."""
    import inspect

    from espnet2_speecht5.checkpoint.transformers_targets import task_class, transformers_target

    model_class = task_class(transformers_target(task)).model_class
    parameter = inspect.signature(model_class.__init__).parameters.get("use_speaker_embedding")
    return bool(parameter.default) if parameter is not None else False
