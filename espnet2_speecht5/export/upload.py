"""Stage 13: upload an export folder to the Hugging Face Hub, or only list what would be uploaded.

This is the only part of the export that uses the network, and only when asked: with a repository
name, a Hugging Face token, and no dry run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Optional, Tuple

from espnet2_speecht5.runtime.errors import DataError

logger = logging.getLogger(__name__)


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
    folder = Path(folder)
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
