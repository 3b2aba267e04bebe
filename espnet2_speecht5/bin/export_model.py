"""Stages 12 and 13: pack helpers, the export folder, and the (explicit) upload.

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
import shutil
from pathlib import Path
from typing import List, Mapping, Optional, Tuple

import espnet2_speecht5
from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.checkpoint.io import save_text
from espnet2_speecht5.data.errors import DataError
from espnet2_speecht5.export.archive import add_checksums, verify_archive
from espnet2_speecht5.export.model_card import card_details, model_card
from espnet2_speecht5.export.package import check_archive, extract, load_yaml, referenced_files

logger = logging.getLogger(__name__)
PACKAGE_REPO = Path(espnet2_speecht5.__file__).resolve().parents[1]  # its git commit goes into the card


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
    upload = sub.add_parser("upload", help="upload the export folder to the Hugging Face Hub (or list it)")
    upload.add_argument("--folder", required=True, help="the export folder")
    upload.add_argument("--hf_repo", default="", help="owner/name of the model repository (none: only list)")
    upload.add_argument("--dry_run", action="store_true", help="only list what would be uploaded")
    upload.add_argument("--private", default="false", choices=("true", "false"), help="create it private")
    return parser


def to_safetensors(pth: Path, out: Path) -> int:
    """Write the state dict in ``pth`` to ``out`` as safetensors; return the number of tensors.

    The file is read back and must hold the same keys, shapes, dtypes and values.

    Raises:
        DataError: ``pth`` is unreadable or unsafe, not a state dict of tensors, or the copy differs.
    """
    import torch

    from espnet2_speecht5.checkpoint.io import load_checkpoint, save_safetensors

    state = load_checkpoint(pth)
    if isinstance(state, Mapping) and isinstance(state.get("module"), Mapping):
        state = state["module"]  # DeepSpeed layout
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError("is not a state dict of tensors", pth)
    save_safetensors(dict(state), out, metadata={"format": "pt", "source": pth.name})
    again = load_checkpoint(out)
    if set(again) != set(state):
        raise DataError(f"holds other keys than {pth} after the round trip", out)
    for key, value in state.items():
        copy = again[key]
        if copy.shape != value.shape or copy.dtype != value.dtype or not torch.equal(copy, value):
            raise DataError(f"tensor '{key}' differs from {pth} after the round trip", out)
    return len(state)


def write_folder(args: argparse.Namespace) -> None:
    """``folder``: the zip's contents as they are (ESPnet layout), the transformers files of the model
    that its meta.yaml names, and README.md; ``outdir`` is replaced. Run it from the recipe folder
    so that the card can count the training utterances."""
    zip_path, outdir = Path(args.zip), Path(args.outdir)
    if not zip_path.is_file():
        raise DataError("does not exist: run stage 12 first (--stage 12)", zip_path)
    results = Path(args.results)
    if not results.is_file():
        raise DataError("does not exist: run stage 11 first (--stage 11)", results)
    if outdir.exists():
        shutil.rmtree(outdir)
    # imported here: they import espnet, which prints to stdout (the "files" command's output)
    from espnet2_speecht5.export.transformers_export import espnet_files_from_meta, export_transformers
    from espnet2_speecht5.report.results_md import git_description

    names = extract(zip_path, outdir)
    train_config, model_file = espnet_files_from_meta(outdir, args.task)
    written = export_transformers(train_config, model_file, outdir, args.task)
    exp_name = zip_path.parent.name
    model_ref = args.hf_repo or str(zip_path.resolve())
    details = card_details(load_yaml(train_config), ".", commit=git_description(PACKAGE_REPO)[0], transformers=True,
                           folder_ref=args.hf_repo or str(outdir.resolve()))
    card = model_card(args.task, args.corpus, exp_name, results.read_text(encoding="utf-8"), model_ref,
                      language=args.language, details=details)
    save_text(card, outdir / "README.md")
    logger.info(f"export folder {outdir}: {len(names)} files from {zip_path.name} (ESPnet layout), "
                f"{', '.join(written)} (transformers) and README.md")


def folder_files(folder: Path) -> List[Tuple[str, int]]:
    """(path relative to ``folder``, size in bytes) of every file under ``folder``, sorted by path."""
    return sorted((path.relative_to(folder).as_posix(), path.stat().st_size)
                  for path in folder.rglob("*") if path.is_file())


def human_size(size: int) -> str:
    """Bytes as ``123 B``, ``4.5 kB`` or ``6.78 MB``."""
    if size < 1000:
        return f"{size} B"
    if size < 1000**2:
        return f"{size / 1000:.1f} kB"
    return f"{size / 1000**2:.2f} MB"


def hub_token() -> Optional[str]:
    """The Hugging Face token (HF_TOKEN, or the one ``huggingface-cli login`` stored), or None."""
    from huggingface_hub import get_token

    return get_token()


def list_upload(folder: Path, repo: str, reason: str) -> None:
    """Log what an upload of ``folder`` would send, why it did not happen, and how to make it happen."""
    files = folder_files(folder)
    total = sum(size for _, size in files)
    logger.info(f"would upload {len(files)} files ({total / 1000**2:.2f} MB) to {repo or 'owner/name'}:")
    for name, size in files:
        logger.info(f"  {name} ({human_size(size)})")
    logger.info(f"not uploaded: {reason}")


def upload(folder: Path, repo: str, private: bool, dry_run: bool = False) -> bool:
    """Upload the export folder to the Hub model repository ``repo``, or only list it.

    It uploads only when ``repo`` is given, a Hugging Face token is present and ``dry_run`` is off;
    otherwise it logs the files it would upload and how to upload them. Returns whether it uploaded.

    Raises:
        DataError: ``folder`` is not an export folder, or ``repo`` is not ``owner/name``.
    """
    if not (folder / "meta.yaml").is_file() or not (folder / "README.md").is_file():
        raise DataError("is not an export folder (no meta.yaml or README.md): run stage 13 (export_model folder) "
                        "first", folder)
    if repo and (repo.count("/") != 1 or not all(repo.split("/"))):
        raise DataError(f"--hf_repo must be owner/name, not '{repo}'")
    how = "set HF_TOKEN (or run huggingface-cli login)"
    if dry_run:
        list_upload(folder, repo, "--dry_run")
        return False
    if not repo:
        list_upload(folder, repo, f"no --hf_repo; to upload, pass --hf_repo owner/name (stage 13: ./run.sh --stage "
                                  f"13 --stop_stage 13 --hf_repo owner/name) and {how}")
        return False
    token = hub_token()
    if not token:
        list_upload(folder, repo, f"no Hugging Face token; to upload, {how} and run this again")
        return False
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id=repo, repo_type="model", private=private, exist_ok=True)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="model",
                             commit_message="Upload an espnet2-speecht5 model")
    logger.info(f"uploaded {folder} to https://huggingface.co/{repo} ({info})")
    return True


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
        write_folder(args)
    elif args.command == "upload":
        upload(Path(args.folder), args.hf_repo, args.private == "true", args.dry_run)


if __name__ == "__main__":
    run_main(main)
