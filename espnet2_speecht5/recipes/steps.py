"""Stages 11-13 for any task: RESULTS.md from ``scores.json``, the model-zoo zip, the export folder.

Stage 12 here is the one implementation of packing; ``speecht5 pack`` calls the same
:func:`espnet2_speecht5.export.packing.pack_model`.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import List, Optional

from espnet2_speecht5.recipes.base import Context, TaskRecipe
from espnet2_speecht5.recipes.files import require
from espnet2_speecht5.runtime.errors import DataError

logger = logging.getLogger(__name__)


def default_repo() -> str:
    """The repository whose commit RESULTS.md names: ``$SPEECHT5_ROOT`` (path.sh), else this package's."""
    return os.environ.get("SPEECHT5_ROOT") or str(Path(__file__).resolve().parents[2])


def results_text(exp: Path, model_file: Optional[str] = None, config: Optional[str] = None, images: str = "",
                 repo: Optional[str] = None, date: Optional[str] = None) -> str:
    """The RESULTS.md of experiment folder ``exp``, from its ``*/<set>/scores.json``, in its task's tables.

    Raises:
        DataError: no scores.json under ``exp``, or files of several tasks.
    """
    from espnet2_speecht5.recipes import get_recipe
    from espnet2_speecht5.report.results_md import make_results_md, plots_line
    from espnet2_speecht5.scoring.scores_file import collect_scores

    if not Path(exp).is_dir():
        raise DataError("does not exist: run stage 8 first (--stage 8)", exp)
    rows = collect_scores(exp)
    if not rows:
        raise DataError(f"no */*/scores.json under {exp}: run stage 10 first (--stage 10)")
    tasks = sorted({str(scores["task"]) for _, scores in rows})
    if len(tasks) > 1:
        raise DataError(f"holds the scores of several tasks ({', '.join(tasks)})", exp)
    body = get_recipe(tasks[0]).results_section(Path(exp), rows)
    return make_results_md(exp, body, repo or default_repo(), model_file, config, plots_line(images), date)


def write_results(text: str, out: Path, recipe_copy: Optional[Path] = None) -> None:
    """Write ``text`` to ``out`` and merge its section into ``recipe_copy`` (the recipe folder's RESULTS.md)."""
    from espnet2_speecht5.report.results_md import merge_into

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    if recipe_copy is not None:
        existing = recipe_copy.read_text(encoding="utf-8") if recipe_copy.is_file() else ""
        recipe_copy.write_text(merge_into(existing, text), encoding="utf-8")


def report(recipe: TaskRecipe, ctx: Context, model: str, images: str = "", repo: Optional[str] = None) -> str:
    """Stage 11: ``<exp>/RESULTS.md`` from ``<exp>/*/<set>/scores.json``, merged into the recipe's RESULTS.md."""
    exp = Path(ctx.task_exp)
    require(recipe.decode_dir(ctx, model), 9)
    text = results_text(exp, str(exp / model), str(exp / "config.yaml"), images, repo)
    copy = Path("RESULTS.md")
    write_results(text, exp / "RESULTS.md", copy)
    if images and Path(images).is_dir():
        logger.info(f"stage 11: plots in {images}: "
                    + " ".join(sorted(str(p.relative_to(images)) for p in Path(images).rglob("*.png"))))
    logger.info(f"stage 11: wrote {exp / 'RESULTS.md'} and merged it into {copy.resolve()}")
    return text


def packed_zip(ctx: Context, model: str) -> Path:
    """``<exp>/<exp name>_<model>.zip``."""
    exp = Path(ctx.task_exp)
    return exp / f"{exp.name}_{model[:-len('.pth')] if model.endswith('.pth') else model}.zip"


def pack_model_of_recipe(recipe: TaskRecipe, ctx: Context, model: str, images: str = "") -> Path:
    """Stage 12: the zip of the experiment's ``model`` with everything ``from_pretrained`` needs."""
    from espnet2_speecht5.export.packing import pack_model

    exp = Path(ctx.task_exp)
    model_file = require(exp / model, 8)
    require(exp / "RESULTS.md", 11)
    options: List[Path] = []
    if recipe.uses_inference_config:
        # stage 9's decoding options travel as inference.yaml: from_pretrained decodes the way RESULTS.md was made
        if not Path(ctx.inference_config).is_file():
            raise DataError("does not exist (--inference_config)", ctx.inference_config)
        shutil.copyfile(ctx.inference_config, exp / "inference.yaml")
        options.append(exp / "inference.yaml")
    options += recipe.extra_pack_files(ctx)
    lm = None
    if ctx.flag("use_lm"):
        lm = (Path(ctx.lm_model_config), require(Path(ctx.lm_model_file), 8))
    options.append(exp / "RESULTS.md")
    if images and Path(images).is_dir():
        options.append(Path(images))
    zip_path = packed_zip(ctx, model)
    zip_path.unlink(missing_ok=True)
    pack_model(recipe.pack_kind or "", exp / "config.yaml", model_file, zip_path, options, lm=lm)
    logger.info(f"stage 12: packed {zip_path} ({zip_path.stat().st_size / 1e6:.1f} MB) with sha256 checksums: "
                + " ".join(str(p) for p in [exp / "config.yaml", model_file, *options]))
    return zip_path


def publish(recipe: TaskRecipe, ctx: Context, model: str) -> Optional[Path]:
    """Stage 13: the export folder with its model card; the upload only with --hf_repo and a token."""
    zip_path = require(packed_zip(ctx, model), 12)
    if recipe.transformers_class is None:
        logger.info(f"stage 13: skipped: {recipe.no_export_reason}; {zip_path} is the release")
        return None
    from espnet2_speecht5.export.folder import write_folder
    from espnet2_speecht5.export.upload import upload

    outdir = Path(ctx.task_exp) / "export"
    write_folder(zip_path, Path(ctx.task_exp) / "RESULTS.md", recipe.name, ctx.corpus or "unknown", outdir,
                 hf_repo=ctx.hf_repo)
    upload(outdir, ctx.hf_repo, private=False)
    logger.info(f"stage 13: the export folder is {outdir}")
    return outdir
