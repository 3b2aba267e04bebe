"""Download a corpus archive once and unpack it, for the recipes' ``local/data.sh``.

Used only when a corpus is not already on disk (see each corpus's ``db.sh``).  The work is
resumable and never leaves a half-made corpus behind:

* the archive is downloaded to ``<dest>/<name>.part`` and renamed when complete;
* it is unpacked into ``<dest>/.unpack.tmp`` and moved into place when complete;
* ``<dest>/.done`` records the corpus root last, so a killed run simply starts again.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Optional

from espnet2_speecht5.data.kaldi_dir import atomic_write_text
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger("download")

DONE_FILE = ".done"


def archive_name(url: str) -> str:
    """The file name at the end of ``url`` (``master.tar.gz`` for ``.../master.tar.gz``)."""
    name = Path(urllib.parse.urlparse(url).path).name
    if not name:
        raise DataError(f"cannot tell the archive's file name from the URL {url}")
    return name


def fetch(url: str, target: Path) -> None:
    """Download ``url`` (http, https or file) to ``target`` atomically."""
    partial = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s to %s", url, target)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
    except (OSError, ValueError) as err:
        partial.unlink(missing_ok=True)
        raise DataError(f"could not download {url}: {err}") from None
    partial.replace(target)


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack a tar (any compression) or zip ``archive`` into ``dest``; return the corpus root.

    The root is the archive's single top-level folder when it has one, else ``dest`` itself.
    Members that would land outside ``dest`` (absolute paths, ``..``, links out) are refused.
    """
    staging = dest / ".unpack.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tar:
                tar.extractall(staging, filter="data")
        elif zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zipped:
                for member in zipped.namelist():
                    resolved = (staging / member).resolve()
                    if not resolved.is_relative_to(staging.resolve()):
                        raise DataError(f"archive member '{member}' would be written outside {dest}", archive)
                zipped.extractall(staging)
        else:
            raise DataError("not a tar or zip archive", archive)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise DataError(f"cannot unpack: {err}", archive) from None
    entries = list(staging.iterdir())
    for entry in entries:
        final = dest / entry.name
        if final.exists():
            shutil.rmtree(final) if final.is_dir() else final.unlink()
        entry.replace(final)
    staging.rmdir()
    if len(entries) == 1 and (dest / entries[0].name).is_dir():
        return dest / entries[0].name
    return dest


def download_and_unpack(url: str, dest: PathLike, keep_archive: bool = False) -> Path:
    """Make the corpus at ``url`` available under ``dest`` and return its root folder.

    A second call finds ``<dest>/.done`` and returns at once without touching the network.
    """
    dest = Path(dest).resolve()
    done = dest / DONE_FILE
    if done.is_file():
        root = Path(done.read_text(encoding="utf-8").strip())
        if root.is_dir():
            return root
        logger.info("%s names %s, which is gone: downloading again", done, root)
    local = not urllib.parse.urlparse(url).scheme
    if local and not Path(url).is_file():
        raise DataError("archive does not exist", url)
    # A local archive is unpacked where it lies and never deleted.
    archive = Path(url) if local else dest / archive_name(url)
    if not archive.is_file():
        fetch(url, archive)
    root = unpack(archive, dest)
    if not keep_archive and not local:
        archive.unlink()
    atomic_write_text(done, f"{root}\n")
    logger.info("unpacked %s into %s", url, root)
    return root


def find_file(root: PathLike, relative: str) -> Optional[Path]:
    """The first folder under ``root`` (itself included, breadth first) that holds ``relative``."""
    queue = [Path(root)]
    while queue:
        folder = queue.pop(0)
        if (folder / relative).exists():
            return folder
        queue.extend(sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")))
    return None
