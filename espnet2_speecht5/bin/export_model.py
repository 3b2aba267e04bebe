"""Stages 12 and 13: pack helpers, the export folder, and the (explicit) upload (:mod:`espnet2_speecht5.export`).

Usage::

    # the files that the configs name and the zip must carry (one per line, for espnet2.bin.pack --option)
    python -m espnet2_speecht5.bin.export_model files exp/asr_x/config.yaml [exp/lm_x/config.yaml]
    # the weights of a .pth as safetensors (written atomically; keys, shapes and values checked)
    python -m espnet2_speecht5.bin.export_model safetensors exp/asr_x/m.pth exp/asr_x/m.safetensors
    # add sha256 checksums of every member to the zip's meta.yaml
    python -m espnet2_speecht5.bin.export_model checksum exp/asr_x/asr_x_valid.acc.ave.zip
    # verify the zip (names, CRCs, checksums), unpack it the way users will (espnet_model_zoo,
    # offline) and check that its paths resolve
    python -m espnet2_speecht5.bin.export_model check exp/asr_x/asr_x_valid.acc.ave.zip
    # the export folder: the zip's contents (ESPnet layout, meta.yaml at the top), the transformers
    # files of the model meta.yaml names (config.json, model.safetensors, ...) and a README.md model card
    python -m espnet2_speecht5.bin.export_model folder --zip Z --results exp/asr_x/RESULTS.md \\
        --task asr --corpus mini_speecht5 --outdir exp/asr_x/export [--hf_repo owner/name]
    # upload the export folder to the Hugging Face Hub (the only command here that uses the network);
    # without --hf_repo or a token (HF_TOKEN, or huggingface-cli login), or with --dry_run, it only
    # lists what it would upload
    python -m espnet2_speecht5.bin.export_model upload --folder exp/asr_x/export [--hf_repo owner/name] [--dry_run]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import List, Optional

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.checkpoint.archive import add_checksums, verify_archive
from espnet2_speecht5.export.folder import write_folder
from espnet2_speecht5.export.package import check_archive, referenced_files
from espnet2_speecht5.export.packing import to_safetensors
from espnet2_speecht5.export.upload import upload

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    files = sub.add_parser("files", help="list the files the configs name (relative to the current folder)")
    files.add_argument("configs", nargs="+", help="training config.yaml files")
    tensors = sub.add_parser("safetensors", help="write the weights of a .pth as safetensors")
    tensors.add_argument("pth", help="the model's state dict (.pth)")
    tensors.add_argument("out", help="the .safetensors file to write")
    checksum = sub.add_parser("checksum", help="add sha256 checksums of the members to the zip's meta.yaml")
    checksum.add_argument("zip", help="the packed model (rewritten in place, atomically)")
    check = sub.add_parser("check", help="verify the zip, unpack with espnet_model_zoo and check the paths")
    check.add_argument("zip", help="the packed model")
    check.add_argument("--cachedir", help="unpack here and keep it (default: a temporary folder)")
    folder = sub.add_parser("folder", help="write the export folder (ESPnet + transformers files, model card)")
    folder.add_argument("--zip", required=True, help="the packed model")
    folder.add_argument("--results", required=True, help="the experiment's RESULTS.md")
    folder.add_argument("--task", required=True, help="the driver's task, e.g. asr")
    folder.add_argument("--corpus", required=True, help="the recipe's corpus name")
    folder.add_argument("--outdir", required=True, help="the export folder (replaced)")
    folder.add_argument("--hf_repo", default="", help="the Hub repository the card should name")
    folder.add_argument("--language", default=None, help="ISO language code for the card")
    hub = sub.add_parser("upload", help="upload the export folder to the Hugging Face Hub (or list it)")
    hub.add_argument("--folder", required=True, help="the export folder")
    hub.add_argument("--hf_repo", default="", help="owner/name of the model repository (none: only list)")
    hub.add_argument("--dry_run", action="store_true", help="only list what would be uploaded")
    hub.add_argument("--private", default="false", choices=("true", "false"), help="create it private")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    if args.command == "files":
        for path in referenced_files(args.configs):
            print(path)
    elif args.command == "safetensors":
        count = to_safetensors(Path(args.pth), Path(args.out))
        logger.info(f"{args.out}: {count} tensors from {args.pth} (keys, shapes and values checked)")
    elif args.command == "checksum":
        digests = add_checksums(args.zip)
        logger.info(f"{args.zip}: sha256 of {len(digests)} members added to meta.yaml")
    elif args.command == "check":
        verify_archive(args.zip)
        unpacked = check_archive(args.zip, args.cachedir)
        where = args.cachedir or "a temporary folder"
        logger.info(f"{args.zip}: unpacked by espnet_model_zoo into {where}; every config path resolves")
        for key, path in unpacked.items():
            logger.info(f"  {key}: {path}")
    elif args.command == "folder":
        write_folder(args.zip, args.results, args.task, args.corpus, args.outdir, args.hf_repo, args.language)
    elif args.command == "upload":
        upload(Path(args.folder), args.hf_repo, args.private == "true", args.dry_run)


if __name__ == "__main__":
    run_main(main)
