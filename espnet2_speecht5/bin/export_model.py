"""Stages 12 and 13: pack helpers, the export folder, and the (explicit) upload.

Usage::

    # the files that the configs name and the zip must carry (one per line, for espnet2.bin.pack --option)
    python -m espnet2_speecht5.bin.export_model files exp/asr_x/config.yaml [exp/lm_x/config.yaml]
    # unpack a zip the way users will (espnet_model_zoo, offline) and check that its paths resolve
    python -m espnet2_speecht5.bin.export_model check exp/asr_x/asr_x_valid.acc.ave.zip
    # the export folder: the zip's contents plus a README.md model card
    python -m espnet2_speecht5.bin.export_model folder --zip Z --results exp/asr_x/RESULTS.md \\
        --task asr --corpus mini_speecht5 --outdir exp/asr_x/export [--hf_repo owner/name]
    # upload the export folder to the Hugging Face Hub (the only command here that uses the network)
    python -m espnet2_speecht5.bin.export_model upload --folder exp/asr_x/export --hf_repo owner/name
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.data.errors import DataError
from espnet2_speecht5.export.model_card import model_card
from espnet2_speecht5.export.package import check_archive, extract, referenced_files

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    files = sub.add_parser("files", help="list the files the configs name (relative to the current folder)")
    files.add_argument("configs", nargs="+", help="training config.yaml files")
    check = sub.add_parser("check", help="unpack with espnet_model_zoo and check the paths")
    check.add_argument("zip", help="the packed model")
    check.add_argument("--cachedir", help="unpack here and keep it (default: a temporary folder)")
    folder = sub.add_parser("folder", help="write the export folder with a model card")
    folder.add_argument("--zip", required=True, help="the packed model")
    folder.add_argument("--results", required=True, help="the experiment's RESULTS.md")
    folder.add_argument("--task", required=True, help="the driver's task, e.g. asr")
    folder.add_argument("--corpus", required=True, help="the recipe's corpus name")
    folder.add_argument("--outdir", required=True, help="the export folder (replaced)")
    folder.add_argument("--hf_repo", default="", help="the Hub repository the card should name")
    folder.add_argument("--language", default=None, help="ISO language code for the card")
    upload = sub.add_parser("upload", help="upload the export folder to the Hugging Face Hub")
    upload.add_argument("--folder", required=True, help="the export folder")
    upload.add_argument("--hf_repo", required=True, help="owner/name of the model repository")
    upload.add_argument("--private", default="false", choices=("true", "false"), help="create it private")
    return parser


def write_folder(args: argparse.Namespace) -> None:
    zip_path, outdir = Path(args.zip), Path(args.outdir)
    if not zip_path.is_file():
        raise DataError("does not exist: run stage 12 first (--stage 12)", zip_path)
    results = Path(args.results)
    if not results.is_file():
        raise DataError("does not exist: run stage 11 first (--stage 11)", results)
    if outdir.exists():
        shutil.rmtree(outdir)
    names = extract(zip_path, outdir)
    exp_name = zip_path.parent.name
    model_ref = args.hf_repo or str(zip_path.resolve())
    card = model_card(args.task, args.corpus, exp_name, results.read_text(encoding="utf-8"), model_ref,
                      language=args.language)
    (outdir / "README.md").write_text(card, encoding="utf-8")
    logger.info(f"export folder {outdir}: {len(names)} files from {zip_path.name} and README.md")


def upload(folder: Path, repo: str, private: bool) -> None:
    if not (folder / "meta.yaml").is_file() or not (folder / "README.md").is_file():
        raise DataError("is not an export folder (no meta.yaml or README.md): run stage 13 without uploading "
                        "first", folder)
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise DataError(f"--hf_repo must be owner/name, not '{repo}'")
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id=repo, repo_type="model", private=private, exist_ok=True)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="model",
                             commit_message="Upload an espnet2-speecht5 model")
    logger.info(f"uploaded {folder} to https://huggingface.co/{repo} ({info})")


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    if args.command == "files":
        for path in referenced_files(args.configs):
            print(path)
    elif args.command == "check":
        unpacked = check_archive(args.zip, args.cachedir)
        where = args.cachedir or "a temporary folder"
        logger.info(f"{args.zip}: unpacked by espnet_model_zoo into {where}; every config path resolves")
        for key, path in unpacked.items():
            logger.info(f"  {key}: {path}")
    elif args.command == "folder":
        write_folder(args)
    elif args.command == "upload":
        upload(Path(args.folder), args.hf_repo, args.private == "true")


if __name__ == "__main__":
    run_main(main)
