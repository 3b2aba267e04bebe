"""Model-zoo archives that cannot write outside their folder, and whose contents are checked.

A packed model (``python -m espnet2.bin.pack``) is a zip with a ``meta.yaml`` that names the
training config(s) (``yaml_files``) and the model file(s) (``files``).  espnet_model_zoo's
``ModelDownloader`` writes each member to ``<cachedir>/<member name>`` and trusts the member
names, so an archive from the internet must be checked before it is unpacked:

* :func:`add_checksums` (stage 12) adds ``sha256: {member name: hex digest}`` to meta.yaml, for
  every member but meta.yaml itself; the other keys stay as they are, so ESPnet still reads it.
* :func:`verify_archive` refuses, with one line naming the zip and the member: a missing,
  truncated or non-zip file; more than 10,000 members or 50 GiB unpacked (a zip bomb; the
  environment variables ``SPEECHT5_MAX_ZIP_MEMBERS`` and ``SPEECHT5_MAX_ZIP_BYTES`` move the
  limits); absolute, drive-letter, ``..`` or backslash-climbing member names;
  symlink members; duplicate names; a missing or malformed meta.yaml; a file that meta.yaml names
  but the zip lacks; a member with a CRC error; a member whose digest differs from meta.yaml's.
* :func:`verify_folder` runs the same checks on an unpacked folder.
* :func:`unpack_verified` verifies, then unpacks with ``ModelDownloader`` into a cache folder keyed
  by the zip's own digest, so a changed zip is unpacked afresh and the same zip is unpacked once.

Weights inside are still only read through :func:`espnet2_speecht5.checkpoint.io.load_checkpoint`,
which refuses pickles that would run code; these checks make sure that unpacking itself is safe.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import stat
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO, Dict, List, Tuple, Union

import yaml

from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.runtime.types import PathLike

logger = logging.getLogger(__name__)

META = "meta.yaml"
CHUNK_BYTES = 1 << 20
MAX_META_BYTES = 1 << 20  # a meta.yaml lists a handful of files; anything larger is not one
# Unpacking limits (a zip bomb: a small archive that unpacks to more than the disk holds, or to a
# flood of files). The sizes are the members' declared ones, which zipfile never reads past.
MAX_MEMBERS_ENV, MAX_MEMBERS = "SPEECHT5_MAX_ZIP_MEMBERS", 10_000
MAX_UNPACKED_ENV, MAX_UNPACKED_BYTES = "SPEECHT5_MAX_ZIP_BYTES", 50 << 30
CACHE_MARKER = "unpacked.yaml"  # written into <cache_root>/<digest> once an unpack has been checked
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# What reading a damaged member can raise: CRC errors (BadZipFile), cut-off data, bad deflate streams.
_READ_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error, OSError, NotImplementedError, RuntimeError)


def unsafe_member(name: str) -> bool:
    """Whether an archive member name is absolute or goes up a folder (``..``), on any platform.

    Backslashes count as separators too (``exp\\..\\..\\x``), and so do drive letters (``C:x``).
    """
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if not name or posix.is_absolute() or windows.is_absolute() or windows.drive or name.startswith(("/", "\\")):
        return True
    return ".." in posix.parts or ".." in windows.parts


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def file_sha256(path: PathLike) -> str:
    """Hex sha256 of a file on disk, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _stream_sha256(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    """Unix mode bits in the upper half of ``external_attr`` mark a symbolic link."""
    return stat.S_ISLNK(info.external_attr >> 16)


# ---------------------------------------------------------------------------- reading a zip
def _open_zip(zip_path: Path) -> zipfile.ZipFile:
    if not zip_path.is_file():
        raise DataError("no such model archive", zip_path)
    try:
        return zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise DataError(f"not a zip archive, or a truncated one ({_one_line(err)})", zip_path) from None


def _check_start(infos: List[zipfile.ZipInfo], zip_path: Path) -> None:
    """Refuse data before the first member: a cut-off archive whose stored ``.pth`` (itself a zip)
    lends zipfile its directory looks like that, and packed models never start with a stub."""
    start = min((info.header_offset for info in infos), default=0)
    if start:
        raise DataError(f"truncated or damaged: the zip directory found describes data from byte {start} on, "
                        "not the whole file", zip_path)


def _check_names(infos: List[zipfile.ZipInfo], zip_path: Path) -> None:
    """Refuse unsafe or duplicate member names, symlink members, and a meta.yaml that is not read first."""
    seen = set()
    for info in infos:
        name = info.filename
        if unsafe_member(name):
            raise DataError(f"refusing the unsafe member name '{name}' (absolute, with a drive or with '..')",
                            zip_path)
        if _is_symlink(info):
            raise DataError(f"refusing the symbolic link member '{name}'", zip_path)
        if name in seen:
            raise DataError(f"member '{name}' appears twice (which copy gets unpacked is undefined)", zip_path)
        seen.add(name)
    if META not in seen:
        raise DataError(f"has no {META}: not a packed ESPnet model", zip_path)
    first_meta = next(info.filename for info in infos if PurePosixPath(info.filename).name == META)
    if first_meta != META:
        raise DataError(f"member '{first_meta}' comes before the top-level {META} (espnet_model_zoo would "
                        f"read it instead)", zip_path)


def _limit(env: str, default: int) -> int:
    value = os.environ.get(env, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise DataError(f"must be a whole number, got {value!r}", f"${env}") from None


def _check_unpacked_size(infos: List[zipfile.ZipInfo], zip_path: Path) -> None:
    """Refuse an archive with more members, or more unpacked bytes, than the limits allow."""
    members = _limit(MAX_MEMBERS_ENV, MAX_MEMBERS)
    if len(infos) > members:
        raise DataError(f"has {len(infos)} members, more than the {members} allowed (a zip bomb? "
                        f"${MAX_MEMBERS_ENV} raises the limit)", zip_path)
    total, allowed = sum(info.file_size for info in infos), _limit(MAX_UNPACKED_ENV, MAX_UNPACKED_BYTES)
    if total > allowed:
        packed = max(zip_path.stat().st_size, 1)
        raise DataError(f"would unpack to {total} bytes ({total / packed:.0f} times its size), more than the "
                        f"{allowed} allowed (a zip bomb? ${MAX_UNPACKED_ENV} raises the limit)", zip_path)


def _read_member(archive: zipfile.ZipFile, name: str, zip_path: Path, limit: int) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise DataError(f"member '{name}' is {info.file_size} bytes, more than the {limit} allowed", zip_path)
    try:
        with archive.open(info) as stream:
            return stream.read(limit + 1)
    except _READ_ERRORS as err:
        raise DataError(f"member '{name}' cannot be read ({_one_line(err)})", zip_path) from None


def _member_sha256(archive: zipfile.ZipFile, info: zipfile.ZipInfo, zip_path: Path) -> str:
    """Digest of one member, streamed; zipfile checks its CRC when the stream ends."""
    try:
        with archive.open(info) as stream:
            return _stream_sha256(stream)
    except _READ_ERRORS as err:
        raise DataError(f"member '{info.filename}' is damaged ({_one_line(err)})", zip_path) from None


# ---------------------------------------------------------------------------- meta.yaml
def _parse_meta(data: bytes, where: Path) -> Dict[str, Any]:
    """meta.yaml as a mapping whose ``files``/``yaml_files`` map keys to safe relative names.

    Raises:
        DataError: naming ``where`` (the zip or the meta.yaml file).
    """
    try:
        meta = yaml.safe_load(data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise DataError(f"{META} is not valid YAML ({_one_line(err)})", where) from None
    if not isinstance(meta, dict):
        raise DataError(f"{META} is not a mapping", where)
    for group in ("yaml_files", "files"):
        entries = meta.get(group)
        if not isinstance(entries, dict):
            raise DataError(f"{META} has no '{group}' mapping", where)
        for key, value in entries.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise DataError(f"{META}: {group} entry {key!r} must map a name to one file path", where)
            if unsafe_member(value):
                raise DataError(f"{META}: {group}.{key} = '{value}' is absolute or goes up a folder", where)
    sums = meta.get("sha256")
    if sums is not None:
        if not isinstance(sums, dict):
            raise DataError(f"{META}: 'sha256' is not a mapping", where)
        for name, digest in sums.items():
            if not isinstance(name, str) or not isinstance(digest, str) or not _HEX64.match(digest):
                raise DataError(f"{META}: sha256 entry {name!r} is not a 64-digit hex digest", where)
            if unsafe_member(name):
                raise DataError(f"{META}: sha256 names the unsafe path '{name}'", where)
    return meta


def listed_files(meta: Dict[str, Any]) -> Dict[str, str]:
    """meta.yaml's ``yaml_files`` then ``files`` as one ``{key: relative path}`` map (ESPnet's order)."""
    return {**meta["yaml_files"], **meta["files"]}


def _compare_digests(meta: Dict[str, Any], digests: Dict[str, str], where: Path, skip: Tuple[str, ...] = (),
                     warn: bool = True) -> None:
    """Every member has the digest that meta.yaml lists, and meta.yaml lists every member."""
    sums = meta.get("sha256")
    if sums is None:
        if warn:
            logger.warning(f"{where}: no checksums to verify (packed without 'export_model checksum')")
        return
    for name, expected in sums.items():
        if name not in digests:
            raise DataError(f"{META} lists a checksum for '{name}', which is missing", where)
        if name not in skip and digests[name] != expected:
            raise DataError(f"member '{name}' fails its checksum (sha256 {digests[name][:16]}..., "
                            f"{META} says {expected[:16]}...)", where)
    unlisted = [name for name in digests if name not in sums]
    if unlisted:
        raise DataError(f"member '{unlisted[0]}' has no checksum in {META} (added after packing?)", where)


# ---------------------------------------------------------------------------- archives
def _scan(zip_path: Path) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Structure checks, meta.yaml, and the sha256 of every member (which also checks every CRC)."""
    with _open_zip(zip_path) as archive:
        try:
            infos = archive.infolist()
        except _READ_ERRORS as err:
            raise DataError(f"truncated zip archive ({_one_line(err)})", zip_path) from None
        _check_start(infos, zip_path)
        _check_unpacked_size(infos, zip_path)
        _check_names(infos, zip_path)
        meta = _parse_meta(_read_member(archive, META, zip_path, MAX_META_BYTES), zip_path)
        names = {info.filename for info in infos}
        for key, value in listed_files(meta).items():
            if value not in names:
                raise DataError(f"{META} names {key} = '{value}', which the archive lacks", zip_path)
        digests = {info.filename: _member_sha256(archive, info, zip_path)
                   for info in infos if info.filename != META and not info.is_dir()}
    return meta, digests


def verify_archive(zip_path: PathLike) -> Dict[str, Any]:
    """Check a packed model without writing anything; return its parsed meta.yaml.

    Every member is read once, in chunks (CRC and sha256).  An archive without ``sha256`` in
    meta.yaml (packed by plain ESPnet) passes with a logged warning.

    Raises:
        DataError: one line naming the zip and the offending member (see the module docstring).
    """
    zip_path = Path(zip_path)
    meta, digests = _scan(zip_path)
    _compare_digests(meta, digests, zip_path)
    return meta


def add_checksums(zip_path: PathLike) -> Dict[str, str]:
    """Rewrite ``zip_path`` so that its meta.yaml holds ``sha256`` for every other member.

    The archive is checked as :func:`verify_archive` does (except for old checksums, which are
    replaced), copied member by member into a new zip beside it with the new meta.yaml first,
    and renamed over the old one.  Returns ``{member name: hex digest}``.

    Raises:
        DataError: the archive fails a check.
    """
    zip_path = Path(zip_path)
    meta, digests = _scan(zip_path)
    meta = {key: value for key, value in meta.items() if key != "sha256"}
    meta["sha256"] = digests
    text = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{zip_path.name}.", suffix=".tmp", dir=str(zip_path.parent))
    os.close(fd)
    try:
        with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(tmp, "w") as dst:
            dst.comment = src.comment
            old_meta = src.getinfo(META)
            dst.writestr(_copy_info(old_meta), text.encode("utf-8"))
            for info in src.infolist():
                if info.filename != META:
                    _copy_member(src, dst, info)
        os.replace(tmp, zip_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return digests


def _copy_info(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    new = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    new.compress_type = info.compress_type
    new.external_attr = info.external_attr
    new.file_size = info.file_size  # lets zipfile choose zip64 for big members up front
    return new


def _copy_member(src: zipfile.ZipFile, dst: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    if info.is_dir():
        dst.writestr(_copy_info(info), b"")
        return
    with src.open(info) as reader, dst.open(_copy_info(info), "w") as writer:
        shutil.copyfileobj(reader, writer, CHUNK_BYTES)


# ---------------------------------------------------------------------------- folders
def _allowed_roots(folder: Path) -> Tuple[Path, ...]:
    """Where the files of ``folder`` may live after resolving links: the folder itself, and for a
    Hugging Face cache snapshot (``models--o--n/snapshots/<commit>``) the repository's ``blobs``,
    which huggingface_hub links every snapshot file to."""
    folder = folder.resolve()
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
        return folder, folder.parent.parent / "blobs"
    return (folder,)


def _inside(folder: Path, name: str, where: Path) -> Path:
    """``folder / name`` after resolving links; refused unless it stays inside ``folder``."""
    if unsafe_member(name):
        raise DataError(f"{META} names the unsafe path '{name}'", where)
    path = (folder / name).resolve()
    if not any(path.is_relative_to(root) for root in _allowed_roots(folder)):
        raise DataError(f"{META} names '{name}', which leads outside the folder (to {path})", where)
    return path


def verify_folder(folder: PathLike, configs_rewritten: bool = False) -> Dict[str, Any]:
    """Check an unpacked model folder holding meta.yaml; return the parsed meta.yaml.

    Every path that meta.yaml names must be a file inside ``folder`` after resolving symbolic
    links (in a Hugging Face cache snapshot, links into the repository's ``blobs`` are allowed).
    When meta.yaml has ``sha256``, each listed file on disk must have its digest (and each file
    that meta.yaml names must be listed).  ``configs_rewritten=True`` is for folders unpacked by
    espnet_model_zoo, which rewrites the file paths inside the ``yaml_files`` configs: those are
    then checked to be YAML mappings instead of being compared by digest.  Nothing is written.

    Raises:
        DataError: one line naming the folder (or its meta.yaml) and the offending file.
    """
    return _verify_folder(Path(folder), configs_rewritten, warn=True)


def _verify_folder(folder: Path, configs_rewritten: bool, warn: bool) -> Dict[str, Any]:
    if not folder.is_dir():
        raise DataError("no such model folder", folder)
    meta_path = _inside(folder, META, folder)
    if not meta_path.is_file():
        raise DataError(f"has no {META}: not an unpacked ESPnet model", folder)
    if meta_path.stat().st_size > MAX_META_BYTES:
        raise DataError(f"is larger than the {MAX_META_BYTES} bytes a {META} may have", meta_path)
    meta = _parse_meta(meta_path.read_bytes(), meta_path)
    for key, value in listed_files(meta).items():
        if not _inside(folder, value, meta_path).is_file():
            raise DataError(f"names {key} = '{value}', which the folder lacks", meta_path)
    if "sha256" not in meta:
        _compare_digests(meta, {}, meta_path, warn=warn)  # only logs the warning
        return meta
    configs = tuple(meta["yaml_files"].values()) if configs_rewritten else ()
    digests = {}
    for name in meta["sha256"]:
        path = _inside(folder, name, meta_path)
        if path.is_file():
            digests[name] = "" if name in configs else file_sha256(path)
    for name in configs:
        _check_config(folder / name)
    _compare_digests(meta, digests, meta_path, skip=configs)
    unlisted = [name for name in listed_files(meta).values() if name not in meta["sha256"]]
    if unlisted:
        raise DataError(f"names '{unlisted[0]}', which has no checksum in {META}", meta_path)
    return meta


def _check_config(path: Path) -> None:
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise DataError(f"is not valid YAML ({_one_line(err)})", path) from None
    if not isinstance(config, dict):
        raise DataError("is not a YAML mapping", path)


# ---------------------------------------------------------------------------- unpacking
def unpack_verified(zip_path: PathLike, cache_root: PathLike) -> Dict[str, str]:
    """Verify ``zip_path``, then unpack it with espnet_model_zoo under ``cache_root``.

    The unpack goes to ``ModelDownloader(cachedir=<cache_root>/<first 16 hex of the zip's
    sha256>)``: a changed zip at the same path gets a new folder, and the same zip a second time
    is served from the checked earlier unpack without extracting again.  The downloader rewrites
    the configs' paths to the unpacked files, as it does for users.  Returns meta.yaml's files
    (``yaml_files`` then ``files``) as absolute paths.

    Raises:
        DataError: the archive fails :func:`verify_archive`, or the downloader rejects it.
    """
    if cache_root is None or not str(cache_root):
        raise DataError("needs a cache folder to unpack into (espnet_model_zoo's default is inside site-packages)",
                        zip_path)
    verify_archive(zip_path)
    zip_path = Path(zip_path).resolve()
    cachedir = Path(cache_root).absolute() / file_sha256(zip_path)[:16]
    from filelock import FileLock

    cachedir.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cachedir) + ".lock"):
        cached = _cached_unpack(cachedir)
        if cached is not None:
            logger.info(f"{zip_path}: using the earlier unpack in {cachedir}")
            return cached
        if cachedir.exists():
            shutil.rmtree(cachedir)  # a partial or damaged earlier unpack
        cachedir.mkdir()
        try:
            unpacked = _download_and_unpack(zip_path, cachedir)
            folder = _unpacked_folder(cachedir, zip_path)
            _verify_folder(folder, configs_rewritten=True, warn=False)  # the extracted files are the checked ones
        except BaseException:
            shutil.rmtree(cachedir, ignore_errors=True)
            raise
        _write_marker(cachedir, folder)
    return {key: str(Path(value).absolute()) for key, value in unpacked.items()}


def _download_and_unpack(zip_path: Path, cachedir: Path) -> Dict[str, str]:
    from espnet_model_zoo.downloader import ModelDownloader

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Expanding a local model to the cachedir"
            unpacked = ModelDownloader(cachedir=str(cachedir)).download_and_unpack(str(zip_path))
    except (KeyError, AssertionError, RuntimeError, ValueError, TypeError) as err:
        raise DataError(f"espnet_model_zoo cannot unpack it ({type(err).__name__}: {_one_line(err)})",
                        zip_path) from None
    return {str(key): str(value) for key, value in unpacked.items()}


def _unpacked_folder(cachedir: Path, zip_path: Path) -> Path:
    """The one folder that the downloader made inside a fresh ``cachedir``."""
    folders = [meta.parent for meta in cachedir.glob(f"*/{META}")]
    if len(folders) != 1:
        raise DataError(f"espnet_model_zoo left {len(folders)} unpacked folders in {cachedir}, expected 1",
                        zip_path)
    return folders[0]


def _write_marker(cachedir: Path, folder: Path) -> None:
    from espnet2_speecht5.checkpoint.io import save_text

    save_text(yaml.safe_dump({"folder": folder.name}), cachedir / CACHE_MARKER)


def _cached_unpack(cachedir: Path) -> Union[Dict[str, str], None]:
    """The files of a complete earlier unpack in ``cachedir`` that still passes its checks, else None."""
    marker = cachedir / CACHE_MARKER
    if not marker.is_file():
        return None
    try:
        record = yaml.safe_load(marker.read_text(encoding="utf-8"))
        name = record["folder"] if isinstance(record, dict) else None
        if not isinstance(name, str) or not re.fullmatch(r"[0-9A-Za-z_.-]+", name) or name in (".", ".."):
            raise DataError("names no unpacked folder", marker)
        folder = cachedir / name
        meta = _verify_folder(folder, configs_rewritten=True, warn=False)
    except (DataError, yaml.YAMLError, OSError, UnicodeDecodeError) as err:
        logger.warning(f"{cachedir}: the earlier unpack fails its checks ({_one_line(err)}); unpacking afresh")
        return None
    return {key: str((folder / value).absolute()) for key, value in listed_files(meta).items()}
